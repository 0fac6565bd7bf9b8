/* fs_export.c — read-only accessors for the control channel (fs_export.h). */
#include "fs_export.h"

#include <pthread.h>

#include "fs_internal.h"

lsmer_db *fs_export_db(struct lsmerfs *fs)
{
    return kv_export_db(fs->kv);
}

void fs_export_counts(struct lsmerfs *fs, struct fs_export_counts *out)
{
    pthread_mutex_lock(&fs->node_lock);
    out->referenced_inodes = fs->node_count;
    pthread_mutex_unlock(&fs->node_lock);
    pthread_mutex_lock(&fs->alloc_lock);
    out->inos_handed_out = fs->next_ino > 0 ? fs->next_ino - 1 : 0;
    pthread_mutex_unlock(&fs->alloc_lock);
}
