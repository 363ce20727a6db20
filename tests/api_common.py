"""What the API test modules share: the question, the quote it should find, the texts, keys and origins."""

from __future__ import annotations

from tests.conftest import SEED, SEED_ID

QUESTION = "What did Lavrov say about the terrorist list?"
ALLOWED_ORIGIN = "http://allowed.example"
KEY = "s3cret-test-key"
SEED_TEXT = SEED.read_bytes().decode("utf-8")
TEXTS = {SEED_ID: SEED_TEXT}
LAVROV_QUOTE = (
    "This process applies to the terrorist list that is coordinated by Jordan, and our colleagues from Jordan have "
    "already gathered the information and asked for this information from all the ISSG members."
)


def without_timings(answer: dict) -> dict:
    """An answer without its timings, which differ between two runs of the same question."""
    return {key: value for key, value in answer.items() if key != "timings_ms"}
