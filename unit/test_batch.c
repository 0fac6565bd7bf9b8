/* test_batch.c — write batch building, the rep round trip, merging for
 * group commit, and strict parsing: every truncation of a rep is rejected
 * and every bit flip is either rejected or parses into consistent records
 * (never a crash: run under Asan). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lsmer.h"

#include "batch.h"
#include "buffer.h"
#include "dbformat.h"
#include "testutil.h"

struct rec {
    int type;
    uint8_t k[40], v[80];
    size_t kn, vn;
};

struct recs {
    struct rec v[256];
    size_t n;
};

static int collect(void *arg, int type, struct slice k, struct slice v)
{
    struct recs *r = arg;
    assert_true(r->n < 256);
    struct rec *x = &r->v[r->n++];
    x->type = type;
    /* a bit flip can make lengths larger than the originals: keep a cut
     * copy plus the real length */
    x->kn = k.n;
    x->vn = v.n;
    if (k.n) memcpy(x->k, k.p, k.n < 40 ? k.n : 40);
    if (v.n) memcpy(x->v, v.p, v.n < 80 ? v.n : 80);
    return 0;
}

static void random_batch(struct rng *r, lsmer_batch *b, struct recs *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct rec *x = &want->v[want->n++];
        x->type = (int)rng_uniform(r, 3);
        x->kn = rng_uniform(r, 40);
        x->vn = x->type == TYPE_DELETE ? 0 : rng_uniform(r, x->type == TYPE_VALUE ? 80 : 40);
        rng_bytes(r, x->k, x->kn);
        rng_bytes(r, x->v, x->vn);
        int rc = x->type == TYPE_VALUE    ? lsmer_batch_put(b, x->k, x->kn, x->v, x->vn)
                 : x->type == TYPE_DELETE ? lsmer_batch_delete(b, x->k, x->kn)
                                          : lsmer_batch_delete_range(b, x->k, x->kn, x->v, x->vn);
        assert_int_equal(rc, 0);
    }
}

static void assert_recs_equal(const struct recs *a, const struct recs *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->v[i].type, b->v[i].type);
        assert_int_equal(a->v[i].kn, b->v[i].kn);
        assert_int_equal(a->v[i].vn, b->v[i].vn);
        /* only the kept prefix (see collect) */
        assert_memory_equal(a->v[i].k, b->v[i].k, a->v[i].kn < 40 ? a->v[i].kn : 40);
        assert_memory_equal(a->v[i].v, b->v[i].v, a->v[i].vn < 80 ? a->v[i].vn : 80);
    }
}

static void batch_roundtrip(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("batch_roundtrip"));
    lsmer_batch *b = lsmer_batch_new();
    assert_non_null(b);
    assert_int_equal(lsmer_batch_count(b), 0);
    assert_int_equal(lsmer_batch_bytes(b), BATCH_HEADER);
    static struct recs want, got;
    for (int round = 0; round < 50; round++) {
        lsmer_batch_clear(b);
        want.n = got.n = 0;
        size_t n = rng_uniform(&r, 30);
        random_batch(&r, b, &want, n);
        uint64_t seq = rng_next(&r) >> 8;
        batch_set_sequence(b, seq);
        struct slice rep = batch_rep(b);
        assert_int_equal(lsmer_batch_count(b), n);
        assert_int_equal(lsmer_batch_bytes(b), rep.n);
        assert_true(batch_sequence(rep) == seq);
        assert_int_equal(batch_count_rep(rep), n);
        size_t ub = 0;
        for (size_t i = 0; i < n; i++) ub += want.v[i].kn + want.v[i].vn;
        assert_int_equal(batch_user_bytes(b), ub);
        assert_int_equal(batch_iterate(rep, collect, &got), 0);
        assert_recs_equal(&want, &got);

        /* a copy through batch_from_rep is byte-identical */
        lsmer_batch *c = lsmer_batch_new();
        assert_non_null(c);
        assert_int_equal(lsmer_batch_put(c, "old", 3, "x", 1), 0);
        assert_int_equal(batch_from_rep(c, rep), 0);
        assert_int_equal(batch_rep(c).n, rep.n);
        assert_memory_equal(batch_rep(c).p, rep.p, rep.n);
        assert_int_equal(batch_user_bytes(c), ub);
        lsmer_batch_free(c);
    }
    lsmer_batch_free(b);
    lsmer_batch_free(NULL);
}

/* batch_iterate stops at fn's first non-zero value and returns it. */
static int stop_at_second(void *arg, int type, struct slice k, struct slice v)
{
    (void)type;
    (void)k;
    (void)v;
    return ++*(int *)arg == 2 ? 42 : 0;
}

