"""The area tree: provinces, districts, wards/communes and residential groups."""
