"""The eval runner behind ``rag eval``: run eval sets through the engine, score, gate, report.

All the I/O of evaluation is here: the config, sets, thresholds and baselines under ``eval/``,
the sets' own indexes (built on first use), the original transcripts that quotes are checked
against, the engine and the optional judge, and the reports under ``eval/reports/``. The
metrics themselves are pure functions in ``rag.evaluation.metrics``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.embedders.embedding import Embedder, load_embedder
from rag.engine import Engine, ingest
from rag.generators.registry import GENERATOR_NAMES
from rag.errors import EvalConfigError, UnknownDocument, VerbatimError
from rag.evaluation.gates import (
    Delta,
    Gate,
    GateResult,
    check_gate,
    compare_summaries,
    find_gate,
    parse_thresholds,
    question_changes,
)
from rag.evaluation.judge import NO_OWN_WORDS, NOT_CONFIGURED, LLMJudge
from rag.evaluation.report import render_html, render_markdown, render_text
from rag.evaluation.sets import check_against_transcripts, parse_set
from rag.evaluation.metrics import (
    EvalQuestion,
    QuestionResult,
    Variant,
    failures_by_kind,
    refusals_by_kind,
    score_question,
    summarize,
)
from rag.formats import read_transcript
from rag.indexing.ingest import Progress
from rag.generators.llm import OpenAIChat
from rag.models import Transcript
from rag.generators.prompts import load_prompt
from rag.settings import Settings

# Evaluation runs from a checkout: its sets, thresholds, baselines and reports live in eval/ beside
# the package, and are not installed with it.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
EVAL_DIR = PROJECT_ROOT / "eval"
CONFIG_FILE = EVAL_DIR / "config.json"
EXIT_PASS, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
Echo = Callable[[str], None]


@dataclass(frozen=True)
class SetSpec:
    """A named eval set: its file, the folder of its original transcripts, its own index."""

    name: str
    file: Path
    transcripts: Path | None = None
    index: Path | None = None


@dataclass(frozen=True)
class EvalConfig:
    """``eval/config.json``: the named sets and where reports, baselines and thresholds live."""

    sets: dict[str, SetSpec]
    default_sets: tuple[str, ...]
    reports: Path
    baselines: Path
    thresholds: Path
    latency_tolerance: float


@dataclass(frozen=True)
class EvalRequest:
    """What ``rag eval`` was asked to do; ``None`` and ``()`` mean "the configured default"."""

    sets: tuple[str, ...] = ()
    generator: str | None = None
    variants: tuple[Variant, ...] = ()
    k: int | None = None
    limit: int | None = None
    out: Path | None = None
    baseline: Path | None = None
    thresholds: Path | None = None
    save_baseline: bool = False
    index_path: Path | None = None
    judge_url: str | None = None
    judge_model: str | None = None
    config: Path = CONFIG_FILE


@dataclass
class VariantRun:
    """One variant of one set: per-question results, summary, gate and baseline comparison."""

    variant: Variant
    results: list[QuestionResult]
    summary: dict[str, Any]
    seconds: float
    gate: GateResult | None = None
    gate_bounds: dict[str, dict[str, float]] = field(default_factory=dict)
    gate_note: str | None = None
    deltas: list[Delta] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    baseline_note: str | None = None


@dataclass
class SetRun:
    """Everything measured on one set with one generator."""

    spec: SetSpec
    generator: str
    k: int
    limit: int | None
    judge_note: str
    runs: list[VariantRun]
    created: str = ""
    # Latencies are read against how busy the machine was: (cores, 1-minute load at the end).
    machine: tuple[int, float] = (0, 0.0)
    baseline_path: Path | None = None
    reports: list[Path] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(run.gate is not None and run.gate.failures for run in self.runs)


def load_config(path: Path) -> EvalConfig:
    """Read ``eval/config.json``; its paths are relative to its own folder.

    :raises EvalConfigError: missing, not JSON, or without the expected fields.
    """
    data = _read_json(path)
    base = path.parent.resolve()
    try:
        sets = {
            name: SetSpec(
                name, (base / raw["file"]).resolve(),
                (base / raw["transcripts"]).resolve() if raw.get("transcripts") else None,
                (base / raw["index"]).resolve() if raw.get("index") else None,
            )
            for name, raw in data["sets"].items()
        }
        return EvalConfig(
            sets=sets, default_sets=tuple(data["default_sets"]), reports=base / data["reports"],
            baselines=base / data["baselines"], thresholds=base / data["thresholds"],
            latency_tolerance=float(data["latency_tolerance"]),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise EvalConfigError(f"{path}: malformed eval config ({exc!r})") from exc


def run_eval(request: EvalRequest, settings: Settings, *, embedder: Embedder | None = None,
             echo: Echo = print, progress: Progress | None = None) -> list[SetRun]:
    """Run every requested set and variant, write the reports, and return what was measured.

    ``progress(label, done, total)`` hears of each embedded batch and each answered question:
    an LLM generator takes tens of seconds a question, so a full run is long.

    :raises EvalConfigError: a bad request, config, thresholds file or baseline.
    :raises EvalSetError: a malformed set, or one that contradicts its transcripts.
    """
    config = load_config(request.config)
    specs = [_resolve_set(name, config) for name in (request.sets or config.default_sets)]
    generator = request.generator or settings.generator
    _validate(request, generator, len(specs))
    variants = request.variants or (Variant(settings.retriever, settings.speaker_aware),)
    thresholds = request.thresholds or config.thresholds
    gates = parse_thresholds(_read_json(thresholds), str(thresholds))
    judge, judge_note = _judge(request, settings, generator)
    embedder = embedder or load_embedder(settings.embedder, settings.embed_batch_size)
    out = request.out or config.reports
    k = request.k or settings.top_k
    set_runs = []
    for spec in specs:
        questions = parse_set(spec.file.read_text(encoding="utf-8").splitlines(), str(spec.file))[: request.limit]
        index_path = request.index_path or spec.index or settings.index_path
        engine = _engine_for(spec, questions, index_path, settings, embedder, echo, progress)
        originals = _originals(spec, engine, questions)
        check_against_transcripts(questions, originals)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        set_run = SetRun(spec, generator, k, request.limit, judge_note, [], created)
        for variant in variants:
            label = f"{spec.name} / {generator} / {variant.name}"
            run = _run_variant(engine, generator, variant, k, questions, originals, judge, echo, progress, label)
            set_run.runs.append(run)
        set_run.machine = (os.cpu_count() or 1, round(os.getloadavg()[0], 2))
        _gate(set_run, gates, limited_default=request.limit is not None and request.thresholds is None)
        _compare(set_run, request, config)
        _write(set_run, out, request.save_baseline, echo)
        set_runs.append(set_run)
    return set_runs


def exit_code(set_runs: Sequence[SetRun]) -> int:
    """0 when every gate passed (or none applied), 1 when a threshold failed."""
    return EXIT_FAILED if any(run.failed for run in set_runs) else EXIT_PASS


def _validate(request: EvalRequest, generator: str, set_count: int) -> None:
    if generator not in GENERATOR_NAMES:
        raise EvalConfigError(f"unknown generator {generator!r}; choose one of {GENERATOR_NAMES}")
    if request.limit is not None and request.limit < 1:
        raise EvalConfigError("--limit must be at least 1")
    if request.k is not None and request.k < 1:
        raise EvalConfigError("--k must be at least 1")
    if request.baseline is not None and set_count > 1:
        raise EvalConfigError("--baseline names one report: run one --set with it")
    if request.save_baseline and request.limit is not None:
        raise EvalConfigError("a --limit run covers part of the set; it cannot become the baseline")


def _resolve_set(name: str, config: EvalConfig) -> SetSpec:
    if name in config.sets:
        return config.sets[name]
    path = Path(name)
    if path.is_file():
        return SetSpec(path.stem, path)
    raise EvalConfigError(f"no eval set {name!r}: name one of {sorted(config.sets)} or a .jsonl file")


def _judge(request: EvalRequest, settings: Settings, generator: str) -> tuple[LLMJudge | None, str]:
    if generator == "extractive":
        return None, NO_OWN_WORDS
    url = (request.judge_url or settings.judge_base_url or "").rstrip("/")
    if not url:
        return None, NOT_CONFIGURED
    model = request.judge_model or settings.judge_model
    chat = OpenAIChat(url, model, settings.judge_api_key.get_secret_value(), settings.llm_timeout_s)
    template = load_prompt("judge.j2", settings.prompts_dir)
    return LLMJudge(chat, template, settings.llm_max_tokens), f"judge: {model} at {url}"


def _engine_for(spec: SetSpec, questions: Sequence[EvalQuestion], index_path: Path, settings: Settings,
                embedder: Embedder, echo: Echo, progress: Progress | None) -> Engine:
    """Load the set's index, first adding or refreshing its transcripts when the set names a folder."""
    if spec.transcripts is not None:
        files = [_original_path(spec, document) for document in dict.fromkeys(q.document for q in questions)]
        report = ingest(settings, files, embedder, index_path=index_path, progress=progress)
        if report.added or report.replaced:
            changed = len(report.added) + len(report.replaced)
            echo(f"indexed {changed} transcript(s) of {spec.name} into {_shown(index_path)} "
                 f"({report.chunks} chunks, {report.seconds:.1f} s)")
    return Engine.load(settings, embedder=embedder, index_path=index_path)


