"""PostgreSQL with pgvector as the store, so that any number of service replicas share one index.

``VERBATIM_STORE=postgresql://user:password@host/db`` selects it. One schema per index
(``verbatim_<name>``, from the index folder's name: ``index/default`` is ``verbatim_default``):

    store_meta   one row: format version, embedder, dimension, and the generation every commit bumps
    documents    each transcript's record, its stored text (citation offsets refer to it) and its
                 turns, cues and header metadata
    chunks       each chunk with its vector in a ``vector(dim)`` column under an HNSW index

A write is one transaction under an advisory lock on the schema, and bumps the generation in the
same transaction: a crash leaves no half document, two writers queue, and a replica polling the
generation (``stamp``) sees a commit whole or not at all. ``open`` reads one generation in a
REPEATABLE READ transaction and keeps it in memory, as the embedded store does, so that retrieval,
filters and the evidence gate run unchanged; ``search`` asks Postgres (HNSW) and keeps the hits
that belong to that generation.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np

from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound, StoreUnavailable, UnknownDocument

try:
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
except ImportError as exc:  # the optional 'postgres' extra
    raise StoreUnavailable(f"a postgresql:// store needs psycopg: pip install 'verbatim[postgres]' ({exc})") from exc
from rag.models import Chunk, DocumentRecord, Transcript
from rag.stores.base import checked_vectors
from rag.stores.embedded import EmbeddedStore
from rag.stores.transcripts import record_of, structure_of, transcript_from

SCHEMA_PREFIX = "verbatim_"
# The schema's layout (2: turns, cues and metadata stored with each text); it changes independently
# of the embedded store's folder format.
FORMAT_VERSION = 2
# Used when the URL sets no connect_timeout: a replica whose database is down answers 503 in
# seconds instead of hanging on the TCP handshake.
DEFAULT_CONNECT_TIMEOUT_S = 5
# HNSW visits this many candidates at least (pgvector's default is 40); raised to k for larger k.
MIN_EF_SEARCH = 40
_UNSAFE = re.compile(r"[^a-z0-9_]+")


def schema_name(index_name: str) -> str:
    """The Postgres schema of the index called ``index_name`` (lower case letters, digits and ``_``)."""
    return SCHEMA_PREFIX + (_UNSAFE.sub("_", index_name.lower()).strip("_") or "default")


def redact(url: str) -> str:
    """``url`` without its password, for messages."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable URL)"
    shown = {key: value for key, value in params.items() if key != "password"}
    return f"postgresql://{shown.get('user', '')}@{shown.get('host', '')}/{shown.get('dbname', '')}"


class PostgresStore(EmbeddedStore):
    """One generation read from Postgres and held in memory; ``search`` goes to the HNSW index."""

    def __init__(self, backend: PostgresBackend, embedder: str, dim: int, generation: int) -> None:
        super().__init__(embedder, dim, generation)
        self._backend = backend

    def search(
        self,
        query: np.ndarray,
        k: int,
        *,
        documents: Collection[str] | None = None,
        speakers: Collection[str] | None = None,
    ) -> list[tuple[str, float]]:
        if k <= 0 or not self.chunk_ids():
            return []
        # The table may already hold a later commit: hits of chunks this generation lacks are
        # dropped, so that they agree with its other answers (until the reload, maybe fewer than k).
        hits = self._backend.nearest(query, k, documents=documents, speakers=speakers)
        # This generation's id table (built at load), not a set of every id per search.
        return [(chunk_id, score) for chunk_id, score in hits if chunk_id in self._row_of]


