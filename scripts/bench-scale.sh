#!/usr/bin/env bash
# Benchmark credflow at scale: start a server in a fresh data directory
# (SQLite, or PostgreSQL with --database), seed N variables through the API
# (N/2 credentials and connections, 1,000 makers in 100 groups, one maker
# seeing 1,000 credentials), then, RUNS times: restart the server and time
# its start-up to ready on the seeded database, measure the first page of
# every list as the admin and as that maker, resolves whose plans are not
# cached, and the server's memory after listing everything once. Each
# figure is printed with the load average beside it.
#   scripts/bench-scale.sh [--database postgres://...] [--runs R] [--keep DIR] [N, default 100000] [duration, default 10s]
# --database URL  an empty PostgreSQL database to seed (its tables are made by the server)
# --runs R        measure R times (default 3) on the one seed
# --keep DIR      keep the data directory (and the tokens) in DIR; with a
#                 DIR seeded before, skip the seed and measure it again
# CREDFLOW_BIN names a credflow binary to measure instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
pg="" runs=3 keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --database) pg="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    *) break ;;
  esac
done
n="${1:-100000}"
dur="${2:-10s}"
work="$(mktemp -d)"
data="${keep:-$work/data}"
trap 'kill "${pid:-}" 2>/dev/null || true; wait "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
source scripts/bench-setup.sh

bench_build
port=18766
base="http://127.0.0.1:$port"
load() { echo "load $(bench_load)"; }
start_server() {
  local t0
  if curl -fsS "$base/readyz" >/dev/null 2>&1; then
    echo "another server answers on $base: stop it first" >&2
    exit 1
  fi
  t0=$(date +%s%N)
  "$bin" serve --addr "127.0.0.1:$port" --data-dir "$data" ${pg:+--database "$pg"} --access-log=false 2>>"$work/server.log" &
  pid=$!
  bench_wait_ready "$base" 12 "$work/server.log"
  echo "start-up to ready: $(( ($(date +%s%N) - t0) / 1000000 )) ms   ($(load))"
}
stop_server() { kill "$pid"; wait "$pid" 2>/dev/null || true; }

engine=sqlite
[ -z "$pg" ] || engine=postgresql
echo "machine: $(bench_machine); database: $engine; N=$n"
mkdir -p "$data"
if [ -s "$data/scale-tokens" ]; then
  echo "seeded before: $data"
else
  start_server
  admin="$(cat "$data/initial-admin-token")"
  t0=$(date +%s)
  "$bench" seed -addr "$base" -token "$admin" -scale "$n" >"$data/scale-tokens.new"
  mv "$data/scale-tokens.new" "$data/scale-tokens"
  echo "seeded $n variables, $(( n / 2 )) credentials and connections in $(( $(date +%s) - t0 )) s   ($(load))"
  stop_server
fi
admin="$(cat "$data/initial-admin-token")"
maker="$(awk '/^maker-token/ {print $2}' "$data/scale-tokens")"
runner="$(awk '/^runner-token/ {print $2}' "$data/scale-tokens")"
count=$(( n / 2 / runs < 500 ? n / 2 / runs : 500 ))  # per run: 9/10 from 8 clients, 1/10 from one

for run in $(seq 1 "$runs"); do
  echo "--- run $run of $runs"
  # A restart: start-up on the seeded database, and cold caches.
  start_server
  # Stores and tokens are not paged: their answer is the whole list.
  for path in environment-variables?limit=50 credentials?limit=50 connections?limit=50 users?limit=50 groups?limit=50 \
      runner-groups?limit=50 solutions?limit=50 audit?limit=50 stores tokens; do
    echo "$("$bench" get -addr "$base" -token "$admin" -path "/api/v1/$path" -c 8 -d "$dur")   admin ($(load))"
  done
  for path in credentials environment-variables connections; do
    echo "$("$bench" get -addr "$base" -token "$maker" -path "/api/v1/$path?limit=50" -c 8 -d "$dur")   maker ($(load))"
  done
  # Connections resolved once each since the start: every plan is read
  # from the database, not from the cache. Each run takes others.
  from=$(( (run - 1) * count ))
  echo "$("$bench" resolve-each -addr "$base" -token "$runner" -from "$from" -n $(( count - count / 10 )) -c 8)   ($(load))"
  echo "$("$bench" resolve-each -addr "$base" -token "$runner" -from $(( from + count - count / 10 )) -n $(( count / 10 )) -c 1)   ($(load))"
  # Memory after listing everything once.
  for path in environment-variables credentials connections; do
    cursor=""
    while :; do
      page="$(curl -fsS -H "Authorization: Bearer $admin" "$base/api/v1/$path?limit=200${cursor:+&cursor=$cursor}")"
      cursor="$(sed -n 's/.*"nextCursor":"\([^"]*\)".*/\1/p' <<<"$page")"
      [ -n "$cursor" ] || break
    done
  done
  echo "server RSS after listing everything once: $(awk '/VmRSS/ {print $2, $3}' "/proc/$pid/status")   ($(load))"
  stop_server
done
