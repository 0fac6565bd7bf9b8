/*
 * test_db_model.c — randomized model-based test of the whole engine.
 *
 * One seeded random workload runs against the database and against an
 * in-memory model (unit/util/model.h) at the same time: puts, deletes,
 * range deletes, multi-operation batches, gets, bounded scans forwards and
 * backwards from random points, snapshots held across many writes (checked
 * against a copy of the model taken with them), clean reopens, and
 * simulated power losses through the fault env. Every read is compared with
 * the model at once. After a clean reopen the database must equal the
 * model; after a simulated crash it must equal the state at the last sync
 * point plus some prefix of the batches acknowledged since
 * (model_history_match).
 *
 * Tiny memtables, level sizes and files make flushes and multi-level
 * compactions happen every few hundred operations; each round draws its own
 * options (compaction threshold, compression, bloom bits, block size, cache
 * size). The total is at least 1,000,000 operations per run (scaled by
 * LSMER_TEST_SCALE; a tenth under AddressSanitizer). On a mismatch the test
 * prints the seed, round, operation index and key: rerun with LSMER_SEED.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsmer.h"
#include "env.h"
#include "env_fault.h"
#include "model.h"
#include "testutil.h"

#define TOTAL_OPS 1000000.0
#define ROUNDS 4
#define MAX_SNAPS 3
#define MAX_KEY_BUF 160
#define MAX_VAL 8192

struct snap {
    const lsmer_snapshot *s;
    struct model *m;
};

struct ctx {
    uint64_t seed;
    int round;
    uint64_t op; /* index of the current operation in this round */
    struct rng r;
    char *dir;
    struct lsmer_env *env;
    lsmer_options o;
    lsmer_db *db;
    struct model *m;
    struct model_history *h;
    struct snap snaps[MAX_SNAPS];
    int nsnaps;
    uint32_t keyspace;
    unsigned char val[MAX_VAL + 16];
    /* counters for the summary */
    uint64_t n_write, n_read, n_scan, n_reopen, n_crash, n_snap, n_sync;
};

/* ---- failure reporting -------------------------------------------------- */

static void die(struct ctx *c, const void *key, size_t klen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void die(struct ctx *c, const void *key, size_t klen, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "MISMATCH seed %llu round %d op %llu: ", (unsigned long long)c->seed, c->round,
            (unsigned long long)c->op);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (key) {
        fprintf(stderr, " key ");
        model_print_key(stderr, key, klen);
    }
    fprintf(stderr, "\n  (database left in %s; rerun with LSMER_SEED=%llu)\n", c->dir,
            (unsigned long long)c->seed);
    fail();
}

static void check_rc(struct ctx *c, int rc, const char *what)
{
    if (rc) die(c, NULL, 0, "%s returned %d (%s)", what, rc, lsmer_strerror(rc));
}

/* ---- keys and values ---------------------------------------------------- */

/* Key number i: 'K' + big-endian i, then for some i a tail that holds zero
 * bytes or makes the key long. Keys sort in the order of i. */
static size_t make_key(uint32_t i, unsigned char *buf)
{
    size_t n = 0;
    buf[n++] = 'K';
    buf[n++] = (unsigned char)(i >> 24);
    buf[n++] = (unsigned char)(i >> 16);
    buf[n++] = (unsigned char)(i >> 8);
    buf[n++] = (unsigned char)i;
    if (i % 5 == 0) {
        for (uint32_t j = 0; j < i % 7; j++) buf[n++] = (unsigned char)(j * (i % 3));
    } else if (i % 11 == 0) {
        memset(buf + n, 'L', 100);
        n += 100;
    }
    return n;
}

static size_t random_key(struct ctx *c, unsigned char *buf)
{
    return make_key((uint32_t)rng_uniform(&c->r, c->keyspace), buf);
}

/* A range bound: key i, or a string just before or just after it (between
 * keys: a prefix of its tail, or the key plus one byte). */
