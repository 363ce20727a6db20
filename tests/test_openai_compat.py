"""The official ``openai`` client against ``/v1``: models, completions, streaming, errors."""

from __future__ import annotations

import re

import openai
import pytest
from pydantic import SecretStr

from api import create_app
from rag.generators.registry import available_generators
from api.chat import model_ids
from tests.conftest import SEED, SEED_ID
from tests.http_server import assert_citations_verbatim, serve

QUESTION = "What did Lavrov say about the terrorist list?"
TEXTS = {SEED_ID: SEED.read_bytes().decode("utf-8")}
KEY = "openai-compat-key"


@pytest.fixture(scope="module")
def base_url(seed_settings, seed_engine):
    settings = seed_settings.model_copy(update={"rate_limit_per_minute": 100_000})
    with serve(create_app(settings, engine=seed_engine)) as url:
        yield f"{url}/v1"


@pytest.fixture
def client(base_url):
    with openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=60) as client:
        yield client


def _citations(response) -> list[dict]:
    return response.model_extra["citations"]


def test_models_lists_verbatim_and_the_generators(client, seed_settings):
    models = [model.id for model in client.models.list()]
    assert models == ["verbatim", *available_generators(seed_settings)] and models[:2] == ["verbatim", "extractive"]


def test_completion_carries_quotes_in_the_content_and_citations_in_full(client):
    completion = client.chat.completions.create(model="verbatim", messages=[{"role": "user", "content": QUESTION}])
    content = completion.choices[0].message.content
    citations = _citations(completion)
    assert completion.object == "chat.completion" and completion.model == "verbatim"
    assert completion.choices[0].finish_reason == "stop" and completion.model_extra["refused"] is False
    assert [c["id"] for c in citations] == [1, 2] and {c["speaker"] for c in citations} == {"LAVROV"}
    assert sorted(set(re.findall(r"\[(\d+)\]", content))) == ["1", "2"]
    for citation in citations:
        assert f"“{citation['quote']}” [{citation['id']}]" in content
    assert_citations_verbatim(citations, TEXTS)


def test_streamed_completion_matches_the_plain_one(client):
    plain = client.chat.completions.create(model="extractive", messages=[{"role": "user", "content": QUESTION}])
    chunks = list(
        client.chat.completions.create(
            model="extractive", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == plain.choices[0].message.content
    assert [chunk.choices[0].finish_reason for chunk in chunks] == [None] * (len(chunks) - 1) + ["stop"]
    assert len({chunk.id for chunk in chunks}) == 1
    final = chunks[-1]
    assert _citations(final) == _citations(plain)
    assert_citations_verbatim(_citations(final), TEXTS)


def test_conversation_history_resolves_a_follow_up(client):
    first = client.chat.completions.create(model="verbatim", messages=[{"role": "user", "content": QUESTION}])
    messages = [
        {"role": "system", "content": "You answer from transcripts."},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": [{"type": "text", "text": "and what did Kerry say about it?"}]},
    ]
    follow_up = client.chat.completions.create(model="verbatim", messages=messages)
    citations = _citations(follow_up)
    assert follow_up.model_extra["refused"] is False
    assert citations and {c["speaker"] for c in citations} == {"KERRY"}
    assert_citations_verbatim(citations, TEXTS)


def test_errors_raise_the_clients_exceptions(client, seed_settings):
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    assert missing.value.body == {
        "type": "ModelNotFound",
        "message": f"the model 'gpt-4o' does not exist; available: {', '.join(model_ids(seed_settings))}",
    }
    with pytest.raises(openai.UnprocessableEntityError) as empty:
        client.chat.completions.create(model="verbatim", messages=[{"role": "user", "content": "  "}])
    assert empty.value.body == {"type": "QuestionError", "message": "the question is empty"}
    with pytest.raises(openai.UnprocessableEntityError) as last:
        client.chat.completions.create(model="verbatim", messages=[{"role": "assistant", "content": "hello"}])
    assert last.value.body["message"] == "the last message must come from the user, not 'assistant'"


def test_the_api_key_is_the_clients_api_key(seed_settings, seed_engine):
    settings = seed_settings.model_copy(update={"api_key": SecretStr(KEY), "reads_require_key": True})
    with serve(create_app(settings, engine=seed_engine)) as url:
        with openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0) as good:
            completion = good.chat.completions.create(
                model="verbatim", messages=[{"role": "user", "content": QUESTION}]
            )
            assert_citations_verbatim(_citations(completion), TEXTS)
        with (
            openai.OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0) as bad,
            pytest.raises(openai.AuthenticationError),
        ):
            bad.models.list()
