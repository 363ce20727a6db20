"""A large index (see bench/million_corpus.py) opened as the server opens it: start, memory, search speed.

Not a test: figures are printed with the load average, never asserted. Two parts:

* default: ``load_index`` + ``build_answerer`` (what ``Engine.load``/``load_snapshot`` do, timed apart;
  the first run also builds the derived structures, see rag/retrieval/derived.py, so run it twice and
  read the second), RSS after loading and after the queries, then per QMSum question: embedding,
  ``Engine.search`` (question vectors cached, so it is retrieval plus the speaker parsing of /search),
  and the retriever alone in candidate mode and in exact mode (every row scored), with the share of
  exact mode's top 10 that candidate mode returns.
* ``--ann``: the approximate vector indexes compared on the index's vectors: build time, recall@10
  against exact search, p50/p95 per efSearch (HNSW) or nprobe (IVF), alone and as a pool of
  ``--pool`` candidates re-scored exactly (what candidate mode does).

    nice -n 10 .venv/bin/python bench/million.py index/million          # twice: build, then measure
    nice -n 10 .venv/bin/python bench/million.py index/million --ann
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from pathlib import Path

import faiss
import numpy as np

from rag.engine import Engine, Snapshot, ann_spec, build_answerer, configured_embedder, disk_stamp, load_index
from rag.errors import IndexCorrupt
from rag.retrieval.derived import DERIVED, ann_path, fingerprint
from rag.retrieval.retriever import Retriever
from rag.settings import Settings
from rag.stores.registry import open_backend
from rag.stores.vector_index import AnnSpec, VectorIndex

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
    built = not ann_path(path / DERIVED / fingerprint(index.store), ann_spec(settings)).exists()
    answerer, answerer_s = timed(lambda: build_answerer(index, embedder, settings, path / DERIVED))
    engine = Engine(settings, embedder, Snapshot(path, index, answerer, stamp))
    total = time.perf_counter() - started
    retriever = answerer.retriever
    print(f"{len(index.chunks)} chunks, {len(index.records)} documents; candidate mode: {retriever.ann is not None}")
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
    if retriever.ann is not None and exact_count:
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


def ann_study(path: Path, count: int, pool: int, kinds: list[str]) -> None:
    settings = Settings(index_path=path)
    embedder = configured_embedder(settings)
    store = open_backend(settings.store, path).open(embedder.name)
    saved = path / DERIVED / fingerprint(store)
    matrix = store.vectors(list(store.chunk_ids()))
    del store
    gc.collect()
    queries = embedder.embed(questions(count))
    print(f"{len(matrix)} vectors; {len(queries)} questions; {rss()}; {load()}", flush=True)
    started = time.perf_counter()
    _, truth = faiss.knn(queries, matrix, 10, metric=faiss.METRIC_INNER_PRODUCT)
    print(f"exact: {(time.perf_counter() - started) / len(queries) * 1000:.1f} ms a question (faiss.knn, batched)")
    exact_times = [timed(lambda: faiss.knn(q.reshape(1, -1), matrix, 10, metric=faiss.METRIC_INNER_PRODUCT))[1]
                   for q in queries[:50]]
    print(f"exact, one question at a time: {percentiles(exact_times)}", flush=True)
    base = ann_spec(settings)
    variants = {
        "hnsw": (AnnSpec("hnsw", "flat", base.hnsw_m, base.ef_construction), (16, 32, 64, 128, 256)),
        "ivf": (AnnSpec("ivf", "flat", ivf_lists=base.ivf_lists), (8, 16, 32, 64, 128)),
        "hnsw-sq8": (AnnSpec("hnsw", "sq8", base.hnsw_m, base.ef_construction), (64, 128, 256)),
        "ivf-sq8": (AnnSpec("ivf", "sq8", ivf_lists=base.ivf_lists), (32, 64, 128)),
    }
    for kind in kinds:
        spec, values = variants[kind]
        try:
            index, seconds = timed(lambda: VectorIndex.load(ann_path(saved, spec), spec))
            how = f"loaded from {saved.name} in {seconds:.1f} s (built by the first start)"
        except IndexCorrupt:
            index, seconds = timed(lambda: VectorIndex.build(matrix, spec))
            how = f"built in {seconds:.0f} s"
        print(f"{spec.kind}/{spec.storage} (M {spec.hnsw_m}, efC {spec.ef_construction}, lists {spec.ivf_lists}): "
              f"{how}; {rss()}; {load()}", flush=True)
        for value in values:
            index.tune(value, value)
            alone, pooled, times = [], [], []
            for query, wanted in zip(queries, truth):
                (rows, _), seconds = timed(lambda: index.search(query, 10))
                times.append(seconds)
                alone.append(len(set(rows) & set(wanted)) / 10)
                candidates = index.search(query, pool)[0]
                best = candidates[np.argsort(-(matrix[candidates] @ query))[:10]]
                pooled.append(len(set(best) & set(wanted)) / 10)
            knob = "efSearch" if spec.kind == "hnsw" else "nprobe"
            print(f"  {knob} {value}: recall@10 {np.mean(alone):.3f}, pool of {pool} re-scored {np.mean(pooled):.3f}; "
                  f"search k=10 {percentiles(times)}; {load()}", flush=True)
        del index
        gc.collect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--questions", type=int, default=300, help="QMSum questions asked (default 300)")
    parser.add_argument("--exact", type=int, default=100, help="questions also asked in exact mode (default 100; 0: none)")
    parser.add_argument("--ann", action="store_true", help="compare approximate indexes instead")
    parser.add_argument("--pool", type=int, default=100, help="candidates re-scored exactly (--ann; default 100)")
    parser.add_argument("--kind", action="append", dest="kinds", choices=["hnsw", "ivf", "hnsw-sq8", "ivf-sq8"],
                        help="approximate indexes to compare (--ann; repeatable; default hnsw and ivf)")
    args = parser.parse_args()
    if args.ann:
        ann_study(args.index, args.questions, args.pool, args.kinds or ["hnsw", "ivf"])
    else:
        serve_like(args.index, args.questions, args.exact)


if __name__ == "__main__":
    main()
