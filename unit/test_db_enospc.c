/*
 * test_db_enospc.c — a full disk loses nothing that was acknowledged.
 *
 * The fault env makes appends and syncs fail with -ENOSPC (sticky: until
 * fault_env_clear) starting at a chosen call, so the failure lands in a
 * foreground WAL write, in a flush, in a compaction, or (in the random
 * trials) wherever it falls. While space is gone:
 *   - every write fails with -ENOSPC or with the sticky background error
 *     lsmer_get_stats reports, and once one has failed, all later ones do;
 *   - reads keep working and return exactly the acknowledged data.
 * After fault_env_clear() and a reopen, everything acknowledged is there.
 * A write that failed is in doubt (its WAL record may have reached the
 * disk), so each failed write uses keys nobody else writes and must be
 * wholly present or wholly absent — never half a batch. Whether the same
 * handle recovers without a reopen is engine policy (lsmer.h promises
 * only that the error is sticky); the test only requires that a write
 * after the clear either succeeds or fails with the sticky error.
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
#include "doubt.h"
#include "model.h"
#include "testutil.h"

/* A fixture (doubt.h) with the database open: memtable bytes, and an L0
 * compaction trigger unless 0. */
static void t_init(struct doubt_db *x, const char *name, uint64_t seed, size_t memtable,
                   int l0_trigger)
{
    doubt_db_init(x, name, seed);
    x->o.memtable_size = memtable;
    if (l0_trigger) x->o.l0_compaction_trigger = l0_trigger;
    doubt_db_open(x);
}

/* Base data: overwrites, deletes and range deletes over a small key space. */
static void write_base(struct doubt_db *x, int n)
{
    char k[32], e[32];
    unsigned char v[400];
    for (int i = 0; i < n; i++) {
        size_t kn = (size_t)snprintf(k, sizeof(k), "b%05u", (unsigned)rng_uniform(&x->r, 3000));
        uint64_t t = rng_uniform(&x->r, 30);
        int rc;
        if (t == 0) {
            size_t en = (size_t)snprintf(e, sizeof(e), "b%05u", (unsigned)rng_uniform(&x->r, 3000));
            if (model_key_cmp(k, kn, e, en) >= 0) continue;
            rc = lsmer_delete_range(x->db, k, kn, e, en);
            model_delete_range(x->d.acked, k, kn, e, en);
        } else if (t < 4) {
            rc = lsmer_delete(x->db, k, kn);
            model_delete(x->d.acked, k, kn);
        } else {
            size_t vn = (size_t)rng_uniform(&x->r, sizeof(v));
            rng_bytes(&x->r, v, vn);
            rc = lsmer_put(x->db, k, kn, v, vn);
            model_put(x->d.acked, k, kn, v, vn);
        }
        if (rc) doubt_db_fail(x, "a write before any fault failed", rc);
    }
}

/* One write of 1-3 fresh keys (doubt.h), synced one time in five. Once a
 * write has failed with expect_fail set, a later success is an error. */
static int fresh_write(struct doubt_db *x, int expect_fail)
{
    int failed_before = x->d.nfailed > 0; /* the log holds each failed write */
    int rc = doubt_fresh_write(&x->d, x->db, &x->r, 5);
    if (rc == 0 && failed_before && expect_fail)
        doubt_db_fail(x, "a write succeeded after an earlier one failed for want of space", 0);
    return rc;
}

/* The fault is gone: the same handle either works or returns the sticky
 * error; after a reopen everything acknowledged is there and writes work. */
static void recover(struct doubt_db *x)
{
    fault_env_clear(x->env);
    int rc = fresh_write(x, 0);
    if (rc) doubt_db_check_error(x, rc, -ENOSPC, "a write after the space came back");
    lsmer_close(x->db);
    x->db = NULL;
    rc = lsmer_open(x->dir, &x->o, &x->db);
    if (rc) doubt_db_fail(x, "reopen after the space came back failed", rc);
    doubt_db_verify(x, "after reopen");
    rc = fresh_write(x, 0);
    if (rc) doubt_db_fail(x, "a write after reopen failed", rc);
    if ((rc = lsmer_flush(x->db))) doubt_db_fail(x, "flush after reopen failed", rc);
    if ((rc = lsmer_compact_range(x->db, NULL)))
        doubt_db_fail(x, "compaction after reopen failed", rc);
    doubt_db_verify(x, "after reopen, flush and compaction");
    lsmer_close(x->db);
    assert_int_equal(lsmer_open(x->dir, &x->o, &x->db), 0);
    doubt_db_verify(x, "after a second reopen");
}

