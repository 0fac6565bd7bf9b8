#!/usr/bin/env bash
# t_fsx: a randomized, model-based file exerciser through a real mount (in
# the spirit of fsx). t_fsx.py runs random operations on four files of up
# to ~3 MiB (pwrite with holes, pread, truncate/ftruncate, fallocate and
# punch hole, MAP_SHARED mmap, O_APPEND, copy_file_range, O_DIRECT, fsync,
# reopen) and on a small tree (mkdir, create, rename over targets and with
# NOREPLACE/EXCHANGE, link, unlink, rmdir, symlink), checking each step
# against an in-memory model kept outside the mount. Every REMOUNT_EVERY
# operations the filesystem is unmounted and mounted again and everything is
# compared with the model. Once with the writeback cache (the default), once
# with -o nowriteback; lsmer fsck after each.
#
#   OPS=n            operations per mount mode (default 6000)
#   REMOUNT_EVERY=n  operations between remounts (default 400)
#   LSMER_SEED=n     replay a seed
. "$(dirname "$0")/lib_extra.sh"
mx_begin "fsx-style random file and tree operations against a model, with remounts"
mx_seed

OPS=${OPS:-6000}
REMOUNT_EVERY=${REMOUNT_EVERY:-400}
FSX=$MX_DIR/t_fsx.py
MNT=$MX_TMP/mnt
[ "$REMOUNT_EVERY" -gt 0 ] || mx_fail "REMOUNT_EVERY must be positive"

for mode in writeback nowriteback; do
    DATA=$MX_TMP/data-$mode
    STATE=$MX_TMP/model-$mode.pickle
    opts=""
    [ "$mode" = nowriteback ] && opts=nowriteback
    t0=$SECONDS
    mx_mount "$DATA" "$MNT" "$opts"
    mkdir "$MNT/fsx"
    done_ops=0
    phase=0
    while [ "$done_ops" -lt "$OPS" ]; do
        n=$((OPS - done_ops < REMOUNT_EVERY ? OPS - done_ops : REMOUNT_EVERY))
        mx_py "$FSX" run "$MNT/fsx" "$STATE" "$MX_SEED" "$mode" "$phase" "$n" ||
            mx_fail "$mode: phase $phase (rerun with LSMER_SEED=$MX_SEED OPS=$OPS REMOUNT_EVERY=$REMOUNT_EVERY)"
        done_ops=$((done_ops + n))
        phase=$((phase + 1))
        mx_umount "$MNT"
        mx_mount "$DATA" "$MNT" "$opts"
    done
    mx_py "$FSX" verify "$MNT/fsx" "$STATE" "$mode" || mx_fail "$mode: final check after the remount"
    mx_ok "$mode: $OPS operations in $phase runs, each followed by a remount, match the model ($((SECONDS - t0)) s)"
    mx_umount "$MNT"
    mx_fsck "$DATA"
done
