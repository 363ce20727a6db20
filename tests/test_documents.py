"""Many real press conferences in one index: one person across documents, questions confined by place and date."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rag.engine import Engine, load_index
from rag.indexing.ingest import ingest_files
from rag.indexing.persons import SpeakerMap, resolve, voices_in
from rag.settings import Settings

from tests.conftest import REAL_FORMAT_FILES, REAL_FORMATS, SEED

NEW_YORK = "state-2015-12-18-new-york"


@pytest.fixture(scope="module")
def press_index(tmp_path_factory, minilm, counter) -> Path:
    folder = tmp_path_factory.mktemp("press")
    for path in [SEED, *(REAL_FORMATS / name for name in REAL_FORMAT_FILES)]:
        shutil.copy(path, folder / path.name)
    index_path = tmp_path_factory.mktemp("index") / "press"
    report = ingest_files([folder], index_path, minilm, count_tokens=counter.count, max_tokens=200, batch=64)
    assert report.rejected == [] and report.skipped == [] and len(report.added) == 9
    return index_path


@pytest.fixture(scope="module")
def press_engine(press_index, minilm) -> Engine:
    return Engine.load(Settings(_env_file=None, index_path=press_index), embedder=minilm)


def test_one_person_across_documents_and_questioners_as_a_role(press_engine):
    people = {person.id: person for person in press_engine.snapshot.index.people()}
    jean_pierre = people["KARINE JEAN-PIERRE"]
    assert set(jean_pierre.labels) == {"Karine Jean-Pierre", "KARINE JEAN-PIERRE", "MS. JEAN-PIERRE"}
    assert len(jean_pierre.documents) == 6 and jean_pierre.name == "Karine Jean-Pierre"
    assert people["KERRY"].documents == ("kerry-lavrov-moscow-2015-12-15", NEW_YORK)
    assert people["QUESTION"].role == "questioner"
    assert {"Q", "Reporter", "QUESTION"} <= set(people["QUESTION"].labels)
    assert people["SPEAKER_00"].role == "unnamed" and people["MODERATOR"].role == "moderator"
    assert "JEAN-PIERRE" not in people


def test_a_question_naming_a_place_is_answered_from_that_press_conference(press_engine):
    answer = press_engine.snapshot.answerer.answer(
        "What did Kerry say about the Security Council resolution in New York?",
        press_engine.generator("extractive"), press_engine.options(),
    )
    assert not answer.refused, answer.answer
    assert answer.scope == [NEW_YORK]
    assert answer.answer.startswith("From Remarks at a Press Availability with Foreign Minister Sergey Lavrov")
    assert {c.document for c in answer.citations} == {NEW_YORK}
    assert {c.speaker for c in answer.citations} == {"KERRY"}
    citation = answer.citations[0]
    assert (citation.date, citation.place) == ("2015-12-18", "New York, NY")


def test_a_question_naming_a_date_is_confined_to_that_month(press_engine):
    answer = press_engine.snapshot.answerer.answer(
        "What did Kerry say about Syria in December 2015?", press_engine.generator("extractive"), press_engine.options()
    )
    assert sorted(answer.scope) == ["kerry-lavrov-moscow-2015-12-15", NEW_YORK]
    assert answer.citations and {c.date[:7] for c in answer.citations} == {"2015-12"}


def test_explicit_filters_and_unknown_ones(press_engine):
    options = press_engine.options(date_from="2023-01-01", date_to="2023-12-31")
    assert len(options.documents) == 6
    assert press_engine.options(place="New York").documents == (NEW_YORK,)
    with pytest.raises(Exception, match="no document matches place=Lima"):
        press_engine.options(place="Lima")


def test_captions_carry_recording_times_into_citations(press_engine):
    answer = press_engine.snapshot.answerer.answer(
        "What did Karine Jean-Pierre say about the Juneteenth concert?", press_engine.generator("extractive"),
        press_engine.options(document="whitehouse-2023-06-13-teams"),
    )
    assert answer.citations
    for citation in answer.citations:
        assert citation.media_start is not None and 7.0 <= citation.media_start <= citation.media_end


def test_an_absent_person_is_refused_naming_the_documents(press_engine):
    answer = press_engine.snapshot.answerer.answer("What did Putin say?", press_engine.generator("extractive"), press_engine.options())
    assert answer.refused
    assert answer.answer == "Putin does not speak in any of the 9 indexed transcripts."


def test_a_speaker_map_names_diarization_ids_and_applies_on_reload(press_index, press_engine):
    (press_index / "speakers.json").write_text(json.dumps(
        {"documents": {"whitehouse-2023-06-13-whisperx": {"SPEAKER_00": "Karine Jean-Pierre", "SPEAKER_01": "Q"}}}
    ))
    try:
        assert press_engine.reload_if_changed()
        people = {person.id: person for person in press_engine.snapshot.index.people()}
        assert "SPEAKER_00" not in people and len(people["KARINE JEAN-PIERRE"].documents) == 7
        assert not press_engine.reload_if_changed()
    finally:
        (press_index / "speakers.json").unlink()
        press_engine.reload()


def test_speaker_map_merges_and_renames(press_index):
    index = load_index(Settings(_env_file=None, index_path=press_index))
    stored = [voice for doc, record in index.records.items() for voice in voices_in(doc, record.voices)]
    mapping = resolve(stored, SpeakerMap.from_dict({"persons": {"John Kerry": ["KERRY"]}}))
    assert mapping[(NEW_YORK, "KERRY")] == "JOHN KERRY"
    with pytest.raises(Exception, match="'persons' must map a name to a list of labels"):
        SpeakerMap.from_dict({"persons": {"John Kerry": "KERRY"}})
