# Sourced by the scripts/bench-*.sh benchmarks: what each of them does
# before and beside its own measurements. A script sets work (its scratch
# directory) and cds to the repository's root before it sources this file.

# bench_build builds the load tool, and credflow unless CREDFLOW_BIN names a
# credflow binary to measure instead (for runs of two builds in turn). bin
# and bench name the two programs.
bench_build() {
  bin="${CREDFLOW_BIN:-$work/credflow}"
  [ -n "${CREDFLOW_BIN:-}" ] || go build -buildvcs=true -o "$bin" ./cmd/credflow
  bench="$work/credflow-bench"
  go build -buildvcs=true -o "$bench" ./cmd/credflow-bench
}

# bench_need_wrk installs wrk from Debian's packages when it is missing.
bench_need_wrk() {
  command -v wrk >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
}

# bench_empty_database empties the PostgreSQL database at URL $1: the
# server under measurement makes its tables anew.
bench_empty_database() {
  psql -q "$1" -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;' >/dev/null 2>&1
}

# bench_wait_ready waits until the server at $1 answers /readyz, for at most
# $2 seconds (default 10), and fails, showing the end of log file $3 when
# one is named, if it never does. A server answers only after it has
# written its first admin token.
bench_wait_ready() {
  local i
  for ((i = 0; i < ${2:-10} * 50; i++)); do
    curl -fsS "$1/readyz" >/dev/null 2>&1 && return 0
    sleep 0.02
  done
  echo "the server at $1 did not get ready" >&2
  [ -z "${3:-}" ] || tail -20 "$3" >&2
  return 1
}

# bench_load is the load average over 1, 5 and 15 minutes.
bench_load() { cut -d' ' -f1-3 /proc/loadavg; }

# bench_machine describes the machine: its cores, its CPU and the Go
# version.
bench_machine() {
  echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)"
}
