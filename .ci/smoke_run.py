"""What `make run` does, checked on an installed Verbatim: ingest, serve, ask once over HTTP, stop.

Run by .ci/clean_run.sh with the interpreter of a venv holding the core install (not editable),
from an empty folder outside the checkout, so that the default index (index/default) lands there:

    VENV/bin/python .ci/smoke_run.py REPO/data/transcripts

Exits 1 with ``SmokeFailed: reason`` when a step fails; the server is stopped in every case.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import rag
from rag.errors import VerbatimError
from rag.local.processes import LOOPBACK, free_port, stop_process
from rag.generators.prompts import load_prompt

QUESTION = "What did Lavrov say about the terrorist list?"
READY_TIMEOUT_S = 180.0
# Pages that must come from the installed package: the widget, its demo page, the API docs.
PAGES = ("/", "/widget.js", "/docs")
# The LLM generators' and the judge's templates: package data too, though the extractive answer
# asked for below needs none.
PROMPTS = ("answer.j2", "judge.j2")


class SmokeFailed(Exception):
    """A step of the newcomer path failed."""


def main(transcripts: Path) -> None:
    if "site-packages" not in Path(rag.__file__).parts:
        raise SmokeFailed(f"rag is imported from {rag.__file__}, not from an installed package")
    for name in PROMPTS:
        load_prompt(name)
    rag_cli = str(Path(sys.executable).with_name("rag"))
    subprocess.run([rag_cli, "ingest", str(transcripts)], check=True)
    port = free_port()
    server = subprocess.Popen([rag_cli, "serve", "--port", str(port)])
    try:
        base = f"http://{LOOPBACK}:{port}"
        _wait_until_ready(base, server)
        for page in PAGES:
            _request(base + page)
        answer = json.loads(_request(f"{base}/ask", {"question": QUESTION}))
        _check_citations(answer, transcripts)
    finally:
        stop_process(server)
    print(f"smoke: ingested, served, answered with {len(answer['citations'])} verified citation(s)")


def _request(url: str, body: dict | None = None) -> bytes:
    """GET (or POST ``body`` as JSON) and return the body of a 200 answer."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise SmokeFailed(f"{url} answered {exc.code}: {exc.read()[:500]!r}") from exc


def _wait_until_ready(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SmokeFailed(f"rag serve exited with {server.returncode} before it was ready")
        try:
            _request(f"{base}/readyz")
            return
        except (SmokeFailed, OSError):  # not listening yet (OSError), or loading (503)
            time.sleep(0.5)
    raise SmokeFailed(f"rag serve was not ready within {READY_TIMEOUT_S:.0f} s")


def _check_citations(answer: dict, transcripts: Path) -> None:
    """The product's rule: the original file's ``text[char_start:char_end]`` is the quote."""
    if answer["refused"] or not answer["citations"]:
        raise SmokeFailed(f"no cited answer to {QUESTION!r}: {answer.get('refusal_reason')}")
    texts = {path.stem: path.read_bytes().decode("utf-8") for path in transcripts.iterdir() if path.is_file()}
    for citation in answer["citations"]:
        located = texts[citation["document"]][citation["char_start"] : citation["char_end"]]
        if located != citation["quote"]:
            raise SmokeFailed(f"citation {citation['id']} is not verbatim: {located!r} != {citation['quote']!r}")


if __name__ == "__main__":
    # A CI timeout terminates us: exit through ``finally`` so that the server is stopped too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(f"SmokeFailed: terminated (signal {signum})"))
    try:
        main(Path(sys.argv[1]).resolve())
    except (SmokeFailed, VerbatimError, subprocess.CalledProcessError) as exc:
        sys.exit(f"{type(exc).__name__}: {exc}")
