#!/usr/bin/env bash
# t_uring: FUSE over io_uring. With the fuse module's enable_uring set (this
# test sets it and puts the old value back), lsmerfs serves requests through
# per-CPU ring queues: a real tree copied in and out, 1 MiB writes and
# reads, concurrent writers with fsync, a large directory, xattrs and links
# all go through the rings, every CPU's queue serves requests, signals
# that interrupt requests in flight do not turn their results into errors,
# and the daemon unmounts and stops cleanly. -o nouring keeps everything on
# /dev/fuse (so the ring counts are not vacuous), uring_workers=1 works.
# The whole mount-test suite also runs once with rings (scripts/test-all.sh).
. "$(dirname "$0")/lib_extra.sh"
mx_begin "requests through per-CPU io_uring queues"
param=/sys/module/fuse/parameters/enable_uring
if [ ! -e "$param" ] || ! { : >>"$param"; } 2>/dev/null; then
    mx_log "SKIP: this kernel has no FUSE over io_uring to turn on ($param)"
    exit 77
fi
[ -n "${LSMER:-}" ] && [ -x "$LSMER" ] || mx_fail "needs LSMER (the admin CLI, for the ring counts)"
mx_need taskset sha256sum timeout
old=$(cat "$param")
mx_after_umount "echo $old >$param"
echo Y >"$param"
# The CPUs this test may run on (taskset needs their ids, not a count).
cpus=$(mx_py -c 'import os; print(" ".join(map(str, sorted(os.sched_getaffinity(0)))))')

# fs_stat NAME: a filesystem figure of the live mount (lsmer stats --json).
fs_stat() {
    "$LSMER" stats --json "$MNT" | mx_py -c 'import json,sys; print(json.load(sys.stdin)["fs"][sys.argv[1]])' "$1"
}

mx_mount "$MX_TMP/data" "$MX_TMP/mnt"
# A ring that never becomes ready holds every request: fail fast, not at
# ctest's timeout.
timeout 30 stat "$MNT" >/dev/null || mx_fail "the mount does not answer (rings not ready?)"

# A real tree in and out, checksums equal.
src=/usr/include/linux
[ -d "$src" ] || src=/usr/include
mkdir "$MX_TMP/src"
cp -a "$src" "$MX_TMP/src/tree"
cp -a "$MX_TMP/src/tree" "$MNT/tree"
cp -a "$MNT/tree" "$MX_TMP/back"
[ "$(tree_sums "$MX_TMP/src/tree")" = "$(tree_sums "$MX_TMP/back")" ] ||
    mx_fail "the tree copied in and out through the rings differs"
mx_ok "cp -a of $src in and out: identical ($(find "$MX_TMP/back" -type f | wc -l) files)"

# 1 MiB requests: the largest a ring entry carries.
head -c $((24 << 20)) /dev/urandom >"$MX_TMP/big"
dd if="$MX_TMP/big" of="$MNT/big" bs=1M conv=fsync status=none
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
[ "$(sha256sum <"$MNT/big")" = "$(sha256sum <"$MX_TMP/big")" ] || mx_fail "24 MiB file reads back wrong"
mx_ok "24 MiB written with 1 MiB writes and fsync, read back identical"

# Every CPU's queue: the application on each CPU in turn.
ncpu=0
for c in $cpus; do
    taskset -c "$c" sh -c "mkdir '$MNT/cpu$c' && for i in 1 2 3 4 5; do echo \$i >'$MNT/cpu$c/f'\$i; done; cat '$MNT/cpu$c'/f* >/dev/null"
    ncpu=$((ncpu + 1))
done
queues=$(fs_stat uring_queues)
[ "$queues" -ge "$ncpu" ] || mx_fail "$queues ring queues served requests, want $ncpu (one per CPU used)"
mx_ok "the queues of all $ncpu CPUs served requests"

# Signals during requests: the kernel sends INTERRUPTs (through /dev/fuse)
# for requests in flight on the rings; every call must still get its own
# result, never another request's EAGAIN.
storm() {
    mx_py - "$MNT/sig" 3000 <<'PY'
import os, signal, sys
d, n = sys.argv[1], int(sys.argv[2])
signal.signal(signal.SIGALRM, lambda *a: None)
signal.setitimer(signal.ITIMER_REAL, 0.00005, 0.00005)
fails = 0
for i in range(n):
    p = "%s/s%d-%d" % (d, os.getpid(), i % 50)
    try:
        fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
        os.fstat(fd)
        os.pwrite(fd, b"x" * 100, i % 4096)
        os.close(fd)
        os.stat(p)
        if i % 7 == 0:
            os.unlink(p)
    except OSError as e:
        fails += 1
        if fails <= 5:
            print("%s: %s" % (p, e), file=sys.stderr)
signal.setitimer(signal.ITIMER_REAL, 0)
sys.exit(1 if fails else 0)
PY
}
mkdir "$MNT/sig"
stormers=()
for c in $cpus; do
    taskset -c "$c" bash -c "$(declare -f storm mx_py); MNT='$MNT' storm" &
    stormers+=($!)
