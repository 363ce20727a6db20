import json

import pytest

from rag.errors import TranscriptError
from rag.formats import parse_transcript, read_transcript
from rag.formats.labels import canonical_speaker

MEETINGS = ["covid_2", "covid_6", "education_0", "education_10", "education_18", "education_22"]


def test_seed_turns_speakers_and_flags(seed_path):
    transcript = read_transcript(seed_path)
    assert transcript.id == "kerry-lavrov-moscow-2015-12-15"
    assert [t.speaker for t in transcript.turns] == [
        "LAVROV", "KERRY", "MODERATOR", "QUESTION", "KERRY", "LAVROV", "QUESTION", "KERRY", "LAVROV", "KERRY",
    ]
    assert transcript.turns[0].label == "FOREIGN MINISTER LAVROV"
    assert transcript.turns[0].flags == ("via interpreter",)
    assert transcript.turns[0].text.startswith("Good evening, ladies and gentlemen.")
    assert transcript.turns[1].flags == ()
    assert transcript.turns[9].text == "Spasibo. Thank you."


def test_seed_turn_text_is_the_file_slice_and_continues_unlabelled_paragraphs(seed_path):
    text = seed_path.read_text(encoding="utf-8")
    transcript = read_transcript(seed_path)
    for turn in transcript.turns:
        assert text[turn.char_start : turn.char_end] == turn.text
        assert text[turn.span_start :].startswith(turn.label + ":")
    # Lavrov's opening runs over five paragraphs without a label.
    assert transcript.turns[0].text.count("\n\n") == 4
    assert transcript.turns[0].text.endswith("Please, you have the floor.")


def _assert_turns_match_the_sidecar(path):
    sidecar = json.loads(path.with_name(f"{path.stem}.turns.json").read_text(encoding="utf-8"))["turns"]
    transcript = read_transcript(path)
    assert len(transcript.turns) == len(sidecar), path.name
    for turn, truth in zip(transcript.turns, sidecar):
        assert (turn.index, turn.label) == (truth["turn"], truth["label"])
        assert (turn.span_start, turn.span_end) == (truth["char_start"], truth["char_end"])
        assert turn.speaker == canonical_speaker(truth["speaker_canonical"])
        assert (turn.text == "") == truth["empty"]
    assert transcript.metadata.header == ""


@pytest.mark.parametrize("meeting", MEETINGS)
def test_qmsum_turns_match_the_sidecar(qmsum_dir, meeting):
    _assert_turns_match_the_sidecar(qmsum_dir / "transcripts" / f"{meeting}.txt")


def test_qmsum_tune_turns_match_their_sidecars(qmsum_dir):
    paths = sorted((qmsum_dir.parent / "qmsum-tune" / "transcripts").glob("*.txt"))
    assert paths, "the qmsum-tune transcripts are expected beside qmsum-committee-val"
    for path in paths:
        _assert_turns_match_the_sidecar(path)


@pytest.mark.parametrize(
    ("label", "canonical"),
    [
        ("FOREIGN MINISTER LAVROV", "LAVROV"),
        ("SECRETARY KERRY", "KERRY"),
        ("RIGHT HON. JUSTIN TRUDEAU (PRIME MINISTER)", "JUSTIN TRUDEAU"),
        ("HON. ANDREW SCHEER (LEADER OF THE OPPOSITION)", "ANDREW SCHEER"),
        ("THE CHAIR (HON. ANTHONY ROTA (NIPISSINGTIMISKAMING, LIB.))", "THE CHAIR"),
        ("LYNNE NEAGLE AM", "LYNNE NEAGLE"),
        ("DR DAVID BLANEY", "DAVID BLANEY"),
        ("MODERATOR", "MODERATOR"),
    ],
)
def test_canonical_speaker_strips_titles_offices_and_post_nominals(label, canonical):
    assert canonical_speaker(label) == canonical


def test_json_turns_are_rendered_to_press_style_with_offsets():
    data = json.dumps([{"speaker": "Ms. Ortiz", "text": "We will vote on Monday."}, {"speaker": "Chair", "text": "Agreed."}])
    transcript = parse_transcript(data.encode(), "json-doc")
    assert transcript.text == "Ms. Ortiz: We will vote on Monday.\n\nChair: Agreed.\n"
    assert [(t.label, t.speaker, t.text) for t in transcript.turns] == [
        ("Ms. Ortiz", "ORTIZ", "We will vote on Monday."),
        ("Chair", "CHAIR", "Agreed."),
    ]
    assert transcript.text[transcript.turns[1].char_start : transcript.turns[1].char_end] == "Agreed."


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "x.txt: the transcript is empty"),
        (b"   \n\n ", "x.txt: the transcript is empty"),
        (b"KERRY: hi\n\x00\x01binary", "x.txt:2: binary data (NUL byte), not a text transcript"),
        (b"KERRY: ok\nLAVROV: caf\xe9\n", "x.txt:2: not valid UTF-8 (byte 0xe9 at offset 21)"),
        (b"just some prose without any label\nand more of it\n", "x.txt:1: no speaker labels found"),
        (b"[{\"speaker\": \"A\"", "x.txt:1: invalid JSON"),
        (b"[{\"speaker\": \"A\"}]", "x.txt: turn 0 has no 'text' field"),
        (b"[]", "x.txt: JSON transcript must be a non-empty list of turns"),
    ],
)
def test_malformed_input_gets_an_error_naming_file_and_line(data, message):
    with pytest.raises(TranscriptError) as caught:
        parse_transcript(data, "x", source="x.txt")
    assert str(caught.value).startswith(message)


def test_text_before_the_first_label_is_the_header_not_a_turn():
    transcript = parse_transcript(b"Press release, Moscow\n\nKERRY: Hello.\n", "x", source="x.txt")
    assert transcript.metadata.title == "Press release, Moscow"
    assert [(t.speaker, t.text) for t in transcript.turns] == [("KERRY", "Hello.")]


def test_missing_file_is_a_transcript_error(tmp_path):
    with pytest.raises(TranscriptError, match="cannot read file"):
        read_transcript(tmp_path / "nope.txt")
