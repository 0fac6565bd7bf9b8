# shellcheck shell=bash
# lib_extra.sh — helpers the mount tests share beyond lib.sh (which it
# sources and builds on: lsm_setup's scratch directory $T with $DATA and
# $MNT, lsm_mount/lsm_umount, the EXIT trap that always unmounts).
#
# Use it at the top of a test:
#     . "$(dirname "$0")/lib_extra.sh"
#     mx_begin "what the test is about"
#
# What it adds (all names start with mx_):
#   mx_begin DESC          lsm_setup + strict mode (set -Eeuo pipefail) with an
#                          ERR trap naming the failing line; $MX_TMP = $T
#   mx_log MSG / mx_ok MSG / mx_fail MSG (exits 1, repeating the seed)
#   mx_seed                $MX_SEED from LSMER_SEED or random, printed; seeds $RANDOM
#   mx_on_exit CMD         CMD (eval'd) runs at exit, last registered first,
#                          before lib.sh unmounts lsmerfs
#   mx_after_umount CMD    CMD runs at exit after lsmerfs is unmounted (e.g. to
#                          unmount a tmpfs holding $DATA)
#   mx_mount DATA MNT [OPTS]   lsm_mount at MNT with DATA (and -o OPTS)
#   mx_umount MNT          clean unmount; fails unless the daemon then exits 0
#   mx_kill9 MNT           kill -9 the daemon, then fusermount3 -uz
#   mx_fsck DATA           "$LSMER fsck DATA" if that exists, else SKIP
#   mx_walk DIR            read every file and list every directory below DIR
#   mx_public_mnt          sets MX_PUBLIC_MNT to a mount point the unprivileged test
#                          users (uid/gid 65534, 65533) can reach: $MX_TMP/mnt
#                          when they can, else one under /tmp (removed at exit)
#   mx_as_a CMD... / mx_as_b CMD...  run CMD as uid/gid 65534 / 65533, no groups
#   mx_need CMD...         fail with a clear message if a program is missing
#   mx_py ARGS             python3 (helpers embedded in the tests use it)
#
# One lsmerfs at a time (lib.sh keeps one $DAEMON_PID); mx_mount sets the
# globals DATA and MNT that lib.sh's trap uses.
#
# Thread safety: none needed — a test is one bash process.

MX_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$MX_DIR/lib.sh"
MX_NAME=$(basename "${0%.sh}")
MX_HOOKS=()
MX_POST_HOOKS=()
MX_TMP=""

mx_log() {
    lsm_log "$*"
}

mx_ok() {
    LSM_CHECKS=$((LSM_CHECKS + 1))
    printf 'ok   %s\n' "$*"
}

mx_fail() {
    LSM_FAILS=$((LSM_FAILS + 1))
    printf 'FAIL %s\n' "$*" >&2
    [ -n "${MX_SEED:-}" ] && lsm_log "seed $MX_SEED (rerun with LSMER_SEED=$MX_SEED)" >&2
    exit 1
}

# The scratch base is often under a 0700 home or build directory that the
# unprivileged users cannot enter. Not in a $(...) subshell: mx_on_exit must
# register in this shell, so the path comes back in MX_PUBLIC_MNT.
mx_public_mnt() {
    local base
    if mx_as_a test -x "$MX_TMP/.." 2>/dev/null && chmod 755 "$MX_TMP"; then
        base=$MX_TMP
    else
        base=$(mktemp -d /tmp/lsmer-public.XXXXXX)
        chmod 755 "$base"
        mx_on_exit "rmdir '$base/mnt' '$base' 2>/dev/null"
    fi
    MX_PUBLIC_MNT=$base/mnt
}

mx_as_a() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
mx_as_b() { setpriv --reuid=65533 --regid=65533 --clear-groups -- "$@"; }

mx_need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || mx_fail "needs '$c' (see scripts/install-deps.sh)"
    done
}

mx_py() {
    python3 "$@"
}

