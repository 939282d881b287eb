"""Tip-offs: residents' tips without an account, and the sealed informant details."""
