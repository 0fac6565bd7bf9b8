#!/usr/bin/env bash
# t_mount_cmd: lsmerfs mounted the way administrators do, through mount(8)
# and mount.fuse3:
#   1. mount -t fuse.lsmerfs DATA MNT (and -o ro, -o nowriteback,allow_other)
#   2. an fstab line "DATA MNT fuse.lsmerfs noauto,... 0 0" used by `mount MNT`
#   3. umount MNT stops the daemon, and the data written is there next time.
#
# mount(8) runs its helpers without the caller's PATH, so the helper finds
# `lsmerfs` only in a system directory (/usr/local/sbin, /usr/bin, ...). To
# test the build without installing it, and to use a private fstab, every
# step runs inside `unshare -m` (a private mount namespace) where a
# directory holding lsmerfs is bind-mounted over /usr/local/sbin and a
# temporary file over /etc/fstab. Nothing of it is visible outside the
# namespace; the host's /etc/fstab and /usr/local/sbin are checked unchanged
# afterwards. Without unshare the test falls back to an installed lsmerfs on
# the default PATH (mount -t only), and says so.
. "$(dirname "$0")/lib_extra.sh"
mx_begin "mount -t fuse.lsmerfs and an fstab line, via mount(8) and mount.fuse3"
mx_need mount umount findmnt pgrep
[ "$(id -u)" -eq 0 ] || mx_fail "must run as root (mount(8))"
[ -x /sbin/mount.fuse3 ] || [ -x /usr/sbin/mount.fuse3 ] || mx_fail "mount.fuse3 missing (Debian package fuse3)"

DATA=$MX_TMP/data
MNT=$MX_TMP/mnt
BIN=$MX_TMP/bin
mkdir -p "$DATA" "$MNT" "$BIN"
ln -s "$(realpath "$LSMERFS")" "$BIN/lsmerfs"

# Any daemon the steps leave behind (found by its unique data path, killed
# by pid).
mx_on_exit "for p in \$(pgrep -f -- ' $DATA $MNT' || true); do kill \$p; done; \
    umount -l '$MNT' 2>/dev/null"

INNER=$MX_TMP/inner.sh
cat >"$INNER" <<'EOF'
# Runs inside the private mount namespace; $DATA $MNT $BIN $MODE from the
# environment. MODE=ns: bind mounts available; MODE=host: no namespace.
set -u -o pipefail
fails=0
ok() { printf 'ok   %s\n' "$*"; }
bad() { printf 'FAIL %s\n' "$*" >&2; fails=$((fails + 1)); }
daemon_pid() { pgrep -f -- " $DATA $MNT" | head -1; }
cleanup() {
    mountpoint -q "$MNT" && umount "$MNT" 2>/dev/null
    mountpoint -q "$MNT" && umount -l "$MNT"
    local p
    for p in $(pgrep -f -- " $DATA $MNT"); do kill "$p"; done
}
trap cleanup EXIT
# do_umount WHAT: umount, then the daemon must exit (so the store is closed).
do_umount() {
    local pid n
    pid=$(daemon_pid)
    umount "$MNT" || { bad "$1: umount failed"; return 1; }
    for ((n = 0; n < 300; n++)); do
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        bad "$1: lsmerfs (pid $pid) still running 30 s after umount"
        return 1
    fi
    ok "$1: umount stops the daemon"
}
check_mounted() { # what expected-options...
    local what=$1 fstype src opts o
    shift
    fstype=$(findmnt -n -o FSTYPE --mountpoint "$MNT")
    src=$(findmnt -n -o SOURCE --mountpoint "$MNT")
    opts=$(findmnt -n -o OPTIONS --mountpoint "$MNT")
    [ "$fstype" = fuse.lsmerfs ] || { bad "$what: type is '$fstype', expected fuse.lsmerfs"; return 1; }
    [ "$src" = "$DATA" ] || bad "$what: source is '$src', expected $DATA"
    for o in "$@"; do
        case ",$opts," in
        *",$o,"*) ;;
        *) bad "$what: option $o missing from $opts" ;;
        esac
    done
    ok "$what: mounted as fuse.lsmerfs from $DATA ($opts)"
}

if [ "$MODE" = ns ]; then
    mount --make-rprivate / || { bad "mount --make-rprivate /"; exit 1; }
    mount --bind "$BIN" /usr/local/sbin || { bad "bind $BIN over /usr/local/sbin"; exit 1; }
fi
command -v lsmerfs >/dev/null || { bad "lsmerfs not on the default PATH"; exit 1; }

# --- 1. mount -t fuse.lsmerfs ------------------------------------------------
if mount -t fuse.lsmerfs "$DATA" "$MNT"; then
    check_mounted "mount -t fuse.lsmerfs" rw
    echo "written through mount -t" >"$MNT/one" || bad "write through mount -t"
    mkdir -p "$MNT/dir" && cp /etc/hostname "$MNT/dir/" || bad "cp into the mount"
    do_umount "mount -t"
