"""The catalogue: what reporting accepts (categories, activity types, units), from the settings."""
