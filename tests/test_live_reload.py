"""A running service follows the index on disk: what `rag ingest` commits is served without a restart."""

from __future__ import annotations

import time

import httpx

from api.app import create_app
from rag.embedders.embedding import HashEmbedder
from rag.indexing.ingest import ingest_files
from rag.settings import Settings
from tests.conftest import SEED, SEED_ID
from tests.http_server import serve

MEETING = "ALICE SMITH: We will open the new harbour bridge in May.\n\nBOB JONES: The budget is not approved yet.\n"


def _wait_for(client: httpx.Client, path: str, ready, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(path)
        if response.status_code == 200 and ready(response.json()):
            return response.json()
        assert time.monotonic() < deadline, f"{path} never got there: {response.status_code} {response.text[:200]}"
        time.sleep(0.2)


def test_a_running_service_picks_up_what_ingest_committed(tmp_path, counter):
    index_path = tmp_path / "index"
    settings = Settings(_env_file=None, index_path=index_path, embedder="hash", reload_poll_s=0.2)
    ingest = lambda paths: ingest_files(  # noqa: E731
        paths, index_path, HashEmbedder(), count_tokens=counter.count, max_tokens=200, batch=64
    )
    meeting = tmp_path / "harbour-2024-05-02.txt"
    meeting.write_text(MEETING, encoding="utf-8")
    # Started before any index exists, as a newcomer might: it waits, then loads the first commit.
    with serve(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30, trust_env=False) as client:
        assert client.get("/readyz").status_code == 503
        ingest([SEED])
        _wait_for(client, "/readyz", lambda body: body["documents"] == 1)
        ingest([meeting])
        listed = _wait_for(client, "/documents", lambda body: len(body["documents"]) == 2)
        assert [d["id"] for d in listed["documents"]] == ["harbour-2024-05-02", SEED_ID]
        answer = client.post("/ask", json={"question": "When will the harbour bridge open?"}).json()
        assert [c["document"] for c in answer["citations"]] == ["harbour-2024-05-02"]
        # An edited speaker map is picked up the same way.
        (index_path / "speakers.json").write_text('{"persons": {"Alice Smith-Jones": ["ALICE SMITH"]}}')
        speakers = _wait_for(
            client, "/speakers", lambda body: any(s["speaker"] == "ALICE SMITH-JONES" for s in body["speakers"])
        )
        assert "ALICE SMITH" not in {s["speaker"] for s in speakers["speakers"]}
