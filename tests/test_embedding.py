"""The torch-free embedders (ONNX, int8 and fp32) against sentence-transformers on the seed questions.

Real models: the packaged all-MiniLM-L6-v2 through torch, and its ONNX exports (made by the test
session if `make setup` has not made them already).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from pydantic import ValidationError

from rag.embedders.cache import CachedEmbedder
from rag.embedders.embedding import EmbedderConfig, load_embedder
from rag.embedders.hashing import HashEmbedder
from rag.embedders.onnx_export import MODEL_FILE, RUNTIME_WEIGHTS, export_dir, runtime_model
from rag.embedders.onnx_runtime import OnnxEmbedder, token_batches
from rag.embedders.packaged import file_sha256
from rag.errors import ModelError
from rag.formats import read_transcript
from rag.indexing.ingest import prepare_transcript
from rag.settings import Settings
from tests.conftest import CACHE_DIR, ROOT

SEED_QUESTIONS = [
    json.loads(line)["question"]
    for line in (ROOT / "eval" / "sets" / "seed.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]
CONFIG = EmbedderConfig(models_dir=CACHE_DIR / "embedders")
TOP = 3


@pytest.fixture(scope="module")
def chunk_texts(seed_engine) -> list[str]:
    return [chunk.text for chunk in seed_engine.snapshot.index.chunks]


def _dense_ranking(embedder, chunk_texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each seed question's chunks, best first, and the chunk vectors."""
    chunks = embedder.embed(chunk_texts)
    scores = embedder.embed(SEED_QUESTIONS) @ chunks.T
    return np.argsort(-scores, axis=1, kind="stable"), chunks


@pytest.fixture(scope="module")
def torch_ranking(chunk_texts):
    return _dense_ranking(load_embedder("minilm-torch", CONFIG), chunk_texts)


def test_fp32_onnx_gives_sentence_transformers_vectors_and_ranking(chunk_texts, torch_ranking):
    ranking, vectors = _dense_ranking(load_embedder("minilm-fp32", CONFIG), chunk_texts)
    reference_ranking, reference_vectors = torch_ranking
    assert np.abs(vectors - reference_vectors).max() < 1e-4
    assert (ranking[:, :TOP] == reference_ranking[:, :TOP]).all()


def test_int8_onnx_keeps_sentence_transformers_top_results(chunk_texts, torch_ranking):
    ranking, _ = _dense_ranking(load_embedder("minilm-int8", CONFIG), chunk_texts)
    reference = torch_ranking[0]
    # Quantised weights move scores a little, so near-ties can swap: every question's best
    # chunk must stay among sentence-transformers' top 3, and most must stay first. How many
    # stay first depends on the batch-mates (activations are quantised per batch): 86-92% of
    # the seed questions over batch budgets of 1,024-4,096 tokens, 89% one text at a time.
    assert all(ranking[q, 0] in reference[q, :TOP] for q in range(len(SEED_QUESTIONS)))
    same_first = float(np.mean(ranking[:, 0] == reference[:, 0]))
    assert same_first >= 0.85, same_first


@pytest.mark.parametrize("variant", ["int8", "fp32"])
def test_onnx_embedder_is_named_by_its_model_files_sha256(variant):
    embedder = load_embedder(f"minilm-{variant}", CONFIG)
    model_file = export_dir(CONFIG.models_dir, variant) / MODEL_FILE
    assert embedder.name == f"minilm-{variant}@{file_sha256(model_file)}"
    assert embedder.dim == 384


# The int8 model quantises activations with one scale per batch (dynamic quantisation), so a
# text's vector moves with its batch-mates: "Yes." beside a 400-word text had cosine 0.948 with
# "Yes." alone. One reason minilm-fp32, whose vectors do not move, is the default.
@pytest.mark.parametrize(("variant", "min_cosine"), [("fp32", 0.99999), ("int8", 0.9)])
def test_onnx_vectors_are_unit_length_whatever_they_are_batched_with(variant, min_cosine):
    """Padding never leaks into a vector."""
    embedder = load_embedder(f"minilm-{variant}", CONFIG)
    texts = ["What did Lavrov say about the terrorist list?", "Yes.", "word " * 400]
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([text]) for text in texts])
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert (together * alone).sum(axis=1).min() >= min_cosine
    assert embedder.embed([]).shape == (0, 384)


def test_query_cache_returns_the_vectors_of_the_embedder_it_fronts():
    inner = HashEmbedder()
    cached = CachedEmbedder(inner, size=2)
    first = cached.embed(["terrorist list"])
    first[0, :] = 0.0  # a caller scribbling on its copy must not reach the cache
    for text in ["terrorist list", "regime change", "ceasefire", "terrorist list"]:
        assert np.array_equal(cached.embed([text]), inner.embed([text]))
    assert np.array_equal(cached.embed(["a", "b"]), inner.embed(["a", "b"]))
    assert cached.name == inner.name and cached.dim == inner.dim


