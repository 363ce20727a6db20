import json
import shutil
from pathlib import Path

import pytest

from rag.errors import IndexCorrupt, IndexMismatch, IndexNotFound, IndexWriteError, TranscriptError, UnknownDocument
from rag.embedders.hashing import HashEmbedder
from rag.formats import read_transcript
from rag.indexing.index import TranscriptIndex
from rag.indexing.ingest import ingest_files, remove_document
from rag.stores import segments
from rag.stores.embedded import EmbeddedBackend
from tests.conftest import REAL_FORMAT_FILES, REAL_FORMATS

TWO_TURNS = "ALICE SMITH: We will open the bridge in May.\n\nBOB JONES: The budget is not approved yet.\n"


def load(index_path, embedder=None):
    return TranscriptIndex(EmbeddedBackend(index_path).open(embedder))


@pytest.fixture
def ingest(counter):
    def run(paths, index_path, embedder=None):
        return ingest_files(paths, index_path, embedder or HashEmbedder(), count_tokens=counter.count, max_tokens=64, batch=64)

    return run


def test_ingest_is_incremental(tmp_path, ingest, seed_path):
    index_path = tmp_path / "index"
    other = tmp_path / "meeting.txt"
    other.write_text(TWO_TURNS, encoding="utf-8")

    first = ingest([seed_path], index_path)
    assert (first.added, first.replaced, first.unchanged) == (["kerry-lavrov-moscow-2015-12-15"], [], [])

    second = ingest([seed_path, other], index_path)
    assert (second.added, second.unchanged) == (["meeting"], ["kerry-lavrov-moscow-2015-12-15"])

    again = ingest([seed_path, other], index_path)
    assert (again.added, again.replaced, again.chunks) == ([], [], 0)

    other.write_text(TWO_TURNS.replace("May", "June"), encoding="utf-8")
    changed = ingest([other], index_path)
    assert changed.replaced == ["meeting"]

    index = load(index_path, "hash-64")
    meeting = [c for c in index.chunks if c.document == "meeting"]
    assert [c.text for c in meeting] == ["We will open the bridge in June.", "The budget is not approved yet."]
    assert index.store.vectors(index.store.chunk_ids()).shape == (len(index.chunks), 64)
    # The replaced version's segment had no live row left and is gone; the seed's was never rewritten.
    assert sorted(p.name for p in index_path.iterdir() if p.name.startswith("seg-")) == ["seg-000001-0", "seg-000003-0"]


def test_a_bad_file_in_a_batch_is_reported_and_the_others_are_kept(tmp_path, ingest, seed_path):
    index_path = tmp_path / "index"
    ingest([seed_path], index_path)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe not utf-8")
    good = tmp_path / "good.txt"
    good.write_text(TWO_TURNS, encoding="utf-8")
    report = ingest([good, bad], index_path)
    assert report.added == ["good"]
    assert [path for path, _ in report.rejected] == [str(bad)]
    assert "bad.txt:1: not valid UTF-8" in report.rejected[0][1]
    assert set(load(index_path).records) == {"kerry-lavrov-moscow-2015-12-15", "good"}


def test_a_folder_skips_sidecars_and_other_files_and_says_why(tmp_path, ingest):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "meeting.txt").write_text(TWO_TURNS, encoding="utf-8")
    (folder / "meeting.turns.json").write_text("[]", encoding="utf-8")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    (folder / "README.md").write_text("# Minutes of the harbour board", encoding="utf-8")
    (folder / ".hidden.txt").write_text("ignored", encoding="utf-8")
    report = ingest([folder], tmp_path / "index")
    assert report.added == ["meeting"] and report.rejected == []
    reasons = {Path(path).name: reason for path, reason in report.skipped}
    assert reasons == {
        "README.md": "the folder's documentation, not a transcript",
        "meeting.turns.json": "an annotation sidecar of its .txt transcript",
        "notes.pdf": reasons["notes.pdf"],
    }
    assert reasons["notes.pdf"].startswith("not a transcript format (")


def test_a_crash_while_saving_leaves_the_previous_index_loadable(tmp_path, ingest, seed_path, monkeypatch):
    index_path = tmp_path / "index"
    ingest([seed_path], index_path)
    other = tmp_path / "meeting.txt"
    other.write_text(TWO_TURNS, encoding="utf-8")

    def crash(path, matrix):
        path.write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(segments, "write_vectors", crash)
    with pytest.raises(IndexWriteError, match="disk full"):
        ingest([other], index_path)
    monkeypatch.undo()
    index = load(index_path, "hash-64")
    assert list(index.records) == ["kerry-lavrov-moscow-2015-12-15"]
    assert not [p for p in index_path.iterdir() if p.name.startswith(".seg-")]


def test_loading_with_another_embedder_fails_clearly(tmp_path, ingest, seed_path):
    index_path = tmp_path / "index"
    ingest([seed_path], index_path)
    with pytest.raises(IndexMismatch, match="built with embedder 'hash-64', but 'all-MiniLM-L6-v2' is configured"):
        load(index_path, "all-MiniLM-L6-v2")
    with pytest.raises(IndexMismatch):
        ingest([seed_path], index_path, HashEmbedder(dim=32))


