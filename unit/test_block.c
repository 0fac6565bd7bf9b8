/* test_block.c — blocks: builder/reader round trip against a sorted model
 * (seek, next, prev, random walks) for plain and internal keys and several
 * restart intervals; malformed blocks give -LSMER_ECORRUPT, never a bad read
 * (the Asan build checks that). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "block.h"
#include "lsmer.h"
#include "testutil.h"

static struct rng rng;

struct kv {
    uint8_t *k, *v;
    size_t kn, vn;
};

static key_compare_fn sort_cmp;
static int kv_cmp(const void *a, const void *b)
{
    const struct kv *x = a, *y = b;
    return sort_cmp(x->k, x->kn, y->k, y->kn);
}

/* Keys with long shared prefixes (so prefix compression matters) from a
 * small alphabet (so seeks hit and miss). ikeys get a random trailer. */
static struct kv *make_model(size_t n, int ikeys, size_t *out_n)
{
    struct kv *m = calloc(n, sizeof(*m));
    assert_non_null(m);
    for (size_t i = 0; i < n; i++) {
        size_t ulen = rng_uniform(&rng, 24);
        m[i].kn = ulen + (ikeys ? IKEY_TRAILER : 0);
        m[i].k = malloc(m[i].kn + 1);
        for (size_t j = 0; j < ulen; j++) m[i].k[j] = (uint8_t)('a' + rng_uniform(&rng, 3));
        if (ikeys)
            put_fixed64(m[i].k + ulen, ikey_pack_trailer(rng_uniform(&rng, 1000), TYPE_VALUE));
        m[i].vn = rng_one_in(&rng, 10) ? rng_uniform(&rng, 3000) : rng_uniform(&rng, 20);
        m[i].v = malloc(m[i].vn + 1);
        rng_bytes(&rng, m[i].v, m[i].vn);
    }
    sort_cmp = ikeys ? ikey_compare_raw : bytewise_compare_raw;
    qsort(m, n, sizeof(*m), kv_cmp);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w && sort_cmp(m[w - 1].k, m[w - 1].kn, m[i].k, m[i].kn) == 0) {
            free(m[i].k);
            free(m[i].v);
            continue;
        }
        m[w++] = m[i];
    }
    *out_n = w;
    return m;
}

static void free_model(struct kv *m, size_t n)
{
    for (size_t i = 0; i < n; i++) free(m[i].k), free(m[i].v);
    free(m);
}

static void expect_at(struct iter *it, const struct kv *m, size_t n, size_t i)
{
    if (i >= n) {
        assert_false(iter_valid(it));
        assert_int_equal(iter_status(it), 0);
        return;
    }
    assert_true(iter_valid(it));
    struct slice k = iter_key(it), v = iter_value(it);
    assert_int_equal(k.n, m[i].kn);
    assert_memory_equal(k.p, m[i].k, k.n);
    assert_int_equal(v.n, m[i].vn);
    if (v.n) assert_memory_equal(v.p, m[i].v, v.n);
}

