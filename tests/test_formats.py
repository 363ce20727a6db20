import json
from pathlib import Path

import pytest

from rag.errors import TranscriptError
from rag.formats import FORMAT_NAMES, SUFFIXES, document_id_for, parse_transcript, read_transcript
from rag.formats.timeline import PARAGRAPH_PAUSE_SECONDS
from rag.models import Cue, DocumentMeta
from rag.sentences import sentence_spans
from tests.conftest import REAL_FORMAT_FILES, REAL_FORMATS
BRIEFING = "whitehouse-2023-06-13"
RENDITIONS = [f"{BRIEFING}-rev.txt", f"{BRIEFING}-teams.vtt", f"{BRIEFING}-zoom.vtt", f"{BRIEFING}.srt"]
TIMED = [f"{BRIEFING}-teams.vtt", f"{BRIEFING}-zoom.vtt", f"{BRIEFING}.srt", f"{BRIEFING}-whisperx.json"]


def _normalised(transcript):
    return [" ".join(turn.text.split()) for turn in transcript.turns]


def _assert_turns_are_slices(transcript):
    for turn in transcript.turns:
        assert transcript.text[turn.char_start : turn.char_end] == turn.text


@pytest.fixture(scope="module")
def real():
    if not REAL_FORMATS.exists():
        pytest.fail(f"the real-formats dataset is expected at {REAL_FORMATS} (a copy of ../shared beside the checkout)")
    return {name: read_transcript(REAL_FORMATS / name) for name in REAL_FORMAT_FILES}


# --- the real files -----------------------------------------------------------------------


@pytest.mark.parametrize("name", REAL_FORMAT_FILES)
def test_every_real_file_parses_and_no_header_line_is_in_a_turn(real, name):
    transcript = real[name]
    assert transcript.turns
    _assert_turns_are_slices(transcript)
    for line in filter(None, (line.strip() for line in transcript.metadata.header.splitlines())):
        assert all(line not in turn.text for turn in transcript.turns)
    if transcript.metadata.header:
        assert transcript.turns[0].span_start > transcript.text.index(transcript.metadata.header)


def test_real_text_headers_become_metadata(real):
    assert real["state-2015-12-18-new-york.txt"].metadata == DocumentMeta(
        title="Remarks at a Press Availability with Foreign Minister Sergey Lavrov and UN Special Envoy "
        "Staffan de Mistura",
        date="2015-12-18",
        place="New York, NY",
        header=real["state-2015-12-18-new-york.txt"].text.split("\n\nSECRETARY KERRY:")[0],
    )
    briefing = real["whitehouse-2024-01-24-briefing.txt"].metadata
    assert (briefing.title, briefing.date, briefing.venue, briefing.time) == (
        "Press Briefing by Press Secretary Karine Jean-Pierre and NSC Coordinator for Strategic "
        "Communications John Kirby",
        "2024-01-24",
        "James S. Brady Press Briefing Room",
        "11:53 A.M. EST",
    )
    briefing = real["whitehouse-2023-08-28-briefing.txt"].metadata
    assert (briefing.date, briefing.venue, briefing.time, briefing.place) == (
        "2023-08-28",
        "James S. Brady Press Briefing Room",
        "1:27 P.M. EDT",
        None,
    )
    rev = real[f"{BRIEFING}-rev.txt"].metadata
    assert (rev.title, rev.date) == ("Press Briefing by Press Secretary Karine Jean-Pierre 6/13/23", "2023-06-13")


