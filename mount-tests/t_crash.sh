#!/usr/bin/env bash
# t_crash: kill -9 the daemon in the middle of a workload, many times.
#
# Each round (ROUNDS, default 10, each with its own printed seed) mounts the
# same data directory (odd rounds with the writeback cache, even rounds with
# -o nowriteback), checks what the previous round's crash left, and runs
# 2 worker processes that create, overwrite, append, truncate, atomically
# replace (tmp + fsync + rename), rename and unlink files, fsyncing some.
# Each worker logs every operation OUTSIDE the mount: a BEGIN line before its
# first syscall and an END line after its last one returned (after fsync and
# close). At a random moment the daemon gets SIGKILL; `fusermount3 -uz`
# takes the mount down and `lsmer fsck` (when available) checks the data
# directory.
#
# What must hold after the remount (docs: DESIGN.md, "Rules"): a daemon
# crash loses nothing that the daemon acknowledged — metadata operations are
# in the WAL when they return and file data once it reached the daemon,
# which is certain after fsync and after close. So every operation with an
# END line is there with exactly its content (this covers every fsync'd
# file), and each worker's one operation in flight is either not there or
# there in a state it could pass through: a file being written holds, at
# every byte, the old byte, the new byte or zero (a hole), never anything
# else; a rename, unlink or truncate is wholly there or wholly absent; the
# directory holds no name the log does not explain. The rest of the tree
# (earlier rounds) is unchanged, every file reads without error, and a
# clean remount changes nothing.
. "$(dirname "$0")/lib_extra.sh"
mx_begin "kill -9 of the daemon during a workload, remount, verify (many rounds)"
mx_seed

DATA=$MX_TMP/data
MNT=$MX_TMP/mnt
LOGS=$MX_TMP/logs
ROUNDS=${ROUNDS:-10}
WORKERS=2
mkdir -p "$LOGS"

HELPER=$MX_TMP/crash.py
cat >"$HELPER" <<'EOF'
# crash.py work DIR SEED LOG | verify DIR LOG... | snapshot ROOT OUT | compare ROOT SNAP EXCLUDE
import hashlib, json, os, random, sys

def gen(key, n):
    return random.Random(key).randbytes(n)

def pick_size(rng):
    # Around the 2 KiB inline limit and the 64 KiB block size; now and then
    # up to 1 MiB (one writeback request).
    if rng.random() < 0.03:
        return rng.randint(0, 1 << 20)
    return rng.choice((0, 1, 100, 2047, 2048, 2049, 5000, 65535, 65536, 65537, 140000,
                       rng.randint(0, 1 << 18)))

