/* test_mt_block_cache.c — many threads insert, look up, hold, release and
 * erase in one small cache. Each value records its own key; a holder checks
 * it while pinned (a value freed too early shows up under Asan/TSan or as a
 * wrong key), and at the end every value ever inserted has been deleted
 * exactly once. Run under ThreadSanitizer by the concurrency label. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "block_cache.h"
#include "dbformat.h"
#include "table_builder.h"
#include "table_reader.h"
#include "testutil.h"

#define THREADS 4
#define MAGIC 0x5eedcafeu

struct val {
    uint32_t magic;
    uint64_t file, off;
};

static _Atomic uint64_t created, destroyed, bad_deletes;
static uint64_t seed;

static void val_delete(void *p)
{
    struct val *v = p;
    /* no cmocka asserts off the main thread: count, check later */
    if (v->magic != MAGIC) atomic_fetch_add(&bad_deletes, 1);
    v->magic = 0;
    free(v);
    atomic_fetch_add(&destroyed, 1);
}

struct worker {
    struct block_cache *c;
    int id, ops;
    int failed;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct rng r;
    rng_init(&r, seed + (uint64_t)w->id * 7919);
    struct cache_handle *held[8] = {0};
    for (int i = 0; i < w->ops; i++) {
        uint64_t file = rng_uniform(&r, 4), off = rng_uniform(&r, 256) * 4096;
        int slot = (int)rng_uniform(&r, 8);
        uint64_t op = rng_uniform(&r, 100);
        struct cache_handle *h = NULL;
        if (op < 50) {
            h = block_cache_lookup(w->c, file, off);
        } else if (op < 85) {
            struct val *v = malloc(sizeof(*v));
            if (!v) continue;
            v->magic = MAGIC;
            v->file = file;
            v->off = off;
            atomic_fetch_add(&created, 1);
            h = block_cache_insert(w->c, file, off, v, 64 + rng_uniform(&r, 512), val_delete);
        } else if (op < 99) {
            block_cache_release(w->c, held[slot]);
            held[slot] = NULL;
            continue;
        } else {
            block_cache_erase_file(w->c, file);
            continue;
        }
        if (!h) continue;
        struct val *v = cache_handle_value(h);
        if (v->magic != MAGIC || v->file != file || v->off != off) w->failed = 1;
        block_cache_release(w->c, held[slot]);
        held[slot] = h;
        for (int j = 0; j < 8; j++) {
            if (!held[j]) continue;
            struct val *hv = cache_handle_value(held[j]);
            if (hv->magic != MAGIC) w->failed = 1;
        }
    }
    for (int j = 0; j < 8; j++) block_cache_release(w->c, held[j]);
    return NULL;
}

static void run(size_t capacity, int ops)
{
    atomic_store(&created, 0);
    atomic_store(&destroyed, 0);
    struct block_cache *c = block_cache_new(capacity);
    assert_non_null(c);
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){c, i, ops, 0};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failed, 0);
    }
    struct block_cache_stats s;
    block_cache_get_stats(c, &s);
    assert_int_equal(s.pinned, 0);
    assert_true(s.usage <= capacity);
    assert_int_equal(s.inserts, atomic_load(&created));
    block_cache_free(c);
    assert_int_equal(atomic_load(&created), atomic_load(&destroyed));
    assert_int_equal(atomic_load(&bad_deletes), 0);
}

static void small_cache(void **state)
{
    (void)state;
    run(16 * 2048, 60000);
}

static void large_cache(void **state)
{
    (void)state;
    run(64 << 20, 40000);
}

static void disabled_cache(void **state)
{
    (void)state;
    run(0, 20000);
}

/* ---- many readers of one table through one small cache ---------------- */

struct mem_file {
    struct env_file base;
    struct buffer *data; /* read-only once the table is built */
};

