#!/usr/bin/env bash
# Throughput of `rag serve` under wrk (Debian's `wrk` package): GET /search and POST /ask (extractive).
# Starts the server on a free loopback port with the rate limit out of the way, waits for /readyz,
# warms up, runs wrk per endpoint, stops the server. Prints wrk's summary and the load average.
#   usage: bench/serve_wrk.sh INDEX_PATH [WORKERS] [SECONDS] [CONNECTIONS]   (RAG=path/to/rag)
set -euo pipefail
index=${1:?usage: bench/serve_wrk.sh INDEX_PATH [WORKERS] [SECONDS] [CONNECTIONS]}
workers=${2:-1}
seconds=${3:-20}
connections=${4:-8}
rag=${RAG:-rag}
here=$(cd "$(dirname "$0")" && pwd)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"

VERBATIM_RATE_LIMIT_PER_MINUTE=100000000 "$rag" serve --port "$port" --workers "$workers" --index "$index" \
  >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  curl -sf "$url/readyz" >/dev/null && break
  sleep 0.5
done
curl -sf "$url/readyz" >/dev/null || { echo "the server did not become ready" >&2; exit 1; }

# CPU seconds (user + system) of the server and its worker processes: on a shared machine the
# server's CPU per request says more than requests per second, which move with the neighbours' load.
cpu_seconds() {
  local pids=$server all=$server
  while [ -n "$pids" ]; do
    pids=$(for pid in $pids; do pgrep -P "$pid" || true; done)
    all="$all $pids"
  done
  for pid in $all; do cut -d' ' -f14,15 "/proc/$pid/stat" 2>/dev/null || true; done \
    | awk -v hz="$(getconf CLK_TCK)" '{ ticks += $1 + $2 } END { printf "%.3f", ticks / hz }'
}

# Warm-up, each question a few times per worker: the first answer from a passage embeds its
# sentences, and every worker process has its own caches.
for _ in $(seq $((2 * workers))); do
  while read -r question; do
    curl -sf -o /dev/null -H 'Content-Type: application/json' -d "{\"question\": \"$question\"}" "$url/ask"
  done < "$here/questions.txt"
done
for endpoint in search ask; do
  wrk -t 2 -c "$connections" -d 3s -s "$here/wrk_requests.lua" "$url" -- "$endpoint" "$here/questions.txt" >/dev/null
  echo "== $endpoint, $workers worker(s), $connections connections, ${seconds}s; load $(cut -d' ' -f1-3 /proc/loadavg)"
  before=$(cpu_seconds)
  out=$(wrk -t 2 -c "$connections" -d "${seconds}s" --latency --timeout 10s -s "$here/wrk_requests.lua" "$url" -- "$endpoint" "$here/questions.txt")
  after=$(cpu_seconds)
  echo "$out" | grep -E "Requests/sec|Latency|50%|90%|99%|timeout|Non-2xx"
  requests=$(echo "$out" | awk '/requests in/ { print $1 }')
  awk -v cpu="$(echo "$after - $before" | bc)" -v n="$requests" \
    'BEGIN { printf "  %d requests, server CPU %.2f s: %.2f ms CPU per request\n", n, cpu, 1000 * cpu / n }'
done
