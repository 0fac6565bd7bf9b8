/* test_mem_filter.c — the memtable's key filter: no false negatives, its
 * false-positive rate, an off filter, and a saturated one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "bloom.h"
#include "mem_filter.h"
#include "testutil.h"

static uint64_t key_hash(uint64_t i, char tag)
{
    /* Keys shaped like the benchmark's: 16 decimal digits. */
    char k[24];
    int n = snprintf(k, sizeof(k), "%c%016llu", tag, (unsigned long long)i);
    return bloom_hash64(slice_make(k, (size_t)n));
}

static void no_false_negatives_and_fp_rate(void **state)
{
    (void)state;
    /* 1 MiB for 200,000 keys: the share a 32 MiB memtable of 100-byte
     * values gives (about 40 bits per key). */
    struct mem_filter f;
    assert_int_equal(mem_filter_init(&f, 1 << 20), 0);
    assert_int_equal(mem_filter_bytes(&f), 1 << 20);
    size_t n = 200000;
    for (size_t i = 0; i < n; i++) mem_filter_add(&f, key_hash(i * 3, 'k'));
    for (size_t i = 0; i < n; i++) assert_true(mem_filter_may_contain(&f, key_hash(i * 3, 'k')));
    size_t probes = 200000, fp = 0;
    for (size_t i = 0; i < probes; i++) fp += (size_t)mem_filter_may_contain(&f, key_hash(i, 'x'));
    double rate = (double)fp / (double)probes;
    fprintf(stderr, "200k keys in 1 MiB: fp=%.5f\n", rate);
    assert_true(rate < 0.0002); /* expected about 1.3e-5 */
    mem_filter_destroy(&f);

    /* 20 bits per key (the filesystem's small entries). */
    assert_int_equal(mem_filter_init(&f, 50000 * 20 / 8), 0);
    for (size_t i = 0; i < 50000; i++) mem_filter_add(&f, key_hash(i, 'k'));
    fp = 0;
    for (size_t i = 0; i < probes; i++) fp += (size_t)mem_filter_may_contain(&f, key_hash(i, 'y'));
    rate = (double)fp / (double)probes;
    fprintf(stderr, "20 bits per key: fp=%.5f\n", rate);
    assert_true(rate < 0.003); /* expected about 4.4e-4 */
    mem_filter_destroy(&f);
}

static void off_and_tiny_filters(void **state)
{
    (void)state;
    struct mem_filter f;
    /* Under one line: off, answers "may contain", costs nothing. */
    assert_int_equal(mem_filter_init(&f, 63), 0);
    assert_int_equal(mem_filter_bytes(&f), 0);
    mem_filter_add(&f, 42);
    assert_true(mem_filter_may_contain(&f, 1));
    mem_filter_destroy(&f);
    /* One line with thousands of keys: saturated, never a false negative. */
    assert_int_equal(mem_filter_init(&f, 100), 0);
    assert_int_equal(mem_filter_bytes(&f), 64);
    assert_false(mem_filter_may_contain(&f, key_hash(1, 'k')));
    for (size_t i = 0; i < 5000; i++) mem_filter_add(&f, key_hash(i, 'k'));
    for (size_t i = 0; i < 5000; i++) assert_true(mem_filter_may_contain(&f, key_hash(i, 'k')));
    mem_filter_destroy(&f);
}

static void random_keys(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("mem_filter_random_keys"));
    struct mem_filter f;
    assert_int_equal(mem_filter_init(&f, 64 << 10), 0);
    enum { N = 20000 };
    uint64_t *h = malloc(N * sizeof(*h));
    assert_non_null(h);
    for (size_t i = 0; i < N; i++) {
        uint8_t k[40];
        size_t len = rng_uniform(&r, sizeof(k) + 1); /* the empty key too */
        rng_bytes(&r, k, len);
        h[i] = bloom_hash64(slice_make(k, len));
        mem_filter_add(&f, h[i]);
    }
    for (size_t i = 0; i < N; i++) assert_true(mem_filter_may_contain(&f, h[i]));
    free(h);
    mem_filter_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_false_negatives_and_fp_rate),
        cmocka_unit_test(off_and_tiny_filters),
        cmocka_unit_test(random_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
