# lib_admin.sh — helpers shared by the admin-command tests (t_scrub.sh,
# t_dump.sh, t_fsck.sh); sourced, never run. Set NAME before sourcing.
# Env: LSMER (the CLI), LSMERFS (the daemon, may be empty), LSMER_TEST_TMP.
#   run CMD...            runs it: $TMP/out, $TMP/err, $RC
#   expect_rc N WHAT      checks $RC
#   has FILE REGEX WHAT   checks that $TMP/FILE has a line matching REGEX
#   lacks FILE REGEX WHAT the opposite
#   flip_bit FILE OFFSET  xors bit 4 of the byte at OFFSET, in place
#   footer_u64 FILE SLOT  the fixed64 at byte 8*SLOT of a table's footer
#   make_fs DIR           a store with files, written through a mount
#   mount_fs DIR MNT      mounts (unmounted by the EXIT trap)
#   umount_fs MNT         unmounts and waits for the daemon to release DIR
# The test ends with `finish`: exit 1 if any check failed.
set -u -o pipefail
: "${LSMER:?set LSMER to the lsmer binary}"
TMP=${LSMER_TEST_TMP:-/tmp}/$NAME
rm -rf "$TMP" && mkdir -p "$TMP"
fails=0
MOUNTS=()
declare -A MOUNT_DATA
ok() { printf 'ok   %s\n' "$*"; }
bad() {
    printf 'FAIL %s\n' "$*"
    fails=$((fails + 1))
}
show() {
    sed 's/^/    stdout: /' "$TMP/out" | head -${1:-30}
    sed 's/^/    stderr: /' "$TMP/err" | head -${1:-30}
}
run() {
    "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
}
expect_rc() {
    if [ "$RC" = "$1" ]; then ok "$2 (exit $RC)"; else
        bad "$2: exit $RC, expected $1"
        show
    fi
}
has() {
    if grep -Eq -- "$2" "$TMP/$1"; then ok "$3"; else
        bad "$3: /$2/ not in $1"
        show 40
    fi
}
lacks() {
    if grep -Eq -- "$2" "$TMP/$1"; then
        bad "$3: /$2/ in $1"
        show 40
    else ok "$3"; fi
}
flip_bit() {
    local f=$1 off=$2 b
    b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
    printf "$(printf '\\%03o' $((b ^ 16)))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}
footer_u64() {
    local size
    size=$(stat -c %s "$1")
    od -An -tu8 -j $((size - 80 + 8 * $2)) -N8 "$1" | tr -d ' '
}
cleanup_mounts() {
    local m
    for m in "${MOUNTS[@]}"; do
        mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m"; }
    done
    return 0
}
trap cleanup_mounts EXIT
can_mount() {
    [ -n "${LSMERFS:-}" ] && [ -x "$LSMERFS" ] && [ -e /dev/fuse ] && command -v fusermount3 >/dev/null
}
mount_fs() {
    mkdir -p "$2"
    MOUNTS+=("$2")
    MOUNT_DATA[$2]=$1
    "$LSMERFS" "$1" "$2" || return 1
}
# Unmounts and waits until the daemon has let go of the store (its LOCK):
# fusermount3 returns before the daemon has closed the database.
umount_fs() {
    fusermount3 -u "$1" || return 1
    wait_unlocked "${MOUNT_DATA[$1]:-}"
}
wait_unlocked() {
    [ -n "$1" ] && [ -e "$1/LOCK" ] || return 0
    local i
    for i in $(seq 1 200); do
        flock -n "$1/LOCK" true 2>/dev/null && return 0
        sleep 0.05
    done
    echo "FAIL the daemon still holds $1/LOCK 10 s after unmounting"
    return 1
}
make_fs() {
    local d=$1 m=$TMP/mnt.$$
    mount_fs "$d" "$m" || return 1
    mkdir -p "$m/docs/sub"
    echo "hello, scrub" >"$m/docs/hello.txt"
    local i
    for i in $(seq 1 40); do head -c 30000 /dev/urandom >"$m/docs/sub/file$i"; done
    ln -s docs/hello.txt "$m/link"
    umount_fs "$m"
}
finish() {
    if [ "$fails" -ne 0 ]; then
        echo "$fails check(s) failed"
        exit 1
    fi
    echo "all checks passed"
    exit 0
}
