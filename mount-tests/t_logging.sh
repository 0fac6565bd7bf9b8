#!/usr/bin/env bash
# t_logging: lsmerfs's -o loglevel=: a bad level is refused with a message
# naming it; in the foreground, info lines (mount, unmount) appear at info
# and debug and not at error; SIGTERM unmounts and exits 0 either way.
. "$(dirname "$0")/lib_extra.sh"
mx_begin "log levels of the daemon"

D=$MX_TMP/logdata
M=$MX_TMP/logmnt
mkdir -p "$D" "$M"

if err=$("$LSMERFS" "$D" "$M" -f -o loglevel=loud 2>&1); then
    mountpoint -q "$M" && fusermount3 -u "$M"
    mx_fail "lsmerfs accepted -o loglevel=loud"
fi
case "$err" in
*loglevel*) mx_ok "a bad loglevel is refused: $err" ;;
*) mx_fail "a bad loglevel is refused without naming it: $err" ;;
esac

# run_fg LEVEL: mounts in the foreground at LEVEL, touches a file, stops it
# with SIGTERM; the daemon's stderr is left in $MX_TMP/log.LEVEL.
run_fg() {
    local level=$1 pid i
    "$LSMERFS" "$D" "$M" -f -o "loglevel=$level" 2>"$MX_TMP/log.$level" &
    pid=$!
    for ((i = 0; i < 100; i++)); do
        mountpoint -q "$M" && break
        sleep 0.1
    done
    mountpoint -q "$M" || mx_fail "lsmerfs -o loglevel=$level did not mount"
    touch "$M/f.$level"
    kill -TERM "$pid"
    local rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq 0 ] || mx_fail "lsmerfs exited $rc on SIGTERM (loglevel=$level)"
    mountpoint -q "$M" && mx_fail "still mounted after SIGTERM"
    true
}

run_fg info
grep -q "mounted" "$MX_TMP/log.info" || mx_fail "no 'mounted' line at loglevel=info"
run_fg debug
grep -q "mounted" "$MX_TMP/log.debug" || mx_fail "no 'mounted' line at loglevel=debug"
run_fg error
if grep -q "mounted\|unmounting" "$MX_TMP/log.error"; then
    mx_fail "info lines logged at loglevel=error: $(cat "$MX_TMP/log.error")"
fi
mx_ok "info lines at info and debug, none at error; SIGTERM exits 0"
