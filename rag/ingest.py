"""Ingest: transcripts into an index on disk, incrementally and atomically."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.chunking import chunk_transcript
from rag.embedding import Embedder
from rag.errors import IndexNotFound, TranscriptError
from rag.index import TranscriptIndex, write_lock
from rag.models import Transcript
from rag.formats import SUFFIXES, read_transcript

Progress = Callable[[str, int, int], None]


@dataclass
class IngestReport:
    """What an ingest changed."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    turns: int = 0
    chunks: int = 0
    seconds: float = 0.0


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given, and the transcript files of any folder (``rag.formats.SUFFIXES``), sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES))
        elif path.exists():
            files.append(path)
        else:
            raise TranscriptError("no such file", source=str(path))
    return files


def ingest_files(
    paths: Sequence[Path], index_path: Path, embedder: Embedder, *, format: str | None = None, **options
) -> IngestReport:
    """Parse every file first (one bad file changes nothing), then ingest them all.

    ``format`` names the reader for every file (``rag.formats.FORMAT_NAMES``); by default each
    file's extension or content chooses.
    """
    transcripts = [read_transcript(path, format=format) for path in expand_paths(paths)]
    return ingest_transcripts(transcripts, index_path, embedder, **options)


def ingest_transcripts(
    transcripts: Sequence[Transcript],
    index_path: Path,
    embedder: Embedder,
    *,
    count_tokens: Callable[[str], int],
    max_tokens: int,
    progress: Progress | None = None,
) -> IngestReport:
    """Add new transcripts, replace changed ones, skip unchanged ones; save once, atomically.

    :raises IndexMismatch: the index at ``index_path`` was built with another embedder.
    """
    started = time.perf_counter()
    report = IngestReport()
    with write_lock(index_path):
        try:
            index = TranscriptIndex.load(index_path, embedder.name)
        except IndexNotFound:
            index = TranscriptIndex(embedder.name, embedder.dim)
        for transcript in transcripts:
            record = index.records.get(transcript.id)
            if record is not None and record.sha256 == transcript.sha256:
                report.unchanged.append(transcript.id)
                continue
            chunks = chunk_transcript(transcript, count_tokens, max_tokens)
            vectors = _embed_with_progress(embedder, [c.text for c in chunks], f"embedding {transcript.id}", progress)
            index.put(transcript, chunks, vectors)
            (report.replaced if record is not None else report.added).append(transcript.id)
            report.turns += len(transcript.turns)
            report.chunks += len(chunks)
        if report.added or report.replaced:
            index.save(index_path)
    report.seconds = time.perf_counter() - started
    return report


def remove_document(index_path: Path, embedder_name: str, document_id: str) -> None:
    """Delete a document from the index on disk.

    :raises UnknownDocument: the index holds no such document.
    """
    with write_lock(index_path):
        index = TranscriptIndex.load(index_path, embedder_name)
        index.remove(document_id)
        index.save(index_path)


def _embed_with_progress(
    embedder: Embedder, texts: list[str], label: str, progress: Progress | None, batch: int = 64
) -> np.ndarray:
    parts = []
    for start in range(0, len(texts), batch):
        parts.append(embedder.embed(texts[start : start + batch]))
        if progress:
            progress(label, min(start + batch, len(texts)), len(texts))
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dim), dtype=np.float32)
