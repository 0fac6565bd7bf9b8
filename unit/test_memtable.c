/* test_memtable.c — memtable get (snapshots, deletes, range deletes) and
 * iterator order against a model that keeps every operation; batches
 * applied with consecutive sequences; reference counting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lsmer.h"

#include "batch.h"
#include "buffer.h"
#include "dbformat.h"
#include "memtable.h"
#include "testutil.h"

/* ---- model: every operation ever added ---------------------------------- */

struct op {
    uint64_t seq;
    int type;
    char key[8], val[24]; /* val = end key for a range delete */
    size_t kn, vn;
};

#define NKEYS 24

static void key_name(int i, char *out, size_t *n)
{
    /* i == 0 is the empty key; the rest sort as numbers */
    if (i == 0) {
        *n = 0;
        return;
    }
    *n = (size_t)snprintf(out, 8, "k%02d", i);
}

static uint64_t model_point(const struct op *ops, size_t n, struct slice k, uint64_t snap,
                            const struct op **found)
{
    *found = NULL;
    for (size_t i = 0; i < n; i++) {
        if (ops[i].type == TYPE_RANGE_DELETE || ops[i].seq > snap) continue;
        if (slice_compare(slice_make(ops[i].key, ops[i].kn), k) != 0) continue;
        if (!*found || ops[i].seq > (*found)->seq) *found = &ops[i];
    }
    return *found ? (*found)->seq : 0;
}

static uint64_t model_tomb(const struct op *ops, size_t n, struct slice k, uint64_t snap)
{
    uint64_t best = 0;
    for (size_t i = 0; i < n; i++) {
        if (ops[i].type != TYPE_RANGE_DELETE || ops[i].seq > snap) continue;
        if (slice_compare(slice_make(ops[i].key, ops[i].kn), k) > 0) continue;
        if (slice_compare(k, slice_make(ops[i].val, ops[i].vn)) >= 0) continue;
        if (ops[i].seq > best) best = ops[i].seq;
    }
    return best;
}

static int ikey_qsort_cmp(const void *a, const void *b)
{
    const struct op *x = *(const struct op *const *)a, *y = *(const struct op *const *)b;
    int c = slice_compare(slice_make(x->key, x->kn), slice_make(y->key, y->kn));
    if (c) return c;
    return x->seq > y->seq ? -1 : x->seq < y->seq;
}

static void assert_entry(struct iter *it, const struct op *o)
{
    assert_true(iter_valid(it));
    struct slice k = iter_key(it), v = iter_value(it);
    assert_true(ikey_valid(k));
    assert_int_equal(slice_compare(ikey_user(k), slice_make(o->key, o->kn)), 0);
    assert_true(ikey_seq(k) == o->seq);
    assert_int_equal(ikey_type(k), o->type);
    if (o->type == TYPE_VALUE) {
        assert_int_equal(v.n, o->vn);
        assert_memory_equal(v.p, o->val, o->vn);
    } else {
        assert_int_equal(v.n, 0);
    }
}

static void check_iter(struct memtable *m, const struct op *ops, size_t n, struct rng *r)
{
    const struct op **sorted = malloc((n + 1) * sizeof(*sorted));
    assert_non_null(sorted);
    size_t np = 0;
    for (size_t i = 0; i < n; i++)
        if (ops[i].type != TYPE_RANGE_DELETE) sorted[np++] = &ops[i];
    qsort(sorted, np, sizeof(*sorted), ikey_qsort_cmp);

    struct iter *it = memtable_iter(m);
    assert_false(iter_valid(it));
    size_t i = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it)) assert_entry(it, sorted[i++]);
    assert_int_equal(i, np);
    for (iter_seek_last(it); iter_valid(it); iter_prev(it)) assert_entry(it, sorted[--i]);
    assert_int_equal(i, 0);
    assert_int_equal(iter_status(it), 0);

    struct buffer target = BUFFER_INIT;
    for (int q = 0; q < 100; q++) {
        char kb[8];
        size_t kn;
        key_name((int)rng_uniform(r, NKEYS + 1), kb, &kn);
        uint64_t seq = rng_uniform(r, n + 3);
        int type = (int)rng_uniform(r, 3);
        buffer_clear(&target);
        assert_int_equal(ikey_append(&target, kb, kn, seq, type), 0);
        size_t pos = 0;
        while (pos < np) {
            uint8_t tmp[8 + IKEY_TRAILER];
            ikey_write(tmp, sorted[pos]->key, sorted[pos]->kn, sorted[pos]->seq, sorted[pos]->type);
            if (ikey_compare(slice_make(tmp, sorted[pos]->kn + IKEY_TRAILER),
                             buffer_slice(&target)) >= 0)
                break;
            pos++;
        }
        iter_seek(it, buffer_slice(&target));
        if (pos == np) {
            assert_false(iter_valid(it));
            continue;
        }
        assert_entry(it, sorted[pos]);
        if (pos > 0) {
            iter_prev(it);
            assert_entry(it, sorted[pos - 1]);
            iter_next(it);
            assert_entry(it, sorted[pos]);
        }
    }
    buffer_free(&target);
    iter_destroy(it);
    free(sorted);
}

