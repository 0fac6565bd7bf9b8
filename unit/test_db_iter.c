/*
 * test_db_iter.c — the user-key iterator against a model.
 *
 * Each round makes a random history: user keys over a tiny alphabet (the
 * empty key included), each with a few versions (values and deletions) at
 * unique sequence numbers, stray range-deletion entries in the point stream
 * (which must be ignored), and a handful of range tombstones that the
 * test's tombstone function searches. The internal entries are split at
 * random among up to four array iterators (arr_iter.h) merged by
 * merging_iter. A random snapshot and random bounds pick what is visible;
 * the model is the sorted list of (user key, value) that should come out.
 * Random walks mix seek_first, seek_last, seek, seek_for_prev, next and
 * prev, so every direction switch happens at every kind of position.
 *
 * The array iterators hand out keys and values in memory freed as soon as
 * they move, so a db iterator that keeps pointing at the internal
 * iterator's memory after moving it fails under AddressSanitizer (and, in
 * the plain build, returns garbage that the comparison catches).
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

#include "lsmer.h"

#include "arr_iter.h"
#include "db_iter.h"
#include "dbformat.h"
#include "iterator.h"
#include "merging_iter.h"
#include "testutil.h"

#define MAXK 3

struct ient {
    uint8_t k[MAXK + IKEY_TRAILER];
    size_t kn;
    char v[16];
    size_t vn;
};

static struct slice ient_key(const void *entry)
{
    const struct ient *e = entry;
    return slice_make(e->k, e->kn);
}

static struct slice ient_value(const void *entry)
{
    const struct ient *e = entry;
    return slice_make(e->v, e->vn);
}

/* Iterators over them (arr_iter.h) hand out copies freed as soon as they
 * move. */
static const struct arr_iter_type ient_type = {
    .entry_size = sizeof(struct ient),
    .key = ient_key,
    .value = ient_value,
    .cmp = ikey_compare,
    .copy = 1,
};

/* ---- a random history and its model ------------------------------------- */

struct ukey {
    uint8_t k[MAXK];
    size_t n;
};

struct tomb {
    struct ukey start, end;
    uint64_t seq;
};

struct history {
    struct ient *e; /* all internal entries, sorted */
    long n;
    struct tomb t[6];
    int nt;
    int tomb_calls;
};

static int ukey_cmp(const struct ukey *a, const struct ukey *b)
{
    return bytewise_compare_raw(a->k, a->n, b->k, b->n);
}

static struct slice ukey_slice(const struct ukey *u)
{
    return slice_make(u->k, u->n);
}

/* A key over {a, b, c} of length 0-2 (the keys that may hold data), or,
 * for seeks and bounds, over {`, a, b, c, d} of length 0-3. */
static struct ukey random_ukey(struct rng *r, int wide)
{
    struct ukey u;
    memset(&u, 0, sizeof(u));
    u.n = rng_uniform(r, wide ? 4 : 3);
    for (size_t i = 0; i < u.n; i++)
        u.k[i] = (uint8_t)(wide ? 'a' - 1 + rng_uniform(r, 5) : 'a' + rng_uniform(r, 3));
    return u;
}

static uint64_t tomb_seq(void *arg, struct slice ukey, uint64_t snap)
{
    struct history *h = arg;
    uint64_t best = 0;
    h->tomb_calls++;
    for (int i = 0; i < h->nt; i++) {
        const struct tomb *t = &h->t[i];
        if (t->seq > snap || t->seq <= best) continue;
        if (slice_compare(ukey, ukey_slice(&t->start)) >= 0 &&
            slice_compare(ukey, ukey_slice(&t->end)) < 0)
            best = t->seq;
    }
    return best;
}

static int ient_qsort_cmp(const void *a, const void *b)
{
    return ikey_compare(ient_key(a), ient_key(b));
}

