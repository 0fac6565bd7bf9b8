/* kv.c — the fs seam implemented on liblsmer (lsmer.h only). */
#include "kv.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "keys.h"
#include "lsmer.h"

struct kv {
    lsmer_db *db;
    char *dir;
    uint64_t headroom;
};

/* volume / div, between lo and dflt. */
static uint64_t scale_to_volume(uint64_t volume, uint64_t div, uint64_t lo, uint64_t dflt)
{
    uint64_t v = volume / div;
    if (v < lo) v = lo;
    return v < dflt ? v : dflt;
}

/* The engine's batch and snapshot are used as they are: these wrappers only
 * exist so that fs code never names an lsmer type. */
struct kv_batch {
    lsmer_batch *b;
};

struct kv_iter {
    lsmer_iter *it;
};

void kv_buf_free(struct kv_buf *b)
{
    lsmer_buf lb = {b->data, b->size, b->cap};
    lsmer_buf_free(&lb);
    b->data = NULL;
    b->size = b->cap = 0;
}

/* File data (block keys) goes into tables of its own. A file written in
 * order then fills tables that do not overlap one another, and they move
 * down the levels without being rewritten; sharing a table with the inode
 * and dentry keys the same writes update would make every flushed table
 * overlap every other (measured: 1 GiB dd, write amplification 3.1 -> see
 * docs/BENCHMARKS.md). */
static int kv_partition(void *arg, const void *prev, size_t prev_len, const void *key,
                        size_t key_len)
{
    (void)arg;
    if (!prev_len || !key_len) return 0;
    char a = *(const char *)prev, b = *(const char *)key;
    return a != b && (a == KEY_BLOCK || b == KEY_BLOCK);
}

int kv_open(const char *dir, size_t memtable_bytes, kv_log_fn log, void *log_arg, int log_level,
            struct kv **out)
{
    int rc;
    struct kv *kv = calloc(1, sizeof(*kv));
    if (!kv) return -ENOMEM;
    kv->dir = strdup(dir);
    if (!kv->dir) {
        rc = -ENOMEM;
        goto out;
    }
    lsmer_options opt;
    lsmer_options_init(&opt);
    struct statvfs sv;
    if (statvfs(dir, &sv) == 0) {
        uint64_t volume = (uint64_t)sv.f_blocks * (sv.f_frsize ? sv.f_frsize : sv.f_bsize);
        opt.memtable_size = (size_t)scale_to_volume(volume, 64, 1u << 20, opt.memtable_size);
        opt.target_file_size = (size_t)scale_to_volume(volume, 64, 1u << 20, opt.target_file_size);
        opt.level1_size = scale_to_volume(volume, 8, 4u << 20, opt.level1_size);
    }
    if (memtable_bytes) opt.memtable_size = memtable_bytes;
    /* Flushing: the full memtable's log, the table it becomes and the next
     * log. Compacting: level 0 (its trigger plus what piles up while it
     * runs) into all of level 1 in the worst case, or one file of a deeper
     * level into the files it overlaps, and the outputs are written before
     * the inputs go. */
    uint64_t mem = opt.memtable_size, file = opt.target_file_size;
    uint64_t l0 = (uint64_t)opt.l0_compaction_trigger + 2;
    uint64_t deep = 12 * file;
    kv->headroom = 3 * mem + l0 * mem + (opt.level1_size > deep ? opt.level1_size : deep);
    opt.log = log;
    opt.log_arg = log_arg;
    opt.log_level = log_level;
    opt.table_partition = kv_partition;
    rc = lsmer_open(dir, &opt, &kv->db);
    if (rc == 0) {
        *out = kv;
        return 0;
    }
out:
    free(kv->dir);
    free(kv);
    return rc;
}

void kv_close(struct kv *kv)
{
    if (!kv) return;
    lsmer_close(kv->db);
    free(kv->dir);
    free(kv);
}

int kv_get(struct kv *kv, const struct kv_snap *snap, const void *key, size_t klen,
           struct kv_buf *out)
{
    lsmer_buf lb = {out->data, out->size, out->cap};
    int rc = lsmer_get(kv->db, (const lsmer_snapshot *)snap, key, klen, &lb);
    out->data = lb.data;
    out->size = rc == 0 ? lb.size : 0;
    out->cap = lb.cap;
    return rc;
}

