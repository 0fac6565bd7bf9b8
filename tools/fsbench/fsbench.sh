#!/usr/bin/env bash
# fsbench.sh — lsmerfs side by side with a FUSE passthrough (bindfs) and the
# plain directory they both sit on, in one run. A benchmark, not a test: it
# prints figures and asserts nothing beyond the workloads completing.
#
# Usage: tools/fsbench/fsbench.sh [options]
#   --quick          smaller sizes (10,000 empty files, 256 MiB sequential,
#                    64 MiB random-IO file, fewer updates and inserts)
#   --lsmerfs PATH   the daemon (default: build/fs/lsmerfs, else $PATH)
#   --dir DIR        scratch base (default: a new directory in $TMPDIR or /tmp);
#                    all three targets live on this one filesystem
#   --csv FILE       also write the results as CSV
#   --only LIST      comma-separated workloads (names as in the table's first
#                    column, e.g. create,seqwrite,sqlite)
#   --lsmerfs-opts O extra -o options for lsmerfs (e.g. nowriteback)
#   --no-bindfs      skip bindfs even if installed
#   --keep           keep the scratch directory
#   --repeat N       run every workload N times (1-9), the targets taking
#                    turns each round, and report each figure's median
#   -h, --help
#
# Every figure is a throughput (higher is better); the ratio columns are
# lsmerfs divided by the plain directory and by bindfs (0.50 = half as fast).
# Page caches are dropped (as root) before each read phase, so reads come
# from the filesystem, not from memory; where that is impossible the run
# says so. Needs: cc, sqlite3, bindfs (optional), fusermount3.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
QUICK=0
LSMERFS_BIN=""
BASE=""
CSV=""
ONLY=""
LSM_OPTS=""
USE_BINDFS=1
KEEP=0
REPEAT=1
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --lsmerfs) LSMERFS_BIN=$2; shift ;;
    --dir) BASE=$2; shift ;;
    --csv) CSV=$2; shift ;;
    --only) ONLY=$2; shift ;;
    --lsmerfs-opts) LSM_OPTS=$2; shift ;;
    --no-bindfs) USE_BINDFS=0 ;;
    --keep) KEEP=1 ;;
    --repeat) REPEAT=${2:-}; [ $# -lt 2 ] || shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "fsbench: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
case "$REPEAT" in
[1-9]) ;;
*) echo "fsbench: --repeat takes 1 to 9, not '$REPEAT'" >&2; exit 2 ;;
esac

if [ -z "$LSMERFS_BIN" ]; then
    if [ -x "$REPO/build/fs/lsmerfs" ]; then
        LSMERFS_BIN=$REPO/build/fs/lsmerfs
    else
        LSMERFS_BIN=$(command -v lsmerfs || true)
    fi
fi
[ -n "$LSMERFS_BIN" ] && [ -x "$LSMERFS_BIN" ] || { echo "fsbench: lsmerfs not found (use --lsmerfs PATH)" >&2; exit 2; }
for c in cc sqlite3 fusermount3 mountpoint; do
    command -v "$c" >/dev/null || { echo "fsbench: needs $c" >&2; exit 2; }
done
if [ "$USE_BINDFS" = 1 ] && ! command -v bindfs >/dev/null; then
    echo "fsbench: bindfs not installed (scripts/install-deps.sh --bench); running without it" >&2
    USE_BINDFS=0
fi

if [ "$QUICK" = 1 ]; then
    N_EMPTY=10000 N_SMALL=10000 SEQ_MB=256 RAND_MB=64 RAND_OPS=5000 N_CONFIG=300 N_FSYNC=1000 N_ROWS=5000
else
    N_EMPTY=100000 N_SMALL=10000 SEQ_MB=1024 RAND_MB=256 RAND_OPS=20000 N_CONFIG=1000 N_FSYNC=3000 N_ROWS=20000
fi
CP_SRC=/usr/include

if [ -z "$BASE" ]; then
    BASE=$(mktemp -d "${TMPDIR:-/tmp}/fsbench.XXXXXX")
else
    mkdir -p "$BASE"
    BASE=$(mktemp -d "$(realpath "$BASE")/fsbench.XXXXXX")
