/*
 * kv.h — the narrow seam between the filesystem core and its key-value
 * store. The fs core reaches storage only through these calls: begin a
 * batch, get, put, delete, delete a range, scan a range on a snapshot,
 * commit (optionally durable), sync, and space figures. liblsmer is the
 * implementation today (kv.c); a distributed store could sit behind the same
 * calls later, which is why nothing here mentions levels, files or sequence
 * numbers.
 *
 * Ownership. struct kv owns the engine handle. A kv_batch is owned by its
 * creator and is not thread safe; a kv_snap is released by its creator
 * before kv_close(). Values returned by kv_get() land in a caller-owned
 * kv_buf (zero-initialise, free with kv_buf_free()).
 *
 * Thread safety. Every kv_* call on a struct kv may be made from any thread;
 * one kv_iter or kv_batch must not be used by two threads at once.
 *
 * Errors: 0 or a negative errno; -ENOENT from kv_get for a missing key;
 * -EUCLEAN (LSMER_ECORRUPT) for data that fails verification.
 */
#ifndef LSMERFS_KV_H
#define LSMERFS_KV_H

#include <stddef.h>
#include <stdint.h>

struct kv;
struct kv_batch;
struct kv_snap;
struct kv_iter;

struct kv_buf {
    void *data;
    size_t size;
    size_t cap;
};
void kv_buf_free(struct kv_buf *b);

struct kv_space {
    uint64_t total_bytes; /* of the volume holding the store */
    uint64_t avail_bytes; /* free to an unprivileged writer */
    uint64_t files;       /* the volume's inode figures, 0 if unknown */
    uint64_t files_free;
};

typedef void (*kv_log_fn)(void *arg, int level, const char *msg);

/* Opens (creating if missing) the store in dir. -EBUSY when another process
 * holds it, -EINVAL when dir holds something else. log may be NULL (stderr);
 * messages above log_level (0 error, 1 warning, 2 info, 3 debug) are
 * dropped. memtable_bytes 0 means the engine default (32 MiB). On a small
 * volume the memtable and table files are scaled down to 1/64 of it (at
 * least 1 MiB) and level 1 to 1/8 (at least 4 MiB), so that writing out the
 * memtable and compacting never need a large part of the volume. */
int kv_open(const char *dir, size_t memtable_bytes, kv_log_fn log, void *log_arg, int log_level,
            struct kv **out);
void kv_close(struct kv *kv);

int kv_get(struct kv *kv, const struct kv_snap *snap, const void *key, size_t klen,
           struct kv_buf *out);

int kv_batch_new(struct kv_batch **out);
void kv_batch_free(struct kv_batch *b);
void kv_batch_clear(struct kv_batch *b);
int kv_batch_put(struct kv_batch *b, const void *key, size_t klen, const void *val, size_t vlen);
int kv_batch_delete(struct kv_batch *b, const void *key, size_t klen);
/* Deletes every key k with start <= k < end: one operation, whatever the
 * number of keys it covers. */
int kv_batch_delete_range(struct kv_batch *b, const void *start, size_t slen, const void *end,
                          size_t elen);
size_t kv_batch_count(const struct kv_batch *b);

/* Applies b atomically. durable: also force it (and everything before it) to
 * stable storage before returning. */
int kv_commit(struct kv *kv, struct kv_batch *b, int durable);
int kv_sync(struct kv *kv);

/* A consistent read view; NULL on ENOMEM. */
const struct kv_snap *kv_snap_new(struct kv *kv);
void kv_snap_release(struct kv *kv, const struct kv_snap *snap);

/* An iterator over [start, end) as of snap (NULL: a view taken now). It
 * starts positioned at the first key >= start. */
int kv_iter_open(struct kv *kv, const struct kv_snap *snap, const void *start, size_t slen,
                 const void *end, size_t elen, struct kv_iter **out);
void kv_iter_close(struct kv_iter *it);
void kv_iter_seek(struct kv_iter *it, const void *key, size_t klen);
int kv_iter_valid(const struct kv_iter *it);
void kv_iter_next(struct kv_iter *it);
const void *kv_iter_key(const struct kv_iter *it, size_t *klen);
int kv_iter_value(struct kv_iter *it, const void **val, size_t *vlen);
/* 0 if the iterator ran off the end of its range; an error otherwise. */
int kv_iter_status(const struct kv_iter *it);

/* Gives back the space of deleted data now, needing free space for one
 * table file at a time (lsmer_reclaim_range); waits. */
int kv_reclaim(struct kv *kv);
/* The bytes the store may need on top of what it holds, at any moment: a
 * full memtable written out while its log still exists, a new log, and its
 * largest routine compaction (outputs are written before the inputs go).
 * The filesystem keeps at least this much free (fs_space.c). */
uint64_t kv_headroom(const struct kv *kv);

/* Space of the volume under the store's directory. */
int kv_space(struct kv *kv, struct kv_space *out);
/* Bytes the store occupies (tables and log), 0 if unknown. */
uint64_t kv_used_bytes(struct kv *kv);

#endif
