"""all-MiniLM-L6-v2 exported to ONNX (``rag.embedders.onnx_export``), run with onnxruntime and ``tokenizers``.

No torch: this is the query path's embedder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

from rag.embedders.onnx_export import INFO_FILE, INPUT_NAMES, MODEL_FILE
from rag.embedders.packaged import TOKENIZER_FILE
from rag.errors import ModelError


class OnnxEmbedder:
    """An exported model folder; ``name`` is ``minilm-<variant>@<sha256 of model.onnx>``."""

    def __init__(self, folder: Path, *, batch_size: int = 32, threads: int = 0) -> None:
        try:
            info = json.loads((folder / INFO_FILE).read_text())
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
            self._session = onnxruntime.InferenceSession(
                str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
            )
            tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        except Exception as exc:  # onnxruntime and tokenizers raise their own unrelated types
            raise ModelError(f"cannot load the ONNX embedding model from {folder}: {exc}") from exc
        # The packaged tokenizer pads every input to 128 tokens and cuts there; sentence-transformers
        # pads a batch to its longest input and cuts at the model's max_seq_length (256).
        padding = tokenizer.padding or {}
        tokenizer.enable_padding(pad_id=padding.get("pad_id", 0), pad_token=padding.get("pad_token", "[PAD]"))
        tokenizer.enable_truncation(int(info["max_seq_length"]))
        self._tokenizer = tokenizer
        self._batch_size = batch_size
        self.name = f"minilm-{info['variant']}@{info['sha256']}"
        self.dim = int(self._session.get_outputs()[0].shape[-1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Longest first, as sentence-transformers batches: inputs of a batch pad to similar lengths.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in rows])
            feeds = {
                INPUT_NAMES[0]: np.array([e.ids for e in encodings], dtype=np.int64),
                INPUT_NAMES[1]: np.array([e.attention_mask for e in encodings], dtype=np.int64),
                INPUT_NAMES[2]: np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            vectors[rows] = self._session.run(None, feeds)[0]
        return vectors
