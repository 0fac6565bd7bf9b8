/* block_cache.c — sharded LRU block cache (see block_cache.h).
 *
 * Each entry counts its references: one for being in the cache (in_cache)
 * plus one per handle. An entry is on its shard's LRU list exactly when it is
 * in the cache and no handle holds it (refs == 1), so eviction never has to
 * skip pinned entries. Deleters run after the shard lock is dropped: entries
 * whose count reaches 0 are collected on a local list first.
 */
#include "block_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SHARD_BITS 4
#define CACHE_SHARDS (1u << CACHE_SHARD_BITS)
#define CACHE_MIN_BUCKETS 64

struct cache_handle {
    uint64_t file, offset;
    uint32_t hash;
    void *data;
    size_t charge;
    void (*deleter)(void *data);
    uint32_t refs;                            /* shard mu */
    int in_cache;                             /* shard mu */
    struct cache_handle *next_hash;           /* shard mu: bucket chain, or free list */
    struct cache_handle *lru_prev, *lru_next; /* shard mu */
};

struct cache_shard {
    pthread_mutex_t mu;
    size_t capacity;
    size_t usage;                /* mu */
    struct cache_handle **table; /* mu */
    size_t nbuckets, count;      /* mu */
    struct cache_handle lru;     /* mu: dummy head; lru.lru_next is the oldest */
};

struct block_cache {
    struct cache_shard shards[CACHE_SHARDS];
    size_t capacity;
    _Atomic uint64_t hits, misses, inserts, evictions, usage, pinned;
};

/* ---- private ----------------------------------------------------------- */

