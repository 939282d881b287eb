"""People: the residents and officers who serve on teams."""
