#!/usr/bin/env bash
# t_syncbound.sh — lsmer-syncbound (tools/bench/syncbound.c): --help, bad
# arguments refused with exit 2, an unwritable directory named with exit 1,
# and a small measurement that prints both rates and removes its file.
set -uo pipefail
: "${LSMER_BUILD_DIR:?}"
BIN=$LSMER_BUILD_DIR/tools/bench/lsmer-syncbound
mkdir -p "${LSMER_TEST_TMP:-/tmp}"
T=$(mktemp -d "${LSMER_TEST_TMP:-/tmp}/syncbound.XXXXXX") || { echo "t_syncbound: no scratch directory"; exit 1; }
trap 'rm -rf "$T"' EXIT
fails=0
check() { # what command...
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
check "--help exits 0 and names the schedules" bash -c "'$BIN' --help | grep -q 'perfect groups'"
"$BIN" --threads=1 >/dev/null 2>"$T/err"; rc=$?
check "--threads=1 refused with exit 2" test "$rc" -eq 2
check "... naming the option" grep -q -- '--threads' "$T/err"
"$BIN" extra >/dev/null 2>&1; rc=$?
check "a stray argument refused with exit 2" test "$rc" -eq 2
"$BIN" --dir="$T/missing" --ops=10 --rounds=1 >/dev/null 2>"$T/err"; rc=$?
check "a missing directory gives exit 1" test "$rc" -eq 1
check "... and names the file" grep -q "$T/missing/syncbound" "$T/err"
"$BIN" --dir="$T" --ops=40 --rounds=1 >"$T/out" 2>/dev/null; rc=$?
check "a small run exits 0" test "$rc" -eq 0
check "it prints the single-writer rate" grep -Eq '^single writer: +[0-9]+ writes/s' "$T/out"
check "it prints the group rate and ratio" grep -Eq '^perfect groups of 4 *: +[0-9]+ writes/s \([0-9.]+x' "$T/out"
check "it removes its scratch file" test -z "$(ls -A "$T" | grep syncbound)"
[ "$fails" -eq 0 ] || { echo "t_syncbound: $fails failed"; exit 1; }
echo "t_syncbound: all passed"
