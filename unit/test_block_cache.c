/* test_block_cache.c — LRU order, byte capacity, reference counting
 * (evicted-while-pinned entries live until released), replacement, erase by
 * file, capacity 0, statistics, the open-addressing table against a model,
 * and handles embedded in their value's allocation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "block_cache.h"
#include "testutil.h"

/* Values are ints in a table that records deletions. */
#define NVALS 4096
static int deleted[NVALS];
static int vals[NVALS];

static void del(void *p)
{
    int *v = p;
    deleted[v - vals]++;
}

static void reset(void)
{
    memset(deleted, 0, sizeof(deleted));
    for (int i = 0; i < NVALS; i++) vals[i] = i;
}

static void insert_release(struct block_cache *c, uint64_t f, uint64_t off, int v, size_t charge)
{
    struct cache_handle *h = block_cache_insert(c, f, off, &vals[v], charge, del);
    assert_non_null(h);
    block_cache_release(c, h);
}

/* Looks (file, off) up: the value index, or -1 on a miss. */
static int get(struct block_cache *c, uint64_t f, uint64_t off)
{
    struct cache_handle *h = block_cache_lookup(c, f, off);
    if (!h) return -1;
    int v = *(int *)cache_handle_value(h);
    block_cache_release(c, h);
    return v;
}

static void hit_and_miss(void **state)
{
    (void)state;
    reset();
    struct block_cache *c = block_cache_new(1 << 20);
    assert_int_equal(get(c, 1, 0), -1);
    insert_release(c, 1, 0, 10, 100);
    insert_release(c, 1, 4096, 11, 100);
    insert_release(c, 2, 0, 12, 100);
    assert_int_equal(get(c, 1, 0), 10);
    assert_int_equal(get(c, 1, 4096), 11);
    assert_int_equal(get(c, 2, 0), 12);
    assert_int_equal(get(c, 2, 4096), -1);
    struct block_cache_stats s;
    block_cache_get_stats(c, &s);
    assert_int_equal(s.hits, 3);
    assert_int_equal(s.misses, 2);
    assert_int_equal(s.usage, 300);
    assert_int_equal(s.pinned, 0);
    assert_int_equal(s.capacity, 1 << 20);
    /* replacing a key deletes the old value */
    insert_release(c, 1, 0, 20, 50);
    assert_int_equal(deleted[10], 1);
    assert_int_equal(get(c, 1, 0), 20);
    block_cache_get_stats(c, &s);
    assert_int_equal(s.usage, 250);
    block_cache_free(c);
    assert_int_equal(deleted[20], 1);
    assert_int_equal(deleted[11], 1);
    assert_int_equal(deleted[12], 1);
}

static void lru_eviction(void **state)
{
    (void)state;
    reset();
    /* 16 shards of 1000 bytes; every entry charges 100 */
    struct block_cache *c = block_cache_new(16 * 1000);
    for (int i = 0; i < 2000; i++) {
        insert_release(c, 7, (uint64_t)i * 4096, i, 100);
        /* keep entry 0 hot */
        assert_int_equal(get(c, 7, 0), 0);
    }
    struct block_cache_stats s;
    block_cache_get_stats(c, &s);
    assert_true(s.usage <= 16 * 1000);
    assert_true(s.evictions >= 2000 - 160);
    assert_int_equal(get(c, 7, 0), 0); /* hot one survived */
    /* the most recent entries are present, the oldest are gone */
    assert_int_equal(get(c, 7, 1999 * 4096), 1999);
    int present = 0;
    for (int i = 1; i < 1000; i++) present += get(c, 7, (uint64_t)i * 4096) >= 0;
    assert_true(present < 20);
    int gone = 0;
    for (int i = 1; i < 2000; i++) gone += deleted[i];
    assert_int_equal((uint64_t)gone, s.evictions);
    block_cache_free(c);
    for (int i = 0; i < 2000; i++) assert_int_equal(deleted[i], 1);
}

static void pinned_survives_eviction(void **state)
{
    (void)state;
    reset();
    struct block_cache *c = block_cache_new(16 * 1000);
    struct cache_handle *pin = block_cache_insert(c, 1, 0, &vals[0], 100, del);
    struct block_cache_stats s;
    block_cache_get_stats(c, &s);
    assert_int_equal(s.pinned, 100);
    for (int i = 1; i < 1000; i++) insert_release(c, 1, (uint64_t)i * 4096, i, 100);
    /* still in the cache (pinned entries are never evicted) */
    assert_int_equal(get(c, 1, 0), 0);
    /* erased while pinned: out of the cache, but alive for the holder */
    block_cache_erase_file(c, 1);
    assert_int_equal(get(c, 1, 0), -1);
    assert_int_equal(deleted[0], 0);
    assert_int_equal(*(int *)cache_handle_value(pin), 0);
    block_cache_get_stats(c, &s);
    assert_int_equal(s.usage, 0);
    block_cache_release(c, pin);
    assert_int_equal(deleted[0], 1);
    block_cache_get_stats(c, &s);
    assert_int_equal(s.pinned, 0);

    /* replaced while pinned: the old value lives until released */
    struct cache_handle *a = block_cache_insert(c, 3, 0, &vals[2050], 10, del);
    insert_release(c, 3, 0, 2051, 10);
    assert_int_equal(deleted[2050], 0);
    assert_int_equal(get(c, 3, 0), 2051);
    block_cache_release(c, a);
    assert_int_equal(deleted[2050], 1);
    block_cache_free(c);
    assert_int_equal(deleted[2051], 1);
}

