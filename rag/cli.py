"""The ``rag`` command: a thin shell over the library.

Errors print as ``TypeName: message`` on stderr and exit with status 1.
"""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from functools import wraps
from pathlib import Path

import click

from rag.errors import VerbatimError
from rag.formats import FORMAT_NAMES
from rag.generators.registry import GENERATOR_NAMES
from rag.retrieval.retriever import MODES
from rag.settings import Settings

INDEX_OPTION = click.option(
    "--index", "index_path", type=click.Path(path_type=Path), default=None,
    help="Index folder (default: VERBATIM_INDEX_PATH or index/default).",
)


def _settings(index_path: Path | None, **overrides) -> Settings:
    values = {key: value for key, value in overrides.items() if value is not None}
    if index_path is not None:
        values["index_path"] = index_path
    return Settings(**values)


def _document_filters(command):
    """``--document``, ``--date-from``, ``--date-to`` and ``--place``, passed on as ``filters``."""

    @click.option("--document", default=None, help="Only this document (ids: rag documents).")
    @click.option("--date-from", default=None, metavar="YYYY-MM-DD", help="Only documents dated on or after this day.")
    @click.option("--date-to", default=None, metavar="YYYY-MM-DD", help="Only documents dated on or before this day.")
    @click.option("--place", default=None, help="Only documents whose place, venue or title names this.")
    @wraps(command)
    def run(*args, document, date_from, date_to, place, **kwargs):
        filters = {"document": document, "date_from": date_from, "date_to": date_to, "place": place}
        return command(*args, filters=filters, **kwargs)

    return run


def _friendly_errors(command):
    """Turn Verbatim's errors into one line and exit status 1, never a traceback."""

    @wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except VerbatimError as exc:
            click.echo(f"{type(exc).__name__}: {exc}", err=True)
            sys.exit(1)

    return run


def _show_progress(label: str, done: int, total: int) -> None:
    """One self-overwriting line on stderr, so stdout stays clean for --json and reports."""
    click.echo(f"\r  {label}: {done}/{total}", nl=done == total, err=True)


