#!/usr/bin/env python3
"""t_fsx.py — a randomized, model-based exerciser of one lsmerfs mount (the
helper of t_fsx.sh; python3 standard library only).

    t_fsx.py run DIR STATE SEED MODE PHASE OPS   # verify, OPS random ops, verify, save
    t_fsx.py verify DIR STATE MODE               # verify everything against STATE

DIR is a directory inside the mount; the model lives in STATE, a file
outside it, so a run can stop, the shell can unmount and mount again, and
the next run checks that the filesystem still matches the model. MODE is
"writeback" or "nowriteback" (the mount's -o nowriteback).

Two parts, mixed at random:

- Files (DIR/data/f0..f3, up to MAX_SIZE bytes each): pwrite at random
  offsets and lengths (around the 2 KiB inline limit and the 16 KiB block
  size, past the end leaving holes, all-zero data too), pread and compare,
  truncate and ftruncate up and down, fallocate mode 0, KEEP_SIZE and
  PUNCH_HOLE|KEEP_SIZE (an unsupported mode must give EOPNOTSUPP and change
  nothing), writes and reads through a MAP_SHARED mmap, O_APPEND writes
  (write and pwrite: Linux appends either way), copy_file_range between and
  within files, O_DIRECT reads and writes on a second handle, fsync,
  fdatasync, close and reopen (sometimes O_TRUNC).
  The model is a bytearray per file. After every operation: fstat's size,
  a read of a random range, and now and then SEEK_DATA/SEEK_HOLE.
- A tree (DIR/tree, names a..f, three levels): mkdir, create, rename (over
  existing targets, RENAME_NOREPLACE, RENAME_EXCHANGE), link, unlink,
  rmdir, symlink, rewrite through a name, writes through a handle whose
  name was just unlinked, each with the errno Linux gives when it must
  fail. After every operation the whole tree is compared with
  the model: names, types, link counts, symlink targets, sizes, and which
  names are the same inode.

SEEK_DATA/SEEK_HOLE (docs/fs.md): what is reported as a hole must read as
zeros (also while pages written through a mmap are not written back yet),
offsets are the asked one, the size or a multiple of the block size, and
past the end is ENXIO. Right after a mount with -o nowriteback (so no handle
is open for writing; a release reaches the daemon only after close()
returns) holes are exact at block granularity: a block that no write has
touched since the file was last truncated or punched past it is a hole
(mmap writes count for the whole file: the kernel writes back whole folios).
With the writeback cache the kernel answers, and reports no holes.

Every FULL_EVERY operations and at the start and end of a run everything is
read back in full. The random sequence depends only on SEED, MODE and PHASE.
"""
import ctypes
import errno
import mmap
import os
import pickle
import random
import stat
import sys

BS = 16384  # lsmerfs block size (superblock default)
INLINE = 2048  # inline limit: a file up to this size lives in its inode
MAX_SIZE = 3 * 1024 * 1024 + 12345
NFILES = 4
FULL_EVERY = 100
NAMES = "abcdef"
MAX_DEPTH = 3

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_ZERO_RANGE = 0x10
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
AT_FDCWD = -100

_libc = ctypes.CDLL(None, use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
_libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                            ctypes.c_uint]


