/* merging_iter.c — n-way merge of sorted iterators (see merging_iter.h). */
#include "merging_iter.h"

#include <errno.h>
#include <stdlib.h>

/* Up to this many children a linear scan finds the smallest key; above it a
 * heap. Measured (2M 8-byte keys spread at random over n array children,
 * forward scan, ns per entry, scan/heap): n=2 22/23, n=3 33/32, n=4 59/37,
 * n=8 82/52, n=12 127/63 — the scan's per-child valid() call and compare
 * lose from 4 children on. */
#ifndef MERGE_LINEAR_MAX
#define MERGE_LINEAR_MAX 2
#endif

enum { DIR_FORWARD, DIR_REVERSE };

/* A child with its validity and key as of its last move (LevelDB's
 * IteratorWrapper): the heap compares and the checks after every step read
 * them here instead of calling down through the child's layers (level,
 * table, block) each time. */
struct merge_child {
    struct iter *it;
    struct slice key; /* when valid; the child keeps it until it moves */
    int valid;
};

struct merging_iter {
    struct iter base;
    key_compare_fn cmp;
    struct merge_child *child;
    size_t n;
    int *heap; /* heap mode: indices of the valid children, heap[0] is current */
    size_t hn;
    int use_heap;
    int dir;
    int cur;    /* current child, -1 when invalid */
    int failed; /* a child reported an error since the last seek */
};

/* ---- ordering ------------------------------------------------------------ */

/* After child i moved. */
static inline void child_moved(struct merging_iter *m, int i)
{
    struct merge_child *c = &m->child[i];
    c->valid = iter_valid(c->it);
    if (c->valid) c->key = iter_key(c->it);
}

/* Whether child a's entry comes before child b's in the current direction.
 * Ties go to the lower index forward and to the higher index backward, so
 * that (key, index) is one total order walked both ways. */
static int before(const struct merging_iter *m, int a, int b)
{
    struct slice ka = m->child[a].key, kb = m->child[b].key;
    int c = m->cmp(ka.p, ka.n, kb.p, kb.n);
    if (m->dir == DIR_FORWARD) return c < 0 || (c == 0 && a < b);
    return c > 0 || (c == 0 && a > b);
}

static void sift_down(struct merging_iter *m, size_t i)
{
    int *h = m->heap;
    for (;;) {
        size_t l = 2 * i + 1, best = i;
        if (l < m->hn && before(m, h[l], h[best])) best = l;
        if (l + 1 < m->hn && before(m, h[l + 1], h[best])) best = l + 1;
        if (best == i) return;
        int t = h[i];
        h[i] = h[best];
        h[best] = t;
        i = best;
    }
}

/* A child just became invalid: remember whether it failed. */
static void note_invalid(struct merging_iter *m, int i)
{
    if (iter_status(m->child[i].it) != 0) m->failed = 1;
}

static void pick_linear(struct merging_iter *m)
{
    int best = -1;
    for (size_t i = 0; i < m->n; i++) {
        if (!m->child[i].valid) continue;
        if (best < 0 || before(m, (int)i, best)) best = (int)i;
    }
    m->cur = m->failed ? -1 : best;
}

/* After every child moved: find the current one from scratch. */
static void rebuild(struct merging_iter *m)
{
    for (size_t i = 0; i < m->n; i++) {
        child_moved(m, (int)i);
        if (!m->child[i].valid) note_invalid(m, (int)i);
    }
    if (!m->use_heap) {
        pick_linear(m);
        return;
    }
    m->hn = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->child[i].valid) m->heap[m->hn++] = (int)i;
    for (size_t i = m->hn / 2; i-- > 0;) sift_down(m, i);
    m->cur = (m->failed || m->hn == 0) ? -1 : m->heap[0];
}

/* The current child moved one step in the current direction. */
static void after_step(struct merging_iter *m)
{
    int c = m->cur;
    child_moved(m, c);
    if (!m->child[c].valid) note_invalid(m, c);
    if (!m->use_heap) {
        pick_linear(m);
        return;
    }
    if (m->child[c].valid) {
        sift_down(m, 0);
    } else {
        m->heap[0] = m->heap[--m->hn];
        sift_down(m, 0);
    }
    m->cur = (m->failed || m->hn == 0) ? -1 : m->heap[0];
}

/* ---- iterator ops ------------------------------------------------------- */

static int m_valid(const struct iter *it)
{
    return ((const struct merging_iter *)it)->cur >= 0;
}

static void m_seek_first(struct iter *it)
{
    struct merging_iter *m = (struct merging_iter *)it;
    m->failed = 0;
    m->dir = DIR_FORWARD;
    for (size_t i = 0; i < m->n; i++) iter_seek_first(m->child[i].it);
    rebuild(m);
}