static size_t random_bound(struct ctx *c, uint32_t i, unsigned char *buf)
{
    size_t n = make_key(i, buf);
    if (rng_one_in(&c->r, 3)) {
        if (n > 5 && rng_one_in(&c->r, 2))
            n = 5 + (size_t)rng_uniform(&c->r, n - 5);
        else
            buf[n++] = rng_one_in(&c->r, 2) ? 0x00 : 0xff;
    }
    return n;
}

static size_t random_value(struct ctx *c)
{
    uint64_t p = rng_uniform(&c->r, 100);
    size_t n = p < 70   ? rng_uniform(&c->r, 65)
               : p < 96 ? 64 + rng_uniform(&c->r, 450)
                        : 512 + rng_uniform(&c->r, MAX_VAL - 511);
    /* the first bytes name the operation, so every write is distinct */
    uint64_t tag = c->op ^ ((uint64_t)c->round << 56);
    memcpy(c->val, &tag, 8);
    rng_bytes(&c->r, c->val + 8, n);
    return n;
}

/* ---- the model side of every write, with optional tracing --------------
 * LSMER_TRACE_KEY=<hex bytes> prints every operation that touches that key
 * (and every reopen, crash, flush and compaction): the way to minimise a
 * mismatch the test reports. */

static unsigned char g_trace[MAX_KEY_BUF];
static size_t g_trace_len;
static int g_tracing;

static void trace_init(void)
{
    const char *h = getenv("LSMER_TRACE_KEY");
    g_tracing = 0;
    if (!h) return;
    g_trace_len = 0;
    for (; h[0] && h[1] && g_trace_len < MAX_KEY_BUF; h += 2) {
        unsigned v;
        if (sscanf(h, "%2x", &v) != 1) break;
        g_trace[g_trace_len++] = (unsigned char)v;
    }
    g_tracing = 1;
}

static void trace_event(struct ctx *c, const char *what)
{
    if (g_tracing)
        fprintf(stderr, "trace: round %d op %llu: %s\n", c->round, (unsigned long long)c->op, what);
}

static void trace_write(struct ctx *c, const char *what, const void *k, size_t kn, const void *e,
                        size_t en, size_t vn)
{
    if (!g_tracing) return;
    if (e ? model_key_cmp(g_trace, g_trace_len, k, kn) < 0 ||
                model_key_cmp(g_trace, g_trace_len, e, en) >= 0
          : model_key_cmp(g_trace, g_trace_len, k, kn) != 0)
        return;
    fprintf(stderr, "trace: round %d op %llu: %s", c->round, (unsigned long long)c->op, what);
    if (e) {
        fprintf(stderr, " [");
        model_print_key(stderr, k, kn);
        fprintf(stderr, ", ");
        model_print_key(stderr, e, en);
        fprintf(stderr, ")");
    } else if (!strcmp(what, "put") || !strcmp(what, "batch put")) {
        fprintf(stderr, " (%zu bytes)", vn);
    }
    fprintf(stderr, "\n");
}

static void m_put(struct ctx *c, const char *what, const void *k, size_t kn, const void *v,
                  size_t vn)
{
    model_put(c->m, k, kn, v, vn);
    model_history_put(c->h, k, kn, v, vn);
    trace_write(c, what, k, kn, NULL, 0, vn);
}

static void m_delete(struct ctx *c, const char *what, const void *k, size_t kn)
{
    model_delete(c->m, k, kn);
    model_history_delete(c->h, k, kn);
    trace_write(c, what, k, kn, NULL, 0, 0);
}

static void m_delete_range(struct ctx *c, const char *what, const void *s, size_t sn, const void *e,
                           size_t en)
{
    model_delete_range(c->m, s, sn, e, en);
    model_history_delete_range(c->h, s, sn, e, en);
    trace_write(c, what, s, sn, e, en, 0);
}

