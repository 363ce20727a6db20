"""The embedder's CPU cost per token, without padding: the floor under any ingest's turns per second.

Not a test: figures are printed with the load average, never asserted. Each shape embeds texts of
one length (``"word " * n`` is n + 2 tokens with [CLS] and [SEP]), so no token is padding; the
ingest of a corpus cannot cost less CPU than its tokens times this figure.

    .venv/bin/python bench/embed_floor.py                          # minilm-fp32 and minilm-int8
    .venv/bin/python bench/embed_floor.py --embedder minilm-int8 --tokens-per-turn 81
"""

from __future__ import annotations

import argparse
import os
import time

from rag.engine import configured_embedder
from rag.settings import Settings

# (texts in one call, tokens per text): a question, short turns, typical turns, long ones.
SHAPES = ((1, 16), (64, 16), (16, 64), (8, 128), (4, 256))
# Tokens embedded per shape and repetition: enough for process_time's resolution.
TOKENS_PER_SHAPE = 8192


def measure(name: str, tokens_per_turn: float, cores: int) -> None:
    embedder = configured_embedder(Settings(embedder=name, query_cache_size=0))
    best = float("inf")
    for texts, tokens in SHAPES:
        batch = ["word " * (tokens - 2)] * texts
        embedder.embed(batch)  # the first run allocates
        calls = max(1, TOKENS_PER_SHAPE // (texts * tokens))
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            embedder.embed(batch)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        per_token = cpu / (calls * texts * tokens)
        best = min(best, per_token)
        print(f"{name}: {texts} x {tokens} tokens: {1e6 * per_token:.0f} us CPU per token, "
              f"{1e6 * wall / (calls * texts * tokens):.0f} us wall", flush=True)
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"{name}: at best {1e6 * best:.0f} us CPU per token: {tokens_per_turn:.0f}-token turns on {cores} busy cores "
          f"cannot go faster than {cores / (best * tokens_per_turn):.0f} turns/s; load {load}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", action="append", dest="embedders",
                        help="an embedder name (repeatable; default: minilm-fp32, minilm-int8)")
    # The QMSum committee-val meetings: 111,235 model tokens in 1,376 turns.
    parser.add_argument("--tokens-per-turn", type=float, default=81.0)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    for name in args.embedders or ["minilm-fp32", "minilm-int8"]:
        measure(name, args.tokens_per_turn, args.cores)


if __name__ == "__main__":
    main()
