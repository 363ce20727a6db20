#!/usr/bin/env bash
# Cold start of a whole `rag ask` process: median wall time, CPU time and peak RSS of N runs (default 5).
# Not a test: figures are printed with the machine's load average, never asserted.
#   usage: bench/startup.sh INDEX_PATH [RUNS]
#   RAG chooses the command, e.g. RAG=".venv/bin/rag" or RAG="env PYTHONPATH=. .venv/bin/python -m rag.cli"
set -euo pipefail
index=${1:?usage: bench/startup.sh INDEX_PATH [RUNS]}
runs=${2:-5}
read -ra rag <<< "${RAG:-rag}"
question="What did Lavrov say about the terrorist list?"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# An installed package comes with its modules compiled; shells here set PYTHONDONTWRITEBYTECODE=1,
# which would have every run compile Verbatim's ~80 modules from source again (~0.1 s of CPU).
# One untimed run, allowed to write the bytecode, stands for the install.
env -u PYTHONDONTWRITEBYTECODE "${rag[@]}" ask "$question" --index "$index" >/dev/null
for _ in $(seq "$runs"); do
  /usr/bin/time -f "%e %M %U %S" -o "$log" -a "${rag[@]}" ask "$question" --index "$index" >/dev/null
done
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
wall=$(cut -d' ' -f1 "$log" | median)
rss_kib=$(cut -d' ' -f2 "$log" | median)
# CPU seconds (user + system) move less than wall time on a shared machine.
cpu=$(awk '{ print $3 + $4 }' "$log" | median)
echo "rag ask, $runs runs: wall median ${wall} s (min $(cut -d' ' -f1 "$log" | sort -n | head -1)," \
  "max $(cut -d' ' -f1 "$log" | sort -n | tail -1)), CPU median ${cpu} s, peak RSS median $((rss_kib / 1024)) MiB;" \
  "load $(cut -d' ' -f1-3 /proc/loadavg)"
