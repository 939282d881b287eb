"""Suggested nominations: when a subject's points in a period reach a threshold."""
