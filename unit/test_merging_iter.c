/*
 * test_merging_iter.c — the n-way merge against a model: the children are
 * array iterators (arr_iter.h) over sorted arrays, the model is every
 * child's entries in one array sorted by (key, child index), walked with a
 * cursor. Random walks mix seeks, nexts and prevs (so direction switches
 * happen at every kind of position), with keys from a tiny alphabet so that
 * equal keys in different children are common; both the linear-scan (few
 * children) and the heap (many children) paths run. A child that fails
 * must stop the merge before any later entry is returned, with the child's
 * status.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arr_iter.h"
#include "dbformat.h"
#include "iterator.h"
#include "merging_iter.h"
#include "testutil.h"

/* ---- the children: iterators over sorted arrays (arr_iter.h) ------------ */

struct kv {
    uint8_t k[4];
    size_t kn;
    uint8_t v[8];
};

static int kv_cmp(const struct kv *a, const struct kv *b)
{
    return bytewise_compare_raw(a->k, a->kn, b->k, b->kn);
}

static struct slice kv_key(const void *entry)
{
    const struct kv *e = entry;
    return slice_make(e->k, e->kn);
}

static struct slice kv_value(const void *entry)
{
    const struct kv *e = entry;
    return slice_make(e->v, sizeof(e->v));
}

static const struct arr_iter_type kv_type = {
    .entry_size = sizeof(struct kv),
    .key = kv_key,
    .value = kv_value,
    .cmp = slice_compare,
};

/* ---- the model ---------------------------------------------------------- */

struct child_data {
    struct kv *e;
    long n;
};

struct mentry {
    const struct kv *kv;
    int child;
    long idx; /* index within the child */
};

static int mentry_cmp(const void *pa, const void *pb)
{
    const struct mentry *a = pa, *b = pb;
    int c = kv_cmp(a->kv, b->kv);
    return c ? c : a->child - b->child;
}

static int kv_qsort_cmp(const void *a, const void *b)
{
    return kv_cmp(a, b);
}

/* A random sorted array of unique keys over alphabet {a,b,c,d}, length 1-2
 * (20 distinct keys), so children overlap heavily. Values name (child, i). */
static void make_child(struct rng *r, int child, struct child_data *cd)
{
    long want = (long)rng_uniform(r, 21);
    struct kv *e = calloc((size_t)want + 1, sizeof(*e));
    assert_non_null(e);
    long n = 0;
    for (long i = 0; i < want; i++) {
        struct kv x;
        memset(&x, 0, sizeof(x));
        x.kn = 1 + rng_uniform(r, 2);
        for (size_t j = 0; j < x.kn; j++) x.k[j] = (uint8_t)('a' + rng_uniform(r, 4));
        int dup = 0;
        for (long j = 0; j < n; j++) dup |= kv_cmp(&e[j], &x) == 0;
        if (!dup) e[n++] = x;
    }
    qsort(e, (size_t)n, sizeof(*e), kv_qsort_cmp);
    for (long i = 0; i < n; i++) {
        put_fixed32(e[i].v, (uint32_t)child);
        put_fixed32(e[i].v + 4, (uint32_t)i);
    }
    cd->e = e;
    cd->n = n;
}

/* Random key to seek to, sometimes outside the alphabet's range. */
static struct kv random_target(struct rng *r)
{
    struct kv t;
    memset(&t, 0, sizeof(t));
    t.kn = rng_uniform(r, 3);
    for (size_t j = 0; j < t.kn; j++) t.k[j] = (uint8_t)('a' - 1 + rng_uniform(r, 6));
    return t;
}

static void check_at(struct iter *m, const struct mentry *me, long n, long pos)
{
    if (pos < 0 || pos >= n) {
        assert_false(iter_valid(m));
        assert_int_equal(iter_status(m), 0);
        return;
    }
    assert_true(iter_valid(m));
    struct slice k = iter_key(m), v = iter_value(m);
    assert_int_equal(k.n, me[pos].kv->kn);
    assert_memory_equal(k.p, me[pos].kv->k, k.n);
    assert_int_equal(v.n, 8);
    assert_int_equal(get_fixed32(v.p), me[pos].child);
    assert_int_equal(get_fixed32(v.p + 4), me[pos].idx);
}

static long model_seek(const struct mentry *me, long n, const struct kv *t)
{
    long p = 0;
    while (p < n && kv_cmp(me[p].kv, t) < 0) p++;
    return p;
}

/* One random configuration with nchildren children; err_child >= 0 makes
 * that child fail when it lands on its entry err_idx. */
static void run_one(struct rng *r, int nchildren, int steps)
{
    struct child_data cd[16];
    struct iter *kids[16];
    int destroyed = 0;
    long total = 0;
    for (int c = 0; c < nchildren; c++) {
        make_child(r, c, &cd[c]);
        total += cd[c].n;
        kids[c] = arr_iter_new(&kv_type, cd[c].e, cd[c].n, -1, &destroyed);
    }
    struct mentry *me = calloc((size_t)total + 1, sizeof(*me));
    assert_non_null(me);
    long n = 0;
    for (int c = 0; c < nchildren; c++)
        for (long i = 0; i < cd[c].n; i++) me[n++] = (struct mentry){&cd[c].e[i], c, i};
    qsort(me, (size_t)n, sizeof(*me), mentry_cmp);

    struct iter *m = merging_iter_new(kids, (size_t)nchildren, bytewise_compare_raw);
    long pos = -1;
    check_at(m, me, n, pos);
    for (int s = 0; s < steps; s++) {
        int op = (int)rng_uniform(r, 10);
        if (pos < 0 || pos >= n) op = (int)rng_uniform(r, 3); /* only seeks when invalid */
        if (op == 0) {
            iter_seek_first(m);
            pos = 0;
        } else if (op == 1) {
            iter_seek_last(m);
            pos = n - 1;
        } else if (op == 2) {
            struct kv t = random_target(r);
            iter_seek(m, slice_make(t.k, t.kn));
            pos = model_seek(me, n, &t);
        } else if (op < 6) {
            iter_next(m);
            pos++;
        } else {
            iter_prev(m);
            pos--;
        }
        check_at(m, me, n, pos);
    }
    iter_destroy(m);
    assert_int_equal(destroyed, nchildren);
    for (int c = 0; c < nchildren; c++) free(cd[c].e);
    free(me);
}