/* ---- open, close, crash ------------------------------------------------- */

static void release_snaps(struct ctx *c)
{
    for (int i = 0; i < c->nsnaps; i++) {
        lsmer_snapshot_release(c->db, c->snaps[i].s);
        model_free(c->snaps[i].m);
    }
    c->nsnaps = 0;
}

static void db_open(struct ctx *c)
{
    c->db = NULL;
    int rc = lsmer_open(c->dir, &c->o, &c->db);
    check_rc(c, rc, "lsmer_open");
}

static void full_check(struct ctx *c, const char *what)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "seed %llu round %d op %llu %s", (unsigned long long)c->seed,
             c->round, (unsigned long long)c->op, what);
    if (model_db_check(c->db, NULL, NULL, c->m, buf) != 0)
        die(c, NULL, 0, "%s: database differs from the model", what);
}

static void do_reopen(struct ctx *c)
{
    trace_event(c, "reopen");
    release_snaps(c);
    lsmer_close(c->db);
    db_open(c);
    model_history_sync(c->h, c->m); /* a clean close syncs everything */
    full_check(c, "after reopen");
    c->n_reopen++;
}

static void do_crash(struct ctx *c)
{
    trace_event(c, "crash");
    release_snaps(c);
    fault_env_crash(c->env);
    lsmer_close(c->db);
    check_rc(c, fault_env_restore(c->env), "fault_env_restore");
    db_open(c);
    struct model *actual = model_new();
    check_rc(c, model_db_load(c->db, NULL, actual), "scan after crash");
    size_t prefix = 0;
    if (!model_history_match(c->h, actual, c->m, &prefix)) {
        const void *k;
        size_t kn;
        if (model_first_difference(model_history_base(c->h), actual, &k, &kn)) {
            fprintf(stderr, "first difference from the last synced state at key ");
            model_print_key(stderr, k, kn);
            fprintf(stderr, "\n");
        }
        die(c, NULL, 0,
            "after a crash the database is not the synced state plus a prefix of the %zu "
            "batches since (%zu keys in db, %zu in the synced model)",
            model_history_pending(c->h), model_count(actual),
            model_count(model_history_base(c->h)));
    }
    if (g_tracing)
        fprintf(stderr, "trace: crash recovered %zu of the %zu batches since the last sync\n",
                prefix, model_history_pending(c->h));
    model_free(actual);
    model_history_sync(c->h, c->m); /* reopened state is durable now */
    c->n_crash++;
}

/* ---- writes ------------------------------------------------------------- */

static void after_write(struct ctx *c, int rc, unsigned flags, const char *what)
{
    check_rc(c, rc, what);
    c->n_write++;
    if (flags & LSMER_SYNC) {
        model_history_sync(c->h, c->m);
        c->n_sync++;
    }
}

static unsigned random_flags(struct ctx *c)
{
    return rng_one_in(&c->r, 100) ? LSMER_SYNC : 0;
}

static void op_put(struct ctx *c)
{
    unsigned char k[MAX_KEY_BUF];
    size_t kn = random_key(c, k), vn = random_value(c);
    unsigned flags = random_flags(c);
    int rc;
    if (flags) {
        lsmer_batch *b = lsmer_batch_new();
        assert_non_null(b);
        assert_int_equal(lsmer_batch_put(b, k, kn, c->val, vn), 0);
        rc = lsmer_write(c->db, b, flags);
        lsmer_batch_free(b);
    } else {
        rc = lsmer_put(c->db, k, kn, c->val, vn);
    }
    m_put(c, "put", k, kn, c->val, vn);
    after_write(c, rc, flags, "put");
}

