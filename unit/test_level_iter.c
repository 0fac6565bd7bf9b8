/*
 * test_level_iter.c — the level iterator over fake files: each file is an
 * array iterator (arr_iter.h) over sorted internal keys, opened through the
 * test's open_file, which counts opens and live iterators. Levels are cut
 * at random points, with files whose key range reaches past their entries
 * and files with no entries at all (as tombstone-only tables are). Random
 * walks (seek_first, seek_last, seek to random internal keys, next, prev)
 * are checked against the concatenation of the arrays; at most one file may
 * be open at a time and none before the first positioning. A file that
 * fails to open stops the walk right there with its error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arr_iter.h"
#include "dbformat.h"
#include "filemeta.h"
#include "iterator.h"
#include "level_iter.h"
#include "testutil.h"

/* An internal key: 2-byte big-endian user key + trailer. */
struct ent {
    uint8_t k[2 + IKEY_TRAILER];
};

static struct slice ent_key(const void *entry)
{
    const struct ent *e = entry;
    return slice_make(e->k, sizeof(e->k));
}

/* A table's value does not matter here: the key stands in for it. */
static const struct arr_iter_type ent_type = {
    .entry_size = sizeof(struct ent),
    .key = ent_key,
    .value = ent_key,
    .cmp = ikey_compare,
};

static void ent_make(struct ent *e, unsigned ukey, uint64_t seq, int type)
{
    uint8_t u[2] = {(uint8_t)(ukey >> 8), (uint8_t)ukey};
    ikey_write(e->k, u, 2, seq, type);
}

/* ---- a fake level -------------------------------------------------------- */

struct fake_file {
    struct ent *e;
    long n;
    int bad; /* open fails with -EIO */
};

struct fake_level {
    struct fake_file *ff;
    struct file_meta **metas;
    size_t nfiles;
    struct ent *all; /* every entry in order: the model */
    long nall;
    int opens, released;
    int made, destroyed; /* file iterators (arr_iter.h) made and destroyed */
};

/* File iterators open right now. */
static int live_files(const struct fake_level *lv)
{
    return lv->made - lv->destroyed;
}

static struct iter *fake_open(void *arg, const struct file_meta *f)
{
    struct fake_level *lv = arg;
    assert_int_equal(live_files(lv), 0); /* one file at a time */
    lv->opens++;
    struct fake_file *ff = &lv->ff[f->number];
    if (ff->bad) return iter_new_empty(-EIO);
    lv->made++;
    return arr_iter_new(&ent_type, ff->e, ff->n, -1, &lv->destroyed);
}

static void fake_release(void *arg)
{
    ((struct fake_level *)arg)->released++;
}

/* User keys are multiples of 4 (1-3 versions each); a file's range may
 * reach up to 2 past its last entry, and an empty file sits on the odd
 * keys in between, so ranges never overlap. */
static void fake_level_make(struct rng *r, struct fake_level *lv, int allow_bad)
{
    memset(lv, 0, sizeof(*lv));
    size_t cap = 4096;
    lv->all = calloc(cap, sizeof(struct ent));
    uint64_t seq = 1000000;
    for (unsigned u = 0; u < 400 && (size_t)lv->nall + 4 < cap; u += 4) {
        if (!rng_one_in(r, 3)) continue;
        int versions = 1 + (int)rng_uniform(r, 3);
        for (int v = 0; v < versions; v++)
            ent_make(&lv->all[lv->nall++], u, seq - (uint64_t)v * 7, (int)rng_uniform(r, 2));
        seq -= 100;
    }
    lv->ff = calloc(lv->nall + 64, sizeof(*lv->ff));
    lv->metas = calloc(lv->nall + 64, sizeof(*lv->metas));
    long i = 0;
    while (i < lv->nall || (lv->nfiles == 0 && rng_one_in(r, 4))) {
        struct fake_file *f = &lv->ff[lv->nfiles];
        struct ent lo, hi;
        if (rng_one_in(r, 5)) {
            /* empty file on odd keys just before entry i (or past the end) */
            unsigned base = i < lv->nall ? (unsigned)(lv->all[i].k[0] << 8 | lv->all[i].k[1]) : 500;
            if (base < 4) goto full;
            ent_make(&lo, base - 3, 5, TYPE_RANGE_DELETE);
            ent_make(&hi, base - 1, SEQ_MAX, TYPE_SEEK);
            if (lv->nfiles > 0 &&
                ikey_compare(file_meta_largest(lv->metas[lv->nfiles - 1]), ent_key(&lo)) >= 0)
                goto full;
            f->e = NULL;
            f->n = 0;
        } else {
        full:
            if (i >= lv->nall) break;
            long take = 1 + (long)rng_uniform(r, 8);
            if (take > lv->nall - i) take = lv->nall - i;
            f->e = &lv->all[i];
            f->n = take;
            lo = lv->all[i];
            hi = lv->all[i + take - 1];
            /* reach past the last entry, unless the next file starts with
             * more versions of the same user key */
            if (rng_one_in(r, 3) &&
                (i + take >= lv->nall || memcmp(lv->all[i + take].k, hi.k, 2))) {
                unsigned u = (unsigned)(hi.k[0] << 8 | hi.k[1]);
                ent_make(&hi, u + 1 + (unsigned)rng_uniform(r, 2), SEQ_MAX, TYPE_SEEK);
            }
            i += take;
        }
        f->bad = allow_bad && rng_one_in(r, 6);
        struct file_meta *m = file_meta_new();
        assert_non_null(m);
        m->number = lv->nfiles;
        assert_int_equal(file_meta_set_keys(m, ent_key(&lo), ent_key(&hi)), 0);
        lv->metas[lv->nfiles++] = m;
    }
}

