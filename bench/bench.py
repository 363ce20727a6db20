"""Benchmark: ingest throughput, query latency, start-up time and peak memory. Prints figures.

Not a test: these machines are shared and noisy, so figures are reported, never asserted.

    .venv/bin/python bench/bench.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rag.embedders.embedding import load_embedder  # noqa: E402
from rag.engine import Engine  # noqa: E402
from rag.indexing.ingest import expand_paths, ingest_files  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.generators.tokens import TokenCounter  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CORPORA = {
    "seed": ([ROOT / "data" / "transcripts"], ROOT / "eval" / "sets" / "seed.jsonl"),
    "qmsum": (
        sorted((ROOT.parent / "shared" / "datasets" / "qmsum-committee-val" / "transcripts").glob("*.txt")),
        ROOT / "eval" / "sets" / "qmsum.jsonl",
    ),
}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def startup_seconds(index_path: Path) -> float:
    """Wall time of a whole ``rag ask`` process: interpreter, imports, model and index load, answer."""
    rag = Path(sys.executable).with_name("rag")
    started = time.perf_counter()
    subprocess.run(
        [str(rag), "ask", "What did Lavrov say about the terrorist list?", "--index", str(index_path)],
        check=True, capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    return time.perf_counter() - started


def bench_corpus(name: str, paths: list[Path], questions_path: Path, repeat: int, embedder, counter) -> dict:
    settings = Settings()
    with tempfile.TemporaryDirectory() as folder:
        index_path = Path(folder) / name
        files = expand_paths(paths)
        report = ingest_files(files, index_path, embedder, count_tokens=counter.count, max_tokens=settings.chunk_max_tokens,
                              batch=settings.ingest_batch_size)
        engine = Engine.load(settings, embedder=embedder, index_path=index_path)
        questions = [json.loads(line) for line in questions_path.read_text(encoding="utf-8").splitlines() if line.strip()]
        search_ms, ask_ms = [], []
        for _ in range(repeat):
            for row in questions:
                started = time.perf_counter()
                engine.snapshot.answerer.retriever.search(row["question"], settings.top_k, document=row.get("document"))
                search_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                engine.ask(row["question"], generator="extractive", document=row.get("document"))
                ask_ms.append((time.perf_counter() - started) * 1000)
        startup = startup_seconds(index_path) if name == "seed" else None
    return {
        "corpus": name,
        "documents": len(files),
        "turns": report.turns,
        "chunks": report.chunks,
        "ingest_s": round(report.seconds, 2),
        "ingest_turns_per_s": round(report.turns / report.seconds, 1),
        "queries": len(search_ms),
        "search_p50_ms": round(statistics.median(search_ms), 1),
        "search_p95_ms": round(percentile(search_ms, 0.95), 1),
        "ask_p50_ms": round(statistics.median(ask_ms), 1),
        "ask_p95_ms": round(percentile(ask_ms, 0.95), 1),
        "cli_ask_process_s": None if startup is None else round(startup, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="passes over each question set")
    args = parser.parse_args()
    started = time.perf_counter()
    embedder = load_embedder(Settings().embedder)
    counter = TokenCounter(Settings().tokenizer_encoding)
    load_s = time.perf_counter() - started
    rows = [bench_corpus(name, paths, qs, args.repeat, embedder, counter) for name, (paths, qs) in CORPORA.items()]
    print(f"embedder load (in process): {load_s:.2f} s")
    for row in rows:
        print(json.dumps(row))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
