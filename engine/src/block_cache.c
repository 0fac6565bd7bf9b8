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
#define CACHE_MIN_SLOTS 64

struct cache_handle {
    uint64_t file, offset;
    uint32_t hash;
    uint32_t refs;      /* shard mu */
    uint16_t in_cache;  /* shard mu */
    uint16_t allocated; /* the cache allocated it (else it lives in its data's memory) */
    void *data;
    size_t charge;
    void (*deleter)(void *data);
    struct cache_handle *next_dead;           /* on a local list of entries to delete */
    struct cache_handle *lru_prev, *lru_next; /* shard mu */
};

/* The shard's table is open addressing with linear probing: tags[i] is the
 * hash of the entry in slots[i], 0 for an empty slot (hashes are never 0).
 * A probe reads only the tag array, 16 tags to a cache line, and follows a
 * pointer only when the whole 32-bit hash matches: a miss touches no entry
 * and a hit only its own. (Chained buckets cost a cache miss per node walked;
 * that walk was a tenth of a random-seek profile.) At most half the slots are
 * used, so runs stay short. */
struct cache_shard {
    pthread_mutex_t mu;
    size_t capacity;
    size_t usage;                /* mu */
    uint32_t *tags;              /* mu */
    struct cache_handle **slots; /* mu */
    size_t mask, count;          /* mu: mask + 1 slots */
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
    return (uint32_t)z | 1u; /* 0 marks an empty slot */
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

/* The slot holding (file, offset), or the empty slot that ends its run. */
static size_t slot_find(const struct cache_shard *s, uint64_t file, uint64_t offset, uint32_t hash)
{
    size_t i = hash & s->mask;
    for (;; i = (i + 1) & s->mask) {
        uint32_t tag = s->tags[i];
        if (tag == 0) return i;
        if (tag == hash && s->slots[i]->file == file && s->slots[i]->offset == offset) return i;
    }
}

/* The slot of an entry known to be in the table: no entry is dereferenced. */
static size_t slot_of(const struct cache_shard *s, const struct cache_handle *e, uint32_t hash)
{
    size_t i = hash & s->mask;
    while (s->slots[i] != e) i = (i + 1) & s->mask;
    return i;
}

/* Empties slot i and moves later entries of its run back so that every
 * entry stays reachable from its home slot (no tombstones). */
static void slot_clear(struct cache_shard *s, size_t i)
{
    for (size_t j = (i + 1) & s->mask; s->tags[j] != 0; j = (j + 1) & s->mask) {
        size_t home = s->tags[j] & s->mask;
        /* The entry at j may fill the hole at i when i lies on its probe path
         * (cyclically between its home and j). */
        if (((j - home) & s->mask) >= ((j - i) & s->mask)) {
            s->tags[i] = s->tags[j];
            s->slots[i] = s->slots[j];
            i = j;
        }
    }
    s->tags[i] = 0;
    s->slots[i] = NULL;
}

static void slot_put(struct cache_shard *s, size_t i, struct cache_handle *e)
{
    s->tags[i] = e->hash;
    s->slots[i] = e;
}

/* Doubling is best effort: a failed allocation only lets the table fill
 * beyond half (it still works until it is full, which the capacity bound
 * keeps far away for blocks of any sensible size). */
static int shard_resize(struct cache_shard *s, size_t nslots)
{
    uint32_t *tags = calloc(nslots, sizeof(*tags));
    struct cache_handle **slots = calloc(nslots, sizeof(*slots));
    if (!tags || !slots) {
        free(tags);
        free(slots);
        return -ENOMEM;
    }
    uint32_t *old_tags = s->tags;
    struct cache_handle **old_slots = s->slots;
    size_t old_n = s->mask + 1;
    s->tags = tags;
    s->slots = slots;
    s->mask = nslots - 1;
    if (old_tags) {
        for (size_t i = 0; i < old_n; i++) {
            if (old_tags[i] == 0) continue;
            size_t j = old_tags[i] & s->mask;
            while (tags[j] != 0) j = (j + 1) & s->mask;
            tags[j] = old_tags[i];
            slots[j] = old_slots[i];
        }
    }
    free(old_tags);
    free(old_slots);
    return 0;
}

/* Drops one reference; an entry that reaches 0 goes on *dead. */
static void entry_unref(struct cache_shard *s, struct cache_handle *e, struct cache_handle **dead)
{
    e->refs--;
    if (e->refs == 0) {
        e->next_dead = *dead;
        *dead = e;
    } else if (e->refs == 1 && e->in_cache) {
        lru_append(s, e);
    }
}

/* Takes e, found in slot i, out of the cache. */
static void entry_detach(struct block_cache *c, struct cache_shard *s, size_t i,
                         struct cache_handle **dead)
{
    struct cache_handle *e = s->slots[i];
    slot_clear(s, i);
    s->count--;
    if (e->refs == 1) lru_remove(e);
    e->in_cache = 0;
    s->usage -= e->charge;
    atomic_fetch_sub(&c->usage, e->charge);
    entry_unref(s, e, dead);
}

static void shard_evict(struct block_cache *c, struct cache_shard *s, struct cache_handle **dead)
{
    while (s->usage > s->capacity && s->lru.lru_next != &s->lru) {
        struct cache_handle *old = s->lru.lru_next;
        entry_detach(c, s, slot_of(s, old, old->hash), dead);
        atomic_fetch_add(&c->evictions, 1);
    }
}

static void run_deleters(struct cache_handle *dead)
{
    while (dead) {
        struct cache_handle *next = dead->next_dead;
        int allocated = dead->allocated;
        /* An embedded handle goes with its data. */
        if (dead->deleter) dead->deleter(dead->data);
        if (allocated) free(dead);
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
        if (shard_resize(s, CACHE_MIN_SLOTS) || pthread_mutex_init(&s->mu, NULL)) {
            free(s->tags);
            free(s->slots);
            for (unsigned j = 0; j < i; j++) {
                free(c->shards[j].tags);
                free(c->shards[j].slots);
                pthread_mutex_destroy(&c->shards[j].mu);
            }
            free(c);
            return NULL;
        }
    }
    return c;
}

void block_cache_free(struct block_cache *c)
{
    if (!c) return;
    for (unsigned i = 0; i < CACHE_SHARDS; i++) {
        struct cache_shard *s = &c->shards[i];
        struct cache_handle *dead = NULL;
        for (size_t j = 0; j <= s->mask; j++) {
            if (s->tags[j] == 0) continue;
            s->slots[j]->next_dead = dead;
            dead = s->slots[j];
        }
        run_deleters(dead);
        free(s->tags);
        free(s->slots);
        pthread_mutex_destroy(&s->mu);
    }
    free(c);
}

struct cache_handle *block_cache_lookup(struct block_cache *c, uint64_t file, uint64_t offset)
{
    uint32_t h = cache_hash(file, offset);
    struct cache_shard *s = shard_of(c, h);
    pthread_mutex_lock(&s->mu);
    struct cache_handle *e = s->slots[slot_find(s, file, offset, h)];
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

static struct cache_handle *insert(struct block_cache *c, struct cache_handle *e, int allocated,
                                   uint64_t file, uint64_t offset, void *data, size_t charge,
                                   void (*deleter)(void *data))
{
    memset(e, 0, sizeof(*e));
    e->allocated = (uint16_t)allocated;
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
    size_t i = slot_find(s, file, offset, e->hash);
    if (s->tags[i] != 0) {
        entry_detach(c, s, i, &dead);
        i = slot_find(s, file, offset, e->hash);
    }
    /* Keep the table at most half full; a failed resize leaves it fuller
     * but always with a free slot, since an entry that does not fit is not
     * kept (it stays the caller's until release). */
    if ((s->count + 1) * 2 > s->mask + 1 && shard_resize(s, 2 * (s->mask + 1)) == 0)
        i = slot_find(s, file, offset, e->hash);
    if (s->count + 1 < s->mask + 1) {
        slot_put(s, i, e);
        e->in_cache = 1;
        e->refs++;
        s->count++;
        s->usage += charge;
        atomic_fetch_add(&c->usage, charge);
        shard_evict(c, s, &dead);
    }
    pthread_mutex_unlock(&s->mu);
    run_deleters(dead);
    return e;
}

_Static_assert(sizeof(struct cache_handle) <= BLOCK_CACHE_HANDLE_SIZE,
               "BLOCK_CACHE_HANDLE_SIZE too small");

struct cache_handle *block_cache_insert(struct block_cache *c, uint64_t file, uint64_t offset,
                                        void *data, size_t charge, void (*deleter)(void *data))
{
    struct cache_handle *e = malloc(sizeof(*e));
    if (!e) {
        if (deleter) deleter(data);
        return NULL;
    }
    return insert(c, e, 1, file, offset, data, charge, deleter);
}

struct cache_handle *block_cache_insert_at(struct block_cache *c, void *handle_mem, uint64_t file,
                                           uint64_t offset, void *data, size_t charge,
                                           void (*deleter)(void *data))
{
    return insert(c, handle_mem, 0, file, offset, data, charge, deleter);
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
    entry_unref(s, h, &dead);
    /* A block pinned past the shard's share may be evictable now. */
    if (s->usage > s->capacity) shard_evict(c, s, &dead);
    pthread_mutex_unlock(&s->mu);
    run_deleters(dead);
}

void block_cache_erase_file(struct block_cache *c, uint64_t file)
{
    for (unsigned n = 0; n < CACHE_SHARDS; n++) {
        struct cache_shard *s = &c->shards[n];
        struct cache_handle *dead = NULL;
        pthread_mutex_lock(&s->mu);
        /* Clearing slot i may move a later entry back into it, so i is
         * looked at again. Entries move only back into the hole, and one
         * that moves across the end of the array comes from a slot already
         * passed, where it was looked at. */
        for (size_t i = 0; i <= s->mask;) {
            if (s->tags[i] != 0 && s->slots[i]->file == file)
                entry_detach(c, s, i, &dead);
            else
                i++;
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
