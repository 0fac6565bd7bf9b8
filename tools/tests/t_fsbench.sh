#!/usr/bin/env bash
# t_fsbench: tools/fsbench/fsbench.sh runs (a benchmark, so only that it
# completes and reports what it says): a bad --repeat is refused with exit 2;
# a small run of the config-update workload in three rounds on the plain
# directory and lsmerfs prints each round, a table row whose figures are the
# medians of the rounds' figures (checked against the figures printed), and
# a CSV row.
NAME=t_fsbench
. "$(dirname "$0")/lib_admin.sh"
FSBENCH=$(cd "$(dirname "$0")/../fsbench" && pwd)/fsbench.sh

run bash "$FSBENCH" --repeat 0 ${LSMERFS:+--lsmerfs "$LSMERFS"}
expect_rc 2 "--repeat 0"
has err "repeat" "names the option"
run bash "$FSBENCH" --help
expect_rc 0 "--help"
has out "--repeat N" "documents --repeat"

can_mount || { echo "skip: needs LSMERFS and /dev/fuse"; exit 77; }
command -v cc >/dev/null && command -v sqlite3 >/dev/null || { echo "skip: needs cc and sqlite3"; exit 77; }

run bash "$FSBENCH" --quick --no-bindfs --only config --repeat 3 --lsmerfs "$LSMERFS" \
    --dir "$TMP" --csv "$TMP/fs.csv"
expect_rc 0 "three rounds of config updates"
has err "config +lsmerfs +done \(round 3 of 3\)" "third round ran"
has out "median of 3 rounds" "says the figures are medians"
has out "^config +updates/s" "table row"
[ "$(grep -c ',config,' "$TMP/fs.csv" 2>/dev/null)" = 1 ] && ok "CSV row" || bad "no CSV row for config"
# The table's lsmerfs figure is the middle of the three printed per round.
rounds=$(awk '$1 == "config" && $2 == "lsmerfs" && $4 == "updates/s" { print $3 }' "$TMP/err" | sort -g)
mid=$(echo "$rounds" | sed -n 2p)
table=$(awk '$1 == "config" { print $5 }' "$TMP/out")
if [ "$(echo "$rounds" | wc -l)" = 3 ] && [ -n "$mid" ] && [ "$mid" = "$table" ]; then
    ok "median of the rounds ($table of" $rounds")"
else
    bad "table figure '$table' is not the median of the rounds:" $rounds
fi
# No scratch data left behind by the run.
if ls -d "$TMP"/fsbench.* >/dev/null 2>&1; then bad "scratch directory left in $TMP"; else ok "scratch removed"; fi
finish
