/*
 * channel.h — the mount's /dev/fuse channel, read and written through
 * libfuse's custom io callbacks so the daemon can use what libfuse 3.14
 * cannot negotiate:
 *
 *  - HANDLE_KILLPRIV_V2 (libfuse knows only the first version). Without it
 *    the kernel asks for the security.capability attribute before every
 *    write(2) to decide whether to remove it: one FUSE round trip per
 *    write. With it the kernel leaves removing setuid/setgid and
 *    capabilities on write, truncate and chown to the filesystem (the fs
 *    core does: see fs_kill_suid and fs_kill_caps) and marks the superblock
 *    SB_NOSEC, so it asks at most once per inode it caches.
 *  - FUSE_OVER_IO_URING (uring.h): requests through per-CPU rings.
 *
 * The callbacks note the FUSE_INIT request (and what the kernel offers),
 * add the flags to its reply when the kernel offered them, and hand each
 * reply to a request that came through a ring to that ring's entry.
 * Everything else passes through unchanged. Install after
 * fuse_session_mount and before the request loop.
 */
#ifndef LSMERFS_CHANNEL_H
#define LSMERFS_CHANNEL_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif
#include <fuse_lowlevel.h>

struct lsmerfs_uring;

struct channel_config {
    int killpriv_v2;             /* ask for HANDLE_KILLPRIV_V2 */
    struct lsmerfs_uring *uring; /* rings to start if the kernel offers them; may be NULL */
};

/* 0 or -errno. The configuration is copied. */
int lsmerfs_channel_install(struct fuse_session *se, const struct channel_config *cfg);

/* 1 once the kernel has accepted HANDLE_KILLPRIV_V2 (after FUSE_INIT). */
int lsmerfs_channel_killpriv_v2_active(void);

/* 1 once the kernel has accepted FUSE_OVER_IO_URING (after FUSE_INIT). */
int lsmerfs_channel_uring_active(void);

#endif