static void op_delete(struct ctx *c)
{
    unsigned char k[MAX_KEY_BUF];
    size_t kn;
    if (model_count(c->m) && rng_one_in(&c->r, 2)) {
        struct model_entry e;
        model_nth(c->m, (size_t)rng_uniform(&c->r, model_count(c->m)), &e);
        kn = e.klen;
        memcpy(k, e.key, kn);
    } else {
        kn = random_key(c, k);
    }
    int rc = lsmer_delete(c->db, k, kn);
    m_delete(c, "delete", k, kn);
    after_write(c, rc, 0, "delete");
}

static void range_bounds(struct ctx *c, unsigned char *s, size_t *sn, unsigned char *e, size_t *en)
{
    uint32_t a = (uint32_t)rng_uniform(&c->r, c->keyspace);
    uint32_t span = rng_one_in(&c->r, 50) ? (uint32_t)rng_uniform(&c->r, 1000)
                                          : (uint32_t)rng_uniform(&c->r, 20);
    *sn = random_bound(c, a, s);
    *en = random_bound(c, a + span, e);
}

static void op_delete_range(struct ctx *c)
{
    unsigned char s[MAX_KEY_BUF], e[MAX_KEY_BUF];
    size_t sn, en;
    range_bounds(c, s, &sn, e, &en);
    if (model_key_cmp(s, sn, e, en) >= 0) return; /* empty: skip (policy not in lsmer.h) */
    int rc = lsmer_delete_range(c->db, s, sn, e, en);
    m_delete_range(c, "delete_range", s, sn, e, en);
    after_write(c, rc, 0, "delete_range");
}

static void op_batch(struct ctx *c)
{
    lsmer_batch *b = lsmer_batch_new();
    assert_non_null(b);
    int n = 1 + (int)rng_uniform(&c->r, 16);
    model_history_begin(c->h);
    for (int i = 0; i < n; i++) {
        unsigned char k[MAX_KEY_BUF], e[MAX_KEY_BUF];
        size_t kn, en;
        uint64_t t = rng_uniform(&c->r, 40);
        if (t < 28) {
            kn = random_key(c, k);
            size_t vn = random_value(c);
            assert_int_equal(lsmer_batch_put(b, k, kn, c->val, vn), 0);
            m_put(c, "batch put", k, kn, c->val, vn);
        } else if (t < 39) {
            kn = random_key(c, k);
            assert_int_equal(lsmer_batch_delete(b, k, kn), 0);
            m_delete(c, "batch delete", k, kn);
        } else {
            range_bounds(c, k, &kn, e, &en);
            if (model_key_cmp(k, kn, e, en) >= 0) continue;
            assert_int_equal(lsmer_batch_delete_range(b, k, kn, e, en), 0);
            m_delete_range(c, "batch delete_range", k, kn, e, en);
        }
    }
    model_history_end(c->h);
    unsigned flags = rng_one_in(&c->r, 50) ? LSMER_SYNC : 0;
    int rc = lsmer_write(c->db, b, flags);
    lsmer_batch_free(b);
    after_write(c, rc, flags, "write(batch)");
}

/* ---- reads -------------------------------------------------------------- */

/* A random live snapshot (or NULL = latest) and its model. */
static const lsmer_snapshot *pick_view(struct ctx *c, const struct model **m)
{
    if (c->nsnaps && rng_one_in(&c->r, 4)) {
        struct snap *s = &c->snaps[rng_uniform(&c->r, (uint64_t)c->nsnaps)];
        *m = s->m;
        return s->s;
    }
    *m = c->m;
    return NULL;
}