static void history_make(struct rng *r, struct history *h)
{
    memset(h, 0, sizeof(*h));
    /* unique sequence numbers 1..200 in random order */
    uint64_t pool[200];
    for (int i = 0; i < 200; i++) pool[i] = (uint64_t)i + 1;
    for (int i = 199; i > 0; i--) {
        int j = (int)rng_uniform(r, (uint64_t)i + 1);
        uint64_t t = pool[i];
        pool[i] = pool[j];
        pool[j] = t;
    }
    int np = 0;
    h->e = calloc(200, sizeof(*h->e));
    assert_non_null(h->e);
    /* every key over {a,b,c} of length <= 2: "", a, b, c, aa, ..., cc */
    for (int len = 0; len <= 2; len++) {
        int count = len == 0 ? 1 : len == 1 ? 3 : 9;
        for (int c = 0; c < count; c++) {
            if (rng_one_in(r, 3)) continue;
            uint8_t u[2];
            if (len == 1) u[0] = (uint8_t)('a' + c);
            if (len == 2) {
                u[0] = (uint8_t)('a' + c / 3);
                u[1] = (uint8_t)('a' + c % 3);
            }
            int versions = 1 + (int)rng_uniform(r, 4);
            for (int v = 0; v < versions && np < 180; v++) {
                struct ient *x = &h->e[h->n++];
                uint64_t seq = pool[np++];
                int type = rng_one_in(r, 3) ? TYPE_DELETE : TYPE_VALUE;
                if (rng_one_in(r, 15)) type = TYPE_RANGE_DELETE; /* stray: ignored */
                ikey_write(x->k, u, (size_t)len, seq, type);
                x->kn = (size_t)len + IKEY_TRAILER;
                x->vn = (size_t)snprintf(x->v, sizeof(x->v), "v%llu", (unsigned long long)seq);
            }
        }
    }
    qsort(h->e, (size_t)h->n, sizeof(*h->e), ient_qsort_cmp);
    h->nt = (int)rng_uniform(r, 5);
    for (int i = 0; i < h->nt; i++) {
        h->t[i].start = random_ukey(r, 1);
        h->t[i].end = random_ukey(r, 1);
        h->t[i].seq = pool[np++];
    }
}

/* What a snapshot sees within [lower, upper). */
struct visible {
    struct ukey k[16];
    char v[16][16];
    size_t vn[16];
    long n;
};

static void model_visible(struct history *h, uint64_t snap, const struct ukey *lower,
                          const struct ukey *upper, struct visible *out)
{
    out->n = 0;
    for (long i = 0; i < h->n;) {
        /* versions of one user key are adjacent, newest first */
        struct slice u = ikey_user(ient_key(&h->e[i]));
        long j = i;
        const struct ient *newest = NULL;
        for (; j < h->n && slice_compare(ikey_user(ient_key(&h->e[j])), u) == 0; j++) {
            struct slice k = ient_key(&h->e[j]);
            if (!newest && ikey_seq(k) <= snap && ikey_type(k) != TYPE_RANGE_DELETE)
                newest = &h->e[j];
        }
        i = j;
        if (!newest || ikey_type(ient_key(newest)) != TYPE_VALUE) continue;
        if (tomb_seq(h, u, snap) > ikey_seq(ient_key(newest))) continue;
        if (lower && slice_compare(u, ukey_slice(lower)) < 0) continue;
        if (upper && slice_compare(u, ukey_slice(upper)) >= 0) continue;
        struct ukey *k = &out->k[out->n];
        memcpy(k->k, u.p, u.n);
        k->n = u.n;
        memcpy(out->v[out->n], newest->v, newest->vn);
        out->vn[out->n] = newest->vn;
        out->n++;
    }
}

