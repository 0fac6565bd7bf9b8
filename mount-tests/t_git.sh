#!/usr/bin/env bash
# t_git: a git repository made and used inside the mount — init, add,
# commit, status, log, branch switch, gc (packs and renames), fsck — and the
# same repository intact after a remount.
. "$(dirname "$0")/lib_extra.sh"
mx_begin "git init/add/commit/status/log/gc inside lsmerfs"
mx_need git
mx_seed

DATA=$MX_TMP/data
MNT=$MX_TMP/mnt
export HOME=$MX_TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" \
    GIT_COMMITTER_DATE="2024-01-01T00:00:00Z"
mkdir -p "$HOME"
mx_mount "$DATA" "$MNT"

R=$MNT/repo
mkdir "$R"
cd "$R"
git init -q -b main .
git config user.name "lsmer test"
git config user.email "test@lsmer.invalid"
mx_ok "git init"

# A tree with subdirectories, an executable, a symlink, a binary file and a
# file larger than one 64 KiB block.
mkdir -p src/sub docs
for i in $(seq 1 40); do
    printf 'file %d seed %d\n' "$i" "$MX_SEED" >"src/f$i.txt"
done
printf '#!/bin/sh\necho hi\n' >src/run.sh
chmod 755 src/run.sh
ln -s ../src/f1.txt docs/link
head -c 300000 /dev/urandom >src/sub/blob.bin
echo "# readme" >README.md
git add -A
git commit -q -m "first"
mx_ok "git add + commit"

[ -z "$(git status --porcelain)" ] || mx_fail "git status not clean after commit: $(git status --porcelain)"
mx_ok "git status clean"

# Second commit: modify, delete, rename.
echo "changed" >>src/f2.txt
git rm -q src/f3.txt
git mv src/f4.txt src/sub/f4-moved.txt
git commit -q -am "second"
[ "$(git log --oneline | wc -l)" -eq 2 ] || mx_fail "git log: expected 2 commits, got: $(git log --oneline)"
[ "$(git log -1 --format=%s)" = second ] || mx_fail "git log: last subject is not 'second'"
mx_ok "git log shows 2 commits"

# Branches: switch back and forth rewrites the working tree.
git checkout -q -b side HEAD~1
[ -f src/f3.txt ] && [ -f src/f4.txt ] || mx_fail "checkout HEAD~1 did not restore f3/f4"
echo side >side.txt
git add side.txt
git commit -q -m side
git checkout -q main
[ ! -e side.txt ] || mx_fail "side.txt present on main"
git merge -q --no-edit side
[ -f side.txt ] || mx_fail "merge did not bring side.txt"
mx_ok "branch, checkout, merge"

[ -z "$(git status --porcelain)" ] || mx_fail "git status not clean: $(git status --porcelain)"
git fsck --full --strict 2>&1 || mx_fail "git fsck failed"
git gc -q --prune=now
git fsck --full --strict 2>&1 || mx_fail "git fsck after gc failed"
[ -n "$(ls .git/objects/pack/*.pack 2>/dev/null)" ] || mx_fail "gc left no pack"
mx_ok "git fsck before and after gc"

HEAD_BEFORE=$(git rev-parse HEAD)
LOG_BEFORE=$(git log --format='%H %T %s')
TREE_SUM=$(find . -path ./.git -prune -o -type f -print0 | sort -z | xargs -0 sha256sum)
cd /
mx_umount "$MNT"
mx_mount "$DATA" "$MNT"
cd "$R"
[ "$(git rev-parse HEAD)" = "$HEAD_BEFORE" ] || mx_fail "HEAD changed across remount"
[ "$(git log --format='%H %T %s')" = "$LOG_BEFORE" ] || mx_fail "git log changed across remount"
[ "$(find . -path ./.git -prune -o -type f -print0 | sort -z | xargs -0 sha256sum)" = "$TREE_SUM" ] ||
    mx_fail "working tree changed across remount"
[ -z "$(git status --porcelain)" ] || mx_fail "git status not clean after remount: $(git status --porcelain)"
git fsck --full --strict 2>&1 || mx_fail "git fsck after remount failed"
[ "$(readlink docs/link)" = "../src/f1.txt" ] || mx_fail "symlink target changed"
[ -x src/run.sh ] || mx_fail "executable bit lost"
mx_ok "repository identical and clean after remount"
cd /
mx_umount "$MNT"
mx_fsck "$DATA"