def _original_path(spec: SetSpec, document: str) -> Path:
    path = spec.transcripts / f"{document}.txt"
    if not path.is_file():
        raise EvalConfigError(f"{spec.name}: no transcript {path}")
    return path


def _originals(spec: SetSpec, engine: Engine, questions: Sequence[EvalQuestion]) -> dict[str, Transcript]:
    """Each document parsed afresh from its original file: the ground truth quotes are checked on."""
    originals = {}
    for document in dict.fromkeys(q.document for q in questions):
        if spec.transcripts is None:
            # No originals given: the index's stored text, checked against its sha256 on load.
            try:
                originals[document] = engine.transcript(document)
            except UnknownDocument:
                raise EvalConfigError(f"{spec.name}: document {document!r} is not in the index") from None
            continue
        path = _original_path(spec, document)
        try:
            originals[document] = read_transcript(path, document)
        except VerbatimError as exc:
            raise EvalConfigError(f"{spec.name}: cannot read the original of {document!r}: {exc}") from exc
    return originals


def _run_variant(engine: Engine, generator_name: str, variant: Variant, k: int, questions: Sequence[EvalQuestion],
                 originals: dict[str, Transcript], judge: LLMJudge | None, echo: Echo, progress: Progress | None,
                 label: str) -> VariantRun:
    started = time.perf_counter()
    results = []
    for question in questions:
        clock = time.perf_counter()
        # No fallback generator: the eval measures the generator asked for, failures included.
        answer = engine.ask(question.question, generator=generator_name, fallback=False, k=k, mode=variant.mode,
                            speaker_aware=variant.speaker_aware, document=question.document)
        latency_ms = (time.perf_counter() - clock) * 1000
        judgement = judge.judge(question.question, answer) if judge is not None else None
        results.append(score_question(question, answer, originals[question.document], latency_ms, judgement))
        if progress:
            progress(label, len(results), len(questions))
    seconds = time.perf_counter() - started
    echo(f"{label}: {len(results)} questions in {seconds:.1f} s")
    return VariantRun(variant, results, summarize(results), round(seconds, 1))


