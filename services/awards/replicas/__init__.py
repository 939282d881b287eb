"""Awards' copies of registry's areas, teams and members, and of reporting's incidents."""