static size_t lower_bound(const struct kv *m, size_t n, key_compare_fn cmp, struct slice t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cmp(m[mid].k, m[mid].kn, t.p, t.n) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void check_block(struct slice contents, const struct kv *m, size_t n, key_compare_fn cmp,
                        int ikeys)
{
    struct block *b = block_new(contents, NULL);
    assert_non_null(b);
    assert_int_equal(b->err, 0);
    struct iter *it = block_iter_new(b, cmp);
    /* forward and backward */
    iter_seek_first(it);
    for (size_t i = 0; i < n; i++, iter_next(it)) expect_at(it, m, n, i);
    expect_at(it, m, n, n);
    iter_seek_last(it);
    for (size_t i = n; i-- > 0; iter_prev(it)) expect_at(it, m, n, i);
    expect_at(it, m, n, n);
    /* seeks to every key and to random targets */
    for (size_t i = 0; i < n; i++) {
        iter_seek(it, slice_make(m[i].k, m[i].kn));
        expect_at(it, m, n, i);
    }
    for (int r = 0; r < 300; r++) {
        uint8_t t[40];
        size_t ul = rng_uniform(&rng, 24);
        for (size_t j = 0; j < ul; j++) t[j] = (uint8_t)('a' + rng_uniform(&rng, 4));
        size_t tn = ul;
        if (ikeys)
            put_fixed64(t + ul, ikey_pack_trailer(rng_uniform(&rng, 1000), TYPE_SEEK)),
                tn += IKEY_TRAILER;
        struct slice ts = slice_make(t, tn);
        iter_seek(it, ts);
        size_t want = lower_bound(m, n, cmp, ts);
        expect_at(it, m, n, want);
        /* a random walk from there */
        size_t pos = want;
        for (int s = 0; s < 20 && pos < n; s++) {
            if (rng_one_in(&rng, 2)) {
                iter_next(it);
                pos++;
            } else {
                iter_prev(it);
                pos = pos == 0 ? n : pos - 1;
            }
            expect_at(it, m, n, pos);
        }
    }
    iter_destroy(it);
    block_free(b);
}

static void roundtrip(void **state)
{
    (void)state;
    int intervals[] = {1, 2, 16, 1000};
    for (int ik = 0; ik < 2; ik++) {
        for (size_t ii = 0; ii < sizeof(intervals) / sizeof(intervals[0]); ii++) {
            size_t sizes[] = {0, 1, 2, 17, 500};
            for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
                size_t n;
                struct kv *m = make_model(sizes[si], ik, &n);
                struct block_builder bb;
                block_builder_init(&bb, intervals[ii]);
                for (size_t i = 0; i < n; i++)
                    assert_int_equal(block_builder_add(&bb, slice_make(m[i].k, m[i].kn),
                                                       slice_make(m[i].v, m[i].vn)),
                                     0);
                size_t est = block_builder_estimate(&bb);
                struct slice out;
                assert_int_equal(block_builder_finish(&bb, &out), 0);
                assert_int_equal(out.n, est);
                check_block(out, m, n, ik ? ikey_compare_raw : bytewise_compare_raw, ik);
                /* reset and reuse */
                block_builder_reset(&bb);
                assert_true(block_builder_empty(&bb));
                block_builder_free(&bb);
                free_model(m, n);
            }
        }
    }
}

static struct slice build_small(struct block_builder *bb, int interval, int n)
{
    block_builder_init(bb, interval);
    for (int i = 0; i < n; i++) {
        char k[32], v[32];
        snprintf(k, sizeof(k), "key%05d", i);
        snprintf(v, sizeof(v), "value%d", i);
        assert_int_equal(block_builder_add(bb, slice_make(k, strlen(k)), slice_make(v, strlen(v))),
                         0);
    }
    struct slice out;
    assert_int_equal(block_builder_finish(bb, &out), 0);
    return out;
}

/* Walks every way the iterator can move; returns the final status. */
static int exercise(struct slice contents, key_compare_fn cmp)
{
    struct block *b = block_new(contents, NULL);
    assert_non_null(b);
    struct iter *it = block_iter_new(b, cmp);
    size_t steps = 0;
    for (iter_seek_first(it); iter_valid(it) && steps < 10000; iter_next(it)) steps++;
    for (iter_seek_last(it); iter_valid(it) && steps < 20000; iter_prev(it)) steps++;
    iter_seek(it, slice_make("key00050\0\0\0\0\0\0\0\0", 16));
    if (iter_valid(it)) {
        iter_prev(it);
        iter_next(it);
    }
    int st = iter_status(it);
    iter_destroy(it);
    block_free(b);
    return st;
}

