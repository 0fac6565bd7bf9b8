# lib.sh — shared helpers for mount tests (source it from a t_*.sh).
#
# Each test gets a fresh scratch directory under $LSMER_TEST_TMP (default
# /tmp) holding data/ (the store) and mnt/ (the mount point). An EXIT trap
# ALWAYS unmounts (fusermount3 -u, falling back to a lazy -uz), stops the
# daemon and removes the scratch directory (kept when the test failed or
# KEEP_TMP=1, so the daemon log can be read).
#
# Environment: LSMERFS  path of the lsmerfs binary (required)
#              LSMER    path of the lsmer admin CLI (optional)
#              LSMER_TEST_TMP  scratch base
#
# A test looks like:
#   source "$(dirname "$0")/lib.sh"
#   lsm_setup basic            # scratch dir, $DATA, $MNT, $T
#   lsm_mount                  # foreground daemon in the background
#   check "a file reads back" test "$(cat "$MNT/f")" = x
#   lsm_umount; lsm_mount      # or lsm_remount
#   lsm_done                   # exit status: failures > 0 -> 1
#
# Exit 77 means "skipped" (no /dev/fuse or fusermount3 here).

set -uo pipefail

: "${LSMERFS:?set LSMERFS to the lsmerfs binary}"
LSMER_TEST_TMP=${LSMER_TEST_TMP:-/tmp}
LSM_FAILS=0
LSM_CHECKS=0
DAEMON_PID=""
LSM_MOUNTED=0

lsm_log() { printf '%s: %s\n' "${LSM_TEST_NAME:-mount-test}" "$*"; }

lsm_skip_unless_fuse() {
  if [ ! -e /dev/fuse ] || ! command -v fusermount3 >/dev/null 2>&1; then
    lsm_log "SKIP: FUSE is not available here (/dev/fuse, fusermount3)"
    exit 77
  fi
}

lsm_setup() { # name
  LSM_TEST_NAME=$1
  lsm_skip_unless_fuse
  mkdir -p "$LSMER_TEST_TMP"
  T=$(mktemp -d "$LSMER_TEST_TMP/mt-$1.XXXXXX")
  DATA=$T/data
  MNT=$T/mnt
  DAEMON_LOG=$T/daemon.log
  mkdir -p "$MNT"
  trap lsm_cleanup EXIT
  trap 'exit 130' INT TERM
  lsm_log "scratch: $T"
}

lsm_cleanup() {
  local rc=$?
  if [ "$LSM_MOUNTED" = 1 ] || mountpoint -q "$MNT" 2>/dev/null; then
    lsm_umount_quiet
  fi
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -TERM "$DAEMON_PID" 2>/dev/null
    sleep 1
    kill -KILL "$DAEMON_PID" 2>/dev/null
  fi
  if [ "$rc" -ne 0 ] || [ "$LSM_FAILS" -ne 0 ]; then
    if [ -s "$DAEMON_LOG" ]; then
      lsm_log "daemon log (last 40 lines):"
      tail -n 40 "$DAEMON_LOG" | sed 's/^/    /'
    fi
    [ "${KEEP_TMP:-0}" = 1 ] && lsm_log "kept $T"
  fi
  if [ "${KEEP_TMP:-0}" != 1 ]; then
    rm -rf "$T"
  fi
  exit "$rc"
}

# Waits until $MNT is a mount point (or the daemon died).
lsm_wait_mounted() {
  local i
  for i in $(seq 1 200); do
    mountpoint -q "$MNT" && return 0
    if [ -n "$DAEMON_PID" ] && ! kill -0 "$DAEMON_PID" 2>/dev/null; then
      lsm_log "daemon exited before the mount appeared"
      return 1
    fi
    sleep 0.05
  done
  lsm_log "mount did not appear within 10 s"
  return 1
}

# Starts "$LSMERFS $DATA $MNT -f [opts]" in the background (extra arguments
# go to lsmerfs, e.g. -o nowriteback).
lsm_mount() {
  "$LSMERFS" "$DATA" "$MNT" -f "$@" >>"$DAEMON_LOG" 2>&1 &
  DAEMON_PID=$!
  if ! lsm_wait_mounted; then
    LSM_FAILS=$((LSM_FAILS + 1))
    lsm_log "FAIL: mount"
    exit 1
  fi
  LSM_MOUNTED=1
  lsm_log "mounted (pid $DAEMON_PID) $*"
}