/* The entries split among nchildren array iterators, merged. */
static struct iter *make_internal(struct rng *r, struct history *h, struct ient **parts,
                                  int nchildren, long err_child_pos)
{
    struct iter *kids[4];
    long cnt[4] = {0};
    for (int c = 0; c < nchildren; c++) {
        parts[c] = calloc((size_t)h->n + 1, sizeof(struct ient));
        assert_non_null(parts[c]);
    }
    for (long i = 0; i < h->n; i++) {
        int c = (int)rng_uniform(r, (uint64_t)nchildren);
        parts[c][cnt[c]++] = h->e[i];
    }
    for (int c = 0; c < nchildren; c++)
        kids[c] = arr_iter_new(&ient_type, parts[c], cnt[c], c == 0 ? err_child_pos : -1, NULL);
    return merging_iter_new(kids, (size_t)nchildren, ikey_compare_raw);
}

static void check_at(struct iter *it, const struct visible *vis, long pos)
{
    assert_int_equal(iter_status(it), 0);
    if (pos < 0 || pos >= vis->n) {
        assert_false(iter_valid(it));
        return;
    }
    assert_true(iter_valid(it));
    struct slice k = iter_key(it), v = iter_value(it);
    if (slice_compare(k, ukey_slice(&vis->k[pos])) != 0)
        fprintf(stderr, "got key '%.*s', want '%.*s'\n", (int)k.n, (const char *)k.p,
                (int)vis->k[pos].n, (const char *)vis->k[pos].k);
    assert_int_equal(k.n, vis->k[pos].n);
    if (k.n) assert_memory_equal(k.p, vis->k[pos].k, k.n);
    assert_int_equal(v.n, vis->vn[pos]);
    assert_memory_equal(v.p, vis->v[pos], v.n);
}

static int released;
static void count_release(void *arg)
{
    (void)arg;
    released++;
}

static void random_walks(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("db_iter"));
    int rounds = (int)(5000 * test_scale());
    for (int round = 0; round < rounds; round++) {
        struct history h;
        history_make(&r, &h);
        uint64_t snap = rng_uniform(&r, 215);
        struct ukey lo = random_ukey(&r, 1), hi = random_ukey(&r, 1);
        int has_lo = rng_one_in(&r, 2), has_hi = rng_one_in(&r, 2);
        struct visible vis;
        model_visible(&h, snap, has_lo ? &lo : NULL, has_hi ? &hi : NULL, &vis);

        int nchildren = 1 + (int)rng_uniform(&r, 4);
        struct ient *parts[4];
        struct iter *in = make_internal(&r, &h, parts, nchildren, -1);
        released = 0;
        struct iter *it = db_iter_new(in, snap, has_lo ? ukey_slice(&lo) : slice_make(NULL, 0),
                                      has_hi ? ukey_slice(&hi) : slice_make(NULL, 0),
                                      h.nt ? tomb_seq : NULL, &h, count_release);
        long pos = -1;
        check_at(it, &vis, pos);
        for (int s = 0; s < 150; s++) {
            int op = (int)rng_uniform(&r, 12);
            if (pos < 0 || pos >= vis.n) op = (int)rng_uniform(&r, 4);
            if (op == 0) {
                iter_seek_first(it);
                pos = 0;
            } else if (op == 1) {
                iter_seek_last(it);
                pos = vis.n - 1;
            } else if (op == 2) {
                struct ukey t = random_ukey(&r, 1);
                iter_seek(it, ukey_slice(&t));
                for (pos = 0; pos < vis.n && ukey_cmp(&vis.k[pos], &t) < 0;) pos++;
            } else if (op == 3) {
                struct ukey t = random_ukey(&r, 1);
                db_iter_seek_for_prev(it, ukey_slice(&t));
                for (pos = vis.n - 1; pos >= 0 && ukey_cmp(&vis.k[pos], &t) > 0;) pos--;
            } else if (op < 8) {
                iter_next(it);
                pos++;
            } else {
                iter_prev(it);
                pos--;
            }
            check_at(it, &vis, pos);
        }
        iter_destroy(it);
        assert_int_equal(released, 1);
        for (int c = 0; c < nchildren; c++) free(parts[c]);
        free(h.e);
    }
}

/* Seeking to the current key (whose memory the iterator owns or borrows)
 * is allowed and lands on it. */
