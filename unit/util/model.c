/* model.c — a persistent treap of byte strings; see model.h. */
#include "model.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Key and value bytes, shared by every node copy that holds them. */
struct mkv {
    _Atomic uint32_t refs;
    uint32_t prio;
    size_t klen, vlen;
    unsigned char data[]; /* key, then value */
};

/* An immutable tree node: once built it never changes, so any number of
 * models may point at it. */
struct mnode {
    _Atomic uint32_t refs;
    struct mkv *kv;
    struct mnode *l, *r;
    size_t size;    /* nodes in this subtree */
    uint64_t bytes; /* key + value bytes in this subtree */
};

struct model {
    struct mnode *root;
};

/* ---- helpers ------------------------------------------------------------ */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "model: out of memory\n");
        abort();
    }
    return p;
}

int model_key_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

static uint32_t key_prio(const void *key, size_t klen)
{
    /* FNV-1a then a final mix: priorities look random but are a function
     * of the key, so a run's tree shape is reproducible. */
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < klen; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)h;
}

static struct mkv *kv_new(const void *key, size_t klen, const void *val, size_t vlen)
{
    struct mkv *kv = xmalloc(sizeof(*kv) + klen + vlen);
    atomic_init(&kv->refs, 1);
    kv->prio = key_prio(key, klen);
    kv->klen = klen;
    kv->vlen = vlen;
    if (klen) memcpy(kv->data, key, klen);
    if (vlen) memcpy(kv->data + klen, val, vlen);
    return kv;
}

static void kv_unref(struct mkv *kv)
{
    if (atomic_fetch_sub_explicit(&kv->refs, 1, memory_order_acq_rel) == 1) free(kv);
}

static struct mnode *nref(struct mnode *n)
{
    if (n) atomic_fetch_add_explicit(&n->refs, 1, memory_order_relaxed);
    return n;
}

static void nunref(struct mnode *n)
{
    while (n) {
        if (atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) != 1) return;
        struct mnode *l = n->l, *r = n->r;
        kv_unref(n->kv);
        free(n);
        nunref(l); /* depth is the tree's height: small */
        n = r;
    }
}

static size_t nsize(const struct mnode *n)
{
    return n ? n->size : 0;
}

static uint64_t nbytes(const struct mnode *n)
{
    return n ? n->bytes : 0;
}

/* A new node holding kv (referenced) over l and r (references taken over). */
static struct mnode *mk(struct mkv *kv, struct mnode *l, struct mnode *r)
{
    struct mnode *n = xmalloc(sizeof(*n));
    atomic_init(&n->refs, 1);
    atomic_fetch_add_explicit(&kv->refs, 1, memory_order_relaxed);
    n->kv = kv;
    n->l = l;
    n->r = r;
    n->size = 1 + nsize(l) + nsize(r);
    n->bytes = kv->klen + kv->vlen + nbytes(l) + nbytes(r);
    return n;
}

static int ncmp(const struct mnode *n, const void *key, size_t klen)
{
    return model_key_cmp(n->kv->data, n->kv->klen, key, klen);
}

/* Splits t (borrowed) into *lo (keys < key, or <= key if incl) and *hi
 * (the rest); both are new references. */
static void split(struct mnode *t, const void *key, size_t klen, int incl, struct mnode **lo,
                  struct mnode **hi)
{
    if (!t) {
        *lo = *hi = NULL;
        return;
    }
    int c = ncmp(t, key, klen);
    struct mnode *a, *b;
    if (c < 0 || (incl && c == 0)) {
        split(t->r, key, klen, incl, &a, &b);
        *lo = mk(t->kv, nref(t->l), a);
        *hi = b;
    } else {
        split(t->l, key, klen, incl, &a, &b);
        *lo = a;
        *hi = mk(t->kv, b, nref(t->r));
    }
}

