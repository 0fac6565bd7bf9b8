#!/usr/bin/env bash
# t_persist.sh — what is written survives unmount and remount: contents,
# names, modes, times, link counts, symlinks, xattrs, sparse files, a file
# larger than the memtable (so it reaches sorted tables), thousands of small
# files. Remounts three ways: foreground, daemonized, and through
# mount(8) and mount.fuse3. Also: a second mount of the same
# store is refused while the first runs; -o nowriteback works.
source "$(dirname "$0")/lib.sh"
lsm_setup persist
lsm_mount

snapshot() { # the state that must survive: listing, checksums, inodes, links, xattrs
  tree_manifest "$MNT"
  tree_sums "$MNT"
  (cd "$MNT" && find . -mindepth 1 -printf '%p ino=%i links=%n size=%s\n' | LC_ALL=C sort)
  (cd "$MNT" && getfattr --absolute-names -R -d -m - . 2>/dev/null)
}

# -- populate
mkdir -p "$MNT/docs/deep/er/still" "$MNT/many"
echo "small" >"$MNT/docs/small.txt"
head -c 2048 /dev/urandom >"$MNT/docs/inline-limit"
head -c 2049 /dev/urandom >"$MNT/docs/just-over"
head -c $((40 * 1024 * 1024 + 123)) /dev/urandom >"$MNT/big.bin"
for i in $(seq 1 2000); do printf 'file %d\n' "$i" >"$MNT/many/f$i"; done
ln -s ../big.bin "$MNT/docs/link-to-big"
ln "$MNT/docs/small.txt" "$MNT/docs/deep/hardlink"
chmod 700 "$MNT/docs/deep"
chmod 4755 "$MNT/docs/just-over"
touch -d '2010-10-10 10:10:10' "$MNT/docs/small.txt"
setfattr -n user.k1 -v v1 "$MNT/docs/small.txt"
setfattr -n user.k2 -v 0x00ff00 "$MNT/docs"
dd if=/dev/urandom of="$MNT/sparse" bs=4k count=2 seek=5000 status=none
mkfifo "$MNT/docs/fifo"
before=$(snapshot)
sum_big=$(sha256sum <"$MNT/big.bin")

# -- a second daemon on the same store must be refused
mkdir -p "$T/mnt2"
rc=0
timeout 20 "$LSMERFS" "$DATA" "$T/mnt2" -f >"$T/second.log" 2>&1 || rc=$?
check "second mount of a store in use is refused (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check "...and says why" grep -qi "in use" "$T/second.log"
mountpoint -q "$T/mnt2" && fusermount3 -u "$T/mnt2"

# -- remount in the foreground
lsm_remount
check_eq "everything survives a remount" "$before" "$(snapshot)"

# -- remount daemonized
lsm_umount
lsm_mount_daemon
check_eq "everything survives a daemonized remount" "$before" "$(snapshot)"

# -- change things, remount through mount(8) and mount.fuse3
mv "$MNT/docs/small.txt" "$MNT/docs/deep/er/moved.txt"
rm -f "$MNT/many/f1"* # f1, f10..f19, f100..f199, f1000..f1999
echo "appended" >>"$MNT/docs/deep/hardlink"
truncate -s 1000 "$MNT/big.bin"
setfattr -x user.k1 "$MNT/docs/deep/er/moved.txt"
before=$(snapshot)
check_eq "files left after rm" $((2000 - 1111)) "$(ls "$MNT/many" | wc -l)"
lsm_umount
# mount(8) -> mount.fuse3 -> "lsmerfs DATA MNT -o opts": the path a user's
# "mount -t fuse.lsmerfs" or fstab line takes (the type#source form names
# the binary explicitly, so no install is needed).
if command -v mount.fuse3 >/dev/null || [ -x /sbin/mount.fuse3 ]; then
  mount -t fuse -o nosuid,nodev "$LSMERFS#$DATA" "$MNT" >>"$DAEMON_LOG" 2>&1
  check "mount -t fuse (via mount.fuse3) mounts" mountpoint -q "$MNT"
  LSM_MOUNTED=1
  DAEMON_PID=$(pgrep -n -f "$LSMERFS $DATA $MNT" || true)
else
  lsm_mount_daemon
fi
check_eq "changes survive a remount" "$before" "$(snapshot)"
check_eq "hard link saw the append" "$(printf 'small\nappended')" "$(cat "$MNT/docs/deep/er/moved.txt")"

# -- without the writeback cache
lsm_umount
lsm_mount -o nowriteback
echo "direct" >"$MNT/direct.txt"
head -c 3000000 /dev/urandom >"$T/r"
cp "$T/r" "$MNT/r"
check_eq "nowriteback: data reads back" "$(sha256sum <"$T/r")" "$(sha256sum <"$MNT/r")"
before=$(snapshot)
lsm_remount
check_eq "nowriteback: survives a remount" "$before" "$(snapshot)"
check_eq "big file truncated earlier stays truncated" 1000 "$(stat -c %s "$MNT/big.bin")"
check "big file's old content is gone" test "$(sha256sum <"$MNT/big.bin")" != "$sum_big"

lsm_umount
lsm_done