static void op_get(struct ctx *c)
{
    const struct model *m;
    const lsmer_snapshot *s = pick_view(c, &m);
    unsigned char k[MAX_KEY_BUF];
    size_t kn;
    if (model_count(m) && rng_one_in(&c->r, 2)) {
        struct model_entry e;
        model_nth(m, (size_t)rng_uniform(&c->r, model_count(m)), &e);
        kn = e.klen;
        memcpy(k, e.key, kn);
    } else {
        kn = random_key(c, k);
    }
    lsmer_buf b = {0};
    int rc = lsmer_get(c->db, s, k, kn, &b);
    struct model_entry e;
    int have = model_get(m, k, kn, &e);
    if (have && rc != 0)
        die(c, k, kn, "get%s returned %d, expected a value", s ? "(snap)" : "", rc);
    if (!have && rc != -ENOENT)
        die(c, k, kn, "get%s returned %d, expected -ENOENT", s ? "(snap)" : "", rc);
    if (have && (b.size != e.vlen || (e.vlen && memcmp(b.data, e.val, e.vlen) != 0)))
        die(c, k, kn, "get%s returned a wrong value (%zu bytes, expected %zu)", s ? "(snap)" : "",
            b.size, e.vlen);
    lsmer_buf_free(&b);
    c->n_read++;
}

static int in_bounds(const lsmer_range *r, const void *k, size_t kn)
{
    if (r->start && model_key_cmp(k, kn, r->start, r->start_len) < 0) return 0;
    if (r->end && model_key_cmp(k, kn, r->end, r->end_len) >= 0) return 0;
    return 1;
}

static void expect_pos(struct ctx *c, lsmer_iter *it, int have, const struct model_entry *e,
                       const char *how)
{
    if (!have) {
        if (lsmer_iter_valid(it)) {
            size_t kn;
            const void *k = lsmer_iter_key(it, &kn);
            die(c, k, kn, "scan (%s): iterator valid, model says end", how);
        }
        if (lsmer_iter_status(it))
            die(c, NULL, 0, "scan (%s): status %d", how, lsmer_iter_status(it));
        return;
    }
    if (!lsmer_iter_valid(it))
        die(c, e->key, e->klen, "scan (%s): iterator ended (status %d), model has", how,
            lsmer_iter_status(it));
    size_t kn, vn;
    const void *k = lsmer_iter_key(it, &kn), *v;
    if (model_key_cmp(k, kn, e->key, e->klen) != 0) {
        fprintf(stderr, "model expects ");
        model_print_key(stderr, e->key, e->klen);
        fprintf(stderr, "\n");
        die(c, k, kn, "scan (%s): iterator at wrong key", how);
    }
    int rc = lsmer_iter_value(it, &v, &vn);
    if (rc || vn != e->vlen || (vn && memcmp(v, e->val, vn) != 0))
        die(c, k, kn, "scan (%s): wrong value (rc %d, %zu bytes, expected %zu)", how, rc, vn,
            e->vlen);
}

