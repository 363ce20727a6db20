"""Store backends by name: ``VERBATIM_STORE`` picks one ("embedded", or a ``postgresql://`` URL)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag.errors import StoreUnavailable
from rag.stores.base import StoreBackend
from rag.stores.policy import AnnPolicy, MergePolicy

# A factory gets the configured ``VERBATIM_STORE`` value (a URL carries its own address), the
# index folder (where a store keeps local files, and the embedded store everything), and when
# commits merge segments and segments get an approximate index (a store without segments ignores both).
StoreFactory = Callable[[str, Path, MergePolicy | None, AnnPolicy | None], StoreBackend]
URL_SCHEMES = {"postgresql": "postgres", "postgres": "postgres"}


def _embedded(configured: str, index_path: Path, merge: MergePolicy | None, ann: AnnPolicy | None) -> StoreBackend:
    # Imported here: reading the settings must not load FAISS.
    from rag.stores.embedded import EmbeddedBackend

    return EmbeddedBackend(index_path, merge, ann)


def _postgres(configured: str, index_path: Path, merge: MergePolicy | None, ann: AnnPolicy | None) -> StoreBackend:
    # Imported here: psycopg is the optional 'postgres' extra (without it, StoreUnavailable says so).
    from rag.stores.postgres import postgres_backend

    return postgres_backend(configured, index_path)


STORES: dict[str, StoreFactory] = {"embedded": _embedded, "postgres": _postgres}


def store_name(configured: str) -> str:
    """The registry name a ``VERBATIM_STORE`` value selects (a URL selects by its scheme)."""
    scheme, separator, _ = configured.partition("://")
    return URL_SCHEMES.get(scheme, scheme) if separator else configured


def open_backend(
    configured: str, index_path: Path, merge: MergePolicy | None = None, ann: AnnPolicy | None = None
) -> StoreBackend:
    """The backend ``configured`` names, for the index at ``index_path``.

    :param merge: when its commits also merge segments (``None``: never; the embedded store only).
    :param ann: when its segments get an approximate index (``None``: never; the embedded store only).

    :raises StoreUnavailable: no store of that name is registered.
    """
    factory = STORES.get(store_name(configured))
    if factory is None:
        raise StoreUnavailable(
            f"unknown store {store_name(configured)!r}; choose one of {sorted(STORES)} or a postgresql:// URL"
        )
    return factory(configured, index_path, merge, ann)
