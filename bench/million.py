"""A large index (see bench/million_corpus.py) opened as the server opens it: start, memory, search speed.

Not a test: figures are printed with the load average, never asserted. Two parts:

* default: ``load_index`` + ``build_answerer`` (what ``Engine.load``/``load_snapshot`` do, timed apart;
  the first run also builds the derived structures, see rag/retrieval/derived.py, so run it twice and
  read the second), RSS after loading and after the queries, then per QMSum question: embedding,
  ``Engine.search`` (question vectors cached, so it is retrieval plus the speaker parsing of /search),
  and the retriever alone in candidate mode and in exact mode (every row scored), with the share of
  exact mode's top 10 that candidate mode returns.
* ``--ann``: the store's search (``ChunkStore.search``: the segments' HNSW, candidates re-scored
  exactly; see rag/stores/ann.py) against exact search, per efSearch: recall@10 and p50/p95, unfiltered
  and filtered to a quarter of the documents (more rows than ``exact_rows``: the HNSW with an ID selector).

The segments get their HNSW when written with ``VERBATIM_ANN_MIN_ROWS`` rows or more: a corpus
written in smaller commits gets them from ``rag compact`` (one segment) or from merges.

    nice -n 10 .venv/bin/python bench/million.py index/million          # twice: build, then measure
    nice -n 10 .venv/bin/python bench/million.py index/million --ann
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np

from ann_recall import recall
from rag.engine import Engine, Snapshot, build_answerer, configured_embedder, disk_stamp, load_index, open_store
from rag.indexing.sentence_vectors import SentenceVectors
from rag.retrieval.derived import DERIVED, fingerprint
from rag.retrieval.retriever import Retriever
from rag.settings import Settings
from rag.stores.embedded import EmbeddedBackend

ROOT = Path(__file__).resolve().parent.parent
QUERY_FILES = [ROOT.parent / "shared" / "datasets" / name / "queries.jsonl" for name in ("qmsum-tune", "qmsum-committee-val")]


def questions(limit: int) -> list[str]:
    found = []
    for path in QUERY_FILES:
        found += [json.loads(line)["query"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return list(dict.fromkeys(found))[:limit]


def rss() -> str:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return f"RSS {int(status['VmRSS'].split()[0]) / 2**20:.2f} GiB (peak {int(status['VmHWM'].split()[0]) / 2**20:.2f} GiB)"


def percentiles(seconds: list[float]) -> str:
    ms = np.array(seconds) * 1000
    return f"p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms (n={len(ms)})"


def load() -> str:
    return "load " + " ".join(f"{value:.1f}" for value in os.getloadavg())


def timed(call) -> tuple[object, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def serve_like(path: Path, count: int, exact_count: int) -> None:
    settings = Settings(index_path=path)
    started = time.perf_counter()
    embedder, embedder_s = timed(lambda: configured_embedder(settings))
    stamp = disk_stamp(settings, path)
    index, index_s = timed(lambda: load_index(settings, embedder.name, path))
    built = not (path / DERIVED / fingerprint(index.store)).exists()
    answerer, answerer_s = timed(lambda: build_answerer(index, embedder, settings, path / DERIVED))
    sentences = SentenceVectors(path, embedder.name, embedder.dim)
    engine = Engine(settings, embedder, Snapshot(path, index, answerer, stamp, sentences))
    total = time.perf_counter() - started
    retriever = answerer.retriever
    print(f"{len(index.chunks)} chunks, {len(index.records)} documents; candidate mode: {retriever.candidate_mode}; "
          f"segments with an HNSW: {sum(s.ann is not None for s in index.store.segments)} of {len(index.store.segments)}")
    print(f"start {total:.1f} s = embedder {embedder_s:.1f} s + store and speakers {index_s:.1f} s + "
          f"answerer {answerer_s:.1f} s ({'derived structures BUILT in this' if built else 'derived structures loaded'}); "
          f"{rss()}; {load()}", flush=True)
    asked = questions(count)
    vectors, embed_times = [], []
    for question in asked:
        vector, seconds = timed(lambda: embedder.embed([question])[0])
        vectors.append(vector)
        embed_times.append(seconds)
    print(f"embedding a question: {percentiles(embed_times)}", flush=True)
    search_times = [timed(lambda: engine.search(question))[1] for question in asked]
    print(f"Engine.search (vector cached): {percentiles(search_times)}; {load()}", flush=True)
    candidate = [timed(lambda: retriever.search(q, 10, query_vector=v)) for q, v in zip(asked, vectors)]
    print(f"retriever, candidate mode, k=10: {percentiles([s for _, s in candidate])}", flush=True)
    speaker = index.chunks[len(index.chunks) // 2].speaker
    filtered = [timed(lambda: engine.search(q, speaker=speaker))[1] for q in asked[:50]]
    print(f"Engine.search with a speaker filter ({speaker}): {percentiles(filtered)}")
    print(f"after the queries: {rss()}; {load()}", flush=True)
    if retriever.candidate_mode and exact_count:
        compare_with_exact(retriever, asked[:exact_count], vectors[:exact_count], candidate[:exact_count])


def compare_with_exact(retriever: Retriever, asked: list[str], vectors: list[np.ndarray], candidate: list) -> None:
    """Exact mode (every row scored; seconds a question at this size) beside candidate mode's results."""
    exact_retriever = Retriever(retriever.index, retriever.embedder, tuning=retriever.tuning, lexical=retriever.vocabulary)
    exact = [timed(lambda: exact_retriever.search(q, 10, query_vector=v)) for q, v in zip(asked, vectors)]
    print(f"retriever, exact mode (every row), k=10: {percentiles([s for _, s in exact])}", flush=True)
    overlap = [len({p.chunk.id for p in a} & {p.chunk.id for p in b}) / max(1, len(b))
               for (a, _), (b, _) in zip(candidate, exact)]
    print(f"candidate mode returns {np.mean(overlap):.3f} of exact mode's top 10 (hybrid, all filters off)")
    dense_c = [retriever.search(q, 10, mode="dense", query_vector=v) for q, v in zip(asked, vectors)]
    dense_e = [exact_retriever.search(q, 10, mode="dense", query_vector=v) for q, v in zip(asked, vectors)]
    overlap = [len({p.chunk.id for p in a} & {p.chunk.id for p in b}) / max(1, len(b)) for a, b in zip(dense_c, dense_e)]
    print(f"dense mode: candidate mode returns {np.mean(overlap):.3f} of exact mode's top 10; {rss()}", flush=True)


