#!/usr/bin/env bash
# t_fsck: `lsmer fsck` and `lsmer fsck --repair` as a user runs them. A store
# written through a mount checks clean (exit 0); a file unlinked while open
# when the daemon is killed is an INFO orphan (exit 0), which --repair frees
# (exit 1, "fixed") after which a check prints nothing but the summary;
# --repair on a mounted store is refused (exit 8) and on a store with a
# damaged table repairs nothing (exit 4, "left"), and the table is not
# touched. Link-count, entry, lost-inode and block damage is planted and
# repaired key by key in unit/test_fs_check.c.
NAME=t_fsck
. "$(dirname "$0")/lib_admin.sh"

run "$LSMER" fsck --help
expect_rc 0 "fsck --help"
has out "-y, --repair" "repair documented"
has out "lost\+found" "lost+found documented"
lacks out "not implemented" "no 'not implemented'"
has out "^  1  errors were found and corrected" "exit 1 documented"

can_mount || { echo "skip: needs LSMERFS and /dev/fuse"; exit 77; }

D=$TMP/data
M=$TMP/mnt
make_fs "$D" || { echo "FAIL cannot mount"; exit 1; }
run "$LSMER" fsck "$D"
expect_rc 0 "a clean store"
has out " 0 errors, 0 infos$" "summary: no errors"

# an orphan: unlinked while open, then the daemon dies
mkdir -p "$M"
MOUNTS+=("$M")
"$LSMERFS" -f "$D" "$M" &
daemon=$!
for _ in $(seq 1 100); do mountpoint -q "$M" && break; sleep 0.05; done
mountpoint -q "$M" || { echo "FAIL mount did not appear"; exit 1; }
head -c 200000 /dev/urandom >"$M/doomed"
exec 7<"$M/doomed"
rm "$M/doomed"
sync -f "$M/docs" 2>/dev/null || true
kill -9 $daemon
wait $daemon 2>/dev/null
exec 7<&-
fusermount3 -uz "$M" 2>/dev/null

run "$LSMER" fsck "$D"
expect_rc 0 "an orphan is not an error"
has out "^INFO orphan: inode [0-9]+ was unlinked while open" "reported as INFO"
run "$LSMER" fsck --repair "$D"
expect_rc 1 "--repair frees the orphan"
has out "^  -> fixed: freed it now" "says what it did"
has out "repair: 1 problem fixed" "repair summary"
run "$LSMER" fsck "$D"
expect_rc 0 "clean after the repair"
lacks out "^(INFO|ERROR)" "nothing left"
run "$LSMER" fsck -y "$D"
expect_rc 0 "a second repair has nothing to do"
has out "repair: 0 problems fixed" "nothing fixed"

# mounted: refused
mount_fs "$D" "$M" || exit 1
run "$LSMER" fsck -y "$D"
expect_rc 8 "--repair of a mounted store"
has err "unmount first" "says to unmount"
umount_fs "$M"

# a damaged table: nothing is repaired, nothing is written
run "$LSMER" compact "$D"
expect_rc 0 "compact into a table"
SST=$(ls "$D"/*.sst | head -1)
flip_bit "$SST" 100
sum=$(md5sum <"$SST")
files=$(ls "$D" | sort | tr '\n' ' ')
run "$LSMER" fsck -y "$D"
expect_rc 4 "--repair of a store with a damaged table"
has out "^  -> left: not repaired: an engine file is damaged; run 'lsmer scrub" "points to scrub"
lacks out "-> fixed" "fixed nothing"
has out "repair: 0 problems fixed" "summary: nothing fixed"
[ "$(md5sum <"$SST")" = "$sum" ] && ok "the table is unchanged" || bad "the table was changed"
[ "$(ls "$D" | sort | tr '\n' ' ')" = "$files" ] && ok "no file was added or removed" ||
    bad "files changed: $(ls "$D")"

finish
