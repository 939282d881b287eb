"""The ward report: the movement's figures for an area and a period, with charts."""
