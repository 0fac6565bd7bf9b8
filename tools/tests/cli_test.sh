#!/usr/bin/env bash
# Tests of the `lsmer` CLI, one case per ctest test:
#   cli_test.sh LSMER_BINARY SCRATCH_DIR CASE
# Each case checks exit codes and output; it prints what it expected and
# what it got when a check fails, and exits non-zero.
set -u
lsmer=$1
tmp=$2
case_name=$3
rm -rf "$tmp" && mkdir -p "$tmp"
fail=0

# expect CODE DESCRIPTION -- COMMAND...: runs it, keeps stdout/stderr.
expect() {
  local want=$1 what=$2
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: $what: exit $got, expected $want: $*"
    sed 's/^/  stdout: /' "$tmp/out" | head -20
    sed 's/^/  stderr: /' "$tmp/err" | head -20
    fail=1
  else
    echo "ok: $what"
  fi
}

# grep_out FILE PATTERN DESCRIPTION
grep_out() {
  if ! grep -q -- "$2" "$tmp/$1"; then
    echo "FAIL: $3: '$2' not in $1"
    sed "s/^/  $1: /" "$tmp/$1" | head -30
    fail=1
  fi
}

case "$case_name" in
help)
  expect 0 "lsmer --help" -- "$lsmer" --help
  grep_out out "Usage: lsmer COMMAND" "top-level usage"
  grep_out out "Exit status" "exit codes documented"
  cp "$tmp/out" "$tmp/top"
  for cmd in stats compact bench; do
    grep_out top "  $cmd " "$cmd listed"
    expect 0 "lsmer $cmd --help" -- "$lsmer" "$cmd" --help
    grep_out out "Usage: lsmer $cmd" "$cmd usage"
    grep_out out "Exit status" "$cmd exit codes"
    expect 0 "lsmer help $cmd" -- "$lsmer" help "$cmd"
    grep_out out "Usage: lsmer $cmd" "help $cmd"
  done
  expect 0 "lsmer -h" -- "$lsmer" -h
  ;;
version)
  expect 0 "lsmer --version" -- "$lsmer" --version
  grep_out out "^lsmer [0-9]" "version line"
  ;;
usage)
  expect 2 "no command" -- "$lsmer"
  grep_out err "Usage" "usage on stderr"
  expect 2 "unknown command" -- "$lsmer" frobnicate
  grep_out err "unknown command 'frobnicate'" "names the command"
  expect 2 "help for an unknown command" -- "$lsmer" help frobnicate
  expect 2 "stats without DATA_DIR" -- "$lsmer" stats
  grep_out err "missing DATA_DIR" "says what is missing"
  expect 2 "stats with two dirs" -- "$lsmer" stats a b
  expect 2 "stats with a bad option" -- "$lsmer" stats --frob "$tmp"
  expect 2 "compact without DATA_DIR" -- "$lsmer" compact
  expect 1 "stats of a missing directory" -- "$lsmer" stats "$tmp/nonexistent"
  grep_out err "$tmp/nonexistent" "names the directory"
  expect 1 "compact of a missing directory" -- "$lsmer" compact "$tmp/nonexistent"
  grep_out err "$tmp/nonexistent" "names the directory"
  : >"$tmp/afile"
  expect 1 "stats of a file" -- "$lsmer" stats "$tmp/afile"
  ;;
bench_options)
  expect 2 "bench unknown option" -- "$lsmer" bench --frob
  grep_out err "unknown option" "names the problem"
  expect 2 "bench bad number" -- "$lsmer" bench --num=abc
  grep_out err "--num" "names the option"
  expect 2 "bench zero keys" -- "$lsmer" bench --num=0
  expect 2 "bench unknown workload" -- "$lsmer" bench --benchmarks=fillseq,nosuch
  grep_out err "nosuch" "names the workload"
  expect 2 "bench unknown engine" -- "$lsmer" bench --engines=nosuchdb
  expect 2 "bench missing value" -- "$lsmer" bench --num
  expect 2 "bench stray argument" -- "$lsmer" bench stray
  expect 2 "bench bad size" -- "$lsmer" bench --cache-size=12Q
  expect 2 "bench bad compression" -- "$lsmer" bench --compression=99
  expect 2 "bench zero rounds" -- "$lsmer" bench --repeat=0
  grep_out err "--repeat" "names the option"
  expect 0 "bench --list" -- "$lsmer" bench --list
  grep_out out "^workload fillsync4" "lists workloads"
  grep_out out "^engine lsmer" "lists engines"
  ;;
