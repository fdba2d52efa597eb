#!/usr/bin/env bash
# Benchmark credflow at scale: start a server on SQLite in a fresh data
# directory, seed N variables (N/2 credentials and connections, 1,000 makers
# in 100 groups, one maker seeing 1,000 credentials), then measure the first
# page of every list as the admin and as that maker, a resolve whose plan is
# not cached, the server's memory after listing everything once, and the
# start-up time to ready on the seeded database.
#   scripts/bench-scale.sh [N, default 100000] [duration, default 10s]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"
dur="${2:-10s}"
work="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; wait "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

go build -buildvcs=true -o "$work/credflow" ./cmd/credflow
go build -buildvcs=true -o "$work/credflow-bench" ./cmd/credflow-bench
port=18766
base="http://127.0.0.1:$port"
start_server() {
  local t0
  t0=$(date +%s%N)
  "$work/credflow" serve --addr "127.0.0.1:$port" --data-dir "$work/data" --access-log=false 2>>"$work/server.log" &
  pid=$!
  for _ in $(seq 1 600); do
    curl -fsS "$base/readyz" >/dev/null 2>&1 && break
    sleep 0.05
  done
  echo "start-up to ready: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)"
start_server
admin="$(cat "$work/data/initial-admin-token")"
t0=$(date +%s)
tokens="$("$work/credflow-bench" seed -addr "$base" -token "$admin" -scale "$n")"
echo "seeded $n variables in $(( $(date +%s) - t0 )) s"
maker="$(awk '/^maker-token/ {print $2}' <<<"$tokens")"
runner="$(awk '/^runner-token/ {print $2}' <<<"$tokens")"

# Restart on the seeded database: start-up time, and cold caches.
kill "$pid"; wait "$pid" 2>/dev/null || true
start_server

for path in /api/v1/environment-variables /api/v1/credentials /api/v1/connections /api/v1/users; do
  "$work/credflow-bench" get -addr "$base" -token "$admin" -path "$path?limit=50" -c 8 -d "$dur"
done
"$work/credflow-bench" get -addr "$base" -token "$maker" -path "/api/v1/credentials?limit=50" -c 8 -d "$dur"

# Connections resolved once each: every resolve's plan is read, not cached.
count=$(( n / 2 < 500 ? n / 2 : 500 ))
t0=$(date +%s%N)
for i in $(seq 0 $(( count - 1 ))); do
  curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $runner" "$base/api/v1/connections/scale-$(printf %07d "$i")/resolve"
done
echo "$count resolves with uncached plans, one at a time: $(( ($(date +%s%N) - t0) / 1000 / count )) µs each on average (curl included)"

# Memory after listing everything once.
for path in environment-variables credentials connections; do
  cursor=""
  while :; do
    page="$(curl -fsS -H "Authorization: Bearer $admin" "$base/api/v1/$path?limit=200${cursor:+&cursor=$cursor}")"
    cursor="$(sed -n 's/.*"nextCursor":"\([^"]*\)".*/\1/p' <<<"$page")"
    [ -n "$cursor" ] || break
  done
done
echo "server RSS after listing everything once: $(awk '/VmRSS/ {print $2, $3}' "/proc/$pid/status")"
