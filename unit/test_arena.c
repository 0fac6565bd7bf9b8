/* test_arena.c — the bump allocator: contents survive, alignment, usage. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arena.h"
#include "testutil.h"

struct alloc_rec {
    uint8_t *p;
    size_t n;
    uint8_t fill;
};

/* Random sizes (mostly small, some bigger than a block) keep their bytes
 * until the arena goes; aligned ones are aligned; usage covers them all. */
static void arena_random_allocs(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("arena_random_allocs"));
    struct arena a;
    arena_init(&a);
    assert_int_equal(arena_memory_usage(&a), 0);
    enum { N = 4000 };
    struct alloc_rec *recs = calloc(N, sizeof(*recs));
    assert_non_null(recs);
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        size_t n = rng_one_in(&r, 100) ? rng_uniform(&r, 3 * ARENA_BLOCK_SIZE) + 1
                                       : rng_uniform(&r, 200) + 1;
        int aligned = rng_one_in(&r, 2);
        uint8_t *p = aligned ? arena_alloc_aligned(&a, n) : arena_alloc(&a, n);
        assert_non_null(p);
        if (aligned) assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
        recs[i] = (struct alloc_rec){p, n, (uint8_t)rng_next(&r)};
        memset(p, recs[i].fill, n);
        total += n;
        assert_true(arena_memory_usage(&a) >= total);
    }
    for (int i = 0; i < N; i++)
        for (size_t k = 0; k < recs[i].n; k++) assert_int_equal(recs[i].p[k], recs[i].fill);
    /* Waste stays bounded: at most about a quarter block per block plus
     * headers and alignment padding. */
    assert_true(arena_memory_usage(&a) < total * 2 + 2 * ARENA_BLOCK_SIZE);
    arena_destroy(&a);
    assert_int_equal(arena_memory_usage(&a), 0);
    free(recs);
}

/* A big request gets its own block: the current block's tail stays usable
 * (the next small allocation follows the previous one). */
static void arena_big_request_own_block(void **state)
{
    (void)state;
    struct arena a;
    arena_init(&a);
    uint8_t *x = arena_alloc(&a, 10);
    size_t before = arena_memory_usage(&a);
    uint8_t *big = arena_alloc(&a, ARENA_BLOCK_SIZE);
    assert_non_null(big);
    assert_true(arena_memory_usage(&a) >= before + ARENA_BLOCK_SIZE);
    uint8_t *y = arena_alloc(&a, 10);
    assert_ptr_equal(y, x + 10);
    /* Zero-byte requests still give distinct pointers. */
    assert_ptr_not_equal(arena_alloc(&a, 0), arena_alloc(&a, 0));
    arena_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arena_random_allocs),
        cmocka_unit_test(arena_big_request_own_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