static void seek_to_own_key(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("db_iter_own_key"));
    for (int round = 0; round < 300; round++) {
        struct history h;
        history_make(&r, &h);
        h.nt = 0;
        uint64_t snap = 300;
        struct visible vis;
        model_visible(&h, snap, NULL, NULL, &vis);
        struct ient *parts[4];
        struct iter *in = make_internal(&r, &h, parts, 2, -1);
        struct iter *it =
            db_iter_new(in, snap, slice_make(NULL, 0), slice_make(NULL, 0), NULL, NULL, NULL);
        long pos = vis.n - 1;
        for (iter_seek_last(it); iter_valid(it); pos--) {
            check_at(it, &vis, pos);
            if (rng_one_in(&r, 2))
                iter_seek(it, iter_key(it)); /* forward now */
            else
                db_iter_seek_for_prev(it, iter_key(it));
            check_at(it, &vis, pos);
            iter_prev(it);
        }
        assert_int_equal(pos, -1);
        iter_destroy(it);
        for (int c = 0; c < 2; c++) free(parts[c]);
        free(h.e);
    }
}

/* A child that fails stops the db iterator with its error, in either
 * direction, and nothing past the failure is returned. */
static void internal_error(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("db_iter_error"));
    for (int round = 0; round < 500; round++) {
        struct history h;
        history_make(&r, &h);
        if (h.n == 0) {
            free(h.e);
            continue;
        }
        uint64_t snap = rng_uniform(&r, 215);
        struct visible vis;
        model_visible(&h, snap, NULL, NULL, &vis);
        struct ient *parts[4];
        /* child 0 gets everything and fails at a random entry */
        struct iter *in = make_internal(&r, &h, parts, 1, (long)rng_uniform(&r, (uint64_t)h.n));
        struct iter *it = db_iter_new(in, snap, slice_make(NULL, 0), slice_make(NULL, 0),
                                      h.nt ? tomb_seq : NULL, &h, NULL);
        int back = rng_one_in(&r, 2);
        long pos = back ? vis.n - 1 : 0;
        if (back)
            iter_seek_last(it);
        else
            iter_seek_first(it);
        while (iter_valid(it)) {
            check_at(it, &vis, pos);
            if (back) {
                iter_prev(it);
                pos--;
            } else {
                iter_next(it);
                pos++;
            }
        }
        /* every walk crosses every entry, so every walk meets the failure */
        assert_int_equal(iter_status(it), -EIO);
        iter_destroy(it);
        free(parts[0]);
        free(h.e);
    }
}

/* A malformed internal key (shorter than a trailer) is corruption. */
static void corrupt_key(void **state)
{
    (void)state;
    struct ient e[3];
    memset(e, 0, sizeof(e));
    ikey_write(e[0].k, "a", 1, 5, TYPE_VALUE);
    e[0].kn = 1 + IKEY_TRAILER;
    e[1].kn = 3; /* garbage */
    ikey_write(e[2].k, "c", 1, 5, TYPE_VALUE);
    e[2].kn = 1 + IKEY_TRAILER;
    struct iter *it = db_iter_new(arr_iter_new(&ient_type, e, 3, -1, NULL), 10, slice_make(NULL, 0),
                                  slice_make(NULL, 0), NULL, NULL, NULL);
    iter_seek_first(it);
    assert_true(iter_valid(it));
    iter_next(it);
    assert_false(iter_valid(it));
    assert_int_equal(iter_status(it), -LSMER_ECORRUPT);
    iter_seek_last(it);
    assert_false(iter_valid(it));
    assert_int_equal(iter_status(it), -LSMER_ECORRUPT);
    /* a later seek that does not touch the bad entry works again */
    iter_seek(it, slice_make("c", 1));
    assert_true(iter_valid(it));
    assert_int_equal(iter_status(it), 0);
    iter_destroy(it);

    /* seek_for_prev on something that is not a db iterator does nothing */
    struct iter *empty = iter_new_empty(-EIO);
    db_iter_seek_for_prev(empty, slice_make("x", 1));
    assert_false(iter_valid(empty));
    assert_int_equal(iter_status(empty), -EIO);
    iter_destroy(empty);
}