static void check_get(struct memtable *m, const struct op *ops, size_t n, struct rng *r)
{
    struct buffer val = BUFFER_INIT;
    for (int k = 0; k <= NKEYS + 1; k++) {
        char kb[8];
        size_t kn;
        key_name(k, kb, &kn); /* NKEYS + 1 is never written */
        struct slice key = slice_make(kb, kn);
        for (int q = 0; q < 6; q++) {
            uint64_t snap = q == 0 ? SEQ_MAX : rng_uniform(r, n + 3);
            const struct op *o;
            model_point(ops, n, key, snap, &o);
            uint64_t start_ts = rng_one_in(r, 3) ? rng_uniform(r, n + 1) : 0;
            uint64_t want_ts = model_tomb(ops, n, key, snap);
            if (start_ts > want_ts) want_ts = start_ts;
            uint64_t found = 12345, ts = start_ts;
            buffer_set(&val, "junk", 4);
            int rc = memtable_get(m, key, snap, &val, &found, &ts);
            assert_true(ts == want_ts);
            assert_true(memtable_max_covering(m, key, snap) == model_tomb(ops, n, key, snap));
            if (!o) {
                assert_int_equal(rc, MEMTABLE_MISSING);
                continue;
            }
            assert_true(found == o->seq);
            if (o->type == TYPE_DELETE) {
                assert_int_equal(rc, MEMTABLE_DELETED);
            } else {
                assert_int_equal(rc, MEMTABLE_FOUND);
                assert_int_equal(val.n, o->vn);
                assert_memory_equal(val.p, o->val, o->vn);
            }
        }
    }
    buffer_free(&val);
}

static void memtable_random_vs_model(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("memtable_random_vs_model"));
    /* Key filters: off, one 64-byte line (about a quarter full), roomy. */
    static const size_t filter_sizes[] = {0, 64, 4096};
    for (int round = 0; round < 9; round++) {
        struct memtable *m = memtable_new(filter_sizes[round % 3]);
        assert_non_null(m);
        assert_true(memtable_empty(m));
        enum { N = 300 };
        struct op *ops = calloc(N, sizeof(*ops));
        assert_non_null(ops);
        size_t stored = 0, bytes = memtable_bytes(m);
        for (size_t i = 0; i < N; i++) {
            struct op *o = &ops[i];
            o->seq = i + 1;
            uint64_t t = rng_uniform(&r, 10);
            o->type = t < 6 ? TYPE_VALUE : t < 9 ? TYPE_DELETE : TYPE_RANGE_DELETE;
            key_name((int)rng_uniform(&r, NKEYS + 1), o->key, &o->kn);
            if (o->type == TYPE_VALUE) {
                o->vn = (size_t)snprintf(o->val, sizeof(o->val), "v%zu.%llu", i,
                                         (unsigned long long)rng_uniform(&r, 1000000));
                if (rng_one_in(&r, 10)) o->vn = 0; /* empty values are values */
            } else if (o->type == TYPE_RANGE_DELETE) {
                /* sometimes empty (end <= start): accepted, deletes nothing;
                 * ends up to NKEYS + 2, so tombstones also cover the key
                 * that is never written (a filter miss must still report
                 * the tombstone) */
                key_name((int)rng_uniform(&r, NKEYS + 3), o->val, &o->vn);
                if (slice_compare(slice_make(o->key, o->kn), slice_make(o->val, o->vn)) < 0)
                    stored++;
            }
            if (o->type != TYPE_RANGE_DELETE) stored++;
            assert_int_equal(memtable_add(m, o->seq, o->type, slice_make(o->key, o->kn),
                                          slice_make(o->val, o->vn)),
                             0);
            assert_true(memtable_entries(m) == stored);
            assert_true(memtable_bytes(m) >= bytes);
            bytes = memtable_bytes(m);
            if (i % 100 == 99) {
                check_get(m, ops, i + 1, &r);
                check_iter(m, ops, i + 1, &r);
            }
        }
        assert_false(memtable_empty(m));
        memtable_unref(m);
        free(ops);
    }
}

