"""The embedded store: an index in a local folder made of immutable segments, searched exactly with FAISS.

Layout of ``index/<name>/``::

    manifest.json              the live segments with the chunk ids marked dead in each, the embedder,
                               and each document's record (see ``rag.stores.manifest``)
    texts/<sha256>.txt         each transcript's stored text, content-addressed and never rewritten
    texts/<sha256>.json        its turns, timed cues and header metadata as its reader found them
    seg-000007-0/vectors.npy   a segment's vectors (float32, memory-mapped on load)
    seg-000007-0/chunks.json   its chunk metadata, a list per field, item i describing row i
                               (see ``rag.stores.segments``)
    seg-000007-0/hnsw*         a large segment's approximate index (see ``rag.stores.ann``)
    .lock                      held by the one writer

A commit writes one new segment holding the documents it adds, marks the chunks of the documents
it removes or replaces dead in the manifest, and swaps ``manifest.json`` with ``os.replace``: its
cost follows the new documents, not the index. When a ``MergePolicy`` says so (too many segments,
too many dead rows), the same commit also rewrites some neighbouring segments as one; ``compact``
merges everything. A crash at any point leaves the previous manifest and the segments it names
loadable; segments no manifest names are removed by the next commit. Readers address rows by
chunk id through a table built at load; the live rows read in segment order are the chunk order.

``search`` is exact unless the store was opened with an ``AnnPolicy`` and a segment has an
approximate index (written when it had ``AnnPolicy.min_rows`` rows or more): then, unfiltered,
that segment contributes its HNSW candidates, every smaller segment all its rows, and the
candidates are scored exactly.

An index of format 2 (one ``gen-NNNNNN/`` folder with ``vectors.faiss``) opens as it is; its next
commit rewrites it as a segment and removes the folder.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound, IndexWriteError, UnknownDocument
from rag.models import Chunk, DocumentRecord, Transcript
from rag.stores.manifest import MANIFEST, Manifest, SegmentEntry, read_manifest, write_manifest
from rag.stores.policy import AnnPolicy, CompactReport, MergePolicy, SegmentShape, merge_all, plan_merges
from rag.stores.segments import Segment, prune_segments, read_legacy_generation, read_segment, segment_name, write_segment
from rag.stores.transcripts import prune_texts, read_text, record_of, write_texts


class EmbeddedStore:
    """One generation of an embedded index: chunk metadata in memory, vectors mapped from its segments
    (the ``ChunkStore`` of this backend)."""

    def __init__(self, embedder: str, dim: int, generation: int = 0, ann: AnnPolicy | None = None) -> None:
        self._embedder = embedder
        self._dim = dim
        self._generation = generation
        self._ann = ann
        self._records: dict[str, DocumentRecord] = {}
        self._transcripts: dict[str, Transcript] = {}
        self._segments: list[Segment] = []
        self._chunks: list[Chunk] = []
        self._row_of: dict[str, int] = {}
        # Where each segment's live rows start in the chunk order.
        self._starts = np.zeros(0, dtype=np.int64)
        self._live: np.ndarray | None = None

    @property
    def embedder(self) -> str:
        return self._embedder

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def segments(self) -> list[Segment]:
        """The segments this generation reads, oldest first, with their dead rows."""
        return self._segments

    def documents(self) -> Mapping[str, DocumentRecord]:
        return self._records

    def transcript(self, document_id: str) -> Transcript:
        try:
            return self._transcripts[document_id]
        except KeyError:
            raise UnknownDocument(f"no document {document_id!r} in the index") from None

    def transcripts(self) -> Mapping[str, Transcript]:
        return self._transcripts

    def chunk_ids(self) -> Sequence[str]:
        return [chunk.id for chunk in self._chunks]

    def chunks(self, ids: Sequence[str] | None = None) -> list[Chunk]:
        if ids is None:
            return list(self._chunks)
        return [self._chunks[self._row_of[chunk_id]] for chunk_id in ids]

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        return self._gather(self._rows(ids))

    def similarities(self, query: np.ndarray, ids: Sequence[str] | None = None) -> np.ndarray:
        return (self._matrix() if ids is None else self._gather(self._rows(ids))) @ self._query(query)

    def search(
        self,
        query: np.ndarray,
        k: int,
        *,
        documents: Collection[str] | None = None,
        speakers: Collection[str] | None = None,
    ) -> list[tuple[str, float]]:
        if k <= 0 or not self._chunks:
            return []
        if documents is None and speakers is None:
            if self._ann is not None and any(segment.ann is not None for segment in self._segments):
                return self._search_approximately(self._query(query), k)
            # The live matrix itself is searched: no copy of every vector per query.
            return self._knn(query, k, np.arange(len(self._chunks)), np.ascontiguousarray(self._matrix()))
        rows = np.array(
            [row for row, chunk in enumerate(self._chunks)
             if (documents is None or chunk.document in documents) and (speakers is None or chunk.speaker in speakers)],
            dtype=np.int64,
        )
        return self._knn(query, k, rows, self._gather(rows)) if rows.size else []

    def _search_approximately(self, query: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Exact scores of the candidates: HNSW's from segments that have one, every row of the others."""
        policy = self._ann
        positions = []
        for segment, start in zip(self._segments, self._starts):
            live = segment.live_rows.size
            if segment.ann is None or live == 0:
                positions.append(np.arange(start, start + live))
                continue
            # Dead rows come back among the candidates too: ask for enough to keep k * oversample live ones.
            wanted = -(-k * policy.oversample * segment.rows // live)
            rows = segment.ann.candidates(query, wanted, policy.ef_search)
            rows = rows[segment.is_live[rows]]
            positions.append(start + np.searchsorted(segment.live_rows, rows))
        candidates = np.sort(np.concatenate(positions))
        return self._knn(query, k, candidates, self._gather(candidates))

    def _knn(self, query: np.ndarray, k: int, rows: np.ndarray, candidates: np.ndarray) -> list[tuple[str, float]]:
        """The ``k`` best of ``candidates`` (row i holds the vector of chunk ``rows[i]``), scored exactly."""
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
        self.hold(records, transcripts, [Segment(None, chunks, matrix)])

    def hold(
        self, records: dict[str, DocumentRecord], transcripts: dict[str, Transcript], segments: list[Segment]
    ) -> None:
        """Hold what a backend read for this generation: the live rows of ``segments``, in order."""
        self._records, self._transcripts, self._segments = records, transcripts, segments
        self._chunks = [chunk for segment in segments for chunk in segment.live_chunks()]
        self._row_of = {chunk.id: row for row, chunk in enumerate(self._chunks)}
        sizes = [segment.live_rows.size for segment in segments]
        self._starts = np.cumsum([0] + sizes[:-1], dtype=np.int64) if segments else np.zeros(0, dtype=np.int64)
        self._live = None

    def _query(self, query: np.ndarray) -> np.ndarray:
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        if query.shape != (self._dim,):
            raise IndexMismatch(f"a query vector of shape {query.shape} for an index of dimension {self._dim}")
        return query

    def _matrix(self) -> np.ndarray:
        """Every live vector in chunk order, built when first read.

        One segment without dead rows is its mapped file. Otherwise the live rows are copied into
        one matrix: BLAS sums a row's products in an order that depends on where the row falls in
        the matrix it multiplies, so scoring segment by segment would move scores in their last
        bits, and a merge would then change rankings between near-equal chunks.
        """
        live = self._live
        if live is None:
            parts = [segment.live_matrix() for segment in self._segments]
            if len(parts) == 1:
                live = parts[0]
            else:
                live = np.concatenate(parts) if parts else np.zeros((0, self._dim), dtype=np.float32)
            self._live = live
        return live

    def _gather(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of these positions in the chunk order, copied from their segments (no live matrix built)."""
        if len(self._segments) == 1:
            segment = self._segments[0]
            return segment.matrix[segment.live_rows[rows] if segment.dead else rows]
        gathered = np.empty((len(rows), self._dim), dtype=np.float32)
        which = np.searchsorted(self._starts, rows, side="right") - 1
        for number in np.unique(which):
            segment, chosen = self._segments[number], which == number
            gathered[chosen] = segment.matrix[segment.live_rows[rows[chosen] - self._starts[number]]]
        return gathered

    def _rows(self, ids: Sequence[str]) -> np.ndarray:
        return np.fromiter((self._row_of[chunk_id] for chunk_id in ids), dtype=np.int64, count=len(ids))


class EmbeddedTransaction:
    """The writer's changes to an embedded index: delete marks and the documents to add (see
    ``StoreBackend.transaction``); the snapshot it started from is never modified."""

    def __init__(self, base: EmbeddedStore) -> None:
        self._base = base
        self.records: dict[str, DocumentRecord] = dict(base.documents())
        self.transcripts: dict[str, Transcript] = dict(base.transcripts())
        self.added: dict[str, tuple[list[Chunk], np.ndarray]] = {}
        self._dead: dict[int, set[str]] = {}
        self._stored: dict[str, list[tuple[int, str]]] | None = None
        self.changed = False

    def documents(self) -> Mapping[str, DocumentRecord]:
        return self.records

    def put(self, transcript: Transcript, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(chunks), self._base.dim):
            raise ValueError(f"expected {len(chunks)} vectors of dimension {self._base.dim}, got shape {vectors.shape}")
        if transcript.id in self.records:
            self.remove(transcript.id)
        self.added[transcript.id] = (list(chunks), vectors)
        self.transcripts[transcript.id] = transcript
        self.records[transcript.id] = record_of(transcript, len(chunks))
        self.changed = True

    def remove(self, document_id: str) -> None:
        if document_id not in self.records:
            raise UnknownDocument(f"no document {document_id!r} in the index")
        if self.added.pop(document_id, None) is None:
            for segment, chunk_id in self._stored_chunks().pop(document_id, []):
                self._dead.setdefault(segment, set()).add(chunk_id)
        del self.transcripts[document_id]
        del self.records[document_id]
        self.changed = True

    def segments(self) -> list[Segment]:
        """The segments as this transaction leaves them: marked, then one unwritten segment of what it added."""
        segments = [segment.marked(frozenset(self._dead[i])) if i in self._dead else segment
                    for i, segment in enumerate(self._base.segments)]
        if self.added:
            chunks = [chunk for chunk_list, _ in self.added.values() for chunk in chunk_list]
            segments.append(Segment(None, chunks, np.concatenate([matrix for _, matrix in self.added.values()])))
        return segments

    def _stored_chunks(self) -> dict[str, list[tuple[int, str]]]:
        """Each stored document's live chunks as (segment, chunk id), built on the first removal."""
        if self._stored is None:
            self._stored = {}
            for number, segment in enumerate(self._base.segments):
                for chunk in segment.live_chunks():
                    self._stored.setdefault(chunk.document, []).append((number, chunk.id))
        return self._stored


class EmbeddedBackend:
    """An index in a local folder (the ``StoreBackend`` that ``VERBATIM_STORE=embedded`` selects).

    :param merge: when commits also merge segments; ``None``: only ``compact`` merges.
    :param ann: when written segments get an approximate index, and how ``search`` uses it;
        ``None``: none is built, and ``search`` is exact.
    """

    def __init__(self, path: Path, merge: MergePolicy | None = None, ann: AnnPolicy | None = None) -> None:
        self.path = Path(path)
        self.merge = merge
        self.ann = ann

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
        while True:
            stamp = self.stamp()
            try:
                return self._open(embedder)
            except IndexCorrupt:
                # A commit between our reading the manifest and its segments may have merged and
                # removed one of them: read the new manifest. Unchanged, the index is broken.
                if self.stamp() == stamp:
                    raise

    def _open(self, embedder: str | None) -> EmbeddedStore:
        manifest = read_manifest(self.path, embedder)
        if manifest.legacy is not None:
            segments = [read_legacy_generation(self.path / manifest.legacy, manifest.dim)]
        else:
            segments = [read_segment(self.path / entry.name, manifest.dim, entry.rows, entry.dead)
                        for entry in manifest.segments]
        store = EmbeddedStore(manifest.embedder, manifest.dim, manifest.generation, self.ann)
        transcripts = {doc_id: read_text(self.path, record) for doc_id, record in manifest.documents.items()}
        store.hold(manifest.documents, transcripts, segments)
        if len(store._row_of) != len(store._chunks):
            raise IndexCorrupt(f"index {self.path}: two chunks share an id; rebuild it")
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
                segments = transaction.segments()
                self._commit(state, transaction.records, segments, plan_merges(_shapes(segments, self.ann), self.merge),
                             [transaction.transcripts[doc_id] for doc_id in transaction.added])

    def compact(self) -> CompactReport:
        """Merge every segment into one without dead rows, with its approximate index if it is large
        enough for the ``ann`` policy (exact search results do not change).

        :raises IndexNotFound: nothing was ever committed here.
        :raises IndexWriteError: a file could not be written; the previous generation stands.
        """
        started = time.perf_counter()
        with write_lock(self.path):
            state = self.open()
            shapes = _shapes(state.segments, self.ann)
            runs = merge_all(shapes)
            if runs:
                self._commit(state, dict(state.documents()), state.segments, runs, [])
        return CompactReport(
            segments_before=len(shapes), segments_after=1 if runs else len(shapes),
            dead_rows_dropped=sum(shape.dead for shape in shapes) if runs else 0,
            rows=len(state.chunk_ids()), seconds=time.perf_counter() - started,
        )

    def _commit(
        self, base: EmbeddedStore, records: dict[str, DocumentRecord], segments: list[Segment], runs: list[range],
        added: list[Transcript],
    ) -> None:
        """Write the new segments and texts, then switch the manifest to them atomically.

        :raises IndexWriteError: a file could not be written; the previous generation stands.
        """
        generation = base.generation + 1
        try:
            write_texts(self.path, added)
            written = self._write_runs(segments, runs, generation)
            entries = tuple(SegmentEntry(segment.name, segment.rows, segment.dead) for segment in written)
            write_manifest(self.path, Manifest(base.embedder, base.dim, generation, entries, records))
        except OSError as exc:
            raise IndexWriteError(f"cannot write the index {self.path}: {exc}") from exc
        prune_segments(self.path, {entry.name for entry in entries})
        prune_texts(self.path, {record.sha256 for record in records.values()})
        for temp in self.path.glob(f".{MANIFEST}.*"):
            temp.unlink(missing_ok=True)

    def _write_runs(self, segments: list[Segment], runs: list[range], generation: int) -> list[Segment]:
        """The segments after writing each run as one new segment (of its live rows, in order);
        segments whose rows are all dead are dropped."""
        run_at = {run.start: run for run in runs}
        result: list[Segment] = []
        position = written = 0
        while position < len(segments):
            run = run_at.get(position, range(position, position + 1))
            members = segments[run.start : run.stop]
            if run.start in run_at:
                chunks = [chunk for segment in members for chunk in segment.live_chunks()]
                if chunks:
                    matrix = np.concatenate([segment.live_matrix() for segment in members])
                    name = segment_name(generation, written)
                    result.append(write_segment(self.path, name, chunks, matrix, self.ann))
                    written += 1
            elif members[0].live_rows.size:
                result.append(members[0])
            position = run.stop
        return result


def _shapes(segments: list[Segment], ann: AnnPolicy | None) -> list[SegmentShape]:
    return [SegmentShape(segment.rows, segment.rows - segment.live_rows.size,
                         segment.name is None or (ann is not None and segment.ann is None
                                                  and segment.live_rows.size >= ann.min_rows))
            for segment in segments]


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
