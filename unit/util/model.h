/*
 * model.h — an in-memory ordered map of byte-string keys to byte-string
 * values, the reference a test checks a database (or a filesystem) against.
 *
 * Keys order like the engine's: memcmp, the shorter key first on a tie.
 * Operations: put, delete, delete_range [start, end), get, ordered lookups
 * (first key >=, >, <=, < a given key), the n-th key (to pick a random
 * existing key), equality, and copy.
 *
 * Representation: a persistent (path-copying) treap whose nodes are
 * immutable and reference-counted, so model_copy() is O(1) and a copy taken
 * for a snapshot costs nothing until one side changes; every change is
 * O(log n) expected. Priorities are a hash of the key, so the shape (and
 * so the cost) of a run is reproducible.
 *
 * Ownership: model_put() copies key and value. Pointers handed out in a
 * struct model_entry stay valid until the next change of that model
 * (copies are independent: changing one never invalidates the other's).
 *
 * Thread safety: a model is not locked; use each one from one thread at a
 * time. Copies share nodes through atomic reference counts, so different
 * copies may be used (and freed) from different threads.
 *
 * Every function that allocates aborts the process on out-of-memory: this
 * is test code, and a test cannot go on without its model.
 */
#ifndef LSMER_TEST_MODEL_H
#define LSMER_TEST_MODEL_H

#include <stddef.h>
#include <stdint.h>

struct model;

struct model_entry {
    const void *key;
    size_t klen;
    const void *val;
    size_t vlen;
};

struct model *model_new(void);
void model_free(struct model *m); /* NULL is a no-op */
/* An independent copy, O(1). */
struct model *model_copy(const struct model *m);
/* Makes dst hold exactly what src holds (O(1)). */
void model_assign(struct model *dst, const struct model *src);

/* memcmp order, shorter first on a tie: <0, 0, >0. */
int model_key_cmp(const void *a, size_t an, const void *b, size_t bn);

void model_put(struct model *m, const void *key, size_t klen, const void *val, size_t vlen);
/* Returns 1 if the key was there. */
int model_delete(struct model *m, const void *key, size_t klen);
/* Deletes every key k with start <= k < end (nothing if end <= start); a
 * NULL start or end is unbounded. Returns how many keys went. */
size_t model_delete_range(struct model *m, const void *start, size_t slen, const void *end,
                          size_t elen);
void model_clear(struct model *m);

/* 1 and *out filled if present, else 0. out may be NULL. */
int model_get(const struct model *m, const void *key, size_t klen, struct model_entry *out);
size_t model_count(const struct model *m);
/* Sum of key and value lengths. */
uint64_t model_bytes(const struct model *m);

/* Ordered lookups: 1 and *out filled, or 0 if there is no such key.
 * A NULL key means "before the first" for ge/gt and "after the last" for
 * le/lt, so model_find_ge(m, NULL, 0, &e) is the first entry and
 * model_find_le(m, NULL, 0, &e) the last. */
int model_find_ge(const struct model *m, const void *key, size_t klen, struct model_entry *out);
int model_find_gt(const struct model *m, const void *key, size_t klen, struct model_entry *out);
int model_find_le(const struct model *m, const void *key, size_t klen, struct model_entry *out);
int model_find_lt(const struct model *m, const void *key, size_t klen, struct model_entry *out);

/* The i-th entry in key order, 0 <= i < model_count(m). */
void model_nth(const struct model *m, size_t i, struct model_entry *out);
/* How many keys are < key (the index model_find_ge would land on). */
size_t model_rank(const struct model *m, const void *key, size_t klen);

/* Calls fn on each entry with key >= start (NULL: from the first) in
 * order until fn returns non-zero, which is then returned; else 0. */
int model_foreach(const struct model *m, const void *start, size_t slen,
                  int (*fn)(void *arg, const struct model_entry *e), void *arg);

/* 1 if a and b hold the same keys with the same values. */
int model_equal(const struct model *a, const struct model *b);
/* The first key (in order) where a and b differ: 1 and *key, *klen set (a
 * pointer into a or b, valid until either changes), or 0 if equal. */
int model_first_difference(const struct model *a, const struct model *b, const void **key,
                           size_t *klen);

/* ---- crash histories ------------------------------------------------------
 * After a simulated crash a database must equal its state at the last sync
 * plus SOME prefix of the atomic operations (batches) acknowledged since.
 * A model_history keeps that state and the list of batches since; a test
 * records every acknowledged write in it, calls model_history_sync() at
 * each sync point, and after a crash asks model_history_match() whether
 * what the database holds is one of the allowed states. */
struct model_history;

/* Starts with base (copied) as the durable state and no pending batches. */
struct model_history *model_history_new(const struct model *base);
void model_history_free(struct model_history *h);
/* Everything acknowledged so far is durable: now (copied) becomes the base
 * and the pending list empties. */
void model_history_sync(struct model_history *h, const struct model *now);
/* Records one atomic batch of operations, in order, between begin and end.
 * A single put is a batch of one. */
void model_history_begin(struct model_history *h);
void model_history_put(struct model_history *h, const void *key, size_t klen, const void *val,
                       size_t vlen);
void model_history_delete(struct model_history *h, const void *key, size_t klen);
void model_history_delete_range(struct model_history *h, const void *start, size_t slen,
                                const void *end, size_t elen);
