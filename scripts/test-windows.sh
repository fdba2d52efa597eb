#!/usr/bin/env bash
# Runs the Windows tests of `credflow run` (cmd/credflow/main_windows_test.go:
# exit codes, the environment the command gets, a refused resolve) and the
# CLI's exit-code tests, cross-compiled for windows/amd64 and run under Wine
# in a fresh Wine prefix. Wine and the MinGW-w64 compiler come from Debian's
# packages: installed when missing under CI=true or with --install,
# otherwise this says it skipped. Wine 8 lacks bcryptprimitives.dll, which
# Go's Windows runtime needs, so a stand-in (scripts/wine) is built into the
# prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wine >/dev/null 2>&1 || ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
  if [ "${CI:-}" != true ] && [ "${1:-}" != --install ]; then
    echo "NOTE: the Windows tests were skipped: Wine or MinGW-w64 is missing (run scripts/test-windows.sh --install)." >&2
    exit 0
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wine wine64 gcc-mingw-w64-x86-64 >/dev/null
fi
work="$(mktemp -d)"
trap 'wineserver -k >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
x86_64-w64-mingw32-gcc -shared -O2 -o "$work/bcryptprimitives.dll" \
  scripts/wine/bcryptprimitives.c scripts/wine/bcryptprimitives.def -ladvapi32
GOOS=windows GOARCH=amd64 go test -c -o "$work/credflow-test.exe" ./cmd/credflow
wineboot --init >/dev/null 2>&1
cp "$work/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"
# TestVersionFromBuildInfo is left out: it runs git, which the Windows side
# does not have.
wine "$work/credflow-test.exe" -test.v -test.count=1 -test.run '^(TestRunExitCodesOnWindows|TestExitCodes)$' 2>&1 |
  grep -v '^it looks like wine32\|^multiarch needs\|^execute "dpkg\|^apt-get install wine32' | tee "$work/out"
grep -q '^--- PASS: TestRunExitCodesOnWindows' "$work/out" && grep -q '^PASS$' "$work/out"
