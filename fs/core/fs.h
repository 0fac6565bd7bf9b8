/*
 * fs.h — the lsmerfs core: a POSIX filesystem whose only storage is a
 * key-value store reached through kv.h (layout in keys.h, docs/fs.md).
 *
 * Every function here is plain C, callable without a mount: the FUSE glue in
 * fs/daemon only translates requests into these calls and their results into
 * replies. Each returns 0 or a negative errno, out-parameters last.
 *
 * Atomicity and durability. Every operation that changes anything commits
 * exactly one batch to the store (inode, dentry and parent times together),
 * so after a crash it is wholly there or wholly absent and link counts match
 * dentries. A batch is in the store's log (write(2)) when the call returns;
 * fs_fsync() and fs_syncfs() force it to stable storage. Operations are
 * durable in the order they committed.
 *
 * Inode numbers are never reused: they come from a counter whose next chunk
 * is recorded in the superblock before any number of it is handed out.
 *
 * References and unlinked inodes. Every call that hands out an entry
 * (fs_lookup, fs_create, fs_mkdir, fs_mknod, fs_symlink, fs_link, and each
 * full entry of a readdirplus) gives the caller one reference, dropped with
 * fs_forget() — the kernel's lookup count; fs_create and fs_open_file also
 * count an open, dropped by fs_release(). When the last link of an inode
 * goes while it is referenced, it stays with nlink 0 and an orphan key, and
 * is freed when the last reference goes; fs_open() frees orphans left by a
 * crash. An unreferenced inode is freed at once. Freeing a file costs one
 * range delete over its blocks, never a delete per block.
 *
 * Permissions are not checked here: the daemon mounts with
 * default_permissions and the kernel checks them. The core applies the rules
 * the kernel does not: sticky/setgid inheritance, clearing setuid/setgid on
 * chown and on write, and all namespace rules (EEXIST, ENOTEMPTY, EISDIR,
 * ENOTDIR, EINVAL for a directory renamed into itself, ENAMETOOLONG).
 *
 * Threads. Every function may be called from any thread. Locks, in the order
 * they are taken (never the reverse):
 *   1. fs->ns_lock        — one namespace change at a time (create, mkdir,
 *                           mknod, symlink, link, unlink, rmdir, rename)
 *   2. inode stripe locks — fs->stripe[ino % FS_STRIPES], several taken in
 *                           ascending stripe index; guard the read-modify-
 *                           write of an inode value and its blocks/xattrs
 *   3. fs->node_lock      — the table of referenced inodes (leaf)
 *   3. fs->alloc_lock     — the inode number counter (leaf)
 *   dir->lock             — one directory handle (taken alone)
 * Reads (getattr, read, readdir, getxattr) take no lock: they read a
 * snapshot of the store. Lookup takes the stripe lock of the inode it found,
 * to take its reference atomically with respect to unlink.
 */
#ifndef LSMERFS_FS_H
#define LSMERFS_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "kv.h"

struct lsmerfs;
struct fs_dir;

struct fs_options {
    uint32_t block_size;         /* for a new filesystem; default 16 KiB */
    uint32_t inline_max;         /* files up to this size live in the inode; 2 KiB */
    size_t memtable_bytes;       /* 0 = the engine's default */
    uint64_t reserve_bytes;      /* kept free on the volume; 0 = 1% up to 1 GiB */
    uint32_t root_uid, root_gid; /* owner of a new filesystem's root */
    kv_log_fn log;               /* NULL = stderr */
    int log_level;               /* 0 error .. 3 debug; default 1 (warnings) */
    void *log_arg;
    /* Called, with no lock held, when an operation changed an inode's
     * attributes in a way its reply does not carry: a write or an open
     * with O_TRUNC that cleared setuid/setgid. The daemon drops the
     * kernel's cached attributes of ino. NULL = nobody caches them. */
    void (*attr_changed)(void *arg, uint64_t ino);
    void *attr_changed_arg;
};
void fs_options_init(struct fs_options *o);

/* Who asks: the caller's credentials and umask (0 when the kernel applied
 * it already). */
struct fs_ctx {
    uint32_t uid, gid;
    pid_t pid;
    mode_t umask;
};

/* ---- the filesystem ---------------------------------------------------- */

