"""Start-up of an index: opening it (``load_index``: store, records, speakers, chunks) and a whole
``Engine.load`` (embedder, retriever, answerer), median of several runs in one process.

Run it on a copy of an index: a large index's first ``Engine.load`` writes its search structures
beside it. Prints the load average next to the figures (this machine is shared).

    .venv/bin/python bench/open_index.py /tmp/copy-of-index --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from rag.engine import Engine, load_index
from rag.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = Settings(index_path=args.index)
    for name, step in (("load_index", lambda: load_index(settings)), ("Engine.load", lambda: Engine.load(settings))):
        seconds = []
        for _ in range(args.runs):
            started = time.perf_counter()
            step()
            seconds.append(time.perf_counter() - started)
        print(f"{name}: median {statistics.median(seconds):.2f} s over {args.runs} "
              f"({', '.join(f'{s:.2f}' for s in seconds)}), load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
