"""The embedded store: an index in a local folder made of immutable segments, searched exactly with FAISS.

Layout of ``index/<name>/``::

    manifest.json              the live segments with the chunk ids marked dead and the documents in
                               each, the embedder, each document's record (see ``rag.stores.manifest``)
    texts/<sha256>.txt         each transcript's stored text, content-addressed and never rewritten
    texts/<sha256>.json        its turns, timed cues and header metadata as its reader found them
    seg-000007-0/vectors.npy   a segment's vectors (float32, memory-mapped on load)
    seg-000007-0/chunks.json   its chunk metadata, a list per field, item i describing row i
                               (see ``rag.stores.segments``)
    seg-000007-0/hnsw*         a large segment's approximate index (see ``rag.stores.ann``)
    .lock                      held by the one writer

A commit (``rag.stores.writer``) writes one new segment holding the documents it adds, marks the
chunks of the documents it removes or replaces dead in the manifest, and swaps ``manifest.json``
with ``os.replace``: its cost follows the new documents, not the index. When a ``MergePolicy``
says so (too many segments, too many dead rows), the same commit also rewrites some neighbouring
segments as one; ``compact`` merges everything. A crash at any point leaves the previous manifest and the segments it names
loadable; segments no manifest names are removed by the next commit. Readers address rows by
chunk id through a table built at load; the live rows read in segment order are the chunk order.

``search`` is exact unless the store was opened with an ``AnnPolicy`` and a segment has an
approximate index (written when it had ``AnnPolicy.min_rows`` rows or more): then that segment
contributes its HNSW candidates, every smaller segment all its rows, and the candidates are scored
exactly. A filtered search picks its rows from document and speaker row tables built at load; at
most ``AnnPolicy.exact_rows`` of them are all scored exactly, more go to the HNSW with the allowed
rows as an ID selector.

An index of format 2 (one ``gen-NNNNNN/`` folder with ``vectors.faiss``) opens as it is; its next
commit rewrites it as a segment and removes the folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound, UnknownDocument
from rag.models import Chunk, DocumentRecord, Transcript
from rag.stores.manifest import MANIFEST, read_manifest
from rag.stores.policy import AnnPolicy, CompactReport, MergePolicy, merge_all, plan_merges
from rag.stores.rows import member, rows_by_value, union_rows
from rag.stores.segments import Segment, read_legacy_generation, read_segment
from rag.stores.transcripts import read_stored_text, read_text
from rag.stores.writer import EmbeddedTransaction, commit, write_lock


class EmbeddedStore:
    """One generation of an embedded index: chunk metadata in memory, vectors mapped from its segments
    (the ``ChunkStore`` of this backend)."""

    def __init__(self, embedder: str, dim: int, generation: int = 0, ann: AnnPolicy | None = None) -> None:
        self._embedder = embedder
        self._dim = dim
        self._generation = generation
        self._ann = ann
        self._records: dict[str, DocumentRecord] = {}
        self._read_transcript: Callable[[DocumentRecord], Transcript] = _no_transcript
        self._read_text: Callable[[DocumentRecord], str] = _no_text
        self._segments: list[Segment] = []
        self._chunks: list[Chunk] = []
        self._row_of: dict[str, int] = {}
        # Document -> its rows and speaker (as stored) -> theirs, ascending: filters without a scan.
        self._document_rows: dict[str, np.ndarray] = {}
        self._speaker_rows: dict[str, np.ndarray] = {}
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
        """Read (and checked against its hash) on every call: callers keep what they reuse."""
        record = self._records.get(document_id)
        if record is None:
            raise UnknownDocument(f"no document {document_id!r} in the index")
        return self._read_transcript(record)

    def text(self, document_id: str) -> str:
        record = self._records.get(document_id)
        if record is None:
            raise UnknownDocument(f"no document {document_id!r} in the index")
        return self._read_text(record)

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
        rows = self._filtered_rows(documents, speakers)
        if not rows.size:
            return []
        if (self._ann is None or rows.size <= self._ann.exact_rows
                or not any(segment.ann is not None for segment in self._segments)):
            return self._knn(query, k, rows, self._gather(rows))
        return self._search_approximately(self._query(query), k, rows)

    def _filtered_rows(self, documents: Collection[str] | None, speakers: Collection[str] | None) -> np.ndarray:
        """The positions (ascending) of the chunks of these documents and speakers, from the row tables."""
        chosen = None if documents is None else union_rows(self._document_rows, documents)
        if speakers is not None:
            theirs = union_rows(self._speaker_rows, speakers)
            chosen = theirs if chosen is None else np.intersect1d(chosen, theirs, assume_unique=True)
        return chosen

    def _search_approximately(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[str, float]]:
        """Exact scores of the candidates: HNSW's from segments that have one, every (allowed) row of the others.

        :param allowed: positions in the chunk order (ascending) the search is restricted to (``None``: all).
        """
        policy = self._ann
        positions = []
        for segment, start in zip(self._segments, self._starts):
            live = segment.live_rows.size
            if allowed is None:
                mine = None
            else:
                low, high = np.searchsorted(allowed, [start, start + live])
                mine = allowed[low:high]
            if segment.ann is None or live == 0:
                # Unfiltered, a segment without an HNSW gives its exact best k, found on its mapped
                # vectors rather than by copying all of them into the candidates.
                positions.append(start + self._segment_best(segment, query, k) if mine is None else mine)
                continue
            if mine is None:
                # Dead rows come back among the candidates too: ask for enough to keep k * oversample live ones.
                wanted = -(-k * policy.oversample * segment.rows // live)
                rows = segment.ann.candidates(query, wanted, policy.ef_search)
                rows = rows[segment.is_live[rows]]
            else:
                wanted = k * policy.oversample
                # Few allowed rows here: scoring them is cheaper than a walk widened by their small share.
                if mine.size <= max(wanted, policy.exact_rows):
                    positions.append(mine)
                    continue
                # The selector allows only vectors of allowed (so live) rows; a row sharing one may not be.
                allowed_rows = segment.live_rows[mine - start]
                rows = segment.ann.candidates(query, wanted, policy.ef_search, allowed_rows)
                rows = rows[member(rows, allowed_rows)]
            positions.append(start + np.searchsorted(segment.live_rows, rows))
        candidates = np.sort(np.concatenate(positions))
        return self._knn(query, k, candidates, self._gather(candidates))

    def _segment_best(self, segment: Segment, query: np.ndarray, k: int) -> np.ndarray:
        """The positions among ``segment``'s live rows of its ``k`` vectors nearest ``query``, exactly."""
        if not segment.live_rows.size:
            return np.zeros(0, dtype=np.int64)
        _, found = faiss.knn(query.reshape(1, -1), np.ascontiguousarray(segment.live_matrix()),
                             min(k, segment.live_rows.size), metric=faiss.METRIC_INNER_PRODUCT)
        return found[0][found[0] >= 0].astype(np.int64)

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
        self.hold(records, lambda record: transcripts[record.id], [Segment(None, chunks, matrix)])

    def hold(
        self, records: dict[str, DocumentRecord], transcript: Callable[[DocumentRecord], Transcript],
        segments: list[Segment], text: Callable[[DocumentRecord], str] | None = None,
    ) -> None:
        """Hold what a backend read for this generation: the live rows of ``segments``, in order, and
        how to read a document's transcript (and its text alone; ``None``: the transcript's)."""
        self._records, self._read_transcript, self._segments = records, transcript, segments
        self._read_text = text or (lambda record: transcript(record).text)
        self._chunks = [chunk for segment in segments for chunk in segment.live_chunks()]
        self._row_of = {chunk.id: row for row, chunk in enumerate(self._chunks)}
        self._document_rows = rows_by_value([chunk.document for chunk in self._chunks])[1]
        self._speaker_rows = rows_by_value([chunk.speaker for chunk in self._chunks])[1]
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