/* Opens the filesystem stored in data_dir, creating it (superblock and root
 * directory, inode 1) in an empty or missing directory. -EBUSY if another
 * process has it open, -EINVAL if data_dir holds something that is not an
 * lsmerfs store, -EPROTO if it was made by a newer version. */
int fs_open(const char *data_dir, const struct fs_options *o, struct lsmerfs **out);
/* Syncs and closes; releases directory handles still open (an unmount
 * with a directory open never sends RELEASEDIR). */
void fs_close(struct lsmerfs *fs);
uint32_t fs_block_size(const struct lsmerfs *fs);
/* With the kernel's writeback cache the kernel keeps the mtime and ctime of
 * regular files: it stamps them when it changes their data and sends them
 * with a setattr, but only when its (coarse) clock has moved, and the data
 * it writes back may arrive after that setattr. So once this is on (the
 * daemon turns it on when the cache is negotiated), fs_write, fs_fallocate
 * and the O_TRUNC of fs_open_file leave those times alone instead of
 * stamping the store's own clock over the kernel's. Off by default. */
void fs_set_kernel_cmtime(struct lsmerfs *fs, int on);

/* ---- names and attributes --------------------------------------------- */

int fs_lookup(struct lsmerfs *fs, uint64_t parent, const char *name, struct stat *out);
/* Drops nlookup references; frees the inode if that was the last reference
 * to an unlinked inode. Unknown inodes and excess counts are ignored. */
void fs_forget(struct lsmerfs *fs, uint64_t ino, uint64_t nlookup);
int fs_getattr(struct lsmerfs *fs, uint64_t ino, struct stat *out);

/* to_set: FS_SET_* bits saying which fields of attr to apply. */
#define FS_SET_MODE (1u << 0)
#define FS_SET_UID (1u << 1)
#define FS_SET_GID (1u << 2)
#define FS_SET_SIZE (1u << 3)
#define FS_SET_ATIME (1u << 4)     /* attr->st_atim */
#define FS_SET_MTIME (1u << 5)     /* attr->st_mtim */
#define FS_SET_ATIME_NOW (1u << 6) /* the current time */
#define FS_SET_MTIME_NOW (1u << 7)
#define FS_SET_CTIME (1u << 8) /* attr->st_ctim */
int fs_setattr(struct lsmerfs *fs, uint64_t ino, const struct stat *attr, unsigned to_set,
               const struct fs_ctx *ctx, struct stat *out);

int fs_mkdir(struct lsmerfs *fs, uint64_t parent, const char *name, mode_t mode,
             const struct fs_ctx *ctx, struct stat *out);
/* Regular files, FIFOs, sockets, character and block devices. */
int fs_mknod(struct lsmerfs *fs, uint64_t parent, const char *name, mode_t mode, dev_t rdev,
             const struct fs_ctx *ctx, struct stat *out);
int fs_symlink(struct lsmerfs *fs, const char *target, uint64_t parent, const char *name,
               const struct fs_ctx *ctx, struct stat *out);
/* Copies the target into buf (size bytes) NUL-terminated; *len without the
 * NUL. -ENAMETOOLONG if it does not fit. */
int fs_readlink(struct lsmerfs *fs, uint64_t ino, char *buf, size_t size, size_t *len);
int fs_link(struct lsmerfs *fs, uint64_t ino, uint64_t newparent, const char *newname,
            const struct fs_ctx *ctx, struct stat *out);
int fs_unlink(struct lsmerfs *fs, uint64_t parent, const char *name, const struct fs_ctx *ctx);
int fs_rmdir(struct lsmerfs *fs, uint64_t parent, const char *name, const struct fs_ctx *ctx);
/* flags: 0, RENAME_NOREPLACE or RENAME_EXCHANGE (from <stdio.h>/<fcntl.h>
 * with _GNU_SOURCE; values 1 and 2). */
int fs_rename(struct lsmerfs *fs, uint64_t parent, const char *name, uint64_t newparent,
              const char *newname, unsigned flags, const struct fs_ctx *ctx);

/* ---- files ------------------------------------------------------------ */

/* Creates and opens a regular file (-EEXIST if the name exists). *fh is the
 * handle for fs_read/fs_write/fs_release: FS_FH_WRITE when flags open it
 * for writing, else 0. */
