#!/usr/bin/env bash
# t_stats_live: `lsmer stats` and `lsmer compact` on a mounted filesystem go
# through the daemon's control channel: after some work the FUSE operation
# counts match it (at least as many creates, mkdirs, renames, unlinks as
# were done) and the levels are there; --json parses and carries the same
# figures; --watch refreshes with rates over its interval; the DATA_DIR of
# the mounted filesystem is answered through the daemon too; a user who is
# neither the owner of the mount nor root is refused with a clear message,
# both by the socket's directory and, when that is opened up, by the
# daemon's SO_PEERCRED check; the socket is gone after the unmount and the
# offline `lsmer stats DATA_DIR` works again.
. "$(dirname "$0")/lib_extra.sh"
mx_begin "live stats and compact through the control channel"
[ -n "${LSMER:-}" ] && [ -x "$LSMER" ] || { mx_log "SKIP: LSMER (the admin CLI) is not built"; exit 77; }
mx_need setpriv timeout
[ "$(id -u)" -eq 0 ] || mx_fail "must run as root (switches to uid 65534)"

# allow_other: the non-owner must reach the mount point, so that what
# refuses it is the control channel, not the mount. The scratch directory
# may sit below directories uid 65534 cannot search, so the store and the
# mount point go below /tmp.
PUB=$(mktemp -d /tmp/lsmer-stats-live.XXXXXX)
mx_after_umount "rm -rf '$PUB'"
chmod 711 "$PUB"
mx_mount "$PUB/data" "$PUB/mnt" allow_other
SOCK=$DATA/control/sock
[ -S "$SOCK" ] || mx_fail "no control socket at $SOCK"
[ "$(stat -c %a "$DATA/control")" = 700 ] || mx_fail "$DATA/control is not mode 0700"
mx_ok "control socket in a 0700 directory"

