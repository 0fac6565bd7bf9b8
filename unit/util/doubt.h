/*
 * doubt.h — what a database must hold after writes, some of which failed.
 *
 * A test that injects IO errors (test_db_enospc, test_db_eio) writes
 * batches of fresh keys (no key is written twice): an acknowledged batch
 * goes into the model of what must be there; a failed one is in doubt (its
 * WAL record may have reached the disk) and must be there wholly or not at
 * all, never in part. doubt_check() compares the database with that rule,
 * by a full scan and by point lookups.
 *
 * struct doubt_db is such a test's fixture: a database on a fault env
 * (env_fault.h) in a scratch directory, with the doubt_log of what was
 * written to it. Its checks fail the test (cmocka) with the test's name,
 * seed and directory, which is then left for inspection.
 *
 * Thread safety: none; one test thread uses a doubt_log or a doubt_db.
 */
#ifndef LSMER_TEST_DOUBT_H
#define LSMER_TEST_DOUBT_H

#include <stdint.h>

#include "lsmer.h"
#include "model.h"
#include "testutil.h"

struct doubt_log {
    struct model *acked;   /* acknowledged writes (and whatever else the test adds) */
    struct model **failed; /* one model per failed batch */
    int nfailed, cap;
    uint64_t fresh; /* counter behind the fresh keys "f%08llu" */
};

void doubt_init(struct doubt_log *d);
void doubt_free(struct doubt_log *d);

/* Writes a batch of 1-3 fresh keys with random values, with LSMER_SYNC one
 * time in sync_one_in, and records it as acknowledged or in doubt. Returns
 * lsmer_write's result. */
int doubt_fresh_write(struct doubt_log *d, lsmer_db *db, struct rng *r, uint64_t sync_one_in);

/* 0 when db holds exactly the acknowledged data plus each failed batch
 * wholly or not at all; otherwise prints the first difference (prefixed by
 * who and when) and returns -1 (a difference) or the scan/get error. */
int doubt_check(struct doubt_log *d, lsmer_db *db, const char *who, const char *when);

struct doubt_db {
    const char *name; /* the test's, in messages */
    uint64_t seed;
    struct rng r; /* seeded with seed */
    char *dir;
    struct lsmer_env *env; /* a fault env over the POSIX one */
    lsmer_options o;       /* db was opened with these (to reopen it) */
    lsmer_db *db;
    struct doubt_log d;
};

/* Sets x up for the test name: the rng, a scratch directory, the fault
 * env, and options for many small files (64 KiB memtable and tables, 256
 * KiB level 1) logging errors only, which the caller may change before
 * doubt_db_open(). */
void doubt_db_init(struct doubt_db *x, const char *name, uint64_t seed);
/* Opens x->db in x->dir with x->o; a failure fails the test. */
void doubt_db_open(struct doubt_db *x);
/* Closes the database, frees the env and the log, removes the directory. */
void doubt_db_free(struct doubt_db *x);

/* Prints "FAILED name (seed N): what (rc ...)" and where the database was
 * left, and fails the test. */
void doubt_db_fail(struct doubt_db *x, const char *what, int rc);
/* A write's error while the disk fails with want must be want itself or
 * the sticky background error lsmer_get_stats reports; any other fails the
 * test, naming what failed. */
void doubt_db_check_error(struct doubt_db *x, int rc, int want, const char *what);
/* doubt_check() of x->db; a difference fails the test. */
void doubt_db_verify(struct doubt_db *x, const char *when);

#endif
