"""all-MiniLM-L6-v2 exported to ONNX (``rag.embedders.onnx_export``), run with onnxruntime and ``tokenizers``.

No torch: this is the query path's embedder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime
from tokenizers import Encoding, Tokenizer

from rag.embedders.onnx_export import INFO_FILE, INPUT_NAMES
from rag.embedders.packaged import TOKENIZER_FILE
from rag.errors import ModelError


class OnnxEmbedder:
    """An exported model folder; ``name`` is ``minilm-<variant>@<sha256 of model.onnx>``.

    ``model`` is the file the session runs: the folder's ``model.onnx`` or its optimised copy.
    """

    def __init__(
        self, folder: Path, model: Path, *, batch_size: int = 32, batch_tokens: int = 1024, threads: int = 0
    ) -> None:
        try:
            info = json.loads((folder / INFO_FILE).read_text())
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            # Threads that spin while waiting for work burn CPU the other workers (and neighbours)
            # need: embedding 37 sentences took 1.02 CPU s with spinning, 0.69 s without (2 cores).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
            self._session = onnxruntime.InferenceSession(
                str(model), options, providers=["CPUExecutionProvider"]
            )
            tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        except Exception as exc:  # onnxruntime and tokenizers raise their own unrelated types
            raise ModelError(f"cannot load the ONNX embedding model from {folder}: {exc}") from exc
        # The packaged tokenizer pads every input to 128 tokens and cuts there; sentence-transformers
        # cuts at the model's max_seq_length (256). Padding is done here, per batch, to its longest input.
        tokenizer.no_padding()
        tokenizer.enable_truncation(int(info["max_seq_length"]))
        self._tokenizer = tokenizer
        self._batch_size = batch_size
        self._batch_tokens = batch_tokens
        self.name = f"minilm-{info['variant']}@{info['sha256']}"
        self.dim = int(self._session.get_outputs()[0].shape[-1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        for rows in token_batches([len(e.ids) for e in encodings], self._batch_size, self._batch_tokens):
            vectors[rows] = self._session.run(None, _feeds([encodings[i] for i in rows]))[0]
        return vectors


def token_batches(lengths: Sequence[int], max_texts: int, max_tokens: int) -> list[list[int]]:
    """Indices of ``lengths`` grouped into batches, longest first, each padding to its first (longest) input.

    A batch holds at most ``max_texts`` inputs and, padded, at most ``max_tokens`` tokens (a
    single longer input goes alone). Sorting by length keeps the padding, which the model computes
    like real tokens, small: on the QMSum meetings, batches of 32 in document order padded
    111,235 tokens to 196,679; sorted with a budget of 1,024 they pad to 119,351.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for index in order:
        batch = batches[-1] if batches else None
        if batch and len(batch) < max_texts and (len(batch) + 1) * lengths[batch[0]] <= max_tokens:
            batch.append(index)
        else:
            batches.append([index])
    return batches


def _feeds(encodings: list[Encoding]) -> dict[str, np.ndarray]:
    """The model's three inputs, zero-padded on the right to the longest encoding."""
    width = max(len(e.ids) for e in encodings)
    arrays = [np.zeros((len(encodings), width), dtype=np.int64) for _ in INPUT_NAMES]
    for row, encoding in enumerate(encodings):
        size = len(encoding.ids)
        for array, values in zip(arrays, (encoding.ids, encoding.attention_mask, encoding.type_ids)):
            array[row, :size] = values
    return dict(zip(INPUT_NAMES, arrays))
