"""Evaluation: sets, metrics, gates, reports and the runner behind ``rag eval``."""
