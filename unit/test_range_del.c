/* test_range_del.c — fragmented tombstones against a brute-force model (the
 * list of raw tombstones), keys from a small alphabet so ranges overlap,
 * nest and share boundaries often. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "range_del.h"
#include "testutil.h"

/* ---- keys: every string of length <= 4 over "abcd" -------------------- */

struct key {
    char s[5];
    size_t n;
};

static struct key probes[1 + 4 + 16 + 64 + 256];
static size_t nprobes;

static int key_cmp(const void *a, const void *b)
{
    return slice_compare(slice_make(((const struct key *)a)->s, ((const struct key *)a)->n),
                         slice_make(((const struct key *)b)->s, ((const struct key *)b)->n));
}

static void gen(char *buf, size_t len, size_t max)
{
    struct key *k = &probes[nprobes++];
    memcpy(k->s, buf, len);
    k->n = len;
    if (len == max) return;
    for (char c = 'a'; c <= 'd'; c++) {
        buf[len] = c;
        gen(buf, len + 1, max);
    }
}

static int setup_keys(void **state)
{
    (void)state;
    char buf[5];
    nprobes = 0;
    gen(buf, 0, 4);
    qsort(probes, nprobes, sizeof(probes[0]), key_cmp);
    return 0;
}

static struct slice ks(const struct key *k)
{
    return slice_make(k->s, k->n);
}

/* A tombstone key: length <= 3 over "abc" (a subset of the probes). */
static struct key rand_key(struct rng *r)
{
    struct key k;
    k.n = rng_uniform(r, 4);
    for (size_t i = 0; i < k.n; i++) k.s[i] = (char)('a' + rng_uniform(r, 3));
    return k;
}

/* ---- the model ---------------------------------------------------------- */

struct raw {
    struct key start, end;
    uint64_t seq;
};

struct model_rd {
    struct raw *v;
    size_t n, cap;
};

static void model_add(struct model_rd *m, struct key s, struct key e, uint64_t seq)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->v = realloc(m->v, m->cap * sizeof(*m->v));
        assert_non_null(m->v);
    }
    m->v[m->n++] = (struct raw){s, e, seq};
}

static int covers(const struct raw *t, struct slice k)
{
    return slice_compare(ks(&t->start), k) <= 0 && slice_compare(k, ks(&t->end)) < 0;
}

static uint64_t model_max_covering(const struct model_rd *m, struct slice k, uint64_t snap)
{
    uint64_t best = 0;
    for (size_t i = 0; i < m->n; i++)
        if (covers(&m->v[i], k) && m->v[i].seq <= snap && m->v[i].seq > best) best = m->v[i].seq;
    return best;
}

/* Every seq covering k, newest first, no duplicates; returns the count. */
static size_t model_seqs(const struct model_rd *m, struct slice k, uint64_t *out)
{
    size_t n = 0;
    uint64_t last = UINT64_MAX;
    for (;;) {
        uint64_t best = 0;
        int found = 0;
        for (size_t i = 0; i < m->n; i++)
            if (covers(&m->v[i], k) && m->v[i].seq < last && (!found || m->v[i].seq > best)) {
                best = m->v[i].seq;
                found = 1;
            }
        if (!found) return n;
        out[n++] = best;
        last = best;
    }
}

/* ---- collecting pieces --------------------------------------------------- */

struct piece_copy {
    struct key start, end;
    uint64_t seqs[64];
    size_t nseqs;
};

struct pieces {
    struct piece_copy v[512];
    size_t n;
    int stop_at; /* return 7 when this many were seen (0: never) */
};

static int collect(void *arg, struct slice start, struct slice end, const uint64_t *seqs,
                   size_t nseqs)
{
    struct pieces *p = arg;
    assert_true(p->n < 512);
    assert_true(nseqs <= 64 && start.n <= 4 && end.n <= 4);
    struct piece_copy *c = &p->v[p->n++];
    memcpy(c->start.s, start.p, start.n);
    c->start.n = start.n;
    memcpy(c->end.s, end.p, end.n);
    c->end.n = end.n;
    memcpy(c->seqs, seqs, nseqs * sizeof(*seqs));
    c->nseqs = nseqs;
    if (p->stop_at && (int)p->n == p->stop_at) return 7;
    return 0;
}

/* The set equals the model: pieces well-formed; every probe key is in a
 * piece carrying exactly the seqs of the raw tombstones covering it;
 * lookups agree for random snapshots; extent matches. */
