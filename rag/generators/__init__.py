"""Generators: passages in, a draft answer with quotations out."""