# --- some work --------------------------------------------------------------
N=150
mkdir "$MNT/d1" "$MNT/d2"
for i in $(seq 1 $N); do printf 'file %d\n' "$i" >"$MNT/d1/f$i"; done
for i in $(seq 1 20); do mv "$MNT/d1/f$i" "$MNT/d2/g$i"; done
rm "$MNT"/d1/f2?
setfattr -n user.k -v v "$MNT/d2/g1"
cat "$MNT"/d1/* "$MNT"/d2/* >/dev/null
head -c 3000000 /dev/urandom >"$MNT/big"
sync

# --- text ------------------------------------------------------------------
out=$("$LSMER" stats "$MNT")
printf '%s\n' "$out" | grep -q "^filesystem: $MNT" || mx_fail "no filesystem section in: $out"
printf '%s\n' "$out" | grep -Eq '^L0 ' || mx_fail "no levels in: $out"
creates=$(printf '%s\n' "$out" | awk '$1 == "create" {print $2}')
[ -n "$creates" ] && [ "$creates" -ge "$N" ] || mx_fail "create count '$creates' < $N in: $out"
mx_ok "lsmer stats MNT: levels and $creates creates"

# --- compact through the daemon, then JSON ---------------------------------
cout=$("$LSMER" compact "$MNT")
printf '%s\n' "$cout" | grep -q "compacted $MNT (live)" || mx_fail "live compact said: $cout"
mx_ok "lsmer compact MNT (live): $cout"
"$LSMER" stats --json "$MNT" >"$T/stats.json"
mx_py - "$T/stats.json" "$N" "$MNT" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
n, mnt = int(sys.argv[2]), sys.argv[3]
ops = d["ops"]
def need(cond, what):
    if not cond:
        sys.exit("json: " + what + ": " + json.dumps(d)[:2000])
need(d["live"] is True and d["mountpoint"] == mnt, "live and mountpoint")
need(ops["create"]["count"] >= n, "create count")
need(ops["mkdir"]["count"] >= 2, "mkdir count")
need(ops["rename"]["count"] >= 20, "rename count")
need(ops["unlink"]["count"] >= 9, "unlink count")  # f21..f29
need(ops["setxattr"]["count"] >= 1, "setxattr count")
need(ops["write"]["count"] >= 1 and d["fs"]["write_bytes"] >= 3000000, "writes")
need(all(o["per_s"] >= 0 for o in ops.values()), "rates")
need(d["fs"]["uptime_ms"] > 0 and d["fs"]["inos_handed_out"] >= n, "fs figures")
levels = d["levels"]
need(len(levels) >= 2 and sum(l["files"] for l in levels) >= 1, "levels with files after compact")
need(d["compactions"] >= 1 and d["table_bytes"] > 0, "compaction counted")
need(d["background_error"] == 0, "no background error")
print("json: %d creates, %d table files" % (ops["create"]["count"], sum(l["files"] for l in levels)))
PY
mx_ok "lsmer stats --json MNT parses with the expected figures"

# DATA_DIR of the mounted filesystem: answered by the daemon.
"$LSMER" stats --json "$DATA" >"$T/stats2.json" 2>"$T/stats2.err"
grep -q "is mounted at $MNT" "$T/stats2.err" || mx_fail "no 'mounted at' note: $(cat "$T/stats2.err")"
mx_py -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["live"] and d["ops"]["create"]["count"] > 0' "$T/stats2.json"
mx_ok "lsmer stats DATA_DIR of a mounted fs goes through the daemon"

# --watch: several refreshes, rates over the interval.
rc=0
timeout 2.6 "$LSMER" stats --json --watch 0.5 "$MNT" >"$T/watch.json" || rc=$?
[ "$rc" -eq 124 ] || mx_fail "stats --watch exited $rc before the timeout"
mx_py - "$T/watch.json" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
dec, objs, i = json.JSONDecoder(), [], 0
while True:
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    o, i = dec.raw_decode(text, i)
    objs.append(o)
if len(objs) < 3:
    sys.exit("only %d refreshes" % len(objs))
iv = objs[-1]["rate_interval_s"]
if not 0.3 < iv < 1.5:
    sys.exit("rate interval %.3f s, expected about 0.5" % iv)
print("watch: %d refreshes, interval %.2f s" % (len(objs), iv))
PY
mx_ok "stats --watch refreshes"

# --- a user who is neither the owner nor root -------------------------------
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
chmod 755 "$DATA"
rc=0
"${NOBODY[@]}" "$LSMER" stats "$MNT" >"$T/nb.out" 2>"$T/nb.err" || rc=$?
[ "$rc" -eq 1 ] || mx_fail "non-owner: exit $rc, expected 1: $(cat "$T/nb.err")"
grep -q "permission denied.*only the owner of the mount (uid 0) and root" "$T/nb.err" ||
    mx_fail "non-owner message: $(cat "$T/nb.err")"
[ ! -s "$T/nb.out" ] || mx_fail "non-owner got figures: $(cat "$T/nb.out")"
mx_ok "non-owner refused by the socket directory: $(cat "$T/nb.err")"
# Open the directory and the socket up: the daemon itself must refuse.
chmod 755 "$DATA/control"
chmod 666 "$SOCK"
rc=0
"${NOBODY[@]}" "$LSMER" stats "$MNT" >"$T/nb.out" 2>"$T/nb.err" || rc=$?
chmod 700 "$DATA/control"
chmod 600 "$SOCK"
[ "$rc" -eq 1 ] || mx_fail "non-owner (open socket): exit $rc: $(cat "$T/nb.err")"
grep -q "permission denied: only the owner of this mount (uid 0) and root" "$T/nb.err" ||
    mx_fail "daemon's refusal: $(cat "$T/nb.err")"
mx_ok "non-owner refused by the daemon (SO_PEERCRED): $(cat "$T/nb.err")"
rc=0
"${NOBODY[@]}" "$LSMER" compact "$MNT" >/dev/null 2>"$T/nb.err" || rc=$?
[ "$rc" -eq 1 ] || mx_fail "non-owner compact: exit $rc"
# The owner still works after that.
"$LSMER" stats "$MNT" >/dev/null

# --- unmount: the socket goes, offline stats work ---------------------------
mx_umount "$MNT"
[ ! -e "$SOCK" ] && [ ! -e "$DATA/control" ] || mx_fail "control socket left after unmount"
mx_ok "socket removed at unmount"
"$LSMER" stats --json "$DATA" >"$T/off.json"
mx_py -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["live"] is False and sum(l["files"] for l in d["levels"]) >= 1' "$T/off.json"
mx_ok "offline lsmer stats DATA_DIR after the unmount"
rc=0
"$LSMER" stats --watch "$DATA" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || mx_fail "--watch offline: exit $rc, expected 2"
mx_ok "--watch refused offline"