void model_history_end(struct model_history *h);
/* Batches recorded since the last sync point. */
size_t model_history_pending(const struct model_history *h);
/* 1 if actual equals base plus the first j pending batches for some j
 * (0 <= j <= pending); then *out (if not NULL) is assigned that state and
 * *prefix (if not NULL) is j. 0 if no prefix matches. Cost: one pass over
 * both models plus the keys the pending batches touch. */
int model_history_match(const struct model_history *h, const struct model *actual,
                        struct model *out, size_t *prefix);
/* The durable base state (valid until the next sync). */
const struct model *model_history_base(const struct model_history *h);

/* ---- checking an lsmer database against a model ------------------------
 * Defined only where lsmer.h is included before this header, so the model
 * itself stays independent of the engine (and links without it). */
#ifdef LSMER_H
#include <stdio.h>
#include <string.h>

/* Prints a key as text with \xNN escapes, cut at 48 bytes. */
static inline void model_print_key(FILE *f, const void *key, size_t klen)
{
    const unsigned char *p = key;
    size_t n = klen < 48 ? klen : 48;
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
            fputc(p[i], f);
        else
            fprintf(f, "\\x%02x", p[i]);
    }
    fprintf(f, "\"%s (%zu bytes)", klen > n ? "..." : "", klen);
}

/* Replaces out's contents by everything db holds as of snap (NULL =
 * now). 0, or the error that stopped the scan. */
static inline int model_db_load(lsmer_db *db, const lsmer_snapshot *snap, struct model *out)
{
    lsmer_iter *it = NULL;
    model_clear(out);
    int rc = lsmer_iter_open(db, snap, NULL, &it);
    if (rc) return rc;
    for (lsmer_iter_seek_first(it); lsmer_iter_valid(it); lsmer_iter_next(it)) {
        size_t kn, vn;
        const void *k = lsmer_iter_key(it, &kn), *v;
        rc = lsmer_iter_value(it, &v, &vn);
        if (rc) break;
        model_put(out, k, kn, v, vn);
    }
    if (!rc) rc = lsmer_iter_status(it);
    lsmer_iter_close(it);
    return rc;
}

static inline int model_db_in_range_(const lsmer_range *r, const struct model_entry *e)
{
    if (!r) return 1;
    if (r->start && model_key_cmp(e->key, e->klen, r->start, r->start_len) < 0) return 0;
    if (r->end && model_key_cmp(e->key, e->klen, r->end, r->end_len) >= 0) return 0;
    return 1;
}

static inline int model_db_mismatch_(const char *what, const char *dir, const void *key,
                                     size_t klen, const char *why)
{
    fprintf(stderr, "%s: %s scan: %s at key ", what, dir, why);
    if (key)
        model_print_key(stderr, key, klen);
    else
        fprintf(stderr, "(end)");
    fputc('\n', stderr);
    return -1;
}

/* Scans r (NULL = all) of db as of snap forwards and backwards and
 * compares every entry with m (which holds the expected contents of the
 * whole key space). 0 if equal; otherwise prints the first difference,
 * prefixed by what, and returns -1. */
static inline int model_db_check(lsmer_db *db, const lsmer_snapshot *snap, const lsmer_range *r,
                                 const struct model *m, const char *what)
{
    lsmer_iter *it = NULL;
    int rc = lsmer_iter_open(db, snap, r, &it);
    if (rc) {
        fprintf(stderr, "%s: lsmer_iter_open: %d\n", what, rc);
        return -1;
    }
    for (int back = 0; back < 2 && !rc; back++) {
        const char *dir = back ? "backward" : "forward";
        struct model_entry e;
        int have = back ? model_find_lt(m, r ? r->end : NULL, r ? r->end_len : 0, &e)
                        : model_find_ge(m, r ? r->start : NULL, r ? r->start_len : 0, &e);
        if (have && !model_db_in_range_(r, &e)) have = 0;
        if (back)
            lsmer_iter_seek_last(it);
        else
            lsmer_iter_seek_first(it);
        for (; lsmer_iter_valid(it); back ? lsmer_iter_prev(it) : lsmer_iter_next(it)) {
            size_t kn, vn;
            const void *k = lsmer_iter_key(it, &kn), *v;
            if (!have) {
                rc = model_db_mismatch_(what, dir, k, kn, "unexpected extra key");
                break;
            }
            if (model_key_cmp(k, kn, e.key, e.klen) != 0) {
                int c = model_key_cmp(k, kn, e.key, e.klen);
                rc = model_db_mismatch_(
                    what, dir, (c < 0) != back ? k : e.key, (c < 0) != back ? kn : e.klen,
                    (c < 0) != back ? "key in db, not in model" : "key in model, missing from db");
                break;
            }
            int vrc = lsmer_iter_value(it, &v, &vn);
            if (vrc || vn != e.vlen || (vn && memcmp(v, e.val, vn) != 0)) {
                rc = model_db_mismatch_(what, dir, k, kn, vrc ? "value error" : "wrong value");
                break;
            }
            have = back ? model_find_lt(m, e.key, e.klen, &e) : model_find_gt(m, e.key, e.klen, &e);
            if (have && !model_db_in_range_(r, &e)) have = 0;
        }
        if (rc) break;
        if (lsmer_iter_status(it)) {
            fprintf(stderr, "%s: %s scan: iterator status %d\n", what, dir, lsmer_iter_status(it));
            rc = -1;
        } else if (have) {
            rc = model_db_mismatch_(what, dir, e.key, e.klen, "scan ended early, missing");
        }
    }
    lsmer_iter_close(it);
    return rc;
}
#endif /* LSMER_H */

#endif