mx_seed() {
    if [ -n "${LSMER_SEED:-}" ]; then
        MX_SEED=$LSMER_SEED
    else
        MX_SEED=$(($(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % 1000000000))
    fi
    RANDOM=$MX_SEED
    mx_log "seed $MX_SEED (rerun with LSMER_SEED=$MX_SEED)"
}

mx_on_exit() {
    MX_HOOKS+=("$1")
}

mx_after_umount() {
    MX_POST_HOOKS+=("$1")
}

# Printed on the first failing command under set -e.
mx__on_err() {
    local rc=$1 line=$2 cmd=$3
    LSM_FAILS=$((LSM_FAILS + 1))
    printf 'FAIL line %s: "%s" exited %s\n' "$line" "$cmd" "$rc" >&2
    [ -n "${MX_SEED:-}" ] && lsm_log "seed $MX_SEED (rerun with LSMER_SEED=$MX_SEED)" >&2
}

# The EXIT trap: our hooks, then lib.sh's unmount, then the hooks that need
# lsmerfs gone, then lib.sh's cleanup (log on failure, scratch removal).
mx__on_exit() {
    local rc=$? i
    set +eE
    trap - ERR
    cd / || true
    for ((i = ${#MX_HOOKS[@]} - 1; i >= 0; i--)); do
        eval "${MX_HOOKS[$i]}" || true
    done
    if [ "$LSM_MOUNTED" = 1 ] || mountpoint -q "$MNT" 2>/dev/null; then
        lsm_umount_quiet
    fi
    if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -KILL "$DAEMON_PID" 2>/dev/null
    fi
    for ((i = ${#MX_POST_HOOKS[@]} - 1; i >= 0; i--)); do
        eval "${MX_POST_HOOKS[$i]}" || true
    done
    # A mount still below the scratch directory must never be walked by
    # lib.sh's rm -rf.
    if grep -q " $T/" /proc/self/mountinfo 2>/dev/null; then
        lsm_log "mounts left below $T; keeping it"
        KEEP_TMP=1
    fi
    [ "$rc" -eq 0 ] && [ "$LSM_FAILS" -eq 0 ] && lsm_log "PASS ($LSM_CHECKS checks)"
    (exit "$rc")
    lsm_cleanup
}

mx_begin() {
    lsm_setup "${MX_NAME#t_}"
    MX_TMP=$T # used by the tests
    trap mx__on_exit EXIT
    set -Eeuo pipefail
    trap 'mx__on_err $? $LINENO "$BASH_COMMAND"' ERR
    mx_log "$*"
    [ -x "$LSMERFS" ] || mx_fail "LSMERFS=$LSMERFS is not executable"
    mx_need fusermount3 mountpoint python3
    mx_log "daemon $LSMERFS"
}

mx_pid() {
    printf '%s\n' "$DAEMON_PID"
}

# mx_mount DATA MNT [OPTS]
mx_mount() {
    [ "$LSM_MOUNTED" = 0 ] || mx_fail "mx_mount: $MNT is still mounted (one mount at a time)"
    DATA=$1
    MNT=$2
    mkdir -p "$DATA" "$MNT"
    if [ -n "${3:-}" ]; then
        lsm_mount -o "$3"
    else
        lsm_mount
    fi
}

mx_umount() {
    local pid=$DAEMON_PID fails=$LSM_FAILS rc=0
    [ "$1" = "$MNT" ] && [ "$LSM_MOUNTED" = 1 ] || mx_fail "mx_umount: $1 is not mounted by this test"
    [ -n "$pid" ] || mx_fail "mx_umount: no daemon pid"
    lsm_umount
    [ "$LSM_FAILS" -eq "$fails" ] || mx_fail "clean unmount of $MNT failed (see above)"
    wait "$pid" || rc=$?
    [ "$rc" -eq 0 ] || mx_fail "lsmerfs exited with status $rc after a clean unmount of $MNT"
}

mx_kill9() {
    local pid=$DAEMON_PID
    [ "$1" = "$MNT" ] && [ -n "$pid" ] || mx_fail "mx_kill9: $1 has no daemon of this test"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    DAEMON_PID=""
    fusermount3 -uz "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
    LSM_MOUNTED=0
}

# Runs "$LSMER fsck DATA" when the admin CLI has that command; never fails
# for its absence, only for an error it reports.
mx_fsck() {
    local data=$1 out rc=0
    if [ -n "${LSMER:-}" ] && [ -x "$LSMER" ] && "$LSMER" fsck --help >/dev/null 2>&1; then
        out=$("$LSMER" fsck "$data" 2>&1) || rc=$?
        if [ "$rc" -ne 0 ]; then
            printf '%s\n' "$out" | tail -n 30 >&2
            mx_fail "lsmer fsck $data: exit $rc"
        fi
        mx_ok "lsmer fsck $data"
    else
        mx_log "SKIP fsck: not available"
    fi
}

# Reads every file and lists every directory below DIR; fails on any error
# (an EIO from a damaged tree shows up here).
mx_walk() {
    local dir=$1 err
    err=$(find "$dir" -xdev \( -type f -exec cat {} + \) 2>&1 >/dev/null) ||
        mx_fail "walking $dir: $err"
    err=$(find "$dir" -xdev -type d -exec ls -la {} + 2>&1 >/dev/null) ||
        mx_fail "listing $dir: $err"
}
