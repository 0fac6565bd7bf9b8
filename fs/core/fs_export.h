/*
 * fs_export.h — what the daemon's control channel (fs/daemon/control.c) and
 * the admin CLI may see of a running filesystem beyond fs.h: the engine
 * handle, for statistics, compaction and snapshot backups, and the inode
 * figures the core knows without a scan. Nothing here changes the
 * filesystem; the engine handle must not be closed or written to
 * (writes would bypass the core's locks and schema).
 *
 * Thread safety: every function may be called from any thread while the
 * filesystem is open.
 */
#ifndef LSMERFS_FS_EXPORT_H
#define LSMERFS_FS_EXPORT_H

#include <stdint.h>

#include "fs.h"
#include "lsmer.h"

/* The engine database of the store: valid until fs_close(). */
lsmer_db *fs_export_db(struct lsmerfs *fs);
/* Defined in kv.c, where struct kv is complete. */
lsmer_db *kv_export_db(struct kv *kv);

struct fs_export_counts {
    uint64_t referenced_inodes; /* inodes the kernel holds references to */
    uint64_t inos_handed_out;   /* inode numbers handed out (including freed ones) */
};
void fs_export_counts(struct lsmerfs *fs, struct fs_export_counts *out);

#endif