#define FS_FH_WRITE 1u
int fs_create(struct lsmerfs *fs, uint64_t parent, const char *name, mode_t mode, int flags,
              const struct fs_ctx *ctx, uint64_t *fh, struct stat *out);
/* Opens an existing inode (O_TRUNC truncates a regular file); *fh as for
 * fs_create. */
int fs_open_file(struct lsmerfs *fs, uint64_t ino, int flags, const struct fs_ctx *ctx,
                 uint64_t *fh);
/* Reads up to size bytes at off; *nread < size only at end of file. */
int fs_read(struct lsmerfs *fs, uint64_t ino, uint64_t fh, void *buf, size_t size, off_t off,
            size_t *nread);
/* Writes at off (any offset: the gap past the old end is a hole). */
int fs_write(struct lsmerfs *fs, uint64_t ino, uint64_t fh, const void *buf, size_t size, off_t off,
             const struct fs_ctx *ctx, size_t *nwritten);
/* Drops one open; the last one frees an unlinked file. */
int fs_release(struct lsmerfs *fs, uint64_t ino, uint64_t fh);
/* Forces everything committed so far to stable storage. */
int fs_fsync(struct lsmerfs *fs, uint64_t ino, int datasync);
int fs_syncfs(struct lsmerfs *fs);
/* mode 0 (extend size, unless FALLOC_FL_KEEP_SIZE) or
 * FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE; others -EOPNOTSUPP. */
int fs_fallocate(struct lsmerfs *fs, uint64_t ino, int mode, off_t off, off_t len,
                 const struct fs_ctx *ctx);
/* SEEK_DATA / SEEK_HOLE (others -EINVAL); -ENXIO at or past the end. A hole
 * is a missing block. While a handle opened for writing is open, the whole
 * file counts as data: the kernel may hold pages written through a shared
 * mmap that the store has not seen yet (it writes them back by the time
 * that handle is released), and none of them may be reported as a hole. */
int fs_lseek(struct lsmerfs *fs, uint64_t ino, off_t off, int whence, off_t *out);

/* ---- directories ------------------------------------------------------ */

/* A directory handle reads one snapshot of the directory, taken at open and
 * again whenever it is read from offset 0 (rewinddir). Offsets are positions
 * in that snapshot's name order: 0 starts, "." is entry 0, ".." entry 1, the
 * names follow sorted by their bytes; the offset passed with an entry is the
 * position of the next one. So telldir/seekdir work within a handle and
 * concurrent creates and deletes never make a listing skip or repeat. */
int fs_opendir(struct lsmerfs *fs, uint64_t ino, struct fs_dir **out);
/* Called once per entry from offset off on. full says whether st holds the
 * whole attributes (plus and the inode still exists) or only st_ino and
 * the type bits of st_mode. Return 0 to go on, nonzero to stop: that entry
 * is then not consumed (the next call starts with it). */
typedef int (*fs_dirent_fn)(void *arg, const char *name, const struct stat *st, int full,
                            off_t next_off);
int fs_readdir(struct lsmerfs *fs, struct fs_dir *dir, off_t off, int plus, fs_dirent_fn fn,
               void *arg);
void fs_releasedir(struct lsmerfs *fs, struct fs_dir *dir);
int fs_statfs(struct lsmerfs *fs, struct statvfs *out);

/* ---- extended attributes ---------------------------------------------- */

#define FS_XATTR_VALUE_MAX (64u * 1024u)
/* flags: XATTR_CREATE (-EEXIST if present), XATTR_REPLACE (-ENODATA if
 * absent). */
int fs_setxattr(struct lsmerfs *fs, uint64_t ino, const char *name, const void *value, size_t size,
                int flags, const struct fs_ctx *ctx);
/* size 0: *len = the value's size. Otherwise copies it; -ERANGE if it does
 * not fit in size bytes; -ENODATA if absent. */
int fs_getxattr(struct lsmerfs *fs, uint64_t ino, const char *name, void *buf, size_t size,
                size_t *len);
/* NUL-terminated names back to back; size 0 asks for the length. */
int fs_listxattr(struct lsmerfs *fs, uint64_t ino, char *buf, size_t size, size_t *len);
int fs_removexattr(struct lsmerfs *fs, uint64_t ino, const char *name, const struct fs_ctx *ctx);

#endif