/* Many versions of one key hidden behind a newer deletion, all invisible
 * versions above the snapshot, and empty bounds. */
static void targeted_cases(void **state)
{
    (void)state;
    struct ient e[40];
    memset(e, 0, sizeof(e));
    long n = 0;
    /* key "b": versions 30..11, newest a deletion at 30 */
    for (uint64_t s = 30; s > 10; s--, n++) {
        ikey_write(e[n].k, "b", 1, s, s == 30 ? TYPE_DELETE : TYPE_VALUE);
        e[n].kn = 1 + IKEY_TRAILER;
        e[n].vn = (size_t)snprintf(e[n].v, sizeof(e[n].v), "b%llu", (unsigned long long)s);
    }
    ikey_write(e[n].k, "c", 1, 5, TYPE_VALUE);
    e[n].kn = 1 + IKEY_TRAILER;
    e[n].vn = (size_t)snprintf(e[n].v, sizeof(e[n].v), "c5");
    n++;

    /* at 40: b deleted, only c */
    struct iter *it = db_iter_new(arr_iter_new(&ient_type, e, n, -1, NULL), 40, slice_make(NULL, 0),
                                  slice_make(NULL, 0), NULL, NULL, NULL);
    iter_seek_first(it);
    assert_true(iter_valid(it));
    assert_memory_equal(iter_key(it).p, "c", 1);
    iter_prev(it);
    assert_false(iter_valid(it));
    iter_seek_last(it);
    assert_memory_equal(iter_key(it).p, "c", 1);
    iter_prev(it);
    assert_false(iter_valid(it));
    iter_destroy(it);

    /* at 29: b is b29 */
    it = db_iter_new(arr_iter_new(&ient_type, e, n, -1, NULL), 29, slice_make(NULL, 0),
                     slice_make(NULL, 0), NULL, NULL, NULL);
    iter_seek_last(it);
    iter_prev(it);
    assert_true(iter_valid(it));
    assert_int_equal(iter_value(it).n, 3);
    assert_memory_equal(iter_value(it).p, "b29", 3);
    iter_next(it);
    assert_memory_equal(iter_key(it).p, "c", 1);
    iter_destroy(it);

    /* at 4: nothing visible */
    it = db_iter_new(arr_iter_new(&ient_type, e, n, -1, NULL), 4, slice_make(NULL, 0),
                     slice_make(NULL, 0), NULL, NULL, NULL);
    iter_seek_first(it);
    assert_false(iter_valid(it));
    iter_seek_last(it);
    assert_false(iter_valid(it));
    assert_int_equal(iter_status(it), 0);
    iter_destroy(it);

    /* [b, b) is empty; ["", c) holds b only */
    it = db_iter_new(arr_iter_new(&ient_type, e, n, -1, NULL), 29, slice_make("b", 1),
                     slice_make("b", 1), NULL, NULL, NULL);
    iter_seek_first(it);
    assert_false(iter_valid(it));
    iter_seek_last(it);
    assert_false(iter_valid(it));
    iter_destroy(it);
    it = db_iter_new(arr_iter_new(&ient_type, e, n, -1, NULL), 29, slice_make("", 0),
                     slice_make("c", 1), NULL, NULL, NULL);
    iter_seek_last(it);
    assert_true(iter_valid(it));
    assert_memory_equal(iter_key(it).p, "b", 1);
    iter_next(it);
    assert_false(iter_valid(it));
    db_iter_seek_for_prev(it, slice_make("z", 1));
    assert_true(iter_valid(it));
    assert_memory_equal(iter_key(it).p, "b", 1);
    iter_destroy(it);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(targeted_cases), cmocka_unit_test(corrupt_key),
        cmocka_unit_test(random_walks),   cmocka_unit_test(seek_to_own_key),
        cmocka_unit_test(internal_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
