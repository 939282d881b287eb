"""Initiatives (mô hình) launched in an area, their runs and recorded results."""
