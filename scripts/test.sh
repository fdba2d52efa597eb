#!/usr/bin/env bash
# The whole test suite: every package, race detector on, then each fuzz
# target for a moment (scripts/fuzz.sh). The database tests
# run on SQLite, and on PostgreSQL too when CREDFLOW_TEST_POSTGRES_URL names a
# server; without it those cases are skipped, and this says so at the end
# (go test shows a passing package's own notes only with -v).
set -uo pipefail
cd "$(dirname "$0")/.."

go test -race -timeout 30m ./... "$@"
status=$?

# credflow (server and CLI) cross-compiles for the runners' other systems,
# and the platform-specific tests of `credflow run` compile there too
# (cmd/credflow/main_windows_test.go runs under Wine below).
for target in windows/amd64 darwin/arm64; do
  os=${target%/*} arch=${target#*/}
  if ! GOOS=$os GOARCH=$arch go build -o /dev/null ./cmd/credflow ||
     ! GOOS=$os GOARCH=$arch go vet ./cmd/credflow ./internal/cli; then
    echo "FAIL: credflow does not build for $target" >&2
    status=1
  fi
done
# The Windows tests of `credflow run`, under Wine (skipped, with a note,
# when Wine is missing outside CI).
if [ "$#" -eq 0 ]; then
  bash scripts/test-windows.sh >/dev/null || { echo "FAIL: the Windows tests failed (run scripts/test-windows.sh)" >&2; status=1; }
fi
# Then every fuzz target briefly, beyond its seed corpus.
if [ "$status" -eq 0 ] && [ "$#" -eq 0 ]; then
  bash scripts/fuzz.sh || status=$?
fi
if [ -z "${CREDFLOW_TEST_POSTGRES_URL:-}" ]; then
  echo "NOTE: the PostgreSQL cases were skipped: set CREDFLOW_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run them." >&2
fi
exit "$status"
