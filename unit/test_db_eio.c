/*
 * test_db_eio.c — a disk that fails with EIO for a while, then works again.
 *
 * The fault env makes appends and syncs fail with -EIO from a chosen call
 * on, and models what Linux does to a file whose fsync failed: its unsynced
 * pages are marked clean, so even a later successful fsync does not write
 * them and after a power loss they read as zeros. While the disk fails:
 *   - writes fail with -EIO (or the sticky error lsmer_get_stats reports);
 *   - reads return exactly the acknowledged data.
 * Once the disk works again the same handle recovers by itself (no
 * reopen): writes succeed within a few retry periods. Then a synced write
 * and a simulated power loss: everything acknowledged before must be there
 * (the engine may not rely on the log that failed), each failed write
 * wholly or not at all.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "env.h"
#include "env_fault.h"
#include "lsmer.h"
#include "doubt.h"
#include "model.h"
#include "testutil.h"

/* A fixture (doubt.h) with the database open; with LSMER_TEST_VERBOSE set
 * the engine logs its warnings and info lines too. */
static void t_init(struct doubt_db *x, const char *name, uint64_t seed)
{
    doubt_db_init(x, name, seed);
    if (getenv("LSMER_TEST_VERBOSE")) x->o.log_level += 2;
    doubt_db_open(x);
}

/* A write of 1-3 fresh keys (doubt.h), synced one time in four. */
static int fresh_write(struct doubt_db *x)
{
    return doubt_fresh_write(&x->d, x->db, &x->r, 4);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One trial: EIO from a random append or sync on, for good, during a busy
 * workload; then the disk comes back. */
static void one_trial(struct doubt_db *x, unsigned ops)
{
    for (int i = 0; i < 300; i++)
        if (fresh_write(x)) doubt_db_fail(x, "a write before the fault failed", -1);
    fault_env_fail(x->env, ops, rng_uniform(&x->r, 200), -EIO, 1);
    /* Until the fault hits (a sync-only fault waits for a synced write or
     * a flush), then a while longer. */
    int failed = 0, after = 0;
    for (int i = 0; i < 20000 && after < 200; i++) {
        int rc = fresh_write(x);
        if (rc) {
            doubt_db_check_error(x, rc, -EIO, "a write");
            failed = 1;
        }
        after += failed;
    }
    if (!failed) doubt_db_fail(x, "no write failed although the disk fails", 0);
    doubt_db_verify(x, "while the disk fails");

    /* The disk works again: the same handle must recover by itself. */
    fault_env_clear(x->env);
    double t0 = now_s();
    int rc;
    while ((rc = fresh_write(x)) != 0) {
        doubt_db_check_error(x, rc, -EIO, "a write");
        if (now_s() - t0 > 20)
            doubt_db_fail(x, "writes still fail 20 s after the disk came back", rc);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < 200; i++)
        if ((rc = fresh_write(x))) doubt_db_fail(x, "a write after recovery failed", rc);
    doubt_db_verify(x, "after recovery");
    if ((rc = lsmer_sync(x->db))) doubt_db_fail(x, "sync after recovery failed", rc);

    /* Power loss: everything acknowledged before the sync must be there. */
    fault_env_crash(x->env);
    lsmer_close(x->db);
    x->db = NULL;
    assert_int_equal(fault_env_restore(x->env), 0);
    rc = lsmer_open(x->dir, &x->o, &x->db);
    if (rc) doubt_db_fail(x, "reopen after the power loss failed", rc);
    doubt_db_verify(x, "after a power loss following recovery");
}

static void eio_in_wal(void **state)
{
    (void)state;
    uint64_t seed = test_seed("eio_in_wal");
    int trials = (int)(8 * test_scale());
    for (int trial = 0; trial < (trials ? trials : 1); trial++) {
        struct doubt_db x;
        t_init(&x, "eio_in_wal", seed + (uint64_t)trial);
        one_trial(&x, trial % 2 ? FAULT_SYNC : FAULT_APPEND | FAULT_SYNC);
        doubt_db_free(&x);
    }
}

/* Found in review: a log given up after EIO holds writes that are durable
 * only once its memtable reaches a table. Until then an lsmer_sync must not
 * succeed (it returned 0: the new log had nothing unsynced), and then a
 * power loss must not lose what was acknowledged before it. */
static void bug_sync_succeeds_while_abandoned_log_unflushed(void **state)
{
    (void)state;
    struct doubt_db x;
    t_init(&x, "bug_sync_succeeds_while_abandoned_log_unflushed", test_seed("abandoned_sync"));
    assert_int_equal(lsmer_put(x.db, "before", 6, "v", 1), 0);
    /* every file sync fails: the WAL's, and the flush's table syncs */
    fault_env_fail(x.env, FAULT_SYNC, 0, -EIO, 1);
    assert_int_equal(lsmer_sync(x.db), -EIO);
    /* Once a retry is due, the next write gives the log up (and is itself
     * refused until the log's memtable is flushed, which cannot happen while
     * syncs fail). Nothing can become durable meanwhile, so no sync may
     * succeed, before or after the log is given up. */
    double t0 = now_s();
    int rc;
    while (now_s() - t0 < 1.0) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        (void)lsmer_put(x.db, "later", 5, "v", 1);
        if (lsmer_sync(x.db) == 0)
            doubt_db_fail(&x, "lsmer_sync succeeded while nothing could be made durable", 0);
    }
    fault_env_clear(x.env);
    t0 = now_s();
    while ((rc = lsmer_sync(x.db)) != 0) {
        if (now_s() - t0 > 20)
            doubt_db_fail(&x, "sync still fails 20 s after the disk came back", rc);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fault_env_crash(x.env);
    lsmer_close(x.db);
    x.db = NULL;
    assert_int_equal(fault_env_restore(x.env), 0);
    assert_int_equal(lsmer_open(x.dir, &x.o, &x.db), 0);
    lsmer_buf b = {0};
    if (lsmer_get(x.db, NULL, "before", 6, &b) != 0)
        doubt_db_fail(&x, "a write acknowledged before a successful sync was lost", 0);
    lsmer_buf_free(&b);
    doubt_db_free(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eio_in_wal),
        cmocka_unit_test(bug_sync_succeeds_while_abandoned_log_unflushed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
