# t_posix.py — the POSIX checks of t_posix.sh, run through a real lsmerfs
# mount (stdlib only: os, fcntl, mmap, socket, ctypes for the calls Python
# does not wrap: renameat2, fallocate, utimensat, getxattr with a short
# buffer, opendir/readdir/telldir/seekdir).
#
#   t_posix.py live     DIR DATA STATE SEED
#   t_posix.py verify   DIR DATA STATE [--exact-seek]
#   t_posix.py cleanup  DIR STATE
#   t_posix.py snapshot DIR OUT   /   t_posix.py compare DIR OUT
#
# "live" creates everything under DIR (a directory in the mount), checks it
# and writes what must survive a remount to STATE (JSON); "verify" checks it
# again after the remount; "cleanup" removes the big trees and checks that
# rmdir and the link counts agree. "snapshot" records the attributes of every
# name below DIR as the kernel shows them (its caches included) before an
# unmount, "compare" checks the store gives the same after the remount.
#
# SEEK_DATA/SEEK_HOLE answers are always checked to be correct: never
# skipping written data, never a hole inside it, ENXIO at the end. With
# --exact-seek (verify only: -o nowriteback, no file open for writing) they
# must also report every hole, at the 16 KiB block granularity docs/fs.md
# describes. While a file is open for writing, or with the writeback cache,
# lsmerfs reports no holes (the kernel may hold data the store has not seen).
#
# Every check prints "ok   WHAT" or "FAIL WHAT" (with details indented); a
# Python exception inside a group of checks is one FAIL naming the group.
# Exit status: 1 if anything failed.
import ctypes
import ctypes.util
import errno
import fcntl
import hashlib
import json
import mmap
import os
import random
import socket
import stat
import struct
import sys
import time
import traceback

FAILS = 0
CHECKS = 0


def ok(desc):
    global CHECKS
    CHECKS += 1
    print("ok   " + desc, flush=True)


def fail(desc, detail=""):
    global CHECKS, FAILS
    CHECKS += 1
    FAILS += 1
    print("FAIL " + desc, flush=True)
    for line in str(detail).splitlines()[:20]:
        print("     " + line, flush=True)


def check(desc, cond, detail=""):
    if cond:
        ok(desc)
    else:
        fail(desc, detail)
    return cond


def check_eq(desc, want, got):
    return check(desc, want == got, "expected: %r\nactual:   %r" % (want, got))


def err_of(fn, *a, **kw):
    """The errno fn raised, 0 if it returned."""
    try:
        fn(*a, **kw)
        return 0
    except OSError as e:
        return e.errno


def check_errno(desc, want, fn, *a, **kw):
    got = err_of(fn, *a, **kw)
    return check(desc, got == want, "expected %s, got %s" % (errno.errorcode.get(want, want),
                                                              errno.errorcode.get(got, got) if got else "success"))


def group(fn):
    """Runs one group of checks; an unexpected exception is one FAIL."""
    def run(*a):
        try:
            fn(*a)
        except Exception:
            fail("%s: unexpected exception" % fn.__name__, traceback.format_exc())
    run.__name__ = fn.__name__
    return run


# ---- libc through ctypes --------------------------------------------------

libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
AT_FDCWD = -100
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 0x01, 0x02
FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_ZERO_RANGE = 0x08, 0x10
UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2
XATTR_CREATE, XATTR_REPLACE = 1, 2


def _raise_errno(what):
    e = ctypes.get_errno()
    raise OSError(e, "%s: %s" % (what, os.strerror(e)))


libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
libc.getxattr.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
libc.getxattr.restype = ctypes.c_ssize_t
libc.listxattr.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
libc.listxattr.restype = ctypes.c_ssize_t


def fsenc(p):
    return p if isinstance(p, bytes) else os.fsencode(p)


def renameat2(old, new, flags):
    if libc.renameat2(AT_FDCWD, fsenc(old), AT_FDCWD, fsenc(new), flags) != 0:
        _raise_errno("renameat2")


def fallocate(fd, mode, off, length):
    if libc.fallocate(fd, mode, off, length) != 0:
        _raise_errno("fallocate")


def getxattr_into(path, name, size):
    """getxattr(2) with a buffer of exactly size bytes; returns the length."""
    buf = ctypes.create_string_buffer(max(size, 1))
    n = libc.getxattr(fsenc(path), fsenc(name), buf if size else None, size)
    if n < 0:
        _raise_errno("getxattr")
    return n


def listxattr_into(path, size):
    buf = ctypes.create_string_buffer(max(size, 1))
    n = libc.listxattr(fsenc(path), buf if size else None, size)
    if n < 0:
        _raise_errno("listxattr")
    return n


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


libc.utimensat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(Timespec), ctypes.c_int]


def utimensat(path, atime, mtime):
    """atime/mtime: nanoseconds, or ("now",) / ("omit",)."""
    ts = (Timespec * 2)()
    for i, t in enumerate((atime, mtime)):
        if t == "now":
            ts[i].tv_sec, ts[i].tv_nsec = 0, UTIME_NOW
        elif t == "omit":
            ts[i].tv_sec, ts[i].tv_nsec = 0, UTIME_OMIT
        else:
            ts[i].tv_sec, ts[i].tv_nsec = divmod(t, 10**9)
    if libc.utimensat(AT_FDCWD, fsenc(path), ts, 0) != 0:
        _raise_errno("utimensat")


class Dirent(ctypes.Structure):
    # glibc's struct dirent on LP64 Linux (the same as dirent64)
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64), ("d_reclen", ctypes.c_ushort),
                ("d_type", ctypes.c_ubyte), ("d_name", ctypes.c_char * 256)]


libc.opendir.argtypes = [ctypes.c_char_p]
libc.opendir.restype = ctypes.c_void_p
libc.readdir.argtypes = [ctypes.c_void_p]
libc.readdir.restype = ctypes.POINTER(Dirent)
libc.telldir.argtypes = [ctypes.c_void_p]
libc.telldir.restype = ctypes.c_long
libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
libc.seekdir.restype = None
libc.rewinddir.argtypes = [ctypes.c_void_p]
libc.rewinddir.restype = None
libc.closedir.argtypes = [ctypes.c_void_p]


def readdir_one(d):
    """(name, d_ino, d_type) of the next entry, or None at the end."""
    ctypes.set_errno(0)
    p = libc.readdir(d)
    if not p:
        if ctypes.get_errno():
            _raise_errno("readdir")
        return None
    e = p.contents
    return e.d_name, e.d_ino, e.d_type


# ---- helpers ---------------------------------------------------------------

