"""Bulk imports of teams and their members from the spreadsheets wards keep."""
