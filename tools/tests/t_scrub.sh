#!/usr/bin/env bash
# t_scrub: `lsmer scrub` reads back every table block, the manifest and the
# WAL. A store written through a real mount scrubs clean; one flipped bit in
# a table data block, in a table's index block or in a WAL record is
# reported as DAMAGE naming that file, with exit 4; scrubbing the mount
# point of a running lsmerfs works live (while files are being written) and
# finds damage there too; a directory that is no database is exit 8.
NAME=t_scrub
. "$(dirname "$0")/lib_admin.sh"

run "$LSMER" scrub --help
expect_rc 0 "scrub --help"
has out "Usage: lsmer scrub" "usage text"
has out "Exit status" "exit codes documented"

mkdir -p "$TMP/empty"
run "$LSMER" scrub "$TMP/empty"
expect_rc 8 "a directory without a database"
has err "no CURRENT" "says why"
run "$LSMER" scrub "$TMP/nope"
expect_rc 8 "a missing directory"

can_mount || { echo "skip: needs LSMERFS and /dev/fuse"; exit 77; }

D=$TMP/data
make_fs "$D" || { echo "FAIL cannot mount $LSMERFS"; exit 1; }
run "$LSMER" compact "$D"
expect_rc 0 "compact into a table"
# more writes after the compaction: they stay in the WAL
mount_fs "$D" "$TMP/m1" || exit 1
for i in $(seq 1 20); do echo "record $i" >"$TMP/m1/wal$i"; done
umount_fs "$TMP/m1"

SST=$(ls "$D"/*.sst | head -1)
LOG=$(for f in "$D"/*.log; do [ -s "$f" ] && echo "$f"; done | head -1)
[ -n "$SST" ] && [ -n "$LOG" ] || { echo "FAIL no table or no WAL in $D"; ls -l "$D"; exit 1; }

run "$LSMER" scrub -v "$D"
expect_rc 0 "a clean store"
has out ": clean$" "summary says clean"
has out "^ok .*$(basename "$SST")" "the table was read"
has out "^ok .*$(basename "$LOG"): [1-9][0-9]* records" "the WAL was read"
has out "^ok .*MANIFEST-" "the manifest was read"
lacks out "DAMAGE" "no damage"

# one bit in the first data block
cp -a "$D" "$TMP/d_data"
flip_bit "$TMP/d_data/$(basename "$SST")" 100
run "$LSMER" scrub "$TMP/d_data"
expect_rc 4 "a flipped bit in a data block"
has out "^DAMAGE $TMP/d_data/$(basename "$SST"): data block at offset 0 .*checksum" \
    "names the table, the data block and its offset"
has out "DAMAGE in 1 place" "summary counts it"

# one bit in the index block (its offset is in the footer)
cp -a "$D" "$TMP/d_index"
IDX=$(footer_u64 "$SST" 0)
flip_bit "$TMP/d_index/$(basename "$SST")" $((IDX + 3))
run "$LSMER" scrub "$TMP/d_index"
expect_rc 4 "a flipped bit in the index block"
has out "^DAMAGE $TMP/d_index/$(basename "$SST"): index block at offset $IDX " \
    "names the table and the index block"

# one bit in the first WAL record (records follow it, so it is no torn tail)
cp -a "$D" "$TMP/d_wal"
flip_bit "$TMP/d_wal/$(basename "$LOG")" 20
run "$LSMER" scrub "$TMP/d_wal"
expect_rc 4 "a flipped bit in the WAL"
has out "^DAMAGE $TMP/d_wal/$(basename "$LOG"): .*offset" "names the WAL and the offset"
lacks out "DAMAGE .*\.sst" "the table is not blamed"

# the same damage is found by the engine too (so the test damages real data)
run "$LSMER" stats "$TMP/d_wal"
[ "$RC" != 0 ] && ok "the engine refuses the damaged WAL too" || bad "engine opened the damaged WAL"

# live: scrub the mount point while a writer runs
mount_fs "$D" "$TMP/m2" || exit 1
(for i in $(seq 1 300); do head -c 5000 /dev/urandom >"$TMP/m2/live$i"; done) &
writer=$!
run "$LSMER" scrub "$TMP/m2"
expect_rc 0 "live scrub of a mounted filesystem"
has out "\(live\)" "scrubbed live"
has out ": clean" "clean while written to"
wait $writer
run "$LSMER" scrub -q "$TMP/m2"
expect_rc 0 "live scrub after the writes"
umount_fs "$TMP/m2"
run "$LSMER" scrub "$D"
expect_rc 0 "clean after unmount"

# live, on a mounted store whose table is damaged
mount_fs "$TMP/d_data" "$TMP/m3" || exit 1
run "$LSMER" scrub "$TMP/m3"
expect_rc 4 "live scrub finds the damaged table"
has out "^DAMAGE $TMP/d_data/$(basename "$SST"): data block" "names it"
umount_fs "$TMP/m3"

finish
