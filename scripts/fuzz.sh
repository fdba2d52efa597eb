#!/usr/bin/env bash
# Runs every native Go fuzz target of the module for a short while each
# (FUZZTIME, default 500 inputs: 500x), on top of its committed seed corpus.
# The test suite runs it after the tests; for a long hunt, run it with
# FUZZTIME=10m, or one target with:
#   go test -run '^$' -fuzz '^FuzzName$' -fuzztime 10m ./path/to/pkg
# The default is a count, not a duration: Go 1.26's fuzz coordinator can
# report a bare "context deadline exceeded" when a duration ends while a
# worker is busy (golang/go#75804), a failure that is no finding.
# A failing input is written under the package's testdata/fuzz/: commit it,
# and it becomes a regression case of the ordinary test run.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime="${FUZZTIME:-500x}"
status=0
count=0
while IFS= read -r line; do
  file="${line%%:*}"
  target="$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"${line#*:}")"
  pkg="./$(dirname "$file")"
  count=$((count + 1))
  if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/credflow-fuzz.$$ 2>&1; then
    echo "FAIL: fuzz target $target in $pkg" >&2
    cat /tmp/credflow-fuzz.$$ >&2
    status=1
  fi
done < <(grep -rE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . | grep -v '/testdata/' | sort)
rm -f /tmp/credflow-fuzz.$$
echo "fuzzed $count targets for $fuzztime each" >&2
exit "$status"
