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
 * While space is short, a data delete wakes the reclaimer thread, which
 * asks the store to give the space of deleted data back now
 * (lsmer_reclaim_range: whole tables dropped, partly deleted ones rewritten
 * one at a time), rather than whenever compaction would get to it. And a
 * write refused for want of space first waits for such a pass when data was
 * deleted since the last one, so that "rm, then write" works as on ext4
 * even when the deletes happened while space was still plentiful.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "fs_internal.h"

#define FS_SPACE_PERIOD_NS (100 * 1000 * 1000)
#define FS_SPACE_BYTES (1u << 20)
/* How long a write refused for space waits for deleted data to go. */
#define FS_SPACE_WAIT_S 10
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

/* space_lock held: asks for a reclaim pass unless one is asked for or
 * running that began after the latest delete. */
static void want_reclaim_locked(struct lsmerfs *fs)
{
    if (!fs->reclaim_running) return;
    fs->reclaim_wanted = 1;
    pthread_cond_broadcast(&fs->space_cv);
}

void fs_space_freed(struct lsmerfs *fs)
{
    atomic_fetch_add(&fs->space_deletes, 1);
    pthread_mutex_lock(&fs->space_lock);
    /* Only worth the work while space is short: otherwise the store's own
     * compaction gets to it in time. Re-read the figure: the last reading
     * may be old when nothing was written for a while. */
    if (mono_ns() - atomic_load(&fs->space_checked_ns) >= FS_SPACE_PERIOD_NS)
        space_refresh_locked(fs);
    if (atomic_load(&fs->space_low)) want_reclaim_locked(fs);
    pthread_mutex_unlock(&fs->space_lock);
}

/* Space is short: if data was deleted since the last reclaim pass began,
 * waits (at most FS_SPACE_WAIT_S) for a pass that covers it, then reads the
 * free space again. */
static void reclaim_and_wait(struct lsmerfs *fs)
{
    pthread_mutex_lock(&fs->space_lock);
    uint64_t deletes = atomic_load(&fs->space_deletes);
    if (fs->reclaim_running && deletes != fs->reclaimed_upto) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += FS_SPACE_WAIT_S;
        want_reclaim_locked(fs);
        /* Done when a pass that began after these deletes has finished. */
        while (!fs->reclaim_stop &&
               (fs->reclaimed_upto < deletes || fs->reclaim_busy || fs->reclaim_wanted)) {
            if (pthread_cond_timedwait(&fs->space_cv, &fs->space_lock, &until) == ETIMEDOUT) break;
        }
        space_refresh_locked(fs);
    }
    pthread_mutex_unlock(&fs->space_lock);
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
    if (!atomic_load(&fs->space_low)) return 0;
    reclaim_and_wait(fs);
    return atomic_load(&fs->space_low) ? -ENOSPC : 0;
}

static void *reclaimer(void *arg)
{
    struct lsmerfs *fs = arg;
    pthread_mutex_lock(&fs->space_lock);
    for (;;) {
        while (!fs->reclaim_wanted && !fs->reclaim_stop)
            pthread_cond_wait(&fs->space_cv, &fs->space_lock);
        if (fs->reclaim_stop) break;
        fs->reclaim_wanted = 0;
        fs->reclaim_busy = 1;
        uint64_t upto = atomic_load(&fs->space_deletes);
        pthread_mutex_unlock(&fs->space_lock);
        int rc = kv_reclaim(fs->kv);
        if (rc)
            fs_logf(fs, rc == -ENOSPC ? 2 : 1, "giving back the space of deleted data: %s",
                    strerror(-rc));
        pthread_mutex_lock(&fs->space_lock);
        fs->reclaimed_upto = upto;
        fs->reclaim_busy = 0;
        space_refresh_locked(fs);
        pthread_cond_broadcast(&fs->space_cv);
    }
    pthread_mutex_unlock(&fs->space_lock);
    return NULL;
}

int fs_space_init(struct lsmerfs *fs)
{
    pthread_mutex_lock(&fs->space_lock);
    space_refresh_locked(fs);
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
    pthread_cond_broadcast(&fs->space_cv);
    pthread_mutex_unlock(&fs->space_lock);
    pthread_join(fs->reclaim_thread, NULL);
    fs->reclaim_running = 0;
}
