/*
 * fuzz_batch.c — fuzz target: the bytes are a write batch as the WAL holds
 * it (sequence, count, records); validate it and insert it into a memtable
 * as recovery does, then read the memtable back. A malformed batch must be
 * refused whole (-LSMER_ECORRUPT) before anything is inserted, and
 * validation and insertion must agree on what is malformed.
 */
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "iterator.h"
#include "lsmer.h"
#include "memtable.h"
#include "fuzz.h"

static int count_record(void *arg, int type, struct slice key, struct slice value)
{
    (void)type, (void)key, (void)value;
    (*(size_t *)arg)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slice rep = slice_make(data, size);
    size_t records = 0;
    int valid = batch_iterate(rep, count_record, &records) == 0;
    struct memtable *m = memtable_new(size & 1 ? 4096 : 0);
    if (!m) return 0;
    int rc = size >= 12 ? memtable_apply_batch(m, rep) : -1;
    /* the same verdict both ways; a refused batch inserts nothing */
    if ((rc == 0) != valid && size >= 12) abort();
    if (rc != 0 && !memtable_empty(m)) abort();
    struct iter *it = memtable_iter(m);
    if (it) {
        size_t seen = 0;
        for (iter_seek_first(it); iter_valid(it); iter_next(it)) seen++;
        iter_destroy(it);
    }
    memtable_unref(m);
    /* a rep taken as a batch is kept byte for byte */
    lsmer_batch *b = lsmer_batch_new();
    if (b) {
        if (batch_from_rep(b, rep) == 0) {
            struct slice kept = batch_rep(b);
            if (kept.n != size || (size && memcmp(kept.p, data, size) != 0)) abort();
        }
        lsmer_batch_free(b);
    }
    return 0;
}

void fuzz_seed_inputs(fuzz_add_fn add, void *arg)
{
    lsmer_batch *b = lsmer_batch_new();
    if (!b) return;
    lsmer_batch_put(b, "key", 3, "value", 5);
    lsmer_batch_delete(b, "gone", 4);
    lsmer_batch_delete_range(b, "a", 1, "c", 1);
    lsmer_batch_put(b, "", 0, "", 0);
    batch_set_sequence(b, 42);
    struct slice rep = batch_rep(b);
    add(arg, rep.p, rep.n);
    lsmer_batch_clear(b);
    batch_set_sequence(b, 1);
    rep = batch_rep(b);
    add(arg, rep.p, rep.n);
    lsmer_batch_free(b);
}