else
    bad "mount -t fuse.lsmerfs $DATA $MNT failed"
fi

if mount -t fuse.lsmerfs -o ro "$DATA" "$MNT"; then
    check_mounted "mount -o ro" ro
    [ "$(cat "$MNT/one" 2>&1)" = "written through mount -t" ] || bad "ro: data of the first mount not there"
    out=$(sh -c "echo x > '$MNT/two'" 2>&1) && bad "ro: a write succeeded"
    case "$out" in *"Read-only file system"*) ok "ro: writes fail with EROFS" ;;
    *) bad "ro: write failed with [$out], expected 'Read-only file system'" ;; esac
    do_umount "mount -o ro"
else
    bad "mount -t fuse.lsmerfs -o ro failed"
fi

if mount -t fuse.lsmerfs -o nowriteback,allow_other "$DATA" "$MNT"; then
    check_mounted "mount -o nowriteback,allow_other" allow_other
    echo "third" >"$MNT/three" || bad "write with -o nowriteback"
    do_umount "mount -o nowriteback,allow_other"
else
    bad "mount -t fuse.lsmerfs -o nowriteback,allow_other failed"
fi

# --- 2. fstab ------------------------------------------------------------
if [ "$MODE" = ns ]; then
    FSTAB=$(dirname "$BIN")/fstab
    {
        echo "# private fstab of t_mount_cmd"
        echo "$DATA $MNT fuse.lsmerfs noauto,allow_other,nowriteback 0 0"
    } >"$FSTAB"
    if mount --bind "$FSTAB" /etc/fstab; then
        if mount "$MNT"; then
            check_mounted "fstab: mount MNT" allow_other
            [ "$(cat "$MNT/three" 2>&1)" = third ] || bad "fstab: data of the earlier mounts not there"
            [ "$(cat "$MNT/dir/hostname" 2>&1)" = "$(cat /etc/hostname)" ] || bad "fstab: copied file differs"
            echo "written through fstab" >"$MNT/four" || bad "fstab: write"
            do_umount "fstab"
        else
            bad "mount $MNT with the fstab line failed"
        fi
        # mount by source works too.
        if mount "$DATA"; then
            check_mounted "fstab: mount DATA"
            [ "$(cat "$MNT/four" 2>&1)" = "written through fstab" ] || bad "fstab: data not there"
            do_umount "fstab by source"
        else
            bad "mount $DATA with the fstab line failed"
        fi
    else
        bad "bind mount over /etc/fstab failed"
    fi
else
    echo "SKIP fstab: needs unshare -m for a private /etc/fstab"
fi
exit $((fails > 0))
EOF

HOST_SUMS=$(cat /etc/fstab 2>/dev/null | sha256sum; ls -la /usr/local/sbin 2>/dev/null | sha256sum)
if command -v unshare >/dev/null && [ -d /usr/local/sbin ] && [ -f /etc/fstab ] &&
    unshare -m --propagation private true 2>/dev/null; then
    mx_log "running inside unshare -m (private mount namespace)"
    DATA=$DATA MNT=$MNT BIN=$BIN MODE=ns unshare -m --propagation private bash "$INNER" ||
        mx_fail "mount(8) steps failed (see above)"
elif INSTALLED=$(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v lsmerfs); then
    mx_log "no private mount namespace: testing the installed $INSTALLED (not necessarily \$LSMERFS) with mount -t only"
    DATA=$DATA MNT=$MNT BIN=$BIN MODE=host bash "$INNER" || mx_fail "mount(8) steps failed (see above)"
else
    mx_log "SKIP mount(8): no unshare -m and lsmerfs is not installed on the default PATH"
    exit 0
fi
[ "$HOST_SUMS" = "$(cat /etc/fstab 2>/dev/null | sha256sum; ls -la /usr/local/sbin 2>/dev/null | sha256sum)" ] ||
    mx_fail "the host's /etc/fstab or /usr/local/sbin changed"
mountpoint -q "$MNT" && mx_fail "$MNT still mounted in the host namespace"
[ -z "$(pgrep -f -- " $DATA $MNT" || true)" ] || mx_fail "an lsmerfs daemon outlived the test's umount"
mx_ok "host /etc/fstab and /usr/local/sbin untouched, nothing left mounted"

# What the mount(8) steps wrote is there for the daemon started directly.
mx_mount "$DATA" "$MNT"
[ "$(cat "$MNT/one")" = "written through mount -t" ] || mx_fail "file written via mount -t lost"
[ ! -e "$MNT/two" ] || mx_fail "a file was created on the read-only mount"
[ "$(cat "$MNT/three")" = third ] || mx_fail "file written via -o nowriteback lost"
[ ! -e "$MX_TMP/fstab" ] || [ "$(cat "$MNT/four")" = "written through fstab" ] ||
    mx_fail "file written via fstab lost"
mx_ok "everything written through mount(8) is there"
mx_umount "$MNT"
mx_fsck "$DATA"
