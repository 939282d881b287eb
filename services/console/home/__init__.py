"""The home page: who is logged in and the areas they may see."""