static void batch_limits_and_stop(void **state)
{
    (void)state;
    lsmer_batch *b = lsmer_batch_new();
    assert_non_null(b);
    static uint8_t big[LSMER_MAX_KEY + 1];
    assert_int_equal(lsmer_batch_put(b, big, LSMER_MAX_KEY + 1, "", 0), -EINVAL);
    assert_int_equal(lsmer_batch_delete(b, big, LSMER_MAX_KEY + 1), -EINVAL);
    assert_int_equal(lsmer_batch_delete_range(b, big, LSMER_MAX_KEY + 1, "a", 1), -EINVAL);
    assert_int_equal(lsmer_batch_delete_range(b, "a", 1, big, LSMER_MAX_KEY + 1), -EINVAL);
    /* the value's bytes are never read: the length check comes first */
    assert_int_equal(lsmer_batch_put(b, "k", 1, big, (size_t)LSMER_MAX_VALUE + 1), -EINVAL);
    assert_int_equal(lsmer_batch_put(b, NULL, 1, "", 0), -EINVAL);
    assert_int_equal(lsmer_batch_count(b), 0);
    assert_int_equal(lsmer_batch_bytes(b), BATCH_HEADER);
    /* the largest key, an empty key, an empty range */
    assert_int_equal(lsmer_batch_put(b, big, LSMER_MAX_KEY, "v", 1), 0);
    assert_int_equal(lsmer_batch_put(b, NULL, 0, NULL, 0), 0);
    assert_int_equal(lsmer_batch_delete_range(b, "z", 1, "a", 1), 0);
    assert_int_equal(lsmer_batch_count(b), 3);
    int calls = 0;
    assert_int_equal(batch_iterate(batch_rep(b), stop_at_second, &calls), 42);
    assert_int_equal(calls, 2);
    lsmer_batch_free(b);
}

static void batch_append_merges(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("batch_append_merges"));
    static struct recs want, got;
    want.n = got.n = 0;
    lsmer_batch *a = lsmer_batch_new(), *b = lsmer_batch_new();
    assert_true(a && b);
    random_batch(&r, a, &want, 5);
    random_batch(&r, b, &want, 7);
    batch_set_sequence(a, 77);
    batch_set_sequence(b, 99);
    size_t ub = batch_user_bytes(a) + batch_user_bytes(b);
    assert_int_equal(batch_append_rep(a, batch_rep(b)), 0);
    assert_int_equal(lsmer_batch_count(a), 12);
    assert_true(batch_sequence(batch_rep(a)) == 77); /* the destination's header stays */
    assert_int_equal(batch_user_bytes(a), ub);
    assert_int_equal(batch_iterate(batch_rep(a), collect, &got), 0);
    assert_recs_equal(&want, &got);

    /* appending a batch to itself doubles it */
    assert_int_equal(batch_append_rep(b, batch_rep(b)), 0);
    assert_int_equal(lsmer_batch_count(b), 14);
    got.n = 0;
    assert_int_equal(batch_iterate(batch_rep(b), collect, &got), 0);
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(got.v[i].kn, got.v[i + 7].kn);
        assert_memory_equal(got.v[i].k, got.v[i + 7].k, got.v[i].kn);
    }

    /* a malformed source leaves the destination unchanged */
    struct slice rep = batch_rep(a);
    size_t before = rep.n;
    lsmer_batch *c = lsmer_batch_new();
    assert_non_null(c);
    assert_int_equal(batch_append_rep(c, slice_make(rep.p, rep.n - 1)), -LSMER_ECORRUPT);
    assert_int_equal(batch_append_rep(c, slice_make(rep.p, 3)), -LSMER_ECORRUPT);
    assert_int_equal(lsmer_batch_bytes(c), BATCH_HEADER);
    assert_int_equal(batch_from_rep(c, slice_make(rep.p, rep.n - 1)), -LSMER_ECORRUPT);
    assert_int_equal(lsmer_batch_bytes(c), BATCH_HEADER);
    assert_int_equal(lsmer_batch_bytes(a), before);
    lsmer_batch_free(a);
    lsmer_batch_free(b);
    lsmer_batch_free(c);
}

/* Re-encodes parsed records (to check that an accepted rep means what it
 * says): returns 0 if every record fits the public limits. */
static int reencode(void *arg, int type, struct slice k, struct slice v)
{
    lsmer_batch *b = arg;
    return type == TYPE_VALUE    ? lsmer_batch_put(b, k.p, k.n, v.p, v.n)
           : type == TYPE_DELETE ? lsmer_batch_delete(b, k.p, k.n)
                                 : lsmer_batch_delete_range(b, k.p, k.n, v.p, v.n);
}