static void random_walks_few_children(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("merging_few"));
    int rounds = (int)(1000 * test_scale());
    for (int i = 0; i < rounds; i++) run_one(&r, 2 + (int)rng_uniform(&r, 4), 200);
}

static void random_walks_many_children(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("merging_many"));
    int rounds = (int)(600 * test_scale());
    for (int i = 0; i < rounds; i++) run_one(&r, 6 + (int)rng_uniform(&r, 11), 300);
}

/* Zero children, one child, all-empty children. */
static void degenerate(void **state)
{
    (void)state;
    struct iter *m = merging_iter_new(NULL, 0, bytewise_compare_raw);
    iter_seek_first(m);
    assert_false(iter_valid(m));
    assert_int_equal(iter_status(m), 0);
    iter_destroy(m);

    struct kv e[2] = {{"a", 1, {0}}, {"b", 1, {0}}};
    struct iter *one = arr_iter_new(&kv_type, e, 2, -1, NULL);
    m = merging_iter_new(&one, 1, bytewise_compare_raw);
    iter_seek_last(m);
    assert_true(iter_valid(m));
    assert_memory_equal(iter_key(m).p, "b", 1);
    iter_destroy(m);

    int destroyed = 0;
    struct iter *kids[8];
    for (int i = 0; i < 8; i++) kids[i] = arr_iter_new(&kv_type, e, 0, -1, &destroyed);
    m = merging_iter_new(kids, 8, bytewise_compare_raw);
    iter_seek_first(m);
    assert_false(iter_valid(m));
    iter_seek_last(m);
    assert_false(iter_valid(m));
    iter_seek(m, slice_make("a", 1));
    assert_false(iter_valid(m));
    assert_int_equal(iter_status(m), 0);
    iter_destroy(m);
    assert_int_equal(destroyed, 8);
}

/* A child fails on one entry: walking in either direction, the merge never
 * yields an entry beyond the failed one and ends with status -EIO. */
static void child_error(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("merging_error"));
    for (int round = 0; round < 400; round++) {
        int nch = 2 + (int)rng_uniform(&r, 9);
        struct child_data cd[16];
        struct iter *kids[16];
        long total = 0;
        int bad = -1;
        long bad_idx = -1;
        for (int c = 0; c < nch; c++) {
            make_child(&r, c, &cd[c]);
            total += cd[c].n;
            if (bad < 0 && cd[c].n > 0 && rng_one_in(&r, 2)) {
                bad = c;
                bad_idx = (long)rng_uniform(&r, (uint64_t)cd[c].n);
            }
            kids[c] = arr_iter_new(&kv_type, cd[c].e, cd[c].n, c == bad ? bad_idx : -1, NULL);
        }
        struct mentry *me = calloc((size_t)total + 1, sizeof(*me));
        long n = 0;
        for (int c = 0; c < nch; c++)
            for (long i = 0; i < cd[c].n; i++) me[n++] = (struct mentry){&cd[c].e[i], c, i};
        qsort(me, (size_t)n, sizeof(*me), mentry_cmp);
        long bad_pos = -1, before_bad = -1, after_bad = n;
        for (long i = 0; i < n; i++) {
            if (me[i].child != bad) continue;
            if (me[i].idx == bad_idx) bad_pos = i;
            if (me[i].idx == bad_idx - 1) before_bad = i;
            if (me[i].idx == bad_idx + 1) after_bad = i;
        }

        struct iter *m = merging_iter_new(kids, (size_t)nch, bytewise_compare_raw);
        int back = rng_one_in(&r, 2);
        long pos = back ? n - 1 : 0;
        if (back)
            iter_seek_last(m);
        else
            iter_seek_first(m);
        int failed = 0;
        while (iter_valid(m)) {
            assert_true(pos >= 0 && pos < n);
            assert_true(pos != bad_pos);
            /* never beyond the failed entry */
            if (bad_pos >= 0) assert_true(back ? pos > bad_pos : pos < bad_pos);
            check_at(m, me, n, pos);
            if (back) {
                iter_prev(m);
                pos--;
            } else {
                iter_next(m);
                pos++;
            }
        }
        failed = iter_status(m) != 0;
        assert_int_equal(failed, bad_pos >= 0);
        if (failed) {
            assert_int_equal(iter_status(m), -EIO);
            /* the child lands on the bad entry right after its neighbour
             * was consumed: everything up to that neighbour came out */
            assert_int_equal(pos, back ? after_bad - 1 : before_bad + 1);
        } else {
            assert_int_equal(pos, back ? -1 : n);
        }
        /* a seek that avoids the bad entry works again */
        if (bad >= 0 && n > 0 && bad_pos != 0) {
            iter_seek(m, slice_make(me[0].kv->k, me[0].kv->kn));
            if (iter_valid(m)) {
                assert_int_equal(iter_status(m), 0);
            }
        }
        iter_destroy(m);
        for (int c = 0; c < nch; c++) free(cd[c].e);
        free(me);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(degenerate),
        cmocka_unit_test(random_walks_few_children),
        cmocka_unit_test(random_walks_many_children),
        cmocka_unit_test(child_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
