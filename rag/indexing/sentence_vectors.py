"""Sentence vectors embedded at ingest and kept beside the index, so that a fresh process need not embed them.

The extractive generator scores every quotable sentence of its passages by cosine with the
question; embedding those sentences was a third of a cold ``rag ask``. Ingest embeds the
sentences of the chunks it adds and writes them here after the store has committed.

This is a cache owned by indexing and answering, not part of the store (any store backend
can have one): a vector is keyed by a hash of its sentence's text, in one folder per exact
embedder name, so the cache can lack a sentence (which is then embedded) but never give one
text another's vector, whatever was ingested, replaced or deleted since.

Layout: ``INDEX/sentence-vectors/<embedder>/<part>.keys.npy`` (sorted 16-byte BLAKE2b digests)
and ``<part>.vectors.npy`` (float32 rows in the same order), memory-mapped when read. Each
ingest adds one part with the sentences no part holds yet; ``<part>`` is the digest of its keys.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.atomic_files import replace_atomically
from rag.sentences import quotable_sentences

logger = logging.getLogger("verbatim.sentence_vectors")
FOLDER = "sentence-vectors"
KEYS_SUFFIX = ".keys.npy"
VECTORS_SUFFIX = ".vectors.npy"
_KEY = np.dtype("S16")
# Each part is searched on every lookup, so parts are merged once there are more than this many;
# the smallest are merged first, so an ingest rarely rewrites the big parts of earlier ones.
MAX_PARTS = 8


def sentence_key(text: str) -> bytes:
    """The 16-byte digest a sentence's vector is stored under."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def chunk_sentences(texts: Iterable[str]) -> list[str]:
    """The distinct quotable sentences of these chunk texts, as the extractive generator cuts them."""
    return list(dict.fromkeys(text[start:end] for text in texts for start, end in quotable_sentences(text)))


@dataclass(frozen=True)
class _Part:
    name: str
    keys: np.ndarray
    vectors: np.ndarray


class SentenceVectors:
    """The stored sentence vectors of one embedder under one index folder, as found when opened.

    A part that cannot be read, or does not match the embedder's dimension, is left out with a
    warning: its sentences are embedded again when asked for, so a damaged cache costs time, not answers.
    """

    def __init__(self, index_path: Path, embedder: str, dim: int) -> None:
        self.folder = index_path / FOLDER / re.sub(r"[^\w.-]", "_", embedder)
        self.dim = dim
        self._parts = [part for part in map(self._open_part, self._part_names()) if part is not None]

    def __len__(self) -> int:
        return sum(len(part.keys) for part in self._parts)

    def lookup(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The stored vectors of ``texts`` (``len(texts) x dim``) and which were found (zero rows were not)."""
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        found = np.zeros(len(texts), dtype=bool)
        if not texts or not self._parts:
            return vectors, found
        keys = np.array([sentence_key(text) for text in texts], dtype=_KEY)
        for part in self._parts:
            at = np.minimum(np.searchsorted(part.keys, keys), len(part.keys) - 1)
            hits = np.flatnonzero((part.keys[at] == keys) & ~found)
            vectors[hits] = part.vectors[at[hits]]
            found[hits] = True
        return vectors, found

    def missing(self, texts: Sequence[str]) -> list[str]:
        """The texts (in order) whose vectors are not stored."""
        _, found = self.lookup(texts)
        return [text for text, hit in zip(texts, found) if not hit]

    def add(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store the vectors of the texts not stored yet (row i is ``texts[i]``) as a new part.

        Called after the store commit; a crash before it leaves sentences to be embedded when asked.
        :raises OSError: the part could not be written (nothing was replaced).
        """
        _, found = self.lookup(texts)
        fresh = {sentence_key(text): vectors[i] for i, text in enumerate(texts) if not found[i]}
        if not fresh:
            return
        ordered = sorted(fresh)
        self._write_part(np.array(ordered, dtype=_KEY), np.stack([fresh[key] for key in ordered]).astype(np.float32))
        if len(self._parts) > MAX_PARTS:
            self._merge_smallest(len(self._parts) - MAX_PARTS + 1)

    def _merge_smallest(self, count: int) -> None:
        smallest = sorted(self._parts, key=lambda part: len(part.keys))[:count]
        keys = np.concatenate([part.keys for part in smallest])
        vectors = np.concatenate([part.vectors for part in smallest])
        keys, first = np.unique(keys, return_index=True)
        merged = self._write_part(keys, vectors[first])
        for part in smallest:
            if part.name == merged:  # it held every key of the others already
                continue
            self._parts.remove(part)
            # The keys file goes first: a part without one is never read.
            (self.folder / f"{part.name}{KEYS_SUFFIX}").unlink(missing_ok=True)
            (self.folder / f"{part.name}{VECTORS_SUFFIX}").unlink(missing_ok=True)

    def _write_part(self, keys: np.ndarray, vectors: np.ndarray) -> str:
        """Write a part and read it from now on; returns its name (the same keys make the same part)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.blake2b(keys.tobytes(), digest_size=16).hexdigest()
        # The vectors first: a part is read only once its keys file exists.
        _save_atomic(self.folder / f"{name}{VECTORS_SUFFIX}", vectors)
        _save_atomic(self.folder / f"{name}{KEYS_SUFFIX}", keys)
        part = self._open_part(name)
        if part is not None and all(existing.name != name for existing in self._parts):
            self._parts.append(part)
        return name

    def _part_names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name[: -len(KEYS_SUFFIX)] for p in self.folder.iterdir() if p.name.endswith(KEYS_SUFFIX))

    def _open_part(self, name: str) -> _Part | None:
        try:
            keys = np.load(self.folder / f"{name}{KEYS_SUFFIX}", mmap_mode="r")
            vectors = np.load(self.folder / f"{name}{VECTORS_SUFFIX}", mmap_mode="r")
        except (OSError, ValueError) as exc:
            problem = f"unreadable ({exc})"
        else:
            if keys.dtype != _KEY or keys.ndim != 1 or not len(keys):
                problem = f"keys of type {keys.dtype} and shape {keys.shape}, not 16-byte digests"
            elif vectors.dtype != np.float32 or vectors.shape != (len(keys), self.dim):
                problem = (f"vectors of type {vectors.dtype} and shape {vectors.shape}, "
                           f"not float32 x {len(keys)} x {self.dim}")
            else:
                return _Part(name, keys, vectors)
        logger.warning("ignoring the sentence vectors %s in %s: %s", name, self.folder, problem)
        return None


def _save_atomic(target: Path, array: np.ndarray) -> None:
    def write(temporary: Path) -> None:
        with temporary.open("wb") as handle:
            np.save(handle, array, allow_pickle=False)

    replace_atomically(target, write)