static uint32_t cache_hash(uint64_t file, uint64_t offset)
{
    uint64_t z = file * 0x9e3779b97f4a7c15ull ^ (offset + 0x632be59bd9b4e019ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (uint32_t)z;
}

static struct cache_shard *shard_of(struct block_cache *c, uint32_t hash)
{
    return &c->shards[hash >> (32 - CACHE_SHARD_BITS)];
}

static void lru_remove(struct cache_handle *e)
{
    e->lru_prev->lru_next = e->lru_next;
    e->lru_next->lru_prev = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_append(struct cache_shard *s, struct cache_handle *e)
{
    e->lru_next = &s->lru;
    e->lru_prev = s->lru.lru_prev;
    e->lru_prev->lru_next = e;
    s->lru.lru_prev = e;
}

static struct cache_handle **bucket_find(struct cache_shard *s, uint64_t file, uint64_t offset,
                                         uint32_t hash)
{
    struct cache_handle **pp = &s->table[hash & (s->nbuckets - 1)];
    while (*pp && ((*pp)->file != file || (*pp)->offset != offset)) pp = &(*pp)->next_hash;
    return pp;
}

/* Doubling is best effort: a failed allocation only makes chains longer. */
static void shard_grow(struct cache_shard *s)
{
    size_t nb = s->nbuckets * 2;
    struct cache_handle **t = calloc(nb, sizeof(*t));
    if (!t) return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        struct cache_handle *e = s->table[i];
        while (e) {
            struct cache_handle *next = e->next_hash;
            struct cache_handle **b = &t[e->hash & (nb - 1)];
            e->next_hash = *b;
            *b = e;
            e = next;
        }
    }
    free(s->table);
    s->table = t;
    s->nbuckets = nb;
}

/* Drops one reference; an entry that reaches 0 goes on *dead. */
static void entry_unref(struct block_cache *c, struct cache_shard *s, struct cache_handle *e,
                        struct cache_handle **dead)
{
    e->refs--;
    if (e->refs == 0) {
        e->next_hash = *dead;
        *dead = e;
    } else if (e->refs == 1 && e->in_cache) {
        lru_append(s, e);
    }
    (void)c;
}

/* Takes e (found by *pp in the table) out of the cache. */
static void entry_detach(struct block_cache *c, struct cache_shard *s, struct cache_handle **pp,
                         struct cache_handle **dead)
{
    struct cache_handle *e = *pp;
    *pp = e->next_hash;
    s->count--;
    if (e->refs == 1) lru_remove(e);
    e->in_cache = 0;
    s->usage -= e->charge;
    atomic_fetch_sub(&c->usage, e->charge);
    entry_unref(c, s, e, dead);
}

static void shard_evict(struct block_cache *c, struct cache_shard *s, struct cache_handle **dead)
{
    while (s->usage > s->capacity && s->lru.lru_next != &s->lru) {
        struct cache_handle *old = s->lru.lru_next;
        struct cache_handle **pp = bucket_find(s, old->file, old->offset, old->hash);
        entry_detach(c, s, pp, dead);
        atomic_fetch_add(&c->evictions, 1);
    }
}

static void run_deleters(struct cache_handle *dead)
{
    while (dead) {
        struct cache_handle *next = dead->next_hash;
        if (dead->deleter) dead->deleter(dead->data);
        free(dead);
        dead = next;
    }
}

/* ---- API --------------------------------------------------------------- */

struct block_cache *block_cache_new(size_t capacity)
{
    struct block_cache *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->capacity = capacity;
    size_t per = capacity / CACHE_SHARDS + (capacity % CACHE_SHARDS != 0);
    for (unsigned i = 0; i < CACHE_SHARDS; i++) {
        struct cache_shard *s = &c->shards[i];
        s->capacity = per;
        s->lru.lru_next = s->lru.lru_prev = &s->lru;
        s->nbuckets = CACHE_MIN_BUCKETS;
        s->table = calloc(s->nbuckets, sizeof(*s->table));
        if (!s->table || pthread_mutex_init(&s->mu, NULL)) {
            free(s->table);
            for (unsigned j = 0; j < i; j++) {
                free(c->shards[j].table);
                pthread_mutex_destroy(&c->shards[j].mu);
            }
            free(c);
            return NULL;
        }
    }
    atomic_store(&c->usage, 0);
    return c;
}

void block_cache_free(struct block_cache *c)
{
    if (!c) return;
    for (unsigned i = 0; i < CACHE_SHARDS; i++) {
        struct cache_shard *s = &c->shards[i];
        struct cache_handle *dead = NULL;
        for (size_t b = 0; b < s->nbuckets; b++) {
            struct cache_handle *e = s->table[b];
            while (e) {
                struct cache_handle *next = e->next_hash;
                e->next_hash = dead;
                dead = e;
                e = next;
            }
        }
        run_deleters(dead);
        free(s->table);
        pthread_mutex_destroy(&s->mu);
    }
    free(c);
}

struct cache_handle *block_cache_lookup(struct block_cache *c, uint64_t file, uint64_t offset)
{
    uint32_t h = cache_hash(file, offset);
    struct cache_shard *s = shard_of(c, h);
    pthread_mutex_lock(&s->mu);
    struct cache_handle *e = *bucket_find(s, file, offset, h);
    if (e) {
        if (e->refs == 1) {
            lru_remove(e);
            atomic_fetch_add(&c->pinned, e->charge);
        }
        e->refs++;
    }
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_add(e ? &c->hits : &c->misses, 1);
    return e;
}

struct cache_handle *block_cache_insert(struct block_cache *c, uint64_t file, uint64_t offset,
                                        void *data, size_t charge, void (*deleter)(void *data))
{
    struct cache_handle *e = calloc(1, sizeof(*e));
    if (!e) {
        if (deleter) deleter(data);
        return NULL;
    }
    e->file = file;
    e->offset = offset;
    e->hash = cache_hash(file, offset);
    e->data = data;
    e->charge = charge;
    e->deleter = deleter;
    e->refs = 1; /* the caller's handle */
    atomic_fetch_add(&c->pinned, charge);
    atomic_fetch_add(&c->inserts, 1);
    if (c->capacity == 0) return e;

    struct cache_shard *s = shard_of(c, e->hash);
    struct cache_handle *dead = NULL;
    pthread_mutex_lock(&s->mu);
    struct cache_handle **pp = bucket_find(s, file, offset, e->hash);
    if (*pp) entry_detach(c, s, pp, &dead);
    pp = &s->table[e->hash & (s->nbuckets - 1)];
    e->next_hash = *pp;
    *pp = e;
    e->in_cache = 1;
    e->refs++;
    s->count++;
    s->usage += charge;
    atomic_fetch_add(&c->usage, charge);
    shard_evict(c, s, &dead);
    if (s->count > s->nbuckets) shard_grow(s);
    pthread_mutex_unlock(&s->mu);
    run_deleters(dead);
    return e;
}

void *cache_handle_value(const struct cache_handle *h)
{
    return h->data;
}

void block_cache_release(struct block_cache *c, struct cache_handle *h)
{
    if (!h) return;
    struct cache_shard *s = shard_of(c, h->hash);
    struct cache_handle *dead = NULL;
    pthread_mutex_lock(&s->mu);
    if (h->refs - (uint32_t)h->in_cache == 1) atomic_fetch_sub(&c->pinned, h->charge);
    entry_unref(c, s, h, &dead);
    /* A block pinned past the shard's share may be evictable now. */
    if (s->usage > s->capacity) shard_evict(c, s, &dead);
    pthread_mutex_unlock(&s->mu);
    run_deleters(dead);
}

void block_cache_erase_file(struct block_cache *c, uint64_t file)
{
    for (unsigned i = 0; i < CACHE_SHARDS; i++) {
        struct cache_shard *s = &c->shards[i];
        struct cache_handle *dead = NULL;
        pthread_mutex_lock(&s->mu);
        for (size_t b = 0; b < s->nbuckets; b++) {
            struct cache_handle **pp = &s->table[b];
            while (*pp) {
                if ((*pp)->file == file)
                    entry_detach(c, s, pp, &dead);
                else
                    pp = &(*pp)->next_hash;
            }
        }
        pthread_mutex_unlock(&s->mu);
        run_deleters(dead);
    }
}

void block_cache_get_stats(const struct block_cache *c, struct block_cache_stats *out)
{
    struct block_cache *m = (struct block_cache *)c; /* atomics are read-only here */
    out->hits = atomic_load(&m->hits);
    out->misses = atomic_load(&m->misses);
    out->inserts = atomic_load(&m->inserts);
    out->evictions = atomic_load(&m->evictions);
    out->usage = atomic_load(&m->usage);
    out->pinned = atomic_load(&m->pinned);
    out->capacity = c->capacity;
}
