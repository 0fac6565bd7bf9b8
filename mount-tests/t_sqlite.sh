#!/usr/bin/env bash
# t_sqlite: sqlite3 databases on the mount, one in rollback-journal mode
# (journal_mode=DELETE) and one in WAL mode (which needs shared writable mmap
# of the -shm file): tables and an index, thousands of inserts in
# transactions plus updates, deletes and a rolled-back transaction, VACUUM;
# integrity_check and row counts/checksums before and after a remount.
. "$(dirname "$0")/lib_extra.sh"
mx_begin "sqlite3 in rollback-journal and WAL mode on lsmerfs"
mx_need sqlite3
mx_seed

DATA=$MX_TMP/data
MNT=$MX_TMP/mnt
NTX=${NTX:-40}  # transactions of 250 inserts each
mx_mount "$DATA" "$MNT"

# The statements: NTX transactions of 250 inserts (text and blob columns of
# random sizes, some larger than a 4 KiB page so overflow pages are used),
# then updates and deletes, then a transaction that is rolled back.
gen_sql() {
    mx_py - "$MX_SEED" "$NTX" <<'EOF'
import random, sys
rng = random.Random(int(sys.argv[1]))
ntx = int(sys.argv[2])
print("CREATE TABLE kv(id INTEGER PRIMARY KEY, k TEXT NOT NULL, v BLOB, n INTEGER);")
print("CREATE INDEX kv_k ON kv(k);")
print("CREATE TABLE meta(name TEXT PRIMARY KEY, val INTEGER);")
i = 0
for t in range(ntx):
    print("BEGIN;")
    for _ in range(250):
        i += 1
        k = "key%08d" % rng.randint(0, 10**8)
        size = rng.choice((0, 10, 100, 1000, 5000)) + rng.randint(0, 50)
        print("INSERT INTO kv(k, v, n) VALUES('%s', randomblob(%d), %d);" % (k, size, rng.randint(0, 1 << 40)))
    print("INSERT OR REPLACE INTO meta VALUES('tx', %d);" % t)
    print("COMMIT;")
print("BEGIN;")
print("UPDATE kv SET n = n + 1 WHERE id % 7 = 0;")
print("DELETE FROM kv WHERE id % 11 = 0;")
print("COMMIT;")
print("BEGIN;")
print("DELETE FROM kv;")
print("INSERT INTO meta VALUES('rolled-back', 1);")
print("ROLLBACK;")
EOF
}

# The summary both sides must agree on; integrity_check must say "ok".
summary() {
    sqlite3 "$1" "PRAGMA integrity_check;" "SELECT count(*), sum(n), sum(length(v)), \
        count(DISTINCT k) FROM kv;" "SELECT group_concat(name || '=' || val) FROM meta;"
}

SQL=$MX_TMP/workload.sql
gen_sql >"$SQL"
REF=$MX_TMP/reference.db
# randomblob() differs between runs, so the reference figures come from the
# database itself: the same statements are replayed on a plain directory
# only to learn the expected row count.
sqlite3 "$REF" <"$SQL"
EXPECT_ROWS=$(sqlite3 "$REF" "SELECT count(*) FROM kv;")
EXPECT_META=$(sqlite3 "$REF" "SELECT group_concat(name || '=' || val) FROM meta;")
mx_log "workload: $NTX transactions of 250 inserts; $EXPECT_ROWS rows expected"

