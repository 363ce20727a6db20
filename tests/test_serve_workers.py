"""`rag serve --workers 2`: two real server processes on one port, each answering from the index."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import pytest

from rag.local.processes import LOOPBACK, free_port, stop_process
from tests.conftest import CACHE_DIR, ROOT

READY_TIMEOUT_S = 600.0


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.5)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=5, trust_env=False).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.slow
def test_two_workers_serve_search_from_the_index(seed_settings, minilm, tmp_path):
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VERBATIM_CACHE_DIR": str(CACHE_DIR)}
    with log.open("w") as sink:
        server = subprocess.Popen(
            [sys.executable, "-c", "from rag.cli import main; main()", "serve", "--workers", "2",
             "--port", str(port), "--index", str(seed_settings.index_path)],
            stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
        )
    try:
        url = f"http://{LOOPBACK}:{port}"

        def workers_started() -> set[str]:
            return set(re.findall(r"Started server process \[(\d+)\]", log.read_text()))

        _wait(lambda: len(workers_started()) == 2 and _ready(url), "two workers and /readyz")
        for _ in range(4):  # whichever worker takes the connection answers the same
            response = httpx.get(f"{url}/search", params={"q": "terrorist list", "k": 2}, timeout=60, trust_env=False)
            assert response.status_code == 200, response.text
            passages = response.json()["passages"]
            assert len(passages) == 2 and "terrorist" in passages[0]["text"].lower()
    finally:
        stop_process(server)
