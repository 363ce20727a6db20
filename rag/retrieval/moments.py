"""The mean and second moment of an index's vectors: a query's mean and spread of cosines over every
row in O(d²), which candidate-mode retrieval z-scores its candidates' cosines against."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import IndexCorrupt


@dataclass(frozen=True)
class ScoreMoments:
    """The rows' mean and second moment: a query's mean and spread of inner products over every
    row in O(d²) instead of a pass over all rows (what z-scoring a candidate's score against the whole index needs)."""

    mean: np.ndarray
    second: np.ndarray

    @classmethod
    def of(cls, blocks: Iterable[np.ndarray], dim: int) -> ScoreMoments:
        """The moments of the rows of ``blocks`` (read a block at a time: never every vector at once)."""
        total, second, size = np.zeros(dim), np.zeros((dim, dim)), 0
        for block in blocks:
            part = np.asarray(block, dtype=np.float32)
            total += part.sum(axis=0, dtype=np.float64)
            second += (part.T @ part).astype(np.float64)
            size += len(part)
        size = max(1, size)
        return cls(total / size, second / size)

    def spread(self, query: np.ndarray) -> tuple[float, float]:
        """Mean and standard deviation of ``query``'s inner product with every row."""
        query = np.asarray(query, dtype=np.float64).reshape(-1)
        mean = float(query @ self.mean)
        return mean, float(np.sqrt(max(0.0, float(query @ self.second @ query) - mean * mean)))

    def save(self, path: Path) -> None:
        with path.open("wb") as handle:
            np.savez(handle, mean=self.mean, second=self.second)

    @classmethod
    def load(cls, path: Path) -> ScoreMoments:
        """:raises IndexCorrupt: missing or unreadable."""
        try:
            with np.load(path, allow_pickle=False) as stored:
                return cls(stored["mean"], stored["second"])
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise IndexCorrupt(f"cannot read the vector moments {path}: {exc}") from exc
