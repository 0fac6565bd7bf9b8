/* test_skiplist.c — the skiplist against a sorted-array model: inserts with
 * duplicates, contains, seeks both ways, forward/backward walks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "arena.h"
#include "coding.h"
#include "skiplist.h"
#include "testutil.h"

/* Entries are 8-byte big-endian integers: memcmp order is numeric order. */
static int cmp8(void *arg, const uint8_t *a, const uint8_t *b)
{
    (void)arg;
    return memcmp(a, b, 8);
}

static uint64_t ent_val(const uint8_t *e)
{
    return get_be64(e);
}

static const uint8_t *mk(struct arena *a, uint64_t v)
{
    uint8_t *e = arena_alloc(a, 8);
    assert_non_null(e);
    put_be64(e, v);
    return e;
}

static int u64cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Index of the first model value >= v (n if none). */
static size_t lower_bound(const uint64_t *m, size_t n, uint64_t v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void skiplist_empty(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a);
    struct skiplist sl;
    assert_int_equal(skiplist_init(&sl, &a, cmp8, NULL), 0);
    struct skiplist_iter it;
    skiplist_iter_init(&it, &sl);
    assert_false(skiplist_iter_valid(&it));
    skiplist_iter_seek_first(&it);
    assert_false(skiplist_iter_valid(&it));
    skiplist_iter_seek_last(&it);
    assert_false(skiplist_iter_valid(&it));
    uint8_t k[8];
    put_be64(k, 5);
    skiplist_iter_seek(&it, k);
    assert_false(skiplist_iter_valid(&it));
    skiplist_iter_seek_for_prev(&it, k);
    assert_false(skiplist_iter_valid(&it));
    assert_false(skiplist_contains(&sl, k));
    arena_destroy(&a);
}

static void check_against_model(struct skiplist *sl, const uint64_t *m, size_t n, struct rng *r)
{
    struct skiplist_iter it;
    skiplist_iter_init(&it, sl);
    /* full forward and backward walks */
    size_t i = 0;
    for (skiplist_iter_seek_first(&it); skiplist_iter_valid(&it); skiplist_iter_next(&it), i++) {
        assert_true(i < n);
        assert_true(ent_val(skiplist_iter_entry(&it)) == m[i]);
    }
    assert_int_equal(i, n);
    i = n;
    for (skiplist_iter_seek_last(&it); skiplist_iter_valid(&it); skiplist_iter_prev(&it)) {
        assert_true(i > 0);
        i--;
        assert_true(ent_val(skiplist_iter_entry(&it)) == m[i]);
    }
    assert_int_equal(i, 0);
    /* random seeks, then a short random walk from there */
    for (int q = 0; q < 200; q++) {
        uint64_t v = rng_uniform(r, 1200);
        uint8_t k[8];
        put_be64(k, v);
        size_t lb = lower_bound(m, n, v);
        assert_int_equal(skiplist_contains(sl, k), lb < n && m[lb] == v);
        long pos;
        if (rng_one_in(r, 2)) {
            skiplist_iter_seek(&it, k);
            pos = (long)lb;
        } else {
            skiplist_iter_seek_for_prev(&it, k);
            pos = lb < n && m[lb] == v ? (long)lb : (long)lb - 1;
        }
        for (int step = 0; step < 8; step++) {
            if (pos < 0 || pos >= (long)n) {
                assert_false(skiplist_iter_valid(&it));
                break;
            }
            assert_true(skiplist_iter_valid(&it));
            assert_true(ent_val(skiplist_iter_entry(&it)) == m[pos]);
            if (rng_one_in(r, 2)) {
                skiplist_iter_next(&it);
                pos++;
            } else {
                skiplist_iter_prev(&it);
                pos--;
            }
        }
    }
}

