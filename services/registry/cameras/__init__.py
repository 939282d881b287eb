"""Community cameras installed in an area, and who funded them."""
