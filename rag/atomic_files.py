"""Replacing a file whole: a reader, or whatever survives a crash, sees the old file or the new one, never half.

The new content goes to a temporary file in the same folder (a rename is atomic only within one
file system), is fsynced, renamed over the target, and the folder is fsynced so the rename lasts.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def replace_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """Call ``write`` with a temporary path beside ``target``, then make that file ``target``.

    If ``write`` raises, ``target`` is untouched and the temporary file is removed.
    """
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    temporary = Path(temp_name)
    try:
        write(temporary)
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)


def write_atomic(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data`` whole."""
    replace_atomically(target, lambda temporary: temporary.write_bytes(data))


def fsync_directory(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
