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
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "block_cache.h"
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

int main(void)
{
    seed = test_seed("test_mt_block_cache");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_cache),
        cmocka_unit_test(large_cache),
        cmocka_unit_test(disabled_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