def _gate(set_run: SetRun, gates: Sequence[Gate], *, limited_default: bool) -> None:
    for run in set_run.runs:
        if limited_default:
            run.gate_note = "--limit runs part of the set; pass --thresholds to gate it anyway"
            continue
        gate = find_gate(gates, set_run.spec.name, set_run.generator, run.variant.name)
        if gate is None:
            run.gate_note = f"no thresholds for {set_run.spec.name}/{set_run.generator}/{run.variant.name}"
            continue
        run.gate = check_gate(run.summary, gate)
        run.gate_bounds = {kind: dict(values) for kind, values in gate.bounds.items()}


def _compare(set_run: SetRun, request: EvalRequest, config: EvalConfig) -> None:
    path = request.baseline or config.baselines / f"{set_run.spec.name}-{set_run.generator}.json"
    set_run.baseline_path = path
    if request.limit is not None and request.baseline is None:
        for run in set_run.runs:
            run.baseline_note = "not compared, --limit runs part of the set (pass --baseline to compare anyway)"
        return
    if not path.is_file():
        for run in set_run.runs:
            run.baseline_note = f"no baseline at {_shown(path)}"
        return
    baseline = {variant["name"]: variant for variant in _read_json(path).get("variants", [])}
    for run in set_run.runs:
        old = baseline.get(run.variant.name)
        if old is None:
            run.baseline_note = f"the baseline {_shown(path)} has no variant {run.variant.name}"
            continue
        run.deltas = compare_summaries(run.summary, old["summary"], config.latency_tolerance)
        run.changes = question_changes([asdict(result) for result in run.results], old["questions"])
        run.baseline_note = f"compared with {_shown(path)}"


