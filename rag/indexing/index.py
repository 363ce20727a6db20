"""A transcript index as answering reads it: one store snapshot, speakers resolved to persons.

The store (``rag.stores``) keeps transcripts, chunks and vectors as ingested; this view applies
the user's speaker map (``speakers.json`` in the index folder, see ``rag.indexing.persons``) on
every load, so that editing the map never needs a re-ingest.
"""

from __future__ import annotations

from rag.errors import UnknownDocument
from rag.indexing import persons as persons
from rag.models import Chunk, DocumentRecord, Transcript
from rag.stores.base import ChunkStore

SPEAKER_MAP = "speakers.json"


class TranscriptIndex:
    """Transcripts and chunks of one store snapshot whose speakers name persons, not labels.

    ``chunks`` keeps the store's ``chunk_ids`` order (each document's chunks together, in text
    order); vectors stay in the store and are read by chunk id.
    """

    def __init__(self, store: ChunkStore, speaker_map: persons.SpeakerMap | None = None) -> None:
        self.store = store
        self.generation = store.generation
        self.records: dict[str, DocumentRecord] = dict(store.documents())
        stored = {doc_id: store.transcript(doc_id) for doc_id in self.records}
        mapping = persons.resolve(stored.values(), speaker_map or persons.SpeakerMap())
        # (document, speaker as stored) -> person: how a filter on persons reaches the store's speakers.
        self.persons: dict[tuple[str, str], str] = mapping
        self.transcripts: dict[str, Transcript]
        self.chunks: list[Chunk]
        self.transcripts, self.chunks = persons.apply(stored, store.chunks(), mapping)

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
        """Speakers (persons) in order of first appearance, over one document or all."""
        if document:
            self.transcript(document)
        return persons.people(self.transcripts.values(), document)
