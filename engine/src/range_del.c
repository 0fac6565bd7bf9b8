/*
 * range_del.c — fragmented range tombstones (see range_del.h).
 *
 * Representation: a sorted array of pointers to pieces. A piece is one
 * malloc'd block: header, its sequence numbers (newest first, no
 * duplicates), then the start and end key bytes. Pieces never overlap and
 * are never empty, so both their starts and their ends are sorted and a
 * lookup is one binary search.
 *
 * Adding merges the new range (or another set) into the window of pieces it
 * overlaps: a sweep over both sorted lists emits the fragments of the union,
 * reusing untouched pieces and building new ones where seqs change. All new
 * pieces are built before the array is touched, so a failed allocation
 * leaves the set as it was.
 */
#include "range_del.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct rdel_piece {
    size_t slen, elen, nseqs;
    int fresh;       /* scratch while merging: built by this merge */
    uint64_t seqs[]; /* then start bytes, then end bytes */
};

struct rdel_set {
    struct rdel_piece **v;
    size_t n, cap;
    size_t bytes; /* sum of piece allocations */
};

/* A piece-shaped view of a range that lives elsewhere (the caller's
 * arguments or another set). */
struct rdel_view {
    struct slice start, end;
    const uint64_t *seqs;
    size_t nseqs;
};

static struct slice piece_start(const struct rdel_piece *p)
{
    return slice_make((const uint8_t *)(p->seqs + p->nseqs), p->slen);
}

static struct slice piece_end(const struct rdel_piece *p)
{
    return slice_make((const uint8_t *)(p->seqs + p->nseqs) + p->slen, p->elen);
}

static size_t piece_size(const struct rdel_piece *p)
{
    return sizeof(*p) + p->nseqs * sizeof(uint64_t) + p->slen + p->elen;
}

static struct rdel_view piece_view(const struct rdel_piece *p)
{
    struct rdel_view v = {piece_start(p), piece_end(p), p->seqs, p->nseqs};
    return v;
}

/* Merges two newest-first seq lists into out (if not NULL), dropping
 * duplicates; returns the merged length. */
static size_t seqs_merge(const uint64_t *a, size_t na, const uint64_t *b, size_t nb, uint64_t *out)
{
    size_t i = 0, j = 0, k = 0;
    while (i < na || j < nb) {
        uint64_t x;
        if (j >= nb || (i < na && a[i] > b[j])) {
            x = a[i++];
        } else if (i >= na || b[j] > a[i]) {
            x = b[j++];
        } else {
            x = a[i++];
            j++;
        }
        if (out) out[k] = x;
        k++;
    }
    return k;
}

/* A new piece [start, end) carrying the union of two seq lists. */
static struct rdel_piece *piece_new(struct slice start, struct slice end, const uint64_t *a,
                                    size_t na, const uint64_t *b, size_t nb)
{
    size_t ns = seqs_merge(a, na, b, nb, NULL);
    struct rdel_piece *p = malloc(sizeof(*p) + ns * sizeof(uint64_t) + start.n + end.n);
    if (!p) return NULL;
    p->slen = start.n;
    p->elen = end.n;
    p->nseqs = ns;
    p->fresh = 1;
    seqs_merge(a, na, b, nb, p->seqs);
    uint8_t *k = (uint8_t *)(p->seqs + ns);
    if (start.n) memcpy(k, start.p, start.n);
    if (end.n) memcpy(k + start.n, end.p, end.n);
    return p;
}

struct rdel_set *rdel_new(void)
{
    return calloc(1, sizeof(struct rdel_set));
}

void rdel_free(struct rdel_set *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    free(s);
}

/* Index of the first piece whose end is > key (pieces overlapping or after
 * key). */
static size_t first_end_after(const struct rdel_set *s, struct slice key)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (slice_compare(piece_end(s->v[mid]), key) > 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Index of the first piece whose start is >= key. */
static size_t first_start_at_or_after(const struct rdel_set *s, struct slice key)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (slice_compare(piece_start(s->v[mid]), key) >= 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Output of a merge: pieces in key order, each either new (fresh) or an
 * old piece of the window reused whole. */
struct merge_out {
    struct rdel_piece **v;
    size_t n, cap;
    size_t new_bytes;
};

static int out_push(struct merge_out *o, struct rdel_piece *p)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 8;
        struct rdel_piece **v = realloc(o->v, cap * sizeof(*v));
        if (!v) return -ENOMEM;
        o->v = v;
        o->cap = cap;
    }
    o->v[o->n++] = p;
    return 0;
}

