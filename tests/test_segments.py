"""The embedded store's segments on disk: new documents in new segments, delete marks, merges, crashes,
format 2 indexes, with real numpy/FAISS files (hash embedder; the real one where it is cheap)."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import faiss
import numpy as np
import pytest
from click.testing import CliRunner

from rag.cli import main
from rag.embedders.hashing import HashEmbedder
from rag.errors import IndexWriteError
from rag.formats.text import parse_text
from rag.indexing.ingest import ingest_files, ingest_transcripts, remove_document
from rag.stores import embedded, writer
from rag.stores.policy import AnnPolicy, MergePolicy, SegmentShape, merge_all, plan_merges
from rag.stores.embedded import EmbeddedBackend, EmbeddedStore
from tests.conftest import REAL_FORMAT_FILES, REAL_FORMATS

EMBEDDER = HashEmbedder()
MEETING = "ALICE SMITH: We will open the bridge in {month}.\n\nBOB JONES: The budget is not approved yet.\n"


def meeting(name: str, month: str = "May"):
    return parse_text(MEETING.format(month=month), name, f"{name}.txt")


@pytest.fixture
def write(counter):
    def run(target, *transcripts, embedder=EMBEDDER):
        return ingest_transcripts(list(transcripts), target, embedder, count_tokens=counter.count, max_tokens=64,
                                  batch=64)

    return run


def segment_folders(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.is_dir() and p.name.startswith(("seg-", ".seg-", "gen-")))


def manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())


def queries(dim: int, count: int = 12) -> np.ndarray:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def answers(store: EmbeddedStore) -> list:
    """Everything a reader can ask of the store's vectors, for a fixed set of queries."""
    speaker = store.chunks()[0].speaker
    document = store.chunks()[-1].document
    results: list = [list(store.chunk_ids())]
    for query in queries(store.dim):
        results.append(store.search(query, 10))
        results.append(store.search(query, 5, speakers={speaker}))
        results.append(store.search(query, 5, documents={document}))
        results.append(store.similarities(query).tolist())
    return results


def test_adding_a_document_writes_one_segment_of_its_rows_and_touches_no_other(tmp_path, write, seed_path):
    path = tmp_path / "index"
    ingest_files([seed_path], path, EMBEDDER, count_tokens=len, max_tokens=64, batch=64)
    [first] = segment_folders(path)
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (path / first).iterdir()}
    write(path, meeting("harbour"))
    assert segment_folders(path) == [first, "seg-000002-0"]
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (path / first).iterdir()} == before
    added = np.load(path / "seg-000002-0" / "vectors.npy")
    assert added.shape == (2, 64)
    store = EmbeddedBackend(path).open()
    assert list(store.chunk_ids())[-2:] == ["harbour:0:0", "harbour:1:0"]
    np.testing.assert_array_equal(store.vectors(["harbour:0:0", "harbour:1:0"]), added)
    assert [entry["name"] for entry in manifest(path)["segments"]] == [first, "seg-000002-0"]


def test_a_commit_reads_only_the_segments_holding_the_documents_it_replaces(tmp_path, write, monkeypatch):
    path = tmp_path / "index"
    write(path, meeting("harbour"))
    write(path, meeting("school"))
    read = []
    original = writer.read_segment
    monkeypatch.setattr(writer, "read_segment", lambda folder, *args: read.append(folder.name) or original(folder, *args))
    write(path, meeting("ferry"))
    assert read == []
    write(path, meeting("school", "June"))
    assert read == ["seg-000002-0"]
    assert sorted(EmbeddedBackend(path).open().documents()) == ["ferry", "harbour", "school"]


