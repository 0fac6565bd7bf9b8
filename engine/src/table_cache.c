/* table_cache.c — open table readers, LRU by file number (see
 * table_cache.h). */
#include "table_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "filename.h"
#include "table_reader.h"

/* One open table. refs counts the cache's own reference (while the entry
 * is in the map) plus one per handle given out; the entry is on the LRU
 * list exactly when only the cache holds it. */
struct tc_handle {
    uint64_t number;
    struct table *t;
    struct env_file *f;                    /* the table does not own its file */
    int refs;                              /* mu */
    int in_map;                            /* mu */
    struct tc_handle *hnext;               /* mu: hash chain */
    struct tc_handle *lru_prev, *lru_next; /* mu: idle list */
};

struct table_cache {
    struct lsmer_env *env;
    char *dir;
    struct table_options topt;
    size_t max_open;

    pthread_mutex_t mu;
    struct tc_handle **buckets; /* mu */
    size_t nbuckets;            /* power of two */
    struct tc_handle lru;       /* mu: sentinel; lru.lru_next is the oldest */
    size_t in_map;              /* mu: entries in the map */
    size_t open;                /* mu: entries not yet closed */
};

/* ---- private helpers ------------------------------------------------------ */

static size_t bucket_of(const struct table_cache *tc, uint64_t number)
{
    return (size_t)((number * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & (tc->nbuckets - 1);
}

static struct tc_handle **find_slot(struct table_cache *tc, uint64_t number)
{
    struct tc_handle **p = &tc->buckets[bucket_of(tc, number)];
    while (*p && (*p)->number != number) p = &(*p)->hnext;
    return p;
}

static void lru_remove(struct tc_handle *e)
{
    e->lru_prev->lru_next = e->lru_next;
    e->lru_next->lru_prev = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_append(struct table_cache *tc, struct tc_handle *e)
{
    e->lru_next = &tc->lru;
    e->lru_prev = tc->lru.lru_prev;
    e->lru_prev->lru_next = e;
    tc->lru.lru_prev = e;
}

/* Takes e out of the map (mu held). Returns 1 if that dropped the last
 * reference, so the caller must close it (after unlocking). */
static int unmap_locked(struct table_cache *tc, struct tc_handle *e)
{
    struct tc_handle **p = find_slot(tc, e->number);
    *p = e->hnext;
    e->hnext = NULL;
    e->in_map = 0;
    tc->in_map--;
    if (e->lru_next) lru_remove(e);
    return --e->refs == 0;
}

static void entry_close(struct tc_handle *e)
{
    table_close(e->t);
    env_close(e->f);
    free(e);
}

/* Evicts idle tables beyond max_open onto the victims list (mu held). */
static struct tc_handle *trim_locked(struct table_cache *tc)
{
    struct tc_handle *victims = NULL;
    while (tc->in_map > tc->max_open && tc->lru.lru_next != &tc->lru) {
        struct tc_handle *e = tc->lru.lru_next;
        if (unmap_locked(tc, e)) {
            tc->open--;
            e->hnext = victims;
            victims = e;
        }
    }
    return victims;
}

static void close_all(struct tc_handle *victims)
{
    while (victims) {
        struct tc_handle *next = victims->hnext;
        entry_close(victims);
        victims = next;
    }
}

static int open_table(struct table_cache *tc, const struct file_meta *fm, struct tc_handle **out)
{
    size_t cap = strlen(tc->dir) + FILENAME_MAX_BYTES + 2;
    struct tc_handle *e = NULL;
    char *path = malloc(cap);
    int rc = path ? filename_table(path, cap, tc->dir, fm->number) : -ENOMEM;
    if (rc) goto out;
    e = calloc(1, sizeof(*e));
    if (!e) {
        rc = -ENOMEM;
        goto out;
    }
    e->number = fm->number;
    rc = env_open(tc->env, path, ENV_READ, &e->f);
    if (rc) goto out;
    rc = table_open(e->f, path, fm->file_size, fm->number, &tc->topt, &e->t);
out:
    free(path);
    if (rc && e) {
        env_close(e->f);
        free(e);
        e = NULL;
    }
    *out = e;
    return rc;
}

/* ---- API ----------------------------------------------------------------- */

int table_cache_new(struct lsmer_env *env, const char *dir, const struct table_options *topt,
                    int max_open, struct table_cache **out)
{
    *out = NULL;
    if (max_open < 1) return -EINVAL;
    struct table_cache *tc = calloc(1, sizeof(*tc));
    if (!tc) return -ENOMEM;
    tc->nbuckets = 16;
    while (tc->nbuckets < (size_t)max_open) tc->nbuckets <<= 1;
    tc->buckets = calloc(tc->nbuckets, sizeof(*tc->buckets));
    tc->dir = strdup(dir);
    if (!tc->buckets || !tc->dir || pthread_mutex_init(&tc->mu, NULL) != 0) {
        free(tc->buckets);
        free(tc->dir);
        free(tc);
        return -ENOMEM;
    }
    tc->env = env;
    tc->topt = *topt;
    tc->max_open = (size_t)max_open;
    tc->lru.lru_next = tc->lru.lru_prev = &tc->lru;
    *out = tc;
    return 0;
}

void table_cache_free(struct table_cache *tc)
{
    if (!tc) return;
    for (size_t b = 0; b < tc->nbuckets; b++) {
        struct tc_handle *e = tc->buckets[b];
        while (e) {
            struct tc_handle *next = e->hnext;
            entry_close(e);
            e = next;
        }
    }
    pthread_mutex_destroy(&tc->mu);
    free(tc->buckets);
    free(tc->dir);
    free(tc);
}

int table_cache_get(struct table_cache *tc, const struct file_meta *f, struct table **t,
                    struct tc_handle **h)
{
    *t = NULL;
    *h = NULL;
    pthread_mutex_lock(&tc->mu);
    struct tc_handle *e = *find_slot(tc, f->number);
    if (e) {
        if (e->lru_next) lru_remove(e);
        e->refs++;
        pthread_mutex_unlock(&tc->mu);
        *t = e->t;
        *h = e;
        return 0;
    }
    pthread_mutex_unlock(&tc->mu);

    /* open without the lock: other tables stay reachable meanwhile */
    struct tc_handle *fresh;
    int rc = open_table(tc, f, &fresh);
    if (rc) return rc;

    pthread_mutex_lock(&tc->mu);
    struct tc_handle **slot = find_slot(tc, f->number);
    struct tc_handle *victims = NULL;
    if (*slot) {
        /* another thread opened it first: use that one */
        e = *slot;
        if (e->lru_next) lru_remove(e);
        e->refs++;
    } else {
        e = fresh;
        fresh = NULL;
        e->refs = 2; /* the map's and the caller's */
        e->in_map = 1;
        *slot = e;
        tc->in_map++;
        tc->open++;
        victims = trim_locked(tc);
    }
    pthread_mutex_unlock(&tc->mu);
    if (fresh) entry_close(fresh);
    close_all(victims);
    *t = e->t;
    *h = e;
    return 0;
}

void table_cache_release(struct table_cache *tc, struct tc_handle *h)
{
    if (!h) return;
    struct tc_handle *victims = NULL;
    pthread_mutex_lock(&tc->mu);
    if (--h->refs == 0) {
        tc->open--;
        victims = h; /* evicted while in use: last user closes it */
    } else if (h->refs == 1 && h->in_map) {
        lru_append(tc, h);
        victims = trim_locked(tc);
    }
    pthread_mutex_unlock(&tc->mu);
    close_all(victims);
}

void table_cache_evict(struct table_cache *tc, uint64_t file_number)
{
    struct tc_handle *dead = NULL;
    pthread_mutex_lock(&tc->mu);
    struct tc_handle *e = *find_slot(tc, file_number);
    if (e && unmap_locked(tc, e)) {
        tc->open--;
        dead = e;
    }
    pthread_mutex_unlock(&tc->mu);
    if (dead) entry_close(dead);
}

size_t table_cache_open_count(struct table_cache *tc)
{
    pthread_mutex_lock(&tc->mu);
    size_t n = tc->open;
    pthread_mutex_unlock(&tc->mu);
    return n;
}

/* ---- iterator that holds its table --------------------------------------- */

/* An iterator's end: the table it read may close now. */
static void release_after_iter(void *tc, void *h)
{
    table_cache_release(tc, h);
}

struct iter *table_cache_iter(struct table_cache *tc, const struct file_meta *f)
{
    struct table *t;
    struct tc_handle *h;
    int rc = table_cache_get(tc, f, &t, &h);
    if (rc) return iter_new_empty(rc);
    return table_iter_owned(t, release_after_iter, tc, h);
}
