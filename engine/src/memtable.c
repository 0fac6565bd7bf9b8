/*
 * memtable.c — skiplist of point entries plus a locked tombstone set (see
 * memtable.h).
 */
#include "memtable.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lsmer.h"

#include "arena.h"
#include "batch.h"
#include "bloom.h"
#include "dbformat.h"
#include "mem_filter.h"
#include "skiplist.h"

struct memtable {
    _Atomic long refs;
    struct arena arena;
    struct skiplist list;
    struct mem_filter filter; /* user keys of the point entries */
    pthread_rwlock_t rdel_lock;
    struct rdel_set *rdels;    /* rdel_lock */
    _Atomic uint64_t entries;  /* point entries + stored tombstones */
    _Atomic uint64_t n_rdel;   /* stored tombstones */
    _Atomic size_t rdel_bytes; /* rdel_memory(rdels), for memtable_bytes */
};

/* ---- entry encoding ---------------------------------------------------- */

/* Entries were written by memtable_add (or are lookup keys built below), so
 * the varints are well-formed: the limit only bounds the varint itself. */
static struct slice entry_key(const uint8_t *e)
{
    uint32_t n;
    const uint8_t *p = get_varint32(e, e + 5, &n);
    return slice_make(p, n);
}

static struct slice entry_value(struct slice key)
{
    const uint8_t *v = key.p + key.n;
    uint32_t n;
    const uint8_t *p = get_varint32(v, v + 5, &n);
    return slice_make(p, n);
}

static int entry_compare(void *arg, const uint8_t *a, const uint8_t *b)
{
    (void)arg;
    return ikey_compare(entry_key(a), entry_key(b));
}

/* A lookup key (varint32 length + internal key) in buf; 0 or -ENOMEM. */
static int lookup_key_build(struct buffer *buf, struct slice ikey)
{
    buffer_clear(buf);
    return buffer_append_length_prefixed(buf, ikey.p, ikey.n);
}

/* ---- lifetime ----------------------------------------------------------- */

struct memtable *memtable_new(size_t filter_bytes)
{
    struct memtable *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    arena_init(&m->arena);
    m->rdels = rdel_new();
    if (!m->rdels) goto fail;
    if (mem_filter_init(&m->filter, filter_bytes)) goto fail;
    if (skiplist_init(&m->list, &m->arena, entry_compare, NULL)) goto fail;
    if (pthread_rwlock_init(&m->rdel_lock, NULL)) goto fail;
    atomic_init(&m->refs, 1);
    atomic_init(&m->entries, 0);
    atomic_init(&m->n_rdel, 0);
    atomic_init(&m->rdel_bytes, rdel_memory(m->rdels));
    return m;
fail:
    mem_filter_destroy(&m->filter);
    rdel_free(m->rdels);
    arena_destroy(&m->arena);
    free(m);
    return NULL;
}

void memtable_ref(struct memtable *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void memtable_unref(struct memtable *m)
{
    if (!m) return;
    /* acq_rel: every use by other holders happens before the free. */
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1) return;
    pthread_rwlock_destroy(&m->rdel_lock);
    mem_filter_destroy(&m->filter);
    rdel_free(m->rdels);
    arena_destroy(&m->arena);
    free(m);
}

/* ---- writes ------------------------------------------------------------- */

static int memtable_add_range(struct memtable *m, uint64_t seq, struct slice start,
                              struct slice end)
{
    if (slice_compare(start, end) >= 0) return 0; /* deletes nothing */
    pthread_rwlock_wrlock(&m->rdel_lock);
    int rc = rdel_add(m->rdels, start, end, seq);
    size_t bytes = rdel_memory(m->rdels);
    pthread_rwlock_unlock(&m->rdel_lock);
    if (rc) return rc;
    atomic_store_explicit(&m->rdel_bytes, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->n_rdel, 1, memory_order_release);
    atomic_fetch_add_explicit(&m->entries, 1, memory_order_relaxed);
    return 0;
}

