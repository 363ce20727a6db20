import json

import pytest
from click.testing import CliRunner

from rag.cli import main
from tests.conftest import SEED, SEED_ID


@pytest.fixture
def run():
    def invoke(*args):
        return CliRunner().invoke(main, [str(a) for a in args])

    return invoke


def test_ask_json_prints_one_answer_object_with_exact_offsets(run, seed_index_path):
    result = run("ask", "What did Lavrov say about the terrorist list?", "--json", "--index", seed_index_path)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert set(answer) >= {"question", "answer", "refused", "generator", "citations", "passages", "timings_ms"}
    assert (answer["refused"], answer["generator"]) == (False, "extractive")
    text = SEED.read_text(encoding="utf-8")
    for citation in answer["citations"]:
        assert citation["speaker"] == "LAVROV"
        assert citation["document"] == SEED_ID
        assert text[citation["char_start"] : citation["char_end"]] == citation["quote"]
        assert f"[{citation['id']}]" in answer["answer"]


def test_ask_about_something_never_mentioned_is_refused(run, seed_index_path):
    result = run("ask", "What did they say about climate change?", "--json", "--index", seed_index_path)
    answer = json.loads(result.stdout)
    assert (answer["refused"], answer["citations"]) == (True, [])


def test_search_filters_by_speaker(run, seed_index_path):
    result = run("search", "opposition delegation", "--speaker", "Kerry", "--k", "3", "--json", "--index", seed_index_path)
    assert result.exit_code == 0, result.output
    passages = json.loads(result.stdout)
    assert len(passages) == 3
    assert {p["speaker"] for p in passages} == {"KERRY"}


def test_speakers_lists_persons_with_roles_and_turn_counts(run, seed_index_path):
    result = run("speakers", "--json", "--index", seed_index_path)
    rows = {row["speaker"]: (row["turns"], row["role"]) for row in json.loads(result.stdout)}
    assert rows == {
        "LAVROV": (3, "speaker"), "KERRY": (4, "speaker"), "MODERATOR": (1, "moderator"), "QUESTION": (2, "questioner")
    }


def test_documents_lists_ids_dates_speakers_and_turns(run, seed_index_path):
    result = run("documents", "--json", "--index", seed_index_path)
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert (row["id"], row["date"], row["turns"]) == ("kerry-lavrov-moscow-2015-12-15", "2015-12-15", 10)
    assert row["speakers"] == ["LAVROV", "KERRY", "MODERATOR"]
    assert row["source"] == "kerry-lavrov-moscow-2015-12-15.txt"


def test_errors_print_one_line_and_exit_1(run, tmp_path, seed_index_path):
    missing = run("ask", "anything?", "--index", tmp_path / "nowhere")
    assert missing.exit_code == 1
    assert missing.stderr.strip() == f"IndexNotFound: no index at {tmp_path / 'nowhere'} (run 'rag ingest' first)"
    unknown = run("ask", "anything?", "--document", "nope", "--index", seed_index_path)
    assert (unknown.exit_code, unknown.stderr.strip()) == (1, "UnknownDocument: no document 'nope' in the index")
    empty = run("ask", "  ", "--index", seed_index_path)
    assert (empty.exit_code, empty.stderr.strip()) == (1, "QuestionError: the question is empty")


def test_ingest_reports_what_changed_and_rejects_bad_files(run, tmp_path):
    index = tmp_path / "index"
    first = run("ingest", SEED, "--index", index)
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("added 1, replaced 0, unchanged 0, rejected 0 (10 turns, 26 chunks,")
    assert "embedding kerry-lavrov-moscow-2015-12-15: 26/26\n" in first.stderr
    again = run("ingest", SEED, "--index", index)
    assert again.stdout.startswith("added 0, replaced 0, unchanged 1, rejected 0 (0 turns, 0 chunks,")
    bad = tmp_path / "bad.txt"
    bad.write_text("no labels here at all\n")
    failed = run("ingest", bad, "--index", index)
    assert failed.exit_code == 1
    assert failed.stderr.strip().startswith(f"TranscriptError: {bad}:1: no speaker labels found")


def test_ingest_reads_every_file_as_the_format_given(run, tmp_path):
    captions = tmp_path / "briefing.txt"
    captions.write_text(
        "WEBVTT\n\n00:00:03.000 --> 00:00:04.600\n<v Karine Jean-Pierre>Hi, everyone.</v>\n\n"
        "00:00:05.600 --> 00:00:06.400\n<v Reporter>Good afternoon.</v>\n",
        encoding="utf-8",
    )
    result = run("ingest", captions, "--format", "vtt", "--index", tmp_path / "index")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("added 1, replaced 0, unchanged 0, rejected 0 (2 turns, 2 chunks,")
    unknown = run("ingest", captions, "--format", "pdf", "--index", tmp_path / "index")
    assert unknown.exit_code == 2
    assert "'pdf' is not one of 'text', 'vtt', 'srt', 'json', 'docx'" in unknown.stderr


def test_ingest_of_a_folder_keeps_what_it_can_read_and_exits_1_naming_the_rest(run, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a-meeting.txt").write_text("ALICE: We open the bridge in May.\n", encoding="utf-8")
    (folder / "a-meeting.turns.json").write_text("[]", encoding="utf-8")
    (folder / "broken.vtt").write_text("WEBVTT\n\nnot a time --> line\nHello\n", encoding="utf-8")
    (folder / "empty.srt").write_text("", encoding="utf-8")
    result = run("ingest", folder, "--index", tmp_path / "index")
    assert result.exit_code == 1
    assert result.stdout.startswith("added 1, replaced 0, unchanged 0, rejected 2 (1 turns,")
    lines = result.stderr.splitlines()
    assert f"skipped {folder / 'a-meeting.turns.json'}: an annotation sidecar of its .txt transcript" in lines
    assert any(line.startswith(f"TranscriptError: {folder / 'broken.vtt'}:") for line in lines)
    assert f"TranscriptError: {folder / 'empty.srt'}: the transcript is empty" in lines
    listed = run("documents", "--json", "--index", tmp_path / "index")
    assert [row["id"] for row in json.loads(listed.stdout)] == ["a-meeting"]


def test_show_prints_the_stored_text_citations_refer_to(run, seed_index_path):
    result = run("show", "kerry-lavrov-moscow-2015-12-15", "--index", seed_index_path)
    assert result.exit_code == 0
    assert result.stdout == SEED.read_text(encoding="utf-8")
