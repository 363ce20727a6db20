"""Child servers on this machine: a free loopback port to start one on, and a clean stop."""

from __future__ import annotations

import socket
import subprocess

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """Terminate ``process`` if it still runs, and kill it if it does not exit within ``timeout``."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
