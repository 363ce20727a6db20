"""Eval reports as text: a terminal table, Markdown, and a self-contained HTML page with a chart.

Pure functions of the JSON report built by ``rag.eval_runner.report_dict``, so a stored
report (or a baseline) can be rendered again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from rag.evaluation import METRIC_BY_NAME, METRICS

Report = Mapping[str, Any]
_LABEL_WIDTH = 46
_COLUMN_WIDTH = 16
_MAX_QIDS = 8
_MAX_CHANGES = 12
# The chart: bar width, gap between metric groups, plot height, margins (px); one colour per variant.
_BAR, _GAP, _PLOT_H, _LEFT, _TOP, _BOTTOM = 14, 18, 200, 44, 16, 120
_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1")


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
        lines.extend(_baseline_lines(variant["baseline"]))
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
        out.append(f"Baseline: {baseline['note']}.")
        changed = [d for d in baseline["deltas"] if d["before"] != d["after"]]
        if changed:
            out += ["", "| metric | baseline | now | |", "|---|---:|---:|---|"]
            for delta in changed:
                mark = "**regression**" if delta["regressed"] else ""
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
    """A self-contained page (no scripts, no external assets): an SVG chart and the summary table."""
    variants = report["variants"]
    head = "".join(f"<th>{escape(v['name'])}</th>" for v in variants)
    rows = "".join(
        f"<tr><td>{escape(spec.label)}</td>"
        + "".join(f"<td>{format_value(spec.name, v['summary'].get(spec.name))}</td>" for v in variants)
        + "</tr>"
        for spec in METRICS
    )
    gates = "".join(f"<li><b>{escape(v['name'])}</b>: {escape(_gate_line(v['gate']))}</li>" for v in variants)
    baseline = "".join(
        f"<li><b>{escape(v['name'])}</b>: {escape(v['baseline']['note'] or '')}"
        + "".join(f"<br>regression: {escape(d['metric'])} {format_value(d['metric'], d['before'])} &rarr; "
                  f"{format_value(d['metric'], d['after'])}" for d in v["baseline"]["deltas"] if d["regressed"])
        + "</li>"
        for v in variants
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(_title(report))}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px}}td+td,th+th{{text-align:right}}svg text{{font-size:11px}}</style>
</head><body>
<h1>{escape(_title(report))}</h1>
<p>Created {escape(report['created'])}. Faithfulness judge: {escape(report['judge'])}.</p>
<h2>Rates by variant</h2>
{bar_chart(variants)}
<h2>All metrics</h2>
<table><tr><th>metric</th>{head}</tr>{rows}</table>
<h2>Gates</h2><ul>{gates}</ul>
<h2>Baseline</h2><ul>{baseline}</ul>
</body></html>
"""


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


def _baseline_lines(baseline: Mapping[str, Any]) -> list[str]:
    lines = [f"  baseline: {baseline['note']}"]
    regressions = [d for d in baseline["deltas"] if d["regressed"]]
    # Latency moves on every run; it is shown only when it regressed.
    changed = [
        d for d in baseline["deltas"]
        if d["before"] != d["after"] and not d["regressed"] and METRIC_BY_NAME[d["metric"]].unit != "ms"
    ]
    for delta in regressions + changed:
        mark = "REGRESSION" if delta["regressed"] else "changed   "
        lines.append(f"    {mark} {delta['metric']}: {format_value(delta['metric'], delta['before'])} -> "
                     f"{format_value(delta['metric'], delta['after'])}")
    changes = baseline["changes"]
    for line in changes[:_MAX_CHANGES]:
        lines.append(f"    {line}")
    if len(changes) > _MAX_CHANGES:
        lines.append(f"    ... and {len(changes) - _MAX_CHANGES} more questions changed (see the Markdown report)")
    return lines


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
