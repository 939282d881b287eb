"""Rosters: who serves on a team, in which role, from when to when (memberships)."""