done
for p in "${stormers[@]}"; do wait "$p" || mx_fail "calls failed under a storm of signals (see above)"; done
mx_ok "3000 file operations per CPU under 20,000 signals a second: no call failed"

# Concurrent writers with fsync in one directory, and a large directory.
mkdir "$MNT/par"
writers=()
for w in 1 2 3 4 5 6 7 8; do
    (for i in $(seq 1 40); do
        printf 'writer %s file %s\n' "$w" "$i" >"$MNT/par/w$w-$i"
        [ $((i % 10)) -ne 0 ] || sync "$MNT/par/w$w-$i"
    done) &
    writers+=($!)
done
wait "${writers[@]}" # not a bare wait: the daemon is a child too
[ "$(find "$MNT/par" -type f | wc -l)" -eq 320 ] || mx_fail "concurrent writers: not 320 files"
for w in 1 2 3 4 5 6 7 8; do
    [ "$(cat "$MNT/par/w$w-17")" = "writer $w file 17" ] || mx_fail "concurrent writers: w$w-17 wrong"
done
mkdir "$MNT/many"
(cd "$MNT/many" && seq 1 3000 | xargs touch)
[ "$(ls "$MNT/many" | wc -l)" -eq 3000 ] || mx_fail "readdir of 3000 entries through the rings"
[ "$(ls -l "$MNT/many" | wc -l)" -eq 3001 ] || mx_fail "readdirplus of 3000 entries"
mx_ok "8 concurrent writers with fsync; a 3000-entry directory lists whole"

# Names, links, xattrs, rename, unlink.
echo data >"$MNT/x"
ln "$MNT/x" "$MNT/x.hard"
ln -s x "$MNT/x.sym"
[ "$(stat -c %h "$MNT/x")" -eq 2 ] && [ "$(readlink "$MNT/x.sym")" = x ] || mx_fail "links"
if command -v setfattr >/dev/null; then
    setfattr -n user.k -v "$(head -c 3000 /dev/zero | tr '\0' v)" "$MNT/x"
    [ "$(getfattr --only-values -n user.k "$MNT/x" | wc -c)" -eq 3000 ] || mx_fail "xattr value"
fi
mv "$MNT/x" "$MNT/y"
rm "$MNT/x.hard"
[ "$(stat -c %h "$MNT/y")" -eq 1 ] && [ "$(cat "$MNT/y")" = data ] || mx_fail "rename/unlink"
rm -rf "$MNT/many" "$MNT/tree"
mx_ok "links, xattrs, rename, unlink, rm -rf"

! grep -q "writing device" "$DAEMON_LOG" || mx_fail "the daemon failed to send replies: $(grep -m3 "writing device" "$DAEMON_LOG")"
served=$(fs_stat uring_requests)
[ "$served" -gt 5000 ] || mx_fail "only $served requests went through the rings"
mx_ok "$served requests served through the rings"
mx_umount "$MNT"
mx_fsck "$MX_TMP/data"

# Remount: the data is there; SIGTERM stops the daemon cleanly too.
mx_mount "$MX_TMP/data" "$MX_TMP/mnt" uring_workers=1
[ "$(sha256sum <"$MNT/big")" = "$(sha256sum <"$MX_TMP/big")" ] || mx_fail "big file after remount"
[ "$(cat "$MNT/par/w3-40")" = "writer 3 file 40" ] || mx_fail "w3-40 after remount"
[ "$(fs_stat uring_requests)" -gt 0 ] || mx_fail "uring_workers=1: no request through the rings"
pid=$(mx_pid)
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || mx_fail "SIGTERM: lsmerfs exited $rc"
DAEMON_PID=""
LSM_MOUNTED=0
! mountpoint -q "$MNT" || mx_fail "SIGTERM left $MNT mounted"
mx_ok "uring_workers=1 serves; SIGTERM unmounts and exits 0"

# -o nouring: nothing through the rings even though the kernel offers them.
mx_mount "$MX_TMP/data" "$MX_TMP/mnt" nouring
cat "$MNT"/par/* >/dev/null
echo more >"$MNT/z"
[ "$(fs_stat uring_requests)" -eq 0 ] || mx_fail "-o nouring still used the rings"
mx_ok "-o nouring: every request through /dev/fuse"
mx_umount "$MNT"
mx_fsck "$MX_TMP/data"
