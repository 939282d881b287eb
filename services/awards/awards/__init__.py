"""Awards: a nomination approved (or a past decision recorded), revoked when it must be."""
