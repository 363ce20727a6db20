"""Writes to an embedded index: a transaction's new documents and delete marks, committed as new
segments and then one manifest switch.

A transaction starts from the manifest alone: adding documents reads no stored segment, so its
cost follows the new documents. A stored segment is read only when a document it holds is removed
or replaced (to learn that document's chunk ids; the manifest says which segments hold which
documents) or when a merge rewrites it.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.errors import IndexWriteError, UnknownDocument
from rag.models import Chunk, DocumentRecord, Transcript
from rag.stores.ann import ANN
from rag.stores.base import checked_vectors
from rag.stores.manifest import MANIFEST, Manifest, SegmentEntry, write_manifest
from rag.stores.policy import AnnPolicy, SegmentShape
from rag.stores.segments import Segment, prune_segments, read_legacy_generation, read_segment, segment_name, write_segment
from rag.stores.transcripts import prune_texts, record_of, with_voices, write_texts

# Which runs of neighbouring segments a commit rewrites (see rag.stores.policy).
Plan = Callable[[list[SegmentShape]], list[range]]


@dataclass
class Slot:
    """One segment as a commit sees it: listed in the manifest (``name``) or not yet on disk (``None``:
    a transaction's new rows, a format 2 generation), with its rows once read."""

    name: str | None
    rows: int
    dead: set[str]
    # The documents with live rows here; None: unknown (a manifest written before it listed them).
    documents: set[str] | None
    segment: Segment | None = None
    has_ann: bool = False
    # Each document's chunk ids here, built from the rows on the first removal that needs them.
    by_document: dict[str, list[str]] | None = field(default=None, repr=False)

    def shape(self, ann: AnnPolicy | None) -> SegmentShape:
        live = self.rows - len(self.dead)
        unindexed = ann is not None and not self.has_ann and live >= ann.min_rows
        return SegmentShape(self.rows, len(self.dead), self.name is None or unindexed)

    def read(self, index_path: Path, dim: int) -> Segment:
        """The segment's rows with this slot's dead marks, read from disk once."""
        if self.segment is None:
            self.segment = read_segment(index_path / self.name, dim, self.rows, frozenset())
        return self.segment.marked(frozenset(self.dead))


class EmbeddedTransaction:
    """The writer's changes to an embedded index (see ``StoreBackend.transaction``)."""

    def __init__(self, index_path: Path, embedder: str, dim: int, manifest: Manifest | None) -> None:
        self.path = index_path
        self.embedder, self.dim = embedder, dim
        self.generation = manifest.generation if manifest else 0
        self.records: dict[str, DocumentRecord] = dict(manifest.documents) if manifest else {}
        self.slots: list[Slot] = []
        if manifest is not None and manifest.legacy is not None:
            legacy = read_legacy_generation(index_path / manifest.legacy, dim)
            self.slots.append(Slot(None, legacy.rows, set(), None, legacy))
        for entry in manifest.segments if manifest else ():
            self.slots.append(Slot(entry.name, entry.rows, set(entry.dead),
                                   None if entry.documents is None else set(entry.documents),
                                   has_ann=(index_path / entry.name / ANN).exists()))
        self.added: dict[str, tuple[Transcript, list[Chunk], np.ndarray]] = {}
        self.changed = False

    def documents(self) -> Mapping[str, DocumentRecord]:
        return self.records

    def put(self, transcript: Transcript, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        vectors = checked_vectors(chunks, vectors, self.dim)
        if transcript.id in self.records:
            self.remove(transcript.id)
        self.added[transcript.id] = (transcript, list(chunks), vectors)
        self.records[transcript.id] = record_of(transcript, len(chunks))
        self.changed = True

    def remove(self, document_id: str) -> None:
        if document_id not in self.records:
            raise UnknownDocument(f"no document {document_id!r} in the index")
        if self.added.pop(document_id, None) is None:
            for slot in self.slots:
                if slot.documents is None or document_id in slot.documents:
                    slot.dead.update(self._chunk_ids(slot, document_id))
                    if slot.documents is not None:
                        slot.documents.discard(document_id)
        del self.records[document_id]
        self.changed = True

    def new_slot(self) -> Slot | None:
        """The segment of the documents this transaction added (None: it added none)."""
        if not self.added:
            return None
        chunks = [chunk for _, chunk_list, _ in self.added.values() for chunk in chunk_list]
        matrix = np.concatenate([vectors for _, _, vectors in self.added.values()])
        return Slot(None, len(chunks), set(), set(self.added), Segment(None, chunks, matrix))

    def _chunk_ids(self, slot: Slot, document_id: str) -> list[str]:
        if slot.by_document is None:
            slot.by_document = {}
            for chunk in slot.read(self.path, self.dim).live_chunks():
                slot.by_document.setdefault(chunk.document, []).append(chunk.id)
        return slot.by_document.pop(document_id, [])


def commit(transaction: EmbeddedTransaction, plan: Plan, ann: AnnPolicy | None) -> None:
    """Write the transaction's new segment, the texts of its documents and the merges ``plan``
    asks for, then switch the manifest to them atomically; then remove what no manifest names.

    :raises IndexWriteError: a file could not be written; the previous generation stands.
    """
    path, generation = transaction.path, transaction.generation + 1
    new = transaction.new_slot()
    slots = transaction.slots + ([new] if new is not None else [])
    try:
        write_texts(path, [transcript for transcript, _, _ in transaction.added.values()])
        kept = _write_runs(transaction, slots, plan([slot.shape(ann) for slot in slots]), generation, ann)
        entries = tuple(SegmentEntry(slot.name, slot.rows, frozenset(slot.dead),
                                     None if slot.documents is None else frozenset(slot.documents))
                        for slot in kept)
        records = with_voices(path, transaction.records)
        write_manifest(path, Manifest(transaction.embedder, transaction.dim, generation, entries, records))
    except OSError as exc:
        raise IndexWriteError(f"cannot write the index {path}: {exc}") from exc
    prune_segments(path, {entry.name for entry in entries})
    prune_texts(path, {record.sha256 for record in transaction.records.values()})
    for temp in path.glob(f".{MANIFEST}.*"):
        temp.unlink(missing_ok=True)


def _write_runs(
    transaction: EmbeddedTransaction, slots: list[Slot], runs: list[range], generation: int, ann: AnnPolicy | None
) -> list[Slot]:
    """The slots after writing each run as one new segment (of its live rows, in order); slots
    whose rows are all dead are dropped."""
    run_at = {run.start: run for run in runs}
    result: list[Slot] = []
    position = written = 0
    while position < len(slots):
        run = run_at.get(position, range(position, position + 1))
        if run.start in run_at:
            members = [slot.read(transaction.path, transaction.dim) for slot in slots[run.start : run.stop]]
            chunks = [chunk for segment in members for chunk in segment.live_chunks()]
            if chunks:
                matrix = np.concatenate([segment.live_matrix() for segment in members])
                segment = write_segment(transaction.path, segment_name(generation, written), chunks, matrix, ann)
                result.append(Slot(segment.name, segment.rows, set(), {chunk.document for chunk in chunks},
                                   segment, segment.ann is not None))
                written += 1
        elif len(slots[position].dead) < slots[position].rows:
            result.append(slots[position])
        position = run.stop
    return result


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
