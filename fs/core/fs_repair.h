/*
 * fs_repair.h — `lsmer fsck --repair`: checks an lsmerfs store offline
 * (fs_check.h) and fixes what can be fixed without guessing, each fix one
 * atomic engine batch through the kv seam (kv.h), then checks again.
 *
 * What is fixed (the inode is the truth; a directory entry is what may go):
 *   - entries naming an inode that does not exist, entries inside an inode
 *     that is missing or no directory, entries naming the root, second
 *     entries of a directory, undecodable entries: removed;
 *   - an entry whose type differs from its inode's: rewritten;
 *   - inodes with no entry: freed when empty (or nlink 0), else linked
 *     as /lost+found/#INO (lost+found is created, mode 0700, if missing);
 *     directories cut off from the root (a cycle) move there too;
 *   - orphans (nlink 0, unlinked while open): freed now rather than at the
 *     next mount; orphan records of linked or missing inodes: removed;
 *   - link counts and a directory's '..' that disagree with the entries;
 *   - data blocks past the end of a file (the last one cut to the size), of
 *     a non-file or inline file, or of a dead inode, and xattrs of a dead
 *     inode: removed; a missing HAS_XATTR flag: set;
 *   - a superblock ino_limit at or below an inode in use: raised.
 * Never touched: checksum failures (restore from a backup), a missing or
 * bad superblock, keys outside the schema, inodes that do not decode (and
 * the entries and keys of those inodes), a missing root, and anything when
 * the scan stopped early.
 *
 * A fix can expose another problem (an entry removed from a missing
 * directory leaves its child without an entry), and counts are only fixed
 * in a pass that changed no entry, so the check and fix alternate until a
 * pass fixes nothing (at most FS_REPAIR_MAX_PASSES passes of fixes) and a
 * last check reports what is left.
 *
 * Each problem goes to o->check.on_problem once (problems left uncorrected
 * are not repeated in later passes) and then to on_fix with what was done.
 * Returns 0 when the repair ran, or a negative errno as fs_check() does
 * (-EBUSY mounted, -EINVAL not lsmerfs, ...), or an error of the engine
 * while writing (-ENOSPC, -EIO): fixes committed before it stay, each whole.
 *
 * Thread safety: one call is self-contained; callbacks run on the caller.
 */
#ifndef LSMERFS_FS_REPAIR_H
#define LSMERFS_FS_REPAIR_H

#include <stdint.h>

#include "fs_check.h"

#define FS_REPAIR_MAX_PASSES 8

/* fixed: 1 the problem is gone (action says how), 0 it was left (action
 * says why and what to do). */
typedef void (*fs_repair_fix_fn)(void *arg, const struct fs_check_problem *p, int fixed,
                                 const char *action);

struct fs_repair_options {
    struct fs_check_options check; /* on_problem, progress */
    fs_repair_fix_fn on_fix;       /* may be NULL */
    void *fix_arg;
};

struct fs_repair_report {
    struct fs_check_report first; /* the first check, before any fix */
    struct fs_check_report last;  /* the last check: what is left */
    uint64_t fixed;               /* problems fixed (errors and orphans) */
    uint64_t errors_fixed;        /* ... of which severity ERROR */
    uint64_t left;                /* problems reported as left uncorrected */
    unsigned passes;              /* checks run */
};

int fs_repair(const char *data_dir, const struct fs_repair_options *o,
              struct fs_repair_report *out);

#endif
