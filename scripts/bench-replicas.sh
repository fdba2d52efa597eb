#!/usr/bin/env bash
# Benchmark cached resolves on PostgreSQL: one replica alone, then two
# replicas on the same database each driven by its own wrk at once, beside
# the ceiling of a bare handler that makes a record durable before it
# answers (on the same disk as PostgreSQL's data here). The database named
# is emptied first.
#   scripts/bench-replicas.sh --database postgres://... [duration, default 10s] [clients per replica, default 16]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${1:-}" = "--database" ] || { echo "usage: $0 --database postgres://... [duration] [clients]" >&2; exit 2; }
db="$2"; shift 2
dur="${1:-10s}"
c="${2:-16}"
work="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
source scripts/bench-setup.sh

bench_need_wrk
bench_build
bench_empty_database "$db"

a="http://127.0.0.1:18770"; b="http://127.0.0.1:18771"
"$bin" serve --addr 127.0.0.1:18770 --data-dir "$work/a" --database "$db" --access-log=false 2>"$work/a.log" &
pids+=($!)
bench_wait_ready "$a" 10 "$work/a.log"
admin="$(cat "$work/a/initial-admin-token")"
runner="$("$bench" seed -addr "$a" -token "$admin" -connection bench)"
"$bin" serve --addr 127.0.0.1:18771 --data-dir "$work/b" --database "$db" --master-key-file "$work/a/master.key" --access-log=false 2>"$work/b.log" &
pids+=($!)
bench_wait_ready "$b" 10 "$work/b.log"

size="$(curl -fsS -X POST -H "Authorization: Bearer $runner" "$a/api/v1/connections/bench/resolve" | wc -c)"
mkdir -p "$work/sync"
"$bench" bare-server "$size" "$work/sync" >"$work/sync.addr" &
pids+=($!)
for _ in $(seq 1 50); do [ -s "$work/sync.addr" ] && break; sleep 0.1; done

run() { # name url token
  CREDFLOW_TOKEN="$3" wrk -t1 -c"$c" -d2s -s scripts/wrk/resolve.lua "$2" >/dev/null
  printf '%-22s ' "$1"
  CREDFLOW_TOKEN="$3" wrk -t1 -c"$c" -d"$dur" -s scripts/wrk/resolve.lua "$2" | grep '^wrk:'
}
echo "machine: $(bench_machine); PostgreSQL $(psql -At "$db" -c 'show server_version'); $c clients per target, wrk -t1, $dur; load before: $(bench_load)"
run "ceiling (bare+sync)" "http://$(cat "$work/sync.addr")/" ""
run "one replica" "$a/api/v1/connections/bench/resolve" "$runner"
# Two replicas at once, each with its own load.
for r in "$a" "$b"; do
  CREDFLOW_TOKEN="$runner" wrk -t1 -c"$c" -d2s -s scripts/wrk/resolve.lua "$r/api/v1/connections/bench/resolve" >/dev/null &
done
wait_jobs() { for j in $(jobs -p); do case " ${pids[*]} " in *" $j "*) ;; *) wait "$j";; esac; done; }
wait_jobs
CREDFLOW_TOKEN="$runner" wrk -t1 -c"$c" -d"$dur" -s scripts/wrk/resolve.lua "$a/api/v1/connections/bench/resolve" >"$work/ra.out" &
CREDFLOW_TOKEN="$runner" wrk -t1 -c"$c" -d"$dur" -s scripts/wrk/resolve.lua "$b/api/v1/connections/bench/resolve" >"$work/rb.out" &
wait_jobs
printf '%-22s %s\n' "two replicas: A" "$(grep '^wrk:' "$work/ra.out")" "two replicas: B" "$(grep '^wrk:' "$work/rb.out")"
