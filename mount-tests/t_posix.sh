#!/usr/bin/env bash
# t_posix: the POSIX behaviour docs/fs.md promises, checked through a real
# mount (the kernel between the program and the daemon), where
# unit/test_fs_posix.c checks the same rules on the fs core alone. The checks
# themselves are in t_posix.py (one "ok"/"FAIL" line each):
#   names of 255 bytes (256: ENAMETOOLONG) and with any byte but '/' and NUL;
#   O_EXCL, O_TRUNC, O_APPEND from two fds and two processes; writes past EOF,
#   SEEK_DATA/SEEK_HOLE, a sparse file past 5 GiB, fallocate and punch hole;
#   shared writable mmap (msync, ftruncate then mmap, no msync at all);
#   flock and fcntl locks between processes (F_GETLK names the holder);
#   rename over files and directories, into its own subtree, NOREPLACE,
#   EXCHANGE (also a file with a directory) and the parents' link counts;
#   hard links; a file unlinked while open; symlinks up to 4095 bytes; FIFOs,
#   unix sockets and device nodes; xattrs (flags, ERANGE, the 64 KiB limit);
#   nanosecond times, UTIME_NOW/UTIME_OMIT, chmod and chown, the times of
#   files written right after their creation; readdir with
#   telldir/seekdir over 3000 entries; a tree 200 deep (paths past PATH_MAX);
#   statfs; inode numbers stable across a remount and never reused.
# Everything that persists is checked again after a remount, and before
# that every name's attributes as the kernel shows them (its caches
# included) are recorded and compared with what the store gives after it.
# The store is checked with `lsmer dump` (files unlinked or replaced while
# open left no inode, block, xattr or orphan record) and `lsmer fsck`.
#
# It all runs twice: with the writeback cache (the default) and with
# -o nowriteback. SEEK_DATA/SEEK_HOLE are exact (16 KiB blocks, docs/fs.md)
# only without the writeback cache and without a writer: with the cache the
# kernel may hold data the daemon has not seen, so the daemon leaves lseek
# to the kernel, which reports no holes; the checks there are that no
# answer is wrong.
#
# The data directory is on a tmpfs of its own, so that statfs figures move
# only with what this test writes.
#
# Not here: setuid/setgid cleared by a write of an unprivileged user
# (t_perms.sh), POSIX ACLs (t_acl.sh), file capabilities (t_killpriv.sh).
. "$(dirname "$0")/lib_extra.sh"
mx_begin "POSIX behaviour through the mount"
mx_need find sort diff
[ "$(id -u)" -eq 0 ] || mx_fail "must run as root (mounts a tmpfs, chown, mknod of devices)"
mx_seed

PY=$MX_DIR/t_posix.py
VOL=$MX_TMP/vol
mkdir -p "$VOL"
mount -t tmpfs -o size=1g,mode=0755 lsmer-posix "$VOL" || mx_fail "cannot mount a tmpfs"
mx_after_umount "umount '$VOL' || umount -l '$VOL'"
DATA=$VOL/data
MNT=$MX_TMP/mnt

# run_py WHAT ARGS...: runs t_posix.py, counting its ok/FAIL lines as checks.
run_py() {
    local what=$1 rc=0 out=$MX_TMP/py.out
    shift
    mx_log "$what"
    python3 "$PY" "$@" >"$out" 2>&1 || rc=$?
    cat "$out"
    LSM_CHECKS=$((LSM_CHECKS + $(grep -c '^ok ' "$out" || true)))
    LSM_FAILS=$((LSM_FAILS + $(grep -c '^FAIL ' "$out" || true)))
    if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
        mx_fail "$what: t_posix.py exited $rc"
    fi
}

# The inode number of every name below the mount (ls -i, recursively).
inode_list() {
    (cd "$MNT" && find . -printf '%i %p\n' | LC_ALL=C sort)
}

