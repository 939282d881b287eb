"""Leaderboards: the points of a person, team or area in a period, and their ranking."""