declare -A SUM
for mode in delete wal; do
    db=$MNT/test-$mode.db
    sqlite3 "$db" "PRAGMA journal_mode=$mode;" >/dev/null
    [ "$(sqlite3 "$db" 'PRAGMA journal_mode;')" = "$mode" ] || mx_fail "$mode: journal_mode not set"
    if [ "$mode" = wal ]; then
        # Keep the WAL from being checkpointed too early so that readers use
        # the -shm index and the WAL file for a while.
        sqlite3 "$db" "PRAGMA wal_autocheckpoint=10000;" >/dev/null
    fi
    sqlite3 -bail "$db" <"$SQL" || mx_fail "$mode: workload failed"
    s=$(summary "$db")
    [ "$(printf '%s\n' "$s" | head -1)" = ok ] || mx_fail "$mode: integrity_check: $s"
    rows=$(printf '%s\n' "$s" | sed -n 2p | cut -d'|' -f1)
    [ "$rows" = "$EXPECT_ROWS" ] || mx_fail "$mode: $rows rows, expected $EXPECT_ROWS"
    [ "$(printf '%s\n' "$s" | sed -n 3p)" = "$EXPECT_META" ] || mx_fail "$mode: meta table wrong: $s"
    SUM[$mode]=$s
    mx_ok "$mode: $rows rows, integrity_check ok"

    # A reader in another process while a writer holds a transaction.
    sqlite3 "$db" "BEGIN; INSERT INTO meta VALUES('pending', 1); SELECT count(*) FROM kv; \
        COMMIT;" >/dev/null
    sqlite3 "$db" "DELETE FROM meta WHERE name='pending';"
    [ "$(sqlite3 "$db" 'SELECT count(*) FROM kv;')" = "$EXPECT_ROWS" ] ||
        mx_fail "$mode: count changed by a second connection"
done

# VACUUM rewrites the whole file (rollback mode through the journal).
sqlite3 "$MNT/test-delete.db" "VACUUM;"
[ "$(summary "$MNT/test-delete.db")" = "${SUM[delete]}" ] || mx_fail "delete: VACUUM changed the data"
sqlite3 "$MNT/test-wal.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
mx_ok "VACUUM and wal_checkpoint keep the data"

# Leave the WAL database with uncheckpointed frames in its -wal file across
# the remount: a writer commits and dies without closing (so no checkpoint
# on close), and sqlite must recover those frames from the WAL.
mx_py - "$MNT/test-wal.db" <<'EOF'
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA wal_autocheckpoint=0")
c.execute("BEGIN")
c.execute("UPDATE meta SET val = val + 1000 WHERE name = 'tx'")
c.execute("INSERT INTO kv(k, v, n) VALUES('after-crash', zeroblob(9000), 7)")
c.execute("COMMIT")
os._exit(0)
EOF
[ -s "$MNT/test-wal.db-wal" ] || mx_fail "wal: no -wal file after an unclosed writer"
# Expected figures from a copy outside the mount (opening the original would
# checkpoint the WAL away before the remount).
mkdir "$MX_TMP/walcopy"
cp "$MNT"/test-wal.db* "$MX_TMP/walcopy/"
SUM[wal]=$(summary "$MX_TMP/walcopy/test-wal.db")
[ "$(sqlite3 "$MX_TMP/walcopy/test-wal.db" "SELECT count(*) FROM kv WHERE k = 'after-crash';")" = 1 ] ||
    mx_fail "wal: row committed by the unclosed writer missing from a copy of the files"

mx_umount "$MNT"
mx_mount "$DATA" "$MNT"
[ -s "$MNT/test-wal.db-wal" ] || mx_fail "wal: -wal file gone after the remount"
for mode in wal delete; do
    db=$MNT/test-$mode.db
    [ "$(sqlite3 "$db" 'PRAGMA journal_mode;')" = "$mode" ] || mx_fail "$mode: journal mode lost after remount"
    s=$(summary "$db")
    [ "$s" = "${SUM[$mode]}" ] || mx_fail "$mode: after remount got [$s], expected [${SUM[$mode]}]"
    mx_ok "$mode: identical after remount (integrity_check ok, $(printf '%s\n' "$s" | sed -n 2p))"
done
[ ! -e "$MNT/test-delete.db-journal" ] || mx_fail "rollback journal left behind"
mx_umount "$MNT"
mx_fsck "$DATA"
