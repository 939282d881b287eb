"""Statistics: tallies kept with every change, and the figures summed from them."""
