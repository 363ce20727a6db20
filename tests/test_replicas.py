"""Two `rag serve` processes on two ports against one Postgres: what one is sent, the other answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from rag.embedders.hashing import HashEmbedder
from rag.indexing.ingest import ingest_files
from rag.stores.postgres import PostgresBackend
from tests.conftest import ROOT, SEED, SEED_ID
from tests.pg_server import postgres_url  # noqa: F401

KEY = "replica-test-key"
POLL_S = 0.5
MEETING = "ALICE SMITH: We will open the new harbour bridge in May.\n\nBOB JONES: The budget is not approved yet.\n"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def rag_serve(store: str, workdir: Path) -> Iterator[httpx.Client]:
    """A real ``rag serve`` process on a free port, stopped (by its pid) when the block exits."""
    port = _free_port()
    environ = {
        **{name: value for name, value in os.environ.items() if not name.startswith("VERBATIM_")},
        "VERBATIM_STORE": store, "VERBATIM_EMBEDDER": "hash", "VERBATIM_API_KEY": KEY,
        "VERBATIM_RELOAD_POLL_S": str(POLL_S), "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("rag")), "serve", "--port", str(port)], cwd=workdir, env=environ,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, trust_env=False) as client:
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, process.stderr.read().decode()[-2000:]
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "rag serve did not start within 120 s"
                time.sleep(0.2)
            yield client
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _until(check, timeout: float = 10.0) -> float:
    """Seconds until ``check()`` is true; fails after ``timeout``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"not seen within {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - started


def test_an_upload_through_one_replica_is_answered_by_the_other(postgres_url, counter, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ingest_files(
        [SEED], PostgresBackend(postgres_url), HashEmbedder(), count_tokens=counter.count, max_tokens=200, batch=64
    )
    with rag_serve(postgres_url, tmp_path / "a") as first, rag_serve(postgres_url, tmp_path / "b") as second:
        headers = {"Authorization": f"Bearer {KEY}"}
        uploaded = first.post("/documents", json={"id": "harbour", "text": MEETING}, headers=headers)
        assert uploaded.status_code == 201, uploaded.text
        assert [d["id"] for d in first.get("/documents").json()["documents"]] == ["harbour", SEED_ID]

        def second_answers() -> bool:
            found = second.get("/search", params={"q": "harbour bridge"})
            return found.status_code == 200 and any(p["document"] == "harbour" for p in found.json()["passages"])

        delay = _until(second_answers)
        print(f"\nthe other replica answered from the upload after {delay:.2f} s (poll {POLL_S} s)")
        answer = second.post("/ask", json={"question": "When will the harbour bridge open?"}).json()
        assert [c["document"] for c in answer["citations"]] == ["harbour"]
        assert "May" in answer["citations"][0]["quote"]

        assert second.delete("/documents/harbour", headers=headers).status_code in (200, 204)
        delay = _until(lambda: [d["id"] for d in first.get("/documents").json()["documents"]] == [SEED_ID])
        print(f"the first replica saw the delete after {delay:.2f} s")
        # Neither replica wrote anything to its working folder: the index is the database's.
        assert not any((tmp_path / name / "index").exists() for name in ("a", "b"))
