"""Build a large synthetic index (1,000,000 turns by default) out of real transcript turns.

What is real and what is synthetic:

* Real: every turn's words. They are the turns of the QMSum meetings already indexed under
  ``/work/main/index`` (qmsum-tune-choose, -gate, -report, and qmsum = committee-val) and of the seed
  press conference, copied verbatim (whitespace folded to single spaces).
* Synthetic: the documents and the speakers. Each generated document is a run of ~100 consecutive
  turns of one source meeting (wrapping round when the meeting is shorter), with its speakers renamed
  to people drawn from a pool of invented names (so a person speaks in many documents) and a made-up
  date in its id. The same source turn appears in ~36 documents.
* Derived vectors: no turn is embedded here (MiniLM manages ~36 turns/s on these 2 cores, 8 hours for
  a million). Each chunk's vector is read from the source index (what MiniLM gave that very text),
  then mixed with another random source chunk's vector and a little Gaussian noise and normalised:
  ``unit(v_src + MIX * v_other + NOISE * g)``. Every vector is thus distinct, near its text's true
  embedding but not equal to it, so approximate search has real neighbours to find or miss; the
  retrieval quality of this corpus means nothing, its speed and recall against exact search do.

The corpus is written through the project's own write path (``StoreBackend.transaction`` and
``put`` with the precomputed vectors), ``--batch`` documents a commit. A rerun skips the documents
already committed, so an interrupted build resumes where its last commit left it. Source indexes are
only read.

    nice -n 10 .venv/bin/python bench/million_corpus.py index/million            # 10,100 documents, ~1M turns
    nice -n 10 .venv/bin/python bench/million_corpus.py index/m200k --documents 2000
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import IndexNotFound
from rag.formats import parse_transcript
from rag.generators.tokens import TokenCounter
from rag.indexing.chunking import chunk_transcript
from rag.models import Transcript
from rag.settings import Settings
from rag.stores.embedded import EmbeddedBackend

ROOT = Path(__file__).resolve().parent.parent
SOURCE_INDEXES = [Path("/work/main/index") / name for name in
                  ("qmsum-tune-choose", "qmsum-tune-gate", "qmsum-tune-report", "qmsum", "seed")]
TURNS_PER_DOCUMENT = 100
# How far a chunk's vector is moved from its text's true embedding (see the docstring).
MIX = 0.3
NOISE = 0.05
FIRST = ("Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kofi", "Lena", "Mateo",
         "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Viktor", "Wen", "Yara", "Zoltan")
LAST = ("Abbott", "Banerjee", "Castillo", "Dimitrov", "Eriksen", "Fischer", "Gallagher", "Haddad", "Ivanova",
        "Jensen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quispe", "Rossi", "Schmidt",
        "Tanaka", "Urquhart", "Varga", "Wojcik", "Xu", "Yilmaz", "Zhang", "Achebe", "Brennan", "Costa", "Duarte")


@dataclass(frozen=True)
class SourceTurn:
    """A real turn and the vectors MiniLM gave its chunks in the source index."""

    speaker: str
    text: str
    vectors: np.ndarray


def load_sources(paths: list[Path]) -> tuple[str, list[list[SourceTurn]], np.ndarray]:
    """The embedder name, each source meeting's turns with their chunk vectors, and every source vector."""
    embedders, meetings, pool = set(), [], []
    for path in paths:
        store = EmbeddedBackend(path).open()
        embedders.add(store.embedder)
        chunks = store.chunks()
        vectors = store.vectors([c.id for c in chunks])
        pool.append(vectors)
        by_turn: dict[tuple[str, int], list[int]] = defaultdict(list)
        for row, chunk in enumerate(chunks):
            by_turn[(chunk.document, chunk.turn)].append(row)
        for document in store.documents():
            turns = [
                SourceTurn(turn.speaker, " ".join(turn.text.split()), vectors[by_turn[(document, turn.index)]])
                for turn in store.transcript(document).turns
                if (document, turn.index) in by_turn and turn.text.strip()
            ]
            if turns:
                meetings.append(turns)
    if len(embedders) != 1:
        raise SystemExit(f"the source indexes were built with different embedders: {sorted(embedders)}")
    return embedders.pop(), meetings, np.concatenate(pool)


