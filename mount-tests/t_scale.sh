#!/usr/bin/env bash
# t_scale: the scale lsmerfs promises, through a real mount.
#
# 1. A directory with ENTRIES entries (default 1,000,000; 100,000 when
#    LSMER_SCALE=small, which scripts/test-all.sh sets for the sanitizer
#    pass, and the default when the daemon links a sanitizer): created with mknod(2) from python, then after a remount
#    `ls -f | wc -l` and os.scandir count them and see exactly the names
#    created, a random sample is stat'ed, every entry is removed, and the
#    directory lists empty (also after a remount) and can be removed.
# 2. A file larger than 4 GiB: random data at its start, across the 4 GiB
#    boundary and past it, holes between; size and the regions' checksums
#    (and one read straddling 4 GiB, and a hole reading as zeros) before and
#    after a remount.
# 3. A tree 1000 directories deep (names of 10 bytes, so paths pass
#    PATH_MAX) made with relative mkdir/chdir, walked with find (also after
#    a remount), its bottom file read with -execdir, removed with rm -rf.
#
# Each part prints how long it took. ENTRIES=n and DEPTH=n override.
. "$(dirname "$0")/lib_extra.sh"
mx_begin "scale: a million directory entries, a file past 4 GiB, a tree 1000 deep"
mx_seed
mx_need find rm ls

# A sanitizer build (libasan/libtsan linked in) is small unless told otherwise.
if [ -z "${LSMER_SCALE:-}" ] && ldd "$LSMERFS" 2>/dev/null | grep -Eq 'lib(a|t)san'; then
    LSMER_SCALE=small
fi
if [ "${LSMER_SCALE:-}" = small ]; then
    ENTRIES=${ENTRIES:-100000}
else
    ENTRIES=${ENTRIES:-1000000}
fi
DEPTH=${DEPTH:-1000}
DATA=$MX_TMP/data
MNT=$MX_TMP/mnt
mx_log "ENTRIES=$ENTRIES DEPTH=$DEPTH${LSMER_SCALE:+ LSMER_SCALE=$LSMER_SCALE}"

HELPER=$MX_TMP/scale.py
cat >"$HELPER" <<'EOF'
# scale.py create DIR N | names DIR N | stat DIR N SEED | remove DIR N
#        | bigwrite FILE SEED | bigcheck FILE SEED
import hashlib, os, random, stat, sys

def name(i):
    return "entry-%07d" % i

def create(d, n):
    for i in range(n):
        os.mknod(os.path.join(d, name(i)), 0o644 | stat.S_IFREG)

def names(d, n):
    count = 0
    seen = set()
    with os.scandir(d) as it:
        for e in it:
            count += 1
            seen.add(e.name)
    want = {name(i) for i in range(n)}
    if count != n or seen != want:
        sys.exit("FAIL: scandir gave %d entries (%d distinct), expected %d; missing %s, extra %s"
                 % (count, len(seen), n, sorted(want - seen)[:5], sorted(seen - want)[:5]))
    print("scandir: %d entries, exactly the names created" % count)

def stat_sample(d, n, seed):
    rng = random.Random(seed)
    for i in rng.sample(range(n), min(n, 2000)):
        st = os.stat(os.path.join(d, name(i)))
        if not stat.S_ISREG(st.st_mode) or st.st_size != 0 or st.st_nlink != 1:
            sys.exit("FAIL: %s: mode %o size %d nlink %d" % (name(i), st.st_mode, st.st_size,
                                                          st.st_nlink))
    for i in (n, n + 1, 10 * n):
        try:
            os.stat(os.path.join(d, name(i)))
            sys.exit("FAIL: %s exists" % name(i))
        except FileNotFoundError:
            pass
    print("stat: %d sampled entries right, absent names absent" % min(n, 2000))

def deep(d, depth):
    os.mkdir(d)
    os.chdir(d)
    for i in range(1, depth + 1):
        os.mkdir("lvl-%06d" % i)
        os.chdir("lvl-%06d" % i)
    with open("bottom.txt", "w") as f:
        f.write("at the bottom\n")