static void m_seek_last(struct iter *it)
{
    struct merging_iter *m = (struct merging_iter *)it;
    m->failed = 0;
    m->dir = DIR_REVERSE;
    for (size_t i = 0; i < m->n; i++) iter_seek_last(m->child[i].it);
    rebuild(m);
}

static void m_seek(struct iter *it, struct slice target)
{
    struct merging_iter *m = (struct merging_iter *)it;
    m->failed = 0;
    m->dir = DIR_FORWARD;
    for (size_t i = 0; i < m->n; i++) iter_seek(m->child[i].it, target);
    rebuild(m);
}

static int key_equal(const struct merging_iter *m, struct slice a, struct slice b)
{
    return m->cmp(a.p, a.n, b.p, b.n) == 0;
}

static void m_next(struct iter *it)
{
    struct merging_iter *m = (struct merging_iter *)it;
    int c = m->cur;
    if (c < 0) return;
    if (m->dir != DIR_FORWARD) {
        /* Put every other child on its first entry after (key, c): for a
         * lower index that is the first key > key, for a higher index the
         * first key >= key. The current child's key stays valid meanwhile:
         * only the others move. */
        struct slice k = m->child[c].key;
        for (size_t i = 0; i < m->n; i++) {
            struct iter *ch = m->child[i].it;
            if ((int)i == c) continue;
            iter_seek(ch, k);
            if ((int)i < c && iter_valid(ch) && key_equal(m, iter_key(ch), k)) iter_next(ch);
        }
        m->dir = DIR_FORWARD;
        iter_next(m->child[c].it);
        rebuild(m);
        return;
    }
    iter_next(m->child[c].it);
    after_step(m);
}

static void m_prev(struct iter *it)
{
    struct merging_iter *m = (struct merging_iter *)it;
    int c = m->cur;
    if (c < 0) return;
    if (m->dir != DIR_REVERSE) {
        /* Every other child onto its last entry before (key, c): for a
         * lower index the last key <= key, for a higher one the last key
         * < key. */
        struct slice k = m->child[c].key;
        for (size_t i = 0; i < m->n; i++) {
            struct iter *ch = m->child[i].it;
            if ((int)i == c) continue;
            iter_seek(ch, k);
            if (iter_valid(ch)) {
                if (!((int)i < c && key_equal(m, iter_key(ch), k))) iter_prev(ch);
            } else if (iter_status(ch) == 0) {
                iter_seek_last(ch); /* every key is < key */
            }
        }
        m->dir = DIR_REVERSE;
        iter_prev(m->child[c].it);
        rebuild(m);
        return;
    }
    iter_prev(m->child[c].it);
    after_step(m);
}

static struct slice m_key(const struct iter *it)
{
    const struct merging_iter *m = (const struct merging_iter *)it;
    return m->child[m->cur].key;
}

static struct slice m_value(const struct iter *it)
{
    const struct merging_iter *m = (const struct merging_iter *)it;
    return iter_value(m->child[m->cur].it);
}

static int m_status(const struct iter *it)
{
    const struct merging_iter *m = (const struct merging_iter *)it;
    for (size_t i = 0; i < m->n; i++) {
        int rc = iter_status(m->child[i].it);
        if (rc) return rc;
    }
    return 0;
}

static void m_destroy(struct iter *it)
{
    struct merging_iter *m = (struct merging_iter *)it;
    for (size_t i = 0; i < m->n; i++) iter_destroy(m->child[i].it);
    free(m->child);
    free(m->heap);
    free(m);
}

static const struct iter_ops merging_ops = {m_valid,  m_seek_first, m_seek_last, m_seek,
                                            m_next,   m_prev,       m_key,       m_value,
                                            m_status, m_destroy};

struct iter *merging_iter_new(struct iter **children, size_t n, key_compare_fn cmp)
{
    if (n == 0) return iter_new_empty(0);
    if (n == 1) return children[0];
    struct merging_iter *m = calloc(1, sizeof(*m));
    if (!m) goto oom;
    m->child = malloc(n * sizeof(*m->child));
    m->use_heap = n > MERGE_LINEAR_MAX;
    if (m->use_heap) m->heap = malloc(n * sizeof(*m->heap));
    if (!m->child || (m->use_heap && !m->heap)) goto oom;
    for (size_t i = 0; i < n; i++) m->child[i] = (struct merge_child){children[i], {NULL, 0}, 0};
    m->base.ops = &merging_ops;
    m->cmp = cmp;
    m->n = n;
    m->cur = -1;
    m->dir = DIR_FORWARD;
    return &m->base;
oom:
    if (m) {
        free(m->child);
        free(m->heap);
        free(m);
    }
    for (size_t i = 0; i < n; i++) iter_destroy(children[i]);
    return iter_new_empty(-ENOMEM);
}
