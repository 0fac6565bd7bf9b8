#!/usr/bin/env bash
# t_enospc: the data directory on a small tmpfs (64 MiB). Files of 1 MiB are
# written (dd conv=fsync) until the volume is full: the application must get
# ENOSPC ("No space left on device"), not another error, a hang or a dead
# daemon; every file written completely before is intact; after deleting
# files, writing works again (the engine reclaims the space); everything
# survives a clean remount on the same small volume.
. "$(dirname "$0")/lib_extra.sh"
mx_begin "ENOSPC on a 64 MiB tmpfs: clean error, no damage, recovery after rm"
mx_need dd sha256sum timeout
[ "$(id -u)" -eq 0 ] || mx_fail "must run as root (mounts a tmpfs)"
mx_seed

SMALL=$MX_TMP/small
SIZE_MB=${SIZE_MB:-64}
mkdir -p "$SMALL"
mount -t tmpfs -o "size=${SIZE_MB}m,mode=0755" lsmer-enospc "$SMALL" || mx_fail "cannot mount a tmpfs"
# After lsmerfs is down (mx_after_umount hooks run after lib.sh's unmount).
mx_after_umount "umount '$SMALL' || umount -l '$SMALL'"
DATA=$SMALL/data
MNT=$MX_TMP/mnt
mx_mount "$DATA" "$MNT"
mkdir "$MNT/fill"

# Sources: 8 different 1 MiB files of random bytes (zstd cannot shrink them).
POOL=$MX_TMP/pool
mkdir -p "$POOL"
for k in 0 1 2 3 4 5 6 7; do
    head -c 1048576 /dev/urandom >"$POOL/src$k"
done
declare -A SUM
for k in 0 1 2 3 4 5 6 7; do SUM[$k]=$(sha256sum <"$POOL/src$k"); done
src_of() { echo $(($1 % 8)); }

# write_file I: 0 when dd wrote and fsync'd the whole file; else its stderr
# in $ERR. A hang counts as a failure of its own.
write_file() {
    local i=$1 rc=0
    ERR=$(timeout 120 dd if="$POOL/src$(src_of "$i")" of="$MNT/fill/f$i" bs=64k conv=fsync \
        status=none 2>&1) || rc=$?
    [ "$rc" -ne 124 ] || mx_fail "dd of file $i hung for 120 s on a full volume"
    return "$rc"
}

verify_files() { # what, then the list of file numbers that must be intact
    local what=$1 i bad=0
    shift
    for i in "$@"; do
        if [ "$(sha256sum <"$MNT/fill/f$i")" != "${SUM[$(src_of "$i")]}" ]; then
            echo "  f$i differs" >&2
            bad=$((bad + 1))
        fi
    done
    [ "$bad" -eq 0 ] || mx_fail "$what: $bad of $# completely written files are damaged"
    mx_ok "$what: all $# completely written files intact"
}

# --- fill the volume ------------------------------------------------------
GOOD=()
full_at=""
for ((i = 0; i < 4 * SIZE_MB; i++)); do
    if write_file "$i"; then
        GOOD+=("$i")
    else
        full_at=$i
        break
    fi
done
[ -n "$full_at" ] || mx_fail "wrote $((4 * SIZE_MB)) MiB to a ${SIZE_MB} MiB volume without an error"
mx_log "volume full after ${#GOOD[@]} files of 1 MiB; dd said: $ERR"
case "$ERR" in
*"No space left on device"*) mx_ok "dd gets ENOSPC (No space left on device)" ;;
*) mx_fail "dd failed with [$ERR], expected 'No space left on device'" ;;
esac
kill -0 "$(mx_pid)" 2>/dev/null || mx_fail "the daemon died on ENOSPC"
mountpoint -q "$MNT" || mx_fail "the mount is gone after ENOSPC"
[ "${#GOOD[@]}" -ge $((SIZE_MB / 8)) ] ||
    mx_fail "only ${#GOOD[@]} MiB of ${SIZE_MB} MiB written before ENOSPC (too little)"

# Still full: cp (no fsync, the error comes at write or close) fails too.
head -c 4194304 /dev/urandom >"$POOL/big"
if out=$(timeout 120 cp "$POOL/big" "$MNT/fill/big" 2>&1); then
    mx_fail "cp of 4 MiB onto a full volume succeeded"
fi
case "$out" in
*"No space left on device"*) mx_ok "cp gets ENOSPC too" ;;
*) mx_fail "cp failed with [$out], expected 'No space left on device'" ;;
esac
df "$MNT" >/dev/null || mx_fail "statfs fails on a full volume"
ls -la "$MNT/fill" >/dev/null || mx_fail "ls fails on a full volume"
verify_files "while full" "${GOOD[@]}"

# --- delete and write again -------------------------------------------------
# Deleting must work on a full volume (as on ext4): it is the only way for a
# user to get space back. The engine may need a moment (a retried flush), so
# each rm gets up to 10 s.
rm_full() {
    local f=$1 t out
    for ((t = 0; t < 10; t++)); do
        out=$(rm -f "$f" 2>&1) && return 0
        sleep 1
    done
    mx_fail "rm $f on a full volume still fails after 10 s: $out"
}
rm_full "$MNT/fill/f$full_at"
rm_full "$MNT/fill/big"
KEEP=()
for i in "${GOOD[@]}"; do
    if [ $((i % 2)) -eq 0 ]; then
        rm_full "$MNT/fill/f$i"
    else
        KEEP+=("$i")
    fi
done
mx_ok "deleted $((${#GOOD[@]} - ${#KEEP[@]})) files on a full volume"
sync -f "$MNT" || true
# The space comes back when the engine has flushed and compacted the
# deletes away; give it up to 60 s.
n=$((1000 + full_at))
ok_after=""
for ((t = 0; t < 60; t++)); do
    if write_file "$n"; then
        ok_after=$t
        break
    fi
    rm -f "$MNT/fill/f$n"
    sleep 1
done
[ -n "$ok_after" ] || mx_fail "writing still fails 60 s after deleting half the files: $ERR"
KEEP+=("$n")
mx_ok "writing works again after deleting (after ${ok_after} s)"
for ((i = n + 1; i < n + 4; i++)); do
    write_file "$i" || mx_fail "write of file $i after freeing space failed: $ERR"
    KEEP+=("$i")
done
mx_ok "4 more files of 1 MiB written"
verify_files "after freeing space" "${KEEP[@]}"
[ "$(ls "$MNT/fill" | wc -l)" -eq "${#KEEP[@]}" ] || mx_fail "fill/ holds $(ls "$MNT/fill" | wc -l) files, expected ${#KEEP[@]}"

mx_umount "$MNT"
df -h "$SMALL" | tail -1
mx_mount "$DATA" "$MNT"
verify_files "after remount" "${KEEP[@]}"
mx_umount "$MNT"
mx_fsck "$DATA"