/* Joins a and b (borrowed; every key of a below every key of b). */
static struct mnode *merge(struct mnode *a, struct mnode *b)
{
    if (!a) return nref(b);
    if (!b) return nref(a);
    if (a->kv->prio >= b->kv->prio) return mk(a->kv, nref(a->l), merge(a->r, b));
    return mk(b->kv, merge(a, b->l), nref(b->r));
}

static void fill(const struct mnode *n, struct model_entry *out)
{
    if (!out) return;
    out->key = n->kv->data;
    out->klen = n->kv->klen;
    out->val = n->kv->data + n->kv->klen;
    out->vlen = n->kv->vlen;
}

/* ---- API ---------------------------------------------------------------- */

struct model *model_new(void)
{
    struct model *m = xmalloc(sizeof(*m));
    m->root = NULL;
    return m;
}

void model_free(struct model *m)
{
    if (!m) return;
    nunref(m->root);
    free(m);
}

struct model *model_copy(const struct model *m)
{
    struct model *c = model_new();
    c->root = nref(m->root);
    return c;
}

void model_assign(struct model *dst, const struct model *src)
{
    struct mnode *old = dst->root;
    dst->root = nref(src->root);
    nunref(old);
}

void model_clear(struct model *m)
{
    nunref(m->root);
    m->root = NULL;
}

/* t (borrowed) with kv put in (a new reference): path copying, so only
 * the nodes on the way down are new. */
static struct mnode *insert(struct mnode *t, struct mkv *kv)
{
    if (!t) return mk(kv, NULL, NULL);
    int c = model_key_cmp(kv->data, kv->klen, t->kv->data, t->kv->klen);
    if (c == 0) return mk(kv, nref(t->l), nref(t->r));
    if (kv->prio > t->kv->prio) {
        struct mnode *l, *r;
        split(t, kv->data, kv->klen, 0, &l, &r);
        return mk(kv, l, r); /* key is absent, so r holds only greater keys */
    }
    if (c < 0) return mk(t->kv, insert(t->l, kv), nref(t->r));
    return mk(t->kv, nref(t->l), insert(t->r, kv));
}

/* t (borrowed) without key (a new reference); *had set if it was there. */
static struct mnode *erase(struct mnode *t, const void *key, size_t klen, int *had)
{
    if (!t) return NULL;
    int c = ncmp(t, key, klen);
    if (c == 0) {
        *had = 1;
        return merge(t->l, t->r);
    }
    if (c > 0) return mk(t->kv, erase(t->l, key, klen, had), nref(t->r));
    return mk(t->kv, nref(t->l), erase(t->r, key, klen, had));
}

void model_put(struct model *m, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct mkv *kv = kv_new(key, klen, val, vlen);
    struct mnode *root = insert(m->root, kv);
    kv_unref(kv);
    nunref(m->root);
    m->root = root;
}

int model_delete(struct model *m, const void *key, size_t klen)
{
    if (!model_get(m, key, klen, NULL)) return 0;
    int had = 0;
    struct mnode *root = erase(m->root, key, klen, &had);
    nunref(m->root);
    m->root = root;
    return had;
}

size_t model_delete_range(struct model *m, const void *start, size_t slen, const void *end,
                          size_t elen)
{
    if (start && end && model_key_cmp(start, slen, end, elen) >= 0) return 0;
    struct mnode *l, *r, *mid, *rest;
    if (start) {
        split(m->root, start, slen, 0, &l, &r);
    } else {
        l = NULL;
        r = nref(m->root);
    }
    if (end) {
        split(r, end, elen, 0, &mid, &rest);
    } else {
        mid = nref(r);
        rest = NULL;
    }
    size_t gone = nsize(mid);
    struct mnode *root = gone ? merge(l, rest) : nref(m->root);
    nunref(l);
    nunref(r);
    nunref(mid);
    nunref(rest);
    nunref(m->root);
    m->root = root;
    return gone;
}

