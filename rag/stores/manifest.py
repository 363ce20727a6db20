"""The embedded index's manifest: which segments are live, their dead rows, the embedder and each document.

The manifest is the one file a commit rewrites (atomically, with ``os.replace`` after an fsync);
everything it names is immutable. Format 2 (one ``gen-NNNNNN/`` folder of all vectors) is still
read, as one segment held in memory, and is converted by the next commit.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.atomic_files import write_atomic
from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from rag.models import DocumentRecord

# 3: immutable segments (vectors.npy + chunks.jsonl) with delete marks; 2: one generation folder.
FORMAT_VERSION = 3
LEGACY_FORMAT_VERSION = 2
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class SegmentEntry:
    """A live segment as the manifest lists it: its folder, row count, the chunk ids marked dead, and
    the documents with live rows in it (``None``: not listed, as the first segment manifests did)."""

    name: str
    rows: int
    dead: frozenset[str] = frozenset()
    documents: frozenset[str] | None = None


@dataclass(frozen=True)
class Manifest:
    """One committed state of an embedded index (``legacy``: the format 2 generation folder instead of segments)."""

    embedder: str
    dim: int
    generation: int
    segments: tuple[SegmentEntry, ...]
    documents: dict[str, DocumentRecord]
    legacy: str | None = None


def read_manifest(path: Path, embedder: str | None = None) -> Manifest:
    """The manifest of the index at ``path``.

    :param embedder: when given, the index must have been built with it.
    :raises IndexNotFound: nothing was ever committed at ``path``.
    :raises IndexMismatch: another format version or embedder built it.
    :raises IndexCorrupt: the file is unreadable or malformed.
    """
    manifest_path = path / MANIFEST
    if not manifest_path.exists():
        raise IndexNotFound(f"no index at {path} (run 'rag ingest' first)")
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorrupt(f"cannot read {manifest_path}: {exc}") from exc
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if version not in (FORMAT_VERSION, LEGACY_FORMAT_VERSION):
        raise IndexMismatch(
            f"index {path} has format version {version}, this Verbatim reads versions "
            f"{LEGACY_FORMAT_VERSION} and {FORMAT_VERSION}; rebuild it with 'rag ingest'"
        )
    if embedder is not None and raw.get("embedder") != embedder:
        raise IndexMismatch(
            f"index {path} was built with embedder {raw.get('embedder')!r}, "
            f"but {embedder!r} is configured; rebuild it or change VERBATIM_EMBEDDER"
        )
    try:
        documents = {doc_id: DocumentRecord(**record) for doc_id, record in raw["documents"].items()}
        if version == LEGACY_FORMAT_VERSION:
            generation = str(raw["generation"])
            return Manifest(raw["embedder"], int(raw["dim"]), int(generation.split("-")[1]), (), documents,
                            legacy=generation)
        segments = tuple(
            SegmentEntry(str(entry["name"]), int(entry["rows"]), frozenset(entry["dead"]),
                         None if entry.get("documents") is None else frozenset(entry["documents"]))
            for entry in raw["segments"]
        )
        return Manifest(raw["embedder"], int(raw["dim"]), int(raw["generation"]), segments, documents)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise IndexCorrupt(f"the manifest of index {path} is malformed ({exc!r})") from exc


def write_manifest(path: Path, manifest: Manifest) -> None:
    """Switch the index at ``path`` to ``manifest`` in one ``os.replace`` (always in the current format)."""
    raw = {
        "format_version": FORMAT_VERSION,
        "embedder": manifest.embedder,
        "dim": manifest.dim,
        "generation": manifest.generation,
        "chunks": sum(entry.rows - len(entry.dead) for entry in manifest.segments),
        "segments": [
            {"name": e.name, "rows": e.rows, "dead": sorted(e.dead),
             **({} if e.documents is None else {"documents": sorted(e.documents)})}
            for e in manifest.segments
        ],
        "documents": {doc_id: asdict(record) for doc_id, record in sorted(manifest.documents.items())},
    }
    write_atomic(path / MANIFEST, json.dumps(raw, indent=2, ensure_ascii=False).encode("utf-8"))
