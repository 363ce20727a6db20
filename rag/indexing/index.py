"""A transcript index as answering reads it: one store snapshot, speakers resolved to persons.

The store (``rag.stores``) keeps transcripts, chunks and vectors as ingested; this view applies
the user's speaker map (``speakers.json`` in the index folder, see ``rag.indexing.persons``) on
every load, so that editing the map never needs a re-ingest. Speakers are resolved from each
document record's voices; a transcript is read from the store only when something first asks
for it, and the most recently used ones are kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from rag.errors import UnknownDocument
from rag.indexing import persons as persons
from rag.models import Chunk, DocumentRecord, Transcript
from rag.stores.base import ChunkStore
from rag.stores.transcripts import voices_of

SPEAKER_MAP = "speakers.json"


class TranscriptIndex:
    """Transcripts and chunks of one store snapshot whose speakers name persons, not labels.

    ``chunks`` keeps the store's ``chunk_ids`` order (each document's chunks together, in text
    order); vectors stay in the store and are read by chunk id.

    :param cached: transcripts kept in memory, least recently used out (``None``: all that were read).
    """

    def __init__(
        self, store: ChunkStore, speaker_map: persons.SpeakerMap | None = None, cached: int | None = None
    ) -> None:
        self.store = store
        self.generation = store.generation
        self.records: dict[str, DocumentRecord] = dict(store.documents())
        stored = [
            voice for doc_id, record in self.records.items()
            # An index written before records kept their voices reads the transcript once here.
            for voice in persons.voices_in(
                doc_id, record.voices if record.voices is not None else voices_of(store.transcript(doc_id))
            )
        ]
        # (document, speaker as stored) -> person: how a filter on persons reaches the store's speakers.
        self.persons: dict[tuple[str, str], str] = persons.resolve(stored, speaker_map or persons.SpeakerMap())
        self.voices: list[persons.Voice] = persons.renamed_voices(stored, self.persons)
        self.chunks: list[Chunk] = persons.renamed_chunks(store.chunks(), self.persons)
        # lru_cache is thread-safe: requests served in threads share this index.
        self._read = lru_cache(maxsize=cached)(self._read_transcript)

    def __contains__(self, document_id: str) -> bool:
        return document_id in self.records

    def __len__(self) -> int:
        return len(self.records)

    def transcript(self, document_id: str) -> Transcript:
        """A document's transcript, speakers resolved, read from the store on first use.

        :raises UnknownDocument: no such document.
        :raises IndexCorrupt: its stored text or turns are missing or edited.
        """
        self._known(document_id)
        return self._read(document_id)

    def _read_transcript(self, document_id: str) -> Transcript:
        return persons.renamed(self.store.transcript(document_id), self.persons)

    def transcripts(self) -> Iterator[Transcript]:
        """Every transcript in record order, each read when reached (slow on a large index)."""
        return (self.transcript(document_id) for document_id in self.records)

    def texts(self) -> Iterator[str]:
        """Every document's stored text in record order, read when reached, turns left unread."""
        return (self.store.text(document_id) for document_id in self.records)

    def speakers(self, document: str | None = None) -> list[str]:
        """Canonical speakers in order of first appearance, over one document or all."""
        if document:
            self._known(document)
        return list(dict.fromkeys(speaker for doc, speaker, _, _ in self.voices if not document or doc == document))

    def people(self, document: str | None = None) -> list[persons.Person]:
        """Speakers (persons) in order of first appearance, over one document or all."""
        if document:
            self._known(document)
        return persons.people(self.voices, document)

    def _known(self, document_id: str) -> None:
        if document_id not in self.records:
            raise UnknownDocument(f"no document {document_id!r} in the index")
