#!/usr/bin/env bash
# t_dump: `lsmer dump` prints what is really stored. Files made through a
# mount show up in `dump DATA_DIR` as an inode (type, size, nlink, inline
# data) plus a dentry with their name; --prefix/--start/--end restrict;
# --raw prints hex; `dump --wal` lists the puts that were written; after a
# compaction `dump --sst --keys` shows the index and exactly the keys the
# database holds; `dump --manifest` lists that table; damage is exit 4.
NAME=t_dump
. "$(dirname "$0")/lib_admin.sh"

run "$LSMER" dump --help
expect_rc 0 "dump --help"
has out "Usage: lsmer dump" "usage text"
has out "Exit status" "exit codes documented"
run "$LSMER" dump
expect_rc 2 "no argument"
run "$LSMER" dump --sst "$TMP/nope.sst"
expect_rc 1 "a missing file"
has err "nope.sst" "names the file"

can_mount || { echo "skip: needs LSMERFS and /dev/fuse"; exit 77; }

D=$TMP/data
M=$TMP/mnt
mount_fs "$D" "$M" || { echo "FAIL cannot mount"; exit 1; }
mkdir "$M/projects"
printf 'the quick brown fox\n' >"$M/projects/notes.txt"
ln "$M/projects/notes.txt" "$M/hardlink"
ln -s projects/notes.txt "$M/sym"
head -c 100000 /dev/urandom >"$M/projects/big.bin"
# dumping a mounted store is refused with a clear reason
run "$LSMER" dump "$D"
expect_rc 1 "dump of a mounted DATA_DIR"
has err "unmount" "says to unmount"
umount_fs "$M"

LOG=$(for f in "$D"/*.log; do [ -s "$f" ] && echo "$f"; done | head -1)
[ -n "$LOG" ] || { echo "FAIL no WAL in $D"; ls -l "$D"; exit 1; }
run "$LSMER" dump --wal "$LOG"
expect_rc 0 "dump --wal"
has out "^record 1 at offset 0, [0-9]+ bytes: batch seq [0-9]+" "records with offsets and sequences"
has out '^  put +d:1/"projects" = ' "the mkdir's entry put"
has out '^  put +d:[0-9]+/"notes.txt" = ' "the create's entry put"
has out '^  put +b:[0-9]+/0 = ' "a data block put"
has out '^  put +S = "LSMERFS1' "the superblock put"

run "$LSMER" dump "$D"
expect_rc 0 "dump DATA_DIR"
cp "$TMP/out" "$TMP/full"
PROJ=$(sed -n 's|^dentry   1/"projects" -> \([0-9]*\) (dir)$|\1|p' "$TMP/full")
NOTES=$(sed -n "s|^dentry   $PROJ/\"notes.txt\" -> \\([0-9]*\\) (file)\$|\\1|p" "$TMP/full")
[ -n "$PROJ" ] && ok "the directory's dentry: /projects -> $PROJ" || bad "no dentry of /projects"
[ -n "$NOTES" ] && ok "the file's dentry: projects/notes.txt -> $NOTES" || bad "no dentry of notes.txt"
has full "^dentry   1/\"hardlink\" -> $NOTES \(file\)$" "the hard link names the same inode"
has full "^inode    $NOTES file mode 644 .* nlink 2 size 20 flags inline .* data \"the quick brown fox\\\\x0a\"$" \
    "the file's inode: type, nlink, size, inline data"
has full "^inode    $PROJ dir mode 755 .* nlink 2 .* parent 1 " "the directory's inode"
has full '^inode    [0-9]+ symlink .* target "projects/notes.txt"$' "the symlink's target"
BS=$(sed -n 's/^super    format 1, block size \([0-9]*\),.*/\1/p' "$TMP/full")
[ -n "$BS" ] && ok "the superblock: block size $BS" || bad "no superblock line"
LAST=$(((100000 - 1) / ${BS:-1}))
has full "^block    [0-9]+/$LAST $((100000 - LAST * ${BS:-1})) bytes\$" \
    "the big file's last block and its length"
has full '^[0-9]+ keys$' "a key count"

run "$LSMER" dump --prefix i "$D"
expect_rc 0 "dump --prefix i"
has out "^inode    $NOTES " "inodes listed"
lacks out "^(dentry|block|super)" "only inodes"
run "$LSMER" dump --start 'd\x00\x00\x00\x00\x00\x00\x00\x01' --end 'd\x00\x00\x00\x00\x00\x00\x00\x02' "$D"
expect_rc 0 "dump --start/--end (the root's entries)"
has out '^dentry   1/"projects"' "root entries listed"
lacks out "^dentry   $PROJ/" "no entries of other directories"
lacks out "^inode" "no inodes"
run "$LSMER" dump --raw --prefix S "$D"
expect_rc 0 "dump --raw"
has out '^53 = 4c534d45524653310100' "hex key and value"

# one table holding everything: the sst dump shows the same keys
run "$LSMER" compact "$D"
expect_rc 0 "compact"
SST=$(ls "$D"/*.sst | head -1)
run "$LSMER" dump --sst "$SST"
expect_rc 0 "dump --sst"
has out "^footer at [0-9]+:" "the footer"
has out "^properties block at" "the properties"
has out "^  lsmer.entries +[0-9]+" "entry count property"
has out "^filter block at [0-9]+: bloom, [0-9]+ bits" "filter statistics"
has out "^index block at [0-9]+" "the index"
has out "^  b:[0-9]+/[0-9]+ @[0-9]+ put -> block at 0, [0-9]+ bytes$" "index entries with handles"
has out "^data 0 block at 0, " "data blocks"
run "$LSMER" dump --sst "$SST" --keys --raw
expect_rc 0 "dump --sst --keys --raw"
sed -n 's/^    \([0-9a-f]*\) @[0-9]* put = .*/\1/p' "$TMP/out" | sort -u >"$TMP/sst_keys"
run "$LSMER" dump --raw "$D"
sed -n 's/^\([0-9a-f]*\) = .*/\1/p' "$TMP/out" | sort >"$TMP/db_keys"
if [ -s "$TMP/db_keys" ] && cmp -s "$TMP/sst_keys" "$TMP/db_keys"; then
    ok "the table holds exactly the database's $(wc -l <"$TMP/db_keys") keys"
else
    bad "keys of the sst dump differ from the database's"
    diff "$TMP/sst_keys" "$TMP/db_keys" | head
fi
run "$LSMER" dump --manifest "$(ls "$D"/MANIFEST-* | head -1)"
expect_rc 0 "dump --manifest"
has out "^edit 1 at offset 0, [0-9]+ bytes: format 1" "edits with offsets"
has out "^  add_file +L[0-9] $(basename "$SST") [0-9]+ bytes" "the table is listed"
has out "^  next_file +[0-9]+" "counters"

# damage: exit 4 with a DAMAGE line naming the file
cp "$SST" "$TMP/000099.sst"
flip_bit "$TMP/000099.sst" 50
run "$LSMER" dump --sst "$TMP/000099.sst"
expect_rc 4 "dump of a damaged table"
has out "^DAMAGE $TMP/000099.sst: data 0 block: block at offset 0 .*checksum" "names the block"

finish
