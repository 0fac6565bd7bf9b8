/* test_bloom.c — bloom filters: no false negatives, the false-positive rate
 * at 10 bits per key, and malformed filters answering "may match". */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "bloom.h"
#include "testutil.h"

static struct rng rng;

static uint32_t key_hash(uint64_t i, int variant)
{
    /* Keys shaped like the filesystem's: a tag byte, a big-endian number. */
    uint8_t k[16];
    k[0] = variant ? 'b' : 'i';
    put_be64(k + 1, i);
    return bloom_hash(slice_make(k, 9));
}

static void no_false_negatives_and_fp_rate(void **state)
{
    (void)state;
    size_t sizes[] = {1, 10, 100, 1000, 10000, 100000};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t n = sizes[s];
        uint32_t *h = malloc(n * sizeof(*h));
        assert_non_null(h);
        for (size_t i = 0; i < n; i++) h[i] = key_hash(i * 7, 0);
        struct buffer f = BUFFER_INIT;
        assert_int_equal(bloom_build(h, n, 10, &f), 0);
        /* filter = bits + k byte; about 10 bits per key, at least 64 bits */
        assert_true(f.n >= 9 && f.n <= (n * 10 + 7) / 8 + 1 + 8);
        for (size_t i = 0; i < n; i++) assert_true(bloom_may_match(buffer_slice(&f), h[i]));
        size_t probes = 20000, fp = 0;
        for (size_t i = 0; i < probes; i++)
            fp += (size_t)bloom_may_match(buffer_slice(&f), key_hash(i * 7 + 1000000000ull, 1));
        double rate = (double)fp / (double)probes;
        fprintf(stderr, "n=%zu bytes=%zu fp=%.4f\n", n, f.n, rate);
        if (n >= 1000) assert_true(rate < 0.02);
        buffer_free(&f);
        free(h);
    }
}

static void random_keys(void **state)
{
    (void)state;
    size_t n = 50000;
    uint32_t *h = malloc(n * sizeof(*h));
    assert_non_null(h);
    for (size_t i = 0; i < n; i++) {
        uint8_t k[40];
        size_t len = 1 + rng_uniform(&rng, sizeof(k));
        rng_bytes(&rng, k, len);
        h[i] = bloom_hash(slice_make(k, len));
    }
    for (int bits = 1; bits <= 20; bits += 3) {
        struct buffer f = BUFFER_INIT;
        assert_int_equal(bloom_build(h, n, bits, &f), 0);
        for (size_t i = 0; i < n; i++) assert_true(bloom_may_match(buffer_slice(&f), h[i]));
        buffer_free(&f);
    }
    free(h);
}

static void hash_spreads(void **state)
{
    (void)state;
    /* Keys differing in one bit give hashes differing in about half the
     * bits: the double hashing relies on it. */
    uint8_t k[24];
    rng_bytes(&rng, k, sizeof(k));
    uint32_t base = bloom_hash(slice_make(k, sizeof(k)));
    uint64_t total = 0;
    for (size_t bit = 0; bit < sizeof(k) * 8; bit++) {
        k[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        total += (uint64_t)__builtin_popcount(base ^ bloom_hash(slice_make(k, sizeof(k))));
        k[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    double avg = (double)total / (double)(sizeof(k) * 8);
    assert_true(avg > 12 && avg < 20);
    /* empty and length-only differences */
    assert_int_not_equal(bloom_hash(slice_make("", 0)), bloom_hash(slice_make("\0", 1)));
    assert_int_not_equal(bloom_hash(slice_make("\0", 1)), bloom_hash(slice_make("\0\0", 2)));
}

static void malformed_may_match(void **state)
{
    (void)state;
    uint8_t f[16] = {0};
    assert_true(bloom_may_match(slice_make(f, 0), 123));
    assert_true(bloom_may_match(slice_make(f, 1), 123));
    f[15] = 31; /* k beyond the scheme */
    assert_true(bloom_may_match(slice_make(f, 16), 123));
    f[15] = 0;
    assert_true(bloom_may_match(slice_make(f, 16), 123));
    f[15] = 3; /* well formed, all zero bits: rules everything out */
    assert_false(bloom_may_match(slice_make(f, 16), 123));
}

static void empty_filter(void **state)
{
    (void)state;
    struct buffer f = BUFFER_INIT;
    assert_int_equal(bloom_build(NULL, 0, 10, &f), 0);
    assert_int_equal(f.n, 9);
    assert_false(bloom_may_match(buffer_slice(&f), 42));
    buffer_free(&f);
}

int main(void)
{
    rng_init(&rng, test_seed("test_bloom"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_false_negatives_and_fp_rate),
        cmocka_unit_test(random_keys),
        cmocka_unit_test(hash_spreads),
        cmocka_unit_test(malformed_may_match),
        cmocka_unit_test(empty_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