def searches(store, vectors: np.ndarray, **filters) -> tuple[list[list[tuple[str, float]]], list[float]]:
    """Each question's top 10 from ``store.search`` and the seconds each took."""
    found = [timed(lambda: store.search(vector, 10, **filters)) for vector in vectors]
    return [hits for hits, _ in found], [seconds for _, seconds in found]


def ann_study(path: Path, count: int, ef_values: list[int]) -> None:
    settings = Settings(index_path=path)
    embedder = configured_embedder(settings)
    policy = open_store(settings, path).ann
    exact = EmbeddedBackend(path).open(embedder.name)
    vectors = embedder.embed(questions(count))
    documents = list(exact.documents())[::4]
    print(f"{len(exact.chunk_ids())} rows in {len(exact.segments)} segments "
          f"({sum(s.ann is not None for s in exact.segments)} with an HNSW); {len(vectors)} questions; "
          f"filter: {len(documents)} of {len(exact.documents())} documents; {rss()}; {load()}", flush=True)
    truth, seconds = searches(exact, vectors)
    print(f"exact: {percentiles(seconds)}", flush=True)
    truth_within, seconds = searches(exact, vectors, documents=documents)
    print(f"exact, filtered: {percentiles(seconds)}", flush=True)
    del exact
    for ef_search in ef_values:
        store = EmbeddedBackend(path, ann=dataclasses.replace(policy, ef_search=ef_search)).open(embedder.name)
        found, seconds = searches(store, vectors)
        within, filtered_seconds = searches(store, vectors, documents=documents)
        print(f"efSearch {ef_search}, oversample {policy.oversample}: recall@10 "
              f"{np.mean([recall(a, e) for a, e in zip(found, truth) if e]):.4f}, {percentiles(seconds)}; filtered "
              f"{np.mean([recall(a, e) for a, e in zip(within, truth_within) if e]):.4f}, "
              f"{percentiles(filtered_seconds)}; {load()}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--questions", type=int, default=300, help="QMSum questions asked (default 300)")
    parser.add_argument("--exact", type=int, default=100, help="questions also asked in exact mode (default 100; 0: none)")
    parser.add_argument("--ann", action="store_true", help="the store's HNSW search against exact search instead")
    parser.add_argument("--ef-search", type=int, nargs="+", default=[64, 128, 256, 512],
                        help="efSearch values to measure (--ann; default 64 128 256 512)")
    args = parser.parse_args()
    if args.ann:
        ann_study(args.index, args.questions, args.ef_search)
    else:
        serve_like(args.index, args.questions, args.exact)


if __name__ == "__main__":
    main()
