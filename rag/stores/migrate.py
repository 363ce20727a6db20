"""Copy an index from one store to another (``rag migrate``): a folder into Postgres, and back."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rag.stores.base import StoreBackend
from rag.stores.registry import open_backend, store_name


@dataclass
class MigrationReport:
    """What a migration copied, and what the target already held."""

    copied: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # Documents only the target held: left as they were.
    kept: list[str] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0


def open_location(location: str, index_name: str) -> StoreBackend:
    """The store at ``location``: a ``postgresql://`` URL (its schema named after ``index_name``) or a folder."""
    if store_name(location) == "embedded" or "://" not in location:
        return open_backend("embedded", Path(location))
    return open_backend(location, Path(index_name))


def index_name_of(source: str, target: str) -> str:
    """The index name a migration uses for its URL side: the folder side's name (``index/default``: default)."""
    folders = [location for location in (source, target) if "://" not in location]
    return Path(folders[0]).name if folders else "default"


def migrate(source: StoreBackend, target: StoreBackend) -> MigrationReport:
    """Copy every document of ``source`` (text, turns, chunks, vectors) into ``target`` in one commit.

    Documents the target holds with the same content are left alone, changed ones replaced; the
    target keeps documents the source lacks. Nothing is re-embedded: the vectors are copied.

    :raises IndexNotFound: ``source`` holds no index.
    :raises IndexMismatch: ``target`` was built with another embedder than ``source``.
    """
    started = time.perf_counter()
    report = MigrationReport()
    snapshot = source.open()
    by_document: dict[str, list[str]] = {}
    for chunk in snapshot.chunks():
        by_document.setdefault(chunk.document, []).append(chunk.id)
    with target.transaction(snapshot.embedder, snapshot.dim) as transaction:
        existing = dict(transaction.documents())
        for document_id, record in snapshot.documents().items():
            held = existing.get(document_id)
            if held is not None and held.sha256 == record.sha256:
                report.unchanged.append(document_id)
                continue
            ids = by_document.get(document_id, [])
            transaction.put(snapshot.transcript(document_id), snapshot.chunks(ids), snapshot.vectors(ids))
            report.copied.append(document_id)
            report.chunks += len(ids)
        report.kept = [document_id for document_id in existing if document_id not in snapshot.documents()]
    report.seconds = time.perf_counter() - started
    return report