def remove(d, n):
    for i in range(n):
        os.unlink(os.path.join(d, name(i)))

G = 1 << 30
MB = 1 << 20
# (offset, length) of the regions with data; the file ends where the last does
REGIONS = ((0, 8 * MB + 1), (4 * G - 5 * MB - 3, 10 * MB + 7), (5 * G + 17, 8 * MB + 12345))
SIZE = REGIONS[-1][0] + REGIONS[-1][1]

def region_data(seed, k):
    return random.Random("%s/%d" % (seed, k)).randbytes(REGIONS[k][1])

def bigwrite(path, seed):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    for k, (off, n) in enumerate(REGIONS):
        data = region_data(seed, k)
        pos = 0
        while pos < n:
            pos += os.pwrite(fd, data[pos:pos + MB], off + pos)
    os.fsync(fd)
    os.close(fd)

def bigcheck(path, seed):
    st = os.stat(path)
    if st.st_size != SIZE:
        sys.exit("FAIL: %s is %d bytes, expected %d" % (path, st.st_size, SIZE))
    fd = os.open(path, os.O_RDONLY)
    for k, (off, n) in enumerate(REGIONS):
        h = hashlib.sha256()
        pos = 0
        while pos < n:
            chunk = os.pread(fd, min(MB, n - pos), off + pos)
            if not chunk:
                sys.exit("FAIL: region %d: EOF at %d" % (k, off + pos))
            h.update(chunk)
            pos += len(chunk)
        want = hashlib.sha256(region_data(seed, k)).hexdigest()
        if h.hexdigest() != want:
            sys.exit("FAIL: region %d [%d, +%d): sha256 %s, expected %s"
                     % (k, off, n, h.hexdigest(), want))
        print("region %d [%d, +%d): sha256 %s..." % (k, off, n, want[:16]))
    # one read across 4 GiB, a hole in the middle, the end
    k, (off, n) = 1, REGIONS[1]
    got = os.pread(fd, 4096, 4 * G - 2048)
    if got != region_data(seed, 1)[4 * G - 2048 - off:4 * G + 2048 - off]:
        sys.exit("FAIL: a read straddling 4 GiB differs")
    if os.pread(fd, MB, 2 * G) != bytes(MB) or os.pread(fd, MB, 4 * G + 100 * MB) != bytes(MB):
        sys.exit("FAIL: a hole does not read as zeros")
    if os.pread(fd, 100, SIZE) != b"" or len(os.pread(fd, 100, SIZE - 10)) != 10:
        sys.exit("FAIL: reads at the end of the file")
    os.close(fd)
    print("size %d; a read across 4 GiB, holes and the end are right" % SIZE)

cmd, a = sys.argv[1], sys.argv[2:]
if cmd == "create":
    create(a[0], int(a[1]))
elif cmd == "names":
    names(a[0], int(a[1]))
elif cmd == "stat":
    stat_sample(a[0], int(a[1]), a[2])
elif cmd == "deep":
    deep(a[0], int(a[1]))
elif cmd == "remove":
    remove(a[0], int(a[1]))
elif cmd == "bigwrite":
    bigwrite(a[0], a[1])
elif cmd == "bigcheck":
    bigcheck(a[0], a[1])
EOF

remount() {
    mx_umount "$MNT"
    mx_mount "$DATA" "$MNT"
}

# Runs a command and logs how long it took: timed LABEL CMD... (returns
# the command's status).
timed() {
    local label=$1 t0 ms rc=0
    shift
    t0=$(date +%s%N)
    "$@" || rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    mx_log "$(printf 'time: %-40s %5d.%01d s' "$label" $((ms / 1000)) $((ms % 1000 / 100)))"
    return "$rc"
}

mx_mount "$DATA" "$MNT"
T_ALL=$SECONDS

