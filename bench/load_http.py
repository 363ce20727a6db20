"""Load-test the HTTP service on loopback: requests/second and p50/p95 latency of /search and /ask.

Starts ``rag serve`` itself on a free 127.0.0.1 port (the rate limit raised for the run), waits
until ``/readyz`` answers, warms up, sends a bounded number of requests with a fixed number of
concurrent clients, prints one line per endpoint, and stops the server.

    .venv/bin/python bench/load_http.py --requests 300 --ask-requests 100 --concurrency 4
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from rag.local.processes import LOOPBACK, free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent
HOST = LOOPBACK  # loopback only, by design
MAX_REQUESTS = 5000
# The seed questions every bench cycles through (bench/serve_wrk.sh and its wrk script read it too).
QUESTIONS = (ROOT / "bench" / "questions.txt").read_text(encoding="utf-8").splitlines()


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    def line(self, concurrency: int) -> str:
        ordered = sorted(self.latencies_ms)
        p50 = statistics.median(ordered)
        p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
        return (
            f"{self.name:<16} {self.requests:>5} req  concurrency {concurrency}  errors {self.errors}  "
            f"{self.requests / self.seconds:8.1f} req/s  p50 {p50:8.1f} ms  p95 {p95:8.1f} ms"
        )


def start_server(port: int, index: Path | None) -> subprocess.Popen:
    env = {**os.environ, "VERBATIM_RATE_LIMIT_PER_MINUTE": "1000000", "VERBATIM_GENERATOR": "extractive"}
    command = [str(Path(sys.executable).parent / "rag"), "serve", "--host", HOST, "--port", str(port)]
    if index is not None:
        command += ["--index", str(index)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_ready(base: str, server: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited: {server.stderr.read().decode(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the server did not become ready within {timeout:.0f} s")


async def run(
    name: str,
    client: httpx.AsyncClient,
    make_request: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    total: int,
    concurrency: int,
) -> Result:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))

    async def worker() -> None:
        nonlocal errors
        for number in counter:
            started = time.perf_counter()
            response = await make_request(client, number)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(name, total, errors, time.perf_counter() - started, latencies)


def search(client: httpx.AsyncClient, number: int) -> Awaitable[httpx.Response]:
    return client.get("/search", params={"q": QUESTIONS[number % len(QUESTIONS)], "k": 6})


def ask(client: httpx.AsyncClient, number: int) -> Awaitable[httpx.Response]:
    return client.post("/ask", json={"question": QUESTIONS[number % len(QUESTIONS)], "generator": "extractive"})


async def bench(base: str, requests: int, ask_requests: int, concurrency: int) -> list[Result]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits, trust_env=False) as client:
        for number in range(len(QUESTIONS)):  # warm-up: caches, lazy model parts
            await search(client, number)
            await ask(client, number)
        return [
            await run("GET /search", client, search, requests, concurrency),
            await run("POST /ask", client, ask, ask_requests, concurrency),
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="GET /search requests (after warm-up).")
    parser.add_argument("--ask-requests", type=int, default=100, help="POST /ask requests (extractive).")
    parser.add_argument("--concurrency", type=int, default=4, help="Concurrent clients.")
    parser.add_argument("--index", type=Path, default=None, help="Index folder (default: the configured one).")
    args = parser.parse_args()
    for name in ("requests", "ask_requests", "concurrency"):
        if not 1 <= getattr(args, name) <= MAX_REQUESTS:
            parser.error(f"--{name.replace('_', '-')} must be between 1 and {MAX_REQUESTS}")
    port = free_port()
    base = f"http://{HOST}:{port}"
    server = start_server(port, args.index)
    try:
        wait_ready(base, server)
        results = asyncio.run(bench(base, args.requests, args.ask_requests, args.concurrency))
    finally:
        stop_process(server)
    print(f"loopback {base}, {os.cpu_count()} CPUs, server and client on the same machine")
    for result in results:
        print(result.line(args.concurrency))


if __name__ == "__main__":
    main()
