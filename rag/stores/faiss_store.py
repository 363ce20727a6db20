"""The vector store protocol and its FAISS implementation (exact inner product on unit vectors)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from rag.errors import IndexCorrupt


class VectorStore(Protocol):
    """Rows of vectors addressed by position, searched by inner product."""

    dim: int

    def __len__(self) -> int: ...

    def add(self, vectors: np.ndarray) -> None: ...

    def search(self, query: np.ndarray, k: int, allowed: Sequence[int] | None = None) -> list[tuple[int, float]]: ...

    def keep(self, rows: Sequence[int]) -> None: ...

    def write(self, path: Path) -> None: ...


class FaissStore:
    """A flat FAISS index: exact search, small enough for thousands of transcripts' turns."""

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        self.dim = dim
        self._index = index if index is not None else faiss.IndexFlatIP(dim)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of dimension {self.dim}, got shape {vectors.shape}")
        self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(self, query: np.ndarray, k: int, allowed: Sequence[int] | None = None) -> list[tuple[int, float]]:
        """The ``k`` best rows as ``(row, score)``, optionally only among ``allowed`` rows."""
        total = len(self)
        if total == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)))
        scores, rows = self._index.search(query, min(k, total), params=params)
        return [(int(row), float(score)) for row, score in zip(rows[0], scores[0]) if row >= 0]

    def keep(self, rows: Sequence[int]) -> None:
        """Drop every row not listed, keeping the listed ones in the given order."""
        kept = self.vectors()[np.asarray(rows, dtype=np.int64)] if len(rows) else np.zeros((0, self.dim))
        self._index = faiss.IndexFlatIP(self.dim)
        if len(kept):
            self.add(kept)

    def vectors(self) -> np.ndarray:
        return self._index.reconstruct_n(0, len(self)) if len(self) else np.zeros((0, self.dim), np.float32)

    def write(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def read(cls, path: Path, dim: int) -> FaissStore:
        """Read a store written by ``write``; a missing, truncated or foreign file is ``IndexCorrupt``."""
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexCorrupt(f"cannot read the vector file {path}: {str(exc).splitlines()[0]}") from exc
        if index.d != dim:
            raise IndexCorrupt(f"the vector file {path} has dimension {index.d}, the manifest says {dim}")
        return cls(dim, index)
