#!/usr/bin/env bash
# t_perms: permission checks seen by unprivileged users on a mount that root
# started with -o allow_other. Two users without passwd entries are used
# through setpriv (uid/gid 65534 "A" and 65533 "B"), so the system's user
# database is not touched.
. "$(dirname "$0")/lib_extra.sh"
mx_begin "permissions for unprivileged users (allow_other, sticky, chown)"
mx_need setpriv stat
[ "$(id -u)" -eq 0 ] || mx_fail "must run as root (it mounts with allow_other and switches users)"

DATA=$MX_TMP/data
mx_public_mnt
MNT=$MX_PUBLIC_MNT
mx_mount "$DATA" "$MNT" allow_other
chmod 755 "$MNT"

# expect_fail WHAT ERRTEXT CMD...: CMD must fail and print ERRTEXT.
expect_fail() {
    local what=$1 err=$2 out
    shift 2
    if out=$("$@" 2>&1); then
        mx_fail "$what: succeeded but should fail with '$err'"
    fi
    case "$out" in
    *"$err"*) mx_ok "$what: refused ($err)" ;;
    *) mx_fail "$what: failed with [$out], expected '$err'" ;;
    esac
}
expect_ok() {
    local what=$1 out
    shift
    out=$("$@" 2>&1) || mx_fail "$what: failed: $out"
    mx_ok "$what"
}
EACCES="Permission denied"
EPERM="Operation not permitted"

# --- files owned by root --------------------------------------------------
echo secret >"$MNT/secret"
chmod 600 "$MNT/secret"
echo public >"$MNT/public"
chmod 644 "$MNT/public"
expect_fail "A reads root's 0600 file" "$EACCES" mx_as_a cat "$MNT/secret"
[ "$(cat "$MNT/secret")" = secret ] || mx_fail "root cannot read its 0600 file"
[ "$(mx_as_a cat "$MNT/public")" = public ] || mx_fail "A cannot read a 0644 file"
mx_ok "A reads a 0644 file"
expect_fail "A writes root's 0644 file" "$EACCES" mx_as_a sh -c "echo x >> '$MNT/public'"
expect_fail "A truncates root's 0644 file" "$EACCES" mx_as_a truncate -s 0 "$MNT/public"
mx_as_a test -r "$MNT/public" || mx_fail "access(R_OK) denied on a 0644 file"
! mx_as_a test -w "$MNT/public" || mx_fail "access(W_OK) allowed on root's 0644 file"
! mx_as_a test -r "$MNT/secret" || mx_fail "access(R_OK) allowed on root's 0600 file"
mx_ok "access(2) agrees"
expect_fail "A chmods root's file" "$EPERM" mx_as_a chmod 666 "$MNT/public"
expect_fail "A sets an explicit mtime on root's file" "$EPERM" \
    mx_as_a perl -e 'utime(1, 1, $ARGV[0]) or die "$!\n"' "$MNT/public"
expect_fail "A sets root's file's times to now" "$EACCES" \
    mx_as_a perl -e 'utime(undef, undef, $ARGV[0]) or die "$!\n"' "$MNT/public"
expect_fail "A removes a file from root's 0755 directory" "$EACCES" mx_as_a rm -f "$MNT/public"

