"""Teams: their kind, area, coverage, founding decision and dissolution, and the team rules."""
