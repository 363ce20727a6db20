"""The embedded store: an index in a local folder, vectors searched exactly with FAISS.

Layout of ``index/<name>/``::

    manifest.json            which generation is current, the embedder, and each document's hash
    texts/<sha256>.txt       each transcript's stored text, content-addressed and never rewritten
    texts/<sha256>.json      its turns, timed cues and header metadata as its reader found them
    gen-000007/chunks.jsonl  chunk metadata, line i describing vector i (each line names its chunk id)
    gen-000007/vectors.faiss the vectors (a flat inner-product index)
    .lock                    held by the one writer

A commit writes a whole new generation folder, then swaps ``manifest.json`` with ``os.replace``:
a crash at any point leaves the previous manifest and generation loadable. Readers address rows
by chunk id through a table built at load; the row order on disk is an implementation detail.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import faiss
import numpy as np

from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound, IndexWriteError, UnknownDocument
from rag.models import Chunk, Cue, DocumentMeta, DocumentRecord, Transcript, Turn

# 2: turns, cues and metadata stored beside each text, so caption renderings keep their times.
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
CHUNKS = "chunks.jsonl"


class EmbeddedStore:
    """One generation of an embedded index, loaded in memory (the ``ChunkStore`` of this backend)."""

    def __init__(self, embedder: str, dim: int, generation: int = 0) -> None:
        self._embedder = embedder
        self._dim = dim
        self._generation = generation
        self._records: dict[str, DocumentRecord] = {}
        self._transcripts: dict[str, Transcript] = {}
        self._chunks: list[Chunk] = []
        self._row_of: dict[str, int] = {}
        # Appended blocks are joined when first read: an ingest of many documents copies the matrix once.
        self._blocks: list[np.ndarray] = [np.zeros((0, dim), dtype=np.float32)]

    @property
    def embedder(self) -> str:
        return self._embedder

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def generation(self) -> int:
        return self._generation

    def documents(self) -> Mapping[str, DocumentRecord]:
        return self._records

    def transcript(self, document_id: str) -> Transcript:
        try:
            return self._transcripts[document_id]
        except KeyError:
            raise UnknownDocument(f"no document {document_id!r} in the index") from None

    def chunk_ids(self) -> Sequence[str]:
        return [chunk.id for chunk in self._chunks]

    def chunks(self, ids: Sequence[str] | None = None) -> list[Chunk]:
        if ids is None:
            return list(self._chunks)
        return [self._chunks[self._row_of[chunk_id]] for chunk_id in ids]

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        return self._matrix()[self._rows(ids)]

    def similarities(self, query: np.ndarray, ids: Sequence[str] | None = None) -> np.ndarray:
        rows = np.arange(len(self._chunks)) if ids is None else self._rows(ids)
        return self._matrix()[rows] @ self._query(query)

    def search(
        self,
        query: np.ndarray,
        k: int,
        *,
        documents: Collection[str] | None = None,
        speakers: Collection[str] | None = None,
    ) -> list[tuple[str, float]]:
        rows = np.array(
            [row for row, chunk in enumerate(self._chunks)
             if (documents is None or chunk.document in documents) and (speakers is None or chunk.speaker in speakers)],
            dtype=np.int64,
        )
        if k <= 0 or rows.size == 0:
            return []
        candidates = np.ascontiguousarray(self._matrix()[rows])
        try:
            scores, found = faiss.knn(
                self._query(query).reshape(1, -1), candidates, min(k, rows.size), metric=faiss.METRIC_INNER_PRODUCT
            )
        except RuntimeError as exc:
            raise IndexCorrupt(f"FAISS cannot search the index: {str(exc).splitlines()[0]}") from exc
        return [(self._chunks[rows[i]].id, float(score)) for i, score in zip(found[0], scores[0]) if i >= 0]

    def fill(
        self, records: dict[str, DocumentRecord], transcripts: dict[str, Transcript], chunks: list[Chunk],
        matrix: np.ndarray,
    ) -> None:
        """Hold what a backend read for this generation (``matrix`` row i is ``chunks[i]``'s vector)."""
        self._records, self._transcripts = records, transcripts
        self._blocks = [matrix]
        self._set_chunks(chunks)

    def _query(self, query: np.ndarray) -> np.ndarray:
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        if query.shape != (self._dim,):
            raise IndexMismatch(f"a query vector of shape {query.shape} for an index of dimension {self._dim}")
        return query

    def _matrix(self) -> np.ndarray:
        if len(self._blocks) > 1:
            self._blocks = [np.concatenate(self._blocks)]
        return self._blocks[0]

    def _rows(self, ids: Sequence[str]) -> np.ndarray:
        return np.fromiter((self._row_of[chunk_id] for chunk_id in ids), dtype=np.int64, count=len(ids))

    def _set_chunks(self, chunks: list[Chunk]) -> None:
        self._chunks = chunks
        self._row_of = {chunk.id: row for row, chunk in enumerate(chunks)}


class EmbeddedTransaction:
    """The writer's working copy of an embedded index (see ``StoreBackend.transaction``)."""

    def __init__(self, state: EmbeddedStore) -> None:
        self._state = state
        self.changed = False

    def documents(self) -> Mapping[str, DocumentRecord]:
        return self._state.documents()

    def put(self, transcript: Transcript, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        state = self._state
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(chunks), state.dim):
            raise ValueError(f"expected {len(chunks)} vectors of dimension {state.dim}, got shape {vectors.shape}")
        if transcript.id in state._records:
            self.remove(transcript.id)
        state._blocks.append(vectors)
        state._set_chunks(state._chunks + list(chunks))
        state._transcripts[transcript.id] = transcript
        state._records[transcript.id] = record_of(transcript, len(chunks))
        self.changed = True

    def remove(self, document_id: str) -> None:
        state = self._state
        state.transcript(document_id)
        keep = [row for row, chunk in enumerate(state._chunks) if chunk.document != document_id]
        state._blocks = [state._matrix()[np.asarray(keep, dtype=np.int64)]]
        state._set_chunks([state._chunks[row] for row in keep])
        del state._transcripts[document_id]
        del state._records[document_id]
        self.changed = True


class EmbeddedBackend:
    """An index in a local folder (the ``StoreBackend`` that ``VERBATIM_STORE=embedded`` selects)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def location(self) -> str:
        return str(self.path)

    def stamp(self) -> tuple[int, int]:
        """The manifest's inode and modification time ((0, 0) before the first commit)."""
        try:
            status = (self.path / MANIFEST).stat()
        except OSError:
            return (0, 0)
        return (status.st_ino, status.st_mtime_ns)

    def open(self, embedder: str | None = None) -> EmbeddedStore:
        path = self.path
        manifest = read_manifest(path)
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatch(
                f"index {path} has format version {manifest.get('format_version')}, "
                f"this Verbatim reads version {FORMAT_VERSION}; rebuild it with 'rag ingest'"
            )
        if embedder is not None and manifest.get("embedder") != embedder:
            raise IndexMismatch(
                f"index {path} was built with embedder {manifest.get('embedder')!r}, "
                f"but {embedder!r} is configured; rebuild it or change VERBATIM_EMBEDDER"
            )
        try:
            store = EmbeddedStore(manifest["embedder"], int(manifest["dim"]),
                                  int(manifest["generation"].split("-")[1]))
            generation_dir = path / manifest["generation"]
            records = {doc_id: DocumentRecord(**raw) for doc_id, raw in manifest["documents"].items()}
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise IndexCorrupt(f"the manifest of index {path} is malformed ({exc!r})") from exc
        matrix = _read_vectors(generation_dir / VECTORS, store.dim)
        chunks = _read_chunks(generation_dir / CHUNKS)
        if len(chunks) != len(matrix):
            raise IndexCorrupt(f"index {path}: {len(chunks)} chunks but {len(matrix)} vectors; rebuild it")
        store.fill(records, {doc_id: _read_text(path, record) for doc_id, record in records.items()}, chunks, matrix)
        if len(store._row_of) != len(chunks):
            raise IndexCorrupt(f"index {path}: two chunks share an id; rebuild it")
        return store

    @contextmanager
    def transaction(self, embedder: str, dim: int) -> Iterator[EmbeddedTransaction]:
        with write_lock(self.path):
            try:
                state = self.open(embedder)
            except IndexNotFound:
                state = EmbeddedStore(embedder, dim)
            transaction = EmbeddedTransaction(state)
            yield transaction
            if transaction.changed:
                self._commit(state)

    def _commit(self, state: EmbeddedStore) -> None:
        """Write a new generation and switch the manifest to it atomically.

        :raises IndexWriteError: a file could not be written; the previous generation stands.
        """
        try:
            self._write(state)
        except OSError as exc:
            raise IndexWriteError(f"cannot write the index {self.path}: {exc}") from exc

    def _write(self, state: EmbeddedStore) -> None:
        path = self.path
        texts = path / "texts"
        texts.mkdir(exist_ok=True)
        for transcript in state._transcripts.values():
            target = texts / f"{transcript.sha256}.txt"
            if not target.exists():
                _write_atomic(target, transcript.text.encode("utf-8"))
            structure = texts / f"{transcript.sha256}.json"
            if not structure.exists():
                _write_atomic(structure, json.dumps(structure_of(transcript), ensure_ascii=False).encode("utf-8"))
        generation = state.generation + 1
        staging = Path(tempfile.mkdtemp(prefix=".gen-", dir=path))
        try:
            _write_vectors(staging / VECTORS, state._matrix())
            lines = "".join(json.dumps(asdict(chunk), ensure_ascii=False) + "\n" for chunk in state._chunks)
            (staging / CHUNKS).write_text(lines, encoding="utf-8")
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
            "embedder": state.embedder,
            "dim": state.dim,
            "generation": final.name,
            "chunks": len(state._chunks),
            "documents": {doc_id: asdict(record) for doc_id, record in sorted(state._records.items())},
        }
        _write_atomic(path / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8"))
        _prune(path, keep=final.name, live_texts={t.sha256 for t in state._transcripts.values()})


def record_of(transcript: Transcript, chunks: int) -> DocumentRecord:
    """The record a store keeps about ``transcript``, stamped now."""
    meta = transcript.metadata
    return DocumentRecord(
        id=transcript.id,
        sha256=transcript.sha256,
        source=Path(transcript.source).name if transcript.source else "",
        turns=len(transcript.turns),
        chunks=chunks,
        speakers=transcript.speakers,
        added_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        format=transcript.format,
        title=meta.title,
        date=meta.date,
        place=meta.place,
        venue=meta.venue,
        time=meta.time,
    )


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


def _read_vectors(path: Path, dim: int) -> np.ndarray:
    """The rows of a vector file; a missing, truncated or foreign file is ``IndexCorrupt``."""
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as exc:
        raise IndexCorrupt(f"cannot read the vector file {path}: {str(exc).splitlines()[0]}") from exc
    if index.d != dim:
        raise IndexCorrupt(f"the vector file {path} has dimension {index.d}, the manifest says {dim}")
    if index.ntotal == 0:
        return np.zeros((0, dim), dtype=np.float32)
    return index.reconstruct_n(0, index.ntotal)


def _write_vectors(path: Path, matrix: np.ndarray) -> None:
    index = faiss.IndexFlatIP(matrix.shape[1])
    if len(matrix):
        index.add(np.ascontiguousarray(matrix, dtype=np.float32))
    try:
        faiss.write_index(index, str(path))
    except RuntimeError as exc:
        raise IndexWriteError(f"cannot write the vector file {path}: {str(exc).splitlines()[0]}") from exc


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
        return transcript_from(structure, record, data.decode("utf-8"))
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorrupt(f"index {path}: the turns of {record.id!r} are malformed ({exc!r})") from exc


def structure_of(transcript: Transcript) -> dict:
    """What a transcript's reader found, keyed by content: the same text always has the same turns."""
    return {
        "format": transcript.format,
        "metadata": asdict(transcript.metadata),
        "cues": [asdict(cue) for cue in transcript.cues],
        "turns": [{k: v for k, v in asdict(turn).items() if k != "document"} for turn in transcript.turns],
    }


def transcript_from(structure: dict, record: DocumentRecord, text: str) -> Transcript:
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
