"""Reading the JSON object out of an LLM's reply: bare, in a ```json fence, or amid prose (pure)."""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def json_object_in(reply: str) -> Any:
    """The JSON value between the reply's first ``{`` and last ``}`` (inside a fence if there is one), or None."""
    fenced = _FENCE.search(reply)
    text = (fenced.group(1) if fenced else reply).strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        return json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
