"""Emulation scores: points the rules give for solved incidents and logged activities."""