def test_white_house_labels_q_without_colon_stage_directions_and_brackets(real):
    transcript = real["whitehouse-2024-01-24-briefing.txt"]
    labels = ["MS. JEAN-PIERRE", "Q", "MS. JEAN-PIERRE", "Q", "MS. JEAN-PIERRE", "MR. KIRBY"]
    assert [t.label for t in transcript.turns[:6]] == labels
    assert [t.speaker for t in transcript.turns[:6]] == ["JEAN-PIERRE", "Q", "JEAN-PIERRE", "Q", "JEAN-PIERRE", "KIRBY"]
    assert transcript.turns[0].text == "All right.  Hello.  Good afternoon."
    assert transcript.turns[1].text == "Good afternoon."
    assert transcript.turns[2].flags == ("laughs",)
    assert "800 bucks per month [year] on their" in transcript.turns[4].text
    assert transcript.turns[4].text.endswith("Okay.  Admiral.")
    laughter = transcript.turns[8]
    assert laughter.text == "Yeah, good morning.  I’m sorry.  Yeah.  (Laughter.)"
    sentences = [laughter.text[s:e] for s, e in sentence_spans(laughter.text)]
    assert sentences == ["Yeah, good morning.", "I’m sorry.", "Yeah."]
    assert real["whitehouse-2023-08-28-briefing.txt"].turns[1].label == "Q"
    assert "Joppa[towne]" in real["whitehouse-2023-08-28-briefing.txt"].turns[2].text


def test_the_five_renditions_of_one_briefing_give_the_same_five_turns(real):
    expected = _normalised(real[f"{BRIEFING}-rev.txt"])
    assert len(expected) == 5
    assert expected[1] == "Good afternoon."
    for name in [*RENDITIONS, f"{BRIEFING}-whisperx.json"]:
        assert _normalised(real[name]) == expected, name
    for name in RENDITIONS:
        assert [t.speaker for t in real[name].turns] == ["KARINE JEAN-PIERRE", "REPORTER"] + ["KARINE JEAN-PIERRE"] * 3
    assert [t.label for t in real[f"{BRIEFING}-teams.vtt"].turns][:2] == ["Karine Jean-Pierre", "Reporter"]
    assert [t.label for t in real[f"{BRIEFING}.srt"].turns][:2] == ["KARINE JEAN-PIERRE", "REPORTER"]
    whisperx = real[f"{BRIEFING}-whisperx.json"]
    assert [t.speaker for t in whisperx.turns] == ["SPEAKER_00", "SPEAKER_01"] + ["SPEAKER_00"] * 3


@pytest.mark.parametrize("name", TIMED)
def test_caption_and_asr_turns_carry_media_times_and_cues(real, name):
    transcript = real[name]
    assert [(t.media_start, t.media_end) for t in transcript.turns] == [
        (3.0, 4.6), (5.6, 6.4), (7.4, 27.8), (28.8, 50.0), (51.0, 88.0)
    ]
    assert len(transcript.cues) == 20
    assert transcript.cues[0] == Cue(transcript.turns[0].char_start, transcript.turns[0].char_end, 3.0, 4.6)
    cue = transcript.cues[3]
    assert transcript.text[cue.char_start : cue.char_end] == (
        "will welcome community leaders, lawmakers, students, educators, and hundreds of others to"
    )
    assert (cue.start, cue.end) == (12.4, 17.2)
    turn = transcript.turns[2]
    assert all(turn.char_start <= c.char_start < c.char_end <= turn.char_end for c in transcript.cues[2:7])


def test_rendered_captions_read_back_as_text_with_the_same_turns_and_starts(real):
    transcript = real[f"{BRIEFING}-teams.vtt"]
    assert transcript.text.startswith("[00:00:03.000] Karine Jean-Pierre: Hi, everyone. Good afternoon.\n\n")
    again = parse_transcript(transcript.text, "again")
    assert again.format == "text"
    key = lambda t: (t.label, t.char_start, t.char_end, t.media_start)  # noqa: E731
    assert [key(t) for t in again.turns] == [key(t) for t in transcript.turns]


