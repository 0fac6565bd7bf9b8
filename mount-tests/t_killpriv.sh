#!/usr/bin/env bash
# t_killpriv: with HANDLE_KILLPRIV_V2 (the default) the kernel stops asking
# for security.capability before every write, and lsmerfs itself drops a
# file's capabilities when its data or owner changes, as ext4 does: a write
# (by root too), a truncate and a chown remove what setcap set; a chmod
# keeps it. With -o nokillpriv_v2 the kernel asks again before each write
# (so the counting below is not vacuous) and still drops the capabilities
# itself.
. "$(dirname "$0")/lib_extra.sh"
mx_begin "file capabilities and HANDLE_KILLPRIV_V2"
mx_need setcap getcap
[ "$(id -u)" -eq 0 ] || mx_fail "must run as root (setcap)"
[ -n "${LSMER:-}" ] && [ -x "$LSMER" ] || mx_fail "needs LSMER (the admin CLI, for the op counts)"

getxattr_count() { "$LSMER" stats "$MNT" | awk '$1 == "getxattr" { print $2; f = 1 } END { if (!f) print 0 }'; }

# caps_drop_checks: every change of data or owner drops the capabilities.
caps_drop_checks() {
    local f=$MNT/prog what
    for what in write truncate chown chmod; do
        printf 'x' >"$f"
        setcap cap_net_raw+ep "$f" || mx_fail "setcap on $f"
        getcap "$f" | grep -q cap_net_raw || mx_fail "getcap does not show what setcap set"
        case $what in
        write) printf 'y' >>"$f" ;;
        truncate) truncate -s 1 "$f" ;;
        chown) chown 1000 "$f" ;;
        chmod) chmod 700 "$f" ;;
        esac
        caps=$(getcap "$f")
        if [ "$what" = chmod ]; then
            [ -n "$caps" ] || mx_fail "a chmod dropped the capabilities ($1)"
        else
            [ -z "$caps" ] || mx_fail "a $what left the capabilities: $caps ($1)"
        fi
        rm -f "$f"
    done
    mx_ok "write, truncate and chown drop file capabilities, chmod keeps them ($1)"
}

# appends N: N separate appends (open, write, close) to one file.
appends() {
    local i
    for ((i = 0; i < $1; i++)); do echo "line $i" >>"$MNT/log"; done
}

# one_mount NAME OPTS CHECK: a fresh mount with OPTS; the capability checks;
# 200 appends, whose GETXATTR count must pass the awk test CHECK (on $1).
one_mount() {
    mx_mount "$MX_TMP/$1" "$MX_TMP/mnt-$1" $2
    caps_drop_checks "$1"
    local before after
    before=$(getxattr_count)
    appends 200
    after=$(getxattr_count)
    awk -v n=$((after - before)) "BEGIN { exit !(n $3) }" ||
        mx_fail "$1: 200 appends sent $((after - before)) GETXATTR requests (want $3)"
    mx_ok "$1: 200 appends, $((after - before)) GETXATTR requests"
    mx_umount "$MNT"
}

one_mount killpriv_v2 "" "<= 2"
# The kernel asks before each write: the count above is not vacuous.
one_mount nokillpriv_v2 nokillpriv_v2 ">= 150"
mx_fsck "$MX_TMP/killpriv_v2"