fi
PLAIN=$BASE/plain
BSRC=$BASE/bindfs-src
BMNT=$BASE/bindfs
LDATA=$BASE/lsmerfs-data
LMNT=$BASE/lsmerfs
mkdir -p "$PLAIN" "$BSRC" "$BMNT" "$LDATA" "$LMNT" "$BASE/bin"
LSM_PID=""
BIND_PID=""

cleanup() {
    set +e
    cd /
    for m in "$LMNT" "$BMNT"; do
        mountpoint -q "$m" && { fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m"; }
    done
    for p in $LSM_PID $BIND_PID; do
        for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null && kill -9 "$p"
    done
    if [ "$KEEP" = 1 ]; then
        echo "fsbench: kept $BASE"
    elif ! grep -q " $BASE/" /proc/self/mountinfo; then
        rm -rf "$BASE"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

OPS=$BASE/bin/fsbench_ops
cc -O2 -o "$OPS" "$HERE/fsbench_ops.c"

wait_mount() { # mnt pid
    for _ in $(seq 1 300); do
        mountpoint -q "$1" && return 0
        kill -0 "$2" 2>/dev/null || { echo "fsbench: daemon for $1 exited" >&2; exit 1; }
        sleep 0.1
    done
    echo "fsbench: $1 not mounted after 30 s" >&2
    exit 1
}
"$LSMERFS_BIN" "$LDATA" "$LMNT" -f ${LSM_OPTS:+-o "$LSM_OPTS"} >"$BASE/lsmerfs.log" 2>&1 &
LSM_PID=$!
wait_mount "$LMNT" "$LSM_PID"
TARGETS=(plain)
declare -A ROOT=([plain]=$PLAIN [lsmerfs]=$LMNT)
if [ "$USE_BINDFS" = 1 ]; then
    bindfs -f "$BSRC" "$BMNT" >"$BASE/bindfs.log" 2>&1 &
    BIND_PID=$!
    wait_mount "$BMNT" "$BIND_PID"
    TARGETS+=(bindfs)
    ROOT[bindfs]=$BMNT
fi
TARGETS+=(lsmerfs)

PLAIN_FS=$(df -T "$PLAIN" | awk 'NR == 2 { print $2 }')
CAN_DROP=0
if [ "$(id -u)" -eq 0 ] && sync && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
    CAN_DROP=1
fi
drop_caches() {
    sync
    [ "$CAN_DROP" = 1 ] && echo 3 >/proc/sys/vm/drop_caches
    return 0
}

# --- the machine --------------------------------------------------------------
DATE=$(date -Is)
echo "fsbench $DATE$([ "$QUICK" = 1 ] && echo " (--quick)")"
echo "host:     $(uname -n), $(uname -srm)"
echo "cpu:      $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "memory:   $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "plain:    $PLAIN on $PLAIN_FS ($(df -T "$PLAIN" | awk 'NR == 2 { print $1 }'))"
echo "lsmerfs:  $LSMERFS_BIN${LSM_OPTS:+ -o $LSM_OPTS} (git $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo ?)$(git -C "$REPO" diff --quiet 2>/dev/null || echo "+dirty"))"
[ "$USE_BINDFS" = 1 ] && echo "bindfs:   $(bindfs --version 2>&1 | head -1), on $PLAIN_FS"
echo "fuse:     $(fusermount3 --version 2>&1 | head -1); lsmerfs requests through $(
    p=/sys/module/fuse/parameters/enable_uring
    if [ "$(cat "$p" 2>/dev/null)" = Y ] && [[ ",$LSM_OPTS," != *,nouring,* ]]; then
        echo "io_uring (enable_uring=Y)"
    else echo "/dev/fuse"; fi)"
echo "caches:   $([ "$CAN_DROP" = 1 ] && echo "dropped before each read phase" || echo "NOT dropped (needs root): reads may come from memory")"
[ "$REPEAT" -gt 1 ] && echo "rounds:   $REPEAT (the targets take turns; the table gives medians)"
echo "sizes:    $N_EMPTY empty files, $N_SMALL x 4 KiB, cp -a $CP_SRC ($(du -sm "$CP_SRC" | cut -f1) MiB), $SEQ_MB MiB sequential, $RAND_OPS random 4 KiB ops on $RAND_MB MiB, $N_CONFIG config updates, $N_FSYNC appends+fdatasync, $N_ROWS sqlite rows"
echo

# --- results --------------------------------------------------------------------
declare -A RES
NAMES=()
UNITS=()
want() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }
record() { # name unit target value: one round's figure
    RES[$1/$3]=$2
    RES[$1/$3/all]="${RES[$1/$3/all]:-} $4"
    # With rounds, each round's figure goes to stderr: the spread is news.
    [ "$REPEAT" -eq 1 ] || printf '  %-10s %-8s %s %s\n' "$1" "$3" "$4" "$2" >&2
    [[ " ${NAMES[*]} " == *" $1 "* ]] || { NAMES+=("$1"); UNITS+=("$2"); }
}
median() { # values...: the middle one (the mean of the middle two if even)
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) exit
        if (NR % 2) printf "%.1f", v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.1f", (t > 0 ? n / t : 0) }'; }