def test_rev_style_timed_paragraphs_are_turns_of_the_same_speaker_with_cues(real):
    transcript = real[f"{BRIEFING}-rev.txt"]
    assert [(t.label, t.media_start, t.media_end) for t in transcript.turns] == [
        ("Karine Jean-Pierre", 3.0, 5.0),
        ("Reporter", 5.0, 7.0),
        ("Karine Jean-Pierre", 7.0, 28.0),
        ("Karine Jean-Pierre", 28.0, 49.0),
        ("Karine Jean-Pierre", 49.0, None),
    ]
    assert transcript.text[transcript.turns[3].span_start :].startswith("(00:28)\nIn 2021,")
    assert [(c.char_start, c.char_end, c.start) for c in transcript.cues] == [
        (t.char_start, t.char_end, t.media_start) for t in transcript.turns
    ]


# --- plain text rules ---------------------------------------------------------------------


def test_mixed_case_labels_two_spaces_and_q_with_and_without_colon():
    text = (
        "Joint Press Conference\nLotte New York Palace Hotel\nMoscow, Russia\nJanuary 24, 2024\n\n"
        "Sergey Lavrov:  Good evening.\n\nNote: this line continues Lavrov's turn.\n\n"
        "John Kerry: Thank you, Sergey.\nQ  First question.\nQ: Second question.\nSECRETARY KERRY: Yes."
    )
    transcript = parse_transcript(text, "doc")
    assert [(t.label, t.speaker) for t in transcript.turns] == [
        ("Sergey Lavrov", "SERGEY LAVROV"),
        ("John Kerry", "JOHN KERRY"),
        ("Q", "Q"),
        ("Q", "Q"),
        ("SECRETARY KERRY", "KERRY"),
    ]
    assert transcript.turns[0].text == "Good evening.\n\nNote: this line continues Lavrov's turn."
    assert transcript.turns[2].text == "First question."
    assert transcript.metadata == DocumentMeta(
        title="Joint Press Conference",
        date="2024-01-24",
        place="Moscow, Russia",
        venue="Lotte New York Palace Hotel",
        header="Joint Press Conference\nLotte New York Palace Hotel\nMoscow, Russia\nJanuary 24, 2024",
    )
    _assert_turns_are_slices(transcript)


def test_header_fields_written_as_key_value_lines_are_not_speakers():
    transcript = parse_transcript("Title: Budget hearing\nDate: 2021-03-04\n\nCHAIR: Order.\n", "doc")
    assert (transcript.metadata.title, transcript.metadata.date) == ("Budget hearing", "2021-03-04")
    assert [t.speaker for t in transcript.turns] == ["CHAIR"]


def test_bracketed_clock_before_a_label_times_the_turn():
    text = "[00:00:05] Anna Berg: We start now.\n[00:01:02.5] SPEAKER_01: Agreed.\nAnna Berg: Untimed.\n"
    transcript = parse_transcript(text, "doc")
    assert [(t.label, t.text, t.media_start, t.media_end) for t in transcript.turns] == [
        ("Anna Berg", "We start now.", 5.0, 62.5),
        ("SPEAKER_01", "Agreed.", 62.5, None),
        ("Anna Berg", "Untimed.", None, None),
    ]
    assert len(transcript.cues) == 2


def test_stage_directions_stay_in_the_text_and_out_of_sentences():
    transcript = parse_transcript("MR. KIRBY: (Via interpreter) Thank you.  (Laughter.)  Next point.\n", "doc")
    turn = transcript.turns[0]
    assert turn.text == "Thank you.  (Laughter.)  Next point."
    assert turn.flags == ("via interpreter", "laughter")
    spans = sentence_spans(turn.text, turn.char_start)
    assert [transcript.text[s:e] for s, e in spans] == ["Thank you.", "Next point."]


# --- captions and JSON --------------------------------------------------------------------


def _vtt(*cues):
    blocks = [f"{start} --> {end}\n{text}" for start, end, text in cues]
    return "WEBVTT\n\n" + "\n\n".join(blocks) + "\n"


