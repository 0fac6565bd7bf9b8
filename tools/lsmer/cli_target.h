/*
 * cli_target.h — what a `DATA_DIR|MOUNTPOINT` argument names. Commands that
 * work on a store either offline (they open DATA_DIR themselves) or live
 * (through the daemon that has it mounted) start here.
 *
 * A directory that is the mount point of an lsmerfs (fstype fuse.lsmerfs in
 * /proc/self/mountinfo) is live: data_dir is the store the daemon was given
 * (its fsname). Any other directory is taken as a DATA_DIR. Paths are made
 * absolute (realpath) so that messages and the daemon see the same names.
 *
 * Thread safety: reads /proc; no shared state.
 */
#ifndef LSMER_CLI_TARGET_H
#define LSMER_CLI_TARGET_H

#include <limits.h>
#include <stddef.h>

struct cli_target {
    int live;                  /* arg is the mount point of an lsmerfs */
    char mountpoint[PATH_MAX]; /* when live */
    char data_dir[PATH_MAX];   /* the store (for a live one: the fsname) */
};

/* 0, or -ENOENT (no such directory), -ENOTDIR, -ENAMETOOLONG, or another
 * negative errno from realpath. A live mount whose fsname is not a path
 * (a DATA_DIR with a comma in it) leaves data_dir empty. */
int cli_resolve_target(const char *arg, struct cli_target *out);

/* Finds the mount point at which data_dir (absolute) is mounted by an
 * lsmerfs: 1 and mnt filled, 0 when it is not mounted. */
int cli_find_mount_of(const char *data_dir, char *mnt, size_t mnt_len);

#endif /* LSMER_CLI_TARGET_H */
