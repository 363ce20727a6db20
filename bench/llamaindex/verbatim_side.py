"""Verbatim's half of the LlamaIndex comparison, run by compare.py under the project's own Python.

Reads a job (JSON: transcripts, questions, k, repeats), ingests the transcripts into a fresh
temporary index with the default settings (default embedder, chunking, hybrid retrieval), then
times ``Engine.search`` on every question, warm, and writes what it retrieved (document and
character span of each passage, best first), the timings and the parser's turn spans as JSON.
Scoring is compare.py's, the same for both systems.

The question-vector cache is off: a timed search embeds its question, as LlamaIndex's retriever does.

    .venv/bin/python bench/llamaindex/verbatim_side.py JOB.json OUT.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from rag.engine import Engine, configured_embedder, ingest
from rag.settings import Settings


def timed_searches(engine: Engine, questions: list[dict], k: int, repeats: int, scoped: bool) -> dict:
    """One untimed pass (warm-up), then ``repeats`` timed passes over ``questions``."""
    latencies, cpu, ranked = [], [], {}
    for number in range(repeats + 1):
        for question in questions:
            filters = {"document": question["document"]} if scoped else {}
            wall, used = time.perf_counter(), time.process_time()
            result = engine.search(question["question"], k=k, **filters)
            wall, used = time.perf_counter() - wall, time.process_time() - used
            if number:
                latencies.append(1000 * wall)
                cpu.append(1000 * used)
            ranked[question["qid"]] = [[p.chunk.document, p.chunk.char_start, p.chunk.char_end] for p in result.passages]
    return {"latencies_ms": latencies, "cpu_ms": cpu, "ranked": ranked, "load": os.getloadavg()}


def embedding_cpu_ms(engine: Engine, questions: list[dict]) -> list[float]:
    """CPU per question of embedding it alone: the part of a search that is the model's runtime."""
    costs = []
    for question in questions:
        used = time.process_time()
        engine.embedder.embed([question["question"]])
        costs.append(1000 * (time.process_time() - used))
    return costs


def run(job: dict) -> dict:
    settings = Settings(query_cache_size=0)
    embedder = configured_embedder(settings)
    embedder.embed(["warm-up: loads the model before the clock starts"])
    paths = [Path(path) for path in job["transcripts"]]
    with tempfile.TemporaryDirectory(prefix="verbatim-vs-llamaindex-") as folder:
        index_path = Path(folder) / "index"
        load_before = os.getloadavg()
        wall, used = time.perf_counter(), time.process_time()
        report = ingest(settings, paths, embedder, index_path=index_path)
        build = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - used, "turns": report.turns,
                 "units": report.chunks, "load_before": load_before, "load_after": os.getloadavg(),
                 "disk_bytes": sum(f.stat().st_size for f in index_path.rglob("*") if f.is_file())}
        wall = time.perf_counter()
        engine = Engine.load(settings, embedder, index_path)
        build["load_index_s"] = time.perf_counter() - wall
        spans = {doc: [[t.span_start, t.span_end] for t in engine.transcript(doc).turns]
                 for doc in {q["document"] for q in job["questions"]}}
        runs = {scope: timed_searches(engine, job["questions"], job["k"], job["repeats"], scope == "document")
                for scope in ("document", "corpus")}
        runs["document"]["embed_cpu_ms"] = embedding_cpu_ms(engine, job["questions"])
    return {"system": f"Verbatim ({settings.embedder}, {settings.retriever}"
                      f"{'+speakers' if settings.speaker_aware else ''}, chunks <= {settings.chunk_max_tokens} tokens)",
            "build": build, "runs": runs, "turn_spans": spans}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    args.out.write_text(json.dumps(run(json.loads(args.job.read_text()))))


if __name__ == "__main__":
    main()