# --- directory permissions ------------------------------------------------
mkdir -m 755 "$MNT/rootdir"
mkdir -m 777 "$MNT/open"
mkdir -m 700 "$MNT/private"
echo inside >"$MNT/private/file"
mkdir -m 711 "$MNT/traverse"
echo t >"$MNT/traverse/known"
chmod 644 "$MNT/traverse/known"
expect_fail "A creates in root's 0755 dir" "$EACCES" mx_as_a touch "$MNT/rootdir/x"
expect_fail "A mkdirs in root's 0755 dir" "$EACCES" mx_as_a mkdir "$MNT/rootdir/d"
expect_fail "A lists root's 0700 dir" "$EACCES" mx_as_a ls "$MNT/private"
expect_fail "A reaches a file through root's 0700 dir" "$EACCES" mx_as_a cat "$MNT/private/file"
expect_fail "A lists a 0711 dir" "$EACCES" mx_as_a ls "$MNT/traverse"
[ "$(mx_as_a cat "$MNT/traverse/known")" = t ] || mx_fail "A cannot open a known name in a 0711 dir"
mx_ok "A opens a known name in a 0711 dir"
expect_ok "A creates in a 0777 dir" mx_as_a sh -c "umask 022; echo a > '$MNT/open/a'"
[ "$(stat -c '%u:%g %a' "$MNT/open/a")" = "65534:65534 644" ] ||
    mx_fail "A's new file is $(stat -c '%u:%g %a' "$MNT/open/a"), expected 65534:65534 644"
mx_as_a sh -c "umask 077; mkdir '$MNT/open/adir'; : > '$MNT/open/adir/f'"
[ "$(stat -c '%u:%g %a' "$MNT/open/adir")" = "65534:65534 700" ] ||
    mx_fail "A's mkdir with umask 077 gave $(stat -c '%u:%g %a' "$MNT/open/adir")"
[ "$(stat -c '%a' "$MNT/open/adir/f")" = 600 ] || mx_fail "umask 077 file mode $(stat -c %a "$MNT/open/adir/f")"
mx_ok "new files and dirs owned by their creator, umask applied"
expect_fail "B lists A's 0700 dir" "$EACCES" mx_as_b ls "$MNT/open/adir"
# No sticky bit: B may remove and rename A's file in a 0777 directory.
mx_as_a sh -c "echo x > '$MNT/open/a2'"
expect_ok "B renames A's file in a non-sticky 0777 dir" mx_as_b mv "$MNT/open/a2" "$MNT/open/a3"
expect_ok "B removes A's file in a non-sticky 0777 dir" mx_as_b rm -f "$MNT/open/a3"
# Removing write permission from a directory stops its owner too.
mx_as_a sh -c "mkdir '$MNT/open/ro'; echo k > '$MNT/open/ro/keep'; chmod 555 '$MNT/open/ro'"
expect_fail "A creates in its own 0555 dir" "$EACCES" mx_as_a touch "$MNT/open/ro/new"
expect_fail "A removes from its own 0555 dir" "$EACCES" mx_as_a rm -f "$MNT/open/ro/keep"
expect_ok "A makes its dir writable again" mx_as_a chmod 755 "$MNT/open/ro"
expect_ok "A removes from its 0755 dir" mx_as_a rm "$MNT/open/ro/keep"

# --- sticky directory (like /tmp) -----------------------------------------
mkdir -m 1777 "$MNT/tmp"
[ "$(stat -c %a "$MNT/tmp")" = 1777 ] || mx_fail "sticky bit not kept: $(stat -c %a "$MNT/tmp")"
mx_as_a sh -c "echo a > '$MNT/tmp/a-file'; mkdir '$MNT/tmp/a-dir'"
mx_as_b sh -c "echo b > '$MNT/tmp/b-file'"
expect_fail "B removes A's file in a sticky dir" "$EPERM" mx_as_b rm -f "$MNT/tmp/a-file"
expect_fail "B renames A's file in a sticky dir" "$EPERM" mx_as_b mv "$MNT/tmp/a-file" "$MNT/tmp/stolen"
expect_fail "B renames its file over A's in a sticky dir" "$EPERM" mx_as_b mv -f "$MNT/tmp/b-file" "$MNT/tmp/a-file"
expect_fail "B removes A's dir in a sticky dir" "$EPERM" mx_as_b rmdir "$MNT/tmp/a-dir"
[ "$(cat "$MNT/tmp/a-file")" = a ] || mx_fail "A's file changed"
expect_ok "B renames its own file in a sticky dir" mx_as_b mv "$MNT/tmp/b-file" "$MNT/tmp/b-file2"
expect_ok "B removes its own file in a sticky dir" mx_as_b rm "$MNT/tmp/b-file2"
expect_ok "A removes its own file in a sticky dir" mx_as_a rm "$MNT/tmp/a-file"
mx_as_a sh -c "echo a > '$MNT/tmp/a-file'"
expect_ok "root removes A's file in a sticky dir" rm "$MNT/tmp/a-file"
expect_ok "A removes its own dir in a sticky dir" mx_as_a rmdir "$MNT/tmp/a-dir"