timeit() { # command...: prints elapsed seconds
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }'
}
ROUND=1
progress() {
    if [ "$REPEAT" -gt 1 ]; then
        printf '  %-10s %-8s %s (round %d of %d)\n' "$1" "$2" "$3" "$ROUND" "$REPEAT" >&2
    else
        printf '  %-10s %-8s %s\n' "$1" "$2" "$3" >&2
    fi
}

for t in "${TARGETS[@]}"; do mkdir -p "${ROOT[$t]}/work"; done

# One round of every wanted workload on every target.
run_round() {
    if want create || want stat || want readdir || want unlink; then
        for t in "${TARGETS[@]}"; do
            d=${ROOT[$t]}/work/empty
            mkdir -p "$d"
            s=$("$OPS" create "$d" "$N_EMPTY"); record create files/s "$t" "$(rate "$N_EMPTY" "$s")"
            drop_caches
            s=$("$OPS" stat "$d" "$N_EMPTY"); record stat files/s "$t" "$(rate "$N_EMPTY" "$s")"
            drop_caches
            s=$("$OPS" readdir "$d" 2>/dev/null); record readdir entries/s "$t" "$(rate "$N_EMPTY" "$s")"
            s=$("$OPS" unlink "$d" "$N_EMPTY"); record unlink files/s "$t" "$(rate "$N_EMPTY" "$s")"
            rmdir "$d"
            progress empty "$t" "done"
        done
    fi

    if want smallwrite || want smallread; then
        for t in "${TARGETS[@]}"; do
            d=${ROOT[$t]}/work/small
            mkdir -p "$d"
            s=$("$OPS" write "$d" "$N_SMALL" 4096); record smallwrite files/s "$t" "$(rate "$N_SMALL" "$s")"
            drop_caches
            s=$("$OPS" read "$d" "$N_SMALL" 4096); record smallread files/s "$t" "$(rate "$N_SMALL" "$s")"
            rm -rf "$d"
            progress small "$t" "done"
        done
    fi

    if want cp; then
        mb=$(du -sm "$CP_SRC" | cut -f1)
        for t in "${TARGETS[@]}"; do
            drop_caches
            cat "$CP_SRC"/*.h >/dev/null 2>&1 || true
            s=$(timeit cp -a "$CP_SRC" "${ROOT[$t]}/work/include")
            record cp MiB/s "$t" "$(rate "$mb" "$s")"
            rm -rf "${ROOT[$t]}/work/include"
            progress cp "$t" "done"
        done
    fi

    if want seqwrite || want seqread; then
        for t in "${TARGETS[@]}"; do
            f=${ROOT[$t]}/work/seq.bin
            s=$("$OPS" seqwrite "$f" "$SEQ_MB"); record seqwrite MiB/s "$t" "$(rate "$SEQ_MB" "$s")"
            drop_caches
            s=$("$OPS" seqread "$f"); record seqread MiB/s "$t" "$(rate "$SEQ_MB" "$s")"
            rm -f "$f"
            progress seq "$t" "done"
        done
    fi

    if want randwrite || want randread; then
        for t in "${TARGETS[@]}"; do
            f=${ROOT[$t]}/work/rand.bin
            "$OPS" seqwrite "$f" "$RAND_MB" >/dev/null
            drop_caches
            s=$("$OPS" randread "$f" "$RAND_OPS" 1); record randread ops/s "$t" "$(rate "$RAND_OPS" "$s")"
            s=$("$OPS" randwrite "$f" "$RAND_OPS" 2); record randwrite ops/s "$t" "$(rate "$RAND_OPS" "$s")"
            rm -f "$f"
            progress rand "$t" "done"
        done
    fi

    if want fsync; then
        for t in "${TARGETS[@]}"; do
            f=${ROOT[$t]}/work/log.bin
            s=$("$OPS" fsync "$f" "$N_FSYNC"); record fsync appends/s "$t" "$(rate "$N_FSYNC" "$s")"
            rm -f "$f"
            progress fsync "$t" "done"
        done
    fi

    if want config; then
        for t in "${TARGETS[@]}"; do
            d=${ROOT[$t]}/work/etc
            mkdir -p "$d"
            s=$("$OPS" config "$d" "$N_CONFIG"); record config updates/s "$t" "$(rate "$N_CONFIG" "$s")"
            rm -rf "$d"
            progress config "$t" "done"
        done
    fi

    if want sqlite; then
        SQL=$BASE/inserts.sql
        [ -f "$SQL" ] || {
            echo "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB);"
            echo "CREATE INDEX t_k ON t(k);"
            for ((i = 0; i < N_ROWS; i += 100)); do
                echo "BEGIN;"
                for ((j = i; j < i + 100; j++)); do
                    echo "INSERT INTO t(k, v) VALUES('key$((j * 7919 % 1000003))', randomblob(200));"
                done
                echo "COMMIT;"
            done
        } >"$SQL"
        for t in "${TARGETS[@]}"; do
            db=${ROOT[$t]}/work/bench.db
            s=$(timeit sh -c "sqlite3 '$db' < '$SQL'")
            record sqlite rows/s "$t" "$(rate "$N_ROWS" "$s")"
            [ "$(sqlite3 "$db" 'SELECT count(*) FROM t;')" = "$N_ROWS" ] || { echo "fsbench: sqlite row count wrong on $t" >&2; exit 1; }
            rm -f "$db"
            progress sqlite "$t" "done"
        done
    fi
}

for ROUND in $(seq 1 "$REPEAT"); do run_round; done
for i in "${!NAMES[@]}"; do
    for t in "${TARGETS[@]}"; do
        # shellcheck disable=SC2086 # the list is space-separated numbers
        [ -n "${RES[${NAMES[$i]}/$t/all]:-}" ] && RES[${NAMES[$i]}/$t/v]=$(median ${RES[${NAMES[$i]}/$t/all]})
    done
done

# --- the table ------------------------------------------------------------------
ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0 && a > 0) printf "%.2f", a / b; else printf "-" }'; }
printf '\n%-11s %-10s %12s %12s %12s %14s %14s\n' workload unit "plain($PLAIN_FS)" bindfs lsmerfs "lsmerfs/$PLAIN_FS" lsmerfs/bindfs
[ -n "$CSV" ] && echo "date,workload,unit,plain_fs,plain,bindfs,lsmerfs,lsmerfs_over_plain,lsmerfs_over_bindfs" >"$CSV"
for i in "${!NAMES[@]}"; do
    n=${NAMES[$i]}
    u=${UNITS[$i]}
    p=${RES[$n/plain/v]:-}
    b=${RES[$n/bindfs/v]:-}
    l=${RES[$n/lsmerfs/v]:-}
    rp=$(ratio "$l" "$p")
    rb=$(ratio "$l" "$b")
    printf '%-11s %-10s %12s %12s %12s %14s %14s\n' "$n" "$u" "${p:--}" "${b:--}" "${l:--}" "$rp" "$rb"
    [ -n "$CSV" ] && echo "$DATE,$n,$u,$PLAIN_FS,$p,$b,$l,$rp,$rb" >>"$CSV"
done
echo
[ "$REPEAT" -gt 1 ] && echo "Each figure is the median of $REPEAT rounds."
echo "Throughputs: higher is better; ratios are lsmerfs divided by the other (1.00 = as fast)."
[ -n "$CSV" ] && echo "CSV written to $CSV"
exit 0
