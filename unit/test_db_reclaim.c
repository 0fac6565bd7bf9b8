/*
 * test_db_reclaim.c — lsmer_reclaim_range: tables wholly deleted by a newer
 * range tombstone are dropped, tables partly deleted are rewritten in place,
 * and nothing a snapshot or a later reopen needs is lost. Each case checks
 * the store against a model and the space figures (table bytes) that prove
 * the space came back. Seeds come from test_seed() and are printed.
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
#include "model.h"
#include "testutil.h"

#define VAL_LEN 1000

static lsmer_db *open_small(const char *dir)
{
    lsmer_options o;
    lsmer_options_init(&o);
    o.log_level = LSMER_LOG_WARN;
    o.memtable_size = 256 << 10;
    o.target_file_size = 64 << 10;
    o.level1_size = 256 << 10;
    o.zstd_level = 0; /* table bytes track data bytes */
    lsmer_db *db = NULL;
    assert_int_equal(lsmer_open(dir, &o, &db), 0);
    return db;
}

static size_t key_of(uint32_t i, char *buf)
{
    return (size_t)sprintf(buf, "k%08u", i);
}

static void fill(lsmer_db *db, struct model *m, struct rng *r, uint32_t n)
{
    char k[16], v[VAL_LEN];
    for (uint32_t i = 0; i < n; i++) {
        size_t kn = key_of(i, k);
        rng_bytes(r, v, sizeof(v));
        assert_int_equal(lsmer_put(db, k, kn, v, sizeof(v)), 0);
        model_put(m, k, kn, v, sizeof(v));
    }
}

static void del_range(lsmer_db *db, struct model *m, uint32_t a, uint32_t b)
{
    char ka[16], kb[16];
    size_t na = key_of(a, ka), nb = key_of(b, kb);
    assert_int_equal(lsmer_delete_range(db, ka, na, kb, nb), 0);
    model_delete_range(m, ka, na, kb, nb);
}

static uint64_t table_bytes(lsmer_db *db)
{
    lsmer_stats st;
    assert_int_equal(lsmer_get_stats(db, &st), 0);
    uint64_t b = 0;
    for (int l = 0; l < st.levels; l++) b += st.level[l].bytes;
    return b;
}

static void check(lsmer_db *db, const lsmer_snapshot *s, const struct model *m, const char *what)
{
    assert_int_equal(model_db_check(db, s, NULL, m, what), 0);
}

/* One case: its seed and rng, a scratch directory with a database open in
 * it, and the model the database must match. */
struct reclaim_case {
    uint64_t seed;
    struct rng r;
    char *dir;
    lsmer_db *db;
    struct model *m;
};

static void case_begin(struct reclaim_case *c, const char *name)
{
    c->seed = test_seed(name);
    rng_init(&c->r, c->seed);
    c->dir = test_tmpdir(name);
    c->db = open_small(c->dir);
    c->m = model_new();
}

static void case_reopen(struct reclaim_case *c)
{
    lsmer_close(c->db);
    c->db = open_small(c->dir);
}

static void case_end(struct reclaim_case *c)
{
    lsmer_close(c->db);
    model_free(c->m);
    test_rmtree(c->dir);
    free(c->dir);
}

/* Wide deletes of data pushed to the bottom: most tables go without being
 * read, the rest are rewritten; the space left is about the live data. */
static void test_drop_and_rewrite(void **state)
{
    (void)state;
    struct reclaim_case c;
    case_begin(&c, "reclaim_drop");
    fill(c.db, c.m, &c.r, 4000); /* ~4 MB */
    assert_int_equal(lsmer_compact_range(c.db, NULL), 0);
    uint64_t before = table_bytes(c.db);
    assert_true(before > 3800u * VAL_LEN);

    /* Three quarters, in spans that do not line up with table bounds. */
    del_range(c.db, c.m, 137, 1500);
    del_range(c.db, c.m, 1777, 3333);
    check(c.db, NULL, c.m, "before reclaim");
    assert_int_equal(lsmer_reclaim_range(c.db, NULL), 0);
    uint64_t after = table_bytes(c.db);
    uint64_t live = model_bytes(c.m);
    printf("reclaim: %llu table bytes before, %llu after, %llu live\n", (unsigned long long)before,
           (unsigned long long)after, (unsigned long long)live);
    check(c.db, NULL, c.m, "after reclaim");
    /* Only the partly deleted tables at the four span ends keep dead data,
     * and after their rewrite none at all: allow a little slack for keys
     * and block overhead. */
    assert_true(after < live + live / 10 + 8192);

    case_reopen(&c);
    check(c.db, NULL, c.m, "after reopen");
    case_end(&c);
}

