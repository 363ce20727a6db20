"""all-MiniLM-L6-v2 through sentence-transformers and torch: the reference the ONNX export is checked against."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.embedders.packaged import WEIGHTS_FILE, file_sha256
from rag.errors import ModelError


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a folder on disk, on the CPU.

    Its ``name`` is ``label@sha256`` of the weights file, as the ONNX embedders name theirs.
    """

    def __init__(self, label: str, model_dir: Path, batch_size: int = 32) -> None:
        # Belt and braces: even a misconfigured model folder must never reach for the hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()

            self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
            weights = file_sha256(model_dir / WEIGHTS_FILE)
        except Exception as exc:  # the library raises many unrelated types for a bad folder
            raise ModelError(f"cannot load embedding model {label!r} from {model_dir}: {exc}") from exc
        self.name = f"{label}@{weights}"
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
