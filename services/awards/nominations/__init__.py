"""Nominations: an officer proposes an individual, a collective or a household for an award."""
