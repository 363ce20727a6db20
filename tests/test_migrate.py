"""`rag migrate`: an embedded index into Postgres and back, with nothing lost or re-embedded."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from rag.cli import main
from rag.embedders.embedding import HashEmbedder
from rag.indexing.ingest import ingest_files
from rag.stores.embedded import EmbeddedBackend
from rag.stores.postgres import PostgresBackend
from tests.conftest import SEED, SEED_ID
from tests.pg_server import postgres_url  # noqa: F401
from tests.test_store_conformance import put


def assert_same_index(left, right) -> None:
    one, other = left.open(), right.open()
    assert (one.embedder, one.dim) == (other.embedder, other.dim)
    assert list(one.documents()) == list(other.documents())
    for document_id, record in one.documents().items():
        assert other.documents()[document_id].sha256 == record.sha256
        assert other.transcript(document_id) == one.transcript(document_id)
    ids = list(one.chunk_ids())
    assert list(other.chunk_ids()) == ids
    assert other.chunks() == one.chunks()
    assert np.array_equal(other.vectors(ids), one.vectors(ids))


def test_rag_migrate_copies_a_folder_into_postgres_and_back(postgres_url, minilm, counter, tmp_path):
    folder = tmp_path / "default"
    ingest_files([SEED], folder, minilm, count_tokens=counter.count, max_tokens=200, batch=64)
    put(EmbeddedBackend(tmp_path / "hand"), "budget", "harbour")
    runner = CliRunner()

    result = runner.invoke(main, ["migrate", "--from", str(folder), "--to", postgres_url])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("copied 1, unchanged 0, kept 0 (")
    assert "schema verbatim_default" in result.output
    postgres = PostgresBackend(postgres_url, "default")
    assert_same_index(EmbeddedBackend(folder), postgres)

    # Again: nothing to copy, and Postgres does not move to a new generation.
    generation = postgres.stamp()
    result = runner.invoke(main, ["migrate", "--from", str(folder), "--to", postgres_url])
    assert result.output.startswith("copied 0, unchanged 1, kept 0 ("), result.output
    assert postgres.stamp() == generation

    back = tmp_path / "back" / "default"
    result = runner.invoke(main, ["migrate", "--from", postgres_url, "--to", str(back)])
    assert result.exit_code == 0, result.output
    assert_same_index(postgres, EmbeddedBackend(back))
    assert list(EmbeddedBackend(back).open().documents()) == [SEED_ID]


def test_a_migration_into_another_embedder_s_index_is_refused(postgres_url, counter, tmp_path):
    put(PostgresBackend(postgres_url, "default"), "budget")
    folder = tmp_path / "default"
    ingest_files([SEED], folder, HashEmbedder(), count_tokens=counter.count, max_tokens=200, batch=64)
    result = CliRunner().invoke(main, ["migrate", "--from", str(folder), "--to", postgres_url])
    assert result.exit_code == 1
    assert result.output.startswith("IndexMismatch: "), result.output
    assert list(PostgresBackend(postgres_url, "default").open().documents()) == ["budget"]


def test_migrating_an_index_that_does_not_exist_is_index_not_found(postgres_url, tmp_path):
    result = CliRunner().invoke(main, ["migrate", "--from", postgres_url, "--to", str(tmp_path / "copy")])
    assert result.exit_code == 1
    assert result.output.startswith("IndexNotFound: "), result.output