def _no_transcript(record: DocumentRecord) -> Transcript:
    raise UnknownDocument(f"no document {record.id!r} in the index")


def _no_text(record: DocumentRecord) -> str:
    raise UnknownDocument(f"no document {record.id!r} in the index")


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
        # Transcripts are read when asked for: parsing every one made most of a large index's start-up.
        store.hold(manifest.documents, lambda record: read_text(self.path, record), segments,
                   lambda record: read_stored_text(self.path, record))
        if len(store._row_of) != len(store._chunks):
            raise IndexCorrupt(f"index {self.path}: two chunks share an id; rebuild it")
        return store

    @contextmanager
    def transaction(self, embedder: str, dim: int) -> Iterator[EmbeddedTransaction]:
        with write_lock(self.path):
            try:
                manifest = read_manifest(self.path, embedder)
            except IndexNotFound:
                manifest = None
            transaction = EmbeddedTransaction(self.path, embedder, manifest.dim if manifest else dim, manifest)
            yield transaction
            if transaction.changed:
                commit(transaction, lambda shapes: plan_merges(shapes, self.merge), self.ann)

    def compact(self) -> CompactReport:
        """Merge every segment into one without dead rows, with its approximate index if it is large
        enough for the ``ann`` policy (exact search results do not change).

        :raises IndexNotFound: nothing was ever committed here.
        :raises IndexWriteError: a file could not be written; the previous generation stands.
        """
        started = time.perf_counter()
        with write_lock(self.path):
            manifest = read_manifest(self.path)
            transaction = EmbeddedTransaction(self.path, manifest.embedder, manifest.dim, manifest)
            shapes = [slot.shape(self.ann) for slot in transaction.slots]
            runs = merge_all(shapes)
            if runs:
                commit(transaction, lambda _: runs, self.ann)
        return CompactReport(
            segments_before=len(shapes), segments_after=1 if runs else len(shapes),
            dead_rows_dropped=sum(shape.dead for shape in shapes) if runs else 0,
            rows=sum(shape.live for shape in shapes), seconds=time.perf_counter() - started,
        )
