#!/usr/bin/env bash
# Benchmark cached resolves: build credflow and the load tool, start a
# server on SQLite in a fresh data directory, seed it, and compare resolves
# with a bare Go handler at 16 and 32 concurrent clients, and with the same
# handler answering only after a durable write on the same disk (the ceiling
# for any server that makes a record durable before it answers).
#   scripts/bench-resolve.sh [duration, default 10s]
set -euo pipefail
cd "$(dirname "$0")/.."
dur="${1:-10s}"
work="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; wait "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

go build -buildvcs=true -o "$work/credflow" ./cmd/credflow
go build -buildvcs=true -o "$work/credflow-bench" ./cmd/credflow-bench
port=18765
"$work/credflow" serve --addr "127.0.0.1:$port" --data-dir "$work/data" 2>"$work/server.log" &
pid=$!
for _ in $(seq 1 50); do
  [ -s "$work/data/initial-admin-token" ] && curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
admin="$(cat "$work/data/initial-admin-token")"
runner="$("$work/credflow-bench" seed -addr "http://127.0.0.1:$port" -token "$admin" -connection bench)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)"
"$work/credflow-bench" -addr "http://127.0.0.1:$port" -token "$runner" -connection bench -c 16,32 -d "$dur" -durable-dir "$work"
