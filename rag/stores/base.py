"""The store seam: what retrieval and answering read (``ChunkStore``) and how ingest writes (``StoreBackend``).

Everything is addressed by chunk id and document id, never by a row position, so that a store
may keep its rows in any order (a FAISS matrix, a Postgres table). Vectors are unit length and
scored by inner product (cosine). A ``ChunkStore`` is one committed generation and never changes;
a commit makes a new one, which readers pick up by opening the backend again.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

import numpy as np

from rag.models import Chunk, DocumentRecord, Transcript


class ChunkStore(Protocol):
    """One committed generation of an index, read-only: documents, transcripts, chunks and vectors."""

    @property
    def embedder(self) -> str:
        """The name of the embedder that made the vectors."""

    @property
    def dim(self) -> int:
        """The vectors' dimension."""

    @property
    def generation(self) -> int:
        """The commit this snapshot shows; every commit increases it."""

    def documents(self) -> Mapping[str, DocumentRecord]:
        """Every document's record, by document id, in the order they were first added."""

    def transcript(self, document_id: str) -> Transcript:
        """The stored transcript of a document.

        :raises UnknownDocument: the store holds no such document.
        """

    def text(self, document_id: str) -> str:
        """The stored text of a document alone (``transcript(document_id).text``, without reading its turns).

        :raises UnknownDocument: the store holds no such document.
        """

    def chunk_ids(self) -> Sequence[str]:
        """Every chunk id: each document's chunks together and in text order, documents as in ``documents``."""

    def chunks(self, ids: Sequence[str] | None = None) -> list[Chunk]:
        """The chunks with these ids, in the order asked (``None``: all, in ``chunk_ids`` order).

        :raises KeyError: an id the store does not hold.
        """

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """The vectors of these chunks, one row each, in the order asked (float32, ``len(ids) x dim``)."""

    def similarities(self, query: np.ndarray, ids: Sequence[str] | None = None) -> np.ndarray:
        """The exact inner product of ``query`` with each chunk's vector (``None``: all, in ``chunk_ids`` order)."""

    def search(
        self,
        query: np.ndarray,
        k: int,
        *,
        documents: Collection[str] | None = None,
        speakers: Collection[str] | None = None,
    ) -> list[tuple[str, float]]:
        """The ``k`` chunks closest to ``query`` as ``(chunk id, score)``, best first.

        :param documents: only chunks of these documents (``None``: any).
        :param speakers: only chunks whose ``speaker`` (as stored, before any speaker map) is one of these.
        """


class StoreTransaction(Protocol):
    """The writer's view of a store inside ``StoreBackend.transaction``; nothing shows until it commits."""

    def documents(self) -> Mapping[str, DocumentRecord]:
        """The documents as they stand, with this transaction's changes so far."""

    def put(self, transcript: Transcript, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Add a document, replacing any earlier version with the same id (``vectors`` row i is ``chunks[i]``)."""

    def remove(self, document_id: str) -> None:
        """Forget a document with its chunks and vectors.

        :raises UnknownDocument: the store holds no such document.
        """


class StoreBackend(Protocol):
    """Where an index lives: opens read snapshots, and commits changes atomically under a lock."""

    @property
    def location(self) -> str:
        """Where the store is, for messages (a folder, a URL without its password)."""

    def open(self, embedder: str | None = None) -> ChunkStore:
        """The current committed generation.

        :param embedder: when given, the index must have been built with this embedder.
        :raises IndexNotFound: nothing was ever committed here.
        :raises IndexMismatch: another embedder or format version built it.
        :raises IndexCorrupt: the stored data is unreadable or inconsistent.
        """

    def stamp(self) -> Hashable:
        """A cheap token that changes whenever a commit lands (for polling readers)."""

    def transaction(self, embedder: str, dim: int) -> AbstractContextManager[StoreTransaction]:
        """Exclusive write access: changes made inside commit together when the block exits cleanly.

        An exception inside the block, or a crash at any point, leaves the previous generation
        as it was. A new store is created for ``embedder`` and ``dim``.

        :raises IndexMismatch: the store was built with another embedder.
        """


def checked_vectors(chunks: Sequence[Chunk], vectors: np.ndarray, dim: int) -> np.ndarray:
    """``vectors`` as float32, one row of dimension ``dim`` per chunk (what ``StoreTransaction.put`` takes).

    :raises ValueError: another shape.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.shape != (len(chunks), dim):
        raise ValueError(f"expected {len(chunks)} vectors of dimension {dim}, got shape {vectors.shape}")
    return vectors
