"""Ingest throughput per embedder: turns per second (wall) and CPU seconds per 1,000 turns.

Not a test: figures are printed with the load average, never asserted. Each embedder ingests the
same transcripts into a fresh temporary index as `rag ingest` does (chunking, embedding, FAISS, the
atomic save, and the sentence vectors of rag/indexing/sentence_vectors.py unless turned off).

    .venv/bin/python bench/embed_rate.py                         # the QMSum validation meetings
    .venv/bin/python bench/embed_rate.py --embedder minilm-int8 --embedder minilm-torch data/transcripts/
    .venv/bin/python bench/embed_rate.py --embedder minilm-fp32 --sentence-vectors both   # what they cost
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from rag.engine import configured_embedder, ingest
from rag.indexing.ingest import expand_paths
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
QMSUM = ROOT.parent / "shared" / "datasets" / "qmsum-committee-val" / "transcripts"


def measure(name: str, paths: list[Path], sentence_vectors: bool) -> str:
    settings = Settings(embedder=name, sentence_vectors=sentence_vectors)
    embedder = configured_embedder(settings)
    with tempfile.TemporaryDirectory() as folder:
        started, cpu = time.perf_counter(), time.process_time()
        report = ingest(settings, paths, embedder, index_path=Path(folder) / "index")
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return (f"{name}, sentence vectors {'on' if sentence_vectors else 'off'}: {report.turns} turns, {report.chunks} "
            f"chunks in {wall:.1f} s = {report.turns / wall:.1f} turns/s; "
            f"CPU {cpu:.1f} s = {1000 * cpu / report.turns:.1f} CPU s per 1,000 turns; load {load}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="transcripts or folders (default: the QMSum meetings)")
    parser.add_argument("--embedder", action="append", dest="embedders",
                        help="an embedder name (repeatable; default: minilm-int8, minilm-fp32, minilm-torch)")
    parser.add_argument("--sentence-vectors", choices=["on", "off", "both"], default="on",
                        help="also embed and store the sentences for extractive answers (default: on, as rag ingest)")
    args = parser.parse_args()
    paths, _skipped = expand_paths(args.paths or [QMSUM])
    modes = {"on": [True], "off": [False], "both": [False, True]}[args.sentence_vectors]
    for name in args.embedders or ["minilm-int8", "minilm-fp32", "minilm-torch"]:
        for sentence_vectors in modes:
            print(measure(name, paths, sentence_vectors), flush=True)


if __name__ == "__main__":
    main()