int kv_batch_new(struct kv_batch **out)
{
    struct kv_batch *b = malloc(sizeof(*b));
    if (!b) return -ENOMEM;
    b->b = lsmer_batch_new();
    if (!b->b) {
        free(b);
        return -ENOMEM;
    }
    *out = b;
    return 0;
}

void kv_batch_free(struct kv_batch *b)
{
    if (!b) return;
    lsmer_batch_free(b->b);
    free(b);
}

void kv_batch_clear(struct kv_batch *b)
{
    lsmer_batch_clear(b->b);
}

int kv_batch_put(struct kv_batch *b, const void *key, size_t klen, const void *val, size_t vlen)
{
    return lsmer_batch_put(b->b, key, klen, val, vlen);
}

int kv_batch_delete(struct kv_batch *b, const void *key, size_t klen)
{
    return lsmer_batch_delete(b->b, key, klen);
}

int kv_batch_delete_range(struct kv_batch *b, const void *start, size_t slen, const void *end,
                          size_t elen)
{
    return lsmer_batch_delete_range(b->b, start, slen, end, elen);
}

size_t kv_batch_count(const struct kv_batch *b)
{
    return lsmer_batch_count(b->b);
}

int kv_commit(struct kv *kv, struct kv_batch *b, int durable)
{
    if (lsmer_batch_count(b->b) == 0) return durable ? lsmer_sync(kv->db) : 0;
    return lsmer_write(kv->db, b->b, durable ? LSMER_SYNC : 0);
}

int kv_sync(struct kv *kv)
{
    return lsmer_sync(kv->db);
}

const struct kv_snap *kv_snap_new(struct kv *kv)
{
    return (const struct kv_snap *)lsmer_snapshot_new(kv->db);
}

void kv_snap_release(struct kv *kv, const struct kv_snap *snap)
{
    if (snap) lsmer_snapshot_release(kv->db, (const lsmer_snapshot *)snap);
}

int kv_iter_open(struct kv *kv, const struct kv_snap *snap, const void *start, size_t slen,
                 const void *end, size_t elen, struct kv_iter **out)
{
    struct kv_iter *it = malloc(sizeof(*it));
    if (!it) return -ENOMEM;
    lsmer_range r = {start, slen, end, elen};
    int rc = lsmer_iter_open(kv->db, (const lsmer_snapshot *)snap, &r, &it->it);
    if (rc) {
        free(it);
        return rc;
    }
    if (start)
        lsmer_iter_seek(it->it, start, slen);
    else
        lsmer_iter_seek_first(it->it);
    *out = it;
    return 0;
}

void kv_iter_close(struct kv_iter *it)
{
    if (!it) return;
    lsmer_iter_close(it->it);
    free(it);
}

void kv_iter_seek(struct kv_iter *it, const void *key, size_t klen)
{
    lsmer_iter_seek(it->it, key, klen);
}

int kv_iter_valid(const struct kv_iter *it)
{
    return lsmer_iter_valid(it->it);
}

void kv_iter_next(struct kv_iter *it)
{
    lsmer_iter_next(it->it);
}

const void *kv_iter_key(const struct kv_iter *it, size_t *klen)
{
    return lsmer_iter_key(it->it, klen);
}

int kv_iter_value(struct kv_iter *it, const void **val, size_t *vlen)
{
    return lsmer_iter_value(it->it, val, vlen);
}

int kv_iter_status(const struct kv_iter *it)
{
    return lsmer_iter_status(it->it);
}

int kv_reclaim(struct kv *kv)
{
    return lsmer_reclaim_range(kv->db, NULL);
}

uint64_t kv_headroom(const struct kv *kv)
{
    return kv->headroom;
}

int kv_space(struct kv *kv, struct kv_space *out)
{
    struct statvfs sv;
    if (statvfs(kv->dir, &sv) != 0) return -errno;
    uint64_t frsize = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
    out->total_bytes = (uint64_t)sv.f_blocks * frsize;
    out->avail_bytes = (uint64_t)sv.f_bavail * frsize;
    out->files = sv.f_files;
    out->files_free = sv.f_favail;
    return 0;
}

uint64_t kv_used_bytes(struct kv *kv)
{
    lsmer_stats st;
    if (lsmer_get_stats(kv->db, &st) != 0) return 0;
    return st.table_bytes + st.wal_file_bytes;
}

/* The engine handle behind the seam, for the daemon's control channel and
 * backups (declared in fs_export.h, not in kv.h: the seam stays engine-free). */
lsmer_db *kv_export_db(struct kv *kv)
{
    return kv->db;
}