static int out_emit(struct merge_out *o, struct slice lo, struct slice hi, const uint64_t *a,
                    size_t na, const uint64_t *b, size_t nb)
{
    struct rdel_piece *p = piece_new(lo, hi, a, na, b, nb);
    if (!p) return -ENOMEM;
    if (out_push(o, p)) {
        free(p);
        return -ENOMEM;
    }
    o->new_bytes += piece_size(p);
    return 0;
}

static struct slice slice_min(struct slice a, struct slice b)
{
    return slice_compare(a, b) <= 0 ? a : b;
}

/* Sweeps old pieces s->v[i..j) and views b[0..nb) (both sorted, neither
 * overlapping itself) into o: the fragments of their union. */
static int merge_window(const struct rdel_set *s, size_t i, size_t j, const struct rdel_view *b,
                        size_t nb, struct merge_out *o)
{
    size_t ia = i, ib = 0;
    struct slice alo = ia < j ? piece_start(s->v[ia]) : slice_make(NULL, 0);
    struct slice blo = ib < nb ? b[ib].start : slice_make(NULL, 0);
    int a_whole = 1; /* alo is still the start of s->v[ia] */
    int rc = 0;
    while (!rc && (ia < j || ib < nb)) {
        const struct rdel_piece *pa = ia < j ? s->v[ia] : NULL;
        const struct rdel_view *pb = ib < nb ? &b[ib] : NULL;
        int c = !pa ? 1 : !pb ? -1 : slice_compare(alo, blo);
        struct slice hi;
        int adv_a = 0, adv_b = 0;
        if (c < 0) { /* only a: up to a's end or b's start */
            hi = pb ? slice_min(piece_end(pa), blo) : piece_end(pa);
            adv_a = slice_compare(hi, piece_end(pa)) == 0;
            if (adv_a && a_whole) {
                rc = out_push(o, s->v[ia]);
            } else {
                rc = out_emit(o, alo, hi, pa->seqs, pa->nseqs, NULL, 0);
            }
        } else if (c > 0) { /* only b: up to b's end or a's start */
            hi = pa ? slice_min(pb->end, alo) : pb->end;
            adv_b = slice_compare(hi, pb->end) == 0;
            rc = out_emit(o, blo, hi, pb->seqs, pb->nseqs, NULL, 0);
        } else { /* both: up to the nearer end */
            hi = slice_min(piece_end(pa), pb->end);
            adv_a = slice_compare(hi, piece_end(pa)) == 0;
            adv_b = slice_compare(hi, pb->end) == 0;
            rc = out_emit(o, alo, hi, pa->seqs, pa->nseqs, pb->seqs, pb->nseqs);
        }
        if (rc) break;
        if (c <= 0) {
            if (adv_a) {
                ia++;
                a_whole = 1;
                if (ia < j) alo = piece_start(s->v[ia]);
            } else {
                alo = hi;
                a_whole = 0;
            }
        }
        if (c >= 0) {
            if (adv_b) {
                ib++;
                if (ib < nb) blo = b[ib].start;
            } else {
                blo = hi;
            }
        }
    }
    return rc;
}