/* A snapshot older than the tombstone keeps the data: nothing it can read
 * goes; once released, the space comes back. */
static void test_snapshot_protects(void **state)
{
    (void)state;
    struct reclaim_case c;
    case_begin(&c, "reclaim_snapshot");
    fill(c.db, c.m, &c.r, 2000);
    assert_int_equal(lsmer_compact_range(c.db, NULL), 0);
    const lsmer_snapshot *snap = lsmer_snapshot_new(c.db);
    assert_non_null(snap);
    struct model *old = model_copy(c.m);
    del_range(c.db, c.m, 0, 2000);
    uint64_t before = table_bytes(c.db);
    assert_int_equal(lsmer_reclaim_range(c.db, NULL), 0);
    check(c.db, snap, old, "snapshot after reclaim");
    check(c.db, NULL, c.m, "latest after reclaim");
    assert_true(table_bytes(c.db) >= before - before / 10);

    lsmer_snapshot_release(c.db, snap);
    assert_int_equal(lsmer_reclaim_range(c.db, NULL), 0);
    check(c.db, NULL, c.m, "after release and reclaim");
    assert_true(table_bytes(c.db) < 8192);
    model_free(old);
    case_end(&c);
}

/* Randomized: overwrites, point and range deletes, snapshots and reopen
 * mixed with reclaim passes over random ranges; the store always matches
 * the model, and every snapshot matches the model copied with it. */
static void test_random(void **state)
{
    (void)state;
    struct reclaim_case c;
    case_begin(&c, "reclaim_random");
    const lsmer_snapshot *snap = NULL;
    struct model *snap_m = NULL;
    char k[16], k2[16], v[VAL_LEN];
    int rounds = (int)(40 * test_scale());
    for (int round = 0; round < rounds; round++) {
        for (int i = 0; i < 600; i++) {
            uint32_t a = (uint32_t)rng_uniform(&c.r, 5000);
            size_t kn = key_of(a, k);
            uint64_t t = rng_uniform(&c.r, 20);
            if (t < 14) {
                size_t vn = 1 + rng_uniform(&c.r, sizeof(v));
                rng_bytes(&c.r, v, vn);
                assert_int_equal(lsmer_put(c.db, k, kn, v, vn), 0);
                model_put(c.m, k, kn, v, vn);
            } else if (t < 18) {
                assert_int_equal(lsmer_delete(c.db, k, kn), 0);
                model_delete(c.m, k, kn);
            } else {
                del_range(c.db, c.m, a, a + (uint32_t)rng_uniform(&c.r, 800));
            }
        }
        uint64_t t = rng_uniform(&c.r, 6);
        if (t == 0 && !snap) {
            snap = lsmer_snapshot_new(c.db);
            snap_m = model_copy(c.m);
        } else if (t == 1 && snap) {
            check(c.db, snap, snap_m, "snapshot");
            lsmer_snapshot_release(c.db, snap);
            model_free(snap_m);
            snap = NULL;
            snap_m = NULL;
        } else if (t == 2) {
            assert_int_equal(lsmer_compact_range(c.db, NULL), 0);
        } else if (t == 3 && !snap) {
            case_reopen(&c);
        }
        uint32_t a = (uint32_t)rng_uniform(&c.r, 5000);
        lsmer_range rr = {k, key_of(a, k), k2, key_of(a + 1500, k2)};
        assert_int_equal(lsmer_reclaim_range(c.db, rng_one_in(&c.r, 2) ? NULL : &rr), 0);
        char what[64];
        snprintf(what, sizeof(what), "seed %llu round %d", (unsigned long long)c.seed, round);
        check(c.db, NULL, c.m, what);
        if (snap) check(c.db, snap, snap_m, what);
    }
    if (snap) lsmer_snapshot_release(c.db, snap);
    model_free(snap_m);
    case_reopen(&c);
    check(c.db, NULL, c.m, "final reopen");
    case_end(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drop_and_rewrite),
        cmocka_unit_test(test_snapshot_protects),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
