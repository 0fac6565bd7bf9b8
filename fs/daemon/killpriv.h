/*
 * killpriv.h — asks the kernel for HANDLE_KILLPRIV_V2, which libfuse 3.14
 * cannot negotiate (it knows only the first version of the flag).
 *
 * Without it the kernel asks for the security.capability attribute before
 * every write(2) to decide whether to remove it: one FUSE round trip per
 * write. With it the kernel leaves removing setuid/setgid and capabilities
 * on write, truncate and chown to the filesystem (the fs core does: see
 * fs_kill_suid and fs_kill_caps) and marks the superblock SB_NOSEC, so it
 * asks at most once per inode it caches.
 *
 * How: libfuse reads requests and writes replies through custom io
 * callbacks installed here on the mounted session; they note the FUSE_INIT
 * request (and what the kernel offers) and add the flag to its reply when
 * the kernel offered it. Everything else passes through unchanged. Call
 * after fuse_session_mount and before the request loop. 0 or -errno.
 */
#ifndef LSMERFS_KILLPRIV_H
#define LSMERFS_KILLPRIV_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif
#include <fuse_lowlevel.h>

int lsmerfs_killpriv_v2_install(struct fuse_session *se);

/* 1 once the kernel has accepted the flag (after FUSE_INIT), else 0. */
int lsmerfs_killpriv_v2_active(void);

#endif
