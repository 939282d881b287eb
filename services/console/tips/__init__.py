"""The residents' pages: send a tip without an account, follow it with its number and secret."""