int model_get(const struct model *m, const void *key, size_t klen, struct model_entry *out)
{
    const struct mnode *t = m->root;
    while (t) {
        int c = ncmp(t, key, klen);
        if (c == 0) {
            fill(t, out);
            return 1;
        }
        t = c < 0 ? t->r : t->l;
    }
    return 0;
}

size_t model_count(const struct model *m)
{
    return nsize(m->root);
}

uint64_t model_bytes(const struct model *m)
{
    return nbytes(m->root);
}

/* dir > 0: smallest key >= (or > if strict) key; dir < 0: largest <= (<). */
static int find(const struct model *m, const void *key, size_t klen, int dir, int strict,
                struct model_entry *out)
{
    const struct mnode *t = m->root, *best = NULL;
    while (t) {
        int c = key ? ncmp(t, key, klen) : (dir > 0 ? 1 : -1);
        int ok = dir > 0 ? (strict ? c > 0 : c >= 0) : (strict ? c < 0 : c <= 0);
        if (ok) {
            best = t;
            t = dir > 0 ? t->l : t->r;
        } else {
            t = dir > 0 ? t->r : t->l;
        }
    }
    if (!best) return 0;
    fill(best, out);
    return 1;
}

int model_find_ge(const struct model *m, const void *key, size_t klen, struct model_entry *out)
{
    return find(m, key, klen, 1, 0, out);
}

int model_find_gt(const struct model *m, const void *key, size_t klen, struct model_entry *out)
{
    return find(m, key, klen, 1, 1, out);
}

int model_find_le(const struct model *m, const void *key, size_t klen, struct model_entry *out)
{
    return find(m, key, klen, -1, 0, out);
}

int model_find_lt(const struct model *m, const void *key, size_t klen, struct model_entry *out)
{
    return find(m, key, klen, -1, 1, out);
}

void model_nth(const struct model *m, size_t i, struct model_entry *out)
{
    const struct mnode *t = m->root;
    while (t) {
        size_t ls = nsize(t->l);
        if (i < ls) {
            t = t->l;
        } else if (i == ls) {
            fill(t, out);
            return;
        } else {
            i -= ls + 1;
            t = t->r;
        }
    }
    fprintf(stderr, "model_nth: index out of range\n");
    abort();
}

size_t model_rank(const struct model *m, const void *key, size_t klen)
{
    size_t r = 0;
    const struct mnode *t = m->root;
    while (t) {
        if (ncmp(t, key, klen) < 0) {
            r += nsize(t->l) + 1;
            t = t->r;
        } else {
            t = t->l;
        }
    }
    return r;
}

static int visit(const struct mnode *t, const void *start, size_t slen,
                 int (*fn)(void *arg, const struct model_entry *e), void *arg)
{
    while (t) {
        if (start && ncmp(t, start, slen) < 0) {
            t = t->r;
            continue;
        }
        int rc = visit(t->l, start, slen, fn, arg);
        if (rc) return rc;
        struct model_entry e;
        fill(t, &e);
        rc = fn(arg, &e);
        if (rc) return rc;
        t = t->r;
        start = NULL; /* everything right of a key >= start is >= start */
    }
    return 0;
}

int model_foreach(const struct model *m, const void *start, size_t slen,
                  int (*fn)(void *arg, const struct model_entry *e), void *arg)
{
    return visit(m->root, start, slen, fn, arg);
}

/* In-order cursor with an explicit stack. */
struct cursor {
    const struct mnode **st;
    size_t n, cap;
};

static void cursor_push_left(struct cursor *c, const struct mnode *t)
{
    for (; t; t = t->l) {
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 64;
            const struct mnode **st = realloc(c->st, c->cap * sizeof(*st));
            if (!st) abort();
            c->st = st;
        }
        c->st[c->n++] = t;
    }
}

static const struct mnode *cursor_next(struct cursor *c)
{
    if (!c->n) return NULL;
    const struct mnode *t = c->st[--c->n];
    cursor_push_left(c, t->r);
    return t;
}

