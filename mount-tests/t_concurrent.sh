#!/usr/bin/env bash
# t_concurrent: 8 processes each writing their own file (pwrite of chunks in
# a random order, some overlapping rewrites, fsyncs) and, at the same time,
# 8 processes creating, renaming and removing files in one shared directory
# while 2 more keep listing it. Then: every file holds exactly the expected
# bytes, `ls` shows exactly the expected names, and listings taken during
# the churn never repeated a name nor missed a file that existed throughout.
# Everything is checked again after a remount.
. "$(dirname "$0")/lib_extra.sh"
mx_begin "8 concurrent writers + 8 creators/removers in one directory"
mx_seed

DATA=$MX_TMP/data
MNT=$MX_TMP/mnt
FILE_MB=${FILE_MB:-8}
OPS=${OPS:-600}
mx_mount "$DATA" "$MNT"
mkdir "$MNT/writers" "$MNT/shared"

HELPER=$MX_TMP/concurrent.py
cat >"$HELPER" <<'EOF'
# concurrent.py writer DIR ID SEED MB | check-writer DIR ID SEED MB
#             | churn DIR ID SEED OPS OUT | lister DIR STOP OUT | check-shared DIR OUTS...
import hashlib, os, random, sys, time

CHUNK = 65536

def chunk_bytes(seed, wid, idx, gen):
    return random.Random("%d/%d/%d/%d" % (seed, wid, idx, gen)).randbytes(CHUNK)