class PostgresTransaction:
    """Writes inside one Postgres transaction (see ``StoreBackend.transaction``)."""

    def __init__(self, backend: PostgresBackend, connection: psycopg.Connection, dim: int) -> None:
        self._backend = backend
        self._connection = connection
        self._dim = dim
        self._records = backend.records(connection)
        self.changed = False

    def documents(self) -> Mapping[str, DocumentRecord]:
        return self._records

    def put(self, transcript: Transcript, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        vectors = checked_vectors(chunks, vectors, self._dim)
        record = record_of(transcript, len(chunks))
        q, connection = self._backend.query, self._connection
        connection.execute(q("DELETE FROM {}.documents WHERE id = %s"), (transcript.id,))
        connection.execute(
            q("INSERT INTO {}.documents (id, record, text, structure) VALUES (%s, %s, %s, %s)"),
            (record.id, json.dumps(asdict(record)), transcript.text, json.dumps(structure_of(transcript))),
        )
        with connection.cursor().copy(q(
            "COPY {}.chunks (id, document, position, turn, part, speaker, label, text, char_start, char_end,"
            " flags, embedding) FROM STDIN"
        )) as copy:
            for position, (chunk, vector) in enumerate(zip(chunks, vectors)):
                copy.write_row((
                    chunk.id, chunk.document, position, chunk.turn, chunk.part, chunk.speaker, chunk.label,
                    chunk.text, chunk.char_start, chunk.char_end, list(chunk.flags), _format_vector(vector),
                ))
        self._records.pop(transcript.id, None)
        self._records[transcript.id] = record
        self.changed = True

    def remove(self, document_id: str) -> None:
        deleted = self._connection.execute(self._backend.query("DELETE FROM {}.documents WHERE id = %s"),
                                           (document_id,))
        if deleted.rowcount == 0:
            raise UnknownDocument(f"no document {document_id!r} in the index")
        del self._records[document_id]
        self.changed = True


class PostgresBackend:
    """An index in a PostgreSQL database with pgvector (the ``StoreBackend`` a ``postgresql://`` URL selects).

    Each thread gets its own connection, opened on first use and reopened after a failure.
    """

    def __init__(self, url: str, index_name: str = "default") -> None:
        params = conninfo_to_dict(url)
        params.setdefault("connect_timeout", str(DEFAULT_CONNECT_TIMEOUT_S))
        self._conninfo = make_conninfo(**params)
        self._location = f"{redact(url)} (schema {schema_name(index_name)})"
        self.schema = schema_name(index_name)
        self._local = threading.local()

    @property
    def location(self) -> str:
        return self._location

    def stamp(self) -> int:
        """The generation number (0 before the first commit): one indexed row, cheap to poll."""
        with self._session(read_only=True) as connection:
            if not self._exists(connection):
                return 0
            return int(connection.execute(self.query("SELECT generation FROM {}.store_meta")).fetchone()[0])

    def open(self, embedder: str | None = None) -> PostgresStore:
        with self._session(isolation=psycopg.IsolationLevel.REPEATABLE_READ, read_only=True) as connection:
            name, dim, generation = self._meta(connection, embedder)
            store = PostgresStore(self, name, dim, generation)
            records = self.records(connection)
            texts = connection.execute(self.query("SELECT id, text, structure FROM {}.documents"))
            transcripts = {}
            for document_id, text, structure in texts:
                if hashlib.sha256(text.encode("utf-8")).hexdigest() != records[document_id].sha256:
                    raise IndexCorrupt(f"{self.location}: the text of {document_id!r} does not match its hash")
                try:
                    transcripts[document_id] = transcript_from(structure, records[document_id], text)
                except (KeyError, TypeError, ValueError) as exc:
                    raise IndexCorrupt(
                        f"{self.location}: the turns of {document_id!r} are malformed ({exc!r})"
                    ) from exc
            rows = connection.execute(self.query(
                "SELECT c.id, c.document, c.turn, c.part, c.speaker, c.label, c.text, c.char_start, c.char_end,"
                " c.flags, c.embedding::text FROM {0}.chunks c JOIN {0}.documents d ON d.id = c.document"
                " ORDER BY d.seq, c.position"
            )).fetchall()
        chunks = [Chunk(*fields, flags=tuple(flags)) for *fields, flags, _ in rows]
        matrix = np.array([_parse_vector(row[-1]) for row in rows], dtype=np.float32).reshape(len(rows), dim)
        store.fill(records, {doc: transcripts[doc] for doc in records}, chunks, matrix)
        return store

    @contextmanager
    def transaction(self, embedder: str, dim: int) -> Iterator[PostgresTransaction]:
        with self._session() as connection:
            # Held until the transaction ends: writers of one index queue, readers never wait.
            connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema,))
            if not self._exists(connection):
                self._create(connection, embedder, dim)
            self._meta(connection, embedder)
            transaction = PostgresTransaction(self, connection, dim)
            yield transaction
            if transaction.changed:
                connection.execute(self.query("UPDATE {}.store_meta SET generation = generation + 1"))

    def records(self, connection: psycopg.Connection) -> dict[str, DocumentRecord]:
        """Every document's record, in the order they were added."""
        rows = connection.execute(self.query("SELECT record FROM {}.documents ORDER BY seq"))
        return {raw["id"]: DocumentRecord(**raw) for (raw,) in rows}

    def nearest(
        self, query: np.ndarray, k: int, *, documents: Collection[str] | None, speakers: Collection[str] | None
    ) -> list[tuple[str, float]]:
        """The chunks closest to ``query`` by inner product, best first, as the current generation has them.

        Unfiltered, the HNSW index answers (approximately); filtered to some documents or speakers,
        the rows are scored exactly: an HNSW scan filters after it stops and may return too few.
        """
        conditions: list[sql.Composable] = []
        params: dict[str, object] = {"query": _format_vector(query), "k": k}
        if documents is not None:
            conditions.append(sql.SQL("document = ANY(%(documents)s)"))
            params["documents"] = list(documents)
        if speakers is not None:
            conditions.append(sql.SQL("speaker = ANY(%(speakers)s)"))
            params["speakers"] = list(speakers)
        distance = sql.SQL("embedding <#> %(query)s::vector")
        statement = sql.SQL(
            "SELECT id, -({distance}) FROM {schema}.chunks {where} ORDER BY {order} LIMIT %(k)s"
        ).format(
            distance=distance, schema=sql.Identifier(self.schema),
            where=sql.SQL("WHERE ") + sql.SQL(" AND ").join(conditions) if conditions else sql.SQL(""),
            # ``+ 0`` hides the ordering from the planner, so that a filtered query scans exactly.
            order=sql.SQL("({}) + 0").format(distance) if conditions else distance,
        )
        with self._session(read_only=True) as connection:
            connection.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(max(MIN_EF_SEARCH, k))))
            rows = connection.execute(statement, params).fetchall()
        return [(chunk_id, float(score)) for chunk_id, score in rows]

    def drop(self) -> None:
        """Delete this index and everything in it."""
        with self._session() as connection:
            connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema,))
            connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))

    def query(self, template: str) -> sql.Composed:
        """``template`` with every ``{}`` (or ``{0}``) replaced by this index's schema."""
        return sql.SQL(template).format(sql.Identifier(self.schema))

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    @contextmanager
    def _session(
        self, *, isolation: psycopg.IsolationLevel | None = None, read_only: bool = False
    ) -> Iterator[psycopg.Connection]:
        """This thread's connection inside a transaction, committed when the block exits cleanly.

        :raises StoreUnavailable: the server cannot be reached or dropped the connection.
        """
        connection = self._connection()
        try:
            connection.isolation_level = isolation
            connection.read_only = read_only
            with connection.transaction():
                yield connection
        except psycopg.Error as exc:
            # A lost connection, a dropped table, missing privileges: the store cannot serve.
            self.close()
            raise StoreUnavailable(f"the Postgres store {self.location} failed: {_first_line(exc)}") from exc

    def _connection(self) -> psycopg.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is not None and not connection.closed and not connection.broken:
            return connection
        try:
            connection = psycopg.connect(self._conninfo, autocommit=True)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"cannot connect to the Postgres store {self.location}: {_first_line(exc)}") from exc
        self._local.connection = connection
        return connection

    def _exists(self, connection: psycopg.Connection) -> bool:
        row = connection.execute("SELECT to_regclass(%s)", (f'"{self.schema}".store_meta',)).fetchone()
        return row[0] is not None

    def _meta(self, connection: psycopg.Connection, embedder: str | None) -> tuple[str, int, int]:
        """The index's embedder, dimension and generation, checked against what this Verbatim reads."""
        row = None
        if self._exists(connection):
            row = connection.execute(self.query(
                "SELECT format_version, embedder, dim, generation FROM {}.store_meta"
            )).fetchone()
        if row is None:
            raise IndexNotFound(f"no index at {self.location} (run 'rag ingest' or 'rag migrate' first)")
        version, name, dim, generation = row
        if version != FORMAT_VERSION:
            raise IndexMismatch(
                f"the index at {self.location} has format version {version}, this Verbatim reads "
                f"version {FORMAT_VERSION}; rebuild it with 'rag ingest'"
            )
        if embedder is not None and name != embedder:
            raise IndexMismatch(
                f"the index at {self.location} was built with embedder {name!r}, "
                f"but {embedder!r} is configured; rebuild it or change VERBATIM_EMBEDDER"
            )
        return name, int(dim), int(generation)

    def _create(self, connection: psycopg.Connection, embedder: str, dim: int) -> None:
        """The schema, tables and indexes of a new index (inside the writer's transaction)."""
        statements = [
            "CREATE SCHEMA IF NOT EXISTS {s}",
            "CREATE TABLE {s}.store_meta (one boolean PRIMARY KEY DEFAULT true CHECK (one),"
            " format_version integer NOT NULL, embedder text NOT NULL, dim integer NOT NULL,"
            " generation bigint NOT NULL DEFAULT 0)",
            # seq orders documents as they were added; a replaced document is added again.
            "CREATE TABLE {s}.documents (id text PRIMARY KEY, seq bigint GENERATED ALWAYS AS IDENTITY,"
            " record jsonb NOT NULL, text text NOT NULL, structure jsonb NOT NULL)",
            "CREATE TABLE {s}.chunks (id text PRIMARY KEY,"
            " document text NOT NULL REFERENCES {s}.documents (id) ON DELETE CASCADE,"
            " position integer NOT NULL, turn integer NOT NULL, part integer NOT NULL, speaker text NOT NULL,"
            " label text NOT NULL, text text NOT NULL, char_start integer NOT NULL, char_end integer NOT NULL,"
            " flags text[] NOT NULL, embedding vector({dim}) NOT NULL, UNIQUE (document, position))",
            "CREATE INDEX ON {s}.chunks USING hnsw (embedding vector_ip_ops)",
            "CREATE INDEX ON {s}.chunks (speaker)",
        ]
        try:
            connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.Error as exc:
            raise StoreUnavailable(
                f"{self.location} cannot use pgvector: {_first_line(exc)} "
                "(install pgvector, then run CREATE EXTENSION vector as a superuser)"
            ) from exc
        for statement in statements:
            connection.execute(sql.SQL(statement).format(s=sql.Identifier(self.schema), dim=sql.Literal(dim)))
        connection.execute(
            self.query("INSERT INTO {}.store_meta (format_version, embedder, dim) VALUES (%s, %s, %s)"),
            (FORMAT_VERSION, embedder, dim),
        )


@functools.cache
def postgres_backend(configured: str, index_path: Path) -> PostgresBackend:
    """The registry's factory: ``configured`` is the URL, the index folder's name picks the schema.

    One backend per URL and index in a process: the engine asks for the store on every poll of
    the generation, and each backend keeps its connections open.
    """
    return PostgresBackend(configured, Path(index_path).name)


def _format_vector(vector: np.ndarray) -> str:
    # repr of a float32 widened to float64 reads back as the same float32: vectors round-trip exactly.
    return "[" + ",".join(map(repr, np.asarray(vector, dtype=np.float32).tolist())) + "]"


def _parse_vector(text: str) -> np.ndarray:
    return np.array(text[1:-1].split(","), dtype=np.float32)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
