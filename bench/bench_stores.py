"""Benchmark: the embedded store against Postgres on one corpus. Prints figures, asserts nothing.

The corpus is the seed transcript, the QMSum committee-val meetings and the first ``--tune``
meetings of qmsum-tune. It is embedded once (into a folder); then the same chunks and vectors are
written to a new folder and to Postgres (``rag migrate``'s copy: the write alone, no embedding),
and ``GET /search`` is timed over HTTP on a service for each store with the eval sets' questions.

    .venv/bin/python bench/bench_stores.py [--url postgresql://...] [--tune 4] [--repeat 2]

Without ``--url`` it starts a throwaway PostgreSQL from the ``pgserver`` package (test extra).
Retrieval quality on both stores: ``VERBATIM_STORE=postgresql://... rag eval --set seed`` (and
``--set qmsum``), compared with the same commands without it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from api.app import create_app  # noqa: E402
from bench import CORPORA, percentile  # noqa: E402  (bench/bench.py, beside this script)
from rag.embedders.embedding import load_embedder  # noqa: E402
from rag.engine import Engine  # noqa: E402
from rag.generators.tokens import TokenCounter  # noqa: E402
from rag.indexing.ingest import ingest_files  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.stores.embedded import EmbeddedBackend  # noqa: E402
from rag.stores.migrate import migrate  # noqa: E402
from rag.stores.postgres import PostgresBackend  # noqa: E402
from tests.http_server import serve  # noqa: E402

TUNE = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "qmsum-tune" / "transcripts"


def corpus(tune: int) -> list[Path]:
    files = [path for paths, _ in CORPORA.values() for path in paths]
    return files + sorted(TUNE.glob("*.txt"))[:tune]


def questions() -> list[dict]:
    rows = []
    for _, questions_path in CORPORA.values():
        rows += [json.loads(line) for line in questions_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def time_search(settings: Settings, embedder, rows: list[dict], repeat: int) -> list[float]:
    """Milliseconds of each GET /search through a real HTTP service on ``settings``' store."""
    engine = Engine.load(settings, embedder=embedder)
    # With --index, only the questions about documents that index holds.
    held = {summary.record.id for summary in engine.documents()}
    rows = [row for row in rows if row.get("document") is None or row["document"] in held]
    timings = []
    with serve(create_app(settings, engine)) as url, httpx.Client(base_url=url, timeout=60, trust_env=False) as client:
        for _ in range(repeat):
            for row in rows:
                params = {"q": row["question"], "k": settings.top_k}
                if row.get("document"):
                    params["document"] = row["document"]
                started = time.perf_counter()
                client.get("/search", params=params).raise_for_status()
                timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a Postgres with pgvector (default: a throwaway pgserver)")
    parser.add_argument("--tune", type=int, default=4, help="how many qmsum-tune meetings to add")
    parser.add_argument("--repeat", type=int, default=2, help="passes over the questions")
    parser.add_argument("--index", type=Path, help="an embedded index folder to use instead of embedding the corpus")
    args = parser.parse_args()
    url = args.url
    if url is None:
        from tests.pg_server import create_database

        url = create_database("verbatim_bench")
    embedder = load_embedder(Settings().embedder)
    counter = TokenCounter(Settings().tokenizer_encoding)
    rows = questions()
    with tempfile.TemporaryDirectory() as folder:
        source = args.index or Path(folder) / "bench"
        if args.index is None:
            embedded = ingest_files(corpus(args.tune), source, embedder, count_tokens=counter.count,
                                    max_tokens=Settings().chunk_max_tokens, batch=Settings().ingest_batch_size)
            print(f"corpus: {len(embedded.added)} documents, {embedded.turns} turns, {embedded.chunks} chunks; "
                  f"read+chunk+embed+write {embedded.seconds:.1f} s", flush=True)
        postgres = PostgresBackend(url, source.name)
        postgres.drop()
        for name, target in (("embedded", EmbeddedBackend(Path(folder) / "copy")), ("postgres", postgres)):
            report = migrate(EmbeddedBackend(source), target)
            print(f"write {name}: {report.chunks} chunks in {report.seconds:.2f} s "
                  f"({report.chunks / report.seconds:.0f} chunks/s)", flush=True)
        for name, store in (("embedded", "embedded"), ("postgres", url)):
            # The rate limit is for clients; the bench is one client sending as fast as it can.
            settings = Settings(index_path=source, store=store, rate_limit_per_minute=1_000_000)
            timings = time_search(settings, embedder, rows, args.repeat)
            print(f"GET /search {name}: {len(timings)} queries, p50 {statistics.median(timings):.0f} ms, "
                  f"p95 {percentile(timings, 0.95):.0f} ms", flush=True)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
