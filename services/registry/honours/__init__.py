"""Honours: awards granted by the awards service, shown on team and person profiles."""