def document_text(number: int, meetings: list[list[SourceTurn]], people: list[str]) -> tuple[str, str, list[SourceTurn]]:
    """Document ``number``'s id, text and source turns (deterministic: a rerun makes the same document)."""
    rng = np.random.default_rng(number)
    meeting = meetings[number % len(meetings)]
    length = int(np.clip(rng.normal(TURNS_PER_DOCUMENT, 20), 40, 160))
    start = int(rng.integers(len(meeting)))
    turns = [meeting[(start + i) % len(meeting)] for i in range(length)]
    cast = {speaker: people[int(rng.integers(len(people)))] for speaker in dict.fromkeys(t.speaker for t in turns)}
    day = np.datetime64("2010-01-01") + int(rng.integers(5000))
    document_id = f"meeting-{number:05d}-{day}"
    text = "".join(f"{cast[turn.speaker].upper()}: {turn.text}\n\n" for turn in turns)
    return document_id, text, turns


def chunk_vectors(chunks, transcript: Transcript, turns: list[SourceTurn], pool: np.ndarray, seed: int) -> np.ndarray:
    """Each chunk's derived vector: its source chunk's, mixed with a random other and noise, unit length."""
    rng = np.random.default_rng(seed)
    if len(transcript.turns) != len(turns):
        raise RuntimeError(f"{transcript.id}: parsed {len(transcript.turns)} turns from {len(turns)} written")
    base = np.stack([turns[c.turn].vectors[min(c.part, len(turns[c.turn].vectors) - 1)] for c in chunks])
    other = pool[rng.integers(len(pool), size=len(chunks))]
    mixed = base + MIX * other + NOISE * rng.standard_normal(base.shape, dtype=np.float32) / np.sqrt(base.shape[1])
    return (mixed / np.linalg.norm(mixed, axis=1, keepdims=True)).astype(np.float32)


def disk_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path, help="the index folder to create or complete")
    parser.add_argument("--documents", type=int, default=10_100, help="documents of ~99 turns (default 10,100: ~1M turns)")
    parser.add_argument("--batch", type=int, default=1000, help="documents per commit (default 1,000)")
    parser.add_argument("--people", type=int, default=5000, help="invented speakers to draw from (default 5,000)")
    args = parser.parse_args()
    settings = Settings()
    counter = TokenCounter(settings.tokenizer_encoding)
    started = time.perf_counter()
    embedder, meetings, pool = load_sources(SOURCE_INDEXES)
    names = [f"{first} {last}" for last in LAST for first in FIRST]
    people = [f"{names[i % len(names)]}{'' if i < len(names) else f' {i // len(names) + 1}'}" for i in range(args.people)]
    print(f"{len(meetings)} source meetings, {sum(map(len, meetings))} turns, {len(pool)} vectors "
          f"({time.perf_counter() - started:.1f} s)", flush=True)
    backend = EmbeddedBackend(args.index)
    try:
        done = set(backend.open(embedder).documents())
    except IndexNotFound:
        done = set()
    print(f"{len(done)} documents already committed", flush=True)
    turns_written = 0
    for first in range(0, args.documents, args.batch):
        numbers = list(range(first, min(first + args.batch, args.documents)))
        batch_started = time.perf_counter()
        prepared = []
        for number in numbers:
            document_id, text, turns = document_text(number, meetings, people)
            if document_id in done:
                continue
            transcript = parse_transcript(text, document_id, source=f"{document_id}.txt", format="text")
            chunks = chunk_transcript(transcript, counter.count, settings.chunk_max_tokens)
            prepared.append((transcript, chunks, chunk_vectors(chunks, transcript, turns, pool, number)))
        if not prepared:
            continue
        with backend.transaction(embedder, pool.shape[1]) as transaction:
            for transcript, chunks, vectors in prepared:
                transaction.put(transcript, chunks, vectors)
        turns_written += sum(len(t.turns) for t, _, _ in prepared)
        load = os.getloadavg()[0]
        print(f"documents {first}-{numbers[-1]}: {len(prepared)} committed, {sum(len(c) for _, c, _ in prepared)} chunks "
              f"in {time.perf_counter() - batch_started:.1f} s; total {time.perf_counter() - started:.0f} s, "
              f"{turns_written} turns this run, load {load:.1f}", flush=True)
    manifest_chunks = len(backend.open(embedder).chunk_ids())
    print(f"done: {manifest_chunks} chunks, {disk_size(args.index) / 2**30:.2f} GiB on disk, "
          f"{time.perf_counter() - started:.0f} s this run", flush=True)


if __name__ == "__main__":
    main()