static void op_scan(struct ctx *c)
{
    const struct model *m;
    const lsmer_snapshot *s = pick_view(c, &m);
    unsigned char lo[MAX_KEY_BUF], hi[MAX_KEY_BUF], k[MAX_KEY_BUF];
    size_t lon = 0, hin = 0;
    lsmer_range r = {NULL, 0, NULL, 0};
    if (rng_one_in(&c->r, 2)) {
        uint32_t a = (uint32_t)rng_uniform(&c->r, c->keyspace);
        uint32_t span = (uint32_t)rng_uniform(&c->r, 200);
        lon = random_bound(c, a, lo);
        hin = random_bound(c, a + span, hi);
        if (!rng_one_in(&c->r, 4)) {
            r.start = lo;
            r.start_len = lon;
        }
        if (!rng_one_in(&c->r, 4)) {
            r.end = hi;
            r.end_len = hin;
        }
    }
    lsmer_iter *it = NULL;
    check_rc(c, lsmer_iter_open(c->db, s, r.start || r.end ? &r : NULL, &it), "iter_open");
    struct model_entry e;
    int have;
    int back;
    uint64_t how = rng_uniform(&c->r, 4);
    size_t kn = random_key(c, k);
    if (rng_one_in(&c->r, 3)) kn = 1 + (size_t)rng_uniform(&c->r, kn); /* between keys */
    const char *name;
    if (how == 0) {
        lsmer_iter_seek_first(it);
        have = model_find_ge(m, r.start, r.start_len, &e);
        back = 0;
        name = "seek_first";
    } else if (how == 1) {
        lsmer_iter_seek_last(it);
        have = model_find_lt(m, r.end, r.end_len, &e);
        back = 1;
        name = "seek_last";
    } else if (how == 2) {
        lsmer_iter_seek(it, k, kn);
        if (r.start && model_key_cmp(k, kn, r.start, r.start_len) < 0)
            have = model_find_ge(m, r.start, r.start_len, &e);
        else
            have = model_find_ge(m, k, kn, &e);
        back = 0;
        name = "seek";
    } else {
        lsmer_iter_seek_for_prev(it, k, kn);
        if (r.end && model_key_cmp(k, kn, r.end, r.end_len) >= 0)
            have = model_find_lt(m, r.end, r.end_len, &e);
        else
            have = model_find_le(m, k, kn, &e);
        back = 1;
        name = "seek_for_prev";
    }
    if (have && !in_bounds(&r, e.key, e.klen)) have = 0;
    expect_pos(c, it, have, &e, name);
    int steps = (int)rng_uniform(&c->r, 40);
    for (int i = 0; i < steps && have; i++) {
        if (rng_one_in(&c->r, 10)) back = !back;
        if (back) {
            lsmer_iter_prev(it);
            have = model_find_lt(m, e.key, e.klen, &e);
        } else {
            lsmer_iter_next(it);
            have = model_find_gt(m, e.key, e.klen, &e);
        }
        if (have && !in_bounds(&r, e.key, e.klen)) have = 0;
        expect_pos(c, it, have, &e, back ? "prev" : "next");
    }
    lsmer_iter_close(it);
    c->n_scan++;
}

/* Takes a snapshot, or checks and releases one. */
static void op_snapshot(struct ctx *c)
{
    if (c->nsnaps < MAX_SNAPS && !rng_one_in(&c->r, 3)) {
        const lsmer_snapshot *s = lsmer_snapshot_new(c->db);
        if (!s) die(c, NULL, 0, "lsmer_snapshot_new failed");
        c->snaps[c->nsnaps].s = s;
        c->snaps[c->nsnaps].m = model_copy(c->m);
        c->nsnaps++;
    } else if (c->nsnaps) {
        int i = (int)rng_uniform(&c->r, (uint64_t)c->nsnaps);
        struct snap *sn = &c->snaps[i];
        /* a bounded stretch of the key space, both ways */
        unsigned char lo[MAX_KEY_BUF], hi[MAX_KEY_BUF];
        uint32_t a = (uint32_t)rng_uniform(&c->r, c->keyspace);
        lsmer_range r = {lo, make_key(a, lo), hi, make_key(a + 500, hi)};
        char what[96];
        snprintf(what, sizeof(what), "seed %llu round %d op %llu snapshot",
                 (unsigned long long)c->seed, c->round, (unsigned long long)c->op);
        if (model_db_check(c->db, sn->s, &r, sn->m, what) != 0)
            die(c, NULL, 0, "snapshot scan differs from the model copied with it");
        lsmer_snapshot_release(c->db, sn->s);
        model_free(sn->m);
        c->snaps[i] = c->snaps[--c->nsnaps];
    }
    c->n_snap++;
}

