"""Run llama-cpp-python's OpenAI-compatible server on a GGUF for the duration of a block.

``rag eval --local-server`` and the tests use it to put the packaged model behind a real
OpenAI-compatible endpoint, which is what the ``openai`` generator and the judge talk to. The
server is started with settings chosen for reproducible, CPU-only runs on a small machine, and
is always terminated when the block exits.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rag.errors import BackendUnavailable, LlamaNotInstalled, ModelError
from rag.local.gguf import assemble_gguf
from rag.local.processes import free_port, stop_process
from rag.settings import Settings

# The server reads its settings from same-named environment variables as well as from the
# command line (and HOST/PORT override the command line outright), so the child gets only
# the variables below: a stray API_KEY or PORT in a developer's or CI's shell cannot leak in.
_ENV_KEEP = {"PATH", "HOME", "TMPDIR", "LANG", "TZ", "VIRTUAL_ENV", "LD_LIBRARY_PATH"}
_ENV_KEEP_PREFIXES = ("LC_", "PYTHON", "GGML_", "LLAMA_", "OMP_")


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "<no output>"
    return "\n".join(text.splitlines()[-lines:]) or "<no output>"


def _answers(url: str) -> bool:
    # An opener without proxies: an HTTP(S)_PROXY in the environment must not see loopback calls.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200 and "data" in json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return False


@contextmanager
def run_llama_server(
    model_path: Path,
    *,
    port: int | None = None,
    n_ctx: int = 4096,
    n_threads: int | None = None,
    model_alias: str = "local",
    chat_format: str | None = None,
    startup_timeout: float = 120.0,
    extra_args: Sequence[str] = (),
    log_path: Path | None = None,
) -> Iterator[str]:
    """Start ``python -m llama_cpp.server`` on ``model_path`` and yield its ``.../v1`` base URL.

    ``chat_format=None`` uses the chat template embedded in the GGUF (right for Qwen2.5
    instruct); pass e.g. ``"chatml"`` to force one. The server's output (llama.cpp's timings
    included) goes to ``log_path`` if given, else to a temporary file.

    :raises ModelError: no file at ``model_path``, or llama-cpp-python is not installed.
    :raises BackendUnavailable: the server exits or does not answer ``GET /v1/models`` in time;
        the message ends with the tail of its output.
    """
    model_path = Path(model_path)
    if not model_path.is_file():
        raise ModelError(f"no GGUF model at {model_path}")
    if importlib.util.find_spec("llama_cpp") is None:
        raise LlamaNotInstalled()
    port = port or free_port()
    threads = str(n_threads or _cpu_count())
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_path),
        "--model_alias", model_alias,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(n_ctx),
        "--n_threads", threads,        # the default is half the cores
        "--n_threads_batch", threads,
        "--n_gpu_layers", "0",
        "--seed", "0",                 # with temperature=0 in requests: repeatable answers
        "--logits_all", "false",       # the server's default keeps n_ctx x vocab floats (GBs)
        "--cache", "false",
        "--interrupt_requests", "false",
        *(["--chat_format", chat_format] if chat_format else []),
        *extra_args,
    ]  # fmt: skip
    env = {key: value for key, value in os.environ.items() if key in _ENV_KEEP or key.startswith(_ENV_KEEP_PREFIXES)}
    # llama.cpp's OpenMP threads spin while they wait: on 2 shared cores (pytest, other jobs)
    # that cut decoding from ~6 to <1 token/s in our measurements; passive waiting does not.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    base_url = f"http://127.0.0.1:{port}/v1"
    # Output goes to a file, not a pipe: a verbose server would block once a pipe filled up.
    with tempfile.TemporaryDirectory(prefix="llama-server-") as tmp:
        log_path = Path(log_path) if log_path else Path(tmp) / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + startup_timeout
            while not _answers(f"{base_url}/models"):
                if process.poll() is not None:
                    raise BackendUnavailable(
                        f"llama_cpp.server exited with code {process.returncode} before it "
                        f"answered; command: {' '.join(command)}\n--- output tail ---\n"
                        f"{_tail(log_path)}"
                    )
                if time.monotonic() > deadline:
                    raise BackendUnavailable(
                        f"llama_cpp.server did not answer GET {base_url}/models within "
                        f"{startup_timeout:.0f}s\n--- output tail ---\n{_tail(log_path)}"
                    )
                time.sleep(0.2)
            yield base_url
        finally:
            stop_process(process)


@contextmanager
def run_packaged_server(settings: Settings, *, log_path: Path | None = None) -> Iterator[str]:
    """Serve the packaged GGUF named by ``settings.local_model`` and yield its ``.../v1`` base URL.

    The model is assembled from its PyPI part packages on first use (``rag.local.gguf``). The server
    answers to ``settings.openai_model``, so the ``openai`` generator and the judge can use the
    URL with their default model names.
    """
    model_path = assemble_gguf(settings.local_model, settings.cache_dir / "models")
    with run_llama_server(
        model_path,
        n_ctx=settings.llm_context_tokens,
        n_threads=settings.local_threads,
        model_alias=settings.openai_model,
        log_path=log_path,
    ) as base_url:
        yield base_url
