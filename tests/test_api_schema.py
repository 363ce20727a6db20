"""Schemathesis against the running service: what the OpenAPI document promises is what it does.

A fixed seed and a few examples per operation keep it repeatable and under a minute.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from api import create_app
from rag.settings import Settings
from tests.http_server import serve

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,
    negative_data_rejection,
    ignored_auth,
    unsupported_method,
]


# Operations whose 422 also enforces rules no JSON Schema can state, as their 422 description says
# (a transcript must have speakers; a quote's range must lie inside one turn): a schema-valid request
# may be refused there, so "schema-valid requests are accepted" is not checked on them.
CONTENT_RULES = {("POST", "/documents"), ("GET", "/documents/{document_id}/context")}

# The document as the app generates it; the cases are then sent to a served app over HTTP.
schema = schemathesis.openapi.from_dict(create_app(Settings(_env_file=None)).openapi())


@pytest.fixture(scope="module")
def base_url(seed_settings, seed_engine):
    app_settings = seed_settings.model_copy(update={"rate_limit_per_minute": 100_000})
    with serve(create_app(app_settings, engine=seed_engine)) as url:
        yield url


@schema.parametrize()
@settings(
    max_examples=6,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_the_service_keeps_the_promises_of_its_openapi_document(case, base_url):
    rules = (case.operation.method.upper(), case.operation.path) in CONTENT_RULES
    excluded = [positive_data_acceptance] if rules else []
    case.call_and_validate(base_url=base_url, checks=CHECKS, excluded_checks=excluded)
