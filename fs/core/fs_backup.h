/*
 * fs_backup.h — a consistent copy of an lsmer store, taken from one engine
 * snapshot while writers go on (`lsmer backup`, the daemon's control
 * channel).
 *
 * The copy is itself a store: DEST becomes a database directory that
 * lsmerfs can mount and `lsmer restore` can copy back. It is written by
 * iterating one snapshot of the source into a new database at DEST in large
 * batches, so it holds exactly the keys visible at that snapshot: for
 * lsmerfs, the filesystem as of one instant (every operation the daemon
 * finished before it, none after). The copy is compacted as it is written:
 * overwritten and deleted data are not carried over.
 *
 * A half-written copy must never pass for a backup: the filesystem
 * superblock (key "S") is held back and written last, so a copy interrupted
 * by a crash has no superblock and lsmerfs and `lsmer restore` refuse it;
 * on an error or a cancel fs_backup() removes what it wrote.
 *
 * DEST must be missing (it is created, mode 0700) or an empty directory.
 *
 * Thread safety: fs_backup() may run in any thread while others use src;
 * the progress callback runs on the calling thread.
 */
#ifndef LSMERFS_FS_BACKUP_H
#define LSMERFS_FS_BACKUP_H

#include <stdint.h>

#include "lsmer.h"

struct fs_backup_progress {
    uint64_t sequence;       /* the snapshot's sequence number */
    uint64_t total_estimate; /* bytes in the source's tables and memtables at the start */
    uint64_t keys;           /* keys copied so far */
    uint64_t bytes;          /* key + value bytes copied so far */
    uint64_t inodes;         /* inode keys copied, by type: */
    uint64_t dirs, files, symlinks, others;
    uint64_t file_bytes; /* sum of the sizes of regular files */
    int done;            /* the final call: everything is written and synced */
};

/* Called after every batch and once at the end; a non-zero return cancels
 * the backup (fs_backup then returns -ECANCELED). */
typedef int (*fs_backup_progress_fn)(void *arg, const struct fs_backup_progress *p);

/* 0, or -EEXIST / -ENOTEMPTY (DEST is not empty), -ENOTDIR, -ECANCELED, an
 * error from reading src (-EUCLEAN for damaged data, -EIO) or from writing
 * DEST (-ENOSPC, -EACCES, ...). out (may be NULL) gets the final figures. */
int fs_backup(lsmer_db *src, const char *dest, fs_backup_progress_fn fn, void *arg,
              struct fs_backup_progress *out);

/* 0 if dest is missing or an empty directory; else -ENOTEMPTY, -ENOTDIR, or
 * the error from looking at it. */
int fs_backup_dest_ok(const char *dest);

#endif