/* A key filter of one line with 600 keys in it: every bit is set, and a
 * get still finds every key and misses every absent one. */
static void memtable_filter_saturated(void **state)
{
    (void)state;
    struct memtable *m = memtable_new(64);
    assert_non_null(m);
    struct buffer val = BUFFER_INIT;
    char kb[16];
    for (int i = 0; i < 600; i++) {
        int kn = snprintf(kb, sizeof(kb), "key%05d", i * 2);
        assert_int_equal(memtable_add(m, (uint64_t)i + 1, i % 7 ? TYPE_VALUE : TYPE_DELETE,
                                      slice_make(kb, (size_t)kn), slice_make(kb, (size_t)kn)),
                         0);
    }
    for (int i = 0; i < 1200; i++) {
        int kn = snprintf(kb, sizeof(kb), "key%05d", i);
        uint64_t found = 0, ts = 0;
        int rc = memtable_get(m, slice_make(kb, (size_t)kn), SEQ_MAX, &val, &found, &ts);
        if (i % 2) {
            assert_int_equal(rc, MEMTABLE_MISSING);
        } else if ((i / 2) % 7) {
            assert_int_equal(rc, MEMTABLE_FOUND);
            assert_int_equal(found, (uint64_t)i / 2 + 1);
            assert_memory_equal(val.p, kb, (size_t)kn);
        } else {
            assert_int_equal(rc, MEMTABLE_DELETED);
        }
    }
    buffer_free(&val);
    memtable_unref(m);
}

/* A put after a range delete in one batch survives it (higher seq); the
 * batch's records get consecutive seqs from the batch sequence. */
static void memtable_apply_batch_seqs(void **state)
{
    (void)state;
    struct memtable *m = memtable_new(1024);
    assert_non_null(m);
    lsmer_batch *b = lsmer_batch_new();
    assert_non_null(b);
    assert_int_equal(lsmer_batch_put(b, "a", 1, "1", 1), 0);          /* 100 */
    assert_int_equal(lsmer_batch_delete_range(b, "a", 1, "c", 1), 0); /* 101 */
    assert_int_equal(lsmer_batch_put(b, "b", 1, "2", 1), 0);          /* 102 */
    assert_int_equal(lsmer_batch_delete(b, "x", 1), 0);               /* 103 */
    batch_set_sequence(b, 100);
    assert_int_equal(memtable_apply_batch(m, batch_rep(b)), 0);
    assert_true(memtable_entries(m) == 4);

    struct buffer v = BUFFER_INIT;
    uint64_t found = 0, ts = 0;
    assert_int_equal(memtable_get(m, slice_make("a", 1), 200, &v, &found, &ts), MEMTABLE_FOUND);
    assert_true(found == 100 && ts == 101); /* caller sees found < ts: deleted */
    ts = 0;
    assert_int_equal(memtable_get(m, slice_make("b", 1), 200, &v, &found, &ts), MEMTABLE_FOUND);
    assert_true(found == 102 && ts == 101); /* survives */
    assert_int_equal(v.n, 1);
    assert_int_equal(v.p[0], '2');
    ts = 0;
    assert_int_equal(memtable_get(m, slice_make("x", 1), 200, &v, &found, &ts), MEMTABLE_DELETED);
    assert_true(found == 103 && ts == 0);
    ts = 0;
    assert_int_equal(memtable_get(m, slice_make("b", 1), 101, &v, &found, &ts), MEMTABLE_MISSING);
    assert_true(ts == 101);

    /* A malformed rep changes nothing. */
    struct memtable *m2 = memtable_new(1024);
    assert_non_null(m2);
    struct slice rep = batch_rep(b);
    assert_int_equal(memtable_apply_batch(m2, slice_make(rep.p, rep.n - 1)), -LSMER_ECORRUPT);
    assert_true(memtable_empty(m2));
    assert_int_equal(memtable_apply_batch(m2, slice_make(rep.p, 5)), -LSMER_ECORRUPT);
    assert_true(memtable_empty(m2));
    memtable_unref(m2);

    /* Flush view of the tombstones. */
    assert_int_equal(rdel_count(memtable_range_dels(m)), 1);
    buffer_free(&v);
    lsmer_batch_free(b);
    memtable_unref(m);
}

