#!/usr/bin/env bash
# t_basic.sh — everyday shell tools on a fresh lsmerfs mount: ls, cat, cp -a
# of a real tree and back with identical checksums and metadata, mv, rm -rf,
# hard and symbolic links, chmod, touch -d, truncate, dd, a tar round trip,
# df, xattrs with setfattr/getfattr, find.
source "$(dirname "$0")/lib.sh"
lsm_setup basic
lsm_mount

SRC=/usr/include/linux
[ -d "$SRC" ] || SRC=/usr/include

check "empty mount lists nothing" test -z "$(ls -A "$MNT")"
check "ls -l works on the root" ls -l "$MNT"

echo "hello lsmerfs" >"$MNT/hello"
check_eq "cat reads what echo wrote" "hello lsmerfs" "$(cat "$MNT/hello")"
check_eq "size of a small file" 14 "$(stat -c %s "$MNT/hello")"

# cp -a of a real tree, then back out, compared byte for byte and by metadata
cp -a "$SRC" "$MNT/tree"
check "cp -a into the mount succeeds" test -d "$MNT/tree"
check_eq "checksums after cp -a in" "$(tree_sums "$SRC")" "$(tree_sums "$MNT/tree")"
check_eq "names, types, modes, mtimes after cp -a in" "$(tree_manifest "$SRC")" \
  "$(tree_manifest "$MNT/tree")"
cp -a "$MNT/tree" "$T/back"
check_eq "checksums after cp -a back out" "$(tree_sums "$SRC")" "$(tree_sums "$T/back")"
check_eq "metadata after cp -a back out" "$(tree_manifest "$SRC")" "$(tree_manifest "$T/back")"
check_eq "find counts the same entries" "$(find "$SRC" | wc -l)" "$(find "$MNT/tree" | wc -l)"
check_eq "find -name works" "$(cd "$SRC" && find . -name '*.h' | LC_ALL=C sort | head -50)" \
  "$(cd "$MNT/tree" && find . -name '*.h' | LC_ALL=C sort | head -50)"

# mv: a file, a directory across directories, over an existing file
mkdir -p "$MNT/a/b" "$MNT/c"
echo one >"$MNT/a/b/f"
mv "$MNT/a/b/f" "$MNT/c/g"
check "mv moves a file" test -f "$MNT/c/g" -a ! -e "$MNT/a/b/f"
mv "$MNT/a" "$MNT/c/"
check "mv moves a directory" test -d "$MNT/c/a/b" -a ! -e "$MNT/a"
check_eq "directory link count after mv" 3 "$(stat -c %h "$MNT/c")"
echo two >"$MNT/c/h"
mv -f "$MNT/c/h" "$MNT/c/g"
check_eq "mv over an existing file replaces it" two "$(cat "$MNT/c/g")"
check "mv a directory into itself fails" bash -c "! mv '$MNT/c' '$MNT/c/a/b/' 2>/dev/null"

# links
ln "$MNT/c/g" "$MNT/hard"
check_eq "hard link shares the inode" "$(stat -c %i "$MNT/c/g")" "$(stat -c %i "$MNT/hard")"
check_eq "hard link count" 2 "$(stat -c %h "$MNT/hard")"
ln -s c/g "$MNT/soft"
check_eq "readlink" c/g "$(readlink "$MNT/soft")"
check_eq "cat through a symlink" two "$(cat "$MNT/soft")"
ln -s /nonexistent "$MNT/dangling"
check "dangling symlink exists as a link" test -L "$MNT/dangling" -a ! -e "$MNT/dangling"

# chmod, touch -d, truncate
chmod 640 "$MNT/hello"
check_eq "chmod" 640 "$(stat -c %a "$MNT/hello")"
chmod u+s,g+s "$MNT/hello"
check_eq "chmod setuid/setgid" 6640 "$(stat -c %a "$MNT/hello")"
touch -d '2001-02-03 04:05:06' "$MNT/hello"
check_eq "touch -d sets mtime" "2001-02-03 04:05:06" "$(date -d "@$(stat -c %Y "$MNT/hello")" '+%F %T')"
touch -a -d '1999-12-31 23:59:59' "$MNT/hello"
check_eq "touch -a sets atime only" "1999-12-31 23:59:59 2001-02-03 04:05:06" \
  "$(date -d "@$(stat -c %X "$MNT/hello")" '+%F %T') $(date -d "@$(stat -c %Y "$MNT/hello")" '+%F %T')"