def fallocate(fd, mode, off, length):
    if _libc.fallocate(fd, mode, off, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def renameat2(src, dst, flags):
    if _libc.renameat2(AT_FDCWD, os.fsencode(src), AT_FDCWD, os.fsencode(dst), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


class Failure(Exception):
    pass


# ------------------------------------------------------------------ model --

class FileModel:
    """One file: its bytes, the blocks a write may have filled since they
    were last cut off (a superset of the blocks lsmerfs stores), and whether
    it is still inline (never grown past INLINE since it was last empty)."""

    def __init__(self):
        self.data = bytearray()
        self.touched = set()
        self.inline = True

    def write(self, off, buf):
        n = len(buf)
        if n == 0:
            return
        if off > len(self.data):
            self.data += bytes(off - len(self.data))
        self.data[off:off + n] = buf
        self.touched.update(range(off // BS, (off + n - 1) // BS + 1))
        if len(self.data) > INLINE:
            self.inline = False

    def truncate(self, size):
        if size == 0:
            self.data = bytearray()
            self.touched = set()
            self.inline = True
        elif size < len(self.data):
            del self.data[size:]
            self.touched = {b for b in self.touched if b * BS < size}
        elif size > len(self.data):
            self.data += bytes(size - len(self.data))
            if size > INLINE:
                self.inline = False

    def punch(self, off, length):
        end = min(off + length, len(self.data))
        if off >= end:
            return
        self.data[off:end] = bytes(end - off)
        for b in range((off + BS - 1) // BS, end // BS):
            self.touched.discard(b)

    def touch_all(self):
        self.touched.update(range(0, (len(self.data) + BS - 1) // BS))


class Node:
    """A tree node: kind 'd' (children), 'f' (data) or 'l' (target). Hard
    links are one Node under several names; ident names it across runs."""

    def __init__(self, kind, ident, data=b"", target=""):
        self.kind = kind
        self.ident = ident
        self.children = {} if kind == "d" else None
        self.data = data
        self.target = target


class State:
    def __init__(self):
        self.files = [FileModel() for _ in range(NFILES)]
        self.root = Node("d", 0)
        self.next_ident = 1
        self.ops = 0


# ----------------------------------------------------------------- runner --

class Fsx:
    def __init__(self, d, st, mode, rng):
        self.dir = d
        self.st = st
        self.mode = mode
        self.rng = rng
        self.fds = [None] * NFILES
        self.log = []
        self.counts = {}

    # -- bookkeeping
    def note(self, msg):
        self.log.append("%d: %s" % (self.st.ops, msg))
        if len(self.log) > 40:
            del self.log[0]

    def fail(self, msg):
        raise Failure(msg)

    def fpath(self, i):
        return os.path.join(self.dir, "data", "f%d" % i)

    def fd(self, i):
        if self.fds[i] is None:
            self.fds[i] = os.open(self.fpath(i), os.O_RDWR)
        return self.fds[i]

    def close_all(self):
        for i in range(NFILES):
            if self.fds[i] is not None:
                os.close(self.fds[i])
                self.fds[i] = None

    # -- random choices
    def pick_off(self, size):
        r = self.rng
        c = r.random()
        if c < 0.30 or size == 0 and c < 0.5:
            off = r.randint(0, size)
        elif c < 0.45:
            off = size
        elif c < 0.60:
            off = r.randint(0, (MAX_SIZE // BS)) * BS + r.choice((-1, 0, 0, 1, 100))
        elif c < 0.70:
            off = INLINE + r.choice((-100, -1, 0, 1, 500))
        elif c < 0.85:
            off = size + r.choice((1, 4096, BS, r.randint(1, 1 << 20)))
        else:
            off = r.randint(0, MAX_SIZE)
        return max(0, min(off, MAX_SIZE - 1))

    def pick_len(self, off):
        r = self.rng
        c = r.random()
        if c < 0.15:
            n = r.randint(1, 16)
        elif c < 0.35:
            n = r.randint(1, 3000)
        elif c < 0.50:
            n = r.choice((4096, BS, 2 * BS)) + r.choice((-1, 0, 1))
        elif c < 0.90:
            n = r.randint(1, 256 * 1024)
        elif c < 0.98:
            n = r.randint(1, 1 << 20)
        else:
            n = r.randint(1 << 20, 5 << 19)  # more than one 1 MiB FUSE write
        return max(1, min(n, MAX_SIZE - off))

    def pick_size(self, size):
        r = self.rng
        return max(0, min(MAX_SIZE, r.choice((
            0, r.randint(0, size), r.randint(0, size), size + r.randint(1, 300000),
            r.randint(0, MAX_SIZE // BS) * BS, INLINE + r.choice((-1, 0, 1)),
            size - 1, size + 1, r.randint(0, MAX_SIZE)))))

    def pick_data(self, n):
        if self.rng.random() < 0.1:
            return bytes(n)
        return self.rng.randbytes(n)

    # -- checks
    def check_range(self, i, fd, off, n, why):
        fm = self.st.files[i]
        want = bytes(fm.data[off:off + n])
        got = os.pread(fd, n, off)
        if got != want:
            bad = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]),
                       min(len(got), len(want)))
            self.fail("%s: f%d read [%d, +%d) differs from the model at offset %d "
                      "(got %d bytes, want %d; byte there got %r want %r; size %d)"
                      % (why, i, off, n, off + bad, len(got), len(want), got[bad:bad + 1],
                         want[bad:bad + 1], len(fm.data)))

    def check_file_quick(self, i):
        fm = self.st.files[i]
        fd = self.fd(i)
        size = os.fstat(fd).st_size
        if size != len(fm.data):
            self.fail("f%d: fstat size %d, model %d" % (i, size, len(fm.data)))
        r = self.rng
        if fm.data:
            off = r.randint(0, len(fm.data) - 1)
            self.check_range(i, fd, off, r.randint(1, 128 * 1024), "after op")
        self.check_range(i, fd, len(fm.data), 10, "at EOF")

    def seek(self, fd, off, whence):
        try:
            return os.lseek(fd, off, whence)
        except OSError as e:
            if e.errno == errno.ENXIO:
                return None
            raise

    def check_seek(self, i, fd, exact):
        """SEEK_DATA/SEEK_HOLE against the model (see the top comment)."""
        fm = self.st.files[i]
        size = len(fm.data)
        data = bytes(fm.data)
        for off in (size, size + 1, size + BS):
            for wh, name in ((os.SEEK_DATA, "SEEK_DATA"), (os.SEEK_HOLE, "SEEK_HOLE")):
                if self.seek(fd, off, wh) is not None:
                    self.fail("f%d: %s at %d (size %d) must be ENXIO" % (i, name, off, size))

        def aligned(v, off):
            return v == off or v == size or v % BS == 0

        # Walk the extents from 0: [d, h) is data, [h, next d) a hole.
        extents = []
        pos = 0
        while pos < size:
            d = self.seek(fd, pos, os.SEEK_DATA)
            if d is None:
                if any(data[pos:]):
                    self.fail("f%d: SEEK_DATA at %d says no data follows, but the model has "
                              "data at %d (size %d)" % (i, pos, pos + next(
                                  k for k, b in enumerate(data[pos:]) if b), size))
                break
            if not (pos <= d < size) or not aligned(d, pos):
                self.fail("f%d: SEEK_DATA at %d gave %d (size %d)" % (i, pos, d, size))
            if any(data[pos:d]):
                self.fail("f%d: SEEK_DATA at %d skips to %d over data the model has"
                          % (i, pos, d))
            h = self.seek(fd, d, os.SEEK_HOLE)
            if h is None or not (d < h <= size) or not aligned(h, d):
                self.fail("f%d: SEEK_HOLE at %d gave %s (size %d)" % (i, d, h, size))
            extents.append((d, h))
            pos = h
        # Random probes agree with the walk.
        for _ in range(4):
            off = self.rng.randint(0, size - 1) if size else 0
            if size == 0:
                break
            inside = [e for e in extents if e[0] <= off < e[1]]
            d = self.seek(fd, off, os.SEEK_DATA)
            h = self.seek(fd, off, os.SEEK_HOLE)
            if inside:
                if d != off or h != inside[0][1]:
                    self.fail("f%d: at %d (in data [%d, %d)) SEEK_DATA %s SEEK_HOLE %s"
                              % (i, off, inside[0][0], inside[0][1], d, h))
            else:
                nxt = [e[0] for e in extents if e[0] > off]
                if d != (nxt[0] if nxt else None) or h != off:
                    self.fail("f%d: at %d (in a hole) SEEK_DATA %s SEEK_HOLE %s, extents %s"
                              % (i, off, d, h, extents[:8]))
        if exact and not fm.inline:
            for (d, h) in extents:
                for b in range(d // BS, (h - 1) // BS + 1):
                    if b not in fm.touched:
                        self.fail("f%d: block %d reported as data but nothing was written "
                                  "there (extents %s, size %d)" % (i, b, extents[:8], size))

    def verify_files(self, why, after_mount=False):
        # Holes are exact only without the writeback cache (with it, the
        # kernel answers: no holes) and with no handle open for writing. A
        # release reaches the daemon after close() returns, so that is
        # certain only right after a mount (docs/fs.md, SEEK_DATA/SEEK_HOLE).
        exact = after_mount and self.mode == "nowriteback"
        for i in range(NFILES):
            fm = self.st.files[i]
            fd = os.open(self.fpath(i), os.O_RDONLY)
            try:
                sb = os.fstat(fd)
                if sb.st_size != len(fm.data):
                    self.fail("%s: f%d size %d, model %d" % (why, i, sb.st_size, len(fm.data)))
                if after_mount and sb.st_blocks != (len(fm.data) + 511) // 512:
                    self.fail("%s: f%d st_blocks %d for size %d (docs/fs.md: size rounded "
                              "up to 512)" % (why, i, sb.st_blocks, len(fm.data)))
                got = bytearray()
                while True:
                    chunk = os.read(fd, 1 << 20)
                    if not chunk:
                        break
                    got += chunk
                if got != fm.data:
                    bad = next((k for k in range(min(len(got), len(fm.data)))
                                if got[k] != fm.data[k]), min(len(got), len(fm.data)))
                    self.fail("%s: f%d content differs from the model at offset %d "
                              "(read %d bytes, model %d)" % (why, i, bad, len(got),
                                                             len(fm.data)))
                self.check_seek(i, fd, exact)
            finally:
                os.close(fd)

    # -- the tree
    def tpath(self, comps):
        return os.path.join(self.dir, "tree", *comps)

    def walk_model(self, node=None, prefix=()):
        node = node or self.st.root
        for name, ch in sorted(node.children.items()):
            yield prefix + (name,), ch
            if ch.kind == "d":
                yield from self.walk_model(ch, prefix + (name,))

    def lookup(self, comps):
        node = self.st.root
        for c in comps:
            if node.kind != "d" or c not in node.children:
                return None
            node = node.children[c]
        return node

    def verify_tree(self, why, contents=False):
        nlinks = {}
        for _, n in self.walk_model():
            nlinks[n.ident] = nlinks.get(n.ident, 0) + 1
        inos = {}
        self._verify_dir(why, self.st.root, (), nlinks, inos, contents)

    def _verify_dir(self, why, node, comps, nlinks, inos, contents):
        p = self.tpath(comps)
        got = sorted(os.listdir(p))
        want = sorted(node.children)
        if got != want:
            self.fail("%s: tree/%s lists %s, model %s" % (why, "/".join(comps), got, want))
        sb = os.lstat(p)
        subdirs = sum(1 for c in node.children.values() if c.kind == "d")
        if sb.st_nlink != 2 + subdirs:
            self.fail("%s: tree/%s: nlink %d, expected %d" % (why, "/".join(comps),
                                                             sb.st_nlink, 2 + subdirs))
        for name, ch in sorted(node.children.items()):
            c = comps + (name,)
            cp = self.tpath(c)
            sb = os.lstat(cp)
            what = "%s: tree/%s" % (why, "/".join(c))
            kinds = {"d": stat.S_ISDIR, "f": stat.S_ISREG, "l": stat.S_ISLNK}
            if not kinds[ch.kind](sb.st_mode):
                self.fail("%s: mode %o, model type %s" % (what, sb.st_mode, ch.kind))
            if ch.ident in inos and inos[ch.ident] != sb.st_ino:
                self.fail("%s: inode %d, but another name of the same file has %d"
                          % (what, sb.st_ino, inos[ch.ident]))
            if ch.ident not in inos and sb.st_ino in inos.values():
                self.fail("%s: inode %d is shared with a different file" % (what, sb.st_ino))
            inos[ch.ident] = sb.st_ino
            if ch.kind == "d":
                self._verify_dir(why, ch, c, nlinks, inos, contents)
                continue
            if sb.st_nlink != nlinks[ch.ident]:
                self.fail("%s: nlink %d, model %d" % (what, sb.st_nlink, nlinks[ch.ident]))
            if ch.kind == "l":
                t = os.readlink(cp)
                if t != ch.target:
                    self.fail("%s: symlink target %r, model %r" % (what, t[:80], ch.target[:80]))
                if sb.st_size != len(os.fsencode(ch.target)):
                    self.fail("%s: symlink size %d" % (what, sb.st_size))
            else:
                if sb.st_size != len(ch.data):
                    self.fail("%s: size %d, model %d" % (what, sb.st_size, len(ch.data)))
                if contents:
                    with open(cp, "rb") as f:
                        if f.read() != ch.data:
                            self.fail("%s: content differs" % what)

    def new_ident(self):
        self.st.next_ident += 1
        return self.st.next_ident

    def expect(self, what, want, fn):
        """Runs fn; its errno (0 on success) must be want (an int or a set)."""
        try:
            fn()
            got = 0
        except OSError as e:
            got = e.errno
        ok = got in want if isinstance(want, (set, tuple)) else got == want
        if got:
            self.counts["tree errno"] = self.counts.get("tree errno", 0) + 1
        if not ok:
            self.fail("%s: got %s, expected %s" % (
                what, errno.errorcode.get(got, got) if got else "success",
                ", ".join(errno.errorcode.get(w, str(w)) if w else "success"
                          for w in (want if isinstance(want, (set, tuple)) else (want,)))))
        return got == 0

    def pick_dir(self):
        dirs = [()] + [c for c, n in self.walk_model() if n.kind == "d"]
        return self.rng.choice(dirs)

    def pick_any(self):
        nodes = [c for c, _ in self.walk_model()]
        return self.rng.choice(nodes) if nodes else None

    def pick_path(self):
        """A path to create or replace: mostly in an existing directory; now
        and then under a missing or non-directory parent."""
        r = self.rng
        c = r.random()
        if c < 0.05:
            missing = [n for n in NAMES if n not in self.st.root.children]
            if missing:
                return (r.choice(missing), r.choice(NAMES))
        if c < 0.10:
            files = [p for p, n in self.walk_model() if n.kind == "f"]
            if files:
                return r.choice(files) + (r.choice(NAMES),)
        d = self.pick_dir()
        return d + (r.choice(NAMES),)

    def parent_errno(self, comps):
        """The errno of resolving comps' parent, or 0."""
        node = self.st.root
        for c in comps[:-1]:
            if node.kind != "d":
                return errno.ENOTDIR
            if c not in node.children:
                return errno.ENOENT
            node = node.children[c]
        return 0 if node.kind == "d" else errno.ENOTDIR

    def detach(self, comps):
        return self.lookup(comps[:-1]).children.pop(comps[-1])

    def attach(self, comps, node):
        self.lookup(comps[:-1]).children[comps[-1]] = node

    def tree_op(self):
        r = self.rng
        c = r.random()
        show = lambda comps: "/".join(comps)  # noqa: E731
        if c < 0.16:
            p = self.pick_path()
            if len(p) > MAX_DEPTH:
                p = p[:MAX_DEPTH]
            e = self.parent_errno(p) or (errno.EEXIST if self.lookup(p) else 0)
            self.note("mkdir tree/%s" % show(p))
            if self.expect("mkdir tree/%s" % show(p), e, lambda: os.mkdir(self.tpath(p))):
                self.attach(p, Node("d", self.new_ident()))
        elif c < 0.34:
            p = self.pick_path()
            e = self.parent_errno(p) or (errno.EEXIST if self.lookup(p) else 0)
            data = r.randbytes(r.choice((0, 10, 2047, 2049, 5000, 20000)))
            self.note("create tree/%s (%d bytes)" % (show(p), len(data)))

            def create():
                fd = os.open(self.tpath(p), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)
            if self.expect("create tree/%s" % show(p), e, create):
                self.attach(p, Node("f", self.new_ident(), data=data))
        elif c < 0.56:
            self.tree_rename()
        elif c < 0.66:
            src = self.pick_any() or ("a",)
            dst = self.pick_path()
            s = self.lookup(src)
            e = (errno.ENOENT if s is None else self.parent_errno(dst) or
                 (errno.EEXIST if self.lookup(dst) else 0) or
                 (errno.EPERM if s.kind == "d" else 0))
            self.note("link tree/%s tree/%s" % (show(src), show(dst)))
            if self.expect("link tree/%s -> tree/%s" % (show(src), show(dst)), e,
                           lambda: os.link(self.tpath(src), self.tpath(dst),
                                           follow_symlinks=False)):
                self.attach(dst, s)
        elif c < 0.76:
            p = self.pick_any() or ("a",)
            n = self.lookup(p)
            e = errno.ENOENT if n is None else errno.EISDIR if n.kind == "d" else 0
            self.note("unlink tree/%s" % show(p))
            if self.expect("unlink tree/%s" % show(p), e, lambda: os.unlink(self.tpath(p))):
                self.detach(p)
        elif c < 0.84:
            p = self.pick_any() or ("a",)
            n = self.lookup(p)
            e = (errno.ENOENT if n is None else errno.ENOTDIR if n.kind != "d" else
                 errno.ENOTEMPTY if n.children else 0)
            self.note("rmdir tree/%s" % show(p))
            if self.expect("rmdir tree/%s" % show(p), (e, errno.EEXIST) if e == errno.ENOTEMPTY
                           else e, lambda: os.rmdir(self.tpath(p))):
                self.detach(p)
        elif c < 0.88:
            self.unlinked_open_op()
        elif c < 0.94:
            p = self.pick_path()
            target = r.choice(("a", "../b/c", "/nonexistent/x", "t" * 300, "u" * 4095,
                               "x y\tz", "f%d" % r.randint(0, 99)))
            e = self.parent_errno(p) or (errno.EEXIST if self.lookup(p) else 0)
            self.note("symlink %r tree/%s" % (target[:20], show(p)))
            if self.expect("symlink tree/%s" % show(p), e,
                           lambda: os.symlink(target, self.tpath(p))):
                self.attach(p, Node("l", self.new_ident(), target=target))
        else:
            files = [p for p, n in self.walk_model() if n.kind == "f"]
            if not files:
                return
            p = r.choice(files)
            data = r.randbytes(r.choice((0, 7, 3000, 17000)))
            self.note("rewrite tree/%s (%d bytes)" % (show(p), len(data)))
            with open(self.tpath(p), "wb") as f:
                f.write(data)
            self.lookup(p).data = data  # every name of this inode sees it
        self.verify_tree("after tree op")

    def unlinked_open_op(self):
        """Opens a file, unlinks (or renames over) the name, then uses the
        handle: its data stays until the last close."""
        r = self.rng
        files = [p for p, n in self.walk_model() if n.kind == "f"]
        if not files:
            return
        p = r.choice(files)
        node = self.lookup(p)
        data = bytearray(node.data)
        self.note("open tree/%s, unlink it, use the handle" % "/".join(p))
        fd = os.open(self.tpath(p), os.O_RDWR)
        try:
            os.unlink(self.tpath(p))
            self.detach(p)
            links = sum(1 for _, n in self.walk_model() if n is node)
            extra = r.randbytes(r.choice((1, 3000, 40000)))
            off = r.randint(0, len(data) + 5000)
            os.pwrite(fd, extra, off)
            if off > len(data):
                data += bytes(off - len(data))
            data[off:off + len(extra)] = extra
            node.data = bytes(data)  # any other name sees the write
            self.verify_tree("while a name's file is open after its unlink")
            sb = os.fstat(fd)
            if sb.st_nlink != links or sb.st_size != len(data):
                self.fail("open after unlink: nlink %d size %d, expected %d and %d"
                          % (sb.st_nlink, sb.st_size, links, len(data)))
            if os.pread(fd, len(data) + 10, 0) != data:
                self.fail("open after unlink: content differs")
        finally:
            os.close(fd)

    def tree_rename(self):
        r = self.rng
        show = "/".join
        src = self.pick_any() or ("a",)
        if r.random() < 0.08:
            src = src[:-1] + (r.choice(NAMES),)  # maybe missing
        dst = self.pick_any() if r.random() < 0.5 else self.pick_path()
        dst = dst or ("b",)
        flags = r.choice((0, 0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE))
        s, d = self.lookup(src), self.lookup(dst)
        # The order Linux checks in (do_renameat2, vfs_rename).
        e = self.parent_errno(src) or self.parent_errno(dst)
        if not e and s is None:
            e = errno.ENOENT
        if not e and flags == RENAME_EXCHANGE and d is None:
            e = errno.ENOENT
        if not e and flags == RENAME_NOREPLACE and d is not None:
            e = errno.EEXIST
        if not e and src != dst:
            if dst[:len(src)] == src:
                e = errno.EINVAL  # into its own subtree
            elif src[:len(dst)] == dst:
                e = errno.EINVAL if flags == RENAME_EXCHANGE else errno.ENOTEMPTY
        same = src == dst or (d is not None and d is s)
        if not e and not same and d is not None and flags != RENAME_EXCHANGE:
            if s.kind == "d" and d.kind != "d":
                e = errno.ENOTDIR
            elif s.kind != "d" and d.kind == "d":
                e = errno.EISDIR
            elif d.kind == "d" and d.children:
                e = errno.ENOTEMPTY
        want = (e, errno.EEXIST) if e == errno.ENOTEMPTY else e
        what = "rename%s tree/%s tree/%s" % ({0: "", 1: "(NOREPLACE)", 2: "(EXCHANGE)"}[flags],
                                             show(src), show(dst))
        self.note(what)
        if not self.expect(what, want, lambda: renameat2(self.tpath(src), self.tpath(dst),
                                                          flags)):
            return
        if same:
            return
        if flags == RENAME_EXCHANGE:
            sp, dp = self.lookup(src[:-1]), self.lookup(dst[:-1])
            sp.children[src[-1]], dp.children[dst[-1]] = d, s
        else:
            node = self.detach(src)
            if d is not None:
                self.detach(dst)
            self.attach(dst, node)

    # -- the file operations
    def file_op(self):
        r = self.rng
        st = self.st
        i = r.randrange(NFILES)
        fm = st.files[i]
        size = len(fm.data)
        c = r.random()
        if c < 0.22:
            off = self.pick_off(size)
            buf = self.pick_data(self.pick_len(off))
            self.note("pwrite f%d [%d, +%d)%s" % (i, off, len(buf), " zeros" if not any(buf)
                                                  else ""))
            fd, done = self.fd(i), 0
            while done < len(buf):
                done += os.pwrite(fd, buf[done:], off + done)
            fm.write(off, buf)
            self.check_range(i, fd, off, len(buf), "read back the pwrite")
            kind = "write"
        elif c < 0.32:
            fd = self.fd(i) if r.random() < 0.7 else None
            off = r.randint(0, size + 100)
            n = r.choice((1, 100, 4096, BS, r.randint(1, 600000)))
            self.note("pread f%d [%d, +%d)%s" % (i, off, n, "" if fd else " (other fd)"))
            if fd is None:
                fd = os.open(self.fpath(i), os.O_RDONLY)
                try:
                    self.check_range(i, fd, off, n, "pread")
                finally:
                    os.close(fd)
            else:
                self.check_range(i, fd, off, n, "pread")
            kind = "read"
        elif c < 0.38:
            n = self.pick_size(size)
            self.note("truncate f%d %d -> %d" % (i, size, n))
            os.truncate(self.fpath(i), n)
            fm.truncate(n)
            kind = "truncate"
        elif c < 0.44:
            n = self.pick_size(size)
            self.note("ftruncate f%d %d -> %d" % (i, size, n))
            os.ftruncate(self.fd(i), n)
            fm.truncate(n)
            kind = "ftruncate"
        elif c < 0.49:
            off = self.pick_off(size)
            n = self.pick_len(off)
            mode = r.choice((0, 0, FALLOC_FL_KEEP_SIZE))
            self.note("fallocate f%d mode %d [%d, +%d) size %d" % (i, mode, off, n, size))
            fallocate(self.fd(i), mode, off, n)
            if mode == 0 and off + n > size:
                fm.truncate(off + n)
            kind = "fallocate"
        elif c < 0.56:
            off = r.choice((r.randint(0, max(0, size - 1)), self.pick_off(size),
                            r.randint(0, MAX_SIZE // BS) * BS))
            n = r.choice((self.pick_len(off), BS, 3 * BS, r.randint(1, 2 * BS), 1 << 20))
            self.note("punch f%d [%d, +%d) size %d" % (i, off, n, size))
            fallocate(self.fd(i), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, n)
            fm.punch(off, n)
            self.check_range(i, self.fd(i), off, n, "read the punched range")
            kind = "punch"
        elif c < 0.57:
            self.note("fallocate f%d ZERO_RANGE (unsupported)" % i)
            self.expect("fallocate ZERO_RANGE f%d" % i, errno.EOPNOTSUPP,
                        lambda: fallocate(self.fd(i), FALLOC_FL_ZERO_RANGE, 0, 100))
            kind = "fallocate"
        elif c < 0.65:
            if size == 0:
                return
            self.mmap_op(i)
            kind = "mmap"
        elif c < 0.71:
            buf = self.pick_data(r.choice((1, 100, 3000, BS + 1, r.randint(1, 200000))))
            use_pwrite = r.random() < 0.3
            self.note("append f%d +%d%s" % (i, len(buf), " (pwrite at 0)" if use_pwrite else ""))
            if size + len(buf) > MAX_SIZE:
                return
            fa = os.open(self.fpath(i), os.O_WRONLY | os.O_APPEND)
            try:
                done = 0
                while done < len(buf):
                    if use_pwrite:  # O_APPEND wins over the offset on Linux
                        done += os.pwrite(fa, buf[done:], 0)
                    else:
                        done += os.write(fa, buf[done:])
                pos = os.lseek(fa, 0, os.SEEK_CUR)
                if not use_pwrite and pos != size + len(buf):
                    self.fail("f%d: O_APPEND write left the offset at %d, expected %d"
                              % (i, pos, size + len(buf)))
            finally:
                os.close(fa)
            fm.write(size, buf)
            kind = "append"
        elif c < 0.78:
            j = r.randrange(NFILES)
            src = st.files[j]
            off_in = r.randint(0, len(src.data)) if src.data else 0
            count = r.choice((1, 100, BS, r.randint(1, 400000)))
            off_out = self.pick_off(len(st.files[i].data))
            if off_out + count > MAX_SIZE:
                count = MAX_SIZE - off_out
            if i == j and off_out < off_in + count and off_in < off_out + count:
                return  # overlapping ranges of one file are EINVAL
            self.note("copy_file_range f%d [%d, +%d) -> f%d at %d" % (j, off_in, count, i,
                                                                   off_out))
            fin = self.fd(j)
            fout = self.fd(i)
            want = bytes(src.data[off_in:off_in + count])
            done = 0
            # Stop at the source's end as it was: within one file, a copy
            # past the end makes the source longer.
            while done < len(want):
                n = os.copy_file_range(fin, fout, len(want) - done, off_in + done,
                                       off_out + done)
                if n == 0:
                    break
                done += n
            if done != len(want):
                self.fail("copy_file_range copied %d bytes, expected %d" % (done, len(want)))
            fm.write(off_out, want)
            kind = "copy_file_range"
        elif c < 0.80:
            self.direct_op(i)
            kind = "O_DIRECT"
        elif c < 0.83:
            sync = r.choice((os.fsync, os.fdatasync))
            self.note("%s f%d" % (sync.__name__, i))
            sync(self.fd(i))
            kind = "fsync"
        elif c < 0.90:
            trunc = r.random() < 0.2
            self.note("close/reopen f%d%s" % (i, " O_TRUNC" if trunc else ""))
            if self.fds[i] is not None:
                os.close(self.fds[i])
                self.fds[i] = None
            self.fds[i] = os.open(self.fpath(i), os.O_RDWR | (os.O_TRUNC if trunc else 0))
            if trunc:
                fm.truncate(0)
            kind = "reopen"
        else:
            self.note("seek check f%d" % i)
            self.check_seek(i, self.fd(i), False)
            kind = "seek"
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.check_file_quick(i)
        if r.random() < 0.15:
            self.check_seek(i, self.fd(i), False)

    def mmap_op(self, i):
        r = self.rng
        fm = self.st.files[i]
        size = len(fm.data)
        g = mmap.ALLOCATIONGRANULARITY
        start = r.randint(0, size - 1) // g * g
        length = min(size - start, r.choice((1, 4096, 3 * BS, r.randint(1, 512 * 1024))))
        self.note("mmap f%d [%d, +%d)" % (i, start, length))
        fd = self.fd(i)
        m = mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE,
                      offset=start)
        try:
            for _ in range(r.randint(1, 4)):
                a = r.randint(0, length - 1)
                b = min(length, a + r.choice((1, 100, 4096, r.randint(1, length))))
                if r.random() < 0.6:
                    buf = self.pick_data(b - a)
                    m[a:b] = buf
                    fm.write(start + a, buf)
                    fm.touch_all()
                    self.note("  mmap write [%d, +%d)" % (start + a, b - a))
                else:
                    got = m[a:b]
                    if got != fm.data[start + a:start + b]:
                        self.fail("f%d: mmap read [%d, +%d) differs from the model"
                                  % (i, start + a, b - a))
                # the page cache is shared: pread sees mmap writes at once
                self.check_range(i, fd, start + a, b - a, "pread after mmap access")
            if r.random() < 0.5:
                # pages written through the map may not have reached the
                # daemon: they must not be reported as holes
                self.check_seek(i, fd, False)
            if r.random() < 0.5:
                m.flush()
        finally:
            m.close()

    def direct_op(self, i):
        """A read or write with O_DIRECT (page-aligned buffer, offset and
        length), on a second handle: it must agree with the cached one."""
        r = self.rng
        fm = self.st.files[i]
        g = 4096
        off = min(r.randint(0, len(fm.data) + BS) // g * g, MAX_SIZE // g * g - g)
        n = min(r.choice((1, 2, 4, 16, r.randint(1, 96))) * g, MAX_SIZE // g * g - off)
        write = r.random() < 0.5
        self.note("O_DIRECT %s f%d [%d, +%d)" % ("write" if write else "read", i, off, n))
        buf = mmap.mmap(-1, n)
        fd = os.open(self.fpath(i), os.O_RDWR | os.O_DIRECT)
        try:
            if write:
                data = self.pick_data(n)
                buf[:] = data
                if os.pwritev(fd, [buf], off) != n:
                    self.fail("f%d: short O_DIRECT write" % i)
                fm.write(off, data)
                self.check_range(i, self.fd(i), off, n, "cached read after an O_DIRECT write")
            else:
                got = os.preadv(fd, [buf], off)
                want = bytes(fm.data[off:off + n])
                if got != len(want) or buf[:got] != want:
                    self.fail("f%d: O_DIRECT read [%d, +%d) gave %d bytes, model %d, %s"
                              % (i, off, n, got, len(want), "equal" if buf[:got] == want[:got]
                                 else "different"))
        finally:
            os.close(fd)
            buf.close()

    def op(self):
        self.st.ops += 1
        if self.rng.random() < 0.25:
            self.counts["tree"] = self.counts.get("tree", 0) + 1
            self.tree_op()
        else:
            self.file_op()
        if self.st.ops % FULL_EVERY == 0:
            self.verify_files("full check")
            self.verify_tree("full check", contents=True)

    def verify_all(self, why, after_mount=False):
        self.close_all()
        self.verify_files(why, after_mount)
        self.verify_tree(why, contents=True)


def load(path):
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except FileNotFoundError:
        return None


def main():
    cmd = sys.argv[1]
    d, statepath = sys.argv[2], sys.argv[3]
    if cmd == "run":
        seed, mode, phase, nops = sys.argv[4], sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
    else:
        seed, mode, phase, nops = "0", sys.argv[4], 0, 0
    st = load(statepath)
    fresh = st is None
    if fresh:
        st = State()
        os.makedirs(os.path.join(d, "data"))
        os.makedirs(os.path.join(d, "tree"))
        for i in range(NFILES):
            os.close(os.open(os.path.join(d, "data", "f%d" % i), os.O_CREAT | os.O_EXCL |
                             os.O_RDWR, 0o644))
    x = Fsx(d, st, mode, random.Random("%s/%s/%d" % (seed, mode, phase)))
    try:
        # After a mount, every attribute comes fresh from the daemon.
        x.verify_all("at the start (after the mount)", after_mount=True)
        for _ in range(nops):
            x.op()
        x.verify_all("at the end of the run")
    except (Failure, OSError) as e:
        print("FAIL %s" % e, file=sys.stderr)
        print("last operations (newest last):", file=sys.stderr)
        for line in x.log:
            print("    " + line, file=sys.stderr)
        sys.exit(1)
    finally:
        x.close_all()
    with open(statepath + ".tmp", "wb") as f:
        pickle.dump(st, f)
    os.replace(statepath + ".tmp", statepath)
    sizes = " ".join("%d" % len(f.data) for f in st.files)
    nodes = sum(1 for _ in x.walk_model())
    if cmd == "run":
        print("phase %d: %d ops (%s); total %d; file sizes %s; %d tree names" % (
            phase, nops, ", ".join("%s %d" % kv for kv in sorted(x.counts.items())),
            st.ops, sizes, nodes))
    else:
        print("verified: file sizes %s; %d tree names" % (sizes, nodes))


if __name__ == "__main__":
    main()