def writer_plan(seed, wid, mb):
    rng = random.Random("%d/%d" % (seed, wid))
    n = mb * 1024 * 1024 // CHUNK
    order = list(range(n))
    rng.shuffle(order)
    # Rewrite a quarter of the chunks a second time (generation 1), and split
    # some writes into unaligned pieces.
    rewrites = rng.sample(range(n), n // 4)
    return n, order, rewrites, rng

def writer(d, wid, seed, mb):
    n, order, rewrites, rng = writer_plan(seed, wid, mb)
    path = os.path.join(d, "w%d.bin" % wid)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    for k, idx in enumerate(order + rewrites):
        gen = 0 if k < n else 1
        data = chunk_bytes(seed, wid, idx, gen)
        cut = rng.choice((CHUNK, CHUNK, 4096, 1000, 65535))
        os.pwrite(fd, data[:cut], idx * CHUNK)
        if cut < CHUNK:
            os.pwrite(fd, data[cut:], idx * CHUNK + cut)
        if rng.random() < 0.02:
            os.fsync(fd)
    os.fsync(fd)
    os.close(fd)

def check_writer(d, wid, seed, mb):
    n, order, rewrites, rng = writer_plan(seed, wid, mb)
    last = set(rewrites)
    path = os.path.join(d, "w%d.bin" % wid)
    with open(path, "rb") as f:
        for idx in range(n):
            got = f.read(CHUNK)
            want = chunk_bytes(seed, wid, idx, 1 if idx in last else 0)
            if got != want:
                sys.exit("FAIL: %s chunk %d (offset %d) differs" % (path, idx, idx * CHUNK))
        if f.read(1):
            sys.exit("FAIL: %s longer than %d bytes" % (path, n * CHUNK))

def content(seed, wid, i):
    rng = random.Random("c%d/%d/%d" % (seed, wid, i))
    return rng.randbytes(rng.choice((0, 1, 100, 3000, 70000)))

def churn(d, wid, seed, ops, out):
    # Names are "c<wid>-<i>" (and ".r" once renamed): each worker only touches
    # its own names, so the final set is known exactly.
    rng = random.Random("churn%d/%d" % (seed, wid))
    live = {}  # name -> sha256
    for i in range(ops):
        r = rng.random()
        names = sorted(live)
        if r < 0.55 or not names:
            name = "c%d-%d" % (wid, i)
            data = content(seed, wid, i)
            with open(os.path.join(d, name), "xb") as f:
                f.write(data)
            live[name] = hashlib.sha256(data).hexdigest()
        elif r < 0.8:
            name = rng.choice(names)
            os.unlink(os.path.join(d, name))
            del live[name]
        elif r < 0.9:
            name = rng.choice(names)
            new = name.split(".")[0] + ".r%d" % i
            os.rename(os.path.join(d, name), os.path.join(d, new))
            live[new] = live.pop(name)
        else:
            name = "c%d-%d.dir" % (wid, i)
            os.mkdir(os.path.join(d, name))
            os.rmdir(os.path.join(d, name))
    with open(out, "w") as f:
        for name in sorted(live):
            f.write("%s %s\n" % (name, live[name]))

def lister(d, stop, out):
    # "stable-*" files exist throughout: every listing must show all of them,
    # and no listing may show a name twice.
    stable = {n for n in os.listdir(d) if n.startswith("stable-")}
    count = 0
    while not os.path.exists(stop):
        names = os.listdir(d)
        if len(names) != len(set(names)):
            dup = sorted(n for n in set(names) if names.count(n) > 1)
            sys.exit("FAIL: listing %d shows names twice: %s" % (count, dup[:5]))
        missing = stable - set(names)
        if missing:
            sys.exit("FAIL: listing %d misses files that exist throughout: %s" % (count, sorted(missing)[:5]))
        count += 1
    with open(out, "w") as f:
        f.write("%d\n" % count)

def check_shared(d, outs):
    want = {}
    for o in outs:
        for line in open(o):
            name, sha = line.split()
            want[name] = sha
    for i in range(50):
        want["stable-%d" % i] = hashlib.sha256(b"stable %d\n" % i).hexdigest()
    got = sorted(os.listdir(d))
    if got != sorted(want):
        extra = sorted(set(got) - set(want))[:10]
        miss = sorted(set(want) - set(got))[:10]
        sys.exit("FAIL: %s lists %d names, expected %d; unexpected %s, missing %s"
                 % (d, len(got), len(want), extra, miss))
    for name, sha in want.items():
        with open(os.path.join(d, name), "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != sha:
                sys.exit("FAIL: %s/%s content differs" % (d, name))
    print("shared: %d names, exactly the expected ones, contents match" % len(want))

cmd, a = sys.argv[1], sys.argv[2:]
if cmd == "writer":
    writer(a[0], int(a[1]), int(a[2]), int(a[3]))
elif cmd == "check-writer":
    check_writer(a[0], int(a[1]), int(a[2]), int(a[3]))
elif cmd == "churn":
    churn(a[0], int(a[1]), int(a[2]), int(a[3]), a[4])
elif cmd == "lister":
    lister(a[0], a[1], a[2])
elif cmd == "check-shared":
    check_shared(a[0], a[1:])
EOF

for i in $(seq 0 49); do printf 'stable %d\n' "$i" >"$MNT/shared/stable-$i"; done
STOP=$MX_TMP/stop
pids=()
for l in 0 1; do
    mx_py "$HELPER" lister "$MNT/shared" "$STOP" "$MX_TMP/lister$l.out" &
    LISTERS[$l]=$!
done
mx_on_exit "kill ${LISTERS[*]} 2>/dev/null"
t0=$SECONDS
for w in $(seq 0 7); do
    mx_py "$HELPER" writer "$MNT/writers" "$w" "$MX_SEED" "$FILE_MB" &
    pids+=($!)
    mx_py "$HELPER" churn "$MNT/shared" "$w" "$MX_SEED" "$OPS" "$MX_TMP/churn$w.out" &
    pids+=($!)
done
mx_on_exit "kill ${pids[*]} 2>/dev/null"
failed=0
for p in "${pids[@]}"; do
    wait "$p" || failed=$((failed + 1))
done
touch "$STOP"
for l in 0 1; do
    wait "${LISTERS[$l]}" || failed=$((failed + 1))
done
[ "$failed" -eq 0 ] || mx_fail "$failed worker(s) failed"
mx_ok "16 workers done in $((SECONDS - t0)) s; listers took $(cat "$MX_TMP"/lister0.out) + $(cat "$MX_TMP"/lister1.out) listings, no repeated or missing name"

check_all() {
    local what=$1 w names
    for w in $(seq 0 7); do
        mx_py "$HELPER" check-writer "$MNT/writers" "$w" "$MX_SEED" "$FILE_MB" || mx_fail "$what: writer $w's file"
    done
    names=$(ls "$MNT/writers" | tr '\n' ' ')
    [ "$names" = "w0.bin w1.bin w2.bin w3.bin w4.bin w5.bin w6.bin w7.bin " ] ||
        mx_fail "$what: writers/ holds [$names]"
    mx_ok "$what: 8 files of $FILE_MB MiB hold exactly the expected bytes"
    mx_py "$HELPER" check-shared "$MNT/shared" "$MX_TMP"/churn?.out || mx_fail "$what: shared directory"
    # The same through ls(1), which also stats every entry.
    [ "$(ls -A "$MNT/shared" | sort)" = "$( (cat "$MX_TMP"/churn?.out | cut -d' ' -f1; seq 0 49 |
        sed 's/^/stable-/') | sort)" ] || mx_fail "$what: ls differs from the expected names"
    ls -la "$MNT/shared" >/dev/null || mx_fail "$what: ls -la failed"
    mx_ok "$what: ls shows exactly the expected names"
}
check_all "before remount"
mx_umount "$MNT"
mx_mount "$DATA" "$MNT"
check_all "after remount"
mx_umount "$MNT"
mx_fsck "$DATA"