static void batch_corruption(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("batch_corruption"));
    static struct recs want, got;
    for (int round = 0; round < 12; round++) {
        lsmer_batch *b = lsmer_batch_new();
        assert_non_null(b);
        want.n = 0;
        random_batch(&r, b, &want, 1 + rng_uniform(&r, 6));
        struct slice rep = batch_rep(b);
        /* Each test copy is malloc'd at its exact size so Asan catches a
         * read past the end. */
        for (size_t cut = 0; cut < rep.n; cut++) {
            uint8_t *t = malloc(cut ? cut : 1);
            assert_non_null(t);
            memcpy(t, rep.p, cut);
            got.n = 0;
            assert_int_equal(batch_iterate(slice_make(t, cut), collect, &got), -LSMER_ECORRUPT);
            assert_int_equal(got.n, 0); /* nothing before validation */
            free(t);
        }
        /* trailing garbage, and a count off by one either way */
        uint8_t *t = malloc(rep.n + 1);
        assert_non_null(t);
        memcpy(t, rep.p, rep.n);
        t[rep.n] = 0;
        assert_int_equal(batch_iterate(slice_make(t, rep.n + 1), NULL, NULL), -LSMER_ECORRUPT);
        put_fixed32(t + 8, (uint32_t)want.n + 1);
        assert_int_equal(batch_iterate(slice_make(t, rep.n), collect, &got), -LSMER_ECORRUPT);
        put_fixed32(t + 8, (uint32_t)want.n - 1);
        assert_int_equal(batch_iterate(slice_make(t, rep.n), collect, &got), -LSMER_ECORRUPT);
        free(t);
        /* every single bit flip */
        for (size_t bit = 0; bit < rep.n * 8; bit++) {
            t = malloc(rep.n);
            assert_non_null(t);
            memcpy(t, rep.p, rep.n);
            t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            struct slice s = slice_make(t, rep.n);
            got.n = 0;
            int rc = batch_iterate(s, collect, &got);
            if (bit < 64) {
                /* the sequence is checked only for fitting in 56 bits
                 * with all its records: else the same records */
                uint64_t seq = batch_sequence(s);
                if (seq + want.n - 1 > SEQ_MAX) {
                    assert_int_equal(rc, -LSMER_ECORRUPT);
                } else {
                    assert_int_equal(rc, 0);
                    assert_recs_equal(&want, &got);
                }
            } else if (rc == 0) {
                /* accepted: the count matched and the records re-encode
                 * within the limits into a rep that parses the same */
                assert_int_equal(got.n, batch_count_rep(s));
                lsmer_batch *c = lsmer_batch_new();
                assert_non_null(c);
                assert_int_equal(batch_iterate(s, reencode, c), 0);
                static struct recs again;
                again.n = 0;
                assert_int_equal(batch_iterate(batch_rep(c), collect, &again), 0);
                assert_recs_equal(&got, &again);
                lsmer_batch_free(c);
            } else {
                assert_int_equal(rc, -LSMER_ECORRUPT);
                assert_int_equal(got.n, 0);
            }
            free(t);
        }
        lsmer_batch_free(b);
    }
}

static int count_one(void *arg, int type, struct slice key, struct slice value)
{
    (void)type, (void)key, (void)value;
    (*(int *)arg)++;
    return 0;
}

/* Found by tools/fuzz/fuzz_batch: a batch whose sequences run past the 56
 * bits of an internal key passed validation, and the memtable then refused
 * its records one by one (after inserting the ones before). */
static void bug_sequence_past_seq_max_accepted(void **state)
{
    (void)state;
    lsmer_batch *b = lsmer_batch_new();
    assert_non_null(b);
    assert_int_equal(lsmer_batch_put(b, "a", 1, "1", 1), 0);
    assert_int_equal(lsmer_batch_put(b, "b", 1, "2", 1), 0);
    int calls = 0;
    batch_set_sequence(b, SEQ_MAX - 1); /* the last record takes SEQ_MAX */
    assert_int_equal(batch_iterate(batch_rep(b), count_one, &calls), 0);
    assert_int_equal(calls, 2);
    calls = 0;
    batch_set_sequence(b, SEQ_MAX); /* the second record would not fit */
    assert_int_equal(batch_iterate(batch_rep(b), count_one, &calls), -LSMER_ECORRUPT);
    batch_set_sequence(b, SEQ_MAX + 43);
    assert_int_equal(batch_iterate(batch_rep(b), count_one, &calls), -LSMER_ECORRUPT);
    assert_int_equal(calls, 0);
    lsmer_batch_clear(b);
    batch_set_sequence(b, UINT64_MAX); /* no records: nothing to number */
    assert_int_equal(batch_iterate(batch_rep(b), count_one, &calls), 0);
    lsmer_batch_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(batch_roundtrip),
        cmocka_unit_test(batch_limits_and_stop),
        cmocka_unit_test(batch_append_merges),
        cmocka_unit_test(batch_corruption),
        cmocka_unit_test(bug_sequence_past_seq_max_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