static int mem_pread(struct env_file *f, void *buf, size_t n, uint64_t off, size_t *got)
{
    struct buffer *d = ((struct mem_file *)f)->data;
    *got = 0;
    if (off >= d->n) return 0;
    *got = d->n - off < n ? d->n - (size_t)off : n;
    memcpy(buf, d->p + off, *got);
    return 0;
}

static int mem_append(struct env_file *f, const void *buf, size_t n)
{
    return buffer_append(((struct mem_file *)f)->data, buf, n);
}

static const struct env_ops mem_ops = {.pread = mem_pread, .append = mem_append};
static struct lsmer_env mem_env = {&mem_ops};

#define TABLE_KEYS 20000

static void key_of(int i, struct buffer *k)
{
    char u[16];
    snprintf(u, sizeof(u), "key%08d", i);
    k->n = 0;
    ikey_append(k, u, 11, (uint64_t)i + 1, TYPE_VALUE);
}

static int value_ok(int i, struct slice v)
{
    char want[64];
    int n = snprintf(want, sizeof(want), "value-%d-value-%d-value", i, i);
    return v.n == (size_t)n && memcmp(v.p, want, (size_t)n) == 0;
}

struct reader {
    struct table *t;
    int id;
    int failed;
};

static void *read_work(void *arg)
{
    struct reader *r = arg;
    struct rng g;
    rng_init(&g, seed + (uint64_t)r->id * 104729);
    struct buffer k = BUFFER_INIT, v = BUFFER_INIT;
    for (int op = 0; op < 3000 && !r->failed; op++) {
        int i = (int)rng_uniform(&g, TABLE_KEYS);
        key_of(i, &k);
        if (rng_one_in(&g, 4)) {
            struct iter *it = table_iter(r->t);
            iter_seek(it, buffer_slice(&k));
            for (int s = 0; s < 50 && i + s < TABLE_KEYS; s++, iter_next(it))
                if (!iter_valid(it) || !value_ok(i + s, iter_value(it))) r->failed = 1;
            if (iter_status(it)) r->failed = 1;
            iter_destroy(it);
        } else if (table_get(r->t, buffer_slice(&k), NULL, &v) != 1 ||
                   !value_ok(i, buffer_slice(&v))) {
            r->failed = 1;
        }
    }
    buffer_free(&k);
    buffer_free(&v);
    return NULL;
}

static void shared_table_readers(void **state)
{
    (void)state;
    struct buffer file = BUFFER_INIT, k = BUFFER_INIT;
    struct mem_file f = {{&mem_env}, &file};
    struct table_options opt;
    table_options_init(&opt);
    opt.cache = block_cache_new(64 * 1024); /* far smaller than the table */
    struct table_builder *b;
    assert_int_equal(table_builder_new(&f.base, &opt, &b), 0);
    for (int i = 0; i < TABLE_KEYS; i++) {
        char val[64];
        int n = snprintf(val, sizeof(val), "value-%d-value-%d-value", i, i);
        key_of(i, &k);
        assert_int_equal(table_builder_add(b, buffer_slice(&k), slice_make(val, (size_t)n)), 0);
    }
    assert_int_equal(table_builder_finish(b), 0);
    table_builder_free(b);
    struct table *t;
    assert_int_equal(table_open(&f.base, "mt.sst", file.n, 1, &opt, &t), 0);
    pthread_t th[THREADS];
    struct reader r[THREADS];
    for (int i = 0; i < THREADS; i++) {
        r[i] = (struct reader){t, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, read_work, &r[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].failed, 0);
    }
    struct block_cache_stats s;
    block_cache_get_stats(opt.cache, &s);
    assert_true(s.evictions > 0);
    assert_int_equal(s.pinned, 0);
    table_close(t);
    block_cache_free(opt.cache);
    buffer_free(&file);
    buffer_free(&k);
}

int main(void)
{
    seed = test_seed("test_mt_block_cache");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_cache),
        cmocka_unit_test(large_cache),
        cmocka_unit_test(disabled_cache),
        cmocka_unit_test(shared_table_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
