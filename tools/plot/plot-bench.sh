#!/usr/bin/env bash
# plot-bench.sh — bar charts of benchmark results as ratios to the best peer,
# from the CSV that `lsmer bench --csv=FILE` and
# `tools/fsbench/fsbench.sh --csv FILE` write.
#
# Usage: tools/plot/plot-bench.sh [--engine CSV] [--fs CSV] [--out DIR]
#   --engine CSV  lsmer bench output: one bar per engine and workload, its
#                 throughput (rate_per_sec) divided by the best peer's
#                 (RocksDB, LevelDB, LMDB: every engine not named lsmer*) on
#                 that workload  ->  DIR/bench-engine.png
#   --fs CSV      fsbench output: plain directory, bindfs and lsmerfs, each
#                 divided by the better of plain and bindfs
#                                ->  DIR/bench-fs.png
#   --out DIR     where the PNGs go (default: docs/img of this checkout)
#   --title TEXT  a line added under each chart's title (e.g. the machine)
#   -h, --help
#
# A ratio of 1.00 is as fast as the best peer; 2.00 twice as fast. The
# y axis is logarithmic (base 2) so that half and double are as far from
# 1. Workloads where no peer has a result (a failed run, a peer not built
# in) are left out and listed on stderr. The data files gnuplot reads are
# kept next to the PNGs as bench-engine.dat and bench-fs.dat.
# Needs gnuplot (Debian: gnuplot-nox; scripts/install-deps.sh --bench).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
ENGINE_CSV=""
FS_CSV=""
OUT=$REPO/docs/img
SUBTITLE=""
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
    --engine) ENGINE_CSV=${2:?--engine needs a file}; shift ;;
    --fs) FS_CSV=${2:?--fs needs a file}; shift ;;
    --out) OUT=${2:?--out needs a directory}; shift ;;
    --title) SUBTITLE=${2:?--title needs text}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "plot-bench: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
[ -n "$ENGINE_CSV$FS_CSV" ] || { echo "plot-bench: give --engine CSV and/or --fs CSV (try --help)" >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "plot-bench: gnuplot not installed (Debian package gnuplot-nox)" >&2; exit 3; }
mkdir -p "$OUT"

# The first PNG terminal this gnuplot has: pngcairo draws better.
if gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1; then
    TERMINAL='pngcairo size 1280,640 font "sans,10"'
elif gnuplot -e 'set terminal png' >/dev/null 2>&1; then
    TERMINAL='png size 1280,640'
else
    echo "plot-bench: this gnuplot has no PNG terminal" >&2
    exit 3
fi

# ratios CSV_KIND CSV DAT: writes DAT, a whitespace-separated table with a
# header line "workload SERIES..." and one line per workload: each series'
# value over the best peer's ('?' where a series has no value). Prints the
# number of workloads on stdout.
#   engine: series = column "engine", value = "rate_per_sec", rows with
#           status != 0 skipped, peers = engines not starting with "lsmer".
#   fs:     series = plain, bindfs, lsmerfs (columns of those names), peers
#           = plain and bindfs.
ratios() {
    awk -F, -v kind="$1" '
    function unquote(s) { gsub(/^"|"$/, "", s); return s }
    NR == 1 {
        for (i = 1; i <= NF; i++) col[unquote($i)] = i
        if (kind == "engine") need = "engine workload status rate_per_sec"
        else need = "workload plain bindfs lsmerfs"
        n = split(need, req, " ")
        for (i = 1; i <= n; i++)
            if (!(req[i] in col)) { printf "plot-bench: %s CSV has no column \"%s\"\n", kind, req[i] > "/dev/stderr"; bad = 1; exit 2 }
        if (kind == "fs") { nser = 3; ser[1] = "plain"; ser[2] = "bindfs"; ser[3] = "lsmerfs"; seen["plain"] = seen["bindfs"] = seen["lsmerfs"] = 1 }
        next
    }
    {
        w = unquote($col["workload"])
        if (w == "") next
        if (!(w in wseen)) { wseen[w] = 1; work[++nwork] = w }
        if (kind == "engine") {
            if ($col["status"] + 0 != 0) next
            add(w, unquote($col["engine"]), $col["rate_per_sec"])
        } else {
            add(w, "plain", $col["plain"]); add(w, "bindfs", $col["bindfs"]); add(w, "lsmerfs", $col["lsmerfs"])
        }
    }
    function add(w, s, v) {
        if (!(s in seen)) { seen[s] = 1; ser[++nser] = s }
        if (v == "" || v == "-" || v + 0 <= 0) return
        val[w, s] = v + 0
        if (s !~ /^lsmer/ && v + 0 > best[w]) best[w] = v + 0
    }
    END {
        if (bad) exit 2
        line = "workload"
        for (j = 1; j <= nser; j++) line = line " " ser[j]
        print line > DAT
        rows = 0
        for (i = 1; i <= nwork; i++) {
            w = work[i]
            if (!(best[w] > 0)) { printf "plot-bench: %s: no peer result, left out\n", w > "/dev/stderr"; continue }
            line = w
            for (j = 1; j <= nser; j++)
                line = line " " (((w, ser[j]) in val) ? sprintf("%.4f", val[w, ser[j]] / best[w]) : "?")
            print line > DAT
            rows++
        }
        print rows
    }' DAT="$3" "$2"
}