def test_a_pause_longer_than_a_paragraph_pause_starts_a_new_turn_of_the_same_speaker():
    short, long = 0.2, PARAGRAPH_PAUSE_SECONDS + 0.25
    cues = [
        ("00:00.000", "00:01.000", "<v Anna>One.</v>"),
        (f"00:{1 + short:06.3f}", "00:02.000", "<v Anna>Two.</v>"),
        (f"00:{2 + long:06.3f}", "00:04.000", "<v Anna>Three.</v>"),
        ("00:04.100", "00:05.000", "<v Ben>Four &amp; <i>five</i>.</v>"),
    ]
    transcript = parse_transcript(_vtt(*cues), "doc")
    assert [(t.speaker, t.text) for t in transcript.turns] == [
        ("ANNA", "One. Two."),
        ("ANNA", "Three."),
        ("BEN", "Four & five."),
    ]


def test_srt_names_continue_until_the_next_name():
    srt = (
        "1\n00:00:01,000 --> 00:00:02,000\nANNA BERG: Hello\n\n"
        "2\n00:00:02,100 --> 00:00:03,000\nthere: all of you.\n\n"
        "3\n00:00:03,100 --> 00:00:04,000\nBEN: Hi.\n"
    )
    transcript = parse_transcript(srt, "doc", filename="x.srt")
    assert [(t.label, t.text) for t in transcript.turns] == [("ANNA BERG", "Hello there: all of you."), ("BEN", "Hi.")]


def test_assemblyai_utterances_are_in_milliseconds():
    data = {"utterances": [{"speaker": "A", "text": "Hi.", "start": 1500, "end": 2000},
                           {"speaker": "B", "text": "Hello.", "start": 2500, "end": 3250}]}
    transcript = parse_transcript(json.dumps(data), "doc")
    assert transcript.format == "json"
    assert [(t.speaker, t.media_start, t.media_end) for t in transcript.turns] == [("A", 1.5, 2.0), ("B", 2.5, 3.25)]
    assert transcript.cues == (Cue(transcript.turns[0].char_start, transcript.turns[0].char_end, 1.5, 2.0),
                               Cue(transcript.turns[1].char_start, transcript.turns[1].char_end, 2.5, 3.25))


def test_numbered_diarization_speakers_are_kept_and_turns_that_would_not_read_back_are_refused():
    segments = {"segments": [{"speaker": 0, "text": "Hi.", "start": 0.0, "end": 1.0}]}
    assert parse_transcript(json.dumps(segments), "doc").turns[0].label == "0"
    for turns in ([{"speaker": "lower case", "text": "Hi."}], [{"speaker": "ANNA", "text": "Hi.\nBEN: Hello."}]):
        with pytest.raises(TranscriptError, match="x.json: the turn of .* cannot be written as a transcript paragraph"):
            parse_transcript(json.dumps(turns), "doc", source="x.json")


def test_docx_paragraphs_are_read_as_text(tmp_path):
    docx = pytest.importorskip("docx")
    document = docx.Document()
    paragraphs = ["Town Hall Meeting", "March 3, 2022", "", "MAYOR: Welcome.", "It is good to see you.", "Q  Thanks."]
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    path = tmp_path / "town-hall.docx"
    document.save(path)
    transcript = read_transcript(path)
    assert (transcript.id, transcript.format, transcript.metadata.date) == ("town-hall", "docx", "2022-03-03")
    assert transcript.text == "\n\n".join(p for p in paragraphs if p) + "\n"
    assert [(t.speaker, t.text) for t in transcript.turns] == [
        ("MAYOR", "Welcome.\n\nIt is good to see you."),
        ("Q", "Thanks."),
    ]
    assert parse_transcript(path.read_bytes(), "no-extension").format == "docx"


# --- choosing a reader --------------------------------------------------------------------


