"""Initiatives (mô hình) and community cameras."""
