"""Export the packaged all-MiniLM-L6-v2 to ONNX once, offline, at set-up time (``rag export-embedder``).

The exported graph takes the tokenizer's ``input_ids``, ``attention_mask`` and ``token_type_ids``
and returns the sentence embedding itself (mean pooling over real tokens, then L2 norm, as
sentence-transformers computes it), so running it needs only onnxruntime and ``tokenizers``.
The ``int8`` variant is onnxruntime's dynamic quantisation of the float32 export.

Layout of ``<models_dir>/all-MiniLM-L6-v2-<variant>/``: ``model.onnx``, ``tokenizer.json`` (copied
from the package), ``export.json`` (variant, the model file's sha256, the source weights'
sha256, the longest input) and ``onnxruntime-<version>/``, the graph as onnxruntime optimises it
for that version with the weights in a file of their own (what sessions load). A folder appears
whole (written aside, then renamed) or not at all. Export and quantisation are deterministic:
the same package gives the same ``model.onnx`` and sha256, which names the embedder.
"""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rag.embedders.packaged import (
    ST_CONFIG_FILE,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    file_sha256,
    packaged_model_dir,
)
from rag.errors import ModelError

VARIANTS = ("int8", "fp32")
MODEL_FILE = "model.onnx"
INFO_FILE = "export.json"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "sentence_embedding"
RUNTIME_WEIGHTS = "weights.bin"
# The ONNX operator set of the export; onnxruntime >= 1.14 runs it.
OPSET = 17

logger = logging.getLogger("verbatim.embedders")


def export_dir(models_dir: Path, variant: str) -> Path:
    return models_dir / f"all-MiniLM-L6-v2-{variant}"


def ensure_exported(variant: str, models_dir: Path) -> Path:
    """The folder of the exported model, exporting it first if it is not there yet.

    :raises ModelError: unknown variant, or the export failed.
    """
    folder = export_dir(models_dir, variant)
    if (folder / INFO_FILE).is_file():
        return folder
    return export_minilm(variant, models_dir)


def runtime_model(folder: Path) -> Path:
    """The model file sessions should load: the export's optimised copy for the installed onnxruntime.

    Made on first use when the export predates it or onnxruntime changed version. Where the
    folder cannot be written (a read-only install), ``model.onnx`` itself: slower to load, same vectors.
    """
    target = _runtime_dir(folder) / MODEL_FILE
    if target.is_file():
        return target
    try:
        with _exclusive(folder.parent / ".export.lock"):
            if not target.is_file():
                work = Path(tempfile.mkdtemp(prefix=f".{target.parent.name}-", dir=folder))
                try:
                    _optimise(folder / MODEL_FILE, work / MODEL_FILE)
                    work.chmod(0o755)
                    work.rename(target.parent)
                finally:
                    shutil.rmtree(work, ignore_errors=True)
    except Exception as exc:  # OSError, or onnxruntime's own unrelated types
        logger.warning("cannot save the optimised embedding model in %s (%s); loading model.onnx", folder, exc)
        return folder / MODEL_FILE
    return target


def _runtime_dir(folder: Path) -> Path:
    import onnxruntime

    # Its fused operators are onnxruntime's own: another version re-derives the copy.
    return folder / f"onnxruntime-{onnxruntime.__version__}"


def export_minilm(variant: str, models_dir: Path, *, replace: bool = False) -> Path:
    """Export (and for ``int8`` quantise) the packaged model into ``models_dir``.

    One process exports at a time (a lock file in ``models_dir``); a second one waiting for it
    finds the folder there and returns it, unless ``replace`` asks for a new export.

    :raises ModelError: unknown variant, the model package is missing, or the export failed.
    """
    if variant not in VARIANTS:
        raise ModelError(f"unknown ONNX variant {variant!r}; choose one of {list(VARIANTS)}")
    source = packaged_model_dir()
    folder = export_dir(models_dir, variant)
    models_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(models_dir / ".export.lock"):
        if not replace and (folder / INFO_FILE).is_file():
            return folder
        work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=models_dir))
        try:
            fp32 = work / ("fp32.onnx" if variant == "int8" else MODEL_FILE)
            _export_fp32(source, fp32)
            if variant == "int8":
                _quantise(fp32, work / MODEL_FILE)
                fp32.unlink()
            shutil.copyfile(source / TOKENIZER_FILE, work / TOKENIZER_FILE)
            runtime = work / _runtime_dir(folder).name
            runtime.mkdir()
            _optimise(work / MODEL_FILE, runtime / MODEL_FILE)
            info = {
                "variant": variant,
                "sha256": file_sha256(work / MODEL_FILE),
                "source_sha256": file_sha256(source / WEIGHTS_FILE),
                "max_seq_length": int(json.loads((source / ST_CONFIG_FILE).read_text())["max_seq_length"]),
                "opset": OPSET,
            }
            (work / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
            if folder.exists():
                shutil.rmtree(folder)
            work.chmod(0o755)  # mkdtemp's folder is private; the export is as readable as the package it came from
            work.rename(folder)
        except ModelError:
            raise
        except Exception as exc:  # torch's exporter and onnx raise many unrelated types
            raise ModelError(f"cannot export the embedding model to ONNX ({variant}): {exc}") from exc
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return folder


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _export_fp32(source: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()

    class SentenceEmbedding(torch.nn.Module):
        """The transformer, then sentence-transformers' mean pooling and normalisation, as one graph."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    model = SentenceEmbedding(AutoModel.from_pretrained(str(source), local_files_only=True)).eval()
    example = torch.ones((2, 8), dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUT_NAMES}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python control flow, expected here
        torch.onnx.export(
            model, (example, torch.ones_like(example), torch.zeros_like(example)), str(target),
            input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
            dynamic_axes={**axes, OUTPUT_NAME: {0: "batch"}}, opset_version=OPSET, dynamo=False,
        )


def _optimise(model: Path, target: Path) -> None:
    """Save onnxruntime's optimisation of ``model`` at ``target``, its weights in a separate file.

    A session memory-maps separate weights instead of parsing them out of one 90 MB protobuf, and
    need not optimise the graph again: creating it took 0.06 CPU s instead of 0.21 s, and a process
    embedding one question peaked at 104 MiB instead of 188 MiB (fp32). The EXTENDED level is the
    highest onnxruntime calls portable across machines (ALL adds hardware-specific layouts).
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(target)
    options.add_session_config_entry("session.optimized_model_external_initializers_file_name", RUNTIME_WEIGHTS)
    # Only tensors this large go to the weights file; shapes and small constants stay in the graph.
    options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def _quantise(fp32: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Per-channel int8 weights of the MatMuls only. On the seed questions against the float32
    # model's dense ranking, onnxruntime's defaults (per-tensor, every supported op) kept the
    # same first chunk for 69% of questions; per-channel MatMuls keep it for 92%, and every
    # first chunk stays in the float32 top 3.
    quantize_dynamic(
        str(fp32), str(target), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"]
    )
