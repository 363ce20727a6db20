"""Gates on an eval run: floors and ceilings from ``eval/thresholds.json``, deltas from a baseline.

Pure functions over the summaries of ``rag.evaluation.metrics.summarize`` and the per-question dicts
of a JSON report; ``rag.evaluation.runner`` reads the files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rag.errors import EvalConfigError
from rag.evaluation.metrics import METRIC_BY_NAME

Summary = Mapping[str, float | int | None]
# A change smaller than this is float noise, not a change.
_EPSILON = 1e-9
_BOUNDS = ("min", "max")
_GATE_KEYS = ("set", "generator", "variant")


@dataclass(frozen=True)
class Gate:
    """The floors (``min``) and ceilings (``max``) for one set, generator and variant."""

    set: str
    generator: str
    variant: str
    bounds: Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class GateFailure:
    """A metric on the wrong side of its bound."""

    metric: str
    value: float
    bound: float
    kind: str

    def __str__(self) -> str:
        side = "below the floor" if self.kind == "min" else "above the ceiling"
        return f"{self.metric} = {self.value:g} is {side} {self.bound:g}"


@dataclass(frozen=True)
class GateResult:
    """What checking a gate found: failures, and bounded metrics this run could not measure."""

    failures: tuple[GateFailure, ...] = ()
    unmeasured: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delta:
    """One metric compared with the baseline."""

    metric: str
    before: float | None
    after: float | None
    regressed: bool

    @property
    def change(self) -> float | None:
        return None if self.before is None or self.after is None else self.after - self.before


def parse_thresholds(data: Any, source: str) -> list[Gate]:
    """The gates of a thresholds file (``{"gates": [{set, generator, variant, min, max}]}``).

    :raises EvalConfigError: a malformed gate, an unknown metric, a non-numeric bound, or two
        gates for the same set, generator and variant.
    """
    if not isinstance(data, dict) or not isinstance(data.get("gates"), list):
        raise EvalConfigError(f"{source}: expected an object with a \"gates\" list")
    gates: list[Gate] = []
    for number, raw in enumerate(data["gates"], start=1):
        where = f"{source}: gate {number}"
        if not isinstance(raw, dict) or not all(isinstance(raw.get(key), str) for key in _GATE_KEYS):
            raise EvalConfigError(f"{where} needs string fields set, generator and variant")
        bounds: dict[str, dict[str, float]] = {}
        for kind in _BOUNDS:
            values = raw.get(kind, {})
            if not isinstance(values, dict):
                raise EvalConfigError(f"{where}: {kind!r} must map metric names to numbers")
            for metric, bound in values.items():
                if metric not in METRIC_BY_NAME:
                    raise EvalConfigError(f"{where}: unknown metric {metric!r}")
                if isinstance(bound, bool) or not isinstance(bound, int | float):
                    raise EvalConfigError(f"{where}: the {kind} of {metric} must be a number")
            bounds[kind] = {metric: float(bound) for metric, bound in values.items()}
        gate = Gate(raw["set"], raw["generator"], raw["variant"], bounds)
        if find_gate(gates, gate.set, gate.generator, gate.variant) is not None:
            raise EvalConfigError(f"{where} repeats {gate.set}/{gate.generator}/{gate.variant}")
        gates.append(gate)
    return gates


def find_gate(gates: Sequence[Gate], set_name: str, generator: str, variant: str) -> Gate | None:
    """The gate for this set, generator and variant, if the thresholds file has one."""
    return next((g for g in gates if (g.set, g.generator, g.variant) == (set_name, generator, variant)), None)


def check_gate(summary: Summary, gate: Gate) -> GateResult:
    """Compare a run's summary with a gate's bounds; a metric the run has no value for is unmeasured."""
    failures: list[GateFailure] = []
    unmeasured: list[str] = []
    for kind in _BOUNDS:
        for metric, bound in gate.bounds.get(kind, {}).items():
            value = summary.get(metric)
            if value is None:
                unmeasured.append(metric)
            elif (value < bound - _EPSILON) if kind == "min" else (value > bound + _EPSILON):
                failures.append(GateFailure(metric, float(value), bound, kind))
    return GateResult(tuple(failures), tuple(unmeasured))


def compare_summaries(current: Summary, baseline: Summary, latency_tolerance: float) -> list[Delta]:
    """Every metric of either summary, before and after, with regressions marked.

    A rate or a count regresses when it moves the wrong way at all (the extractive pipeline is
    deterministic); a latency only when it grows by more than ``latency_tolerance`` (a share).
    """
    deltas = []
    for metric in [m for m in METRIC_BY_NAME if m in current or m in baseline]:
        before, after = baseline.get(metric), current.get(metric)
        deltas.append(Delta(metric, before, after, _regressed(metric, before, after, latency_tolerance)))
    return deltas


def _regressed(metric: str, before: float | None, after: float | None, latency_tolerance: float) -> bool:
    spec = METRIC_BY_NAME[metric]
    if before is None or after is None or spec.better == "none":
        return False
    if spec.unit == "ms":
        return after > before * (1 + latency_tolerance)
    worse = after - before if spec.better == "lower" else before - after
    return worse > _EPSILON


def question_changes(current: Sequence[Mapping[str, Any]], baseline: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per question whose outcome changed since the baseline (report dicts, by qid)."""
    before = {row["qid"]: row for row in baseline}
    lines = []
    for row in current:
        old = before.get(row["qid"])
        if old is None:
            lines.append(f"{row['qid']}: new question")
            continue
        changes = []
        if row["refused"] != old["refused"]:
            changes.append("now refused" if row["refused"] else "now answered")
        for key, label in (("hit", "hit@k"), ("reciprocal_rank", "RR"), ("coverage", "coverage")):
            if row.get(key) != old.get(key):
                changes.append(f"{label} {_show(old.get(key))} -> {_show(row.get(key))}")
        for flag, label in (("valid", "an invalid quote"), ("located", "a mislocated citation")):
            if _any_false(row, flag) != _any_false(old, flag):
                changes.append(("now has " if _any_false(row, flag) else "no longer has ") + label)
        if _unexpected(row) != _unexpected(old):
            changes.append(("now" if _unexpected(row) else "no longer") + " cites an unexpected speaker")
        absent = row.get("absent_attribution")
        if absent != old.get("absent_attribution"):
            changes.append(("now" if absent else "no longer") + " attributes words to a non-speaker")
        if changes:
            lines.append(f"{row['qid']}: " + "; ".join(changes))
    return lines


def _any_false(row: Mapping[str, Any], flag: str) -> bool:
    return any(not citation[flag] for citation in row.get("citations", []))


def _unexpected(row: Mapping[str, Any]) -> bool:
    return any(citation["expected"] is False for citation in row.get("citations", []))


def _show(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"