/* Bad arguments, duplicates, big keys (the lookup key no longer fits the
 * stack buffer). */
static void memtable_edges(void **state)
{
    (void)state;
    struct memtable *m = memtable_new(1024);
    assert_non_null(m);
    struct slice k = slice_make("k", 1), v = slice_make("v", 1);
    assert_int_equal(memtable_add(m, 1, 7, k, v), -EINVAL);
    assert_int_equal(memtable_add(m, SEQ_MAX + 1, TYPE_VALUE, k, v), -EINVAL);
    assert_int_equal(memtable_add(m, 1, TYPE_VALUE, k, v), 0);
    assert_int_equal(memtable_add(m, 1, TYPE_VALUE, k, v), -EINVAL); /* duplicate */
    assert_int_equal(memtable_add(m, 1, TYPE_DELETE, k, v), 0);      /* other type: distinct */
    assert_true(memtable_entries(m) == 2);

    size_t big = 3000;
    uint8_t *bk = malloc(big), *bv = malloc(100000);
    assert_true(bk && bv);
    memset(bk, 'z', big);
    memset(bv, 'q', 100000);
    assert_int_equal(memtable_add(m, 5, TYPE_VALUE, slice_make(bk, big), slice_make(bv, 100000)),
                     0);
    assert_true(memtable_bytes(m) > 100000 + big);
    struct buffer out = BUFFER_INIT;
    uint64_t found = 0, ts = 0;
    assert_int_equal(memtable_get(m, slice_make(bk, big), 5, &out, &found, &ts), MEMTABLE_FOUND);
    assert_int_equal(out.n, 100000);
    assert_memory_equal(out.p, bv, 100000);
    assert_int_equal(memtable_get(m, slice_make(bk, big), 4, &out, &found, &ts), MEMTABLE_MISSING);
    assert_int_equal(memtable_get(m, slice_make(bk, big - 1), 9, &out, &found, &ts),
                     MEMTABLE_MISSING);
    /* a seek target too short to be an internal key is refused */
    struct iter *it = memtable_iter(m);
    iter_seek(it, slice_make("abc", 3));
    assert_false(iter_valid(it));
    assert_int_equal(iter_status(it), -EINVAL);
    iter_seek_first(it);
    assert_true(iter_valid(it));
    assert_int_equal(iter_status(it), 0);
    iter_destroy(it);
    buffer_free(&out);
    free(bk);
    free(bv);
    memtable_unref(m);
    memtable_unref(NULL);
}

/* An iterator keeps the memtable alive after its creator lets go (Asan
 * would report a use after free otherwise). */
static void memtable_iter_holds_ref(void **state)
{
    (void)state;
    struct memtable *m = memtable_new(1024);
    assert_non_null(m);
    for (int i = 0; i < 100; i++) {
        char kb[8];
        int n = snprintf(kb, sizeof(kb), "%03d", i);
        assert_int_equal(memtable_add(m, (uint64_t)i + 1, TYPE_VALUE, slice_make(kb, (size_t)n),
                                      slice_make(kb, (size_t)n)),
                         0);
    }
    memtable_ref(m);
    memtable_unref(m);
    struct iter *it = memtable_iter(m);
    memtable_unref(m);
    int count = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it)) {
        assert_int_equal(iter_value(it).n, 3);
        count++;
    }
    assert_int_equal(count, 100);
    iter_destroy(it);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(memtable_edges),
        cmocka_unit_test(memtable_apply_batch_seqs),
        cmocka_unit_test(memtable_iter_holds_ref),
        cmocka_unit_test(memtable_random_vs_model),
        cmocka_unit_test(memtable_filter_saturated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
