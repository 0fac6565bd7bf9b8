#!/usr/bin/env bash
# t_plot: tools/plot/plot-bench.sh turns small CSVs in the formats of
# `lsmer bench --csv` and `fsbench.sh --csv` into two PNGs, with the ratios
# to the best peer computed right (checked in the data files it keeps), and
# workloads without a peer result left out; bad input fails with a message.
# Skipped (77) when gnuplot is not installed.
# Env: LSMER_TEST_TMP (LSMER, LSMERFS unused).
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PLOT=$HERE/../plot/plot-bench.sh
TMP=$LSMER_TEST_TMP/t_plot
rm -rf "$TMP" && mkdir -p "$TMP"
command -v gnuplot >/dev/null || { echo "SKIP: gnuplot not installed (scripts/install-deps.sh --bench)"; exit 77; }
fails=0
ok() { printf 'ok   %s\n' "$*"; }
bad() {
    printf 'FAIL %s\n' "$*" >&2
    fails=$((fails + 1))
}

# The header lsmer bench writes (tools/bench/bench_main.c write_csv); only
# engine, workload, status and rate_per_sec matter to the plot.
H="engine,workload,status,ops,entries,found,bytes,seconds,rate_per_sec,mb_per_sec,p50_us,p99_us,p999_us,max_us,write_amp,disk_write_amp,space_bytes,peak_rss_kb,stall_sec,num,value_size,zstd_level,cache_size,bloom_bits,threads,note"
row() { # engine workload status rate
    echo "$1,$2,$3,1000,1000,1000,116000,0.5,$4,1.0,1,2,3,4,1.5,1.6,100000,20000,0.000,1000,100,1,33554432,10,1,\"\""
}
{
    echo "$H"
    row lsmer fillseq 0 200000.0
    row lsmer readrandom 0 30000.0
    row lsmer fillsync 0 900.0
    row lsmer-nocomp fillseq 0 250000.0
    row rocksdb fillseq 0 100000.0
    row rocksdb readrandom 0 60000.0
    row rocksdb fillsync 1 0.0
    row leveldb fillseq 0 50000.0
    row leveldb readrandom 0 40000.0
    row leveldb fillsync 1 0.0
} >"$TMP/engine.csv"

# fsbench.sh's header; bindfs missing on one row (as without bindfs).
{
    echo "date,workload,unit,plain_fs,plain,bindfs,lsmerfs,lsmerfs_over_plain,lsmerfs_over_bindfs"
    echo "2025-01-01,create,files/s,ext4,40000,10000,20000,0.50,2.00"
    echo "2025-01-01,seqwrite,MB/s,ext4,800,,400,0.50,-"
    echo "2025-01-01,sqlite,rows/s,ext4,,,1000,-,-"
} >"$TMP/fs.csv"

OUT=$TMP/img
if "$PLOT" --engine "$TMP/engine.csv" --fs "$TMP/fs.csv" --out "$OUT" --title "t_plot fixture" \
    >"$TMP/out" 2>"$TMP/err"; then
    ok "plot-bench.sh ran"
else
    bad "plot-bench.sh failed: $(cat "$TMP/err")"
fi
for png in bench-engine.png bench-fs.png; do
    magic=$(head -c 8 "$OUT/$png" 2>/dev/null | od -An -tx1 | tr -d ' \n')
    if [ "$magic" = 89504e470d0a1a0a ] && [ "$(wc -c <"$OUT/$png")" -gt 5000 ]; then
        ok "$png is a PNG of $(wc -c <"$OUT/$png") bytes"
    else
        bad "$png missing or not a PNG (magic '$magic')"
    fi
done

# expect_dat FILE EXPECTED: the data file gnuplot plotted, exactly.
expect_dat() {
    if diff -u "$2" "$1" >"$TMP/diff"; then
        ok "$(basename "$1") has the expected ratios"
    else
        bad "$(basename "$1") differs from what was expected:"
        cat "$TMP/diff" >&2
    fi
}
cat >"$TMP/engine.want" <<'EOF'
workload lsmer lsmer-nocomp rocksdb leveldb
fillseq 2.0000 2.5000 1.0000 0.5000
readrandom 0.5000 ? 1.0000 0.6667
EOF
cat >"$TMP/fs.want" <<'EOF'
workload plain bindfs lsmerfs
create 1.0000 0.2500 0.5000
seqwrite 1.0000 ? 0.5000
EOF
expect_dat "$OUT/bench-engine.dat" "$TMP/engine.want"
expect_dat "$OUT/bench-fs.dat" "$TMP/fs.want"
grep -q "fillsync: no peer result" "$TMP/err" && grep -q "sqlite: no peer result" "$TMP/err" &&
    ok "workloads without a peer result are named on stderr" ||
    bad "the workloads left out were not reported: $(cat "$TMP/err")"

# Bad input: a CSV without the columns, and one with no peer at all.
echo "a,b,c" >"$TMP/junk.csv"
if "$PLOT" --engine "$TMP/junk.csv" --out "$TMP/junk" >/dev/null 2>"$TMP/err"; then
    bad "a CSV without the expected columns was accepted"
else
    grep -q 'no column "engine"' "$TMP/err" && ok "a CSV without the columns is refused" ||
        bad "wrong message for a bad CSV: $(cat "$TMP/err")"
fi
{
    echo "$H"
    row lsmer fillseq 0 1000.0
} >"$TMP/alone.csv"
if "$PLOT" --engine "$TMP/alone.csv" --out "$TMP/alone" >/dev/null 2>"$TMP/err"; then
    bad "a CSV with no peer was accepted"
else
    grep -q "no workload with a peer result" "$TMP/err" && ok "a CSV with no peer is refused" ||
        bad "wrong message without peers: $(cat "$TMP/err")"
fi
"$PLOT" >/dev/null 2>&1
[ $? -eq 2 ] && ok "no input: usage error (2)" || bad "no input should exit 2"

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed" >&2; exit 1; }
echo "all plot checks passed"
