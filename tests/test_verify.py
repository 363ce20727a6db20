import pytest

from rag.formats import parse_transcript
from rag.answering.verify import QuoteVerifier, normalize

TEXT = (
    "SECRETARY KERRY: We don’t seek to isolate Russia as a matter of policy, no. In July – I just remind "
    "everybody – we were able to remove a danger.\n\n"
    "FOREIGN MINISTER LAVROV: (Via interpreter) This process applies to the terrorist list that is "
    "coordinated by Jordan. It is clear that ISIL and Jabhat al-Nusrah are considered terrorist organizations.\n"
)


@pytest.fixture
def verifier():
    return QuoteVerifier(parse_transcript(TEXT, "doc"), repair_min_similarity=0.92)


def _only(checks):
    assert len(checks) == 1
    return checks[0]


def test_exact_quote_reports_its_offsets(verifier):
    check = _only(verifier.check("This process applies to the terrorist list"))
    assert check.status == "exact"
    assert TEXT[check.start : check.end] == "This process applies to the terrorist list"
    assert verifier.turn_at(check.start, check.end).speaker == "LAVROV"


@pytest.mark.parametrize(
    ("quote", "source"),
    [
        ("we don't seek to isolate russia", "We don’t seek to isolate Russia"),
        ("In July - I just remind everybody - we were able", "In July – I just remind everybody – we were able"),
        ("In July — I just   remind\neverybody", "In July – I just remind everybody"),
        ("“This process applies to the terrorist list”", "This process applies to the terrorist list"),
    ],
)
def test_typography_is_forgiven_and_the_source_text_is_shown(verifier, quote, source):
    check = _only(verifier.check(quote))
    assert check.status == "normalized" if quote.strip("“”") != source else check.status == "exact"
    assert check.source_text == source == TEXT[check.start : check.end]


def test_ellipsis_quote_is_matched_piece_by_piece(verifier):
    checks = verifier.check("This process applies to the terrorist list … ISIL and Jabhat al-Nusrah are considered")
    assert [c.status for c in checks] == ["exact", "exact"]
    assert [c.source_text for c in checks] == [
        "This process applies to the terrorist list",
        "ISIL and Jabhat al-Nusrah are considered",
    ]
    assert checks[0].end < checks[1].start


def test_fabricated_quote_is_not_found(verifier):
    check = _only(verifier.check("Russia will bomb everyone who opposes the government"))
    assert check.status == "not_found"
    assert check.start is None and check.source_text is None


def test_near_exact_quote_is_repaired_to_the_transcript_span(verifier):
    check = _only(verifier.check("This process applies to the terrorist list which is coordinated by Jordan"))
    assert check.status == "repaired"
    assert check.source_text == "This process applies to the terrorist list that is coordinated by Jordan"
    assert 0.92 <= check.similarity < 1.0


def test_a_quote_that_crosses_speakers_is_rejected(verifier):
    check = _only(verifier.check("we were able to remove a danger. FOREIGN MINISTER LAVROV: (Via interpreter) This process"))
    assert check.status == "not_found"


def test_a_quote_of_a_label_is_not_a_quote_of_speech(verifier):
    assert _only(verifier.check("FOREIGN MINISTER LAVROV")).status == "not_found"


def test_normalize_maps_every_folded_character_back():
    folded, origin = normalize("A  “B”\u00a0–\nc")
    assert folded == 'a "b" - c'
    assert [origin[i] for i in range(len(folded))] == [0, 1, 3, 4, 5, 6, 7, 8, 9]