static void oversized_entry_shrinks_back(void **state)
{
    (void)state;
    reset();
    struct block_cache *c = block_cache_new(1600);
    /* larger than a shard's share: stays while pinned, goes on release */
    struct cache_handle *h = block_cache_insert(c, 9, 0, &vals[1], 5000, del);
    assert_non_null(h);
    struct cache_handle *h2 = block_cache_lookup(c, 9, 0);
    assert_ptr_equal(h2, h);
    block_cache_release(c, h2);
    block_cache_release(c, h);
    assert_int_equal(deleted[1], 1);
    struct block_cache_stats s;
    block_cache_get_stats(c, &s);
    assert_int_equal(s.usage, 0);
    block_cache_free(c);
}

static void erase_file_only_that_file(void **state)
{
    (void)state;
    reset();
    struct block_cache *c = block_cache_new(1 << 20);
    for (int i = 0; i < 300; i++) insert_release(c, (uint64_t)(i % 3), (uint64_t)i, i, 10);
    block_cache_erase_file(c, 1);
    for (int i = 0; i < 300; i++) {
        assert_int_equal(get(c, (uint64_t)(i % 3), (uint64_t)i), i % 3 == 1 ? -1 : i);
        assert_int_equal(deleted[i], i % 3 == 1);
    }
    block_cache_free(c);
}

static void capacity_zero(void **state)
{
    (void)state;
    reset();
    struct block_cache *c = block_cache_new(0);
    struct cache_handle *h = block_cache_insert(c, 1, 0, &vals[5], 100, del);
    assert_non_null(h);
    assert_int_equal(*(int *)cache_handle_value(h), 5);
    assert_int_equal(get(c, 1, 0), -1);
    assert_int_equal(deleted[5], 0);
    block_cache_release(c, h);
    assert_int_equal(deleted[5], 1);
    struct block_cache_stats s;
    block_cache_get_stats(c, &s);
    assert_int_equal(s.usage, 0);
    assert_int_equal(s.pinned, 0);
    block_cache_free(c);
    block_cache_release(NULL, NULL);
}

/* Random operations against a model of what must still be alive. */
static void random_against_model(void **state)
{
    (void)state;
    reset();
    struct rng r;
    rng_init(&r, test_seed("test_block_cache.random"));
    struct block_cache *c = block_cache_new(16 * 500);
    struct cache_handle *held[64] = {0};
    int next = 0;
    for (int op = 0; op < 20000 && next < NVALS; op++) {
        uint64_t off = rng_uniform(&r, 300);
        int slot = (int)rng_uniform(&r, 64);
        switch (rng_uniform(&r, 3)) {
        case 0: {
            struct cache_handle *h =
                block_cache_insert(c, 1, off, &vals[next++], 1 + rng_uniform(&r, 100), del);
            if (held[slot]) block_cache_release(c, held[slot]);
            held[slot] = h;
            break;
        }
        case 1: {
            struct cache_handle *h = block_cache_lookup(c, 1, off);
            if (h) {
                int v = *(int *)cache_handle_value(h);
                assert_int_equal(deleted[v], 0); /* a cached value is alive */
                if (held[slot]) block_cache_release(c, held[slot]);
                held[slot] = h;
            }
            break;
        }
        default:
            if (held[slot]) block_cache_release(c, held[slot]);
            held[slot] = NULL;
        }
        for (int i = 0; i < 64; i++)
            if (held[i]) assert_int_equal(deleted[*(int *)cache_handle_value(held[i])], 0);
    }
    for (int i = 0; i < 64; i++) block_cache_release(c, held[i]);
    struct block_cache_stats s;
    block_cache_get_stats(c, &s);
    assert_int_equal(s.pinned, 0);
    assert_true(s.usage <= 16 * 500);
    block_cache_free(c);
    for (int i = 0; i < next; i++) assert_int_equal(deleted[i], 1);
}

/* The table holds exactly what was inserted and not replaced or erased:
 * every such key is found, every other key misses, and the usage is the sum
 * of their charges (an entry in the table but unreachable from its probe
 * start would show as a miss with its charge still counted). Many keys per
 * file, replacements and erases move entries around in the open-addressing
 * table. */