def _echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group()
@click.version_option(package_name="verbatim")
def main() -> None:
    """Verbatim: ask questions of speech transcripts, answered with verified quotations."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "format_name", type=click.Choice(FORMAT_NAMES), default=None,
              help="Read every file as this format (default: by extension, then by content).")
@INDEX_OPTION
@_friendly_errors
def ingest(paths: tuple[Path, ...], format_name: str | None, index_path: Path | None) -> None:
    """Add transcripts (files, or folders of .txt .md .vtt .srt .json .docx) to the index.

    Unchanged files are skipped and changed ones replaced.

    Example: rag ingest data/transcripts/ briefing.vtt
    """
    from rag.engine import ingest as ingest_paths

    settings = _settings(index_path)
    report = ingest_paths(settings, paths, format=format_name, progress=_show_progress)
    for path, reason in report.skipped:
        click.echo(f"skipped {path}: {reason}", err=True)
    for _, message in report.rejected:
        click.echo(f"TranscriptError: {message}", err=True)
    click.echo(
        f"added {len(report.added)}, replaced {len(report.replaced)}, unchanged {len(report.unchanged)}, "
        f"rejected {len(report.rejected)} ({report.turns} turns, {report.chunks} chunks, {report.seconds:.1f} s) "
        f"-> {settings.index_path}"
    )
    if report.rejected or not (report.added or report.replaced or report.unchanged):
        if not report.rejected:
            click.echo("no transcript found in " + ", ".join(map(str, paths)), err=True)
        sys.exit(1)


@main.command()
@INDEX_OPTION
@_friendly_errors
def compact(index_path: Path | None) -> None:
    """Merge the index's segments into one and drop the rows of deleted or replaced documents.

    Ingests merge on their own now and then (VERBATIM_SEGMENT_MAX_COUNT, VERBATIM_SEGMENT_MAX_DEAD_SHARE);
    search results are the same before and after. Example: rag compact --index index/default
    """
    from rag.engine import compact as compact_index

    settings = _settings(index_path)
    report = compact_index(settings)
    click.echo(
        f"segments {report.segments_before} -> {report.segments_after}, dropped {report.dead_rows_dropped} dead rows, "
        f"{report.rows} rows ({report.seconds:.1f} s) -> {settings.index_path}"
    )


@main.command("export-embedder")
@click.option("--variant", "variants", multiple=True, type=click.Choice(["int8", "fp32"]),
              help="Which export (repeatable; default: both).")
@click.option("--force", is_flag=True, help="Export again even if the files are there.")
@_friendly_errors
def export_embedder(variants: tuple[str, ...], force: bool) -> None:
    """Export the packaged embedding model to ONNX (once, offline; needs torch) into VERBATIM_CACHE_DIR/embedders.

    The minilm-int8 and minilm-fp32 embedders then run without torch. Example: rag export-embedder
    """
    from rag.embedders.onnx_export import VARIANTS, ensure_exported, export_minilm

    models_dir = _settings(None).embedders_dir
    for variant in variants or VARIANTS:
        folder = export_minilm(variant, models_dir, replace=True) if force else ensure_exported(variant, models_dir)
        click.echo(f"{variant}: {folder}")


@main.command()
@click.argument("query")
@click.option("--k", type=int, default=None, help="How many passages.")
@click.option("--speaker", default=None, help="Only this speaker's turns.")
@_document_filters
@click.option("--retriever", "mode", type=click.Choice(MODES), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@INDEX_OPTION
@_friendly_errors
def search(query: str, k: int | None, speaker: str | None, filters: dict, mode: str | None,
           as_json: bool, index_path: Path | None) -> None:
    """Show the passages that best match QUERY."""
    from rag.engine import Engine
    from rag.answering.output import passage_to_dict

    engine = Engine.load(_settings(index_path))
    passages = engine.search(query, k=k, mode=mode, speaker=speaker, **filters).passages
    if as_json:
        _echo_json([passage_to_dict(p) for p in passages])
        return
    for rank, passage in enumerate(passages, start=1):
        chunk = passage.chunk
        click.echo(f"{rank}. {chunk.speaker} [{chunk.document} turn {chunk.turn}, {chunk.char_start}-{chunk.char_end}]"
                   f" score {passage.score:.4f}")
        click.echo("   " + chunk.text[:300].replace("\n", " ") + ("…" if len(chunk.text) > 300 else ""))


@main.command()
@click.argument("question")
@click.option("--generator", type=click.Choice(GENERATOR_NAMES), default=None)
@click.option("--k", type=int, default=None, help="How many passages to retrieve.")
@click.option("--speaker", default=None, help="Only this speaker's turns.")
@_document_filters
@click.option("--retriever", "mode", type=click.Choice(MODES), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the answer object as JSON.")
@INDEX_OPTION
@_friendly_errors
def ask(question: str, generator: str | None, k: int | None, speaker: str | None, filters: dict,
        mode: str | None, as_json: bool, index_path: Path | None) -> None:
    """Answer QUESTION with verified quotations from the transcripts.

    Example: rag ask "What did Lavrov say about the terrorist list?"
    """
    from rag.engine import Engine
    from rag.answering.output import answer_to_dict

    engine = Engine.load(_settings(index_path))
    answer = engine.ask(question, generator=generator, k=k, mode=mode, speaker=speaker, **filters)
    if as_json:
        _echo_json(answer_to_dict(answer))
        return
    click.echo(answer.answer)
    if answer.fallback:
        click.echo(f"(the {generator or engine.settings.generator} generator failed; this is the extractive answer)",
                   err=True)
    for citation in answer.citations:
        click.echo(f"  [{citation.id}] {citation.label}, {_where(citation)} turn {citation.turn}, "
                   f"chars {citation.char_start}-{citation.char_end}{_clock(citation.media_start)} ({citation.status})")


def _where(citation) -> str:
    """A citation's document as a reader would name it: title, date, place, then the id."""
    details = ", ".join(part for part in (citation.title, citation.date, citation.place) if part)
    return f"{details} [{citation.document}]" if details else citation.document


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f", at {hours:d}:{minutes:02d}:{secs:02d}" if hours else f", at {minutes:d}:{secs:02d}"


