"""Recall@10 and latency of the segments' approximate search against exact search, on a real index.

Copies an index folder into a temporary directory, compacts the copy into one segment with an
HNSW index (the Settings' AnnPolicy, with min_rows lowered so that this index qualifies), then
searches every question of an eval set both ways through ``ChunkStore.search``.

    PYTHONPATH=. HF_HUB_OFFLINE=1 python bench/ann_recall.py index/qmsum-tune-choose \
        eval/sets/qmsum-tune-choose.jsonl --ef-search 32 64 128
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from rag.engine import configured_embedder
from rag.settings import Settings
from rag.stores.ann import ANN
from rag.stores.embedded import EmbeddedBackend, EmbeddedStore
from rag.stores.policy import AnnPolicy

K = 10
# FAISS scores a row with different rounding over 13,688 rows than over 40 candidates (last bits
# of float32): a score this close to the exact K-th counts as a tie.
TIE = 1e-6


def timed_search(store: EmbeddedStore, vectors: list) -> tuple[list[list[tuple[str, float]]], float]:
    """Each query's top K, and the median milliseconds of one search."""
    found, times = [], []
    for vector in vectors:
        started = time.perf_counter()
        found.append(store.search(vector, K))
        times.append(time.perf_counter() - started)
    return found, statistics.median(times) * 1000


def recall(approximate: list[tuple[str, float]], exact: list[tuple[str, float]]) -> float:
    """The share of the exact top K found; a chunk tied with the exact K-th score counts (QMSum
    repeats short turns, "Okay." and "Mm-hmm.", whose identical vectors tie)."""
    kth = exact[-1][1] - TIE
    return sum(1 for _, score in approximate if score >= kth) / len(exact)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("questions", type=Path, help="an eval set (.jsonl with a 'question' per line)")
    parser.add_argument("--ef-search", type=int, nargs="+", default=None)
    args = parser.parse_args()
    settings = Settings()
    embedder = configured_embedder(settings)
    questions = [json.loads(line)["question"] for line in args.questions.read_text().splitlines() if line.strip()]
    vectors = [embedder.embed([question])[0] for question in questions]
    policy = AnnPolicy(1, settings.ann_hnsw_m, settings.ann_ef_construction, settings.ann_ef_search,
                       settings.ann_oversample, settings.exact_rows)
    with tempfile.TemporaryDirectory(prefix="ann-recall-") as temp:
        copy = Path(temp) / "index"
        shutil.copytree(args.index, copy)
        EmbeddedBackend(copy).compact()
        started = time.perf_counter()
        EmbeddedBackend(copy, ann=policy).compact()
        built = time.perf_counter() - started
        exact_store = EmbeddedBackend(copy).open()
        exact, exact_ms = timed_search(exact_store, vectors)
        [segment] = [p for p in copy.iterdir() if p.name.startswith("seg-")]
        print(f"{args.index}: {len(exact_store.chunk_ids())} rows, {len(questions)} questions; "
              f"HNSW M={policy.m} efConstruction={policy.ef_construction} built (with the segment) in {built:.1f} s, "
              f"{(segment / ANN).stat().st_size / 1e6:.1f} MB; load {os.getloadavg()[0]:.2f}")
        print(f"exact: p50 {exact_ms:.2f} ms")
        for ef_search in args.ef_search or [policy.ef_search]:
            tuned = dataclasses.replace(policy, ef_search=ef_search)
            approximate, approximate_ms = timed_search(EmbeddedBackend(copy, ann=tuned).open(), vectors)
            found = statistics.mean(recall(a, e) for a, e in zip(approximate, exact) if e)
            print(f"HNSW efSearch={ef_search} oversample={policy.oversample}: recall@{K} {found:.4f}, "
                  f"p50 {approximate_ms:.2f} ms")


if __name__ == "__main__":
    main()
