/*
 * fs_space.c — the free-space reserve (docs/fs.md, "Running out of space").
 *
 * The store needs room of its own at all times: a delete is an append to
 * its log, and the space of deleted data only comes back after the buffered
 * writes are written out to a table and compaction rewrites the tables
 * without the deleted data — both write new files before old ones go. If
 * users could fill the volume, the store could then not even record a
 * delete, and space could never be freed while mounted. So operations that
 * grow the store fail with ENOSPC once the volume's free space falls to the
 * reserve, and those that shrink it (unlink, rmdir, rename, truncate down,
 * punch hole, removexattr) always proceed, using the reserve.
 *
 * The free space is read with statvfs at most every FS_SPACE_PERIOD_NS, or
 * sooner once FS_SPACE_BYTES have been written since the last reading, so
 * the check costs an atomic add and a clock read on the hot path.
 *
 * While space is short, a data delete wakes the reclaimer thread: it writes
 * the buffered writes out (lsmer flush) and compacts the key range of the
 * deleted blocks, so the space comes back within a few seconds rather than
 * whenever the store would have compacted on its own.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "fs_internal.h"

#define FS_SPACE_PERIOD_NS (100 * 1000 * 1000)
#define FS_SPACE_BYTES (1u << 20)
/* What a metadata change costs at most in the log, roughly. */
#define FS_SPACE_META_BYTES 4096u

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t fs_space_reserve_default(struct kv *kv)
{
    struct kv_space sp;
    if (kv_space(kv, &sp) != 0) sp.total_bytes = 0;
    uint64_t r = sp.total_bytes / 100;
    if (r > (1ull << 30)) r = 1ull << 30;
    /* Room for the store to write out its memtable and compact (the deleted
     * data only goes away by compaction). */
    uint64_t need = kv_headroom(kv);
    if (r < need) r = need;
    if (r < (4ull << 20)) r = 4ull << 20;
    /* On a tiny volume keep half of it usable. */
    if (sp.total_bytes && r > sp.total_bytes / 2) r = sp.total_bytes / 2;
    return r;
}

/* Reads the volume's free space now. Caller holds space_lock. */
static void space_refresh_locked(struct lsmerfs *fs)
{
    struct kv_space sp;
    int64_t now = mono_ns();
    if (kv_space(fs->kv, &sp) == 0) {
        atomic_store(&fs->space_low, sp.avail_bytes < fs->reserve_bytes);
    }
    atomic_store(&fs->space_written, 0);
    atomic_store(&fs->space_checked_ns, now);
}

int fs_space_check(struct lsmerfs *fs, uint64_t bytes)
{
    bytes += FS_SPACE_META_BYTES;
    uint64_t written = atomic_fetch_add(&fs->space_written, bytes) + bytes;
    int64_t age = mono_ns() - atomic_load(&fs->space_checked_ns);
    if (age >= FS_SPACE_PERIOD_NS || written >= FS_SPACE_BYTES) {
        pthread_mutex_lock(&fs->space_lock);
        /* Another caller may have refreshed it while we waited. */
        age = mono_ns() - atomic_load(&fs->space_checked_ns);
        if (age >= FS_SPACE_PERIOD_NS || atomic_load(&fs->space_written) >= FS_SPACE_BYTES)
            space_refresh_locked(fs);
        pthread_mutex_unlock(&fs->space_lock);
    }
    return atomic_load(&fs->space_low) ? -ENOSPC : 0;
}

void fs_space_freed(struct lsmerfs *fs, uint64_t ino)
{
    pthread_mutex_lock(&fs->space_lock);
    /* Only worth the work while space is short: otherwise the store's own
     * compaction gets to it in time. Re-read the figure: the last reading
     * may be old when nothing was written for a while. */
    if (mono_ns() - atomic_load(&fs->space_checked_ns) >= FS_SPACE_PERIOD_NS)
        space_refresh_locked(fs);
    /* Past FS_RECLAIM_MAX pending, the store's own compaction gets to the
     * rest; the ones queued free space meanwhile. */
    if (atomic_load(&fs->space_low) && fs->reclaim_running && fs->reclaim_n < (int)FS_RECLAIM_MAX) {
        fs->reclaim_ino[fs->reclaim_n++] = ino;
        pthread_cond_signal(&fs->space_cv);
    }
    pthread_mutex_unlock(&fs->space_lock);
}

/* Compacts the blocks of each queued inode, one at a time: a range as
 * narrow as one file keeps every compaction small, where one range over all
 * of them would rewrite the live files in between (needing their size in
 * free space, which a full volume does not have). */
static void *reclaimer(void *arg)
{
    struct lsmerfs *fs = arg;
    pthread_mutex_lock(&fs->space_lock);
    for (;;) {
        while (!fs->reclaim_n && !fs->reclaim_stop)
            pthread_cond_wait(&fs->space_cv, &fs->space_lock);
        if (fs->reclaim_stop) break;
        uint64_t ino = fs->reclaim_ino[--fs->reclaim_n];
        pthread_mutex_unlock(&fs->space_lock);
        uint8_t start[KEY_INO_LEN], end[KEY_INO_LEN];
        key_prefix(start, KEY_BLOCK, ino);
        key_prefix(end, KEY_BLOCK, ino + 1);
        /* compact flushes the memtable (holding the deletes) first. */
        int rc = kv_compact(fs->kv, start, sizeof(start), end, sizeof(end));
        if (rc)
            fs_logf(fs, 2, "compacting the deleted blocks of inode %llu: %s",
                    (unsigned long long)ino, strerror(-rc));
        pthread_mutex_lock(&fs->space_lock);
        space_refresh_locked(fs);
    }
    pthread_mutex_unlock(&fs->space_lock);
    return NULL;
}

int fs_space_init(struct lsmerfs *fs)
{
    pthread_mutex_lock(&fs->space_lock);
    space_refresh_locked(fs);
    pthread_mutex_unlock(&fs->space_lock);
    pthread_mutex_lock(&fs->space_lock);
    int rc = pthread_create(&fs->reclaim_thread, NULL, reclaimer, fs);
    if (rc == 0) fs->reclaim_running = 1;
    pthread_mutex_unlock(&fs->space_lock);
    return -rc;
}

void fs_space_stop(struct lsmerfs *fs)
{
    if (!fs->reclaim_running) return;
    pthread_mutex_lock(&fs->space_lock);
    fs->reclaim_stop = 1;
    pthread_cond_signal(&fs->space_cv);
    pthread_mutex_unlock(&fs->space_lock);
    pthread_join(fs->reclaim_thread, NULL);
    fs->reclaim_running = 0;
}
