#!/usr/bin/env bash
# t_acl: POSIX ACLs on a mount (root, -o allow_other): setfacl/getfacl, the
# kernel enforcing a named-user entry for unprivileged users (setpriv, uid
# 65534 "A" and 65533 "B", no passwd entries needed), default-ACL
# inheritance by files and subdirectories (umask ignored), chmod changing
# the mask, cp -a carrying ACLs, ls -l's '+', persistence across a remount,
# and -o noacl refusing them.
. "$(dirname "$0")/lib_extra.sh"
mx_begin "POSIX ACLs (setfacl, inheritance, enforcement, cp -a, remount, noacl)"
mx_need setfacl getfacl setpriv stat cp
[ "$(id -u)" -eq 0 ] || mx_fail "must run as root (it mounts with allow_other and switches users)"

DATA=$MX_TMP/data
mx_public_mnt
MNT=$MX_PUBLIC_MNT
mx_mount "$DATA" "$MNT" allow_other
chmod 755 "$MNT"

# acl_of PATH [-d]: the ACL entries, without comments, one a line.
acl_of() { getfacl -cpnE "$@" 2>/dev/null | grep -v '^$'; }
expect_acl() {
    local what=$1 path=$2 want=$3 got
    shift 3
    got=$(acl_of "$@" "$path" | tr '\n' ' ')
    [ "$got" = "$want" ] || mx_fail "$what: ACL of $path is [$got], expected [$want]"
    mx_ok "$what"
}

# --- an access ACL --------------------------------------------------------
echo secret >"$MNT/f"
chmod 600 "$MNT/f"
if ! mx_as_a cat "$MNT/f" >/dev/null 2>&1; then mx_ok "A cannot read a 0600 file"; else
    mx_fail "A reads a 0600 root file before any ACL"
fi
setfacl -m u:65534:r "$MNT/f" || mx_fail "setfacl -m u:65534:r failed"
expect_acl "getfacl shows the named entry" "$MNT/f" \
    "user::rw- user:65534:r-- group::--- mask::r-- other::--- "
[ "$(stat -c %a "$MNT/f")" = 640 ] || mx_fail "mode after setfacl is $(stat -c %a "$MNT/f"), want 640 (mask in group bits)"
mx_ok "setfacl set the mode's group bits to the mask"
[ "$(mx_as_a cat "$MNT/f")" = secret ] || mx_fail "A (named in the ACL) cannot read the file"
mx_ok "A, named in the ACL, reads the file"
if mx_as_b cat "$MNT/f" >/dev/null 2>&1; then mx_fail "B (not in the ACL) reads the file"; fi
mx_ok "B, not in the ACL, is refused"
ls -l "$MNT/f" | grep -q '^-rw-r-----+ ' || mx_fail "ls -l shows no '+': $(ls -l "$MNT/f")"
mx_ok "ls -l shows the '+'"

# chmod rewrites the mask: 600 masks the named entry away
chmod 600 "$MNT/f"
expect_acl "chmod 600 sets the mask to ---" "$MNT/f" \
    "user::rw- user:65534:r-- group::--- mask::--- other::--- "
if mx_as_a cat "$MNT/f" >/dev/null 2>&1; then mx_fail "A reads the file though the mask is ---"; fi
mx_ok "the mask limits the named entry"
chmod 640 "$MNT/f"
[ "$(mx_as_a cat "$MNT/f")" = secret ] || mx_fail "A cannot read after chmod 640 restored the mask"
mx_ok "chmod 640 gives the mask back r--"

# removing the ACL leaves a plain file
setfacl -b "$MNT/f"
[ -z "$(getfattr -n system.posix_acl_access "$MNT/f" 2>/dev/null)" ] || mx_fail "setfacl -b left an ACL"
ls -l "$MNT/f" | grep -q '^-rw-[-r]----- ' || mx_fail "after setfacl -b: $(ls -l "$MNT/f")"
mx_ok "setfacl -b removes the ACL"

# --- default ACLs ---------------------------------------------------------
mkdir -m 755 "$MNT/d"
setfacl -d -m u:65534:rwx,g::r-x,o::--- "$MNT/d"
expect_acl "the directory's default ACL" "$MNT/d" \
    "user::rwx user:65534:rwx group::r-x mask::rwx other::--- " -d