int model_first_difference(const struct model *a, const struct model *b, const void **key,
                           size_t *klen)
{
    struct cursor ca = {0}, cb = {0};
    int diff = 0;
    if (a->root == b->root) goto out; /* shared: equal */
    cursor_push_left(&ca, a->root);
    cursor_push_left(&cb, b->root);
    for (;;) {
        const struct mnode *x = cursor_next(&ca), *y = cursor_next(&cb);
        if (!x && !y) break;
        const struct mnode *at;
        if (!x || !y) {
            at = x ? x : y;
        } else if (x->kv == y->kv) {
            continue;
        } else {
            int c = model_key_cmp(x->kv->data, x->kv->klen, y->kv->data, y->kv->klen);
            if (c == 0 && x->kv->vlen == y->kv->vlen &&
                (x->kv->vlen == 0 ||
                 memcmp(x->kv->data + x->kv->klen, y->kv->data + y->kv->klen, x->kv->vlen) == 0))
                continue;
            at = c <= 0 ? x : y;
        }
        diff = 1;
        if (key) *key = at->kv->data;
        if (klen) *klen = at->kv->klen;
        break;
    }
out:
    free(ca.st);
    free(cb.st);
    return diff;
}

int model_equal(const struct model *a, const struct model *b)
{
    return !model_first_difference(a, b, NULL, NULL);
}

/* ---- crash histories ---------------------------------------------------- */

enum hop_type { HOP_PUT, HOP_DELETE, HOP_RANGE };

struct hop {
    int type;
    int last;             /* ends a batch */
    size_t alen, blen;    /* key and value, or start and end */
    unsigned char *a, *b; /* one allocation: a then b */
};

struct model_history {
    struct model *base;
    struct hop *ops;
    size_t n, cap;
    size_t batches;
    int open; /* inside begin/end */
};

struct model_history *model_history_new(const struct model *base)
{
    struct model_history *h = xmalloc(sizeof(*h));
    memset(h, 0, sizeof(*h));
    h->base = model_copy(base);
    return h;
}

static void history_clear(struct model_history *h)
{
    for (size_t i = 0; i < h->n; i++) free(h->ops[i].a);
    h->n = 0;
    h->batches = 0;
}

void model_history_free(struct model_history *h)
{
    if (!h) return;
    history_clear(h);
    free(h->ops);
    model_free(h->base);
    free(h);
}

void model_history_sync(struct model_history *h, const struct model *now)
{
    history_clear(h);
    model_assign(h->base, now);
}

void model_history_begin(struct model_history *h)
{
    h->open = 1;
}

static void history_add(struct model_history *h, int type, const void *a, size_t alen,
                        const void *b, size_t blen)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 256;
        struct hop *ops = realloc(h->ops, h->cap * sizeof(*ops));
        if (!ops) abort();
        h->ops = ops;
    }
    struct hop *o = &h->ops[h->n++];
    o->type = type;
    o->last = !h->open; /* outside begin/end: a batch of one */
    o->alen = alen;
    o->blen = blen;
    o->a = xmalloc(alen + blen);
    o->b = o->a + alen;
    if (alen) memcpy(o->a, a, alen);
    if (blen) memcpy(o->b, b, blen);
    if (o->last) h->batches++;
}

void model_history_put(struct model_history *h, const void *key, size_t klen, const void *val,
                       size_t vlen)
{
    history_add(h, HOP_PUT, key, klen, val, vlen);
}

void model_history_delete(struct model_history *h, const void *key, size_t klen)
{
    history_add(h, HOP_DELETE, key, klen, NULL, 0);
}

void model_history_delete_range(struct model_history *h, const void *start, size_t slen,
                                const void *end, size_t elen)
{
    history_add(h, HOP_RANGE, start, slen, end, elen);
}

void model_history_end(struct model_history *h)
{
    h->open = 0;
    /* an empty batch changes nothing but still counts as one */
    if (h->n && !h->ops[h->n - 1].last) {
        h->ops[h->n - 1].last = 1;
        h->batches++;
    } else {
        history_add(h, HOP_RANGE, "", 0, "", 0); /* a no-op range */
    }
}