# ---- 1. a directory with ENTRIES entries --------------------------------
T1=$SECONDS
mkdir "$MNT/big"
timed "create $ENTRIES entries (mknod)" mx_py "$HELPER" create "$MNT/big" "$ENTRIES"
timed "remount" remount
n=0
timed "ls -f | wc -l" eval 'n=$(ls -f "$MNT/big" | wc -l)'
check_eq "ls -f lists $ENTRIES entries plus . and .." "$((ENTRIES + 2))" "$n"
timed "os.scandir (names compared)" mx_py "$HELPER" names "$MNT/big" "$ENTRIES" ||
    mx_fail "scandir of $ENTRIES entries"
timed "stat a sample of 2000" mx_py "$HELPER" stat "$MNT/big" "$ENTRIES" "$MX_SEED" ||
    mx_fail "stat sample"
check_eq "the directory's link count" 2 "$(stat -c %h "$MNT/big")"
timed "remove $ENTRIES entries (unlink)" mx_py "$HELPER" remove "$MNT/big" "$ENTRIES"
check_eq "empty after removing every entry (ls -f)" 2 "$(ls -f "$MNT/big" | wc -l)"
timed "remount" remount
check_eq "still empty after a remount" "" "$(ls -A "$MNT/big")"
rmdir "$MNT/big"
mx_ok "1. $ENTRIES entries created, listed, stat'ed and removed ($((SECONDS - T1)) s)"

# ---- 2. a file past 4 GiB -----------------------------------------------
T2=$SECONDS
timed "write 3 regions of a 5 GiB file" mx_py "$HELPER" bigwrite "$MNT/huge" "$MX_SEED"
timed "check size and regions" mx_py "$HELPER" bigcheck "$MNT/huge" "$MX_SEED" ||
    mx_fail "the >4 GiB file before the remount"
timed "remount" remount
timed "check again after the remount" mx_py "$HELPER" bigcheck "$MNT/huge" "$MX_SEED" ||
    mx_fail "the >4 GiB file after the remount"
check_eq "stat shows the size" $((5 * 1024 ** 3 + 17 + 8 * 1024 ** 2 + 12345)) "$(stat -c %s "$MNT/huge")"
rm "$MNT/huge"
mx_ok "2. a 5 GiB file: data at 0, across 4 GiB and past it, intact across a remount ($((SECONDS - T2)) s)"

# ---- 3. a tree DEPTH deep -------------------------------------------------
T3=$SECONDS
# From python: bash's cd asks getcwd(3) for the new directory, and past
# PATH_MAX glibc finds it by reading every parent (O(depth^2) directory
# reads, 430,000 for 1000 levels), which measures bash, not lsmerfs.
deep_make() {
    mx_py "$HELPER" deep "$MNT/deep" "$DEPTH"
}
deep_walk() {
    local what=$1 dirs files depth bottom
    dirs=$(find "$MNT/deep" -mindepth 1 -type d | wc -l)
    files=$(find "$MNT/deep" -type f | wc -l)
    depth=$(find "$MNT/deep" -mindepth "$DEPTH" -type d | wc -l)
    bottom=$(find "$MNT/deep" -name bottom.txt -execdir cat {} \;)
    check_eq "$what: find sees $DEPTH directories" "$DEPTH" "$dirs"
    check_eq "$what: find sees 1 file" 1 "$files"
    check_eq "$what: one directory at depth $DEPTH" 1 "$depth"
    check_eq "$what: the bottom file reads back (find -execdir)" "at the bottom" "$bottom"
}
timed "mkdir/chdir $DEPTH levels" deep_make
timed "walk with find" deep_walk "$DEPTH deep"
timed "remount" remount
timed "walk with find after the remount" deep_walk "after remount"
timed "rm -rf" rm -rf "$MNT/deep"
check_eq "rm -rf removed the whole tree" "" "$(ls -A "$MNT")"
mx_ok "3. a tree $DEPTH deep: made, walked, removed ($((SECONDS - T3)) s)"

mx_umount "$MNT"
mx_fsck "$DATA"
mx_log "all parts: $((SECONDS - T_ALL)) s"
[ "$LSM_FAILS" -eq 0 ] || mx_fail "$LSM_FAILS check(s) failed"
