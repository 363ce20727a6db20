"""Retrieval: which passages answer a question, and which documents and speakers it is about."""