@main.command()
@click.option("--document", default=None, help="Only this document.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@INDEX_OPTION
@_friendly_errors
def speakers(document: str | None, as_json: bool, index_path: Path | None) -> None:
    """List the people who speak (each once across documents), with their labels, roles and documents."""
    from rag.engine import Engine
    from rag.answering.output import person_to_dict

    rows = [person_to_dict(person) for person in Engine.load(_settings(index_path)).speakers(document)]
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        role = "" if row["role"] == "speaker" else f" ({row['role']})"
        click.echo(f"{row['name']}{role}\t{row['turns']} turns\t{len(row['documents'])} documents\t"
                   f"as {', '.join(row['labels'][:4])}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@INDEX_OPTION
@_friendly_errors
def documents(as_json: bool, index_path: Path | None) -> None:
    """List the indexed documents: ids (for --document), titles, dates, places, speakers and turn counts."""
    from rag.engine import Engine
    from rag.answering.output import document_to_dict

    rows = [document_to_dict(summary) for summary in Engine.load(_settings(index_path)).documents()]
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        details = ", ".join(part for part in (row["date"], row["place"]) if part)
        click.echo(f"{row['id']}\t{row['title'] or '(no title)'}{f' ({details})' if details else ''}\t"
                   f"{row['turns']} turns\t{', '.join(row['speakers'][:6])}")


@main.command()
@click.argument("document")
@INDEX_OPTION
@_friendly_errors
def show(document: str, index_path: Path | None) -> None:
    """Print a document's stored text: what every citation's char_start/char_end refer to.

    For captions, JSON and .docx that is the rendering their reader made. Example: rag show ID
    """
    from rag.engine import Engine

    click.echo(Engine.load(_settings(index_path)).transcript(document).text, nl=False)


@main.command("eval")
@click.option("--set", "sets", multiple=True, metavar="seed|qmsum|PATH",
              help="An eval set: a name from eval/config.json or a .jsonl file (repeatable; default: seed and qmsum).")
@click.option("--generator", type=click.Choice(GENERATOR_NAMES), default=None,
              help="The generator to evaluate (default: VERBATIM_GENERATOR, extractive).")
@click.option("--retriever", "mode", type=click.Choice(MODES), default=None)
@click.option("--no-speaker-aware", is_flag=True, help="Do not restrict retrieval to the speakers a question names.")
@click.option("--variants", "all_variants", is_flag=True,
              help="Run dense, bm25, hybrid and hybrid+speakers and report them side by side.")
@click.option("--k", type=int, default=None, help="Passages retrieved per question (default: VERBATIM_TOP_K).")
@click.option("--limit", type=int, default=None, help="Only the first N questions of each set.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Report folder (default: eval/reports).")
@click.option("--baseline", type=click.Path(path_type=Path), default=None,
              help="Baseline report to compare with (default: eval/baselines/<set>-<generator>.json).")
@click.option("--save-baseline", is_flag=True, help="Also write this run's report as the baseline.")
@click.option("--thresholds", type=click.Path(path_type=Path), default=None,
              help="Thresholds file (default: eval/thresholds.json).")
@click.option("--judge-url", default=None, help="OpenAI-compatible base URL of the faithfulness judge.")
@click.option("--judge-model", default=None, help="Model name for the judge.")
@click.option("--local-server", is_flag=True,
              help="Start llama.cpp's OpenAI-compatible server on the packaged GGUF (VERBATIM_LOCAL_MODEL) for "
                   "this run and use it as the openai generator's backend and as the judge.")
@INDEX_OPTION
def eval_command(sets: tuple[str, ...], generator: str | None, mode: str | None, no_speaker_aware: bool,
                 all_variants: bool, k: int | None, limit: int | None, out: Path | None, baseline: Path | None,
                 save_baseline: bool, thresholds: Path | None, judge_url: str | None, judge_model: str | None,
                 local_server: bool, index_path: Path | None) -> None:
    """Run the eval sets, print a table, write reports under eval/reports/, gate on eval/thresholds.json.

    Exits 0 when every threshold holds, 1 when one fails, 2 on a usage or configuration error.

    Examples: rag eval --set seed --variants; rag eval --generator openai --local-server
    """
    from rag.evaluation.runner import EXIT_USAGE, EvalRequest, exit_code, run_eval
    from rag.evaluation.metrics import VARIANTS, Variant
    from rag.local.llama_server import run_packaged_server

    if all_variants and (mode or no_speaker_aware):
        raise click.UsageError("--variants runs every retriever; drop --retriever and --no-speaker-aware")
    if local_server and generator not in (None, "openai"):
        raise click.UsageError("--local-server serves the openai generator; drop --generator or pass openai")
    try:
        with ExitStack() as stack:
            settings = _settings(index_path)
            if local_server:
                click.echo(f"starting llama.cpp's server on {settings.local_model} ...", err=True)
                url = stack.enter_context(run_packaged_server(settings))
                settings = settings.model_copy(update={"openai_base_url": url})
                generator, judge_url = "openai", judge_url or url
            variants = VARIANTS if all_variants else ()
            if mode or no_speaker_aware:
                variants = (Variant(mode or settings.retriever, settings.speaker_aware and not no_speaker_aware),)
            request = EvalRequest(
                sets=sets, generator=generator, variants=variants, k=k, limit=limit, out=out, baseline=baseline,
                thresholds=thresholds, save_baseline=save_baseline, index_path=index_path, judge_url=judge_url,
                judge_model=judge_model,
            )
            runs = run_eval(request, settings, echo=click.echo, progress=_show_progress)
    except VerbatimError as exc:
        click.echo(f"{type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(exit_code(runs))


@main.command()
@click.option("--from", "source", required=True, metavar="FOLDER|URL",
              help="The index to copy: a folder or a postgresql:// URL.")
@click.option("--to", "target", required=True, metavar="FOLDER|URL",
              help="Where to copy it: a folder or a postgresql:// URL.")
@_friendly_errors
def migrate(source: str, target: str) -> None:
    """Copy an index between stores, vectors included (nothing is re-embedded).

    The Postgres side's schema is named after the folder side (index/default: verbatim_default).
    Documents the target already holds unchanged are skipped; documents only it holds are kept.

    Example: rag migrate --from index/default --to postgresql://user@host/db
    """
    from rag.stores.migrate import index_name_of, migrate as copy_index, open_location

    name = index_name_of(source, target)
    source_store, target_store = open_location(source, name), open_location(target, name)
    report = copy_index(source_store, target_store)
    click.echo(
        f"copied {len(report.copied)}, unchanged {len(report.unchanged)}, kept {len(report.kept)} "
        f"({report.chunks} chunks, {report.seconds:.1f} s) -> {target_store.location}"
    )


@main.command()
@click.option("--host", default=None, help="Interface to bind (default: VERBATIM_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: VERBATIM_PORT or 8000).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Server processes, each with its own copy of the index (default: VERBATIM_WORKERS or 1).")
@INDEX_OPTION
@_friendly_errors
def serve(host: str | None, port: int | None, workers: int | None, index_path: Path | None) -> None:
    """Serve the HTTP API, the chat widget (/widget.js) and a demo page (/).

    Example: rag serve --port 8000 --workers 2, then open http://127.0.0.1:8000/
    """
    import os

    import uvicorn

    from api.app import create_app, server_options

    settings = _settings(index_path, host=host, port=port, workers=workers)
    options = dict(host=settings.host, port=settings.port, log_level="info", access_log=settings.access_log,
                   **server_options(settings))
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    # Each worker process builds its app from the environment (Settings()), so this command's
    # overrides travel there as the variables they stand for.
    os.environ["VERBATIM_INDEX_PATH"] = str(settings.index_path.resolve())
    os.environ["VERBATIM_HOST"] = settings.host
    uvicorn.run("api.app:create_app", factory=True, workers=settings.workers, **options)


if __name__ == "__main__":  # `python -m rag.cli`, as the console script `rag` is not always on PATH
    main()
