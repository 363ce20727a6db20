"""Verbatim's HTTP service: ask, stream, search, documents, an OpenAI-compatible API and the chat widget."""

from api.app import create_app

__all__ = ["create_app"]
