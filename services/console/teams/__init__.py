"""Teams, their rosters and people, and the bulk import of a ward's team list."""