static void fake_level_free(struct fake_level *lv)
{
    for (size_t i = 0; i < lv->nfiles; i++) file_meta_unref(lv->metas[i]);
    free(lv->metas);
    free(lv->ff);
    free(lv->all);
}

static void check_at(struct iter *it, const struct fake_level *lv, long pos)
{
    assert_int_equal(iter_status(it), 0);
    assert_true(live_files(lv) <= 1);
    if (pos < 0 || pos >= lv->nall) {
        assert_false(iter_valid(it));
        return;
    }
    assert_true(iter_valid(it));
    struct slice k = iter_key(it);
    assert_int_equal(k.n, sizeof(lv->all[pos].k));
    assert_memory_equal(k.p, lv->all[pos].k, k.n);
}

static void random_walks(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("level_iter"));
    int rounds = (int)(1000 * test_scale());
    for (int round = 0; round < rounds; round++) {
        struct fake_level lv;
        fake_level_make(&r, &lv, 0);
        struct iter *it = level_iter_new(lv.metas, lv.nfiles, fake_open, &lv, fake_release);
        assert_int_equal(lv.opens, 0); /* lazy */
        long pos = -1;
        for (int s = 0; s < 300; s++) {
            int op = (int)rng_uniform(&r, 10);
            if (pos < 0 || pos >= lv.nall) op = (int)rng_uniform(&r, 3);
            if (op == 0) {
                iter_seek_first(it);
                pos = 0;
            } else if (op == 1) {
                iter_seek_last(it);
                pos = lv.nall - 1;
            } else if (op == 2) {
                struct ent t;
                int type = (int)rng_uniform(&r, 3);
                ent_make(&t, (unsigned)rng_uniform(&r, 520), rng_uniform(&r, 1000100), type);
                iter_seek(it, ent_key(&t));
                pos = 0;
                while (pos < lv.nall && ikey_compare(ent_key(&lv.all[pos]), ent_key(&t)) < 0) pos++;
            } else if (op < 6) {
                iter_next(it);
                pos++;
            } else {
                iter_prev(it);
                pos--;
            }
            check_at(it, &lv, pos);
        }
        iter_destroy(it);
        assert_int_equal(live_files(&lv), 0);
        assert_int_equal(lv.released, 1);
        fake_level_free(&lv);
    }
}

/* A full forward scan opens each file once, and a backward scan too. */
static void scans_open_each_file_once(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("level_iter_scan"));
    for (int round = 0; round < 100; round++) {
        struct fake_level lv;
        fake_level_make(&r, &lv, 0);
        struct iter *it = level_iter_new(lv.metas, lv.nfiles, fake_open, &lv, fake_release);
        long seen = 0;
        for (iter_seek_first(it); iter_valid(it); iter_next(it)) check_at(it, &lv, seen++);
        assert_int_equal(seen, lv.nall);
        assert_int_equal(lv.opens, (int)lv.nfiles);
        lv.opens = 0;
        seen = lv.nall - 1;
        for (iter_seek_last(it); iter_valid(it); iter_prev(it)) check_at(it, &lv, seen--);
        assert_int_equal(seen, -1);
        /* the last file stays open until the walk leaves it */
        assert_int_equal(lv.opens, lv.nfiles ? (int)lv.nfiles - 1 : 0);
        assert_int_equal(iter_status(it), 0);
        iter_destroy(it);
        fake_level_free(&lv);
    }
}

/* A file that fails to open stops a scan at its place, with -EIO. */
static void open_error_stops(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("level_iter_error"));
    for (int round = 0; round < 300; round++) {
        struct fake_level lv;
        fake_level_make(&r, &lv, 1);
        int back = rng_one_in(&r, 2);
        /* expected: the entries of the files before the first bad file in
         * the direction of travel */
        long expect = 0;
        int any_bad = 0;
        for (size_t k = 0; k < lv.nfiles; k++) {
            size_t f = back ? lv.nfiles - 1 - k : k;
            if (lv.ff[f].bad) {
                any_bad = 1;
                break;
            }
            expect += lv.ff[f].n;
        }
        struct iter *it = level_iter_new(lv.metas, lv.nfiles, fake_open, &lv, NULL);
        long seen = 0;
        if (back) {
            for (iter_seek_last(it); iter_valid(it); iter_prev(it)) {
                struct slice k = iter_key(it);
                assert_memory_equal(k.p, lv.all[lv.nall - 1 - seen].k, k.n);
                seen++;
            }
        } else {
            for (iter_seek_first(it); iter_valid(it); iter_next(it)) {
                struct slice k = iter_key(it);
                assert_memory_equal(k.p, lv.all[seen].k, k.n);
                seen++;
            }
        }
        assert_int_equal(seen, expect);
        assert_int_equal(iter_status(it), any_bad ? -EIO : 0);
        iter_destroy(it);
        assert_int_equal(lv.released, 0);
        fake_level_free(&lv);
    }
}

static void empty_level(void **state)
{
    (void)state;
    struct fake_level lv;
    memset(&lv, 0, sizeof(lv));
    struct iter *it = level_iter_new(NULL, 0, fake_open, &lv, fake_release);
    iter_seek_first(it);
    assert_false(iter_valid(it));
    iter_seek_last(it);
    assert_false(iter_valid(it));
    struct ent t;
    ent_make(&t, 3, 3, TYPE_VALUE);
    iter_seek(it, ent_key(&t));
    assert_false(iter_valid(it));
    assert_int_equal(iter_status(it), 0);
    assert_int_equal(lv.opens, 0);
    iter_destroy(it);
    assert_int_equal(lv.released, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_level),
        cmocka_unit_test(random_walks),
        cmocka_unit_test(scans_open_each_file_once),
        cmocka_unit_test(open_error_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