(umask 077 && echo hi >"$MNT/d/file" && mkdir "$MNT/d/sub")
# the create modes were 0666 and 0777; the umask 077 is ignored
expect_acl "a new file inherits the default as its access ACL" "$MNT/d/file" \
    "user::rw- user:65534:rwx group::r-x mask::rw- other::--- "
[ "$(stat -c %a "$MNT/d/file")" = 660 ] || mx_fail "new file's mode is $(stat -c %a "$MNT/d/file"), want 660"
mx_ok "the new file's mode follows the inherited ACL, not the umask"
expect_acl "a new subdirectory inherits it as access ACL" "$MNT/d/sub" \
    "user::rwx user:65534:rwx group::r-x mask::rwx other::--- " -a
expect_acl "and as its own default ACL" "$MNT/d/sub" \
    "user::rwx user:65534:rwx group::r-x mask::rwx other::--- " -d
[ "$(stat -c %a "$MNT/d/sub")" = 770 ] || mx_fail "new subdir's mode is $(stat -c %a "$MNT/d/sub"), want 770"
echo deep >"$MNT/d/sub/deeper"
mx_as_a sh -c "echo more >> '$MNT/d/sub/deeper'" || mx_fail "A cannot write a file it is granted through inheritance"
mx_ok "A writes a file it has rw through the inherited ACL"
if mx_as_b cat "$MNT/d/sub/deeper" >/dev/null 2>&1; then mx_fail "B reads an inherited-ACL file"; fi
mx_ok "B is refused there"
(umask 022 && echo plain >"$MNT/plain")
[ "$(stat -c %a "$MNT/plain")" = 644 ] || mx_fail "outside a default ACL the umask is not applied: $(stat -c %a "$MNT/plain")"
[ -z "$(getfattr -n system.posix_acl_access "$MNT/plain" 2>/dev/null)" ] || mx_fail "a file outside got an ACL"
mx_ok "without a default ACL the umask applies and no ACL appears"

# --- cp -a ----------------------------------------------------------------
setfacl -m u:65534:r,g:65532:rw "$MNT/f"
cp -a "$MNT/f" "$MNT/f.copy"
cp -a "$MNT/d" "$MNT/d.copy"
[ "$(acl_of "$MNT/f")" = "$(acl_of "$MNT/f.copy")" ] || mx_fail "cp -a: file ACL differs: $(acl_of "$MNT/f.copy")"
[ "$(acl_of -d "$MNT/d")" = "$(acl_of -d "$MNT/d.copy")" ] || mx_fail "cp -a: default ACL differs"
[ "$(acl_of "$MNT/d/file")" = "$(acl_of "$MNT/d.copy/file")" ] || mx_fail "cp -a: inherited ACL differs"
mx_ok "cp -a preserves access and default ACLs"

# --- persistence ------------------------------------------------------------
before=$(cd "$MNT" && getfacl -Rpn . 2>/dev/null)
mx_umount "$MNT"
mx_mount "$DATA" "$MNT" allow_other
after=$(cd "$MNT" && getfacl -Rpn . 2>/dev/null)
[ "$before" = "$after" ] || mx_fail "ACLs changed across remount: $(diff <(echo "$before") <(echo "$after"))"
mx_ok "ACLs persist across a remount"
[ "$(mx_as_a cat "$MNT/f")" = secret ] || mx_fail "after remount A cannot read via its ACL entry"
if mx_as_b cat "$MNT/f" >/dev/null 2>&1; then mx_fail "after remount B reads the file"; fi
mx_ok "after remount the kernel still enforces them"
mx_umount "$MNT"

# --- -o noacl ---------------------------------------------------------------
mx_mount "$DATA" "$MNT" allow_other,noacl
if out=$(setfacl -m u:65534:rw "$MNT/plain" 2>&1); then mx_fail "setfacl succeeded with -o noacl"; fi
case "$out" in *"not supported"*) ;; *) mx_fail "setfacl with noacl: [$out], expected 'not supported'" ;; esac
mx_ok "with -o noacl setfacl is refused"
mx_umount "$MNT"
mx_fsck "$DATA"