# keys_under PREFIX: how many keys of the store start with PREFIX (lsmer
# dump ends its listing with "N keys").
keys_under() {
    "$LSMER" dump --prefix "$1" "$DATA" | awk '/^[0-9]+ keys$/ { n = $1 } END { print n + 0 }'
}

# store_clean INO...: the store holds no orphan record and nothing of the
# inodes given (files unlinked or replaced while open, then closed).
store_clean() {
    local ino hex k
    if [ -z "${LSMER:-}" ] || [ ! -x "$LSMER" ]; then
        mx_log "SKIP store check: no LSMER"
        return 0
    fi
    [ "$(keys_under o)" = 0 ] || mx_fail "orphan records left: $("$LSMER" dump --prefix o "$DATA")"
    for ino in "$@"; do
        hex=$(printf '%016x' "$ino" | sed 's/../\\x&/g')
        for k in i b x; do
            [ "$(keys_under "$k$hex")" = 0 ] ||
                mx_fail "the store still holds '$k' keys of inode $ino (unlinked while open, then closed)"
        done
    done
    [ "$(keys_under 'i\x00\x00\x00\x00\x00\x00\x00\x01')" = 1 ] || mx_fail "keys_under does not find the root inode"
    mx_ok "files unlinked or replaced while open (inodes $*) left no inode, block, xattr or orphan record"
}

# space_back BEFORE_WRITE MID: after the 64 MiB file is gone (and a
# compaction), f_bavail is back near where it was.
space_back() {
    local before=$1 mid=$2 now
    if [ -z "${LSMER:-}" ] || [ ! -x "$LSMER" ]; then
        mx_log "SKIP statfs after the removal: no LSMER to compact with"
        return 0
    fi
    "$LSMER" compact "$MNT" >/dev/null || mx_fail "lsmer compact $MNT"
    now=$(python3 -c 'import os, sys; s = os.statvfs(sys.argv[1]); print(s.f_bavail * s.f_frsize)' "$MNT")
    check "statfs: the space of the removed 64 MiB file comes back ($(((now - mid) >> 20)) MiB of $(((before - mid) >> 20)))" \
        test "$now" -ge $((before - (16 << 20)))
}

state_get() { # FILE KEY...
    python3 -c 'import json, sys; v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v = v[k]
print(v)' "$@"
}

# one_pass NAME OPTS [--exact-seek]: everything in $MNT/NAME, mounted with OPTS.
one_pass() {
    local name=$1 opts=$2 exact=${3:-} state=$MX_TMP/state-$1.json gone
    mx_mount "$DATA" "$MNT" "$opts"
    mkdir "$MNT/$name"
    run_py "$name: live checks" live "$MNT/$name" "$DATA" "$state" "$MX_SEED"
    space_back "$(state_get "$state" statfs before)" "$(state_get "$state" statfs mid)"
    inode_list >"$MX_TMP/inos-before"
    python3 "$PY" snapshot "$MNT" "$MX_TMP/attrs-before.json"
    mx_umount "$MNT"
    read -ra gone <<<"$(state_get "$state" gone_inos | tr -d '[],')"
    store_clean "${gone[@]}"
    mx_fsck "$DATA"
    mx_mount "$DATA" "$MNT" "$opts"
    inode_list >"$MX_TMP/inos-after"
    check "$name: the inode number of each of $(wc -l <"$MX_TMP/inos-after") names is the same after the remount" \
        diff "$MX_TMP/inos-before" "$MX_TMP/inos-after"
    run_py "$name: the kernel's view before, the store's after" compare "$MNT" "$MX_TMP/attrs-before.json"
    run_py "$name: after the remount" verify "$MNT/$name" "$DATA" "$state" ${exact:+"$exact"}
    run_py "$name: removing the big trees" cleanup "$MNT/$name" "$state"
    mx_umount "$MNT"
}

t0=$SECONDS
one_pass wb "" ""
one_pass nowb nowriteback --exact-seek
mx_fsck "$DATA"
mx_log "took $((SECONDS - t0)) s"
lsm_done
