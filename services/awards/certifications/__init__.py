"""Safe-area certification: an area's yearly registration and its evaluations."""
