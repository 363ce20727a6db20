"""Uploads and deletes over real HTTP, on a private copy of the seed index."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from tests.api_common import KEY
from tests.conftest import ROOT, SEED_ID
from tests.http_server import assert_citations_verbatim, error_of, serve_index_copy


# Uploads and deletes --------------------------------------------------------------------------

TURNS = [
    {"speaker": "CHAIR", "text": "The committee will now hear from the harbour master about the new pier."},
    {
        "speaker": "HARBOUR MASTER",
        "text": "The new pier will open in May. It was paid for by the port authority alone.",
    },
    {"speaker": "CHAIR", "text": "Thank you. Questions from members?"},
]


@pytest.fixture
def writable(tmp_path, seed_index_path, seed_settings, minilm):
    """A server over a private copy of the seed index, with an API key."""
    index_path = tmp_path / "index"
    settings = seed_settings.model_copy(update={"api_key": SecretStr(KEY), "max_upload_bytes": 4096})
    with serve_index_copy(seed_index_path, index_path, settings, minilm) as client:
        yield client, index_path


def test_uploads_need_the_key(writable):
    client, _ = writable
    body = {"id": "harbour", "turns": TURNS}
    assert error_of(client.post("/documents", json=body)) == (
        401,
        "MissingApiKey",
        "this endpoint needs an API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
    )
    wrong = client.post("/documents", json=body, headers={"Authorization": "Bearer nope"})
    assert error_of(wrong) == (401, "InvalidApiKey", "the API key is not valid")
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert error_of(client.delete(f"/documents/{SEED_ID}", headers={"X-API-Key": "nope"}))[:2] == (401, "InvalidApiKey")
    assert [d["id"] for d in client.get("/documents").json()["documents"]] == [SEED_ID]


def test_uploads_are_disabled_without_a_configured_key(client):
    assert error_of(client.post("/documents", json={"id": "x", "text": "A: b"})) == (
        403,
        "WritesDisabled",
        "uploads and deletes are disabled: the service has no API key (VERBATIM_API_KEY)",
    )


def test_upload_json_turns_then_ask_then_delete(writable):
    client, _ = writable
    auth = {"Authorization": f"Bearer {KEY}"}
    created = client.post("/documents", json={"id": "harbour", "turns": TURNS}, headers=auth)
    assert created.status_code == 201
    result = created.json()
    assert result["status"] == "added"
    assert {k: result["document"][k] for k in ("id", "source", "turns", "speakers")} == {
        "id": "harbour",
        "source": "upload:harbour",
        "turns": 3,
        "speakers": ["CHAIR", "HARBOUR MASTER"],
    }
    assert [d["id"] for d in client.get("/documents").json()["documents"]] == ["harbour", SEED_ID]
    text = client.get("/documents/harbour").json()["text"]
    assert "HARBOUR MASTER: The new pier will open in May." in text

    question = {"question": "Who paid for the new pier?", "document": "harbour", "speaker": "harbour master"}
    answer = client.post("/ask", json=question).json()
    assert answer["refused"] is False
    assert {c["speaker"] for c in answer["citations"]} == {"HARBOUR MASTER"}
    assert all(c["quote"] in TURNS[1]["text"] for c in answer["citations"])
    assert_citations_verbatim(answer["citations"], {"harbour": text})

    again = client.post("/documents", json={"id": "harbour", "turns": TURNS}, headers={"X-API-Key": KEY})
    assert (again.status_code, again.json()["status"]) == (201, "unchanged")

    assert client.delete("/documents/harbour", headers=auth).status_code == 204
    assert error_of(client.get("/documents/harbour")) == (404, "UnknownDocument", "no document 'harbour' in the index")
    assert error_of(client.delete("/documents/harbour", headers=auth)) == (
        404,
        "UnknownDocument",
        "no document 'harbour' in the index",
    )
    assert [d["id"] for d in client.get("/documents").json()["documents"]] == [SEED_ID]


def test_upload_plain_text_and_replace_it(writable):
    client, _ = writable
    auth = {"X-API-Key": KEY}
    first = "CHAIR: The meeting is open.\nCLERK: The minutes were approved on Monday.\n"
    response = client.post(
        "/documents",
        params={"id": "minutes"},
        content=first.encode(),
        headers={**auth, "Content-Type": "text/plain; charset=utf-8"},
    )
    assert (response.status_code, response.json()["status"]) == (201, "added")
    assert client.get("/documents/minutes").json()["text"] == first
    second = first + "CHAIR: The meeting is closed.\n"
    response = client.post(
        "/documents", params={"id": "minutes"}, content=second.encode(), headers={**auth, "Content-Type": "text/plain"}
    )
    assert (response.status_code, response.json()["status"], response.json()["document"]["turns"]) == (
        201,
        "replaced",
        3,
    )


def test_upload_captions_and_diarized_json_then_cite_with_recording_times(writable):
    client, _ = writable
    auth = {"X-API-Key": KEY}
    real = ROOT.parent / "shared" / "datasets" / "real-formats"
    teams = (real / "whitehouse-2023-06-13-teams.vtt").read_bytes()
    response = client.post(
        "/documents", params={"id": "juneteenth-vtt"}, content=teams, headers={**auth, "Content-Type": "text/vtt"}
    )
    assert (response.status_code, response.json()["document"]["format"]) == (201, "vtt")
    asr = (real / "whitehouse-2023-06-13-whisperx.json").read_bytes()
    response = client.post(
        "/documents", params={"id": "juneteenth-asr", "format": "json"}, content=asr,
        headers={**auth, "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()["document"]["speakers"]) == (201, ["SPEAKER_00", "SPEAKER_01"])
    answer = client.post(
        "/ask", json={"question": "What was said about the Juneteenth concert?", "document": "juneteenth-vtt"}
    ).json()
    assert answer["citations"]
    stored = client.get("/documents/juneteenth-vtt").json()["text"]
    for citation in answer["citations"]:
        assert stored[citation["char_start"] : citation["char_end"]] == citation["quote"]
        assert 7.0 <= citation["media_start"] <= citation["media_end"] <= 88.0


def test_bad_uploads_change_nothing(writable):
    client, index_path = writable
    auth = {"X-API-Key": KEY}
    manifest = (index_path / "manifest.json").read_bytes()
    cases = [
        (
            client.post(
                "/documents",
                content=b"just some words, no speakers at all",
                params={"id": "bad"},
                headers={**auth, "Content-Type": "text/plain"},
            ),
            422,
            "TranscriptError",
        ),
        (client.post("/documents", json={"id": "bad", "turns": []}, headers=auth), 422, "TranscriptError"),
        (
            client.post("/documents", json={"id": "bad", "text": "A: x", "turns": TURNS}, headers=auth),
            422,
            "InvalidRequest",
        ),
        (client.post("/documents", json={"id": "../etc", "text": "A: x"}, headers=auth), 422, "InvalidRequest"),
        (
            client.post("/documents", content=b"A: x", headers={**auth, "Content-Type": "text/plain"}),
            422,
            "InvalidRequest",
        ),
        (
            client.post("/documents", content=b"{", headers={**auth, "Content-Type": "application/json"}),
            400,
            "InvalidJSON",
        ),
        (
            client.post("/documents", content=b"A: x", headers={**auth, "Content-Type": "application/pdf"}),
            415,
            "UnsupportedMediaType",
        ),
        (
            client.post("/documents", json={"id": "big", "text": "A: " + "word " * 1000}, headers=auth),
            413,
            "PayloadTooLarge",
        ),
    ]
    for response, status, kind in cases:
        assert error_of(response)[:2] == (status, kind), response.text
    assert error_of(cases[0][0])[2].startswith("upload:bad")
    assert (index_path / "manifest.json").read_bytes() == manifest
    assert [d["id"] for d in client.get("/documents").json()["documents"]] == [SEED_ID]
