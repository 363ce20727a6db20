"""A segment's approximate index: HNSW over 8-bit scalar-quantised copies of its vectors, persisted
beside them, asked for candidates that are then scored exactly from the mapped float32 vectors.

The quantised copy costs a quarter of the vectors' bytes (plus the graph's links), and losing
precision there only reorders candidates: every score a search returns is an exact inner product.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from rag.errors import IndexCorrupt, IndexWriteError
from rag.stores.policy import AnnPolicy

ANN = "hnsw.faiss"


def build_ann(matrix: np.ndarray, policy: AnnPolicy) -> faiss.Index:
    """An HNSW index of ``matrix``'s rows (row i is id i), scored by inner product."""
    index = faiss.IndexHNSWSQ(matrix.shape[1], faiss.ScalarQuantizer.QT_8bit, policy.m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = policy.ef_construction
    vectors = np.ascontiguousarray(matrix, dtype=np.float32)
    index.train(vectors)
    index.add(vectors)
    return index


def write_ann(path: Path, index: faiss.Index) -> None:
    try:
        faiss.write_index(index, str(path))
    except RuntimeError as exc:
        raise IndexWriteError(f"cannot write the approximate index {path}: {str(exc).splitlines()[0]}") from exc


def read_ann(path: Path, rows: int) -> faiss.Index:
    """The HNSW index in ``path``. :raises IndexCorrupt: unreadable, or not of the segment's rows."""
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:
        raise IndexCorrupt(f"cannot read the approximate index {path}: {str(exc).splitlines()[0]}") from exc
    if index.ntotal != rows:
        raise IndexCorrupt(f"the approximate index {path} holds {index.ntotal} rows, its segment {rows}")
    return index


def ann_candidates(index: faiss.Index, query: np.ndarray, count: int, ef_search: int) -> np.ndarray:
    """The rows (ids) of about ``count`` vectors closest to ``query`` by the quantised copy, best first."""
    params = faiss.SearchParametersHNSW()
    params.efSearch = max(ef_search, count)
    _, found = index.search(query.reshape(1, -1), min(count, index.ntotal), params=params)
    return found[0][found[0] >= 0]