static void malformed(void **state)
{
    (void)state;
    struct block_builder bb;
    struct slice good = build_small(&bb, 4, 100);
    uint8_t *buf = malloc(good.n);
    memcpy(buf, good.p, good.n);
    size_t n = good.n;
    assert_int_equal(exercise(slice_make(buf, n), bytewise_compare_raw), 0);

    /* too short, restart count too large, restart offset out of range,
     * restarts not increasing, first restart not 0 */
    assert_int_equal(exercise(slice_make(buf, 3), bytewise_compare_raw), -LSMER_ECORRUPT);
    uint32_t cnt = get_fixed32(buf + n - 4);
    put_fixed32(buf + n - 4, 1000000);
    assert_int_equal(exercise(slice_make(buf, n), bytewise_compare_raw), -LSMER_ECORRUPT);
    put_fixed32(buf + n - 4, cnt);
    uint8_t *r0 = buf + n - 4 - 4 * cnt;
    uint32_t saved = get_fixed32(r0 + 4);
    put_fixed32(r0 + 4, (uint32_t)n);
    assert_int_equal(exercise(slice_make(buf, n), bytewise_compare_raw), -LSMER_ECORRUPT);
    put_fixed32(r0 + 4, 0);
    assert_int_equal(exercise(slice_make(buf, n), bytewise_compare_raw), -LSMER_ECORRUPT);
    put_fixed32(r0 + 4, saved);
    put_fixed32(r0, 1);
    assert_int_equal(exercise(slice_make(buf, n), bytewise_compare_raw), -LSMER_ECORRUPT);
    put_fixed32(r0, 0);
    /* a restart entry that claims a shared prefix */
    buf[saved] = 3;
    assert_int_equal(exercise(slice_make(buf, n), bytewise_compare_raw), -LSMER_ECORRUPT);
    memcpy(buf, good.p, n);
    /* a value length that throws the entry boundaries off the restarts */
    buf[2] = 0x7f;
    assert_int_equal(exercise(slice_make(buf, n), bytewise_compare_raw), -LSMER_ECORRUPT);
    memcpy(buf, good.p, n);
    /* plain keys of 8 bytes are too short to be internal keys */
    block_builder_free(&bb);
    block_builder_init(&bb, 16);
    assert_int_equal(block_builder_add(&bb, slice_make("abc", 3), slice_make("v", 1)), 0);
    struct slice shortk;
    assert_int_equal(block_builder_finish(&bb, &shortk), 0);
    assert_int_equal(exercise(shortk, ikey_compare_raw), -LSMER_ECORRUPT);
    assert_int_equal(exercise(shortk, bytewise_compare_raw), 0);
    block_builder_free(&bb);

    /* every single-byte change and every truncation: no crash, no bad read */
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            buf[i] ^= (uint8_t)(1u << bit);
            uint8_t *copy = malloc(n); /* exact size so Asan sees overreads */
            memcpy(copy, buf, n);
            exercise(slice_make(copy, n), ikey_compare_raw);
            exercise(slice_make(copy, n), bytewise_compare_raw);
            free(copy);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    for (size_t len = 0; len < n; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, buf, len);
        exercise(slice_make(copy, len), bytewise_compare_raw);
        free(copy);
    }
    /* random garbage */
    for (int r = 0; r < 2000; r++) {
        size_t len = rng_uniform(&rng, 200);
        uint8_t *g = malloc(len ? len : 1);
        rng_bytes(&rng, g, len);
        if (len >= 4 && rng_one_in(&rng, 2))
            put_fixed32(g + len - 4, (uint32_t)rng_uniform(&rng, 4));
        exercise(slice_make(g, len), rng_one_in(&rng, 2) ? ikey_compare_raw : bytewise_compare_raw);
        free(g);
    }
    free(buf);
}

static void empty_block(void **state)
{
    (void)state;
    struct block_builder bb;
    block_builder_init(&bb, 16);
    struct slice out;
    assert_int_equal(block_builder_finish(&bb, &out), 0);
    assert_int_equal(out.n, 4);
    struct block *b = block_new(out, NULL);
    assert_int_equal(b->err, 0);
    struct iter *it = block_iter_new(b, bytewise_compare_raw);
    iter_seek_first(it);
    assert_false(iter_valid(it));
    iter_seek_last(it);
    assert_false(iter_valid(it));
    iter_seek(it, slice_make("x", 1));
    assert_false(iter_valid(it));
    assert_int_equal(iter_status(it), 0);
    iter_destroy(it);
    block_free(b);
    block_builder_free(&bb);
    /* NULL block */
    struct block_iter bi;
    block_iter_init(&bi, NULL, bytewise_compare_raw);
    iter_seek_first(&bi.base);
    assert_false(iter_valid(&bi.base));
    block_iter_cleanup(&bi);
}

static void prefix_compression_pays(void **state)
{
    (void)state;
    struct block_builder bb;
    struct slice out = build_small(&bb, 16, 1000);
    /* 1000 keys of 8 bytes sharing "key0": well under the raw size */
    size_t raw = 1000 * (8 + 9 + 3);
    assert_true(out.n < raw);
    block_builder_free(&bb);
}

int main(void)
{
    rng_init(&rng, test_seed("test_block"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip),
        cmocka_unit_test(malformed),
        cmocka_unit_test(empty_block),
        cmocka_unit_test(prefix_compression_pays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
