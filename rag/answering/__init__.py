"""Answering and verification: draft, verify every quotation, compose."""