static void op_maintenance(struct ctx *c)
{
    uint64_t t = rng_uniform(&c->r, 5);
    if (t == 0) {
        trace_event(c, "flush");
        check_rc(c, lsmer_flush(c->db), "flush");
    } else if (t == 1) {
        unsigned char lo[MAX_KEY_BUF], hi[MAX_KEY_BUF];
        uint32_t a = (uint32_t)rng_uniform(&c->r, c->keyspace);
        lsmer_range r = {lo, make_key(a, lo), hi, make_key(a + c->keyspace / 4, hi)};
        const lsmer_range *rp = rng_one_in(&c->r, 4) ? NULL : &r;
        if (rng_one_in(&c->r, 2)) {
            /* Tables dropped or rewritten by tombstones of other tables. */
            trace_event(c, "reclaim_range");
            check_rc(c, lsmer_reclaim_range(c->db, rp), "reclaim_range");
        } else {
            trace_event(c, "compact_range");
            check_rc(c, lsmer_compact_range(c->db, rp), "compact_range");
        }
    } else if (t == 2) {
        static const double th[] = {0.25, 0.5, 1.0, 1.5, 3.0};
        check_rc(c, lsmer_set_compaction_threshold(c->db, th[rng_uniform(&c->r, 5)]),
                 "set_compaction_threshold");
    } else if (t == 3) {
        check_rc(c, lsmer_wait_idle(c->db), "wait_idle");
        lsmer_stats st;
        check_rc(c, lsmer_get_stats(c->db, &st), "get_stats");
        if (st.background_error) die(c, NULL, 0, "background error %d", st.background_error);
        if ((uint64_t)c->nsnaps != st.live_snapshots)
            die(c, NULL, 0, "stats: %llu live snapshots, expected %d",
                (unsigned long long)st.live_snapshots, c->nsnaps);
    } else {
        check_rc(c, lsmer_sync(c->db), "sync");
        model_history_sync(c->h, c->m);
        c->n_sync++;
    }
}

/* ---- the loop ----------------------------------------------------------- */

/* A table partition for the model's keys ('K' + big-endian number): a
 * new table whenever the number's group of 1 << shift keys changes, so
 * flushes write several level-0 tables and range tombstones are clipped
 * at the cuts. */
static int partition_shift;
static int model_partition(void *arg, const void *prev, size_t prev_len, const void *key,
                           size_t key_len)
{
    (void)arg;
    const unsigned char *a = prev, *b = key;
    if (prev_len < 5 || key_len < 5) return 0;
    uint32_t x = (uint32_t)a[1] << 24 | (uint32_t)a[2] << 16 | (uint32_t)a[3] << 8 | a[4];
    uint32_t y = (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4];
    return (x >> partition_shift) != (y >> partition_shift);
}

static void pick_options(struct ctx *c)
{
    lsmer_options *o = &c->o;
    lsmer_options_init(o);
    o->log_level = LSMER_LOG_WARN;
    o->env = c->env;
    static const size_t mem[] = {32 << 10, 64 << 10, 128 << 10, 256 << 10};
    o->memtable_size = mem[rng_uniform(&c->r, 4)];
    o->target_file_size = (size_t)(32 << 10) << rng_uniform(&c->r, 3);
    o->level1_size = (uint64_t)(128 << 10) << rng_uniform(&c->r, 3);
    o->level_multiplier = 2 + (int)rng_uniform(&c->r, 4);
    o->l0_compaction_trigger = 2 + (int)rng_uniform(&c->r, 3);
    static const double th[] = {0.3, 0.7, 1.0, 2.0};
    o->compaction_threshold = th[rng_uniform(&c->r, 4)];
    o->zstd_level = (int)rng_uniform(&c->r, 2);
    static const int bloom[] = {0, 4, 10};
    o->bloom_bits_per_key = bloom[rng_uniform(&c->r, 3)];
    if (rng_one_in(&c->r, 3))
        for (int i = 0; i < LSMER_MAX_LEVELS; i++) o->bloom_bits_per_level[i] = i > 2 ? 2 : -1;
    static const size_t blk[] = {256, 1024, 4096};
    o->block_size = blk[rng_uniform(&c->r, 3)];
    o->block_cache_size = (size_t)(64 << 10) << rng_uniform(&c->r, 5);
    o->max_open_files = rng_one_in(&c->r, 2) ? 16 : 1000;
    partition_shift = rng_one_in(&c->r, 2) ? 9 + 2 * (int)rng_uniform(&c->r, 3) : 0;
    if (partition_shift) o->table_partition = model_partition;
    fprintf(stderr,
            "round %d: memtable %zu, file %zu, L1 %llu x%d, L0 trigger %d, threshold %.2f, "
            "zstd %d, bloom %d, block %zu, cache %zu, max files %d, partition %d\n",
            c->round, o->memtable_size, o->target_file_size, (unsigned long long)o->level1_size,
            o->level_multiplier, o->l0_compaction_trigger, o->compaction_threshold, o->zstd_level,
            o->bloom_bits_per_key, o->block_size, o->block_cache_size, o->max_open_files,
            partition_shift);
}

