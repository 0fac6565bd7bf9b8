#!/usr/bin/env bash
# t_config_update: the way applications replace a config file atomically —
# write a temporary file, fsync it, rename it over the old one, fsync the
# directory — 1000 times, while another process keeps reading the file.
# Every read must see one whole version (never a mix, a short file or an
# older version than one read before); at the end no temporary file remains
# and the content is the last version written, also after a remount.
. "$(dirname "$0")/lib_extra.sh"
mx_begin "atomic config update (write tmp, fsync, rename, fsync dir) x1000"
mx_seed

DATA=$MX_TMP/data
MNT=$MX_TMP/mnt
N=${N:-1000}
mx_mount "$DATA" "$MNT"
mkdir "$MNT/etc"
echo "unrelated" >"$MNT/etc/other.conf"

HELPER=$MX_TMP/config_update.py
cat >"$HELPER" <<'EOF'
# config_update.py writer DIR N SEED  |  reader DIR STOPFILE
# A version is "v=<n> len=<payload bytes> sha=<sha256 of payload>\n" + payload.
import hashlib, os, random, sys, time

def payload(seed, v):
    rng = random.Random(seed * 1000003 + v)
    # Sizes around the 2 KiB inline limit and the 64 KiB block size.
    size = rng.choice((0, 17, 2000, 2100, 4096, 65535, 65536, 65537, 150000))
    return rng.randbytes(size)

def version(seed, v):
    p = payload(seed, v)
    return b"v=%d len=%d sha=%s\n" % (v, len(p), hashlib.sha256(p).hexdigest().encode()) + p

def parse(data):
    nl = data.find(b"\n")
    if nl < 0:
        return None, "no header line (%d bytes)" % len(data)
    try:
        f = dict(x.split(b"=", 1) for x in data[:nl].split(b" "))
        v, n, sha = int(f[b"v"]), int(f[b"len"]), f[b"sha"].decode()
    except Exception as e:
        return None, "bad header %r" % data[:80]
    p = data[nl + 1:]
    if len(p) != n:
        return None, "version %d: payload %d bytes, header says %d" % (v, len(p), n)
    if hashlib.sha256(p).hexdigest() != sha:
        return None, "version %d: payload checksum mismatch" % v
    return v, None

def writer(d, n, seed):
    path = os.path.join(d, "app.conf")
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    for v in range(1, n + 1):
        data = version(seed, v)
        tmp = os.path.join(d, ".app.conf.tmp.%d.%d" % (os.getpid(), v))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        off = 0
        while off < len(data):
            off += os.write(fd, data[off:off + 32768])
        os.fsync(fd)
        os.close(fd)
        os.rename(tmp, path)
        os.fsync(dfd)
        with open(path, "rb") as f:
            got = f.read()
        if got != data:
            v2, err = parse(got)
            sys.exit("FAIL: read right after writing version %d: %s" % (v, err or "got version %d" % v2))
    os.close(dfd)
    print("writer: %d versions written" % n)

def reader(d, stop):
    path = os.path.join(d, "app.conf")
    last, reads = 0, 0
    while True:
        done = os.path.exists(stop)  # read once more after the writer ends
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            if last > 0:
                sys.exit("FAIL: app.conf missing after version %d was seen" % last)
            time.sleep(0.001)
            continue
        v, err = parse(data)
        if err:
            sys.exit("FAIL: reader saw a torn config: " + err)
        if v < last:
            sys.exit("FAIL: reader saw version %d after version %d" % (v, last))
        last, reads = v, reads + 1
        if done:
            break
    print("reader: %d reads, all whole versions in order, last %d" % (reads, last))

def check(d, n, seed):
    data = open(os.path.join(d, "app.conf"), "rb").read()
    v, err = parse(data)
    if err or data != version(seed, n):
        sys.exit("FAIL: final content is not version %d: %s" % (n, err or "version %d" % v))
    print("check: app.conf is version %d" % n)

if sys.argv[1] == "writer":
    writer(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
elif sys.argv[1] == "reader":
    reader(sys.argv[2], sys.argv[3])
else:
    check(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
EOF

STOP=$MX_TMP/stop
mx_py "$HELPER" reader "$MNT/etc" "$STOP" &
READER=$!
mx_on_exit "kill $READER 2>/dev/null"
t0=$(date +%s.%N)
mx_py "$HELPER" writer "$MNT/etc" "$N" "$MX_SEED" || mx_fail "writer failed"
t1=$(date +%s.%N)
touch "$STOP"
wait "$READER" || mx_fail "reader failed"
mx_ok "$N updates in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s; reader saw only whole versions"

names=$(ls -A "$MNT/etc" | tr '\n' ' ')
[ "$names" = "app.conf other.conf " ] || mx_fail "directory holds [$names], expected app.conf other.conf"
mx_ok "no temporary file left"
mx_py "$HELPER" check "$MNT/etc" "$N" "$MX_SEED" || mx_fail "final content wrong"
[ "$(cat "$MNT/etc/other.conf")" = unrelated ] || mx_fail "other.conf changed"

mx_umount "$MNT"
mx_mount "$DATA" "$MNT"
names=$(ls -A "$MNT/etc" | tr '\n' ' ')
[ "$names" = "app.conf other.conf " ] || mx_fail "after remount the directory holds [$names]"
mx_py "$HELPER" check "$MNT/etc" "$N" "$MX_SEED" || mx_fail "final content wrong after remount"
mx_ok "last version intact after remount"
mx_umount "$MNT"
mx_fsck "$DATA"
