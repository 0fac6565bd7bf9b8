/*
 * fs_internal.h — what the files of the fs core share: the struct lsmerfs
 * behind the opaque handle, inode and dentry helpers, locking helpers. Not
 * for the daemon or tests (they use fs.h). Lock order: see fs.h.
 */
#ifndef LSMERFS_FS_INTERNAL_H
#define LSMERFS_FS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "fs.h"
#include "fs_acl.h"
#include "keys.h"
#include "kv.h"

#define FS_STRIPES 256u
#define FS_INO_CHUNK 1024u
#define FS_INODE_BUF (FS_INODE_FIXED_LEN + FS_INLINE_CAP)

struct fs_node;

struct lsmerfs {
    struct kv *kv;
    uint32_t block_size;
    uint32_t inline_max;
    uint64_t reserve_bytes;
    kv_log_fn log;
    void *log_arg;
    int log_level;
    void (*attr_changed)(void *arg, uint64_t ino); /* fs_options */
    void *attr_changed_arg;
    _Atomic int posix_acl;     /* ACL xattrs honoured (fs_acl.h) */
    _Atomic int kernel_cmtime; /* the kernel keeps files' mtime/ctime (fs.h) */

    pthread_mutex_t ns_lock;
    pthread_mutex_t stripe[FS_STRIPES];

    pthread_mutex_t alloc_lock;
    struct fs_super super; /* alloc_lock: ino_limit is the persisted end */
    uint64_t next_ino;     /* alloc_lock */

    pthread_mutex_t node_lock;
    struct fs_node **node_tab; /* node_lock: referenced inodes (fs_nodes.c) */
    size_t node_buckets;       /* node_lock */
    size_t node_count;         /* node_lock */

    /* Open directory handles (fs_dir.c): fs_close releases those the
     * kernel never released (an unmount with a directory still open).
     * dirs_lock is a leaf. */
    pthread_mutex_t dirs_lock;
    struct fs_dir *dirs; /* dirs_lock */

    /* The free-space reserve (fs_space.c). space_lock is a leaf. */
    pthread_mutex_t space_lock;
    pthread_cond_t space_cv;
    _Atomic int64_t space_checked_ns; /* monotonic time of the last statvfs */
    _Atomic uint64_t space_written;   /* bytes asked for since then */
    _Atomic int space_low;            /* free space was below the reserve */
    _Atomic uint64_t space_deletes;   /* data deletes committed, ever */
    pthread_t reclaim_thread;
    int reclaim_running;     /* space_lock: the thread exists */
    int reclaim_stop;        /* space_lock */
    int reclaim_wanted;      /* space_lock: a pass is asked for */
    int reclaim_busy;        /* space_lock: a pass runs */
    uint64_t reclaimed_upto; /* space_lock: space_deletes when the last pass began */
};

/* A set of inode stripe locks, taken in ascending order. */
struct fs_locks {
    unsigned idx[6];
    int n;
};
void fs_lock_inos(struct lsmerfs *fs, struct fs_locks *l, const uint64_t *inos, int n);
void fs_unlock_inos(struct lsmerfs *fs, struct fs_locks *l);

