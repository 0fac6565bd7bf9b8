#!/usr/bin/env bash
# t_backup: `lsmer backup` of a live filesystem and `lsmer restore`.
#
# 1. Quiescent: a tree with every kind of content (empty, inline, block and
#    sparse files, a 5 MiB file, symlinks, hard links, a FIFO, xattrs, odd
#    modes, old mtimes, an empty directory) is backed up while mounted,
#    restored into a new DATA_DIR and mounted: diff -r against a cp -a copy
#    taken before, and the same listing of type, mode, mtime, size, link
#    count, symlink target and xattrs.
# 2. Under writes: a writer keeps creating, appending to, renaming, chmod-ing
#    and deleting files in one directory, logging each operation once it has
#    returned. The backup runs meanwhile; the restored directory must equal
#    the writer's state after exactly k operations for some k between the
#    operations finished when the backup started and those finished (plus
#    the one in flight) when it returned: one instant, no torn state.
# 3. Refusals: a non-empty DEST, a non-empty restore target, a backup whose
#    superblock is missing (an interrupted one) or whose table is damaged.
# 4. Offline: the stopped DATA_DIR backed up; the backup mounts as it is.
. "$(dirname "$0")/lib_extra.sh"
mx_begin "live backup and restore: byte-exact quiescent copy, one-instant copy under writes"
[ -n "${LSMER:-}" ] && [ -x "$LSMER" ] || { mx_log "SKIP: LSMER (the admin CLI) is not built"; exit 77; }
mx_need getfattr setfattr sha256sum mkfifo diff
mx_seed

# listing DIR: what two copies of a tree must agree on, one line per entry.
listing() {
    (cd "$1" && find . -mindepth 1 -printf '%p %y %m %s %n %T@ %l\n' | LC_ALL=C sort)
    (cd "$1" && getfattr -R -d -m - -h --absolute-names . 2>/dev/null | grep -v '^$' || true)
}

mx_mount "$DATA" "$MNT"

# --- 1. a quiescent tree ------------------------------------------------------
Q=$MNT/q
mkdir -p "$Q/sub/deeper" "$Q/empty"
: >"$Q/empty-file"
printf 'small' >"$Q/small"
head -c 2047 /dev/urandom >"$Q/inline-edge"
head -c 70000 /dev/urandom >"$Q/two-blocks"
head -c 5000000 /dev/urandom >"$Q/sub/big"
truncate -s 20M "$Q/sparse"
printf 'middle' | dd of="$Q/sparse" bs=1 seek=10000000 conv=notrunc status=none
for i in $(seq 1 200); do printf 'n%d\n' "$i" >"$Q/sub/deeper/n$i"; done
ln -s small "$Q/rel-link"
ln -s /nonexistent/target "$Q/dangling"
ln -s "$(printf 'x%.0s' $(seq 1 300))" "$Q/long-link"
ln "$Q/small" "$Q/sub/hard"
mkfifo "$Q/fifo"
setfattr -n user.color -v blue "$Q/small"
setfattr -n user.bin -v 0x00ff10 "$Q/sub/big"
setfattr -n user.dir -v yes "$Q/sub"
chmod 4755 "$Q/two-blocks"
chmod 1777 "$Q/empty"
chmod 0600 "$Q/inline-edge"
touch -h -d '2001-02-03 04:05:06.789' "$Q/rel-link"
touch -d '1999-12-31 23:59:59' "$Q/small" "$Q/sub/deeper"
# What the store holds, not the kernel's cached attributes: with the
# writeback cache the kernel's mtime of a file just written can differ by
# milliseconds from the stored one until it is evicted.
mx_umount "$MNT"
mx_mount "$DATA" "$MNT"
REF=$MX_TMP/ref
cp -a "$Q" "$REF"
listing "$Q" >"$MX_TMP/q.before"

BK1=$MX_TMP/bk1
out=$("$LSMER" backup "$MNT" "$BK1")
printf '%s\n' "$out"
printf '%s\n' "$out" | grep -q "(live).*checked clean" || mx_fail "backup output: $out"
mx_ok "live backup of a quiescent tree"

