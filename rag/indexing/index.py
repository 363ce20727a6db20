"""A transcript index on disk: transcripts, their chunks and vectors, and a manifest.

Layout of ``index/<name>/``::

    manifest.json            which generation is current, the embedder, and each document's hash
    texts/<sha256>.txt       each transcript's stored text, content-addressed and never rewritten
    texts/<sha256>.json      its turns, timed cues and header metadata as its reader found them
    speakers.json            optional, the user's speaker map (rag.indexing.persons), applied on every load
    gen-000007/chunks.jsonl  chunk metadata, row i describing vector i
    gen-000007/vectors.faiss the vectors

A save writes a whole new generation folder, then swaps ``manifest.json`` with
``os.replace``: a crash at any point leaves the previous manifest and generation loadable.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from rag.indexing import persons as persons
from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound, UnknownDocument
from rag.models import Chunk, Cue, DocumentMeta, Transcript, Turn
from rag.stores.faiss_store import FaissStore

# 2: turns, cues and metadata stored beside each text, so caption renderings keep their times.
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
SPEAKER_MAP = "speakers.json"


@dataclass(frozen=True)
class DocumentRecord:
    """What the manifest keeps about one transcript (``source`` is a file name, never a server path)."""

    id: str
    sha256: str
    source: str
    turns: int
    chunks: int
    speakers: list[str]
    added_at: str
    format: str = "text"
    title: str | None = None
    date: str | None = None
    place: str | None = None
    venue: str | None = None
    time: str | None = None


class TranscriptIndex:
    """Transcripts, their chunks and the chunks' vectors, kept row-aligned in memory."""

    def __init__(self, embedder_name: str, dim: int) -> None:
        self.embedder_name = embedder_name
        self.dim = dim
        self.store = FaissStore(dim)
        self.chunks: list[Chunk] = []
        self.transcripts: dict[str, Transcript] = {}
        self.records: dict[str, DocumentRecord] = {}
        self.generation = 0

    def __contains__(self, document_id: str) -> bool:
        return document_id in self.transcripts

    def transcript(self, document_id: str) -> Transcript:
        try:
            return self.transcripts[document_id]
        except KeyError:
            raise UnknownDocument(f"no document {document_id!r} in the index") from None

    def speakers(self, document: str | None = None) -> list[str]:
        """Canonical speakers in order of first appearance, over one document or all."""
        documents = [self.transcript(document)] if document else list(self.transcripts.values())
        return list(dict.fromkeys(speaker for doc in documents for speaker in doc.speakers))

    def people(self, document: str | None = None) -> list[persons.Person]:
        """Speakers (persons, once ``resolved``) in order of first appearance, over one document or all."""
        if document:
            self.transcript(document)
        return persons.people(self.transcripts.values(), document)

    def resolved(self, speaker_map: persons.SpeakerMap) -> TranscriptIndex:
        """A read-only view whose turns and chunks name persons, not labels (see ``rag.indexing.persons``).

        The view shares the vectors; it is for answering and listing, never for saving.
        """
        view = TranscriptIndex(self.embedder_name, self.dim)
        view.store, view.records, view.generation = self.store, self.records, self.generation
        mapping = persons.resolve(self.transcripts.values(), speaker_map)
        view.transcripts, view.chunks = persons.apply(self.transcripts, self.chunks, mapping)
        return view

    def put(self, transcript: Transcript, chunks: list[Chunk], vectors) -> None:
        """Add a transcript, replacing any earlier version of the same document id."""
        if transcript.id in self.transcripts:
            self.remove(transcript.id)
        self.store.add(vectors)
        self.chunks.extend(chunks)
        self.transcripts[transcript.id] = transcript
        meta = transcript.metadata
        self.records[transcript.id] = DocumentRecord(
            id=transcript.id,
            sha256=transcript.sha256,
            source=Path(transcript.source).name if transcript.source else "",
            turns=len(transcript.turns),
            chunks=len(chunks),
            speakers=transcript.speakers,
            added_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            format=transcript.format,
            title=meta.title,
            date=meta.date,
            place=meta.place,
            venue=meta.venue,
            time=meta.time,
        )

    def remove(self, document_id: str) -> None:
        """Forget a document and its chunks and vectors."""
        self.transcript(document_id)
        keep = [row for row, chunk in enumerate(self.chunks) if chunk.document != document_id]
        self.store.keep(keep)
        self.chunks = [self.chunks[row] for row in keep]
        del self.transcripts[document_id]
        del self.records[document_id]

    def save(self, path: Path) -> None:
        """Write a new generation and switch the manifest to it atomically."""
        path.mkdir(parents=True, exist_ok=True)
        texts = path / "texts"
        texts.mkdir(exist_ok=True)
        for transcript in self.transcripts.values():
            target = texts / f"{transcript.sha256}.txt"
            if not target.exists():
                _write_atomic(target, transcript.text.encode("utf-8"))
            structure = texts / f"{transcript.sha256}.json"
            if not structure.exists():
                _write_atomic(structure, json.dumps(_structure_of(transcript), ensure_ascii=False).encode("utf-8"))
        generation = self.generation + 1
        staging = Path(tempfile.mkdtemp(prefix=".gen-", dir=path))
        try:
            self.store.write(staging / "vectors.faiss")
            lines = "".join(json.dumps(asdict(chunk), ensure_ascii=False) + "\n" for chunk in self.chunks)
            (staging / "chunks.jsonl").write_text(lines, encoding="utf-8")
            for written in staging.iterdir():
                _fsync(written)
            final = path / f"gen-{generation:06d}"
            if final.exists():
                shutil.rmtree(final)
            os.replace(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        manifest = {
            "format_version": FORMAT_VERSION,
            "embedder": self.embedder_name,
            "dim": self.dim,
            "generation": final.name,
            "chunks": len(self.chunks),
            "documents": {doc_id: asdict(record) for doc_id, record in sorted(self.records.items())},
        }
        _write_atomic(path / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
        self.generation = generation
        _prune(path, keep=final.name, live_texts={t.sha256 for t in self.transcripts.values()})

    @classmethod
    def load(cls, path: Path, embedder_name: str | None = None) -> TranscriptIndex:
        """Load the current generation of the index at ``path``.

        :param embedder_name: when given, the index must have been built with this embedder.
        :raises IndexNotFound: there is no manifest at ``path``.
        :raises IndexMismatch: another embedder or format version built it.
        :raises IndexCorrupt: a file is missing, unreadable or inconsistent with the manifest.
        """
        manifest = read_manifest(path)
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatch(
                f"index {path} has format version {manifest.get('format_version')}, "
                f"this Verbatim reads version {FORMAT_VERSION}; rebuild it with 'rag ingest'"
            )
        if embedder_name is not None and manifest.get("embedder") != embedder_name:
            raise IndexMismatch(
                f"index {path} was built with embedder {manifest.get('embedder')!r}, "
                f"but {embedder_name!r} is configured (vectors of two embedders never mix): delete the index and "
                f"run 'rag ingest' again, or set VERBATIM_EMBEDDER to the embedder that built it"
            )
        try:
            index = cls(manifest["embedder"], int(manifest["dim"]))
            generation_dir = path / manifest["generation"]
            index.generation = int(manifest["generation"].split("-")[1])
            records = {doc_id: DocumentRecord(**raw) for doc_id, raw in manifest["documents"].items()}
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise IndexCorrupt(f"the manifest of index {path} is malformed ({exc!r})") from exc
        index.store = FaissStore.read(generation_dir / "vectors.faiss", index.dim)
        index.chunks = _read_chunks(generation_dir / "chunks.jsonl")
        if len(index.chunks) != len(index.store):
            raise IndexCorrupt(
                f"index {path}: {len(index.chunks)} chunks but {len(index.store)} vectors; rebuild it"
            )
        for doc_id, record in records.items():
            index.transcripts[doc_id] = _read_text(path, record)
        index.records = records
        return index


def read_manifest(path: Path) -> dict:
    """The parsed manifest of the index at ``path``."""
    manifest_path = path / MANIFEST
    if not manifest_path.exists():
        raise IndexNotFound(f"no index at {path} (run 'rag ingest' first)")
    try:
        return json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorrupt(f"cannot read {manifest_path}: {exc}") from exc


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the index folder so that two writers never interleave."""
    path.mkdir(parents=True, exist_ok=True)
    with open(path / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_chunks(path: Path) -> list[Chunk]:
    try:
        with path.open(encoding="utf-8") as handle:
            return [_chunk_from_json(json.loads(line)) for line in handle if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError, KeyError) as exc:
        raise IndexCorrupt(f"cannot read chunk metadata {path}: {exc}") from exc


def _chunk_from_json(raw: dict) -> Chunk:
    raw["flags"] = tuple(raw.get("flags", ()))
    return Chunk(**raw)


def _read_text(path: Path, record: DocumentRecord) -> Transcript:
    text_path = path / "texts" / f"{record.sha256}.txt"
    try:
        data = text_path.read_bytes()
        structure = json.loads((path / "texts" / f"{record.sha256}.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorrupt(f"index {path}: the text or turns of {record.id!r} are missing or unreadable ({exc})") from exc
    if hashlib.sha256(data).hexdigest() != record.sha256:
        raise IndexCorrupt(f"index {path}: the text of {record.id!r} does not match its hash")
    try:
        return _transcript_from(structure, record, data.decode("utf-8"))
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorrupt(f"index {path}: the turns of {record.id!r} are malformed ({exc!r})") from exc


def _structure_of(transcript: Transcript) -> dict:
    """What a transcript's reader found, keyed by content: the same text always has the same turns."""
    return {
        "format": transcript.format,
        "metadata": asdict(transcript.metadata),
        "cues": [asdict(cue) for cue in transcript.cues],
        "turns": [{k: v for k, v in asdict(turn).items() if k != "document"} for turn in transcript.turns],
    }


def _transcript_from(structure: dict, record: DocumentRecord, text: str) -> Transcript:
    turns = tuple(
        Turn(document=record.id, **{**raw, "flags": tuple(raw.get("flags", ()))}) for raw in structure["turns"]
    )
    for turn in turns:
        if text[turn.char_start : turn.char_end] != turn.text:
            raise ValueError(f"turn {turn.index} does not match the stored text")
    return Transcript(
        id=record.id,
        source=record.source,
        text=text,
        sha256=record.sha256,
        turns=turns,
        format=structure["format"],
        metadata=DocumentMeta(**structure["metadata"]),
        cues=tuple(Cue(**raw) for raw in structure["cues"]),
    )


def _write_atomic(target: Path, data: bytes) -> None:
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _prune(path: Path, keep: str, live_texts: set[str]) -> None:
    """Remove older generations, abandoned staging folders and temp files, and texts no document uses."""
    for entry in path.iterdir():
        if entry.is_dir() and entry.name.startswith(("gen-", ".gen-")) and entry.name != keep:
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.is_file() and entry.name.startswith(f".{MANIFEST}."):
            entry.unlink(missing_ok=True)
    for stored in (path / "texts").iterdir():
        if stored.suffix in (".txt", ".json") and stored.stem not in live_texts:
            stored.unlink(missing_ok=True)