def test_unknown_embedder_is_refused_by_name():
    with pytest.raises(ModelError, match="unknown embedder 'minilm'"):
        load_embedder("minilm")
    with pytest.raises(ValidationError, match="unknown embedder"):
        Settings(_env_file=None, embedder="minilm")


def test_missing_export_is_made_on_first_use_into_the_models_dir(tmp_path: Path):
    """The export itself: torch traces the packaged model once; a second load finds the folder."""
    embedder = load_embedder("minilm-fp32", EmbedderConfig(models_dir=tmp_path))
    model_file = export_dir(tmp_path, "fp32") / MODEL_FILE
    assert model_file.is_file()
    reference = load_embedder("minilm-fp32", CONFIG)
    assert embedder.name == reference.name  # the export is deterministic: same package, same file
    runtime = runtime_model(export_dir(tmp_path, "fp32"))
    assert runtime.parent.parent == model_file.parent and (runtime.parent / RUNTIME_WEIGHTS).is_file()


@pytest.mark.parametrize("variant", ["int8", "fp32"])
def test_the_optimised_copy_gives_the_exported_models_vectors(tmp_path: Path, variant):
    """Sessions load onnxruntime's optimised copy; an export without one (older, or another onnxruntime) gets one."""
    folder = tmp_path / "export"
    shutil.copytree(export_dir(CONFIG.models_dir, variant), folder, ignore=shutil.ignore_patterns("onnxruntime-*"))
    runtime = runtime_model(folder)
    assert runtime.is_file() and (runtime.parent / RUNTIME_WEIGHTS).stat().st_size > 1_000_000
    assert runtime_model(folder) == runtime
    texts = SEED_QUESTIONS[:20] + ["word " * 300]
    optimised = OnnxEmbedder(folder, runtime).embed(texts)
    plain = OnnxEmbedder(folder, folder / MODEL_FILE).embed(texts)
    assert np.abs(optimised - plain).max() < 1e-6


def test_an_export_folder_that_cannot_take_the_optimised_copy_loads_model_onnx(tmp_path: Path, caplog):
    folder = tmp_path / "export"
    shutil.copytree(export_dir(CONFIG.models_dir, "fp32"), folder, ignore=shutil.ignore_patterns("onnxruntime-*"))
    (folder / f"onnxruntime-{onnxruntime.__version__}").write_text("a file where the copy's folder should go")
    with caplog.at_level(logging.WARNING, logger="verbatim.embedders"):
        assert runtime_model(folder) == folder / MODEL_FILE
    assert "cannot save the optimised embedding model" in caplog.text
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []  # no half-written copy left


def test_token_batches_group_similar_lengths_within_the_budget():
    lengths = [3, 40, 5, 12, 300, 11, 4, 39]
    batches = token_batches(lengths, max_texts=3, max_tokens=100)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert [lengths[batch[0]] for batch in batches] == sorted((lengths[b[0]] for b in batches), reverse=True)
    for batch in batches:
        assert lengths[batch[0]] == max(lengths[i] for i in batch)  # the first input sets the padded width
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * lengths[batch[0]] <= 100
    assert batches[0] == [4]  # longer than the budget: alone
    assert token_batches([], max_texts=3, max_tokens=100) == []


def test_ingest_embeds_longest_first_but_keeps_each_vector_with_its_chunk(seed_path):
    """Chunks go to the embedder sorted by length, in handfuls; their vectors come back in chunk order."""
    embedder = HashEmbedder()
    reports: list[tuple[int, int]] = []
    prepared = prepare_transcript(
        read_transcript(seed_path), embedder, count_tokens=lambda text: len(text.split()), max_tokens=60, batch=5,
        progress=lambda _label, done, total: reports.append((done, total)),
    )
    texts = [chunk.text for chunk in prepared.chunks]
    assert len(texts) > 5
    assert np.array_equal(prepared.vectors, embedder.embed(texts))
    assert reports[0] == (0, len(texts)) and reports[-1] == (len(texts), len(texts))
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)


def test_fp32_vectors_do_not_depend_on_how_texts_are_batched():
    """Token-budget batches (many short texts, or one long one) give each text its own vector."""
    texts = ["Yes.", "What did Lavrov say about the terrorist list?"] * 20 + ["word " * 250]
    small = load_embedder("minilm-fp32", EmbedderConfig(models_dir=CONFIG.models_dir, batch_tokens=64, batch_size=4))
    large = load_embedder("minilm-fp32", EmbedderConfig(models_dir=CONFIG.models_dir, batch_tokens=100_000))
    assert np.abs(small.embed(texts) - large.embed(texts)).max() < 1e-6