def test_delete_only_marks_rows_dead_and_replace_adds_a_segment(tmp_path, write):
    path = tmp_path / "index"
    write(path, meeting("harbour"), meeting("school"))
    remove_document(path, EMBEDDER, "harbour")
    assert segment_folders(path) == ["seg-000001-0"]
    assert manifest(path)["segments"] == [
        {"name": "seg-000001-0", "rows": 4, "dead": ["harbour:0:0", "harbour:1:0"], "documents": ["school"]}]
    store = EmbeddedBackend(path).open()
    assert list(store.chunk_ids()) == ["school:0:0", "school:1:0"]
    assert all(chunk_id.startswith("school") for chunk_id, _ in store.search(queries(64)[0], 10))

    write(path, meeting("school", "June"))
    entries = manifest(path)["segments"]
    # The old segment is now all dead: it is dropped from the manifest and its folder removed.
    assert [entry["name"] for entry in entries] == ["seg-000003-0"] and segment_folders(path) == ["seg-000003-0"]
    assert EmbeddedBackend(path).open().chunks(["school:0:0"])[0].text == "We will open the bridge in June."


def test_merging_changes_no_search_result(tmp_path, write, seed_path):
    path = tmp_path / "index"
    backend = EmbeddedBackend(path)
    ingest_files([seed_path], path, EMBEDDER, count_tokens=len, max_tokens=64, batch=64)
    for name in REAL_FORMAT_FILES:
        ingest_files([REAL_FORMATS / name], path, EMBEDDER, count_tokens=len, max_tokens=64, batch=64)
    write(path, meeting("harbour"), meeting("school"), meeting("ferry"))
    write(path, meeting("harbour", "June"))
    remove_document(path, EMBEDDER, "school")
    store = backend.open()
    assert len(store.segments) > 2 and any(segment.dead for segment in store.segments)
    expected = answers(store)

    report = backend.compact()
    assert (report.segments_before, report.segments_after) == (len(store.segments), 1)
    assert report.dead_rows_dropped == sum(len(segment.dead) for segment in store.segments)
    merged = backend.open()
    assert len(merged.segments) == 1 and not merged.segments[0].dead
    assert answers(merged) == expected
    assert backend.compact().segments_after == 1 and backend.open().generation == merged.generation


def test_commits_merge_by_the_policy_without_changing_results(tmp_path, write):
    path = tmp_path / "index"
    policy = EmbeddedBackend(path, MergePolicy(max_segments=3, max_dead_share=0.5))
    plain = tmp_path / "plain"
    for number in range(8):
        document = meeting(f"meeting-{number}", month=f"month {number}")
        write(policy, document)
        write(plain, document)
    write(policy, meeting("meeting-0", "June"))
    write(plain, meeting("meeting-0", "June"))
    merged, unmerged = policy.open(), EmbeddedBackend(plain).open()
    assert len(merged.segments) <= 3 < len(unmerged.segments)
    assert answers(merged) == answers(unmerged)


def test_a_crash_before_the_manifest_switch_leaves_the_previous_index_and_the_orphan_is_removed(
    tmp_path, write, monkeypatch
):
    path = tmp_path / "index"
    write(path, meeting("harbour"))
    before = answers(EmbeddedBackend(path).open())

    def crash(*args):
        raise OSError("power cut")

    monkeypatch.setattr(writer, "write_manifest", crash)
    with pytest.raises(IndexWriteError, match="power cut"):
        write(path, meeting("school"))
    monkeypatch.undo()
    # The new segment was written whole, but no manifest names it.
    assert segment_folders(path) == ["seg-000001-0", "seg-000002-0"]
    store = EmbeddedBackend(path).open()
    assert list(store.documents()) == ["harbour"] and answers(store) == before

    write(path, meeting("ferry"))
    assert segment_folders(path) == ["seg-000001-0", "seg-000002-0"]
    assert list(EmbeddedBackend(path).open().documents()) == ["ferry", "harbour"]
    assert sorted(p.name for p in (path / "seg-000002-0").iterdir()) == ["chunks.json", "vectors.npy"]
    (path / "seg-000099-0").mkdir()
    write(path, meeting("school"))
    assert "seg-000099-0" not in segment_folders(path)


def test_a_reader_keeps_its_snapshot_when_a_merge_removes_its_segments(tmp_path, write):
    path = tmp_path / "index"
    write(path, meeting("harbour"))
    write(path, meeting("school"))
    backend = EmbeddedBackend(path)
    reader = backend.open()
    expected = answers(reader)
    backend.compact()
    assert segment_folders(path) == ["seg-000003-0"]
    assert answers(reader) == expected