# --- chown / chgrp / setuid -----------------------------------------------
mx_as_a sh -c "echo mine > '$MNT/open/owned'"
expect_fail "A gives its file to B (chown)" "$EPERM" mx_as_a chown 65533 "$MNT/open/owned"
expect_fail "A gives its file to a group it is not in" "$EPERM" mx_as_a chgrp 65533 "$MNT/open/owned"
expect_fail "B chowns A's file to itself" "$EPERM" mx_as_b chown 65533 "$MNT/open/owned"
expect_ok "A chowns its file to itself and its own group (no-op)" mx_as_a chown 65534:65534 "$MNT/open/owned"
expect_ok "root chowns A's file to B" chown 65533:65533 "$MNT/open/owned"
[ "$(stat -c %u:%g "$MNT/open/owned")" = 65533:65533 ] || mx_fail "root chown did not take"
expect_ok "B (the new owner) chmods it" mx_as_b chmod 600 "$MNT/open/owned"
expect_fail "A reads its former file" "$EACCES" mx_as_a cat "$MNT/open/owned"

# A write by a non-owner clears setuid/setgid (as every Linux filesystem).
echo "#!/bin/sh" >"$MNT/open/suid"
chmod 6777 "$MNT/open/suid"
[ "$(stat -c %a "$MNT/open/suid")" = 6777 ] || mx_fail "chmod 6777 gave $(stat -c %a "$MNT/open/suid")"
mx_as_a sh -c "echo 'echo x' >> '$MNT/open/suid'"
m=$(stat -c %a "$MNT/open/suid")
[ "$m" = 777 ] || mx_fail "write by A left mode $m on a 6777 root file (setuid/setgid not cleared)"
mx_ok "write by another user clears setuid/setgid"
# Group inheritance: a setgid directory passes its group (and, to
# subdirectories, the setgid bit) on.
mkdir -m 2777 "$MNT/sgid"
chgrp 65533 "$MNT/sgid"
chmod 2777 "$MNT/sgid"
mx_as_a sh -c "mkdir '$MNT/sgid/sub'; : > '$MNT/sgid/f'"
[ "$(stat -c %g "$MNT/sgid/f")" = 65533 ] || mx_fail "file in setgid dir has gid $(stat -c %g "$MNT/sgid/f")"
[ "$(stat -c '%g %A' "$MNT/sgid/sub" | cut -c1-6,13)" = "65533 s" ] ||
    mx_fail "subdir of setgid dir: $(stat -c '%g %A' "$MNT/sgid/sub")"
mx_ok "setgid directory passes on its group and the setgid bit"

# --- the same after a remount ---------------------------------------------
mx_umount "$MNT"
mx_mount "$DATA" "$MNT" allow_other
expect_fail "after remount: A reads root's 0600 file" "$EACCES" mx_as_a cat "$MNT/secret"
[ "$(stat -c '%u:%g %a' "$MNT/open/owned")" = "65533:65533 600" ] || mx_fail "owner/mode lost on remount"
[ "$(stat -c %a "$MNT/tmp")" = 1777 ] || mx_fail "sticky bit lost on remount"
expect_fail "after remount: B removes a root file in the sticky dir" "$EPERM" \
    sh -c ": > '$MNT/tmp/r'; exec setpriv --reuid=65533 --regid=65533 --clear-groups rm -f '$MNT/tmp/r'"
mx_umount "$MNT"
mx_fsck "$DATA"
