"""Store backends by name: ``VERBATIM_STORE`` picks one ("embedded", or a ``postgresql://`` URL)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag.errors import StoreUnavailable
from rag.stores.base import StoreBackend

# A factory gets the configured ``VERBATIM_STORE`` value (a URL carries its own address) and the
# index folder (where a store keeps local files, and the embedded store everything).
StoreFactory = Callable[[str, Path], StoreBackend]
URL_SCHEMES = {"postgresql": "postgres", "postgres": "postgres"}


def _embedded(configured: str, index_path: Path) -> StoreBackend:
    # Imported here: reading the settings must not load FAISS.
    from rag.stores.embedded import EmbeddedBackend

    return EmbeddedBackend(index_path)


def _postgres(configured: str, index_path: Path) -> StoreBackend:
    # Imported here: psycopg is the optional 'postgres' extra (without it, StoreUnavailable says so).
    from rag.stores.postgres import postgres_backend

    return postgres_backend(configured, index_path)


STORES: dict[str, StoreFactory] = {"embedded": _embedded, "postgres": _postgres}


def store_name(configured: str) -> str:
    """The registry name a ``VERBATIM_STORE`` value selects (a URL selects by its scheme)."""
    scheme, separator, _ = configured.partition("://")
    return URL_SCHEMES.get(scheme, scheme) if separator else configured


def open_backend(configured: str, index_path: Path) -> StoreBackend:
    """The backend ``configured`` names, for the index at ``index_path``.

    :raises StoreUnavailable: no store of that name is registered.
    """
    factory = STORES.get(store_name(configured))
    if factory is None:
        raise StoreUnavailable(
            f"unknown store {store_name(configured)!r}; choose one of {sorted(STORES)} or a postgresql:// URL"
        )
    return factory(configured, index_path)