def test_extension_then_content_choose_the_reader_and_format_overrides(tmp_path):
    vtt = _vtt(("00:01.000", "00:02.000", "Anna: Hi."))
    assert parse_transcript(vtt, "doc").format == "vtt"
    copy = tmp_path / "captions.txt"
    copy.write_text(vtt, encoding="utf-8")
    assert read_transcript(copy).format == "text"
    transcript = read_transcript(copy, format="vtt")
    assert (transcript.id, transcript.format, transcript.turns[0].text) == ("captions", "vtt", "Hi.")
    srt = "1\n00:00:01,000 --> 00:00:02,000\nANNA: Hi.\n"
    assert parse_transcript(srt.encode(), "doc").format == "srt"
    assert parse_transcript(b'{"turns": [{"speaker": "A", "text": "b"}]}', "doc").format == "json"
    with pytest.raises(TranscriptError) as caught:
        parse_transcript(srt, "doc", source="x.txt", format="pdf")
    assert str(caught.value) == "x.txt: unknown format 'pdf' (choose from text, vtt, srt, json, docx)"


def test_names_suffixes_and_document_ids():
    assert FORMAT_NAMES == ("text", "vtt", "srt", "json", "docx")
    assert set(SUFFIXES) == {".txt", ".md", ".vtt", ".srt", ".json", ".docx"}
    for name in ["a.turns.json", "a.json", "a.txt", "a.md", "a.vtt", "a.srt", "a.docx"]:
        assert document_id_for(Path(name)) == "a"


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("x.vtt", b"\x00\x01\x02", "x.vtt:1: binary data (NUL byte), not a text transcript"),
        ("x.srt", b"1\n00:00:01,000 --> 00:00:02,000\nA: caf\xe9\n", "x.srt:3: not valid UTF-8"),
        ("x.json", b"  \n", "x.json: the transcript is empty"),
        ("x.md", b"Title only\n\nand prose, nobody speaking.\n", "x.md:1: no speaker labels found"),
        ("x.vtt", b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nA: hi\n\n00:00:03 --> 00:00:04.000\nA: x\n",
         "x.vtt:6: malformed cue timing"),
        ("x.vtt", b"Captions\n\n00:00:01.000 --> 00:00:02.000\nA: hi\n", "x.vtt:1: not a WebVTT file"),
        ("x.srt", b"1\n00:00:01,000 --> 00:00:02,000\nA: hi\n\n2\n00:00:03,000 -> 00:00:04,000\nmore\n",
         "x.srt:6: expected a cue timing line"),
        ("x.srt", b"1\n00:00:01,000 --> 00:00:02,000\nhello\n", "x.srt:3: caption names no speaker and follows none"),
        ("x.srt", b"1\n00:00:01,000 --> 00:00:02,000\n- ANNA: Hi.\n- Hello.\n",
         "x.srt:4: a dialogue dash starts another speaker without naming them"),
        ("x.json", b'{"segments": [{"text": " hi", "speaker": "SPEAKER_00", "end": 1.0}]}',
         "x.json: segment 0 has no 'start' time"),
        ("x.json", b'{"utterances": [{"text": "hi", "start": 0, "end": 10}]}', "x.json: utterance 0 has no speaker"),
        ("x.json", b'{"segments": [{"speaker": "S", "start": 0, "end": 1}]}', "x.json: segment 0 has no 'text' field"),
        ("x.json", b'[{"speaker": "A", "text": ["hi"]}]', "x.json: turn 0 has a 'text' that is not a string"),
        ("x.json", b'{"words": []}', "x.json: JSON transcript must be a list of turns or an object with one of"),
        ("x.json", b'{"turns": [\n{"speaker": "A",\n "text": }]}', "x.json:3: invalid JSON"),
        ("x.json", b'[{"speaker": "A",\n  "text": "hi \\ud800"}]',
         "x.json:2: invalid JSON (\\ud800 is a lone surrogate, not a character)"),
        ("x.docx", b"PK\x03\x04 not really a zip", "x.docx: not a readable .docx file"),
    ],
)
def test_bad_input_names_the_file_and_line(tmp_path, name, data, message):
    if name.endswith(".docx"):
        pytest.importorskip("docx")
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(TranscriptError) as caught:
        read_transcript(path)
    assert str(caught.value).startswith(f"{tmp_path}/{message}")
