/* doubt.c — acknowledged and in-doubt writes; see doubt.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "doubt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "env_fault.h"

void doubt_init(struct doubt_log *d)
{
    memset(d, 0, sizeof(*d));
    d->acked = model_new();
}

void doubt_free(struct doubt_log *d)
{
    for (int i = 0; i < d->nfailed; i++) model_free(d->failed[i]);
    free(d->failed);
    model_free(d->acked);
    memset(d, 0, sizeof(*d));
}

int doubt_fresh_write(struct doubt_log *d, lsmer_db *db, struct rng *r, uint64_t sync_one_in)
{
    lsmer_batch *b = lsmer_batch_new();
    if (!b) abort();
    struct model *bm = model_new();
    int n = 1 + (int)rng_uniform(r, 3);
    for (int i = 0; i < n; i++) {
        char k[32];
        unsigned char v[300];
        size_t kn = (size_t)snprintf(k, sizeof(k), "f%08llu", (unsigned long long)d->fresh++);
        size_t vn = 1 + (size_t)rng_uniform(r, sizeof(v) - 1);
        rng_bytes(r, v, vn);
        if (lsmer_batch_put(b, k, kn, v, vn)) abort();
        model_put(bm, k, kn, v, vn);
    }
    int rc = lsmer_write(db, b, rng_one_in(r, sync_one_in) ? LSMER_SYNC : 0);
    lsmer_batch_free(b);
    if (rc == 0) {
        for (size_t i = 0; i < model_count(bm); i++) {
            struct model_entry e;
            model_nth(bm, i, &e);
            model_put(d->acked, e.key, e.klen, e.val, e.vlen);
        }
        model_free(bm);
        return 0;
    }
    if (d->nfailed == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 64;
        d->failed = realloc(d->failed, (size_t)d->cap * sizeof(*d->failed));
        if (!d->failed) abort();
    }
    d->failed[d->nfailed++] = bm;
    return rc;
}

int doubt_check(struct doubt_log *d, lsmer_db *db, const char *who, const char *when)
{
    struct model *actual = model_new();
    int rc = model_db_load(db, NULL, actual);
    if (rc) {
        fprintf(stderr, "%s: %s: scan failed: %d (%s)\n", who, when, rc, lsmer_strerror(rc));
        model_free(actual);
        return rc;
    }
    struct model *expect = model_copy(d->acked);
    for (int i = 0; i < d->nfailed; i++) {
        struct model_entry e;
        model_nth(d->failed[i], 0, &e);
        if (!model_get(actual, e.key, e.klen, NULL)) continue;
        for (size_t j = 0; j < model_count(d->failed[i]); j++) {
            model_nth(d->failed[i], j, &e);
            model_put(expect, e.key, e.klen, e.val, e.vlen);
        }
    }
    const void *k;
    size_t kn;
    if (model_first_difference(expect, actual, &k, &kn)) {
        fprintf(stderr,
                "%s: %s: acknowledged data lost, or a failed write half applied; first "
                "difference at ",
                who, when);
        model_print_key(stderr, k, kn);
        fprintf(stderr, " (expected %zu keys, found %zu)\n", model_count(expect),
                model_count(actual));
        rc = -1;
    }
    /* and by point lookups, which take another path */
    lsmer_buf b = {0};
    for (size_t i = 0; rc == 0 && i < model_count(expect); i += 1 + i % 7) {
        struct model_entry e;
        model_nth(expect, i, &e);
        int grc = lsmer_get(db, NULL, e.key, e.klen, &b);
        if (grc || b.size != e.vlen || memcmp(b.data, e.val, e.vlen) != 0) {
            fprintf(stderr, "%s: %s: a get returned wrong data (rc %d) at ", who, when, grc);
            model_print_key(stderr, e.key, e.klen);
            fprintf(stderr, "\n");
            rc = grc ? grc : -1;
        }
    }
    lsmer_buf_free(&b);
    model_free(expect);
    model_free(actual);
    return rc;
}

void doubt_db_init(struct doubt_db *x, const char *name, uint64_t seed)
{
    memset(x, 0, sizeof(*x));
    x->name = name;
    x->seed = seed;
    rng_init(&x->r, seed);
    x->dir = test_tmpdir(name);
    x->env = fault_env_new(env_posix_default());
    assert_non_null(x->env);
    lsmer_options_init(&x->o);
    x->o.env = x->env;
    x->o.log_level = LSMER_LOG_ERROR;
    x->o.memtable_size = 64 << 10;
    x->o.target_file_size = 64 << 10;
    x->o.level1_size = 256 << 10;
    doubt_init(&x->d);
}

void doubt_db_open(struct doubt_db *x)
{
    assert_int_equal(lsmer_open(x->dir, &x->o, &x->db), 0);
}

void doubt_db_free(struct doubt_db *x)
{
    lsmer_close(x->db);
    fault_env_free(x->env);
    doubt_free(&x->d);
    test_rmtree(x->dir);
    free(x->dir);
}

void doubt_db_fail(struct doubt_db *x, const char *what, int rc)
{
    fprintf(stderr, "FAILED %s (seed %llu): %s (rc %d: %s)\n  database left in %s\n", x->name,
            (unsigned long long)x->seed, what, rc, lsmer_strerror(rc), x->dir);
    fail();
}

void doubt_db_check_error(struct doubt_db *x, int rc, int want, const char *what)
{
    if (rc == want) return;
    lsmer_stats st;
    int bg = lsmer_get_stats(x->db, &st) == 0 ? st.background_error : 0;
    if (bg && rc == bg) return;
    char msg[160];
    snprintf(msg, sizeof(msg), "%s failed with an unexpected error (background error %d)", what,
             bg);
    doubt_db_fail(x, msg, rc);
}

void doubt_db_verify(struct doubt_db *x, const char *when)
{
    int rc = doubt_check(&x->d, x->db, x->name, when);
    if (rc)
        doubt_db_fail(x, "acknowledged data lost, or a failed write half applied",
                      rc == -1 ? 0 : rc);
}
