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
 * Thread safety: none; one test thread uses a doubt_log.
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

#endif
