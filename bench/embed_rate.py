"""Ingest throughput per embedder: turns per second (wall) and CPU seconds per 1,000 turns.

Not a test: figures are printed with the load average, never asserted. Each embedder ingests the
same transcripts into a fresh temporary index (chunking, embedding, FAISS, the atomic save).

    .venv/bin/python bench/embed_rate.py                         # the QMSum validation meetings
    .venv/bin/python bench/embed_rate.py --embedder minilm-int8 --embedder minilm-torch data/transcripts/
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from rag.engine import configured_embedder
from rag.generators.tokens import TokenCounter
from rag.indexing.ingest import expand_paths, ingest_files
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
QMSUM = ROOT.parent / "shared" / "datasets" / "qmsum-committee-val" / "transcripts"


def measure(name: str, paths: list[Path]) -> str:
    settings = Settings(embedder=name)
    embedder = configured_embedder(settings)
    counter = TokenCounter(settings.tokenizer_encoding)
    with tempfile.TemporaryDirectory() as folder:
        started, cpu = time.perf_counter(), time.process_time()
        report = ingest_files(
            paths, Path(folder) / "index", embedder, count_tokens=counter.count, max_tokens=settings.chunk_max_tokens,
            batch=settings.ingest_batch_size,
        )
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return (f"{name}: {report.turns} turns, {report.chunks} chunks in {wall:.1f} s = {report.turns / wall:.1f} turns/s; "
            f"CPU {cpu:.1f} s = {1000 * cpu / report.turns:.1f} CPU s per 1,000 turns; load {load}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="transcripts or folders (default: the QMSum meetings)")
    parser.add_argument("--embedder", action="append", dest="embedders",
                        help="an embedder name (repeatable; default: minilm-int8, minilm-fp32, minilm-torch)")
    args = parser.parse_args()
    paths, _skipped = expand_paths(args.paths or [QMSUM])
    for name in args.embedders or ["minilm-int8", "minilm-fp32", "minilm-torch"]:
        print(measure(name, paths), flush=True)


if __name__ == "__main__":
    main()
