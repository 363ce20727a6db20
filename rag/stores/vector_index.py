"""Approximate nearest neighbours over a fixed matrix of unit vectors (FAISS HNSW or IVF), by row.

A large index cannot afford an exact scan of every vector per query; an approximate index finds
candidate rows, which the caller re-scores exactly from the store. Rows are positions in the matrix
the index was built from: the caller keeps the row -> chunk table. Built once per set of vectors,
saved beside them, loaded on start.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import faiss
import numpy as np

from rag.errors import IndexCorrupt, IndexWriteError

AnnKind = Literal["hnsw", "ivf"]
# FAISS's k-means warns below 39 training points a list: fewer leave some lists poorly placed.
_TRAIN_PER_LIST = 40
Storage = Literal["flat", "sq8"]


@dataclass(frozen=True)
class AnnSpec:
    """Which approximate index, and how hard it searches; ``Settings`` holds the measured choice.

    :param kind: ``hnsw`` (a graph; no training) or ``ivf`` (k-means lists; trained on a sample).
    :param storage: vectors as float32 (``flat``) or one byte a dimension (``sq8``, a quarter of the memory;
        scores are re-computed exactly by the caller anyway).
    :param hnsw_m: graph neighbours per node; ``ef_construction``/``ef_search``: candidate-list sizes.
    :param ivf_lists: k-means lists; ``nprobe``: lists visited a query.
    :param train_sample: rows k-means (IVF) or the 8-bit ranges are trained on (IVF: at least 40 a list).
    """

    kind: AnnKind = "hnsw"
    storage: Storage = "flat"
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 64
    ivf_lists: int = 1024
    nprobe: int = 16
    train_sample: int = 100_000


@dataclass(frozen=True)
class ScoreMoments:
    """The rows' mean and second moment: a query's mean and spread of inner products over every row
    in O(d²) instead of a pass over all rows (what z-scoring a candidate's score against the whole index needs)."""

    mean: np.ndarray
    second: np.ndarray

    @classmethod
    def of(cls, matrix: np.ndarray, block: int = 65_536) -> ScoreMoments:
        dim = matrix.shape[1]
        total, second = np.zeros(dim), np.zeros((dim, dim))
        for start in range(0, len(matrix), block):
            part = np.asarray(matrix[start : start + block], dtype=np.float32)
            total += part.sum(axis=0, dtype=np.float64)
            second += (part.T @ part).astype(np.float64)
        size = max(1, len(matrix))
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


class VectorIndex:
    """An approximate inner-product index over the rows of one matrix."""

    def __init__(self, index: faiss.Index, spec: AnnSpec) -> None:
        self._index = index
        self.spec = spec
        self.tune(spec.ef_search, spec.nprobe)

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    @classmethod
    def build(cls, matrix: np.ndarray, spec: AnnSpec, *, seed: int = 0) -> VectorIndex:
        """Index every row of ``matrix`` (unit vectors, float32)."""
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        dim = matrix.shape[1]
        if spec.kind == "hnsw":
            if spec.storage == "sq8":
                index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, spec.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            else:
                index = faiss.IndexHNSWFlat(dim, spec.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = spec.ef_construction
        else:
            quantizer = faiss.IndexFlatIP(dim)
            lists = max(1, min(spec.ivf_lists, len(matrix)))
            if spec.storage == "sq8":
                index = faiss.IndexIVFScalarQuantizer(
                    quantizer, dim, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
                )
            else:
                index = faiss.IndexIVFFlat(quantizer, dim, lists, faiss.METRIC_INNER_PRODUCT)
            index.own_fields = True
            quantizer.this.disown()
        if not index.is_trained:
            sample, wanted = matrix, spec.train_sample
            if spec.kind == "ivf":
                wanted = max(wanted, _TRAIN_PER_LIST * index.nlist)
            if len(matrix) > wanted:
                sample = matrix[np.sort(np.random.default_rng(seed).choice(len(matrix), wanted, replace=False))]
            index.train(sample)
        if len(matrix):
            index.add(matrix)
        return cls(index, spec)

    def tune(self, ef_search: int, nprobe: int) -> None:
        """Set the search effort (HNSW's candidate list, IVF's lists visited)."""
        if self.spec.kind == "hnsw":
            self._index.hnsw.efSearch = ef_search
        else:
            self._index.nprobe = nprobe

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` rows of highest approximate inner product with ``query`` (rows, scores; best first).

        :param allowed: a boolean mask over the rows; only those are returned.
        """
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        params = None
        if allowed is not None:
            bitmap = np.packbits(allowed, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
            params = self._parameters(selector)
        scores, rows = self._index.search(query, k, params=params)
        kept = rows[0] >= 0
        return rows[0][kept].astype(np.int64), scores[0][kept]

    def _parameters(self, selector: faiss.IDSelector) -> faiss.SearchParameters:
        if self.spec.kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=selector, efSearch=self._index.hnsw.efSearch)
        return faiss.SearchParametersIVF(sel=selector, nprobe=self._index.nprobe)

    def save(self, path: Path) -> None:
        """Write the index to ``path`` (the caller makes the switch atomic).

        :raises IndexWriteError: FAISS could not write it.
        """
        try:
            faiss.write_index(self._index, str(path))
        except RuntimeError as exc:
            raise IndexWriteError(f"cannot write the vector index {path}: {str(exc).splitlines()[0]}") from exc

    @classmethod
    def load(cls, path: Path, spec: AnnSpec) -> VectorIndex:
        """Read an index ``save`` wrote with the same ``spec`` kind.

        :raises IndexCorrupt: missing, unreadable, or of another kind.
        """
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexCorrupt(f"cannot read the vector index {path}: {str(exc).splitlines()[0]}") from exc
        expected = faiss.IndexHNSW if spec.kind == "hnsw" else faiss.IndexIVF
        if not isinstance(index, expected):
            raise IndexCorrupt(f"the vector index {path} is a {type(index).__name__}, not {spec.kind}")
        return cls(index, spec)
