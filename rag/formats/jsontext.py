"""JSON read as I-JSON (RFC 7493): every string must be Unicode text.

Python's ``json`` accepts a lone surrogate escape such as ``"\\ud800"`` and returns a ``str``
that cannot be encoded; it then fails far away (hashing the stored text, embedding, writing an
answer out) with a ``UnicodeEncodeError``. Refusing it where the JSON is read keeps the failure
an input error that names its position.
"""

from __future__ import annotations

import json
import re
from typing import Any

# One escape sequence at a time, left to right, so that "\\" is consumed before what follows it:
# a surrogate pair, else a lone surrogate, else any other escape.
_ESCAPE = re.compile(
    r"\\(?:u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|(?P<lone>u[dD][89a-fA-F][0-9a-fA-F]{2})|.)",
    re.DOTALL,
)


def loads_strict(text: str) -> Any:
    """``text`` parsed as JSON.

    :raises json.JSONDecodeError: not JSON, nested too deeply, or a string holds a lone surrogate.
    """
    if "\\" in text:
        for match in _ESCAPE.finditer(text):
            if match.group("lone"):
                message = f"\\{match.group('lone')} is a lone surrogate, not a character"
                raise json.JSONDecodeError(message, text, match.start())
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise json.JSONDecodeError("it nests too deeply", text, 0) from exc
