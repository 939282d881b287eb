"""The campaign report: awards granted in an area, by authority and kind of recipient."""