void fs_logf(struct lsmerfs *fs, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int64_t fs_now_ns(void);
/* fs_set_kernel_cmtime is on: data changes leave mtime/ctime alone. */
int fs_kernel_cmtime_on(struct lsmerfs *fs);
/* -ENAMETOOLONG past 255 bytes, -EINVAL for "", ".", "..", or a '/'. */
int fs_check_name(const char *name, size_t *nlen);

int fs_inode_get(struct lsmerfs *fs, const struct kv_snap *snap, uint64_t ino,
                 struct fs_inode *out);
int fs_inode_put(struct kv_batch *b, uint64_t ino, const struct fs_inode *in);
void fs_inode_to_stat(const struct lsmerfs *fs, uint64_t ino, const struct fs_inode *in,
                      struct stat *st);
/* A fresh inode of the given mode owned by ctx, times now. */
void fs_inode_init(struct fs_inode *in, mode_t mode, const struct fs_ctx *ctx, int64_t now);

int fs_dentry_get(struct lsmerfs *fs, const struct kv_snap *snap, uint64_t parent, const char *name,
                  size_t nlen, uint64_t *ino, uint8_t *type);
int fs_dentry_put(struct kv_batch *b, uint64_t parent, const char *name, size_t nlen, uint64_t ino,
                  uint8_t type);
int fs_dentry_del(struct kv_batch *b, uint64_t parent, const char *name, size_t nlen);
/* 0 if dir has no entries, -ENOTEMPTY if it has. */
int fs_dir_empty(struct lsmerfs *fs, uint64_t dir);

int fs_alloc_ino(struct lsmerfs *fs, uint64_t *ino);

/* Releases every directory handle still open (fs_close). */
void fs_dirs_release_all(struct lsmerfs *fs);

/* References to inodes (fs_nodes.c): the kernel's lookups and opens. */
int fs_nodes_init(struct lsmerfs *fs);
void fs_nodes_free(struct lsmerfs *fs);
int fs_node_get(struct lsmerfs *fs, uint64_t ino, uint64_t lookups, uint64_t opens);
/* Drops references; 1 if none are left. */
int fs_node_put(struct lsmerfs *fs, uint64_t ino, uint64_t lookups, uint64_t opens);
int fs_node_busy(struct lsmerfs *fs, uint64_t ino);
/* Counts (+1) or drops (-1) a handle opened for writing; the inode must hold
 * that handle's open (fs_node_get). fs_node_writing: any such handle. */
void fs_node_writer(struct lsmerfs *fs, uint64_t ino, int delta);
int fs_node_writing(struct lsmerfs *fs, uint64_t ino);
/* Frees ino if its link count is 0. Caller holds its stripe lock. */
int fs_reclaim_if_unlinked(struct lsmerfs *fs, uint64_t ino);

/* Deletes every key of ino (inode, blocks, xattrs, orphan) into b. */
int fs_purge_ops(struct kv_batch *b, uint64_t ino, const struct fs_inode *in);
/* The inode lost its last link (in->nlink == 0): keep it as an orphan while
 * it is referenced (looked up or open), else purge it. Caller holds the
 * inode's stripe lock. */
int fs_drop_inode(struct lsmerfs *fs, struct kv_batch *b, uint64_t ino, const struct fs_inode *in);

/* Sets the size of a regular file, in and b: cut or zero-extend, converting
 * between inline and block storage. Caller holds the stripe lock. */
int fs_truncate_locked(struct lsmerfs *fs, struct kv_batch *b, uint64_t ino, struct fs_inode *in,
                       uint64_t size);
/* Clears setuid, and setgid when group-executable, as a write by a
 * non-root caller does. */
void fs_kill_suid(struct fs_inode *in, const struct fs_ctx *ctx);
/* Adds to b the removal of the file capabilities (the security.capability
 * attribute) of regular file ino, if it has them: a write, truncate or
 * chown drops them, for every caller, as on a local filesystem (the kernel
 * leaves it to us under HANDLE_KILLPRIV_V2). Caller holds the stripe lock.
 * 0 or -errno. */
int fs_kill_caps(struct lsmerfs *fs, struct kv_batch *b, uint64_t ino, const struct fs_inode *in);

/* The free-space reserve (fs_space.c). */
uint64_t fs_space_reserve_default(struct kv *kv);
int fs_space_init(struct lsmerfs *fs);
void fs_space_stop(struct lsmerfs *fs);
/* -ENOSPC if the volume's free space is below the reserve; called before
 * any operation that grows the store, bytes being about what it adds. */
int fs_space_check(struct lsmerfs *fs, uint64_t bytes);
/* File data was deleted (committed): while space is short, have its space
 * given back soon (a reclaim pass covers every deleted range). Takes only
 * space_lock. */
void fs_space_freed(struct lsmerfs *fs);

static inline uint8_t fs_dtype(uint32_t mode)
{
    return (uint8_t)((mode & S_IFMT) >> 12);
}

#endif
