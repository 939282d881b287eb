"""The tip inbox: the tips of the user's areas, for the officers who handle them."""