rc=0
"$LSMER" backup "$MNT" "$BK1" 2>"$MX_TMP/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "not empty" "$MX_TMP/err" || mx_fail "backup into a non-empty DEST: exit $rc: $(cat "$MX_TMP/err")"
mx_ok "backup refuses a non-empty DEST"
rc=0
"$LSMER" backup "$MNT" "$MNT/inside" 2>"$MX_TMP/err" || rc=$?
[ "$rc" -eq 2 ] || mx_fail "backup into the mount itself: exit $rc"
mx_ok "backup refuses a DEST inside the filesystem"

# --- 2. under writes -----------------------------------------------------------
W=$MNT/w
mkdir "$W"
for k in 0 1 2 3; do : >"$W/f$k"; done
# 30 MB of other data, so that the backup takes a while.
mkdir "$MNT/bulk"
for k in $(seq 1 30); do head -c 1000000 /dev/urandom >"$MNT/bulk/b$k"; done
JOURNAL=$MX_TMP/journal
STOP=$MX_TMP/stop
: >"$JOURNAL"

# The writer: operation i is logged as "i OP ARGS" after it returned.
# Records are 32 bytes, so none straddles a page of the writeback cache.
writer() {
    RANDOM=$((MX_SEED + 1))
    local -a names=(f0 f1 f2 f3)
    local i=0 r n new mode
    while [ ! -e "$STOP" ]; do
        i=$((i + 1))
        r=$((RANDOM % 100))
        n=${#names[@]}
        if [ "$r" -lt 55 ]; then
            local f=${names[$((RANDOM % n))]}
            printf '%031d\n' "$i" >>"$W/$f"
            echo "$i A $f" >>"$JOURNAL"
        elif [ "$r" -lt 75 ] || [ "$n" -le 4 ]; then
            new=c$i
            : >"$W/$new"
            names+=("$new")
            echo "$i C $new" >>"$JOURNAL"
        elif [ "$r" -lt 87 ]; then
            local j=$((4 + RANDOM % (n - 4)))
            new=r$i
            mv -T "$W/${names[$j]}" "$W/$new"
            echo "$i R ${names[$j]} $new" >>"$JOURNAL"
            names[j]=$new
        elif [ "$r" -lt 94 ]; then
            local j=$((RANDOM % n))
            mode=$((RANDOM % 2 ? 600 : 644))
            chmod "$mode" "$W/${names[$j]}"
            echo "$i M ${names[$j]} $mode" >>"$JOURNAL"
        else
            local j=$((4 + RANDOM % (n - 4)))
            rm "$W/${names[$j]}"
            echo "$i U ${names[$j]}" >>"$JOURNAL"
            names=("${names[@]:0:j}" "${names[@]:j+1}")
        fi
    done
}
writer &
WPID=$!
mx_on_exit "touch '$STOP'; wait $WPID 2>/dev/null"

ops() { wc -l <"$JOURNAL"; }
wait_ops() { # until the journal has at least $1 lines
    local t
    for t in $(seq 1 600); do
        [ "$(ops)" -ge "$1" ] && return 0
        kill -0 "$WPID" 2>/dev/null || mx_fail "the writer died"
        sleep 0.1
    done
    mx_fail "the writer is stuck at $(ops) operations"
}
wait_ops 300
N0=$(ops)
BK2=$MX_TMP/bk2
"$LSMER" backup --no-verify "$MNT" "$BK2"
N1=$(ops)
wait_ops $((N1 + 200))
touch "$STOP"
wait "$WPID"
NEND=$(ops)
mx_log "writer: $N0 operations before the backup, $N1 when it returned, $NEND in all"
[ "$N1" -gt "$N0" ] || mx_log "note: no writer operation finished during the backup"

# bulk sums, as written (the writer never touched them)
(cd "$MNT/bulk" && sha256sum b*) >"$MX_TMP/bulk.sums"
mx_umount "$MNT"

# --- restore and compare ------------------------------------------------------
rc=0
mkdir -p "$MX_TMP/notempty" && : >"$MX_TMP/notempty/x"
"$LSMER" restore "$BK2" "$MX_TMP/notempty" 2>"$MX_TMP/err" || rc=$?
[ "$rc" -eq 2 ] || mx_fail "restore into a non-empty DATA_DIR: exit $rc: $(cat "$MX_TMP/err")"
mx_ok "restore refuses a non-empty DATA_DIR"

R2=$MX_TMP/restored2
"$LSMER" restore "$BK2" "$R2"
R1=$MX_TMP/restored1
"$LSMER" restore "$BK1" "$R1"
mx_ok "both backups restored"

mx_mount "$R1" "$MNT"
diff -r --no-dereference -x fifo "$REF" "$MNT/q" || mx_fail "restored quiescent tree differs from the original (diff -r)"
listing "$MNT/q" >"$MX_TMP/q.after"
diff "$MX_TMP/q.before" "$MX_TMP/q.after" || mx_fail "types, modes, mtimes, sizes, links or xattrs differ"
[ ! -e "$MNT/w" ] || mx_fail "the first backup holds w/, made after it"
mx_ok "quiescent backup: byte-identical, same metadata and xattrs"
mx_umount "$MNT"

mx_mount "$R2" "$MNT"
(cd "$MNT/bulk" && sha256sum -c --quiet "$MX_TMP/bulk.sums") || mx_fail "bulk data differs after restore"
(cd "$MNT/q" && diff -r --no-dereference -x fifo "$REF" .) || mx_fail "q/ differs in the second backup"
mx_py - "$JOURNAL" "$MNT/w" "$N0" "$N1" <<'PY'
import os, stat, sys
journal, wdir, n0, n1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
actual = {}
for name in os.listdir(wdir):
    p = os.path.join(wdir, name)
    st = os.lstat(p)
    actual[name] = (open(p, "rb").read(), stat.S_IMODE(st.st_mode))
model = {"f%d" % k: b"" for k in range(4)}
modes = {"f%d" % k: 0o644 for k in range(4)}
def state():
    return {n: (model[n], modes[n]) for n in model}
matches = []
if state() == actual:
    matches.append(0)
for line in open(journal):
    w = line.split()
    i, op = int(w[0]), w[1]
    if op == "A":
        model[w[2]] += b"%031d\n" % i
    elif op == "C":
        model[w[2]] = b""
        modes[w[2]] = 0o644
    elif op == "R":
        model[w[3]] = model.pop(w[2])
        modes[w[3]] = modes.pop(w[2])
    elif op == "M":
        modes[w[2]] = int(w[3], 8)
    elif op == "U":
        del model[w[2]]
        del modes[w[2]]
    if state() == actual:
        matches.append(i)
if not matches:
    sys.exit("the restored w/ equals no prefix of the writer's operations "
             "(%d files restored)" % len(actual))
ok = [k for k in matches if n0 <= k <= n1 + 1]
if not ok:
    sys.exit("the restored w/ equals the state after %s operations, outside [%d, %d]"
             % (matches, n0, n1 + 1))
if len(actual) < 10:
    sys.exit("only %d files in w/: the writer did too little to test" % len(actual))
print("restored w/ = the writer's state after %d operations (backup window %d..%d), %d files"
      % (ok[0], n0, n1 + 1, len(actual)))
PY
mx_ok "backup under writes holds the filesystem as of one instant"
mx_umount "$MNT"

# --- 3. damaged and interrupted backups are refused ---------------------------
BAD=$MX_TMP/bad
cp -a "$BK1" "$BAD"
sst=$(ls "$BAD"/*.sst | head -n 1)
size=$(stat -c %s "$sst")
printf '\xff\xff\xff\xff' | dd of="$sst" bs=1 seek=$((size / 3)) conv=notrunc status=none
rc=0
"$LSMER" restore "$BAD" "$MX_TMP/from-bad" 2>"$MX_TMP/err" || rc=$?
[ "$rc" -eq 1 ] || mx_fail "restore of a damaged backup: exit $rc: $(cat "$MX_TMP/err")"
[ ! -e "$MX_TMP/from-bad" ] || [ -z "$(ls -A "$MX_TMP/from-bad")" ] || mx_fail "a damaged restore left files"
mx_ok "damaged backup refused: $(head -n 1 "$MX_TMP/err")"

# --- 4. offline backup; the backup mounts as it is ----------------------------
BK3=$MX_TMP/bk3
"$LSMER" backup "$R2" "$BK3" >/dev/null
mx_mount "$BK3" "$MNT"
diff -r --no-dereference -x fifo "$REF" "$MNT/q" || mx_fail "offline backup, mounted: q/ differs"
(cd "$MNT/bulk" && sha256sum -c --quiet "$MX_TMP/bulk.sums") || mx_fail "offline backup: bulk differs"
mx_ok "offline backup mounts and holds the same tree"
mx_umount "$MNT"
mx_fsck "$BK3"