/* Replaces pieces [i, j) of s by the union of them and b[0..nb). */
static int merge_into(struct rdel_set *s, size_t i, size_t j, const struct rdel_view *b, size_t nb)
{
    struct merge_out o = {NULL, 0, 0, 0};
    for (size_t k = i; k < j; k++) s->v[k]->fresh = 0;
    int rc = merge_window(s, i, j, b, nb, &o);
    size_t newn = s->n - (j - i) + o.n;
    if (!rc && newn > s->cap) {
        size_t cap = s->cap ? s->cap : 8;
        while (cap < newn) cap *= 2;
        struct rdel_piece **v = realloc(s->v, cap * sizeof(*v));
        if (v) {
            s->v = v;
            s->cap = cap;
        } else {
            rc = -ENOMEM;
        }
    }
    if (rc) {
        for (size_t k = 0; k < o.n; k++)
            if (o.v[k]->fresh) free(o.v[k]);
        free(o.v);
        return rc;
    }
    /* Commit: old pieces that were not reused go; reused ones are marked
     * by a cleared fresh flag, so mark the outputs first. */
    for (size_t k = 0; k < o.n; k++) o.v[k]->fresh = 2;
    for (size_t k = i; k < j; k++) {
        if (s->v[k]->fresh != 2) {
            s->bytes -= piece_size(s->v[k]);
            free(s->v[k]);
        }
    }
    for (size_t k = 0; k < o.n; k++) o.v[k]->fresh = 0;
    memmove(s->v + i + o.n, s->v + j, (s->n - j) * sizeof(*s->v));
    if (o.n) memcpy(s->v + i, o.v, o.n * sizeof(*s->v));
    s->n = newn;
    s->bytes += o.new_bytes;
    free(o.v);
    return 0;
}

int rdel_add(struct rdel_set *s, struct slice start, struct slice end, uint64_t seq)
{
    if (slice_compare(start, end) >= 0) return 0;
    struct rdel_view v = {start, end, &seq, 1};
    size_t i = first_end_after(s, start);
    size_t j = first_start_at_or_after(s, end);
    if (j < i) j = i;
    return merge_into(s, i, j, &v, 1);
}

int rdel_add_all(struct rdel_set *s, const struct rdel_set *src)
{
    if (!src->n || s == src) return 0; /* a set's union with itself is itself */
    struct rdel_view *views = malloc(src->n * sizeof(*views));
    if (!views) return -ENOMEM;
    for (size_t k = 0; k < src->n; k++) views[k] = piece_view(src->v[k]);
    /* Only the pieces of s inside src's extent can change. */
    size_t i = first_end_after(s, views[0].start);
    size_t j = first_start_at_or_after(s, views[src->n - 1].end);
    if (j < i) j = i;
    int rc = merge_into(s, i, j, views, src->n);
    free(views);
    return rc;
}

uint64_t rdel_max_covering(const struct rdel_set *s, struct slice ukey, uint64_t snapshot)
{
    size_t i = first_end_after(s, ukey);
    if (i >= s->n) return 0;
    const struct rdel_piece *p = s->v[i];
    if (slice_compare(piece_start(p), ukey) > 0) return 0;
    for (size_t k = 0; k < p->nseqs; k++)
        if (p->seqs[k] <= snapshot) return p->seqs[k];
    return 0;
}

int rdel_empty(const struct rdel_set *s)
{
    return s->n == 0;
}

size_t rdel_count(const struct rdel_set *s)
{
    return s->n;
}

size_t rdel_memory(const struct rdel_set *s)
{
    return sizeof(*s) + s->cap * sizeof(*s->v) + s->bytes;
}

struct slice rdel_smallest(const struct rdel_set *s)
{
    return s->n ? piece_start(s->v[0]) : slice_make(NULL, 0);
}

struct slice rdel_largest_end(const struct rdel_set *s)
{
    return s->n ? piece_end(s->v[s->n - 1]) : slice_make(NULL, 0);
}

int rdel_for_each(const struct rdel_set *s, rdel_piece_fn fn, void *arg)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct rdel_piece *p = s->v[i];
        int rc = fn(arg, piece_start(p), piece_end(p), p->seqs, p->nseqs);
        if (rc) return rc;
    }
    return 0;
}

int rdel_for_each_in(const struct rdel_set *s, struct slice lo, struct slice hi, rdel_piece_fn fn,
                     void *arg)
{
    size_t i = lo.p ? first_end_after(s, lo) : 0;
    for (; i < s->n; i++) {
        const struct rdel_piece *p = s->v[i];
        struct slice a = piece_start(p), b = piece_end(p);
        if (hi.p && slice_compare(a, hi) >= 0) break;
        if (lo.p && slice_compare(a, lo) < 0) a = lo;
        if (hi.p && slice_compare(b, hi) > 0) b = hi;
        if (slice_compare(a, b) >= 0) continue;
        int rc = fn(arg, a, b, p->seqs, p->nseqs);
        if (rc) return rc;
    }
    return 0;
}
