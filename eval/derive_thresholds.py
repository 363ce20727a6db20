"""Propose ``eval/thresholds.json`` from the committed baselines, by the rule in ``eval/README.md``.

Each floor sits one question's worth below the measured value (rounded down to 0.01), so a
near-tie that flips on another CPU does not fail CI but two lost questions do; quote validity
and citation location are floored at 1.0 whatever was measured, and the counts that must stay
low are capped at the measured count (plus one for an LLM generator, whose drafts can flip on
another CPU). Latency is not gated (it depends on the machine).

Run it after a change that improved the metrics, review the diff, and commit only floors that
went up: thresholds are never lowered to make a run pass.

Usage: .venv/bin/python eval/derive_thresholds.py [--write]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

EVAL = Path(__file__).resolve().parent
BASELINES = ("seed-extractive", "qmsum-extractive", "qmsum-tune-gate-extractive", "seed-openai", "qmsum-openai")
DETERMINISTIC = ("extractive",)
EXACT = ("quote_validity", "citation_location")
CAPPED = ("quotes_dropped", "quotes_repaired", "absent_attributions")
# Means over the answerable questions: one question moves them by 1 / answerable.
AVERAGED = ("hit_at_k", "recall_at_k", "mrr", "phrase_hit_at_k", "coverage")


def gate_for(set_name: str, generator: str, variant: dict) -> dict:
    """The gate of one variant of one baseline report."""
    summary = variant["summary"]
    questions = variant["questions"]
    answerable = sum(q["answerable"] for q in questions)
    unanswerable = len(questions) - answerable
    refused = sum(q["refused"] for q in questions)
    judged = [c for q in questions for c in q["citations"] if c["expected"] is not None]
    per_answer = len(judged) / max(sum(any(c["expected"] is not None for c in q["citations"]) for q in questions), 1)
    step = {metric: 1 / answerable for metric in AVERAGED}
    judged_answers = sum(bool(q.get("claims")) for q in questions)
    step.update(refusal_precision=1 / max(refused, 1), refusal_recall=1 / max(unanswerable, 1),
                attribution=per_answer / max(len(judged), 1), faithfulness=1 / max(judged_answers, 1))
    floors = {metric: 1.0 for metric in EXACT}
    for metric, one_question in step.items():
        value = summary.get(metric)
        if value is not None:
            floors[metric] = max(math.floor((value - one_question) * 100) / 100, 0.0)
    slack = 0 if generator in DETERMINISTIC else 1
    ceilings = {metric: summary[metric] + slack for metric in CAPPED}
    return {"set": set_name, "generator": generator, "variant": variant["name"], "min": floors, "max": ceilings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="Write eval/thresholds.json instead of printing it.")
    args = parser.parse_args()
    gates = []
    for name in BASELINES:
        path = EVAL / "baselines" / f"{name}.json"
        if not path.is_file():
            continue
        report = json.loads(path.read_text(encoding="utf-8"))
        gates.extend(gate_for(report["set"], report["generator"], variant) for variant in report["variants"])
    text = json.dumps({"rule": "see eval/README.md, Thresholds", "gates": gates}, indent=2) + "\n"
    if args.write:
        (EVAL / "thresholds.json").write_text(text, encoding="utf-8")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