static void check_set(const struct rdel_set *s, const struct model_rd *m, struct rng *r)
{
    static struct pieces p;
    p.n = 0;
    p.stop_at = 0;
    assert_int_equal(rdel_for_each(s, collect, &p), 0);
    assert_int_equal(p.n, rdel_count(s));
    assert_int_equal(rdel_empty(s), p.n == 0);
    for (size_t i = 0; i < p.n; i++) {
        assert_true(slice_compare(ks(&p.v[i].start), ks(&p.v[i].end)) < 0);
        if (i) assert_true(slice_compare(ks(&p.v[i - 1].end), ks(&p.v[i].start)) <= 0);
        assert_true(p.v[i].nseqs > 0);
        for (size_t k = 1; k < p.v[i].nseqs; k++) assert_true(p.v[i].seqs[k - 1] > p.v[i].seqs[k]);
    }
    size_t pi = 0;
    for (size_t k = 0; k < nprobes; k++) {
        struct slice key = ks(&probes[k]);
        while (pi < p.n && slice_compare(ks(&p.v[pi].end), key) <= 0) pi++;
        int in = pi < p.n && slice_compare(ks(&p.v[pi].start), key) <= 0;
        uint64_t want[64];
        size_t nw = model_seqs(m, key, want);
        if (!in) {
            assert_int_equal(nw, 0);
        } else {
            assert_int_equal(nw, p.v[pi].nseqs);
            assert_memory_equal(want, p.v[pi].seqs, nw * sizeof(uint64_t));
        }
        for (int q = 0; q < 3; q++) {
            uint64_t snap = rng_uniform(r, 70);
            assert_true(rdel_max_covering(s, key, snap) == model_max_covering(m, key, snap));
        }
        assert_true(rdel_max_covering(s, key, UINT64_MAX) == (nw ? want[0] : 0));
    }
    /* extent */
    int any = 0;
    struct key lo = {{0}, 0}, hi = {{0}, 0};
    for (size_t i = 0; i < m->n; i++) {
        if (slice_compare(ks(&m->v[i].start), ks(&m->v[i].end)) >= 0) continue;
        if (!any || key_cmp(&m->v[i].start, &lo) < 0) lo = m->v[i].start;
        if (!any || key_cmp(&m->v[i].end, &hi) > 0) hi = m->v[i].end;
        any = 1;
    }
    assert_int_equal(any, !rdel_empty(s));
    if (any) {
        assert_int_equal(slice_compare(rdel_smallest(s), ks(&lo)), 0);
        assert_int_equal(slice_compare(rdel_largest_end(s), ks(&hi)), 0);
    }
}

static void build_random(struct rdel_set *s, struct model_rd *m, struct rng *r, int n)
{
    for (int i = 0; i < n; i++) {
        struct key a = rand_key(r), b = rand_key(r);
        if (!rng_one_in(r, 8) && key_cmp(&a, &b) > 0) {
            struct key t = a;
            a = b;
            b = t;
        }
        uint64_t seq = rng_uniform(r, 60) + 1;
        assert_int_equal(rdel_add(s, ks(&a), ks(&b), seq), 0);
        model_add(m, a, b, seq);
    }
}

static void rdel_random_vs_model(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("rdel_random_vs_model"));
    for (int round = 0; round < 60; round++) {
        struct rdel_set *s = rdel_new();
        assert_non_null(s);
        struct model_rd m = {0};
        check_set(s, &m, &r);
        int n = 1 + (int)rng_uniform(&r, 25);
        for (int i = 0; i < n; i++) {
            build_random(s, &m, &r, 1);
            check_set(s, &m, &r);
        }
        assert_true(rdel_memory(s) > 0);
        rdel_free(s);
        free(m.v);
    }
}

static void rdel_add_all_vs_model(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("rdel_add_all_vs_model"));
    for (int round = 0; round < 60; round++) {
        struct rdel_set *a = rdel_new(), *b = rdel_new(), *c = rdel_new();
        assert_true(a && b && c);
        struct model_rd ma = {0}, mb = {0}, mc = {0};
        build_random(a, &ma, &r, (int)rng_uniform(&r, 12));
        build_random(b, &mb, &r, (int)rng_uniform(&r, 12));
        build_random(c, &mc, &r, (int)rng_uniform(&r, 4));
        assert_int_equal(rdel_add_all(c, a), 0);
        assert_int_equal(rdel_add_all(c, b), 0);
        for (size_t i = 0; i < ma.n; i++) model_add(&mc, ma.v[i].start, ma.v[i].end, ma.v[i].seq);
        for (size_t i = 0; i < mb.n; i++) model_add(&mc, mb.v[i].start, mb.v[i].end, mb.v[i].seq);
        check_set(c, &mc, &r);
        /* the sources are untouched */
        check_set(a, &ma, &r);
        check_set(b, &mb, &r);
        rdel_free(a);
        rdel_free(b);
        rdel_free(c);
        free(ma.v);
        free(mb.v);
        free(mc.v);
    }
}

