"""Eval reports as text: a terminal table, Markdown, and a self-contained HTML page with a chart.

Pure functions of the JSON report built by ``rag.evaluation.runner.report_dict``, so a stored
report (or a baseline) can be rendered again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from rag.evaluation.metrics import METRIC_BY_NAME, METRICS

Report = Mapping[str, Any]
_LABEL_WIDTH = 46
_COLUMN_WIDTH = 16
_MAX_QIDS = 8
_MAX_CHANGES = 12
# The chart: bar width, gap between metric groups, plot height, margins (px); one colour per variant.
_BAR, _GAP, _PLOT_H, _LEFT, _TOP, _BOTTOM = 14, 18, 200, 44, 16, 120
_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1")
# What each failure list of a report means for one question, in plain words. A question with a
# failure is wrong; a shortcoming leaves it right but incomplete. Listed in this order.
_FAILURES = {
    "invalid_quotes": "quotes words the transcript does not contain",
    "mislocated_citations": "cites the wrong place or speaker",
    "absent_attributions": "attributes words to someone who never speaks",
    "attribution_failures": "quotes a speaker the question did not ask about",
    "false_refusals": "refused, though the transcript answers it",
    "missed_refusals": "answered, though the transcript does not cover it",
}
_SHORTCOMINGS = {
    "retrieval_misses": "no answering turn among the passages retrieved",
    "uncovered": "left out a key phrase of the answer",
    "summaries_dropped": "summary left out: its quotes do not support it",
}
_ANSWER_PREVIEW_CHARS = 400


def format_value(metric: str, value: float | int | None) -> str:
    """A metric value as shown in tables: rates to 3 places, counts whole, milliseconds rounded."""
    if value is None:
        return "n/a"
    unit = METRIC_BY_NAME[metric].unit
    if unit == "rate":
        return f"{value:.3f}"
    return f"{value:.0f}"


def render_text(report: Report) -> str:
    """The terminal summary: metrics by variant, gates, failures by qid, baseline deltas."""
    variants = report["variants"]
    lines = [_title(report), ""]
    lines.append("metric".ljust(_LABEL_WIDTH) + "".join(v["name"].rjust(_COLUMN_WIDTH) for v in variants))
    for spec in METRICS:
        values = [format_value(spec.name, v["summary"].get(spec.name)) for v in variants]
        lines.append(spec.label.ljust(_LABEL_WIDTH) + "".join(value.rjust(_COLUMN_WIDTH) for value in values))
    lines.append(f"faithfulness judge: {report['judge']}")
    for variant in variants:
        lines.append("")
        lines.append(f"[{variant['name']}] gate: {_gate_line(variant['gate'])}")
        for kind, qids in variant["failures_by_kind"].items():
            if qids:
                shown = ", ".join(qids[:_MAX_QIDS]) + (f" (+{len(qids) - _MAX_QIDS})" if len(qids) > _MAX_QIDS else "")
                lines.append(f"  {kind}: {shown}")
        lines.append("  refused by kind: " + ", ".join(
            f"{kind} {row['refused']}/{row['questions']}" for kind, row in variant["refusals_by_kind"].items()))
        lines.extend(_baseline_lines(variant["baseline"], report))
    return "\n".join(lines)


def render_markdown(report: Report) -> str:
    """The Markdown report: summary table, gates, baseline deltas, failures and every question."""
    variants = report["variants"]
    out = [f"# {_title(report)}", "", f"Created {report['created']}. Faithfulness judge: {report['judge']}.", ""]
    out.append("| metric | " + " | ".join(v["name"] for v in variants) + " |")
    out.append("|---|" + "---:|" * len(variants))
    for spec in METRICS:
        cells = [format_value(spec.name, v["summary"].get(spec.name)) for v in variants]
        out.append(f"| {spec.label} | " + " | ".join(cells) + " |")
    for variant in variants:
        out += ["", f"## {variant['name']}", "", f"Gate: {_gate_line(variant['gate'])}", ""]
        baseline = variant["baseline"]
        out.append(f"Baseline: {baseline['note']}; {timing_note(report)}.")
        changed = [d for d in baseline["deltas"] if d["before"] != d["after"]]
        if changed:
            out += ["", "| metric | baseline | now | |", "|---|---:|---:|---|"]
            for delta in changed:
                mark = {"REGRESSION": "**regression**", "slower": "slower"}.get(_delta_mark(delta), "")
                out.append(f"| {delta['metric']} | {format_value(delta['metric'], delta['before'])} | "
                           f"{format_value(delta['metric'], delta['after'])} | {mark} |")
        if baseline["changes"]:
            out += ["", "Questions whose outcome changed:", ""] + [f"- {line}" for line in baseline["changes"]]
        failing = {kind: qids for kind, qids in variant["failures_by_kind"].items() if qids}
        if failing:
            out += ["", "Failures by question:", ""]
            out += [f"- {kind}: {', '.join(qids)}" for kind, qids in failing.items()]
        out += ["", "Refused, by question kind: " + ", ".join(
            f"{kind} {row['refused']}/{row['questions']}" for kind, row in variant["refusals_by_kind"].items()) + "."]
        out += ["", "| qid | answerable | refused | hit | RR | phrase hit | coverage | citations | wrong speaker "
                "| ms |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for row in variant["questions"]:
            wrong = sum(c["expected"] is False for c in row["citations"])
            out.append(
                f"| {row['qid']} | {_yes(row['answerable'])} | {_yes(row['refused'])} | {_num(row['hit'])} | "
                f"{_num(row['reciprocal_rank'])} | {_num(row['phrase_hit'])} | {_num(row['coverage'])} | "
                f"{len(row['citations'])} | {wrong} | {row['latency_ms']:.0f} |"
            )
    return "\n".join(out) + "\n"


def render_html(report: Report) -> str:
    """A self-contained page (no scripts, no external assets): gates, each figure beside its
    threshold, changes since the baseline, every question with its verdict (failing ones first),
    and an SVG chart."""
    variants = report["variants"]
    head = "".join(f"<th>{escape(v['name'])}</th>" for v in variants)
    rows = "".join(
        f"<tr><td>{escape(spec.label)}</td>" + "".join(_figure_cell(v, spec.name) for v in variants) + "</tr>"
        for spec in METRICS
    )
    gates = "".join(f"<li><b>{escape(v['name'])}</b>: {escape(_gate_line(v['gate']))}</li>" for v in variants)
    changes = "".join(_changes_html(v) for v in variants)
    questions = "".join(_questions_html(v) for v in variants)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(_title(report))}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;vertical-align:top}}.num td+td{{text-align:right}}
.fail{{background:#fde2e1}}.warn{{background:#fff4d6}}.bound{{color:#666;font-size:90%}}
svg text{{font-size:11px}}</style>
</head><body>
<h1>{escape(_title(report))}</h1>
<p>Created {escape(report['created'])}. Faithfulness judge: {escape(report['judge'])}.
Latencies: {escape(timing_note(report))}.</p>
<h2>Gates</h2><ul>{gates}</ul>
<h2>Figures and their thresholds</h2>
<table class="num"><tr><th>metric</th>{head}</tr>{rows}</table>
<h2>Changes since the baseline</h2>{changes}
<h2>Every question</h2>{questions}
<h2>Rates by variant</h2>
{bar_chart(variants)}
</body></html>
"""


