"""The API's routers, one per resource; each route only binds HTTP to a function of ``api``."""

from api.routes import ask, documents, health, openai_compat, search, widget

ROUTERS = (health.router, widget.router, ask.router, search.router, documents.router, openai_compat.router)

__all__ = ["ROUTERS"]