def test_corrupt_files_fail_with_a_message_naming_them(tmp_path, ingest, seed_path):
    index_path = tmp_path / "index"
    ingest([seed_path], index_path)
    segment = next(p for p in index_path.iterdir() if p.name.startswith("seg-"))

    broken = tmp_path / "broken-vectors"
    shutil.copytree(index_path, broken)
    (broken / segment.name / "vectors.npy").write_bytes(b"garbage")
    with pytest.raises(IndexCorrupt, match="cannot read the vector file"):
        load(broken)

    truncated = tmp_path / "truncated-chunks"
    shutil.copytree(index_path, truncated)
    columns = json.loads((truncated / segment.name / "chunks.json").read_text())
    (truncated / segment.name / "chunks.json").write_text(json.dumps({k: v[:-1] for k, v in columns.items()}))
    with pytest.raises(IndexCorrupt, match=r"83 chunks but 84 vectors \(84 in the manifest\); rebuild it"):
        load(truncated)

    manifest = tmp_path / "bad-manifest"
    shutil.copytree(index_path, manifest)
    (manifest / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorrupt, match="cannot read"):
        load(manifest)

    text = tmp_path / "edited-text"
    shutil.copytree(index_path, text)
    stored = next((text / "texts").iterdir())
    stored.write_text(stored.read_text().replace("Lavrov", "Putin"))
    # Transcripts are read on first use, so an edited text is found when something asks for it.
    edited = load(text)
    with pytest.raises(IndexCorrupt, match="does not match its hash"):
        list(edited.transcripts())

    with pytest.raises(IndexNotFound, match="run 'rag ingest' first"):
        load(tmp_path / "nowhere")


def test_remove_document(tmp_path, ingest, seed_path):
    index_path = tmp_path / "index"
    other = tmp_path / "meeting.txt"
    other.write_text(TWO_TURNS, encoding="utf-8")
    ingest([seed_path, other], index_path)
    remove_document(index_path, HashEmbedder(), "kerry-lavrov-moscow-2015-12-15")
    index = load(index_path)
    assert list(index.records) == ["meeting"]
    assert [c.document for c in index.chunks] == ["meeting", "meeting"]
    assert len(list((index_path / "texts").glob("*.txt"))) == 1
    manifest = json.loads((index_path / "manifest.json").read_text())
    assert list(manifest["documents"]) == ["meeting"]
    with pytest.raises(UnknownDocument):
        remove_document(index_path, HashEmbedder(), "kerry-lavrov-moscow-2015-12-15")


def test_every_format_reads_back_from_the_index_with_the_same_turns(tmp_path, ingest):
    paths = [REAL_FORMATS / name for name in REAL_FORMAT_FILES]
    ingest(paths, tmp_path / "index")
    index = EmbeddedBackend(tmp_path / "index").open()
    for path in paths:
        parsed = read_transcript(path)
        stored = index.transcript(parsed.id)
        assert stored.text == parsed.text
        assert stored.turns == parsed.turns, path.name
        assert (stored.format, stored.metadata, stored.cues) == (parsed.format, parsed.metadata, parsed.cues)


def test_an_index_opens_from_its_records_and_reads_a_transcript_when_asked(tmp_path, ingest, seed_path):
    index_path = tmp_path / "index"
    other = tmp_path / "meeting.txt"
    other.write_text(TWO_TURNS, encoding="utf-8")
    ingest([seed_path, other], index_path)
    fresh = load(index_path)
    people = fresh.people()
    assert fresh.records["meeting"].voices == (("ALICE SMITH", "ALICE SMITH", 1), ("BOB JONES", "BOB JONES", 1))
    assert [(p.id, p.turns) for p in fresh.people("meeting")] == [("ALICE SMITH", 1), ("BOB JONES", 1)]

    # Opening reads no transcript: with one text gone, everything but that transcript still works.
    missing = fresh.records["meeting"].sha256
    gone = tmp_path / "gone"
    shutil.copytree(index_path, gone)
    (gone / "texts" / f"{missing}.txt").unlink()
    lazy = load(gone)
    assert lazy.people() == people and lazy.speakers("meeting") == ["ALICE SMITH", "BOB JONES"]
    assert lazy.transcript("kerry-lavrov-moscow-2015-12-15").turns == fresh.transcript("kerry-lavrov-moscow-2015-12-15").turns
    with pytest.raises(IndexCorrupt, match="'meeting' are missing or unreadable"):
        lazy.transcript("meeting")

    # Records written before they kept voices: their transcripts are read at load, the same persons
    # come out, and the next commit stores the voices.
    old = tmp_path / "old"
    shutil.copytree(index_path, old)
    manifest = json.loads((old / "manifest.json").read_text())
    for record in manifest["documents"].values():
        del record["voices"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    assert load(old).people() == people and load(old).records["meeting"].voices is None
    third = tmp_path / "third.txt"
    third.write_text("CAROL WHITE: Nothing to add.\n", encoding="utf-8")
    ingest([third], old)
    upgraded = load(old).records
    assert {doc: upgraded[doc].voices for doc in fresh.records} == {doc: r.voices for doc, r in fresh.records.items()}
