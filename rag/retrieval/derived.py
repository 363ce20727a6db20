"""Search structures of a large index, derived from one committed generation and saved beside it.

Reading a million chunk texts to build BM25, and a pass over a million vectors for their moments,
takes minutes: a large index's postings and vector moments are built once per generation, saved
under ``<index>/derived/<fingerprint>/``, and loaded by every later start (and by every worker).
A new generation gets a new fingerprint; the folders of older ones are removed when it is written.
The approximate vector index is not here: the store keeps one per segment (rag/stores/ann.py), so a
commit adding a small document does not rebuild it.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from rag.atomic_files import replace_atomically
from rag.errors import IndexCorrupt
from rag.indexing.index import TranscriptIndex
from rag.retrieval.lexical import BM25Index
from rag.retrieval.moments import ScoreMoments
from rag.stores.base import ChunkStore

DERIVED = "derived"


@dataclass(frozen=True)
class ScaleStructures:
    """What candidate-mode retrieval reads besides the store: BM25 postings (row i = chunk i), vector moments."""

    lexical: BM25Index
    moments: ScoreMoments


def fingerprint(store: ChunkStore) -> str:
    """Names one generation's rows: the embedder, generation, chunk count and first and last chunk ids."""
    ids = store.chunk_ids()
    ends = f"{ids[0]}|{ids[-1]}" if len(ids) else ""
    described = f"{store.embedder}|{store.generation}|{len(ids)}|{ends}"
    return f"gen-{store.generation:06d}-{hashlib.sha256(described.encode('utf-8')).hexdigest()[:12]}"


def load_or_build(folder: Path, index: TranscriptIndex, k1: float, b: float, block: int = 65_536) -> ScaleStructures:
    """The saved structures of ``index``'s generation, built and saved first when missing or unreadable.

    :param folder: where derived structures live (``<index>/derived``).
    :param block: vectors read from the store at a time for the moments.
    """
    target = folder / fingerprint(index.store)
    lexical_path = target / f"lexical-k1_{k1:g}-b_{b:g}.npz"
    moments_path = target / "moments.npz"
    target.mkdir(parents=True, exist_ok=True)
    try:
        lexical = BM25Index.load(lexical_path)
    except IndexCorrupt:
        lexical = BM25Index([chunk.text for chunk in index.chunks], k1, b)
        replace_atomically(lexical_path, lexical.save)
    try:
        moments = ScoreMoments.load(moments_path)
    except IndexCorrupt:
        ids = [chunk.id for chunk in index.chunks]
        blocks = (index.store.vectors(ids[start: start + block]) for start in range(0, len(ids), block))
        moments = ScoreMoments.of(blocks, index.store.dim)
        replace_atomically(moments_path, moments.save)
    if len(lexical) != len(index.chunks):
        raise IndexCorrupt(f"the derived structures in {target} do not cover the index's {len(index.chunks)} chunks; "
                           "delete that folder to rebuild them")
    _prune(folder, keep=target.name)
    return ScaleStructures(lexical, moments)


def _prune(folder: Path, keep: str) -> None:
    """Remove the structures of other generations."""
    for entry in folder.iterdir():
        if entry.is_dir() and entry.name != keep:
            shutil.rmtree(entry, ignore_errors=True)