# ---------------------------------------------------------------- worker --
def work(d, seed, logpath):
    rng = random.Random(seed)
    log = open(logpath, "w", buffering=1)
    model = {}   # relative path -> bytes (files only)
    dirs = [""]
    def p(rel):
        return os.path.join(d, rel)
    def begin(i, **kw):
        kw["b"] = i
        log.write(json.dumps(kw) + "\n")
        log.flush()
    def end(i):
        log.write('{"e": %d}\n' % i)
        log.flush()
    def write_all(fd, data, off=0):
        pos = 0
        while pos < len(data):
            n = min(len(data) - pos, rng.choice((4096, 65536, 131072, 1000, 300000)))
            pos += os.pwrite(fd, data[pos:pos + n], off + pos)
    # The directory was made by the test inside the mount: when the mount is
    # gone, d no longer exists and every operation fails, so a worker can
    # never go on writing into the bare mount point.
    try:
        for i in range(100000):
            r = rng.random()
            files = sorted(model)
            sync = rng.random() < 0.5
            if r < 0.05 and len(dirs) < 4:
                rel = "sub%d" % i
                begin(i, op="mkdir", p=rel)
                os.mkdir(p(rel))
                end(i)
                dirs.append(rel)
            elif r < 0.35 or not files:
                rel = os.path.join(rng.choice(dirs), "f%d" % i)
                key = "%d/%d" % (seed, i)
                n = pick_size(rng)
                begin(i, op="create", p=rel, key=key, n=n, sync=sync)
                data = gen(key, n)
                fd = os.open(p(rel), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                write_all(fd, data)
                if sync:
                    os.fsync(fd)
                os.close(fd)
                end(i)
                model[rel] = data
            elif r < 0.5:
                rel = rng.choice(files)
                old = model[rel]
                off = rng.choice((0, len(old), rng.randint(0, len(old) + 70000)))
                key = "%d/%d" % (seed, i)
                n = rng.choice((1, 4096, 65536, 100000, rng.randint(1, 200000)))
                begin(i, op="write", p=rel, key=key, off=off, n=n, sync=sync)
                data = gen(key, n)
                fd = os.open(p(rel), os.O_WRONLY)
                write_all(fd, data, off)
                if sync:
                    os.fsync(fd)
                os.close(fd)
                end(i)
                new = bytearray(old)
                if off > len(new):
                    new += bytes(off - len(new))
                new[off:off + n] = data
                model[rel] = bytes(new)
            elif r < 0.6:
                rel = rng.choice(files)
                n = rng.choice((0, len(model[rel]) // 2, len(model[rel]) + 5000, 3000))
                begin(i, op="truncate", p=rel, n=n, sync=sync)
                os.truncate(p(rel), n)
                if sync:
                    fd = os.open(p(rel), os.O_RDONLY)
                    os.fsync(fd)
                    os.close(fd)
                end(i)
                old = model[rel]
                model[rel] = old[:n] + bytes(max(0, n - len(old)))
            elif r < 0.75:
                rel = rng.choice(files) if rng.random() < 0.8 else os.path.join(rng.choice(dirs), "cfg%d" % i)
                tmp = rel + ".tmp%d" % i
                key = "%d/%d" % (seed, i)
                n = pick_size(rng)
                begin(i, op="replace", p=rel, tmp=tmp, key=key, n=n)
                data = gen(key, n)
                fd = os.open(p(tmp), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                write_all(fd, data)
                os.fsync(fd)
                os.close(fd)
                os.rename(p(tmp), p(rel))
                dfd = os.open(os.path.dirname(p(rel)), os.O_RDONLY | os.O_DIRECTORY)
                os.fsync(dfd)
                os.close(dfd)
                end(i)
                model[rel] = data
            elif r < 0.87:
                rel = rng.choice(files)
                new = os.path.join(rng.choice(dirs), "m%d" % i)
                begin(i, op="rename", p=rel, q=new)
                os.rename(p(rel), p(new))
                end(i)
                model[new] = model.pop(rel)
            else:
                rel = rng.choice(files)
                begin(i, op="unlink", p=rel)
                os.unlink(p(rel))
                end(i)
                del model[rel]
    except OSError:
        pass  # the daemon is gone (ENOTCONN): stop here
    log.close()

# -------------------------------------------------------------- verifier --
ABSENT, DIR = ("absent",), ("dir",)

def exact(b):
    return ("exact", b)

def mix(old, new, minlen):
    return ("mix", old, new, minlen)

def replay(logpath):
    """Returns (state, outcomes): the state after every ended operation, and
    the list of alternative {path: predicate} outcomes for the one in flight
    (None when nothing was in flight)."""
    state = {}
    pending = None
    for line in open(logpath):
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            break  # a torn last line: the worker died mid-write of its log
        if "b" in rec:
            pending = rec
            continue
        op, pending = pending, None
        o = op["op"]
        if o == "mkdir":
            state[op["p"]] = DIR
        elif o == "create":
            state[op["p"]] = exact(gen(op["key"], op["n"]))
        elif o == "write":
            new = bytearray(state[op["p"]][1])
            off = op["off"]
            if off > len(new):
                new += bytes(off - len(new))
            new[off:off + op["n"]] = gen(op["key"], op["n"])
            state[op["p"]] = exact(bytes(new))
        elif o == "truncate":
            old = state[op["p"]][1]
            state[op["p"]] = exact(old[:op["n"]] + bytes(max(0, op["n"] - len(old))))
        elif o == "replace":
            state[op["p"]] = exact(gen(op["key"], op["n"]))
        elif o == "rename":
            state[op["q"]] = state.pop(op["p"])
        elif o == "unlink":
            del state[op["p"]]
    if pending is None:
        return state, None
    op, o = pending, pending["op"]
    cur = lambda k: state.get(op[k], ABSENT)
    if o == "mkdir":
        outs = [{op["p"]: ABSENT}, {op["p"]: DIR}]
    elif o == "create":
        outs = [{op["p"]: ABSENT}, {op["p"]: mix(b"", gen(op["key"], op["n"]), 0)}]
    elif o == "write":
        old = cur("p")[1]
        new = bytearray(old)
        if op["off"] > len(new):
            new += bytes(op["off"] - len(new))
        new[op["off"]:op["off"] + op["n"]] = gen(op["key"], op["n"])
        outs = [{op["p"]: mix(old, bytes(new), len(old))}]
    elif o == "truncate":
        old = cur("p")[1]
        new = old[:op["n"]] + bytes(max(0, op["n"] - len(old)))
        outs = [{op["p"]: cur("p")}, {op["p"]: exact(new)}]
    elif o == "replace":
        data = gen(op["key"], op["n"])
        outs = [{op["p"]: cur("p"), op["tmp"]: ABSENT},
                {op["p"]: cur("p"), op["tmp"]: mix(b"", data, 0)},
                {op["p"]: exact(data), op["tmp"]: ABSENT}]
    elif o == "rename":
        outs = [{op["p"]: cur("p"), op["q"]: ABSENT}, {op["p"]: ABSENT, op["q"]: cur("p")}]
    elif o == "unlink":
        outs = [{op["p"]: cur("p")}, {op["p"]: ABSENT}]
    for out in outs:
        out["_op"] = json.dumps(op)
    return state, outs

def observe(path):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return ABSENT
    if os.path.isdir(path):
        return DIR
    with open(path, "rb") as f:
        return ("data", f.read())

def matches(pred, obs):
    if pred[0] in ("absent", "dir"):
        return obs == pred
    if obs[0] != "data":
        return False
    got = obs[1]
    if pred[0] == "exact":
        return got == pred[1]
    old, new, minlen = pred[1], pred[2], pred[3]
    if not (minlen <= len(got) <= max(len(old), len(new))):
        return False
    for s in range(0, len(got), 4096):
        g = got[s:s + 4096]
        if g == new[s:s + 4096][:len(g)] or g == old[s:s + 4096][:len(g)]:
            continue
        for j, c in enumerate(g):
            k = s + j
            if c != 0 and not (k < len(new) and new[k] == c) and not (k < len(old) and old[k] == c):
                return False
    return True

def describe(obs):
    if obs[0] == "data":
        return "file of %d bytes (sha256 %s)" % (len(obs[1]), hashlib.sha256(obs[1]).hexdigest()[:16])
    return obs[0]

def describe_pred(pred):
    if pred[0] == "exact":
        return "exactly %d bytes (sha256 %s)" % (len(pred[1]), hashlib.sha256(pred[1]).hexdigest()[:16])
    if pred[0] == "mix":
        return "a mix of old (%d bytes) and new (%d bytes) data, at least %d bytes" % (len(pred[1]), len(pred[2]), pred[3])
    return pred[0]

def verify(d, logs):
    errors = []
    nfiles = 0
    for logpath in logs:
        wdir = os.path.join(d, os.path.basename(logpath).split(".")[1])
        state, outs = replay(logpath)
        inflight = set()
        if outs:
            inflight = {k for k in outs[0] if k != "_op"}
            ok = False
            for out in outs:
                if all(matches(pred, observe(os.path.join(wdir, k))) for k, pred in out.items() if k != "_op"):
                    ok = True
                    break
            if not ok:
                errors.append("operation in flight at the crash left a state it never passes through: %s; found %s"
                              % (outs[0]["_op"], ", ".join("%s: %s" % (k, describe(observe(os.path.join(wdir, k))))
                                                           for k in sorted(inflight))))
        for rel, pred in sorted(state.items()):
            if rel in inflight:
                continue
            obs = observe(os.path.join(wdir, rel))
            nfiles += 1
            if not matches(pred, obs):
                errors.append("%s/%s: completed operation lost: expected %s, found %s"
                              % (os.path.basename(wdir), rel, describe_pred(pred), describe(obs)))
        # No name the log does not explain.
        known = set(state) | inflight
        if os.path.isdir(wdir):
            for root, dnames, fnames in os.walk(wdir):
                for name in dnames + fnames:
                    rel = os.path.relpath(os.path.join(root, name), wdir)
                    if rel not in known:
                        errors.append("%s/%s: unexpected name" % (os.path.basename(wdir), rel))
        elif state:
            errors.append("%s: worker directory missing" % wdir)
    for e in errors[:20]:
        print("FAIL: " + e)
    if errors:
        sys.exit(1)
    print("verified %d files/dirs of %d workers" % (nfiles, len(logs)))

def snapshot(root, out):
    with open(out, "w") as f:
        for dirpath, dnames, fnames in sorted(os.walk(root)):
            dnames.sort()
            for name in sorted(dnames):
                f.write("D %s\n" % os.path.relpath(os.path.join(dirpath, name), root))
            for name in sorted(fnames):
                path = os.path.join(dirpath, name)
                with open(path, "rb") as g:
                    data = g.read()
                f.write("F %s %d %s\n" % (os.path.relpath(path, root), len(data), hashlib.sha256(data).hexdigest()))

def compare(root, snap, exclude):
    tmp = snap + ".now"
    snapshot(root, tmp)
    ex = exclude + "/" if exclude else None
    keep = lambda l: not (ex and (l.split()[1] + "/").startswith(ex))
    want = [l for l in open(snap) if keep(l)]
    got = [l for l in open(tmp) if keep(l)]
    if want != got:
        import difflib
        for l in list(difflib.unified_diff(want, got, "before", "now", n=0))[:20]:
            print("FAIL: " + l.rstrip())
        sys.exit(1)
    print("compared %d entries: unchanged" % len(want))

cmd, a = sys.argv[1], sys.argv[2:]
if cmd == "work":
    work(a[0], int(a[1]), a[2])
elif cmd == "verify":
    verify(a[0], a[1:])
elif cmd == "snapshot":
    snapshot(a[0], a[1])
elif cmd == "compare":
    compare(a[0], a[1], a[2] if len(a) > 2 else "")
EOF

SNAP=$MX_TMP/snapshot
: >"$SNAP"
# check_round R: the state left by round R's crash (R=0: nothing yet).
check_round() {
    local r=$1
    if [ "$r" -gt 0 ]; then
        mx_py "$HELPER" compare "$MNT" "$SNAP" "r$r" ||
            mx_fail "round $r (seed $((MX_SEED + r))): earlier rounds' files changed"
        mx_py "$HELPER" verify "$MNT/r$r" "$LOGS"/r$r.w*.log ||
            mx_fail "round $r (seed $((MX_SEED + r))): crash left a wrong state"
    fi
    mx_walk "$MNT"
    mx_py "$HELPER" snapshot "$MNT" "$SNAP"
    # What the checks just read is now the baseline; make it durable.
    sync -f "$MNT"
}

for ((r = 1; r <= ROUNDS; r++)); do
    seed=$((MX_SEED + r))
    delay_ms=$(((RANDOM * 32768 + RANDOM) % 2500))
    # Odd rounds with the kernel's writeback cache (the default), even
    # rounds without it (every write(2) goes straight to the daemon).
    opts=""
    [ $((r % 2)) -eq 0 ] && opts=nowriteback
    mx_log "round $r/$ROUNDS: seed $seed, ${opts:-writeback}, kill ${delay_ms} ms after the workers start"
    mx_mount "$DATA" "$MNT" "$opts"
    check_round $((r - 1))
    wpids=()
    for ((w = 0; w < WORKERS; w++)); do
        mkdir -p "$MNT/r$r/w$w"
        python3 "$HELPER" work "$MNT/r$r/w$w" "$((seed * 10 + w))" "$LOGS/r$r.w$w.log" &
        wpids+=($!)
        mx_on_exit "kill -9 $! 2>/dev/null"
    done
    # The random moment counts from the workers' first operation (starting
    # python can take seconds on a loaded machine).
    for ((n = 0; n < 600; n++)); do
        [ -s "$LOGS/r$r.w0.log" ] && [ -s "$LOGS/r$r.w$((WORKERS - 1)).log" ] && break
        sleep 0.1
    done
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    mx_kill9 "$MNT"
    for p in "${wpids[@]}"; do
        for ((n = 0; n < 300; n++)); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$p" 2>/dev/null; then
            kill -9 "$p" 2>/dev/null
            mx_fail "round $r: a worker was still running 30 s after the daemon died"
        fi
        wait "$p" || mx_fail "round $r: worker failed (not by the daemon's death)"
    done
    ops=$(cat "$LOGS"/r$r.w*.log | grep -c '"e"' || true)
    [ "$ops" -gt 0 ] || mx_log "round $r: note: no operation completed before the kill"
    mx_log "round $r: daemon killed after $ops completed operations"
    mx_fsck "$DATA"
done
mx_mount "$DATA" "$MNT"
check_round "$ROUNDS"
mx_ok "$ROUNDS crash rounds verified"
mx_umount "$MNT"
mx_mount "$DATA" "$MNT"
mx_py "$HELPER" compare "$MNT" "$SNAP" || mx_fail "a clean remount changed the tree"
mx_walk "$MNT"
mx_umount "$MNT"
mx_ok "clean remount changes nothing"
mx_fsck "$DATA"