# chart DAT PNG TITLE YLABEL
chart() {
    local dat=$1 png=$2 title=$3 ylabel=$4 nser lo hi
    nser=$(($(head -1 "$dat" | wc -w) - 1))
    [ -n "$SUBTITLE" ] && title="$title\\n$SUBTITLE"
    # Bars rise from the bottom of the axis: make it a power of two below
    # the smallest ratio (and the top one above the largest), 1 included.
    read -r lo hi < <(awk 'NR > 1 { for (i = 2; i <= NF; i++) if ($i != "?") {
            if (min == "" || $i < min) min = $i; if ($i > max) max = $i } }
        END { lo = 0.5; while (lo > min / 1.2) lo /= 2; hi = 2; while (hi < max * 1.3) hi *= 2
              print lo, hi }' "$dat")
    # Bars are placed by hand (clusters of n bars, one unit apart, a gap of
    # one between clusters) so that each ratio can be written above its bar.
    xtics=$(awk -v n="$nser" 'NR > 1 { printf "%s\"%s\" %g", (NR > 2 ? ", " : ""), $1, (NR - 2) * (n + 1) + (n - 1) / 2 }' "$dat")
    rows=$(($(wc -l <"$dat") - 1))
    gnuplot <<EOF
set terminal $TERMINAL
set termoption noenhanced
set output "$png"
set datafile missing "?"
set title "$title"
set ylabel "$ylabel"
set yrange [$lo:$hi]
set logscale y 2
set format y "%g"
set xrange [-1:$((rows * (nser + 1) - 1))]
set xtics ($xtics) rotate by -30 nomirror scale 0
set ytics nomirror
set grid ytics
set style fill solid 0.85 border -1
set boxwidth 0.9 absolute
set key outside right top autotitle columnhead
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 dt 2 lc rgb "black" front
n = $nser
plot for [i=2:n+1] "$dat" using (\$0 * (n + 1) + i - 2):(column(i)) with boxes title columnheader(i), \\
     for [i=2:n+1] "$dat" using (\$0 * (n + 1) + i - 2):(column(i)):(sprintf("%.2f", column(i))) \\
         with labels offset 0,0.7 font ",8" notitle
EOF
    [ -s "$png" ] || { echo "plot-bench: gnuplot wrote no $png" >&2; return 1; }
    echo "wrote $png"
}

if [ -n "$ENGINE_CSV" ]; then
    [ -r "$ENGINE_CSV" ] || { echo "plot-bench: cannot read $ENGINE_CSV" >&2; exit 1; }
    n=$(ratios engine "$ENGINE_CSV" "$OUT/bench-engine.dat")
    [ "$n" -gt 0 ] || { echo "plot-bench: $ENGINE_CSV has no workload with a peer result (run lsmer bench with at least one of rocksdb, leveldb, lmdb)" >&2; exit 1; }
    chart "$OUT/bench-engine.dat" "$OUT/bench-engine.png" \
        "lsmer bench: throughput relative to the best peer (RocksDB, LevelDB, LMDB)" \
        "ops/s / best peer's ops/s (higher is better)"
fi
if [ -n "$FS_CSV" ]; then
    [ -r "$FS_CSV" ] || { echo "plot-bench: cannot read $FS_CSV" >&2; exit 1; }
    n=$(ratios fs "$FS_CSV" "$OUT/bench-fs.dat")
    [ "$n" -gt 0 ] || { echo "plot-bench: $FS_CSV has no workload with a plain or bindfs result" >&2; exit 1; }
    chart "$OUT/bench-fs.dat" "$OUT/bench-fs.png" \
        "fsbench: throughput relative to the better of the plain directory and bindfs" \
        "throughput / best peer's (higher is better)"
fi