def write_file(path, data, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    finally:
        os.close(fd)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def pread_all(fd, size, off=0):
    out = bytearray()
    while len(out) < size:
        b = os.pread(fd, size - len(out), off + len(out))
        if not b:
            break
        out += b
    return bytes(out)


def drop_cache(fd_or_path):
    """Writes back and drops the page cache of one file, so the next read
    comes from the daemon, not from the kernel's copy."""
    fd = os.open(fd_or_path, os.O_RDONLY) if not isinstance(fd_or_path, int) else fd_or_path
    try:
        try:
            os.fsync(fd)
        except OSError:
            pass  # a read-only fd of a file open elsewhere: nothing dirty here
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        if fd is not fd_or_path:
            os.close(fd)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def nlink(p):
    return os.lstat(p).st_nlink


def ino(p):
    return os.lstat(p).st_ino


def subdirs(p):
    return sum(1 for e in os.scandir(p) if e.is_dir(follow_symlinks=False))


def seek(fd, off, whence):
    try:
        return os.lseek(fd, off, whence)
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


# ---- names -----------------------------------------------------------------

ODD_NAMES = [b"new\nline", b"\xff\xfe\x80\x81", b"  spaces  ", b"back\\slash", b"tab\tctl\x01\x1f\x7f",
             b"-dash", b"\xe2\x98\x83 snowman", b"...", b".hidden", b"star*?[brackets]", b"quote'\"",
             b"\\", b" ", b"\n"]


@group
def names(top, st):
    d = os.path.join(top, "names")
    os.mkdir(d)
    db = fsenc(d)
    n255 = b"n" * 250 + b"\xff" * 5
    n256 = n255 + b"x"
    p255 = os.path.join(db, n255)
    write_file(p255, b"long")
    check("a 255-byte name is created and read back", read_file(p255) == b"long")
    check("a 255-byte name is listed as given", n255 in os.listdir(db))
    other255 = b"m" * 255
    os.rename(p255, os.path.join(db, other255))
    check("rename between 255-byte names", read_file(os.path.join(db, other255)) == b"long"
          and not os.path.exists(p255))
    os.rename(os.path.join(db, other255), p255)
    p256 = os.path.join(db, n256)
    check_errno("create with a 256-byte name: ENAMETOOLONG", errno.ENAMETOOLONG,
                os.open, p256, os.O_CREAT | os.O_WRONLY, 0o644)
    check_errno("mkdir with a 256-byte name: ENAMETOOLONG", errno.ENAMETOOLONG, os.mkdir, p256)
    check_errno("symlink with a 256-byte name: ENAMETOOLONG", errno.ENAMETOOLONG, os.symlink, b"t", p256)
    check_errno("link to a 256-byte name: ENAMETOOLONG", errno.ENAMETOOLONG, os.link, p255, p256)
    check_errno("rename to a 256-byte name: ENAMETOOLONG", errno.ENAMETOOLONG, os.rename, p255, p256)
    check_errno("stat of a 256-byte name: ENAMETOOLONG", errno.ENAMETOOLONG, os.stat, p256)
    for n in ODD_NAMES:
        write_file(os.path.join(db, n), n)
    want = sorted(ODD_NAMES + [n255])
    check_eq("names with newline, 0xff, spaces, backslash, control bytes are listed exactly",
             want, sorted(os.listdir(db)))
    bad = [n for n in ODD_NAMES if read_file(os.path.join(db, n)) != n]
    check("each odd name opens its own file", not bad, "wrong content: %r" % bad)
    for n in ODD_NAMES:
        os.rename(os.path.join(db, n), os.path.join(db, n + b"~"))
    want = sorted([n + b"~" for n in ODD_NAMES] + [n255])
    check_eq("odd names renamed", want, sorted(os.listdir(db)))
    os.unlink(os.path.join(db, b"\n~"))
    check("unlink of the name \"\\n~\"", not os.path.lexists(os.path.join(db, b"\n~")))
    st["names"] = sorted(x.hex() for x in os.listdir(db))


def verify_names(top, st):
    db = fsenc(os.path.join(top, "names"))
    got = sorted(x.hex() for x in os.listdir(db))
    check_eq("after remount: the odd and 255-byte names are listed exactly", st["names"], got)
    bad = [n for n in ODD_NAMES if n != b"\n" and read_file(os.path.join(db, n + b"~")) != n]
    check("after remount: each odd name opens its own file", not bad, "wrong content: %r" % bad)


# ---- open flags --------------------------------------------------------------

@group
def open_flags(top, st, rng):
    d = os.path.join(top, "open")
    os.mkdir(d)
    f = os.path.join(d, "f")
    write_file(f, b"x" * 100)
    check_errno("O_CREAT|O_EXCL on an existing file: EEXIST", errno.EEXIST,
                os.open, f, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    check_errno("O_CREAT|O_EXCL on a directory: EEXIST", errno.EEXIST,
                os.open, d, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.symlink("nowhere", os.path.join(d, "dangling"))
    check_errno("O_CREAT|O_EXCL on a dangling symlink: EEXIST", errno.EEXIST,
                os.open, os.path.join(d, "dangling"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    check_eq("the refused O_EXCL left the file alone", b"x" * 100, read_file(f))

    # O_TRUNC of a file in blocks and of an inline one
    big = rng.randbytes(100000)
    write_file(f, big)
    fd = os.open(f, os.O_WRONLY | os.O_TRUNC)
    check_eq("O_TRUNC: fstat size 0", 0, os.fstat(fd).st_size)
    os.write(fd, b"after")
    os.close(fd)
    drop_cache(f)
    check_eq("O_TRUNC of a 100 KB file, then a write: only the new bytes", b"after", read_file(f))
    fd = os.open(f, os.O_RDWR | os.O_TRUNC)
    os.close(fd)
    check_eq("O_TRUNC of a small (inline) file", 0, os.stat(f).st_size)
    # O_RDONLY|O_TRUNC truncates on Linux too (write permission is checked)
    r = os.path.join(d, "rdonly_trunc")
    write_file(r, b"r" * 5000)
    os.close(os.open(r, os.O_RDONLY | os.O_TRUNC))
    check_eq("O_RDONLY|O_TRUNC truncates (as on Linux's local filesystems)", 0, os.stat(r).st_size)
    # O_TRUNC by a second open while the first holds unwritten (cached) data
    fd1 = os.open(f, os.O_WRONLY)
    os.write(fd1, big[:50000])
    fd2 = os.open(f, os.O_RDWR | os.O_TRUNC)
    check_eq("O_TRUNC while another fd has just written: size 0", 0, os.fstat(fd2).st_size)
    check_eq("... and nothing reads back", b"", os.pread(fd2, 100, 0))
    os.close(fd1)
    os.close(fd2)
    drop_cache(f)
    check_eq("... also from the daemon after close", b"", read_file(f))

    # O_APPEND from two fds of one process, alternating
    a = os.path.join(d, "append2")
    write_file(a, b"")
    fa = os.open(a, os.O_WRONLY | os.O_APPEND)
    fb = os.open(a, os.O_WRONLY | os.O_APPEND)
    want = bytearray()
    for i in range(300):
        for fd, tag in ((fa, b"A"), (fb, b"B")):
            rec = (tag + b"%04d" % i) * 20  # 100 bytes
            os.write(fd, rec)
            want += rec
        if i == 150:
            os.lseek(fa, 0, os.SEEK_SET)  # O_APPEND ignores the file offset
    os.close(fa)
    os.close(fb)
    drop_cache(a)
    check("O_APPEND from two fds: every write lands at the end, none lost", read_file(a) == bytes(want),
          "size %d, expected %d" % (os.stat(a).st_size, len(want)))

    # O_APPEND from two processes at once: records never overlap
    p = os.path.join(d, "append_procs")
    write_file(p, b"")
    pids = []
    for w in range(2):
        pid = os.fork()
        if pid == 0:
            try:
                fd = os.open(p, os.O_WRONLY | os.O_APPEND)
                for i in range(400):
                    rec = (b"%d:%05d|" % (w, i)).ljust(999, b"abcdefgh"[w:w + 1]) + b"\n"
                    os.write(fd, rec)
                os.close(fd)
                os._exit(0)
            except BaseException:
                os._exit(1)
        pids.append(pid)
    codes = [os.waitpid(x, 0)[1] for x in pids]
    check("two appending processes exited cleanly", codes == [0, 0], codes)
    drop_cache(p)
    data = read_file(p)
    recs = data.split(b"\n")[:-1]
    good = len(data) == 800 * 1000 and len(recs) == 800 and all(len(r) == 999 for r in recs)
    seen = {0: [], 1: []}
    for r in recs:
        w, i = r.split(b"|")[0].split(b":")
        seen[int(w)].append(int(i))
        good = good and r == (r.split(b"|")[0] + b"|").ljust(999, b"abcdefgh"[int(w):int(w) + 1])
    check("O_APPEND from two processes: 800 whole records, each writer's in order",
          good and seen[0] == list(range(400)) and seen[1] == list(range(400)),
          "size %d, %d records" % (len(data), len(recs)))
    st["append"] = {"path": "open/append2", "sha": sha(bytes(want))}

    # O_DIRECT beside a cached fd: each sees the other's writes
    dpath = os.path.join(d, "direct")
    cached = os.open(dpath, os.O_RDWR | os.O_CREAT, 0o644)
    os.write(cached, b"c" * 100000)
    direct = os.open(dpath, os.O_RDWR | os.O_DIRECT)
    buf = mmap.mmap(-1, 8192)  # page aligned, as O_DIRECT wants
    buf.write(b"D" * 8192)
    os.pwritev(direct, [buf], 3 * 16384)
    rbuf = mmap.mmap(-1, 1 << 17)
    n = os.preadv(direct, [rbuf], 0)
    want = b"c" * (3 * 16384) + b"D" * 8192 + b"c" * (100000 - 3 * 16384 - 8192)
    check("O_DIRECT read sees data written through the page cache, and its own write",
          n == 100000 and rbuf[:n] == want)
    check("... a cached fd sees the O_DIRECT write", pread_all(cached, 200000) == want)
    os.close(direct)
    os.close(cached)
    # copy_file_range inside the mount
    src = os.open(dpath, os.O_RDONLY)
    dst = os.open(os.path.join(d, "copy"), os.O_WRONLY | os.O_CREAT, 0o644)
    copied = 0
    while copied < 100000:
        k = os.copy_file_range(src, dst, 100000 - copied)
        if k == 0:
            break
        copied += k
    os.close(src)
    os.close(dst)
    check("copy_file_range within the mount copies every byte", read_file(os.path.join(d, "copy")) == want)


# ---- holes, SEEK_DATA/SEEK_HOLE, > 4 GiB, fallocate ---------------------------

def seek_valid(fd, size, data_ranges, bs, exact, label):
    """Checks SEEK_DATA/SEEK_HOLE at many offsets. data_ranges: the byte
    ranges written with data. Exact (the filesystem answers itself): the
    answers are those of 16 KiB-block granularity — a block is data when
    any byte of it was written. Otherwise only correctness: SEEK_DATA never
    skips written bytes, SEEK_HOLE never lands on a written byte."""
    def written(pos):
        return any(s <= pos < e for s, e in data_ranges)

    def block_data(b):
        return any(s < (b + 1) * bs and e > b * bs for s, e in data_ranges)

    def exact_data(off):
        b = off // bs
        while b * bs < size:
            if block_data(b):
                return max(off, b * bs)
            b += 1
        return "ENXIO"

    def exact_hole(off):
        b = off // bs
        while b * bs < size and block_data(b):
            b += 1
        return min(max(off, b * bs), size)

    probes = sorted({0, 1, bs - 1, bs, bs + 1, size - 1, size, size + 1}
                    | {x for s, e in data_ranges for x in (s - 1, s, e - 1, e) if x >= 0}
                    | {b * bs + k for b in range(size // bs + 1) for k in (0, bs // 2)})
    bad = []
    for off in probes:
        d, h = seek(fd, off, os.SEEK_DATA), seek(fd, off, os.SEEK_HOLE)
        if off >= size:
            if d != "ENXIO" or h != "ENXIO":
                bad.append("off %d (at/after EOF %d): SEEK_DATA %s SEEK_HOLE %s, want ENXIO" % (off, size, d, h))
            continue
        if exact:
            if d != exact_data(off) or h != exact_hole(off):
                bad.append("off %d: SEEK_DATA %s (want %s) SEEK_HOLE %s (want %s)"
                           % (off, d, exact_data(off), h, exact_hole(off)))
            continue
        nxt = next((max(off, s) for s, e in sorted(data_ranges) if e > off), None)
        if d == "ENXIO":
            if nxt is not None and nxt < size:
                bad.append("off %d: SEEK_DATA ENXIO but byte %d holds data" % (off, nxt))
        elif not isinstance(d, int) or d < off or d >= size or (nxt is not None and d > nxt):
            bad.append("off %d: SEEK_DATA %s skips data at %s (size %d)" % (off, d, nxt, size))
        if not isinstance(h, int) or h < off or h > size or (h < size and written(h)):
            bad.append("off %d: SEEK_HOLE %s is not a hole (size %d)" % (off, h, size))
    check("%s: SEEK_DATA/SEEK_HOLE at %d offsets (%s)" % (label, len(probes), "block-exact" if exact else "correct"),
          not bad, "\n".join(bad[:12]))


@group
def holes(top, st, rng, data_dir):
    d = os.path.join(top, "holes")
    os.mkdir(d)
    f = os.path.join(d, "past_eof")
    fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o644)
    bs = os.fstat(fd).st_blksize
    check_eq("st_blksize is the filesystem's block size (16 KiB, docs/fs.md)", 16384, bs)
    os.write(fd, b"x" * 40000)
    os.ftruncate(fd, 20000)
    os.pwrite(fd, b"y", 70000)
    want = b"x" * 20000 + bytes(50000) + b"y"
    check_eq("write past EOF after a truncate down: size", 70001, os.fstat(fd).st_size)
    check("... the gap reads as zeros, not the old bytes (page cache)", pread_all(fd, 80000) == want)
    drop_cache(fd)
    check("... and from the daemon", pread_all(fd, 80000) == want)
    os.close(fd)
    # a small (inline) file written far past its end
    g = os.path.join(d, "inline_past_eof")
    write_file(g, b"head")
    fd = os.open(g, os.O_RDWR)
    os.pwrite(fd, b"tail", 50000)
    drop_cache(fd)
    check("inline file written past its end: zeros between",
          pread_all(fd, 60000) == b"head" + bytes(50000 - 4) + b"tail")
    os.close(fd)

    # SEEK_DATA / SEEK_HOLE: data in blocks 0, 4 (not at its start) and 7,
    # a trailing hole, at first with the data just written, then synced.
    s = os.path.join(d, "sparse")
    fd = os.open(s, os.O_RDWR | os.O_CREAT, 0o644)
    ranges = [(0, 100), (4 * bs + 10, 4 * bs + 20), (7 * bs, 8 * bs)]
    for a, b in ranges:
        os.pwrite(fd, rng.randbytes(b - a).replace(b"\0", b"1"), a)
    size = 11 * bs + 5
    os.ftruncate(fd, size)
    seek_valid(fd, size, ranges, bs, False, "sparse file, data just written")
    os.fsync(fd)
    seek_valid(fd, size, ranges, bs, False, "sparse file, synced")
    # a fresh file whose size only the writes set (no truncate)
    fd2 = os.open(os.path.join(d, "sparse2"), os.O_RDWR | os.O_CREAT, 0o644)
    r2 = [(0, 100), (5 * bs + 3, 5 * bs + 4)]
    for a, b in r2:
        os.pwrite(fd2, b"d" * (b - a), a)
    seek_valid(fd2, 5 * bs + 4, r2, bs, False, "file extended only by writes, data just written")
    os.close(fd2)
    os.close(fd)
    fd = os.open(s, os.O_RDONLY)
    seek_valid(fd, size, ranges, bs, False, "sparse file, read-only fd")
    os.close(fd)
    st["sparse"] = {"path": "holes/sparse", "size": size, "ranges": ranges, "bs": bs}

    # a sparse file past 4 GiB
    big = os.path.join(d, "big")
    off = 5 * 2**30 + 123
    fd = os.open(big, os.O_RDWR | os.O_CREAT, 0o644)
    os.pwrite(fd, b"Z", off)
    os.close(fd)
    check_eq("a byte written past 5 GiB: size", off + 1, os.stat(big).st_size)
    fd = os.open(big, os.O_RDONLY)
    drop_cache(fd)
    check_eq("... reads back", b"Z", os.pread(fd, 10, off))
    check("... zeros around 4 GiB", os.pread(fd, 8192, 2**32 - 4096) == bytes(8192))
    check_eq("... nothing past the end", b"", os.pread(fd, 10, off + 1))
    os.close(fd)
    check_eq("... st_blocks is the size in 512-byte units (holes not subtracted, docs/fs.md)",
             (off + 1 + 511) // 512, os.stat(big).st_blocks)
    os.truncate(big, off - 1000)
    os.truncate(big, off + 100)
    fd = os.open(big, os.O_RDWR)
    drop_cache(fd)
    check_eq("truncate below the byte past 5 GiB and up again: it reads as zero", bytes(10), os.pread(fd, 10, off))
    os.pwrite(fd, b"Z", off)
    os.ftruncate(fd, off + 1)
    os.close(fd)
    used = store_bytes(data_dir)
    check("... the store holds far less than 5 GiB (%d MiB)" % (used >> 20), used < 512 << 20)
    st["big"] = {"path": "holes/big", "off": off}

    # fallocate
    fa = os.path.join(d, "falloc")
    write_file(fa, b"a" * 10)
    fd = os.open(fa, os.O_RDWR)
    os.posix_fallocate(fd, 0, 100000)
    check_eq("posix_fallocate grows the size", 100000, os.fstat(fd).st_size)
    fallocate(fd, 0, 200000, 50000)
    check_eq("fallocate mode 0 past EOF grows the size", 250000, os.fstat(fd).st_size)
    drop_cache(fd)
    check("... the new range reads as zeros", pread_all(fd, 300000) == b"a" * 10 + bytes(250000 - 10))
    fallocate(fd, FALLOC_FL_KEEP_SIZE, 250000, 100000)
    check_eq("fallocate KEEP_SIZE past EOF keeps the size", 250000, os.fstat(fd).st_size)
    os.close(fd)

    ph = os.path.join(d, "punch")
    content = bytearray(rng.randbytes(5 * bs).replace(b"\0", b"p"))
    write_file(ph, bytes(content))
    fd = os.open(ph, os.O_RDWR)
    a, b = bs + 100, 3 * bs + 50
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, a, b - a)
    content[a:b] = bytes(b - a)
    check_eq("PUNCH_HOLE|KEEP_SIZE keeps the size", 5 * bs, os.fstat(fd).st_size)
    check("... the range reads as zeros, the rest intact (page cache)", pread_all(fd, 6 * bs) == bytes(content))
    drop_cache(fd)
    check("... and from the daemon", pread_all(fd, 6 * bs) == bytes(content))
    seek_valid(fd, 5 * bs, [(0, a), (b, 5 * bs)], bs, False, "after a punched hole")
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4 * bs + 1, 10 * bs)
    content[4 * bs + 1:] = bytes(bs - 1)
    drop_cache(fd)
    check("PUNCH_HOLE reaching past EOF zeroes to the end, size kept",
          pread_all(fd, 6 * bs) == bytes(content) and os.fstat(fd).st_size == 5 * bs)
    for mode, name in ((FALLOC_FL_ZERO_RANGE, "ZERO_RANGE"), (FALLOC_FL_COLLAPSE_RANGE, "COLLAPSE_RANGE"),
                       (FALLOC_FL_PUNCH_HOLE, "PUNCH_HOLE without KEEP_SIZE")):
        check_errno("fallocate %s: EOPNOTSUPP (docs/fs.md)" % name, errno.EOPNOTSUPP,
                    fallocate, fd, mode, 0, bs)
    os.close(fd)
    st["punch"] = {"path": "holes/punch", "sha": sha(bytes(content)), "ranges": [(0, a), (b, 4 * bs + 1)]}
    st["falloc"] = {"path": "holes/falloc", "sha": sha(b"a" * 10 + bytes(250000 - 10))}


def store_bytes(data_dir):
    total = 0
    for root, _, files in os.walk(data_dir):
        for n in files:
            try:
                total += os.lstat(os.path.join(root, n)).st_blocks * 512
            except FileNotFoundError:
                pass  # the engine removed it meanwhile
    return total


def verify_holes(top, st, exact):
    check_eq("after remount: the file appended to through two fds", st["append"]["sha"],
             sha(read_file(os.path.join(top, st["append"]["path"]))))
    s = st["sparse"]
    p = os.path.join(top, s["path"])
    fd = os.open(p, os.O_RDONLY)
    check_eq("after remount: sparse file size", s["size"], os.fstat(fd).st_size)
    data = pread_all(fd, s["size"] + 10)
    ranges = [tuple(r) for r in s["ranges"]]
    zeros_ok = all(data[x] == 0 for x in range(len(data)) if not any(a <= x < b for a, b in ranges))
    check("after remount: sparse file holes read as zeros", zeros_ok)
    seek_valid(fd, s["size"], ranges, s["bs"], exact, "after remount")
    os.close(fd)
    b = st["big"]
    p = os.path.join(top, b["path"])
    check_eq("after remount: 5 GiB sparse file size", b["off"] + 1, os.stat(p).st_size)
    fd = os.open(p, os.O_RDONLY)
    check_eq("after remount: its last byte", b"Z", os.pread(fd, 10, b["off"]))
    if exact:
        check_eq("after remount: SEEK_DATA from 0 finds its only block", b["off"] // s["bs"] * s["bs"],
                 seek(fd, 0, os.SEEK_DATA))
    os.close(fd)
    for k in ("punch", "falloc"):
        check_eq("after remount: %s content" % k, st[k]["sha"], sha(read_file(os.path.join(top, st[k]["path"]))))
    fd = os.open(os.path.join(top, st["punch"]["path"]), os.O_RDONLY)
    seek_valid(fd, 5 * s["bs"], [tuple(r) for r in st["punch"]["ranges"]], s["bs"], exact,
               "after remount, the punched file")
    os.close(fd)


# ---- mmap --------------------------------------------------------------------

@group
def mmaps(top, st, rng):
    d = os.path.join(top, "mmap")
    os.mkdir(d)
    bs = 16384
    f = os.path.join(d, "shared")
    content = bytearray(rng.randbytes(3 * bs + 100))
    write_file(f, bytes(content))
    fd = os.open(f, os.O_RDWR)
    m = mmap.mmap(fd, len(content), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    for off, n in ((10, 50), (bs - 5, 20), (2 * bs + 7, 3000), (len(content) - 30, 30)):
        piece = rng.randbytes(n)
        m[off:off + n] = piece
        content[off:off + n] = piece
    m.flush()  # msync(MS_SYNC)
    other = os.open(f, os.O_RDONLY)
    check("MAP_SHARED write, msync: read(2) from another fd sees it", pread_all(other, len(content) + 10) == content)
    drop_cache(other)
    check("... also from the daemon (page cache dropped)", pread_all(other, len(content) + 10) == content)
    os.close(other)
    m.close()
    os.close(fd)
    st["mmap_shared"] = {"path": "mmap/shared", "sha": sha(bytes(content))}

    # ftruncate to extend, then write through a new mapping past the old end
    g = os.path.join(d, "extended")
    c2 = bytearray(rng.randbytes(1000))
    write_file(g, bytes(c2))
    fd = os.open(g, os.O_RDWR)
    os.ftruncate(fd, 5 * bs)
    c2 += bytes(5 * bs - 1000)
    m = mmap.mmap(fd, 5 * bs, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    for off, n in ((995, 20), (4 * bs + 3, 100), (5 * bs - 1, 1)):
        piece = rng.randbytes(n)
        m[off:off + n] = piece
        c2[off:off + n] = piece
    m.flush()
    m.close()
    os.close(fd)
    drop_cache(g)
    check("ftruncate up, then writes through mmap past the old end: read(2) sees them",
          read_file(g) == bytes(c2))
    st["mmap_extended"] = {"path": "mmap/extended", "sha": sha(bytes(c2))}

    # no msync at all: munmap and close, the unmount must write it back
    h = os.path.join(d, "nomsync")
    c3 = bytearray(bs * 2)
    write_file(h, bytes(c3))
    fd = os.open(h, os.O_RDWR)
    m = mmap.mmap(fd, len(c3), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    piece = rng.randbytes(5000)
    m[bs - 2500:bs + 2500] = piece
    c3[bs - 2500:bs + 2500] = piece
    m.close()
    os.close(fd)
    st["mmap_nomsync"] = {"path": "mmap/nomsync", "sha": sha(bytes(c3))}


def verify_mmaps(top, st):
    for k in ("mmap_shared", "mmap_extended", "mmap_nomsync"):
        check_eq("after remount: %s bytes written through the mapping" % k, st[k]["sha"],
                 sha(read_file(os.path.join(top, st[k]["path"]))))


# ---- locks -------------------------------------------------------------------

def flock_struct(ltype, start, length, pid=0):
    # struct flock on LP64 Linux: short l_type, short l_whence, off_t l_start,
    # off_t l_len, pid_t l_pid (and padding to 32 bytes)
    return struct.pack("hhqqi4x", ltype, os.SEEK_SET, start, length, pid)


def unpack_flock(b):
    t, _, start, length, pid = struct.unpack("hhqqi4x", b)
    return t, start, length, pid


def in_child(fn):
    """Forks; the child runs fn(ready_w, go_r) and exits 0 on success.
    Returns (pid, ready_r, go_w): read a byte from ready_r when the child
    is ready, write one to go_w to let it finish."""
    rr, rw = os.pipe()
    gr, gw = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(rr)
            os.close(gw)
            fn(rw, gr)
            code = 0
        finally:
            os._exit(code)
    os.close(rw)
    os.close(gr)
    return pid, rr, gw


@group
def locks(top, st):
    d = os.path.join(top, "locks")
    os.mkdir(d)
    f = os.path.join(d, "lockfile")
    write_file(f, b"l" * 1000)

    def holder_flock(ready, go):
        fd = os.open(f, os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(ready, b"1")
        os.read(go, 1)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.write(ready, b"2")
        os.read(go, 1)

    pid, ready, go = in_child(holder_flock)
    os.read(ready, 1)
    fd = os.open(f, os.O_RDWR)
    check_errno("flock LOCK_EX|LOCK_NB while another process holds LOCK_EX: EWOULDBLOCK", errno.EWOULDBLOCK,
                fcntl.flock, fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    check_errno("flock LOCK_SH|LOCK_NB meanwhile: EWOULDBLOCK", errno.EWOULDBLOCK,
                fcntl.flock, fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    os.write(go, b"1")
    os.read(ready, 1)
    check_errno("flock LOCK_EX|LOCK_NB once the holder unlocked", 0, fcntl.flock, fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.write(go, b"1")
    check_eq("flock holder exited cleanly", 0, os.waitpid(pid, 0)[1])

    def holder_posix(ready, go):
        fd = os.open(f, os.O_RDWR)
        fcntl.fcntl(fd, fcntl.F_SETLK, flock_struct(fcntl.F_WRLCK, 0, 100))
        os.write(ready, b"1")
        os.read(go, 1)

    pid, ready, go = in_child(holder_posix)
    os.read(ready, 1)
    check_errno("F_SETLK write lock on [50,150) held by another process on [0,100): EAGAIN", errno.EAGAIN,
                fcntl.fcntl, fd, fcntl.F_SETLK, flock_struct(fcntl.F_WRLCK, 50, 100))
    check_errno("F_SETLK read lock on [50,60) meanwhile: EAGAIN", errno.EAGAIN,
                fcntl.fcntl, fd, fcntl.F_SETLK, flock_struct(fcntl.F_RDLCK, 50, 10))
    check_errno("F_SETLK write lock on [100,200) (no overlap) succeeds", 0,
                fcntl.fcntl, fd, fcntl.F_SETLK, flock_struct(fcntl.F_WRLCK, 100, 100))
    t, start, length, lpid = unpack_flock(fcntl.fcntl(fd, fcntl.F_GETLK, flock_struct(fcntl.F_WRLCK, 0, 50)))
    check_eq("F_GETLK reports the holder: type, range, pid", (fcntl.F_WRLCK, 0, 100, pid), (t, start, length, lpid))
    os.write(go, b"1")
    check_eq("fcntl lock holder exited cleanly", 0, os.waitpid(pid, 0)[1])
    t = unpack_flock(fcntl.fcntl(fd, fcntl.F_GETLK, flock_struct(fcntl.F_WRLCK, 0, 50)))[0]
    check_eq("F_GETLK after the holder exited: F_UNLCK", fcntl.F_UNLCK, t)
    check_errno("F_SETLK on [0,100) after the holder exited", 0,
                fcntl.fcntl, fd, fcntl.F_SETLK, flock_struct(fcntl.F_WRLCK, 0, 100))
    os.close(fd)


# ---- rename ------------------------------------------------------------------

@group
def renames(top, st):
    r = os.path.join(top, "rename")
    os.mkdir(r)
    j = lambda *p: os.path.join(r, *p)  # noqa: E731
    write_file(j("a"), b"A")
    write_file(j("b"), b"B")
    os.link(j("b"), j("b2"))
    ia = ino(j("a"))
    os.rename(j("a"), j("b"))
    check("rename over an existing file: the name holds the source",
          read_file(j("b")) == b"A" and ino(j("b")) == ia and not os.path.exists(j("a")))
    check_eq("... the replaced file lost one link (its other name remains)", (1, b"B"),
             (nlink(j("b2")), read_file(j("b2"))))

    os.makedirs(j("d1", "sub"))
    write_file(j("d1", "f"), b"in d1")
    os.mkdir(j("d2"))
    st.setdefault("gone_inos", []).append(ino(j("d2")))
    n0 = nlink(r)
    os.rename(j("d1"), j("d2"))
    check("rename a directory over an empty one", read_file(j("d2", "f")) == b"in d1" and not os.path.exists(j("d1")))
    check_eq("... the parent lost one link", n0 - 1, nlink(r))
    os.mkdir(j("d3"))
    write_file(j("d3", "keep"), b"k")
    os.mkdir(j("d4"))
    check_errno("rename a directory over a non-empty one: ENOTEMPTY", errno.ENOTEMPTY, os.rename, j("d4"), j("d3"))
    check_errno("rename a directory into its own subtree: EINVAL", errno.EINVAL,
                os.rename, j("d2"), j("d2", "sub", "x"))
    check_errno("rename a directory onto itself inside: EINVAL", errno.EINVAL, os.rename, j("d2"), j("d2", "sub"))
    check_errno("rename a file over a directory: EISDIR", errno.EISDIR, os.rename, j("b2"), j("d4"))
    check_errno("rename a directory over a file: ENOTDIR", errno.ENOTDIR, os.rename, j("d4"), j("b2"))
    os.link(j("b2"), j("b3"))
    os.rename(j("b2"), j("b3"))  # two links to one inode: nothing happens
    check("rename between two links of one file changes nothing",
          os.path.exists(j("b2")) and os.path.exists(j("b3")) and nlink(j("b2")) == 2)

    write_file(j("x"), b"X")
    write_file(j("y"), b"Y")
    check_errno("RENAME_NOREPLACE onto an existing name: EEXIST", errno.EEXIST,
                renameat2, j("x"), j("y"), RENAME_NOREPLACE)
    check("... both files unchanged", read_file(j("x")) == b"X" and read_file(j("y")) == b"Y")
    check_errno("RENAME_NOREPLACE onto a free name", 0, renameat2, j("x"), j("x2"), RENAME_NOREPLACE)
    ix, iy = ino(j("x2")), ino(j("y"))
    renameat2(j("x2"), j("y"), RENAME_EXCHANGE)
    check("RENAME_EXCHANGE of two files swaps them",
          (read_file(j("x2")), read_file(j("y")), ino(j("x2")), ino(j("y"))) == (b"Y", b"X", iy, ix))
    check_errno("RENAME_EXCHANGE with a missing target: ENOENT", errno.ENOENT,
                renameat2, j("y"), j("nope"), RENAME_EXCHANGE)
    check_errno("RENAME_NOREPLACE|RENAME_EXCHANGE: EINVAL", errno.EINVAL, renameat2, j("y"), j("x2"),
                RENAME_NOREPLACE | RENAME_EXCHANGE)
    check_errno("RENAME_WHITEOUT (not supported, docs/fs.md): EINVAL", errno.EINVAL, renameat2, j("y"), j("w"), 4)

    # a file and a directory in different parents trade places
    os.makedirs(j("p1"))
    os.makedirs(j("p2", "dir", "inner"))
    write_file(j("p1", "file"), b"F")
    write_file(j("p2", "dir", "inner", "g"), b"G")
    renameat2(j("p1", "file"), j("p2", "dir"), RENAME_EXCHANGE)
    check("RENAME_EXCHANGE of a file and a directory across parents",
          os.path.isdir(j("p1", "file")) and read_file(j("p2", "dir")) == b"F"
          and read_file(j("p1", "file", "inner", "g")) == b"G")
    check_eq("... link counts of both parents (p1 gained a subdirectory, p2 lost one)", (3, 2),
             (nlink(j("p1")), nlink(j("p2"))))
    check_eq("... '..' of the moved directory is its new parent", ino(j("p1")), ino(j("p1", "file", "..")))
    os.makedirs(j("q1", "da"))
    os.makedirs(j("q2", "db", "x"))
    renameat2(j("q1", "da"), j("q2", "db"), RENAME_EXCHANGE)
    check("RENAME_EXCHANGE of two directories across parents",
          os.path.isdir(j("q1", "da", "x")) and os.path.isdir(j("q2", "db")) and not os.listdir(j("q2", "db")))
    check_eq("... '..' of both follow", (ino(j("q1")), ino(j("q2"))),
             (ino(j("q1", "da", "..")), ino(j("q2", "db", ".."))))
    check_eq("... parents' link counts unchanged", (3, 3), (nlink(j("q1")), nlink(j("q2"))))
    check_errno("RENAME_EXCHANGE of a directory with its own descendant: EINVAL", errno.EINVAL,
                renameat2, j("q1"), j("q1", "da", "x"), RENAME_EXCHANGE)

    # moving directories between parents keeps link counts
    os.makedirs(j("A", "s1"))
    os.makedirs(j("A", "s2"))
    os.makedirs(j("B"))
    os.rename(j("A", "s1"), j("B", "s1"))
    os.rename(j("A", "s2"), j("B", "t2"))
    os.mkdir(j("A", "s3"))
    check_eq("after moving two directories from A to B: nlink of A, B, rename/", (3, 4, 2 + subdirs(r)),
             (nlink(j("A")), nlink(j("B")), nlink(r)))
    check_eq("... '..' of a moved directory", ino(j("B")), ino(j("B", "s1", "..")))
    dots = {e[1]: e[2] for e in listing(j("B", "s1"))}
    check_eq("... and readdir's '..' entry of it", ino(j("B")), dots[b".."])
    st["rename"] = {
        "nlinks": {p: nlink(j(p)) for p in ("A", "B", "p1", "p2", "q1", "q2", ".")},
        "dotdot": {p: os.path.dirname(p) for p in ("B/s1", "B/t2", "p1/file", "q1/da", "q2/db")},
        "files": {"b": "A", "b2": "B", "x2": "Y", "y": "X", "p2/dir": "F", "p1/file/inner/g": "G"},
    }


def verify_renames(top, st):
    r = os.path.join(top, "rename")
    s = st["rename"]
    got = {p: nlink(os.path.join(r, p)) for p in s["nlinks"]}
    check_eq("after remount: directory link counts after the renames", s["nlinks"], got)
    bad = [p for p, par in s["dotdot"].items()
           if ino(os.path.join(r, p, "..")) != ino(os.path.join(r, par))]
    check("after remount: '..' of every moved directory", not bad, bad)
    got = {p: read_file(os.path.join(r, p)).decode() for p in s["files"]}
    check_eq("after remount: renamed and exchanged files", s["files"], got)


# ---- hard links, unlinked open files -------------------------------------------

@group
def links(top, st):
    d = os.path.join(top, "links")
    os.mkdir(d)
    j = lambda *p: os.path.join(d, *p)  # noqa: E731
    write_file(j("f"), b"shared")
    os.link(j("f"), j("g"))
    os.mkdir(j("sub"))
    os.link(j("g"), j("sub", "h"))
    check_eq("three hard links: nlink 3 on every name", [3, 3, 3], [nlink(j(p)) for p in ("f", "g", "sub/h")])
    check("... one inode", len({ino(j(p)) for p in ("f", "g", "sub/h")}) == 1)
    os.unlink(j("f"))
    check_eq("unlink one name: the others keep the data, nlink 2", [(2, b"shared")] * 2,
             [(nlink(j(p)), read_file(j(p))) for p in ("g", "sub/h")])
    check_errno("link to a directory: EPERM", errno.EPERM, os.link, j("sub"), j("subdir_link"))
    check_errno("link onto an existing name: EEXIST", errno.EEXIST, os.link, j("g"), j("sub", "h"))
    st["links"] = {"g": 2, "sub/h": 2}


@group
def unlinked_open(top, st, rng):
    d = os.path.join(top, "orphan")
    os.mkdir(d)
    f = os.path.join(d, "tmp")
    fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o600)
    data = bytearray(rng.randbytes(100000))
    os.write(fd, data)
    st["orphan_ino"] = os.fstat(fd).st_ino
    os.unlink(f)
    check("unlinked while open: the name is gone", not os.path.exists(f) and os.listdir(d) == [])
    check_eq("... fstat says nlink 0", 0, os.fstat(fd).st_nlink)
    more = rng.randbytes(50000)
    os.write(fd, more)
    data += more
    os.fsync(fd)
    check("... writes after the unlink read back (page cache)", pread_all(fd, 200000) == data)
    drop_cache(fd)
    check("... and from the daemon", pread_all(fd, 200000) == data)
    fd2 = os.open("/proc/self/fd/%d" % fd, os.O_RDWR)  # a second open of the orphan
    os.pwrite(fd2, b"second", 10)
    data[10:16] = b"second"
    os.ftruncate(fd2, 120000)
    del data[120000:]
    drop_cache(fd)
    check("... a second open (through /proc) writes and truncates it",
          pread_all(fd, 200000) == data and os.fstat(fd).st_size == 120000)
    os.close(fd2)
    check("... still readable after the second fd closed", pread_all(fd, 200000) == data)
    os.setxattr(fd, "user.orphan", b"attr of an unlinked file")
    check_eq("... fsetxattr/fgetxattr on it", b"attr of an unlinked file", os.getxattr(fd, "user.orphan"))
    os.close(fd)

    # a file replaced by a rename while open stays readable through its fd
    old = rng.randbytes(40000)
    write_file(os.path.join(d, "victim"), old)
    fd = os.open(os.path.join(d, "victim"), os.O_RDONLY)
    gone = [st["orphan_ino"], os.fstat(fd).st_ino]
    write_file(os.path.join(d, "new"), b"replacement")
    os.rename(os.path.join(d, "new"), os.path.join(d, "victim"))
    check_eq("rename over an open file: the name has the new file", b"replacement",
             read_file(os.path.join(d, "victim")))
    drop_cache(fd)
    check("... the old file reads on through its fd, nlink 0",
          pread_all(fd, 50000) == old and os.fstat(fd).st_nlink == 0)
    os.close(fd)
    # written through a shared mapping after the unlink, read back, then
    # unmapped and closed
    fd = os.open(os.path.join(d, "mapped"), os.O_RDWR | os.O_CREAT, 0o644)
    os.ftruncate(fd, 3 * 16384)
    gone.append(os.fstat(fd).st_ino)
    m = mmap.mmap(fd, 3 * 16384, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    os.unlink(os.path.join(d, "mapped"))
    m[16000:17000] = b"M" * 1000
    m.flush()
    drop_cache(fd)
    check_eq("a mapped file written through the mapping after its unlink reads back", b"M" * 1000,
             os.pread(fd, 1000, 16000))
    m.close()
    os.close(fd)
    # Their inodes, blocks, xattrs and orphan records must be gone once
    # closed; the shell checks the store with `lsmer dump` after the unmount.
    st.setdefault("gone_inos", []).extend(gone)


# ---- symlinks, special files -------------------------------------------------

@group
def symlinks(top, st):
    d = os.path.join(top, "symlinks")
    os.mkdir(d)
    j = lambda *p: os.path.join(d, *p)  # noqa: E731
    os.symlink("target/of/link", j("s"))
    check_eq("readlink", "target/of/link", os.readlink(j("s")))
    check_eq("lstat: a symlink whose size is its target's length", (True, 14),
             (stat.S_ISLNK(os.lstat(j("s")).st_mode), os.lstat(j("s")).st_size))
    long_t = ("d" * 99 + "/") * 40 + "e" * 95  # 4095 bytes
    os.symlink(long_t, j("long"))
    check_eq("a 4095-byte target reads back", long_t, os.readlink(j("long")))
    check_eq("... lstat size 4095", 4095, os.lstat(j("long")).st_size)
    check_errno("a 4096-byte target: ENAMETOOLONG", errno.ENAMETOOLONG, os.symlink, long_t + "f", j("toolong"))
    odd = b"\xff\n \\odd"
    os.symlink(odd, fsenc(j("odd")))
    check_eq("a target with 0xff, newline, backslash", odd, os.readlink(fsenc(j("odd"))))
    os.mkdir(j("realdir"))
    write_file(j("realdir", "f"), b"via link")
    os.symlink("realdir", j("dirlink"))
    check_eq("a path through a symlink to a directory", b"via link", read_file(j("dirlink", "f")))
    check_errno("open of a symlink with O_NOFOLLOW: ELOOP", errno.ELOOP, os.open, j("s"), os.O_RDONLY | os.O_NOFOLLOW)
    st["symlinks"] = {"s": "target/of/link", "long": long_t, "odd": odd.hex()}


def verify_symlinks(top, st):
    d = os.path.join(top, "symlinks")
    s = st["symlinks"]
    got = (os.readlink(os.path.join(d, "s")), os.readlink(os.path.join(d, "long")),
           os.readlink(fsenc(os.path.join(d, "odd"))).hex(), os.lstat(os.path.join(d, "long")).st_size)
    check_eq("after remount: symlink targets (and a 4095-byte one's lstat size)",
             (s["s"], s["long"], s["odd"], 4095), got)


@group
def special(top, st):
    d = os.path.join(top, "special")
    os.mkdir(d)
    j = lambda *p: os.path.join(d, *p)  # noqa: E731
    os.mkfifo(j("fifo"), 0o644)
    check("mkfifo makes a FIFO", stat.S_ISFIFO(os.lstat(j("fifo")).st_mode))
    msg = bytes(range(256)) * 800  # 200 KiB: more than a pipe buffer

    def writer(ready, go):
        fd = os.open(j("fifo"), os.O_WRONLY)
        os.write(ready, b"1")
        view = memoryview(msg)
        while view:
            view = view[os.write(fd, view):]
        os.close(fd)

    pid, ready, go = in_child(writer)
    fd = os.open(j("fifo"), os.O_RDONLY)
    got = bytearray()
    while True:
        b = os.read(fd, 65536)
        if not b:
            break
        got += b
    os.close(fd)
    os.close(go)
    check_eq("a writer and a reader through the FIFO: 200 KiB, in order", (0, sha(msg)),
             (os.waitpid(pid, 0)[1], sha(bytes(got))))

    cwd = os.getcwd()
    os.chdir(d)  # unix socket paths are short (108 bytes): bind relative
    try:
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind("sock")
        srv.listen(1)
        check("a unix socket bound in the mount is a socket", stat.S_ISSOCK(os.lstat("sock").st_mode))
        cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        cli.connect("sock")
        conn, _ = srv.accept()
        cli.sendall(b"ping")
        got = conn.recv(4)
        conn.sendall(b"pong")
        back = cli.recv(4)
        check_eq("... a client connects through it and both directions carry data", (b"ping", b"pong"), (got, back))
        for s in (cli, conn, srv):
            s.close()
    finally:
        os.chdir(cwd)

    os.mknod(j("regular"), stat.S_IFREG | 0o640)
    check_eq("mknod S_IFREG makes an empty regular file", (True, 0o640, 0),
             (stat.S_ISREG(os.lstat(j("regular")).st_mode), stat.S_IMODE(os.lstat(j("regular")).st_mode),
              os.lstat(j("regular")).st_size))
    if os.geteuid() == 0:
        os.mknod(j("null"), stat.S_IFCHR | 0o666, os.makedev(1, 3))
        s = os.lstat(j("null"))
        check_eq("mknod S_IFCHR 1,3 (root): a character device with that rdev", (True, os.makedev(1, 3)),
                 (stat.S_ISCHR(s.st_mode), s.st_rdev))
        os.mknod(j("loop"), stat.S_IFBLK | 0o600, os.makedev(7, 200))
        s = os.lstat(j("loop"))
        check_eq("mknod S_IFBLK 7,200: a block device with that rdev", (True, os.makedev(7, 200)),
                 (stat.S_ISBLK(s.st_mode), s.st_rdev))
        if os.statvfs(d).f_flag & os.ST_NODEV:
            check_errno("opening the device on a nodev mount: EACCES", errno.EACCES, os.open, j("null"), os.O_WRONLY)
        else:
            fd = os.open(j("null"), os.O_WRONLY)
            check_eq("writing to the character device (it is /dev/null)", 5, os.write(fd, b"hello"))
            os.close(fd)
    else:
        print("SKIP mknod of devices: not root")


def verify_special(top, st):
    d = os.path.join(top, "special")
    check("after remount: the FIFO", stat.S_ISFIFO(os.lstat(os.path.join(d, "fifo")).st_mode))
    check("after remount: the socket node", stat.S_ISSOCK(os.lstat(os.path.join(d, "sock")).st_mode))
    cwd = os.getcwd()
    os.chdir(d)
    try:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        check_errno("... connecting to it with nobody listening: ECONNREFUSED", errno.ECONNREFUSED, c.connect, "sock")
        c.close()
    finally:
        os.chdir(cwd)
    if os.geteuid() == 0:
        check_eq("after remount: device numbers", (os.makedev(1, 3), os.makedev(7, 200)),
                 (os.lstat(os.path.join(d, "null")).st_rdev, os.lstat(os.path.join(d, "loop")).st_rdev))


# ---- xattrs ------------------------------------------------------------------

@group
def xattrs(top, st, rng):
    d = os.path.join(top, "xattr")
    os.mkdir(d)
    f = os.path.join(d, "f")
    write_file(f, b"x")
    os.setxattr(f, "user.a", b"1")
    os.setxattr(f, "user.bin", b"\x00\xff\x00binary")
    os.setxattr(f, "user.empty", b"")
    check_eq("setxattr/getxattr: values as set (binary, empty)", [b"1", b"\x00\xff\x00binary", b""],
             [os.getxattr(f, n) for n in ("user.a", "user.bin", "user.empty")])
    check_eq("listxattr names them", ["user.a", "user.bin", "user.empty"], sorted(os.listxattr(f)))
    os.removexattr(f, "user.a")
    check_errno("removexattr: then getxattr gives ENODATA", errno.ENODATA, os.getxattr, f, "user.a")
    check_errno("removexattr of a missing name: ENODATA", errno.ENODATA, os.removexattr, f, "user.a")
    check_errno("XATTR_CREATE on an existing name: EEXIST", errno.EEXIST,
                os.setxattr, f, "user.bin", b"new", os.XATTR_CREATE)
    check_errno("XATTR_REPLACE on a missing name: ENODATA", errno.ENODATA,
                os.setxattr, f, "user.missing", b"v", os.XATTR_REPLACE)
    os.setxattr(f, "user.bin", b"replaced", os.XATTR_REPLACE)
    os.setxattr(f, "user.new", b"created", os.XATTR_CREATE)
    check_eq("XATTR_REPLACE and XATTR_CREATE where they apply", [b"replaced", b"created"],
             [os.getxattr(f, "user.bin"), os.getxattr(f, "user.new")])
    check_eq("getxattr with size 0 reports the length", 8, getxattr_into(f, "user.bin", 0))
    check_errno("getxattr with a too-small buffer: ERANGE", errno.ERANGE, getxattr_into, f, "user.bin", 4)
    check_eq("getxattr with an exact buffer", 8, getxattr_into(f, "user.bin", 8))
    need = listxattr_into(f, 0)
    check_eq("listxattr size 0 reports the length", len(b"user.bin\0user.empty\0user.new\0"), need)
    check_errno("listxattr with a too-small buffer: ERANGE", errno.ERANGE, listxattr_into, f, need - 1)

    big = rng.randbytes(65536)
    os.setxattr(f, "user.big", big)
    check("a 64 KiB value (the documented limit) reads back", os.getxattr(f, "user.big") == big)
    check_errno("a 64 KiB + 1 value: E2BIG", errno.E2BIG, os.setxattr, f, "user.big2", big + b"x")
    name255 = "user." + "n" * 250
    os.setxattr(f, name255, b"long name")
    check_eq("a 255-byte attribute name", b"long name", os.getxattr(f, name255))
    check_errno("a 256-byte attribute name: ERANGE", errno.ERANGE, os.setxattr, f, name255 + "x", b"v")
    os.setxattr(d, "user.ondir", b"dir value")
    check_eq("an attribute on a directory", b"dir value", os.getxattr(d, "user.ondir"))
    if os.geteuid() == 0:
        os.setxattr(f, "trusted.t", b"root only")
        check_eq("a trusted.* attribute (root)", b"root only", os.getxattr(f, "trusted.t"))
    many = os.path.join(d, "many")
    write_file(many, b"")
    for i in range(200):
        os.setxattr(many, "user.k%03d" % i, b"v%d" % i)
    check_eq("200 attributes on one file are all listed", ["user.k%03d" % i for i in range(200)],
             sorted(os.listxattr(many)))
    st["xattr"] = {
        "f": {n: os.getxattr(f, n).hex() for n in os.listxattr(f)},
        "many": 200,
        "dir": "dir value",
    }


def verify_xattrs(top, st):
    d = os.path.join(top, "xattr")
    f = os.path.join(d, "f")
    got = {n: os.getxattr(f, n).hex() for n in os.listxattr(f)}
    check_eq("after remount: every attribute and value (64 KiB one included), removed ones absent",
             st["xattr"]["f"], got)
    check_eq("after remount: 200 attributes", st["xattr"]["many"], len(os.listxattr(os.path.join(d, "many"))))
    check_eq("after remount: the directory's attribute", b"dir value", os.getxattr(d, "user.ondir"))


# ---- times, modes, owners ------------------------------------------------------

@group
def times_owners(top, st):
    d = os.path.join(top, "times")
    os.mkdir(d)
    j = lambda *p: os.path.join(d, *p)  # noqa: E731
    write_file(j("f"), b"t")
    a_ns, m_ns = 1234567890123456789, 1600000000987654321
    os.utime(j("f"), ns=(a_ns, m_ns))
    s = os.stat(j("f"))
    check_eq("utimensat with nanoseconds: atime and mtime exact", (a_ns, m_ns), (s.st_atime_ns, s.st_mtime_ns))
    pre = -1000000001  # 1969-12-31 23:59:58.999999999
    os.utime(j("f"), ns=(a_ns, pre))
    check_eq("a time before 1970, to the nanosecond", pre, os.stat(j("f")).st_mtime_ns)
    utimensat(j("f"), "omit", m_ns)
    s = os.stat(j("f"))
    check_eq("UTIME_OMIT for atime: atime kept, mtime set", (a_ns, m_ns), (s.st_atime_ns, s.st_mtime_ns))
    before = time.time_ns()
    utimensat(j("f"), a_ns, "now")
    s = os.stat(j("f"))
    check("UTIME_NOW for mtime (atime given): mtime is now, atime as given",
          s.st_atime_ns == a_ns and before - 10**9 <= s.st_mtime_ns <= time.time_ns() + 10**9,
          "atime %d mtime %d now %d" % (s.st_atime_ns, s.st_mtime_ns, before))
    utimensat(j("f"), "now", "omit")
    s2 = os.stat(j("f"))
    check("UTIME_NOW for atime, UTIME_OMIT for mtime",
          s2.st_mtime_ns == s.st_mtime_ns and s2.st_atime_ns >= before - 10**9)
    m0 = os.stat(d).st_mtime_ns
    time.sleep(0.01)
    write_file(j("new"), b"")
    check("creating a file moves its directory's mtime", os.stat(d).st_mtime_ns > m0)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    check_errno("fsync of a directory", 0, os.fsync, dfd)
    os.close(dfd)
    os.utime(j("f"), ns=(a_ns, m_ns))
    read_file(j("f"))
    drop_cache(j("f"))
    check_eq("reading does not move atime (like noatime, docs/fs.md)", a_ns, os.stat(j("f")).st_atime_ns)
    c0 = os.stat(j("f")).st_ctime_ns
    time.sleep(0.01)
    os.setxattr(j("f"), "user.t", b"1")
    check("setxattr moves ctime", os.stat(j("f")).st_ctime_ns > c0)
    c0 = os.stat(j("f")).st_ctime_ns
    time.sleep(0.01)
    os.chmod(j("f"), 0o4751)
    s = os.stat(j("f"))
    check_eq("chmod 4751: mode", 0o4751, stat.S_IMODE(s.st_mode))
    check("... ctime moved", s.st_ctime_ns > c0)
    st["times"] = {"a": a_ns, "m": m_ns}
    # times the kernel shows right after writes must be the ones stored:
    # write, close, then at once another write (within the same tick of
    # the kernel's clock), an mmap write, a fallocate, an O_TRUNC
    os.mkdir(j("quick"))
    seen = {}
    for i in range(40):
        p = j("quick", "q%d" % i)
        write_file(p, b"first")
        fd = os.open(p, os.O_RDWR | (os.O_TRUNC if i % 4 == 3 else 0))
        if i % 4 == 0:
            os.pwrite(fd, b"second", 100000)
        elif i % 4 == 1:
            os.ftruncate(fd, 8192)
            m = mmap.mmap(fd, 8192, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            m[10:20] = b"0123456789"
            m.close()
        elif i % 4 == 2:
            fallocate(fd, 0, 0, 70000)
        os.close(fd)
        s = os.stat(p)
        seen["q%d" % i] = [s.st_mtime_ns, s.st_ctime_ns]
    st["quick"] = seen
    os.utime(j("f"), ns=(a_ns, m_ns))
    if os.geteuid() == 0:
        os.chown(j("f"), 1234, 5678)
        s = os.stat(j("f"))
        check_eq("chown (root) to another uid and gid", (1234, 5678), (s.st_uid, s.st_gid))
        check_eq("... clears setuid", 0o751, stat.S_IMODE(s.st_mode))
        write_file(j("g"), b"g")
        os.chmod(j("g"), 0o2745)  # setgid without group execute: not cleared
        os.chown(j("g"), 42, -1)
        check_eq("chown keeps setgid without group execute", (42, 0o2745),
                 (os.stat(j("g")).st_uid, stat.S_IMODE(os.stat(j("g")).st_mode)))
        os.chown(j("g"), -1, -1)
        check_eq("chown -1 -1 changes nothing", 42, os.stat(j("g")).st_uid)
        os.mkdir(j("dir"))
        os.chmod(j("dir"), 0o3775)
        os.chown(j("dir"), 7, 8)
        check_eq("chown of a directory keeps its setgid and sticky bits", (7, 8, 0o3775),
                 (os.stat(j("dir")).st_uid, os.stat(j("dir")).st_gid, stat.S_IMODE(os.stat(j("dir")).st_mode)))
        os.symlink("f", j("ln"))
        os.utime(j("ln"), ns=(5 * 10**9 + 1, 6 * 10**9 + 2), follow_symlinks=False)
        check_eq("utimensat AT_SYMLINK_NOFOLLOW sets the symlink's times, not the target's",
                 (5 * 10**9 + 1, 6 * 10**9 + 2, m_ns),
                 (os.lstat(j("ln")).st_atime_ns, os.lstat(j("ln")).st_mtime_ns, os.stat(j("f")).st_mtime_ns))
        os.chown(j("ln"), 99, 98, follow_symlinks=False)
        check_eq("lchown of a symlink, its target untouched", (99, 98, 1234),
                 (os.lstat(j("ln")).st_uid, os.lstat(j("ln")).st_gid, os.stat(j("f")).st_uid))
        st["owners"] = {"f": [1234, 5678, 0o751], "g": [42, os.stat(j("g")).st_gid, 0o2745], "dir": [7, 8, 0o3775]}
    else:
        print("SKIP chown to other users: not root")
    # Setuid/setgid cleared by a write of another, unprivileged user:
    # mount-tests/t_perms.sh checks it (it runs as two unprivileged uids).


def verify_times_owners(top, st):
    d = os.path.join(top, "times")
    s = os.stat(os.path.join(d, "f"))
    check_eq("after remount: nanosecond atime and mtime", (st["times"]["a"], st["times"]["m"]),
             (s.st_atime_ns, s.st_mtime_ns))
    got = {}
    for n in st["quick"]:
        s = os.stat(os.path.join(d, "quick", n))
        got[n] = [s.st_mtime_ns, s.st_ctime_ns]
    bad = {n: (st["quick"][n], got[n]) for n in got if got[n] != st["quick"][n]}
    check("after remount: mtime and ctime of 40 files written (write, mmap, fallocate, O_TRUNC) right after their "
          "creation are those stat showed before", not bad,
          "\n".join("%s: before %s, after %s" % (n, a, b) for n, (a, b) in sorted(bad.items())[:10]))
    if "owners" in st:
        got = {}
        for p in st["owners"]:
            s = os.stat(os.path.join(d, p))
            got[p] = [s.st_uid, s.st_gid, stat.S_IMODE(s.st_mode)]
        check_eq("after remount: owners, groups and modes", st["owners"], got)


# ---- readdir -------------------------------------------------------------------

def rmdir_cwd(top):
    """A directory removed while a process has it as its working directory:
    nothing can be created in it any more."""
    d = os.path.join(top, "cwd")
    os.mkdir(d)
    gone = ino(d)

    def inside(ready, go):
        os.chdir(d)
        os.write(ready, b"1")
        os.read(go, 1)
        res = [err_of(os.open, "x", os.O_CREAT | os.O_WRONLY, 0o644), err_of(os.mkdir, "sub"),
               len(os.listdir(".")), os.stat(".").st_nlink]
        os.write(ready, json.dumps(res).encode())

    pid, ready, go = in_child(inside)
    os.read(ready, 1)
    os.rmdir(d)
    os.write(go, b"1")
    res = json.loads(os.read(ready, 1000))
    os.waitpid(pid, 0)
    return gone
    check_eq("rmdir of another process's working directory: create and mkdir in it ENOENT, it lists empty, nlink 0",
             [errno.ENOENT, errno.ENOENT, 0, 0], res)


def listing(path):
    """Every entry through opendir/readdir, with telldir before each."""
    d = libc.opendir(fsenc(path))
    if not d:
        _raise_errno("opendir")
    out = []
    try:
        while True:
            pos = libc.telldir(d)
            e = readdir_one(d)
            if e is None:
                break
            out.append((pos,) + e)
    finally:
        libc.closedir(d)
    return out


@group
def readdir(top, st, rng):
    d = os.path.join(top, "bigdir")
    os.mkdir(d)
    names = set()
    for i in range(3000):
        n = "e%05d-%s" % (i, "x" * rng.randrange(0, 120))
        names.add(n)
        if i % 10 == 9:
            os.mkdir(os.path.join(d, n))
        else:
            os.close(os.open(os.path.join(d, n), os.O_CREAT | os.O_WRONLY, 0o644))
    ents = listing(d)
    got = [e[1].decode() for e in ents]
    check("readdir of 3000 entries returns each once", len(got) == len(set(got)),
          "%d entries, %d distinct" % (len(got), len(set(got))))
    check_eq("... exactly the names created, '.' and '..'", sorted(names | {".", ".."}), sorted(got))
    by = {e[1]: e for e in ents}
    check_eq("'.' and '..' carry the inode numbers of the directory and its parent",
             (os.stat(d).st_ino, os.stat(top).st_ino), (by[b"."][2], by[b".."][2]))
    root = os.path.dirname(os.path.abspath(top))
    rd = {e[1]: e[2] for e in listing(root)}
    check_eq("the mount root lists '.' and '..' as itself", (os.stat(root).st_ino,) * 2, (rd[b"."], rd[b".."]))
    sample = rng.sample(sorted(names), 200)
    bad = [n for n in sample
           if (by[n.encode()][2], by[n.encode()][3]) != (os.lstat(os.path.join(d, n)).st_ino,
                                                         4 if os.path.isdir(os.path.join(d, n)) else 8)]
    check("d_ino and d_type of 200 entries agree with lstat", not bad, bad[:5])
    # seekdir back and forth to telldir positions in one open directory
    h = libc.opendir(fsenc(d))
    try:
        wrong = []
        picks = rng.sample(range(len(ents)), 60) + [0, len(ents) - 1, 5, len(ents) // 2]
        for k in picks:
            libc.seekdir(h, ents[k][0])
            for m in range(k, min(k + 3, len(ents))):
                e = readdir_one(h)
                if e is None or e[0] != ents[m][1]:
                    wrong.append("seekdir to entry %d, read %d: %r, want %r" % (k, m, e and e[0], ents[m][1]))
        libc.seekdir(h, ents[-1][0])
        readdir_one(h)
        end = readdir_one(h)
        libc.rewinddir(h)
        again = []
        while True:
            e = readdir_one(h)
            if e is None:
                break
            again.append(e[0])
    finally:
        libc.closedir(h)
    check("telldir/seekdir round trips at %d places in a 3002-entry listing" % len(picks), not wrong,
          "\n".join(wrong[:8]))
    check("... reading past the last entry gives the end", end is None)
    check_eq("... rewinddir lists everything again", [e[1] for e in ents], again)
    check_eq("os.listdir agrees", sorted(names), sorted(os.listdir(d)))
    check_eq("nlink of the directory: 2 + its 300 subdirectories", 302, nlink(d))
    check_errno("rmdir of a non-empty directory: ENOTEMPTY", errno.ENOTEMPTY, os.rmdir, d)
    check_errno("rmdir of a file: ENOTDIR", errno.ENOTDIR, os.rmdir, os.path.join(d, sorted(names)[0]))
    st.setdefault("gone_inos", []).append(rmdir_cwd(top))
    st["bigdir"] = {"names": sorted(names), "ino": os.stat(d).st_ino}


def verify_readdir(top, st):
    d = os.path.join(top, "bigdir")
    ents = listing(d)
    got = sorted(e[1].decode() for e in ents)
    check_eq("after remount: the 3000-entry directory lists exactly the same names once",
             sorted(st["bigdir"]["names"] + [".", ".."]), got)
    by = {e[1]: e for e in ents}
    check_eq("after remount: '.' and '..' inode numbers", (st["bigdir"]["ino"], os.stat(top).st_ino),
             (by[b"."][2], by[b".."][2]))


# ---- a deep tree -----------------------------------------------------------------

DEPTH = 200


def deep_name(i):
    return "level%03d_" % i + "p" * 40


@group
def deep(top, st):
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    inos = [os.fstat(fd).st_ino]
    for i in range(DEPTH):
        n = deep_name(i)
        os.mkdir(n, dir_fd=fd)
        nfd = os.open(n, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
        inos.append(os.fstat(fd).st_ino)
    lfd = os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(lfd, b"at the bottom")
    os.close(lfd)
    os.close(fd)
    full = os.path.join(top, *[deep_name(i) for i in range(DEPTH)], "leaf")
    check("the deep path is longer than PATH_MAX (%d bytes)" % len(full), len(full) > 4096)
    check_errno("... so the whole path is refused: ENAMETOOLONG", errno.ENAMETOOLONG, os.stat, full)
    st["deep"] = {"inos": inos}
    bottom = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for i in range(DEPTH):
        nfd = os.open(deep_name(i), os.O_RDONLY | os.O_DIRECTORY, dir_fd=bottom)
        os.close(bottom)
        bottom = nfd
    check_errno("rename the top of the 200-deep tree into its bottom: EINVAL", errno.EINVAL,
                os.rename, deep_name(0), "moved", src_dir_fd=os.open(top, os.O_RDONLY), dst_dir_fd=bottom)
    os.close(bottom)
    walk_deep(top, st, "")


def walk_deep(top, st, label):
    """Walks down with relative chdir in a child process (the parent's
    working directory stays), checking '..' at every level."""
    inos = st["deep"]["inos"]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        msg = b""
        try:
            os.chdir(top)
            for i in range(DEPTH):
                os.chdir(deep_name(i))
                if os.stat(".").st_ino != inos[i + 1] or os.stat("..").st_ino != inos[i]:
                    msg = b"level %d: inode numbers of . and .. differ" % i
                    break
            else:
                with open("leaf", "rb") as f:
                    if f.read() != b"at the bottom":
                        msg = b"leaf content differs"
                if not msg and nlink(".") != 2:
                    msg = b"bottom directory nlink %d" % nlink(".")
        except Exception as e:
            msg = repr(e).encode()
        os.write(w, msg or b"ok")
        os._exit(0)
    os.close(w)
    res = os.read(r, 4096)
    os.close(r)
    os.waitpid(pid, 0)
    check("%sdepth %d reached by relative chdir: '.'/'..' inode numbers, the leaf file" % (label, DEPTH),
          res == b"ok", res.decode(errors="replace"))
    fd = os.open(deep_name(0), os.O_RDONLY | os.O_DIRECTORY, dir_fd=os.open(top, os.O_RDONLY))
    check_errno("%srmdir of the top of the deep tree: ENOTEMPTY" % label, errno.ENOTEMPTY, os.rmdir,
                os.path.join(top, deep_name(0)))
    os.close(fd)


def remove_deep(top):
    fds = [os.open(top, os.O_RDONLY | os.O_DIRECTORY)]
    for i in range(DEPTH):
        fds.append(os.open(deep_name(i), os.O_RDONLY | os.O_DIRECTORY, dir_fd=fds[-1]))
    os.unlink("leaf", dir_fd=fds[-1])
    for i in reversed(range(DEPTH)):
        os.close(fds.pop())
        os.rmdir(deep_name(i), dir_fd=fds[-1])
    os.close(fds[0])


# ---- statfs, inode numbers --------------------------------------------------------

@group
def statfs(top, st, data_dir, rng):
    s = os.statvfs(top)
    v = os.statvfs(data_dir)
    check_eq("statfs: f_bsize is the block size, f_frsize 4096, f_namemax 255", (16384, 4096, 255),
             (s.f_bsize, s.f_frsize, s.f_namemax))
    check_eq("... f_blocks is the data volume's size", v.f_blocks * v.f_frsize, s.f_blocks * s.f_frsize)
    check("... 0 < f_bavail <= f_bfree <= f_blocks, no more than the volume has free",
          0 < s.f_bavail <= s.f_bfree <= s.f_blocks and s.f_bavail * s.f_frsize <= v.f_bavail * v.f_frsize,
          s)
    check("... f_ffree <= f_files, both positive", 0 < s.f_ffree <= s.f_files, s)
    # a large file of incompressible bytes takes space, and gives it back
    f = os.path.join(top, "statfs_big")
    before = s.f_bavail * s.f_frsize
    fd = os.open(f, os.O_WRONLY | os.O_CREAT, 0o644)
    chunk = rng.randbytes(1 << 20)
    for i in range(64):
        os.write(fd, chunk[i:] + chunk[:i])
    os.fsync(fd)
    os.close(fd)
    mid = os.statvfs(top).f_bavail * s.f_frsize
    check("writing 64 MiB lowers f_bavail by at least 48 MiB (%d MiB)" % ((before - mid) >> 20),
          before - mid >= 48 << 20)
    st["statfs"] = {"before": before, "mid": mid}
    os.unlink(f)


def inode_numbers(top, st):
    d = os.path.join(top, "inos")
    os.mkdir(d)
    write_file(os.path.join(d, "victim"), b"v")
    victim = ino(os.path.join(d, "victim"))
    os.unlink(os.path.join(d, "victim"))
    new = []
    for i in range(100):
        p = os.path.join(d, "n%d" % i)
        write_file(p, b"")
        new.append(ino(p))
    check("100 files created after an unlink do not reuse its inode number", victim not in new)
    check("... nor each other's", len(set(new)) == 100)
    st.setdefault("gone_inos", []).append(victim)
    st["inos"] = {"freed": [victim, st.get("orphan_ino", 0)], "max": max(new)}


def verify_inode_numbers(top, st):
    d = os.path.join(top, "inos")
    seen = set()
    for _, dirs, files, dfd in os.fwalk(top):  # fd-relative: paths pass PATH_MAX
        for n in dirs + files:
            seen.add(os.stat(n, dir_fd=dfd, follow_symlinks=False).st_ino)
    p = os.path.join(d, "after_remount")
    write_file(p, b"")
    i = ino(p)
    check("after remount: a new file's inode number is new (above every number handed out before)",
          i > st["inos"]["max"] and i not in seen and i not in st["inos"]["freed"],
          "new %d, max before %d" % (i, st["inos"]["max"]))


# ---- the kernel's view before an unmount against the store's after -------------

def tree_attrs(top):
    """Every name below top (relative path, hex) -> what lstat and readlink
    say, through the kernel's caches."""
    out = {}
    for root, dirs, files, dfd in os.fwalk(fsenc(top)):
        rel = os.path.relpath(root, fsenc(top))
        for n in dirs + files:
            s = os.stat(n, dir_fd=dfd, follow_symlinks=False)
            tgt = os.readlink(n, dir_fd=dfd).hex() if stat.S_ISLNK(s.st_mode) else ""
            out[os.path.join(rel, n).hex()] = [s.st_ino, s.st_mode, s.st_nlink, s.st_uid, s.st_gid, s.st_size,
                                               s.st_rdev, s.st_mtime_ns, s.st_ctime_ns, tgt]
    return out


def compare_attrs(top, old):
    want = json.load(open(old))
    got = tree_attrs(top)
    fields = ("ino", "mode", "nlink", "uid", "gid", "size", "rdev", "mtime", "ctime", "symlink")
    diffs = ["%s: only %s" % (bytes.fromhex(k), "before" if k in want else "after")
             for k in sorted(set(want) ^ set(got))]
    for k in sorted(set(want) & set(got)):
        for f, a, b in zip(fields, want[k], got[k]):
            if a != b:
                diffs.append("%s: %s %s before, %s after" % (bytes.fromhex(k), f, a, b))
    check("every name, inode number, type, mode, link count, owner, size, rdev, mtime, ctime and symlink "
          "target seen before the unmount is what the store has after it (%d names)" % len(got),
          not diffs, "\n".join(diffs[:15]))


# ---- main -------------------------------------------------------------------------

def main():
    cmd, top = sys.argv[1], sys.argv[2]
    exact = "--exact-seek" in sys.argv
    args = [a for a in sys.argv[3:] if not a.startswith("--")]
    if cmd == "live":
        data_dir, state, seed = args[0], args[1], int(args[2])
        rng = random.Random(seed)
        st = {}
        t0 = time.time()
        names(top, st)
        open_flags(top, st, rng)
        holes(top, st, rng, data_dir)
        mmaps(top, st, rng)
        locks(top, st)
        renames(top, st)
        links(top, st)
        unlinked_open(top, st, rng)
        symlinks(top, st)
        special(top, st)
        xattrs(top, st, rng)
        times_owners(top, st)
        readdir(top, st, rng)
        deep(top, st)
        statfs(top, st, data_dir, rng)
        group(inode_numbers)(top, st)
        with open(state, "w") as f:
            json.dump(st, f)
        print("# live checks took %.1f s" % (time.time() - t0))
    elif cmd == "verify":
        st = json.load(open(args[1]))
        for fn, a in ((verify_names, ()), (verify_holes, (exact,)), (verify_mmaps, ()), (verify_renames, ()),
                      (verify_symlinks, ()), (verify_special, ()), (verify_xattrs, ()),
                      (verify_times_owners, ()), (verify_readdir, ()), (verify_inode_numbers, ())):
            group(fn)(top, st, *a)
        group(lambda t, s: check_eq("after remount: hard link counts", s["links"],
                                    {p: nlink(os.path.join(t, "links", p)) for p in s["links"]}))(top, st)
        group(walk_deep)(top, st, "after remount: ")
    elif cmd == "snapshot":
        with open(args[0], "w") as f:
            json.dump(tree_attrs(top), f)
        return
    elif cmd == "compare":
        group(compare_attrs)(top, args[0])
    elif cmd == "cleanup":
        st = json.load(open(args[0]))

        @group
        def cleanup(top, st):
            remove_deep(top)
            d = os.path.join(top, "bigdir")
            for n in st["bigdir"]["names"]:
                p = os.path.join(d, n)
                (os.rmdir if os.path.isdir(p) else os.unlink)(p)
            check_eq("removing the deep tree and 3000 entries leaves an empty directory", [], os.listdir(d))
            os.rmdir(d)
            check_eq("... and the parent's link count counts what is left", 2 + subdirs(top), nlink(top))
        cleanup(top, st)
    else:
        sys.exit("usage: t_posix.py live|verify|cleanup|snapshot|compare ...")
    print("# %d checks, %d failed" % (CHECKS, FAILS))
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