/* rdel_for_each_in gives exactly the pieces clipped to [lo, hi). */
static void rdel_for_each_in_clips(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("rdel_for_each_in_clips"));
    static struct pieces all, got;
    for (int round = 0; round < 40; round++) {
        struct rdel_set *s = rdel_new();
        assert_non_null(s);
        struct model_rd m = {0};
        build_random(s, &m, &r, 1 + (int)rng_uniform(&r, 15));
        all.n = 0;
        all.stop_at = 0;
        rdel_for_each(s, collect, &all);
        for (int q = 0; q < 50; q++) {
            struct key lo = probes[rng_uniform(&r, nprobes)], hi = probes[rng_uniform(&r, nprobes)];
            int lo_unb = rng_one_in(&r, 5), hi_unb = rng_one_in(&r, 5);
            struct slice slo = lo_unb ? slice_make(NULL, 0) : ks(&lo);
            struct slice shi = hi_unb ? slice_make(NULL, 0) : ks(&hi);
            got.n = 0;
            got.stop_at = 0;
            assert_int_equal(rdel_for_each_in(s, slo, shi, collect, &got), 0);
            size_t k = 0;
            for (size_t i = 0; i < all.n; i++) {
                struct key a = all.v[i].start, b = all.v[i].end;
                if (!lo_unb && key_cmp(&a, &lo) < 0) a = lo;
                if (!hi_unb && key_cmp(&b, &hi) > 0) b = hi;
                if (key_cmp(&a, &b) >= 0) continue;
                assert_true(k < got.n);
                assert_int_equal(key_cmp(&got.v[k].start, &a), 0);
                assert_int_equal(key_cmp(&got.v[k].end, &b), 0);
                assert_int_equal(got.v[k].nseqs, all.v[i].nseqs);
                assert_memory_equal(got.v[k].seqs, all.v[i].seqs,
                                    all.v[i].nseqs * sizeof(uint64_t));
                k++;
            }
            assert_int_equal(k, got.n);
        }
        /* early stop returns the callback's value */
        if (all.n >= 2) {
            got.n = 0;
            got.stop_at = 2;
            assert_int_equal(rdel_for_each(s, collect, &got), 7);
            assert_int_equal(got.n, 2);
            got.n = 0;
            assert_int_equal(
                rdel_for_each_in(s, slice_make(NULL, 0), slice_make(NULL, 0), collect, &got), 7);
            assert_int_equal(got.n, 2);
        }
        rdel_free(s);
        free(m.v);
    }
}

/* Targeted cases: empty ranges ignored, the empty key as a start, splits
 * at both ends of a containing piece, adjacency. */
static void rdel_edges(void **state)
{
    (void)state;
    struct rdel_set *s = rdel_new();
    assert_non_null(s);
    assert_int_equal(rdel_add(s, slice_make("b", 1), slice_make("b", 1), 5), 0);
    assert_int_equal(rdel_add(s, slice_make("c", 1), slice_make("b", 1), 5), 0);
    assert_true(rdel_empty(s));
    assert_int_equal(rdel_add(s, slice_make(NULL, 0), slice_make("m", 1), 3), 0);
    assert_int_equal(rdel_add(s, slice_make("d", 1), slice_make("f", 1), 9), 0);
    assert_int_equal(rdel_count(s), 3); /* ["", d) [d, f) [f, m) */
    assert_true(rdel_max_covering(s, slice_make(NULL, 0), 100) == 3);
    assert_true(rdel_max_covering(s, slice_make("e", 1), 100) == 9);
    assert_true(rdel_max_covering(s, slice_make("e", 1), 8) == 3);
    assert_true(rdel_max_covering(s, slice_make("e", 1), 2) == 0);
    assert_true(rdel_max_covering(s, slice_make("f", 1), 100) == 3);
    assert_true(rdel_max_covering(s, slice_make("m", 1), 100) == 0);
    /* adjacent, not overlapping: a new piece, old ones untouched */
    assert_int_equal(rdel_add(s, slice_make("m", 1), slice_make("n", 1), 4), 0);
    assert_int_equal(rdel_count(s), 4);
    assert_true(rdel_max_covering(s, slice_make("m", 1), 100) == 4);
    assert_int_equal(slice_compare(rdel_largest_end(s), slice_make("n", 1)), 0);
    assert_int_equal(rdel_smallest(s).n, 0);
    rdel_free(s);
    rdel_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rdel_edges),
        cmocka_unit_test(rdel_random_vs_model),
        cmocka_unit_test(rdel_add_all_vs_model),
        cmocka_unit_test(rdel_for_each_in_clips),
    };
    return cmocka_run_group_tests(tests, setup_keys, NULL);
}
