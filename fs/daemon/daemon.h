/*
 * daemon.h — the lsmerfs daemon: FUSE low-level glue (ops.c) and main()
 * (main.c). The glue is thin by design: each adapter turns one FUSE request
 * into one fs core call (fs/core/fs.h) and its result into one reply; only
 * adapters call fuse_reply_*. No POSIX rule lives here.
 *
 * Thread safety: the session runs a multi-threaded loop; the adapters keep
 * no state of their own beyond struct lsmerfs_daemon, which is read-only
 * once the session starts. Directory handles are struct fs_dir pointers in
 * fi->fh, used by one request at a time (the kernel serialises readdir on
 * one open directory; fs_dir has its own lock in any case).
 */
#ifndef LSMERFS_DAEMON_H
#define LSMERFS_DAEMON_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <stdatomic.h>
#include <stdint.h>

#include "fs.h"

struct lsmerfs_daemon {
    struct lsmerfs *fs;
    int writeback;                   /* ask for the writeback cache; after init: it is on */
    double timeout;                  /* entry and attribute cache validity, seconds */
    int acl;                         /* ask for POSIX ACLs (-o noacl clears it) */
    int dont_mask;                   /* set by init: the kernel leaves the umask to us */
    struct fuse_session *_Atomic se; /* for notifications; set once mounted */
};

/* fs_options.attr_changed: drops the kernel's cached attributes of ino. */
void lsmerfs_attr_changed(void *daemon, uint64_t ino);

extern const struct fuse_lowlevel_ops lsmerfs_ll_ops;

#endif
