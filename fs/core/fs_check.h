/*
 * fs_check.h — the offline checker of an lsmerfs store (`lsmer fsck`).
 *
 * fs_check() opens DATA_DIR with the engine read-only (so it takes the
 * store's LOCK: a mounted store gives -EBUSY), takes one snapshot and scans
 * it: a full scan of the key space reads and verifies every table block, and
 * the keys are checked against the lsmerfs schema (keys.h, docs/fs.md):
 * superblock, inodes that decode, dentries that name live inodes of the
 * right type, link counts (a file: its dentries; a directory: 2 + its
 * subdirectories), inodes with no dentry and no orphan record, orphan
 * records (an orphan left by a crash is freed at the next mount: reported
 * as INFO), blocks past the end of a file or of a dead inode, xattrs of dead
 * inodes, directory cycles and unreachable directories, and inode numbers
 * at or above the superblock's ino_limit. It writes nothing.
 *
 * Each problem goes to a callback with the path from the root when one
 * exists. Problems about data are reported, not returned: the return value
 * is 0 when the check ran (whatever it found) and a negative errno when it
 * could not run: -ENOENT/-ENOTDIR (no such directory), -EBUSY (in use),
 * -EINVAL (not an lsmerfs store), -EPROTO (a newer format), -ENOMEM, -EIO
 * opening. A store whose engine files fail their checksums on open is
 * reported as a FS_CHECK_CHECKSUM problem, not as an error return.
 *
 * Thread safety: one call is self-contained; the callbacks run on the
 * calling thread.
 */
#ifndef LSMERFS_FS_CHECK_H
#define LSMERFS_FS_CHECK_H

#include <stdint.h>

enum fs_check_kind {
    FS_CHECK_CHECKSUM = 1,   /* the engine failed reading (-EUCLEAN, -EIO, ...) */
    FS_CHECK_SUPER,          /* superblock missing or bad */
    FS_CHECK_BAD_KEY,        /* a key outside the schema */
    FS_CHECK_BAD_INODE,      /* an inode value that does not decode */
    FS_CHECK_BAD_DENTRY,     /* a dentry value that does not decode */
    FS_CHECK_ROOT,           /* root directory missing, not a directory, or linked */
    FS_CHECK_DANGLING,       /* dentry naming an inode that does not exist */
    FS_CHECK_DENTRY_TYPE,    /* dentry type differs from the inode's */
    FS_CHECK_NOT_DIR,        /* dentry inside an inode that is missing or no directory */
    FS_CHECK_NLINK,          /* link count differs from the dentries naming it */
    FS_CHECK_DIR_LINKS,      /* a directory named by more than one dentry */
    FS_CHECK_DIR_PARENT,     /* a directory's parent field differs from its dentry */
    FS_CHECK_LOST,           /* inode with no dentry and no orphan record */
    FS_CHECK_ORPHAN,         /* orphan pending reclaim at next mount (INFO) */
    FS_CHECK_ORPHAN_LINKED,  /* orphan record of an inode that still has links */
    FS_CHECK_ORPHAN_DEAD,    /* orphan record of an inode that does not exist */
    FS_CHECK_BLOCK_PAST_EOF, /* data block holding bytes at or past the size */
    FS_CHECK_BLOCK_DEAD,     /* data block of an inode that does not exist */
    FS_CHECK_BLOCK_BAD,      /* block of a non-file or inline file, or oversized */
    FS_CHECK_XATTR_DEAD,     /* xattr of an inode that does not exist */
    FS_CHECK_XATTR_FLAG,     /* xattr of an inode without the HAS_XATTR flag */
    FS_CHECK_UNREACHABLE,    /* directory not reachable from the root (or a cycle) */
    FS_CHECK_INO_LIMIT,      /* inode number at or above the superblock's ino_limit */
    FS_CHECK_INCOMPLETE,     /* cross-checks skipped because the scan stopped */
};

enum fs_check_severity {
    FS_CHECK_INFO = 0,  /* expected after a crash; nothing to repair */
    FS_CHECK_ERROR = 1, /* damage */
};

struct fs_check_problem {
    enum fs_check_kind kind;
    enum fs_check_severity severity;
    uint64_t ino;      /* the inode concerned, 0 if none */
    uint64_t parent;   /* for a dentry: the directory holding it, else 0 */
    uint64_t block_no; /* blocks: the first block concerned */
    uint64_t count;    /* blocks/xattrs: how many keys of that inode */
    const char *path;  /* from the root ("/a/b"), NULL when none is known */
    const char *msg;   /* one line, no path, no trailing newline */
};

typedef void (*fs_check_problem_fn)(void *arg, const struct fs_check_problem *p);
/* keys scanned so far; called every few thousand keys and at the end. */
typedef void (*fs_check_progress_fn)(void *arg, const char *phase, uint64_t keys);

struct fs_check_options {
    fs_check_problem_fn on_problem; /* may be NULL */
    void *arg;
    fs_check_progress_fn progress; /* may be NULL */
    void *progress_arg;
};

struct fs_check_report {
    uint64_t keys;   /* keys read */
    uint64_t inodes; /* inode keys that decode */
    uint64_t dirs, files, symlinks, others;
    uint64_t bytes;  /* sum of the sizes of regular files */
    uint64_t blocks; /* data block keys */
    uint64_t errors; /* problems of severity ERROR */
    uint64_t infos;  /* problems of severity INFO */
    int incomplete;  /* the scan stopped early (engine error) */
};

const char *fs_check_kind_name(enum fs_check_kind k);

int fs_check(const char *data_dir, const struct fs_check_options *o, struct fs_check_report *out);

#endif
