#!/usr/bin/env bash
# Benchmark the bulk path: write a solution package of N text variables,
# start a server on SQLite in a fresh data directory (or PostgreSQL with
# --database URL, which is emptied first), and time `credflow solution
# import` of it, from the command's start to its end, with the server's CPU
# time over the same span.
#   scripts/bench-bulk.sh [--database postgres://...] [N, default 100000]
# CREDFLOW_BIN names a credflow binary to measure instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
db=""
if [ "${1:-}" = "--database" ]; then db="$2"; shift 2; fi
n="${1:-100000}"
work="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; wait "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
source scripts/bench-setup.sh

bench_build
"$bench" package -n "$n" -out "$work/bulk.zip"
[ -z "$db" ] || bench_empty_database "$db"
port=18768
base="http://127.0.0.1:$port"
"$bin" serve --addr "127.0.0.1:$port" --data-dir "$work/data" --database "$db" --access-log=false 2>"$work/server.log" &
pid=$!
bench_wait_ready "$base" 10 "$work/server.log"
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
tick=$(getconf CLK_TCK)
echo "machine: $(bench_machine); database: $([ -n "$db" ] && echo postgres || echo sqlite); load before: $(bench_load)"
c0=$(cpu); t0=$(date +%s%N)
CREDFLOW_ADDR="$base" CREDFLOW_TOKEN="$(cat "$work/data/initial-admin-token")" "$bin" solution import "$work/bulk.zip" | head -2 | cut -c1-120
t1=$(date +%s%N); c1=$(cpu)
echo "imported $n variables in $(( (t1 - t0) / 1000000 )) ms; server CPU $(( (c1 - c0) * 1000 / tick )) ms"