def write_format_2(store: EmbeddedStore, path: Path) -> None:
    """What the previous Verbatim wrote: one generation folder with a FAISS flat index of all vectors."""
    generation = path / "gen-000004"
    generation.mkdir()
    flat = faiss.IndexFlatIP(store.dim)
    flat.add(store.vectors(store.chunk_ids()))
    faiss.write_index(flat, str(generation / "vectors.faiss"))
    lines = "".join(json.dumps(asdict(chunk)) + "\n" for chunk in store.chunks())
    (generation / "chunks.jsonl").write_text(lines)
    shutil.rmtree(path / store.segments[0].name)
    raw = manifest(path)
    del raw["segments"]
    raw.update(format_version=2, generation="gen-000004")
    (path / "manifest.json").write_text(json.dumps(raw))


def test_a_format_2_index_opens_as_it_is_and_its_next_commit_converts_it(tmp_path, write, seed_path):
    path = tmp_path / "index"
    ingest_files([seed_path], path, EMBEDDER, count_tokens=len, max_tokens=64, batch=64)
    expected = answers(EmbeddedBackend(path).open())
    write_format_2(EmbeddedBackend(path).open(), path)

    legacy = EmbeddedBackend(path).open()
    assert legacy.generation == 4 and answers(legacy) == expected
    write(path, meeting("harbour"))
    assert segment_folders(path) == ["seg-000005-0", "seg-000005-1"]
    assert manifest(path)["format_version"] == 3
    converted = EmbeddedBackend(path).open()
    assert list(converted.chunk_ids())[:-2] == expected[0]
    remove_document(path, EMBEDDER, "harbour")
    assert answers(EmbeddedBackend(path).open()) == expected