# Mounts the way users do: lsmerfs daemonizes itself and returns once the
# mount is up. The daemon's pid is found afterwards for cleanup.
lsm_mount_daemon() {
  if ! "$LSMERFS" "$DATA" "$MNT" "$@" >>"$DAEMON_LOG" 2>&1; then
    LSM_FAILS=$((LSM_FAILS + 1))
    lsm_log "FAIL: lsmerfs (daemonized) exited non-zero"
    exit 1
  fi
  if ! mountpoint -q "$MNT"; then
    LSM_FAILS=$((LSM_FAILS + 1))
    lsm_log "FAIL: lsmerfs returned but $MNT is not mounted"
    exit 1
  fi
  LSM_MOUNTED=1
  DAEMON_PID=$(pgrep -n -f -x "$LSMERFS $DATA $MNT.*" || true)
  lsm_log "mounted daemonized (pid ${DAEMON_PID:-?}) $*"
}

lsm_umount_quiet() {
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    fusermount3 -u "$MNT" 2>/dev/null && break
    sleep 0.3
  done
  mountpoint -q "$MNT" && fusermount3 -uz "$MNT" 2>/dev/null
  LSM_MOUNTED=0
  lsm_wait_daemon_exit
}

# Waits (up to 30 s) for the daemon to finish after an unmount, so that the
# store is closed and synced before anything reopens it.
lsm_wait_daemon_exit() {
  [ -n "$DAEMON_PID" ] || return 0
  local i
  for i in $(seq 1 300); do
    if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
      # A foreground daemon is our child: its exit status must be 0 (a
      # sanitizer report or a failed close shows up here).
      local st=0
      wait "$DAEMON_PID" 2>/dev/null || st=$?
      DAEMON_PID=""
      if [ "$st" -ne 0 ] && [ "$st" -ne 127 ]; then
        lsm_log "daemon exited with status $st"
        return 1
      fi
      return 0
    fi
    sleep 0.1
  done
  lsm_log "daemon $DAEMON_PID did not exit after unmount"
  return 1
}

lsm_umount() {
  sync
  if ! fusermount3 -u "$MNT"; then
    lsm_log "fusermount3 -u failed; lazy unmount"
    fusermount3 -uz "$MNT"
    LSM_FAILS=$((LSM_FAILS + 1))
  fi
  LSM_MOUNTED=0
  if ! lsm_wait_daemon_exit; then
    LSM_FAILS=$((LSM_FAILS + 1))
  fi
  lsm_log "unmounted"
}

lsm_remount() {
  lsm_umount
  lsm_mount "$@"
}

# check DESCRIPTION COMMAND [ARGS...]: runs the command, prints ok/FAIL.
check() {
  local desc=$1
  shift
  LSM_CHECKS=$((LSM_CHECKS + 1))
  local out
  if out=$("$@" 2>&1); then
    printf 'ok   %s\n' "$desc"
  else
    printf 'FAIL %s\n' "$desc"
    [ -n "$out" ] && printf '%s\n' "$out" | head -n 20 | sed 's/^/     /'
    LSM_FAILS=$((LSM_FAILS + 1))
  fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
  LSM_CHECKS=$((LSM_CHECKS + 1))
  if [ "$2" = "$3" ]; then
    printf 'ok   %s\n' "$1"
  else
    printf 'FAIL %s\n     expected: %s\n     actual:   %s\n' "$1" "$2" "$3"
    LSM_FAILS=$((LSM_FAILS + 1))
  fi
}

# A listing of a tree that two copies must agree on: path, type, mode,
# mtime (whole seconds), symlink target (sizes and bytes: tree_sums).
tree_manifest() { # dir
  (cd "$1" && find . -mindepth 1 -printf '%p %y %m %TY-%Tm-%Td-%TH:%TM:%TS %l\n' |
    sed -E 's/(:[0-9]+)\.[0-9]+ /\1 /' | LC_ALL=C sort)
}

tree_sums() { # dir
  (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

lsm_done() {
  lsm_log "$LSM_CHECKS checks, $LSM_FAILS failed"
  [ "$LSM_FAILS" -eq 0 ] || exit 1
  exit 0
}