size_t model_history_pending(const struct model_history *h)
{
    return h->batches;
}

const struct model *model_history_base(const struct model_history *h)
{
    return h->base;
}

/* 1 if c and d disagree about key. */
static int differs(const struct model *c, const struct model *d, const void *key, size_t klen)
{
    struct model_entry x = {0}, y = {0};
    int hx = model_get(c, key, klen, &x), hy = model_get(d, key, klen, &y);
    if (hx != hy) return 1;
    if (!hx) return 0;
    return x.vlen != y.vlen || (x.vlen && memcmp(x.val, y.val, x.vlen) != 0);
}

struct count_arg {
    const struct model *other;
    size_t n;
};

static int count_missing(void *arg, const struct model_entry *e)
{
    struct count_arg *ca = arg;
    struct model_entry o;
    if (!model_get(ca->other, e->key, e->klen, &o) || o.vlen != e->vlen ||
        (e->vlen && memcmp(o.val, e->val, e->vlen) != 0))
        ca->n++;
    return 0;
}

static int count_absent(void *arg, const struct model_entry *e)
{
    struct count_arg *ca = arg;
    if (!model_get(ca->other, e->key, e->klen, NULL)) ca->n++;
    return 0;
}

static int collect_key(void *arg, const struct model_entry *e)
{
    struct model_entry *end = ((struct model_entry **)arg)[1];
    if (end && model_key_cmp(e->key, e->klen, end->key, end->klen) >= 0) return 1;
    model_put(((struct model **)arg)[0], e->key, e->klen, "", 0);
    return 0;
}

int model_history_match(const struct model_history *h, const struct model *actual,
                        struct model *out, size_t *prefix)
{
    struct model *c = model_copy(h->base);
    /* mismatches = keys where c and actual disagree, kept up to date as
     * each pending operation is applied to c */
    struct count_arg ca = {actual, 0};
    model_foreach(c, NULL, 0, count_missing, &ca);
    struct count_arg cb = {c, 0};
    model_foreach(actual, NULL, 0, count_absent, &cb);
    size_t mismatches = ca.n + cb.n, batch = 0;
    int found = mismatches == 0;
    size_t at = 0;
    for (size_t i = 0; i < h->n && !found; i++) {
        const struct hop *o = &h->ops[i];
        if (o->type == HOP_RANGE) {
            if (model_key_cmp(o->a, o->alen, o->b, o->blen) < 0) {
                struct model *keys = model_new();
                struct model_entry end = {o->b, o->blen, NULL, 0};
                void *arg[2] = {keys, &end};
                model_foreach(c, o->a, o->alen, collect_key, arg);
                for (size_t k = 0; k < model_count(keys); k++) {
                    struct model_entry e;
                    model_nth(keys, k, &e);
                    mismatches -= (size_t)differs(c, actual, e.key, e.klen);
                }
                model_delete_range(c, o->a, o->alen, o->b, o->blen);
                for (size_t k = 0; k < model_count(keys); k++) {
                    struct model_entry e;
                    model_nth(keys, k, &e);
                    mismatches += (size_t)differs(c, actual, e.key, e.klen);
                }
                model_free(keys);
            }
        } else {
            mismatches -= (size_t)differs(c, actual, o->a, o->alen);
            if (o->type == HOP_PUT)
                model_put(c, o->a, o->alen, o->b, o->blen);
            else
                model_delete(c, o->a, o->alen);
            mismatches += (size_t)differs(c, actual, o->a, o->alen);
        }
        if (o->last) {
            batch++;
            if (mismatches == 0) {
                found = 1;
                at = batch;
            }
        }
    }
    if (found) {
        if (out) model_assign(out, c);
        if (prefix) *prefix = at;
    }
    model_free(c);
    return found;
}