def _figure_cell(variant: Mapping[str, Any], metric: str) -> str:
    failing = metric in variant["gate"].get("failing_metrics", [])
    bound = _bound(variant, metric)
    shown = format_value(metric, variant["summary"].get(metric))
    threshold = f' <span class="bound">(gate {escape(bound)})</span>' if bound else ""
    style = ' class="fail"' if failing else ""
    return f"<td{style}>{shown}{threshold}</td>"


def _changes_html(variant: Mapping[str, Any]) -> str:
    baseline = variant["baseline"]
    items = "".join(
        f"<li>{escape(mark)}: {escape(METRIC_BY_NAME[d['metric']].label)} {format_value(d['metric'], d['before'])}"
        f" &rarr; {format_value(d['metric'], d['after'])}</li>"
        for d in baseline["deltas"] if (mark := _delta_mark(d))
    )
    questions = "".join(f"<li>{escape(line)}</li>" for line in baseline["changes"])
    return (f"<h3>{escape(variant['name'])}</h3><p>{escape(baseline['note'] or '')}</p>"
            f"<ul>{items or '<li>no figure changed</li>'}</ul>" + (f"<ul>{questions}</ul>" if questions else ""))


def _questions_html(variant: Mapping[str, Any]) -> str:
    rows = []
    for row, failures, shortcomings in question_verdicts(variant):
        verdict, style = ("wrong", "fail") if failures else ("incomplete", "warn") if shortcomings else ("right", "")
        answer = row.get("answer") or ""
        preview = answer[:_ANSWER_PREVIEW_CHARS] + ("…" if len(answer) > _ANSWER_PREVIEW_CHARS else "")
        rows.append(
            f'<tr class="{style}"><td>{verdict}</td><td>{escape(row["qid"])}</td><td>{escape(row["question"])}</td>'
            f"<td>{escape('; '.join(failures + shortcomings))}</td><td>{escape(preview)}</td></tr>"
        )
    wrong = sum(1 for _, failures, _ in question_verdicts(variant) if failures)
    return (f"<h3>{escape(variant['name'])}: {wrong} of {len(rows)} wrong</h3>"
            "<table><tr><th>verdict</th><th>qid</th><th>question</th><th>what went wrong</th><th>answer</th></tr>"
            + "".join(rows) + "</table>")