#define MODEL_FILES 8
#define MODEL_OFFSETS 512
static void table_holds_exactly_the_model(void **state)
{
    (void)state;
    reset();
    struct rng r;
    rng_init(&r, test_seed("test_block_cache.exact"));
    struct block_cache *c = block_cache_new(1 << 30); /* nothing is evicted */
    static int model[MODEL_FILES][MODEL_OFFSETS];     /* value + 1, 0 when absent */
    memset(model, 0, sizeof(model));
    int next = 0;
    for (int op = 0; op < 6000; op++) {
        uint64_t f = rng_uniform(&r, MODEL_FILES), off = rng_uniform(&r, MODEL_OFFSETS);
        if (rng_uniform(&r, 200) == 0) {
            block_cache_erase_file(c, f);
            memset(model[f], 0, sizeof(model[f]));
        } else {
            int v = next++ % NVALS;
            deleted[v] = 0;
            insert_release(c, f, off, v, 7);
            model[f][off] = v + 1;
        }
        if (op % 500 != 499) continue;
        uint64_t held = 0;
        for (uint64_t i = 0; i < MODEL_FILES; i++)
            for (uint64_t j = 0; j < MODEL_OFFSETS; j++) {
                assert_int_equal(get(c, i, j), model[i][j] - 1);
                held += model[i][j] != 0;
            }
        struct block_cache_stats s;
        block_cache_get_stats(c, &s);
        assert_int_equal(s.usage, held * 7);
    }
    block_cache_free(c);
}

/* Under eviction: whatever a lookup finds is the key's latest value, and
 * the usage is exactly the charge of what lookups can find. */
static void evicting_table_stays_reachable(void **state)
{
    (void)state;
    reset();
    struct rng r;
    rng_init(&r, test_seed("test_block_cache.evicting"));
    struct block_cache *c = block_cache_new(16 * 64);
    static int latest[4096];
    memset(latest, 0, sizeof(latest));
    for (int op = 0; op < 20000; op++) {
        uint64_t off = rng_uniform(&r, 4096);
        int v = op % NVALS;
        deleted[v] = 0;
        insert_release(c, 3, off, v, 1);
        latest[off] = v + 1;
        if (op % 1000 != 999) continue;
        uint64_t found = 0;
        for (uint64_t j = 0; j < 4096; j++) {
            int got = get(c, 3, j);
            if (got < 0) continue;
            assert_int_equal(got, latest[j] - 1);
            found++;
        }
        struct block_cache_stats s;
        block_cache_get_stats(c, &s);
        assert_int_equal(s.usage, found);
        assert_true(found <= 16 * 64 && found > 0);
    }
    block_cache_free(c);
}

/* Handles built inside the value's own allocation (as data blocks do): the
 * deleter frees both, once, after the last release; the leak and
 * use-after-free checks of the sanitizer build see any mistake. */
struct embedded {
    int v;
    _Alignas(16) unsigned char handle[BLOCK_CACHE_HANDLE_SIZE];
};
static int embedded_freed;
static void embedded_del(void *p)
{
    embedded_freed++;
    free(p);
}

static struct cache_handle *embedded_insert(struct block_cache *c, uint64_t f, uint64_t off, int v)
{
    struct embedded *e = malloc(sizeof(*e));
    assert_non_null(e);
    e->v = v;
    return block_cache_insert_at(c, e->handle, f, off, e, sizeof(*e), embedded_del);
}

static void embedded_handles(void **state)
{
    (void)state;
    embedded_freed = 0;
    struct block_cache *c = block_cache_new(16 * 4 * sizeof(struct embedded));
    /* Held across its eviction and its replacement. */
    struct cache_handle *pinned = embedded_insert(c, 1, 0, -1);
    struct cache_handle *h = embedded_insert(c, 1, 0, -2); /* replaces, pinned stays alive */
    block_cache_release(c, h);
    int inserted = 2;
    for (int i = 0; i < 1000; i++, inserted++)
        block_cache_release(c, embedded_insert(c, 2, (uint64_t)i, i));
    assert_int_equal(((struct embedded *)cache_handle_value(pinned))->v, -1);
    int freed_before = embedded_freed;
    block_cache_release(c, pinned);
    assert_int_equal(embedded_freed, freed_before + 1);
    /* Capacity 0: the handle owns its value until release. */
    struct block_cache *z = block_cache_new(0);
    block_cache_release(z, embedded_insert(z, 1, 1, 7));
    assert_int_equal(embedded_freed, freed_before + 2);
    block_cache_free(z);
    block_cache_erase_file(c, 2);
    block_cache_free(c);
    assert_int_equal(embedded_freed, inserted + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hit_and_miss),
        cmocka_unit_test(lru_eviction),
        cmocka_unit_test(pinned_survives_eviction),
        cmocka_unit_test(oversized_entry_shrinks_back),
        cmocka_unit_test(erase_file_only_that_file),
        cmocka_unit_test(capacity_zero),
        cmocka_unit_test(random_against_model),
        cmocka_unit_test(table_holds_exactly_the_model),
        cmocka_unit_test(evicting_table_stays_reachable),
        cmocka_unit_test(embedded_handles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
