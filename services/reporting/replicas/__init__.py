"""Replicas: the areas and teams reporting knows from registry's events."""
