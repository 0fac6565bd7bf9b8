#!/usr/bin/env bash
# t_git_clone: a repository of a few hundred files and commits, made outside
# the mount, cloned into it twice (file:// through the pack protocol, and a
# plain local clone that copies the object files); git fsck --full, git log
# and the checked-out tree must equal the source, also after a remount.
. "$(dirname "$0")/lib_extra.sh"
mx_begin "git clone into lsmerfs, fsck, compare log and tree with the source"
mx_need git
mx_seed

DATA=$MX_TMP/data
MNT=$MX_TMP/mnt
SRC=$MX_TMP/src
NFILES=${NFILES:-400}
NCOMMITS=${NCOMMITS:-200}
export HOME=$MX_TMP/home GIT_CONFIG_NOSYSTEM=1
mkdir -p "$HOME"
git config --global user.name "lsmer test"
git config --global user.email "test@lsmer.invalid"
git config --global init.defaultBranch main

# The source: NFILES files over 20 directories, then NCOMMITS commits that
# each change, add, delete or rename a few files. All commits are made with
# fast-import so that building the source takes a second, not a minute.
mx_log "building source repository: $NFILES files, $NCOMMITS commits"
mkdir -p "$SRC"
git -C "$SRC" init -q
mx_py - "$SRC" "$NFILES" "$NCOMMITS" "$MX_SEED" <<'EOF' | git -C "$SRC" fast-import --quiet
import random, sys
src, nfiles, ncommits, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
out = sys.stdout.buffer
files = {}
def content():
    kind = rng.random()
    if kind < 0.05:
        return rng.randbytes(rng.randint(70000, 200000))  # several fs blocks
    if kind < 0.15:
        return rng.randbytes(rng.randint(0, 3000))
    lines = ["line %d %d" % (i, rng.randint(0, 1 << 30)) for i in range(rng.randint(0, 200))]
    return ("\n".join(lines) + "\n").encode()
def blob(mark, data):
    out.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)) + data + b"\n")
mark = 1
t = 1700000000
for c in range(ncommits):
    ops = []
    if c == 0:
        for i in range(nfiles):
            path = "d%02d/f%04d.txt" % (i % 20, i)
            files[path] = True
            ops.append(("M", path))
    else:
        touched = set()  # one change per path and commit: no dangling blobs
        for _ in range(rng.randint(1, 6)):
            r = rng.random()
            names = sorted(set(files) - touched)
            if r < 0.5 and names:
                p = rng.choice(names)
                touched.add(p)
                ops.append(("M", p))
            elif r < 0.7:
                path = "d%02d/new%05d.txt" % (rng.randint(0, 25), mark)
                files[path] = True
                touched.add(path)
                ops.append(("M", path))
            elif r < 0.85 and len(names) > 1:
                p = rng.choice(names)
                del files[p]
                touched.add(p)
                ops.append(("D", p))
            elif names:
                p = rng.choice(names)
                q = "moved/%s-%d" % (p.replace("/", "_"), mark)
                del files[p]
                files[q] = True
                touched.update((p, q))
                ops.append(("R", p, q))
    lines = []
    for op in ops:
        if op[0] == "M":
            blob(mark, content())
            mode = b"100755" if rng.random() < 0.05 else b"100644"
            lines.append(b"M %s :%d %s\n" % (mode, mark, op[1].encode()))
            mark += 1
        elif op[0] == "D":
            lines.append(b"D %s\n" % op[1].encode())
        else:
            lines.append(b"R %s %s\n" % (op[1].encode(), op[2].encode()))
    msg = b"commit %d\n" % c
    t += 60
    out.write(b"commit refs/heads/main\nmark :%d\n" % mark)
    mark += 1
    out.write(b"author T <t@lsmer.invalid> %d +0000\ncommitter T <t@lsmer.invalid> %d +0000\n" % (t, t))
    out.write(b"data %d\n%s" % (len(msg), msg))
    out.write(b"".join(lines) + b"\n")
EOF
git -C "$SRC" checkout -q main
git -C "$SRC" fsck --full --strict 2>/dev/null || mx_fail "source repository is broken (test bug)"
SRC_LOG=$(git -C "$SRC" log --format='%H %T %s')
SRC_N=$(git -C "$SRC" ls-files | wc -l)
mx_log "source: $SRC_N files, $(printf '%s\n' "$SRC_LOG" | wc -l) commits"

tree_sums() {
    (cd "$1" && find . -path ./.git -prune -o \( -type f -o -type l \) -print0 | sort -z |
        xargs -0 stat -c '%n %A %s' && find . -path ./.git -prune -o -type f -print0 |
        sort -z | xargs -0 sha256sum)
}
SRC_TREE=$(tree_sums "$SRC")

check_clone() {
    local d=$1 what=$2
    git -C "$d" fsck --full --strict 2>&1 || mx_fail "$what: git fsck --full failed"
    [ "$(git -C "$d" log --format='%H %T %s')" = "$SRC_LOG" ] || mx_fail "$what: git log differs from the source"
    [ -z "$(git -C "$d" status --porcelain)" ] || mx_fail "$what: git status not clean: $(git -C "$d" status --porcelain | head)"
    if [ "$(tree_sums "$d")" != "$SRC_TREE" ]; then
        diff <(printf '%s\n' "$SRC_TREE") <(tree_sums "$d") | head -20 >&2
        mx_fail "$what: checked-out tree differs from the source"
    fi
    mx_ok "$what: fsck clean, log and tree equal to the source"
}

mx_mount "$DATA" "$MNT"
git clone -q "file://$SRC" "$MNT/pack-clone"
check_clone "$MNT/pack-clone" "file:// clone"
git clone -q --no-hardlinks "$SRC" "$MNT/local-clone"
check_clone "$MNT/local-clone" "local clone"

# A new commit in the clone and a fetch back into the source must agree.
(cd "$MNT/pack-clone" && git rm -q -r d03 && git commit -q -m "drop d03" && git repack -q -a -d)
git -C "$MNT/pack-clone" fsck --full --strict 2>&1 || mx_fail "fsck after commit + repack in the clone"
git -C "$SRC" fetch -q "$MNT/pack-clone" main:fromclone
[ "$(git -C "$SRC" rev-parse fromclone)" = "$(git -C "$MNT/pack-clone" rev-parse HEAD)" ] ||
    mx_fail "fetch from the clone gave a different commit"
git -C "$MNT/pack-clone" reset -q --hard HEAD~1
mx_ok "commit, repack and fetch back from the clone"

mx_umount "$MNT"
mx_mount "$DATA" "$MNT"
check_clone "$MNT/pack-clone" "file:// clone after remount"
check_clone "$MNT/local-clone" "local clone after remount"
mx_umount "$MNT"
mx_fsck "$DATA"