truncate -s 100000 "$MNT/hello"
check_eq "truncate -s up" 100000 "$(stat -c %s "$MNT/hello")"
check_eq "grown part reads as zeros" "$( (printf 'hello lsmerfs\n'; head -c 99986 /dev/zero) | sha256sum)" \
  "$(sha256sum <"$MNT/hello")"
truncate -s 5 "$MNT/hello"
check_eq "truncate -s down" hello "$(cat "$MNT/hello")"

# dd: large sequential writes, a write at an offset, a sparse file
dd if=/dev/urandom of="$T/rand" bs=1M count=24 status=none
dd if="$T/rand" of="$MNT/rand" bs=1M status=none
check_eq "dd 24 MiB in, same checksum" "$(sha256sum <"$T/rand")" "$(sha256sum <"$MNT/rand")"
dd if=/dev/zero of="$MNT/rand" bs=4k seek=1000 count=3 conv=notrunc status=none
dd if=/dev/zero of="$T/rand" bs=4k seek=1000 count=3 conv=notrunc status=none
check_eq "dd conv=notrunc overwrite in the middle" "$(sha256sum <"$T/rand")" "$(sha256sum <"$MNT/rand")"
dd if=/dev/urandom of="$MNT/sparse" bs=1k count=1 seek=10240 status=none
check_eq "sparse file size" $((10241 * 1024)) "$(stat -c %s "$MNT/sparse")"
check_eq "sparse file hole reads zeros" "$(head -c $((10240 * 1024)) /dev/zero | sha256sum)" \
  "$(head -c $((10240 * 1024)) "$MNT/sparse" | sha256sum)"

# tar round trip
tar -C "$SRC/.." -cf "$T/src.tar" "$(basename "$SRC")"
mkdir "$MNT/untar"
tar -C "$MNT/untar" -xf "$T/src.tar"
check_eq "tar extract into the mount" "$(tree_sums "$SRC")" "$(tree_sums "$MNT/untar/$(basename "$SRC")")"
tar -C "$MNT/untar" -cf "$T/back.tar" "$(basename "$SRC")"
mkdir "$T/untar2"
tar -C "$T/untar2" -xf "$T/back.tar"
check_eq "tar out of the mount" "$(tree_sums "$SRC")" "$(tree_sums "$T/untar2/$(basename "$SRC")")"

# df
check "df shows the mount" df "$MNT"
check "df -i works" df -i "$MNT"
check "df reports free space" test "$(df --output=avail -B1 "$MNT" | tail -1)" -gt 0

# xattrs
setfattr -n user.color -v blue "$MNT/c/g"
check_eq "getfattr reads setfattr" blue "$(getfattr --absolute-names --only-values -n user.color "$MNT/c/g")"
setfattr -n user.empty "$MNT/c/g"
check "getfattr -d lists both" bash -c "getfattr --absolute-names -d '$MNT/c/g' | grep -q user.color && getfattr --absolute-names -d '$MNT/c/g' | grep -q user.empty"
setfattr -x user.color "$MNT/c/g"
check "setfattr -x removes" bash -c "! getfattr --absolute-names -n user.color '$MNT/c/g' 2>/dev/null"
setfattr -n user.dir -v 1 "$MNT/c"
check_eq "xattr on a directory" 1 "$(getfattr --absolute-names --only-values -n user.dir "$MNT/c")"

# special files
mkfifo "$MNT/fifo"
check "mkfifo makes a FIFO" test -p "$MNT/fifo"

# rm -rf everything
rm -rf "$MNT/tree" "$MNT/untar"
check "rm -rf removes the trees" test ! -e "$MNT/tree" -a ! -e "$MNT/untar"
rm -rf "$MNT"/*
check "mount is empty again" test -z "$(ls -A "$MNT")"
check_eq "root link count back to 2" 2 "$(stat -c %h "$MNT")"

lsm_umount
lsm_done