static void full_during_writes(void **state)
{
    (void)state;
    uint64_t seed = test_seed("full_during_writes");
    int trials = UNDER_ASAN ? 4 : 10;
    for (int trial = 0; trial < trials; trial++) {
        struct doubt_db x;
        t_init(&x, "full_during_writes", seed + (uint64_t)trial, 64 << 10, 0);
        write_base(&x, 2000);
        fault_env_fail(x.env, FAULT_APPEND | FAULT_SYNC, rng_uniform(&x.r, 60), -ENOSPC, 1);
        for (int i = 0; i < 200; i++) {
            int rc = fresh_write(&x, 1);
            if (rc) doubt_db_check_error(&x, rc, -ENOSPC, "write");
        }
        if (x.d.nfailed == 0) doubt_db_fail(&x, "no write failed although appends fail", 0);
        doubt_db_verify(&x, "while the disk is full");
        recover(&x);
        doubt_db_free(&x);
    }
}

static void full_during_flush(void **state)
{
    (void)state;
    uint64_t seed = test_seed("full_during_flush");
    int trials = UNDER_ASAN ? 3 : 8;
    for (int trial = 0; trial < trials; trial++) {
        struct doubt_db x;
        t_init(&x, "full_during_flush", seed + (uint64_t)trial, 4 << 20, 0);
        write_base(&x, 3000); /* stays in the memtable */
        assert_int_equal(lsmer_flush(x.db), 0);
        write_base(&x, 2000);
        /* a flush makes only a few appends (tables are written in large pieces):
         * fail one of its first ones */
        fault_env_fail(x.env, FAULT_APPEND | FAULT_SYNC, rng_uniform(&x.r, 3), -ENOSPC, 1);
        int rc = lsmer_flush(x.db);
        if (rc == 0) doubt_db_fail(&x, "flush succeeded although appends fail", 0);
        doubt_db_check_error(&x, rc, -ENOSPC, "flush");
        doubt_db_verify(&x, "after the failed flush");
        for (int i = 0; i < 20; i++) {
            rc = fresh_write(&x, 1);
            if (rc) doubt_db_check_error(&x, rc, -ENOSPC, "write after a failed flush");
        }
        doubt_db_verify(&x, "after writes following the failed flush");
        recover(&x);
        doubt_db_free(&x);
    }
}

static void full_during_compaction(void **state)
{
    (void)state;
    uint64_t seed = test_seed("full_during_compaction");
    int trials = UNDER_ASAN ? 3 : 8;
    for (int trial = 0; trial < trials; trial++) {
        struct doubt_db x;
        t_init(&x, "full_during_compaction", seed + (uint64_t)trial, 4 << 20, 0);
        assert_int_equal(lsmer_set_compaction_threshold(x.db, 16.0), 0);
        for (int i = 0; i < 5; i++) { /* several overlapping tables */
            write_base(&x, 800);
            assert_int_equal(lsmer_flush(x.db), 0);
        }
        assert_int_equal(lsmer_wait_idle(x.db), 0);
        fault_env_fail(x.env, FAULT_APPEND | FAULT_SYNC, rng_uniform(&x.r, 4), -ENOSPC, 1);
        int rc = lsmer_compact_range(x.db, NULL);
        if (rc == 0) doubt_db_fail(&x, "compaction succeeded although appends fail", 0);
        doubt_db_check_error(&x, rc, -ENOSPC, "compact_range");
        doubt_db_verify(&x, "after the failed compaction");
        for (int i = 0; i < 20; i++) {
            rc = fresh_write(&x, 1);
            if (rc) doubt_db_check_error(&x, rc, -ENOSPC, "write after a failed compaction");
        }
        doubt_db_verify(&x, "after writes following the failed compaction");
        recover(&x);
        doubt_db_free(&x);
    }
}

/* The disk fills at a random point of a busy workload with a small
 * memtable: the fault lands in the WAL, a flush, a compaction or the
 * manifest, in the foreground or in the background. */
static void full_at_random_points(void **state)
{
    (void)state;
    uint64_t seed = test_seed("full_at_random_points");
    int trials = (int)((UNDER_ASAN ? 6 : 20) * test_scale());
    for (int trial = 0; trial < trials; trial++) {
        struct doubt_db x;
        t_init(&x, "full_at_random_points", seed + (uint64_t)trial, 32 << 10, 2);
        write_base(&x, 500);
        int sticky = !rng_one_in(&x.r, 3);
        fault_env_fail(x.env, FAULT_APPEND | FAULT_SYNC, rng_uniform(&x.r, 3000), -ENOSPC, sticky);
        for (int i = 0; i < 2500; i++) {
            int rc = fresh_write(&x, sticky);
            if (rc) doubt_db_check_error(&x, rc, -ENOSPC, "write");
            if (rng_one_in(&x.r, 200)) lsmer_sync(x.db);
        }
        doubt_db_verify(&x, "after the workload");
        recover(&x);
        doubt_db_free(&x);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_during_writes),
        cmocka_unit_test(full_during_flush),
        cmocka_unit_test(full_during_compaction),
        cmocka_unit_test(full_at_random_points),
    };
    /* LSMER_TEST_FILTER=pattern runs only the matching tests (cmocka's * and ?) */
    const char *filter = getenv("LSMER_TEST_FILTER");
    if (filter) cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
