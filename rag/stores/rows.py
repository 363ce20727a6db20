"""Row tables over a chunk order: which rows hold each value (a document, a speaker), so that a
filter picks its rows by lookup instead of scanning every chunk. Shared by the embedded store (stored
speakers) and the retriever (speakers as persons)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np


def rows_by_value(values: Sequence[Hashable]) -> tuple[np.ndarray, dict[Hashable, np.ndarray]]:
    """Each row's value as a code (numbered in order of first appearance), and for each value its rows,
    ascending (one sort, not a scan per value)."""
    codes_of = {value: code for code, value in enumerate(dict.fromkeys(values))}
    codes = np.fromiter((codes_of[value] for value in values), dtype=np.int64, count=len(values))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(codes_of) + 1))
    return codes, {value: order[bounds[c]: bounds[c + 1]] for value, c in codes_of.items()}


def union_rows(table: dict[Hashable, np.ndarray], values: Sequence[Hashable] | set) -> np.ndarray:
    """The rows of any of ``values`` (unknown ones hold none), ascending and distinct."""
    found = [table[value] for value in dict.fromkeys(values) if value in table]
    if not found:
        return np.zeros(0, dtype=np.int64)
    # A row has one value, so the values' rows are disjoint: a sort, not np.unique's hashing
    # (the 41,000 rows of 375 documents: 1.8 ms against 18 ms, load 7).
    return found[0] if len(found) == 1 else np.sort(np.concatenate(found))


def member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Whether each of ``values`` is in ``sorted_set`` (ascending), by binary search."""
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    at = np.searchsorted(sorted_set, values)
    return sorted_set[np.minimum(at, len(sorted_set) - 1)] == values
