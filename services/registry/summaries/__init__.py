"""Area summaries: counters of each subtree kept up to date by every change."""
