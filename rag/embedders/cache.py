"""A bounded cache of single-text embeddings in front of any embedder: a repeated question costs no model run."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from rag.embedders.embedding import Embedder


class CachedEmbedder:
    """Remembers the vectors of the last ``size`` texts embedded one at a time (questions, queries).

    Batches (an ingest's chunks) go straight through: they are embedded once and would only
    push the questions out. Safe to share between the service's threads.
    """

    def __init__(self, inner: Embedder, size: int) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.embed(texts)
        text = texts[0]
        with self._lock:
            vector = self._vectors.get(text)
            if vector is not None:
                self._vectors.move_to_end(text)
        if vector is None:
            vector = self.inner.embed([text])[0]
            vector.setflags(write=False)
            with self._lock:
                self._vectors[text] = vector
                while len(self._vectors) > self._size:
                    self._vectors.popitem(last=False)
        return vector[np.newaxis, :].copy()