static void skiplist_random_vs_model(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("skiplist_random_vs_model"));
    for (int round = 0; round < 4; round++) {
        struct arena a;
        arena_init(&a);
        struct skiplist sl;
        assert_int_equal(skiplist_init(&sl, &a, cmp8, NULL), 0);
        size_t cap = 1000, n = 0;
        uint64_t *m = malloc(cap * sizeof(*m));
        assert_non_null(m);
        for (int i = 0; i < 1000; i++) {
            uint64_t v = rng_uniform(&r, 1000) + (round & 1 ? 100 : 0);
            size_t lb = lower_bound(m, n, v);
            int dup = lb < n && m[lb] == v;
            int rc = skiplist_insert(&sl, mk(&a, v));
            assert_int_equal(rc, dup ? -EEXIST : 0);
            if (!dup) {
                memmove(m + lb + 1, m + lb, (n - lb) * sizeof(*m));
                m[lb] = v;
                n++;
            }
            if (i % 250 == 0) check_against_model(&sl, m, n, &r);
        }
        check_against_model(&sl, m, n, &r);
        qsort(m, n, sizeof(*m), u64cmp); /* still sorted: a sanity check of the model */
        check_against_model(&sl, m, n, &r);
        free(m);
        arena_destroy(&a);
    }
}

/* Sequential inserts ascending and descending (the worst cases for a
 * careless height or link update). */
static void skiplist_sequential(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, 1);
    for (int desc = 0; desc < 2; desc++) {
        struct arena a;
        arena_init(&a);
        struct skiplist sl;
        assert_int_equal(skiplist_init(&sl, &a, cmp8, NULL), 0);
        enum { N = 3000 };
        uint64_t *m = malloc(N * sizeof(*m));
        assert_non_null(m);
        for (uint64_t i = 0; i < N; i++) {
            m[i] = i * 2;
            assert_int_equal(skiplist_insert(&sl, mk(&a, desc ? (N - 1 - i) * 2 : i * 2)), 0);
        }
        check_against_model(&sl, m, N, &r);
        free(m);
        arena_destroy(&a);
    }
}

/* Inserts in runs — ascending runs from random starts (the splice's case:
 * each entry right after the last), descending runs, repeats of the last
 * entry and of its neighbours, random singles in between — so that the
 * remembered insert position is used, missed and refreshed in every way. */
static void skiplist_runs_vs_model(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("skiplist_runs_vs_model"));
    for (int round = 0; round < 6; round++) {
        struct arena a;
        arena_init(&a);
        struct skiplist sl;
        assert_int_equal(skiplist_init(&sl, &a, cmp8, NULL), 0);
        size_t n = 0;
        uint64_t *m = malloc(1200 * sizeof(*m));
        assert_non_null(m);
        uint64_t last = 0;
        for (int op = 0; op < 400; op++) {
            uint64_t kind = rng_uniform(&r, 4), len = 1 + rng_uniform(&r, 30);
            uint64_t v = rng_uniform(&r, 1200), step = 1 + rng_uniform(&r, 3);
            for (uint64_t j = 0; j < len; j++) {
                uint64_t x;
                if (kind == 0)
                    x = v + j * step; /* ascending */
                else if (kind == 1)
                    x = v >= j * step ? v - j * step : 0; /* descending */
                else if (kind == 2)
                    x = last + rng_uniform(&r, 3) - 1 + (last == 0); /* near the last */
                else
                    x = rng_uniform(&r, 1200); /* random */
                if (x >= 1200) break;
                size_t lb = lower_bound(m, n, x);
                int dup = lb < n && m[lb] == x;
                assert_int_equal(skiplist_insert(&sl, mk(&a, x)), dup ? -EEXIST : 0);
                if (!dup) {
                    memmove(m + lb + 1, m + lb, (n - lb) * sizeof(*m));
                    m[lb] = x;
                    n++;
                }
                last = x;
            }
            if (op % 50 == 49) check_against_model(&sl, m, n, &r);
        }
        check_against_model(&sl, m, n, &r);
        free(m);
        arena_destroy(&a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(skiplist_empty),
        cmocka_unit_test(skiplist_random_vs_model),
        cmocka_unit_test(skiplist_sequential),
        cmocka_unit_test(skiplist_runs_vs_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
