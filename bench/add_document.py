"""What adding one small document to a large embedded index costs: commit time, bytes written, load time.

Copies an index folder into a temporary directory (the original is never written), embeds a
two-turn document outside the lock, then times the commit alone and counts the bytes the process
wrote meanwhile (``wchar`` of /proc/self/io: everything passed to write(), fsynced or not). Load is
timed as ``EmbeddedBackend.open`` of the copy, before and after the commit.

    PYTHONPATH=. HF_HUB_OFFLINE=1 python bench/add_document.py index/qmsum-tune-choose --runs 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from rag.engine import configured_embedder
from rag.formats.text import parse_text
from rag.generators.tokens import TokenCounter
from rag.indexing.ingest import commit_prepared, prepare_transcript
from rag.settings import Settings
from rag.stores.embedded import EmbeddedBackend

SMALL = "ALICE SMITH: We will open the bridge in May.\n\nBOB JONES: The budget is not approved yet.\n"


def written_bytes() -> int:
    """Bytes this process has handed to write() so far."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise RuntimeError("no wchar in /proc/self/io")


def timed_open(path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    store = EmbeddedBackend(path).open()
    seconds = time.perf_counter() - started
    return seconds, len(store.chunk_ids())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = Settings()
    embedder = configured_embedder(settings)
    counter = TokenCounter(settings.tokenizer_encoding)
    commits, sizes, loads_before, loads_after = [], [], [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="add-document-") as temp:
            copy = Path(temp) / "index"
            shutil.copytree(args.index, copy)
            seconds, rows = timed_open(copy)
            loads_before.append(seconds)
            transcript = parse_text(SMALL.replace("May", f"May ({run})"), f"bench-small-{run}", "small.txt")
            prepared = prepare_transcript(transcript, embedder, count_tokens=counter.count,
                                          max_tokens=settings.chunk_max_tokens, batch=settings.ingest_batch_size)
            before, started = written_bytes(), time.perf_counter()
            commit_prepared(prepared, copy, embedder)
            commits.append(time.perf_counter() - started)
            sizes.append(written_bytes() - before)
            seconds, after_rows = timed_open(copy)
            loads_after.append(seconds)
            assert after_rows == rows + len(prepared.chunks)
    print(f"index {args.index}: {rows} chunks; load {os.getloadavg()[0]:.2f}")
    print(f"commit of a {len(prepared.chunks)}-chunk document: median {statistics.median(commits) * 1000:.1f} ms "
          f"(runs {', '.join(f'{s * 1000:.1f}' for s in commits)}), written {statistics.median(sizes) / 1e6:.3f} MB")
    print(f"open before: median {statistics.median(loads_before) * 1000:.1f} ms; "
          f"after: median {statistics.median(loads_after) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
