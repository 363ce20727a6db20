"""`rag search` and `rag ask` start lean: no torch, web framework, LLM client or eval machinery.

Checked in a fresh interpreter, since this test process has imported everything already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import CACHE_DIR, ROOT

HEAVY = ("torch", "sentence_transformers", "transformers", "fastapi", "starlette", "uvicorn", "llama_cpp",
         "openai", "onnx", "rag.evaluation", "rag.local", "api")
PROBE = """
import json, sys
from rag.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    status = exit.code
heavy = sorted({m for m in sys.modules for h in HEAVY if m == h or m.startswith(h + ".")})
print(json.dumps({"status": status, "heavy": heavy}), file=sys.stderr)
"""


@pytest.mark.parametrize("command", [
    ["search", "terrorist list", "--k", "3"],
    ["ask", "What did Lavrov say about the terrorist list?"],
])
def test_search_and_ask_import_nothing_heavy(command, seed_settings, minilm):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VERBATIM_CACHE_DIR": str(CACHE_DIR),
           "VERBATIM_INDEX_PATH": str(seed_settings.index_path)}
    done = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{PROBE}", *command],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )
    result = json.loads(done.stderr.strip().splitlines()[-1])
    assert result == {"status": 0, "heavy": []}, done.stderr
    assert done.stdout.strip()
