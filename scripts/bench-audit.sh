#!/usr/bin/env bash
# Benchmark the audit trail at scale: seed N resolve records straight into a
# fresh server's database (chained and sealed as the server seals them, and
# checkpointed), then start the server on it and measure, three times each,
# `audit verify` from the newest checkpoint, `audit verify --full`, and the
# first page of the audit list filtered by resource and by actor under 8
# closed-loop clients; and the database's size per million records.
#   scripts/bench-audit.sh [--database postgres://...] [N, default 1000000] [duration of each list run, default 10s]
# With --database the records go to that (empty) PostgreSQL database
# instead of SQLite; psql measures its size. The server
# runs with a write timeout of an hour, so that a full check of millions of
# records can finish its answer.
# CREDFLOW_BIN names a credflow binary to measure instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
db=""
if [ "${1:-}" = "--database" ]; then db="$2"; shift 2; fi
n="${1:-1000000}"
dur="${2:-10s}"
work="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; wait "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
source scripts/bench-setup.sh

bench_build
port="${PORT:-18767}"
base="http://127.0.0.1:$port"
start_server() {
  local t0
  t0=$(date +%s%N)
  "$bin" serve --addr "127.0.0.1:$port" --data-dir "$work/data" --database "$db" --access-log=false \
    --write-timeout 1h 2>>"$work/server.log" &
  pid=$!
  # A first start on millions of records may build indexes first.
  bench_wait_ready "$base" 300 "$work/server.log"
  echo "start-up to ready: $(( ($(date +%s%N) - t0) / 1000000 )) ms (load $(bench_load))"
}
stop_server() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

echo "machine: $(bench_machine); engine: $([ -n "$db" ] && echo PostgreSQL || echo SQLite)"
# A first start makes the database, its master key and the admin token.
start_server
stop_server
echo "seeding $n resolve records (load $(bench_load))"
"$bench" seed-audit -data-dir "$work/data" -database "$db" -n "$n"

if [ -z "$db" ]; then
  # The seeder closed the database: its write-ahead log is checkpointed
  # into the file and removed.
  size=$(stat -c %s "$work/data/credflow.db")
  echo "database file after checkpoint: $size bytes"
else
  size=$(psql -XAtq "$db" -c "VACUUM ANALYZE audit_log" -c "SELECT pg_total_relation_size('audit_log')")
  echo "pg_total_relation_size('audit_log') after VACUUM ANALYZE: $size bytes"
fi
records=$(( n + 1 ))
echo "size per million records: $(( size / records )) bytes per record, $(( size * 1000000 / records / 1048576 )) MiB per million"

start_server
export CREDFLOW_ADDR="$base" CREDFLOW_TOKEN="$(cat "$work/data/initial-admin-token")"
resource="connection:scale-0000123"
actor="runner-042"
for run in 1 2 3; do
  echo "--- run $run"
  l=$(bench_load); t0=$(date +%s%N)
  "$bin" audit verify >/dev/null
  echo "audit verify (from the newest checkpoint): $(ms_since "$t0") ms (load $l)"
  l=$(bench_load); t0=$(date +%s%N)
  "$bin" audit verify --full >/dev/null
  el=$(ms_since "$t0")
  echo "audit verify --full: $el ms, $(( records * 1000 / (el > 0 ? el : 1) )) records/s (load $l)"
  for q in "resource=$resource" "actor=$actor"; do
    l=$(bench_load)
    echo "$("$bench" get -addr "$base" -path "/api/v1/audit?$q&order=newest&limit=50" -c 8 -d "$dur") (load $l)"
  done
done
stop_server