def _write(set_run: SetRun, out: Path, save_baseline: bool, echo: Echo) -> None:
    report = report_dict(set_run)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{set_run.spec.name}-{set_run.generator}"
    payload = json.dumps(report, ensure_ascii=False, indent=1) + "\n"
    writes = {".json": payload, ".md": render_markdown(report), ".html": render_html(report)}
    for suffix, text in writes.items():
        stem.with_suffix(suffix).write_text(text, encoding="utf-8")
        set_run.reports.append(stem.with_suffix(suffix))
    echo(render_text(report))
    echo(f"reports: {', '.join(_shown(path) for path in set_run.reports)}")
    if save_baseline and set_run.baseline_path is not None:
        set_run.baseline_path.parent.mkdir(parents=True, exist_ok=True)
        set_run.baseline_path.write_text(_baseline_payload(report), encoding="utf-8")
        echo(f"baseline saved: {_shown(set_run.baseline_path)}")


def _baseline_payload(report: dict[str, Any]) -> str:
    """The report without the answers' text: what comparisons read, at half the size."""
    variants = [
        {**variant, "questions": [{k: v for k, v in q.items() if k != "answer"} for q in variant["questions"]]}
        for variant in report["variants"]
    ]
    return json.dumps({**report, "variants": variants}, ensure_ascii=False, indent=1) + "\n"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvalConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise EvalConfigError(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno})") from exc


def _shown(path: Path) -> str:
    """A path relative to the project when it is inside it (shorter, and the same in every clone)."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def report_dict(set_run: SetRun) -> dict[str, Any]:
    """The JSON report of one set (also the shape of a baseline file)."""
    return {
        "set": set_run.spec.name,
        "set_file": _shown(set_run.spec.file),
        "generator": set_run.generator,
        "k": set_run.k,
        "limit": set_run.limit,
        "created": set_run.created,
        "judge": set_run.judge_note,
        "machine": {"cores": set_run.machine[0], "load_average": set_run.machine[1]},
        "variants": [
            {
                "name": run.variant.name,
                "mode": run.variant.mode,
                "speaker_aware": run.variant.speaker_aware,
                "seconds": run.seconds,
                "summary": run.summary,
                "gate": {
                    "status": "unchecked" if run.gate is None else ("fail" if run.gate.failures else "pass"),
                    "note": run.gate_note,
                    "failures": [str(failure) for failure in run.gate.failures] if run.gate else [],
                    "unmeasured": list(run.gate.unmeasured) if run.gate else [],
                    "bounds": run.gate_bounds,
                    "failing_metrics": [failure.metric for failure in run.gate.failures] if run.gate else [],
                },
                "baseline": {
                    "note": run.baseline_note,
                    "deltas": [
                        {"metric": d.metric, "before": d.before, "after": d.after, "regressed": d.regressed}
                        for d in run.deltas
                    ],
                    "changes": run.changes,
                },
                "failures_by_kind": failures_by_kind(run.results),
                "refusals_by_kind": refusals_by_kind(run.results),
                "questions": [asdict(result) for result in run.results],
            }
            for run in set_run.runs
        ],
    }