int memtable_add(struct memtable *m, uint64_t seq, int type, struct slice ukey, struct slice value)
{
    if (seq > SEQ_MAX) return -EINVAL;
    if (ukey.n > UINT32_MAX - IKEY_TRAILER || value.n > UINT32_MAX) return -EINVAL;
    if (type == TYPE_RANGE_DELETE) return memtable_add_range(m, seq, ukey, value);
    if (type != TYPE_VALUE && type != TYPE_DELETE) return -EINVAL;
    if (type == TYPE_DELETE) value = slice_make(NULL, 0);

    /* The filter line is a cache miss: start loading it now, so that it
     * arrives while the skiplist search below runs. */
    uint64_t hash = bloom_hash64(ukey);
    mem_filter_prefetch(&m->filter, hash);
    size_t kn = ukey.n + IKEY_TRAILER;
    size_t sz = (size_t)varint_length(kn) + kn + (size_t)varint_length(value.n) + value.n;
    uint8_t *e = arena_alloc(&m->arena, sz);
    if (!e) return -ENOMEM;
    uint8_t *p = put_varint32(e, (uint32_t)kn);
    ikey_write(p, ukey.p, ukey.n, seq, type);
    p += kn;
    p = put_varint32(p, (uint32_t)value.n);
    if (value.n) memcpy(p, value.p, value.n);

    int rc = skiplist_insert(&m->list, e);
    if (rc == -EEXIST) return -EINVAL; /* same key, seq and type twice */
    if (rc) return rc;
    /* After the skiplist insert is fine: a reader only looks for entries at
     * or below its snapshot, which it learns after this returns (see
     * mem_filter.h); one that meets the entry earlier skips it anyway. */
    mem_filter_add(&m->filter, hash);
    atomic_fetch_add_explicit(&m->entries, 1, memory_order_relaxed);
    return 0;
}

struct apply_ctx {
    struct memtable *m;
    uint64_t seq;
};

static int apply_one(void *arg, int type, struct slice key, struct slice value)
{
    struct apply_ctx *c = arg;
    return memtable_add(c->m, c->seq++, type, key, value);
}

int memtable_apply_batch(struct memtable *m, struct slice batch_rep)
{
    struct apply_ctx c = {m, batch_sequence(batch_rep)};
    return batch_iterate(batch_rep, apply_one, &c);
}

/* ---- reads -------------------------------------------------------------- */

uint64_t memtable_max_covering(struct memtable *m, struct slice ukey, uint64_t snapshot)
{
    /* A reader whose snapshot includes a tombstone learned that snapshot
     * after the writer counted it, so a zero count means none to see. */
    if (atomic_load_explicit(&m->n_rdel, memory_order_acquire) == 0) return 0;
    pthread_rwlock_rdlock(&m->rdel_lock);
    uint64_t s = rdel_max_covering(m->rdels, ukey, snapshot);
    pthread_rwlock_unlock(&m->rdel_lock);
    return s;
}

int memtable_get(struct memtable *m, struct slice ukey, uint64_t snapshot, struct buffer *value,
                 uint64_t *found_seq, uint64_t *tombstone_seq)
{
    if (snapshot > SEQ_MAX) snapshot = SEQ_MAX;
    uint64_t ts = memtable_max_covering(m, ukey, snapshot);
    if (ts > *tombstone_seq) *tombstone_seq = ts;
    if (!mem_filter_may_contain(&m->filter, bloom_hash64(ukey))) return MEMTABLE_MISSING;

    /* Lookup key: (ukey, snapshot, TYPE_SEEK) sorts before every version
     * of ukey visible at snapshot and after every newer one. */
    uint8_t small[256];
    uint8_t *lk = small;
    size_t kn = ukey.n + IKEY_TRAILER;
    if (kn + 5 > sizeof(small)) {
        lk = malloc(kn + 5);
        if (!lk) return -ENOMEM;
    }
    uint8_t *p = put_varint32(lk, (uint32_t)kn);
    ikey_write(p, ukey.p, ukey.n, snapshot, TYPE_SEEK);

    int rc = MEMTABLE_MISSING;
    struct skiplist_iter it;
    skiplist_iter_init(&it, &m->list);
    skiplist_iter_seek(&it, lk);
    if (skiplist_iter_valid(&it)) {
        struct slice k = entry_key(skiplist_iter_entry(&it));
        if (slice_compare(ikey_user(k), ukey) == 0) {
            *found_seq = ikey_seq(k);
            if (ikey_type(k) == TYPE_VALUE) {
                struct slice v = entry_value(k);
                rc = buffer_set(value, v.p, v.n);
                if (!rc) rc = MEMTABLE_FOUND;
            } else {
                rc = MEMTABLE_DELETED;
            }
        }
    }
    if (lk != small) free(lk);
    return rc;
}

