#!/usr/bin/env bash
# Benchmark cached resolves: build credflow and the load tool, start a
# server on SQLite in a fresh data directory (or PostgreSQL with --database
# URL, which is emptied first), seed it, and compare resolves with a bare Go
# handler at 16 and 32 concurrent clients, and with the same handler
# answering only after a durable write on the same disk (the ceiling for any
# server that makes a record durable before it answers). Each is measured
# with the repo's load tool and with wrk (installed from Debian's packages
# when missing), and then in an open loop at half the ceiling's rate.
#   scripts/bench-resolve.sh [--database postgres://...] [duration, default 10s]
# CREDFLOW_BIN names a credflow binary to measure instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
db=""
if [ "${1:-}" = "--database" ]; then db="$2"; shift 2; fi
dur="${1:-10s}"
work="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
source scripts/bench-setup.sh

bench_need_wrk
bench_build
[ -z "$db" ] || bench_empty_database "$db"
port=18765
base="http://127.0.0.1:$port"
"$bin" serve --addr "127.0.0.1:$port" --data-dir "$work/data" --database "$db" --access-log=false 2>"$work/server.log" &
pids+=($!)
bench_wait_ready "$base" 10 "$work/server.log"
admin="$(cat "$work/data/initial-admin-token")"
runner="$("$bench" seed -addr "$base" -token "$admin" -connection bench)"
server="${pids[0]}"
# What the server did for the resolves it served: its CPU time, the bytes it
# wrote to disk, and its group commits (from its metrics).
counters() {
  local m
  m="$(curl -fsS -H "Authorization: Bearer $admin" "$base/metrics")"
  echo "$(awk '/^credflow_resolves_total/ {s += $2} END {print s + 0}' <<<"$m")" \
    "$(awk '/^credflow_audit_commit_group_size_count/ {print $2 + 0}' <<<"$m")" \
    "$(awk '{print $14 + $15}' "/proc/$server/stat")" \
    "$(awk '/^write_bytes/ {print $2}' "/proc/$server/io")"
}
read -r r0 g0 c0 w0 < <(counters)
echo "machine: $(bench_machine); database: $([ -n "$db" ] && echo postgres || echo sqlite); load before: $(bench_load)"
out="$("$bench" -addr "$base" -token "$runner" -connection bench -c 16,32 -d "$dur" -durable-dir "$work")"
echo "$out"

# The same three targets under wrk: the bare handlers run on their own.
size="$(curl -fsS -X POST -H "Authorization: Bearer $runner" "$base/api/v1/connections/bench/resolve" | wc -c)"
"$bench" bare-server "$size" >"$work/bare.addr" &
pids+=($!)
mkdir -p "$work/sync"
"$bench" bare-server "$size" "$work/sync" >"$work/sync.addr" &
pids+=($!)
for _ in $(seq 1 50); do [ -s "$work/bare.addr" ] && [ -s "$work/sync.addr" ] && break; sleep 0.1; done
echo "wrk -t2, $dur measured after 2s of warm-up, each target in turn:"
for c in 16 32; do
  for target in bare bare+sync credflow; do
    case "$target" in
      bare) url="http://$(cat "$work/bare.addr")/"; tok="" ;;
      bare+sync) url="http://$(cat "$work/sync.addr")/"; tok="" ;;
      credflow) url="$base/api/v1/connections/bench/resolve"; tok="$runner" ;;
    esac
    CREDFLOW_TOKEN="$tok" wrk -t2 -c"$c" -d2s -s scripts/wrk/resolve.lua "$url" >/dev/null
    printf '%-6s %-9s ' "$c" "$target"
    CREDFLOW_TOKEN="$tok" wrk -t2 -c"$c" -d"$dur" -s scripts/wrk/resolve.lua "$url" | grep '^wrk:'
  done
done

# Open loop at half the ceiling's closed-loop rate at 16 clients.
ceiling="$(awk '$1 == 16 && $2 == "bare+sync" {print $3}' <<<"$out")"
if [ -n "$ceiling" ]; then
  rate=$(( ${ceiling%.*} / 2 ))
  "$bench" -addr "$base" -token "$runner" -connection bench -c 64 -d "$dur" -rate "$rate" -durable-dir "$work" | sed 1d
fi

read -r r1 g1 c1 w1 < <(counters)
tick=$(getconf CLK_TCK)
awk -v r=$((r1 - r0)) -v g=$((g1 - g0)) -v c=$((c1 - c0)) -v w=$((w1 - w0)) -v t="$tick" 'BEGIN {
  if (r == 0 || g == 0) exit
  printf "server: %d resolves in %d group commits (%.1f per group); %.0f µs of CPU per resolve; %.1f KiB written per group commit\n",
    r, g, r / g, c * 1e6 / t / r, w / 1024 / g }'