def test_rag_compact_merges_the_configured_index(tmp_path, write, monkeypatch):
    path = tmp_path / "index"
    write(path, meeting("harbour"), meeting("ferry"))
    write(path, meeting("school"))
    remove_document(path, EMBEDDER, "harbour")
    monkeypatch.setenv("VERBATIM_EMBEDDER", "hash")
    result = CliRunner().invoke(main, ["compact", "--index", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("segments 2 -> 1, dropped 2 dead rows, 4 rows (")
    assert segment_folders(path) == ["seg-000004-0"]


def test_with_the_real_embedder_a_merge_keeps_every_ranking(tmp_path, write, minilm, seed_path, counter):
    path = tmp_path / "index"
    ingest_files([seed_path], path, minilm, count_tokens=counter.count, max_tokens=200, batch=64)
    write(path, meeting("harbour"), meeting("school"), embedder=minilm)
    remove_document(path, minilm, "harbour")
    backend = EmbeddedBackend(path)
    store = backend.open()
    questions = ["What did Lavrov say about Syria?", "sanctions on Russia", "When will the bridge open?"]
    vectors = [minilm.embed([question])[0] for question in questions]
    before = [(store.search(v, 10), store.similarities(v).tolist()) for v in vectors]
    backend.compact()
    merged = backend.open()
    assert [(merged.search(v, 10), merged.similarities(v).tolist()) for v in vectors] == before


def test_the_plan_merges_the_newest_segments_while_the_older_are_no_larger():
    policy = MergePolicy(max_segments=3, max_dead_share=0.3)
    shapes = [SegmentShape(100, 0), SegmentShape(40, 0), SegmentShape(10, 0), SegmentShape(5, 0),
              SegmentShape(2, 0, must_write=True)]
    assert plan_merges(shapes, policy) == [range(2, 5)]
    assert plan_merges(shapes, None) == [range(4, 5)]
    assert plan_merges(shapes[:3] + [SegmentShape(30, 29)], policy) == [range(2, 4)]
    assert plan_merges([SegmentShape(10, 4), SegmentShape(10, 1)], policy) == [range(0, 1)]
    assert merge_all([SegmentShape(10, 0)]) == [] and merge_all([SegmentShape(10, 1)]) == [range(0, 1)]


def test_a_large_segment_gets_an_approximate_index_whose_candidates_are_scored_exactly(tmp_path, seed_path, write):
    path = tmp_path / "index"
    ingest_files([seed_path], path, EMBEDDER, count_tokens=len, max_tokens=64, batch=64)
    exact = EmbeddedBackend(path).open()
    # A candidate list longer than the segment: the HNSW finds the true nearest rows, so its
    # answers can be compared with the exact search's exactly.
    policy = AnnPolicy(min_rows=50, m=16, ef_construction=40, ef_search=2000, oversample=4, exact_rows=0)
    approximate = EmbeddedBackend(path, ann=policy)
    # An index written before the policy: its large segment is rewritten once, with the HNSW file.
    approximate.compact()
    [segment] = segment_folders(path)
    assert sorted(p.name for p in (path / segment).iterdir()) == ["chunks.json", "hnsw-bounds.npy", "hnsw-rows.npy", "hnsw.faiss",
                                                                   "vectors.npy"]
    write(approximate, meeting("harbour"))
    assert not (path / segment_folders(path)[-1] / "hnsw.faiss").exists()  # 2 rows: searched exactly

    store, plain = approximate.open(), EmbeddedBackend(path).open()
    assert store.segments[0].ann is not None and plain.segments[0].ann is not None
    for query in queries(64):
        found, expected = store.search(query, 5), plain.search(query, 5)
        # What the exact search returns: the HNSW only chose which rows were scored (FAISS may
        # round a score's last bits differently over fewer rows).
        assert [chunk_id for chunk_id, _ in found] == [chunk_id for chunk_id, _ in expected]
        np.testing.assert_allclose([score for _, score in found], [score for _, score in expected], atol=1e-6)
    # Filtered (exact_rows 0): the HNSW searches only the allowed rows' vectors through an ID selector.
    speaker = plain.chunks()[0].speaker
    for options in ({"speakers": [speaker]}, {"documents": ["kerry-lavrov-moscow-2015-12-15"]},
                    {"documents": ["kerry-lavrov-moscow-2015-12-15"], "speakers": [speaker, "NOBODY"]}):
        for query in queries(64)[:8]:
            found, expected = store.search(query, 5, **options), plain.search(query, 5, **options)
            assert [chunk_id for chunk_id, _ in found] == [chunk_id for chunk_id, _ in expected]
    assert store.search(queries(64)[0], 5, speakers=["NOBODY"]) == []
    assert [segment.ann for segment in exact.segments] == [None]

    remove_document(approximate, EMBEDDER, "kerry-lavrov-moscow-2015-12-15")
    assert all(chunk_id.startswith("harbour") for chunk_id, _ in approximate.open().search(queries(64)[0], 5))


def test_segments_of_the_first_segment_format_open_and_take_removals(tmp_path, write):
    path = tmp_path / "index"
    write(path, meeting("harbour"), meeting("school"))
    expected = answers(EmbeddedBackend(path).open())
    # As the first segment commit wrote them: chunk metadata a line each, no documents per segment.
    segment = path / "seg-000001-0"
    chunks = EmbeddedBackend(path).open().chunks()
    (segment / "chunks.jsonl").write_text("".join(json.dumps(asdict(chunk)) + "\n" for chunk in chunks))
    (segment / "chunks.json").unlink()
    raw = manifest(path)
    del raw["segments"][0]["documents"]
    (path / "manifest.json").write_text(json.dumps(raw))

    assert answers(EmbeddedBackend(path).open()) == expected
    remove_document(path, EMBEDDER, "harbour")
    assert list(EmbeddedBackend(path).open().chunk_ids()) == ["school:0:0", "school:1:0"]


def test_a_reader_whose_segments_a_merge_removed_under_it_reads_the_new_manifest(tmp_path, write, monkeypatch):
    path = tmp_path / "index"
    write(path, meeting("harbour"))
    write(path, meeting("school"))
    backend = EmbeddedBackend(path)
    expected = answers(backend.open())
    original, merged = embedded.read_segment, []

    def read_after_a_merge(folder, *args):
        if not merged:  # the reader has the old manifest; a writer merges and prunes its segments now
            merged.append(backend.compact())
        return original(folder, *args)

    monkeypatch.setattr(embedded, "read_segment", read_after_a_merge)
    store = backend.open()
    assert [segment.name for segment in store.segments] == ["seg-000003-0"]
    assert answers(store) == expected