bench_smoke)
  # Every built engine, every workload, small; the scratch dir must be gone
  # afterwards and the CSV must have a row per engine and workload.
  expect 0 "bench smoke run" -- "$lsmer" bench --num=20000 --db="$tmp/db" --csv="$tmp/out.csv" --no-progress
  cat "$tmp/out"
  grep_out out "== throughput" "summary table"
  grep_out out "fillsync4" "fillsync4 ran"
  if [ -e "$tmp/db" ]; then echo "FAIL: scratch dir $tmp/db left behind"; fail=1; fi
  engines=$("$lsmer" bench --list | awk '$1 == "engine" && $2 !~ /-nocomp$/ && NF == 2' | wc -l)
  rows=$(($(wc -l <"$tmp/out.csv") - 1))
  if [ "$rows" -ne $((engines * 12)) ]; then
    echo "FAIL: CSV has $rows rows, expected $((engines * 12)) ($engines engines x 12 workloads)"
    fail=1
  fi
  if awk -F, 'NR > 1 && $3 != 0' "$tmp/out.csv" | grep -q .; then
    echo "FAIL: a workload reported an error:"; awk -F, 'NR > 1 && $3 != 0' "$tmp/out.csv"; fail=1
  fi
  ;;
bench_repeat)
  # Three rounds: each printed, and the CSV's figure is the middle one.
  expect 0 "bench three rounds" -- "$lsmer" bench --engines=lsmer --num=5000 \
    --benchmarks=fillrandom,readrandom --repeat=3 --db="$tmp/db" --csv="$tmp/out.csv" --no-progress
  grep_out out "round 3 of 3" "third round"
  grep_out out "median over the 3 rounds" "says the tables are medians"
  rates=$(awk '$1 == "readrandom" && $2 ~ /^[0-9]+$/ && NF > 10 {print $2}' "$tmp/out" | sort -n)
  if [ "$(echo "$rates" | wc -l)" -ne 3 ]; then
    echo "FAIL: expected 3 readrandom rounds, got: $rates"; fail=1
  else
    mid=$(echo "$rates" | sed -n 2p)
    csv=$(awk -F, '$2 == "readrandom" {printf "%.0f", $9}' "$tmp/out.csv")
    if [ $((csv - mid)) -gt 1 ] || [ $((mid - csv)) -gt 1 ]; then
      echo "FAIL: CSV readrandom rate $csv is not the median of $rates"; fail=1
    fi
  fi
  ;;
stats_compact)
  expect 0 "bench leaves an lsmer database" -- "$lsmer" bench --engines=lsmer --num=5000 \
    --benchmarks=fillrandom --db="$tmp/db" --keep --no-progress
  db=$tmp/db/lsmer
  expect 0 "stats" -- "$lsmer" stats "$db"
  grep_out out "^L0" "level table"
  grep_out out "write amplification" "write amplification line"
  grep_out out "block cache" "cache line"
  grep_out out "bloom" "bloom line"
  expect 0 "stats --json" -- "$lsmer" stats --json "$db"
  if command -v python3 >/dev/null; then
    if ! python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "levels" in d and "write_amplification" in d' "$tmp/out"; then
      echo "FAIL: stats --json is not the expected JSON"; cat "$tmp/out"; fail=1
    fi
  fi
  expect 0 "compact" -- "$lsmer" compact "$db"
  grep_out out "compacted" "summary line"
  expect 0 "stats after compact" -- "$lsmer" stats --json "$db"
  if command -v python3 >/dev/null; then
    # After a full compaction only the last non-empty level may hold files.
    if ! python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
used=[l["level"] for l in d["levels"] if l["files"] > 0]
assert len(used) <= 1, used
' "$tmp/out"; then
      echo "FAIL: more than one level holds files after compact"; cat "$tmp/out"; fail=1
    fi
  fi
  ;;
*)
  echo "cli_test.sh: unknown case '$case_name'"; exit 2 ;;
esac
rm -rf "$tmp"
if [ "$fail" -ne 0 ]; then echo "0 passed, 1 failed"; exit 1; fi
echo "1 passed, 0 failed"
