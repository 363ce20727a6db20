"""Embedders: text in, unit-length vectors out."""
