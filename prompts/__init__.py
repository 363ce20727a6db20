"""Verbatim's prompt templates (``*.j2``), installed as package data and read by ``rag.generators.prompts.load_prompt``."""