static void run_round(uint64_t seed, int round, uint64_t ops)
{
    struct ctx *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->seed = seed;
    c->round = round;
    rng_init(&c->r, seed + (uint64_t)round * 0x1000193);
    c->dir = test_tmpdir("model");
    c->env = fault_env_new(env_posix_default());
    assert_non_null(c->env);
    c->keyspace = 2000 + (uint32_t)rng_uniform(&c->r, 20000);
    pick_options(c);
    c->m = model_new();
    c->h = model_history_new(c->m);
    db_open(c);
    uint64_t reopen_every = 4000 + rng_uniform(&c->r, 8000);
    uint64_t crash_every = 4000 + rng_uniform(&c->r, 8000);
    for (c->op = 0; c->op < ops; c->op++) {
        uint64_t p = rng_uniform(&c->r, 1000);
        if (p < 300)
            op_put(c);
        else if (p < 380)
            op_delete(c);
        else if (p < 392)
            op_delete_range(c);
        else if (p < 470)
            op_batch(c);
        else if (p < 800)
            op_get(c);
        else if (p < 900)
            op_scan(c);
        else if (p < 905)
            op_snapshot(c);
        else if (p < 906)
            op_maintenance(c);
        else
            op_get(c);
        /* bound the crash history: sync when it grows long */
        if (model_history_pending(c->h) > 3000) {
            check_rc(c, lsmer_sync(c->db), "sync");
            model_history_sync(c->h, c->m);
        }
        if (rng_one_in(&c->r, reopen_every)) do_reopen(c);
        if (rng_one_in(&c->r, crash_every)) do_crash(c);
    }
    do_crash(c); /* always at least one */
    full_check(c, "at the end");
    do_reopen(c);
    lsmer_stats st;
    check_rc(c, lsmer_get_stats(c->db, &st), "get_stats");
    fprintf(stderr,
            "round %d: %llu ops (%llu writes, %llu gets, %llu scans, %llu snapshot ops, %llu "
            "syncs), %llu reopens, %llu crashes; %zu keys; %llu flushes, %llu compactions\n",
            round, (unsigned long long)ops, (unsigned long long)c->n_write,
            (unsigned long long)c->n_read, (unsigned long long)c->n_scan,
            (unsigned long long)c->n_snap, (unsigned long long)c->n_sync,
            (unsigned long long)c->n_reopen, (unsigned long long)c->n_crash, model_count(c->m),
            (unsigned long long)st.flushes, (unsigned long long)st.compactions);
    lsmer_close(c->db);
    fault_env_free(c->env);
    model_history_free(c->h);
    model_free(c->m);
    test_rmtree(c->dir);
    free(c->dir);
    free(c);
}

static void model_random(void **state)
{
    (void)state;
    uint64_t seed = test_seed("test_db_model");
    trace_init();
    double total = TOTAL_OPS * test_scale() / (UNDER_ASAN ? 10 : 1);
    for (int round = 0; round < ROUNDS; round++) run_round(seed, round, (uint64_t)(total / ROUNDS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(model_random),
    };
    /* LSMER_TEST_FILTER=pattern runs only the matching tests (cmocka's * and ?) */
    const char *filter = getenv("LSMER_TEST_FILTER");
    if (filter) cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
