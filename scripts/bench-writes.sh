#!/usr/bin/env bash
# Benchmark durable writes: build credflow and the load tool, start a server
# in a fresh data directory (SQLite, or PostgreSQL with --database URL, which
# is emptied first), then create text variables through the API at 16
# concurrent clients, alone and then with 8 clients resolving a connection
# at the same time, and credentials created with resolves alongside; then
# the variable creates again with wrk (installed from
# Debian's packages when missing).
#   scripts/bench-writes.sh [--database postgres://...] [duration, default 10s]
# CREDFLOW_BIN names a credflow binary to measure instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
db=""
if [ "${1:-}" = "--database" ]; then db="$2"; shift 2; fi
dur="${1:-10s}"
work="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; wait "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
source scripts/bench-setup.sh

bench_need_wrk
bench_build
[ -z "$db" ] || bench_empty_database "$db"
port=18767
base="http://127.0.0.1:$port"
"$bin" serve --addr "127.0.0.1:$port" --data-dir "$work/data" --database "$db" --access-log=false 2>"$work/server.log" &
pid=$!
bench_wait_ready "$base" 10 "$work/server.log"
admin="$(cat "$work/data/initial-admin-token")"
runner="$("$bench" seed -addr "$base" -token "$admin" -connection bench)"
echo "machine: $(bench_machine); database: $([ -n "$db" ] && echo postgres || echo sqlite); load before: $(bench_load)"
echo "writes alone:"
"$bench" writes -addr "$base" -token "$admin" -c 16 -d "$dur" -prefix a
echo "writes with resolves alongside:"
"$bench" writes -addr "$base" -token "$admin" -c 16 -d "$dur" -prefix b -resolve-connection bench -resolve-token "$runner" -resolve-c 8
echo "credential creates with resolves alongside:"
"$bench" writes -addr "$base" -token "$admin" -kind credential -c 16 -d "$dur" -prefix cred -resolve-connection bench -resolve-token "$runner" -resolve-c 8
echo "resolves alone:"
"$bench" writes -addr "$base" -token "$admin" -c 0 -d "$dur" -resolve-connection bench -resolve-token "$runner" -resolve-c 8
echo "writes with wrk -t2 -c16:"
PREFIX=warm CREDFLOW_TOKEN="$admin" wrk -t2 -c16 -d2s -s scripts/wrk/create-variable.lua "$base/api/v1/environment-variables" >/dev/null
PREFIX=wrk CREDFLOW_TOKEN="$admin" wrk -t2 -c16 -d"$dur" -s scripts/wrk/create-variable.lua "$base/api/v1/environment-variables" | grep '^wrk:'
