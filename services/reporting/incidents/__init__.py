"""Incidents: what happened where, their lifecycle and their duplicate links."""