const struct rdel_set *memtable_range_dels(struct memtable *m)
{
    return m->rdels;
}

size_t memtable_filter_bytes(const struct memtable *m)
{
    return mem_filter_bytes(&m->filter);
}

size_t memtable_bytes(const struct memtable *m)
{
    /* What the entries take, not the arena's allocated blocks: a fresh
     * memtable is empty even though its first block is 64 KiB. */
    return arena_bytes_used(&m->arena) +
           atomic_load_explicit((_Atomic size_t *)&m->rdel_bytes, memory_order_relaxed);
}

uint64_t memtable_entries(const struct memtable *m)
{
    return atomic_load_explicit((_Atomic uint64_t *)&m->entries, memory_order_relaxed);
}

uint64_t memtable_range_del_count(const struct memtable *m)
{
    return atomic_load_explicit((_Atomic uint64_t *)&m->n_rdel, memory_order_relaxed);
}

int memtable_empty(const struct memtable *m)
{
    return memtable_entries(m) == 0;
}

/* ---- iterator ----------------------------------------------------------- */

struct mt_iter {
    struct iter base;
    struct memtable *m; /* one reference */
    struct skiplist_iter sit;
    struct slice key, value; /* of the current entry, when valid */
    struct buffer target;    /* seek targets encoded as lookup keys */
    int err;
};

static void mt_fill(struct mt_iter *it)
{
    if (!skiplist_iter_valid(&it->sit)) return;
    it->key = entry_key(skiplist_iter_entry(&it->sit));
    it->value = entry_value(it->key);
}

static int mt_valid(const struct iter *base)
{
    return skiplist_iter_valid(&((const struct mt_iter *)base)->sit);
}

static void mt_seek_first(struct iter *base)
{
    struct mt_iter *it = (struct mt_iter *)base;
    it->err = 0;
    skiplist_iter_seek_first(&it->sit);
    mt_fill(it);
}

static void mt_seek_last(struct iter *base)
{
    struct mt_iter *it = (struct mt_iter *)base;
    it->err = 0;
    skiplist_iter_seek_last(&it->sit);
    mt_fill(it);
}

static void mt_seek(struct iter *base, struct slice target)
{
    struct mt_iter *it = (struct mt_iter *)base;
    /* The comparator reads a trailer: a shorter target is a caller bug. */
    it->err = target.n < IKEY_TRAILER ? -EINVAL : lookup_key_build(&it->target, target);
    if (it->err) {
        it->sit.node = NULL; /* invalid, status says why */
        return;
    }
    skiplist_iter_seek(&it->sit, it->target.p);
    mt_fill(it);
}

static void mt_next(struct iter *base)
{
    struct mt_iter *it = (struct mt_iter *)base;
    skiplist_iter_next(&it->sit);
    mt_fill(it);
}

static void mt_prev(struct iter *base)
{
    struct mt_iter *it = (struct mt_iter *)base;
    skiplist_iter_prev(&it->sit);
    mt_fill(it);
}

static struct slice mt_key(const struct iter *base)
{
    return ((const struct mt_iter *)base)->key;
}

static struct slice mt_value(const struct iter *base)
{
    return ((const struct mt_iter *)base)->value;
}

static int mt_status(const struct iter *base)
{
    return ((const struct mt_iter *)base)->err;
}

static void mt_destroy(struct iter *base)
{
    struct mt_iter *it = (struct mt_iter *)base;
    buffer_free(&it->target);
    memtable_unref(it->m);
    free(it);
}

static const struct iter_ops mt_iter_ops = {
    mt_valid, mt_seek_first, mt_seek_last, mt_seek,   mt_next,
    mt_prev,  mt_key,        mt_value,     mt_status, mt_destroy,
};

struct iter *memtable_iter(struct memtable *m)
{
    struct mt_iter *it = calloc(1, sizeof(*it));
    if (!it) return iter_new_empty(-ENOMEM);
    it->base.ops = &mt_iter_ops;
    memtable_ref(m);
    it->m = m;
    skiplist_iter_init(&it->sit, &m->list);
    return &it->base;
}