def bar_chart(variants: Sequence[Mapping[str, Any]]) -> str:
    """An inline SVG grouped bar chart of every rate metric (0 to 1), one bar per variant."""
    measured = {name for v in variants for name, value in v["summary"].items() if value is not None}
    metrics = [s.name for s in METRICS if s.unit == "rate" and s.name in measured]
    group = len(variants) * _BAR + _GAP
    width = _LEFT + len(metrics) * group + _GAP
    height = _TOP + _PLOT_H + _BOTTOM
    base = _TOP + _PLOT_H
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 20 * len(variants)}" '
             f'role="img" aria-label="rates by variant">']
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = base - tick * _PLOT_H
        parts.append(f'<line x1="{_LEFT}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>')
    for position, metric in enumerate(metrics):
        x0 = _LEFT + _GAP + position * group
        for index, variant in enumerate(variants):
            value = variant["summary"].get(metric)
            if value is None:
                continue
            x, bar_height = x0 + index * _BAR, value * _PLOT_H
            parts.append(f'<rect x="{x}" y="{base - bar_height:.1f}" width="{_BAR - 2}" height="{bar_height:.1f}" '
                         f'fill="{_COLOURS[index % len(_COLOURS)]}"><title>{escape(variant["name"])} {escape(metric)}: '
                         f'{value:.3f}</title></rect>')
        label_x = x0 + len(variants) * _BAR / 2
        parts.append(f'<text x="{label_x:.1f}" y="{base + 12}" text-anchor="end" '
                     f'transform="rotate(-40 {label_x:.1f} {base + 12})">{escape(metric)}</text>')
    for index, variant in enumerate(variants):
        y = height + 20 * index
        parts.append(f'<rect x="{_LEFT}" y="{y - 10}" width="12" height="12" fill="{_COLOURS[index % len(_COLOURS)]}"/>'
                     f'<text x="{_LEFT + 18}" y="{y}">{escape(variant["name"])}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _title(report: Report) -> str:
    questions = report["variants"][0]["summary"]["questions"] if report["variants"] else 0
    limit = f", first {report['limit']}" if report.get("limit") else ""
    return (f"Eval of {report['set']} ({report['set_file']}{limit}): {questions} questions, "
            f"{report['generator']} generator, k={report['k']}")


def _gate_line(gate: Mapping[str, Any]) -> str:
    if gate["status"] == "unchecked":
        return f"unchecked ({gate['note']})"
    text = "PASS" if gate["status"] == "pass" else "FAIL: " + "; ".join(gate["failures"])
    if gate["unmeasured"]:
        text += f" (not measured in this run: {', '.join(gate['unmeasured'])})"
    return text


def _baseline_lines(baseline: Mapping[str, Any], report: Report) -> list[str]:
    lines = [f"  baseline: {baseline['note']}"]
    for delta in baseline["deltas"]:
        mark = _delta_mark(delta)
        if mark:
            lines.append(f"    {mark.ljust(10)} {delta['metric']}: {format_value(delta['metric'], delta['before'])} -> "
                         f"{format_value(delta['metric'], delta['after'])}")
    if any(_is_timing(d) and d["regressed"] for d in baseline["deltas"]):
        lines.append(f"    ({timing_note(report)})")
    changes = baseline["changes"]
    for line in changes[:_MAX_CHANGES]:
        lines.append(f"    {line}")
    if len(changes) > _MAX_CHANGES:
        lines.append(f"    ... and {len(changes) - _MAX_CHANGES} more questions changed (see the Markdown report)")
    return lines


def timing_note(report: Report) -> str:
    """How to read this run's latencies: the machine's load when it ended; timings are never gated."""
    machine = report.get("machine")
    if not machine:
        return "timings are not gated; this report does not say how loaded the machine was"
    cores, load = machine["cores"], machine["load_average"]
    busy = "a loaded machine" if load >= cores else "a quiet machine"
    return f"timed on {busy}: load {load:g} on {cores} cores; timings are not gated"


def question_verdicts(variant: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], list[str], list[str]]]:
    """Every question with its failures and shortcomings in plain words: failing ones first, then
    the incomplete ones, then the rest, each group in the set's order."""
    kinds_of: dict[str, list[str]] = {}
    for kind, qids in variant["failures_by_kind"].items():
        for qid in qids:
            kinds_of.setdefault(qid, []).append(kind)
    rows = []
    for row in variant["questions"]:
        kinds = kinds_of.get(row["qid"], [])
        rows.append((row, [_FAILURES[k] for k in _FAILURES if k in kinds],
                     [_SHORTCOMINGS[k] for k in _SHORTCOMINGS if k in kinds]))
    return sorted(rows, key=lambda entry: (not entry[1], not entry[2]))


def _delta_mark(delta: Mapping[str, Any]) -> str:
    """How a baseline delta is labelled: a worse figure is a regression, a slower one only slower."""
    if _is_timing(delta):
        return "slower" if delta["regressed"] else ""
    if delta["regressed"]:
        return "REGRESSION"
    return "changed" if delta["before"] != delta["after"] else ""


def _is_timing(delta: Mapping[str, Any]) -> bool:
    return METRIC_BY_NAME[delta["metric"]].unit == "ms"


def _bound(variant: Mapping[str, Any], metric: str) -> str:
    bounds = variant["gate"].get("bounds", {})
    if metric in bounds.get("min", {}):
        return f"≥ {bounds['min'][metric]:g}"
    if metric in bounds.get("max", {}):
        return f"≤ {bounds['max'][metric]:g}"
    return ""


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
