/* test_db_partition.c — the table_partition option: a flush writes one
 * level-0 table per partition (range tombstones clipped at the cuts, every
 * key still found), and data written in key order next to a key rewritten
 * at every flush moves down the levels without being rewritten, where
 * without partitioning it is compacted again. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lsmer.h"
#include "testutil.h"

/* Cut wherever the first byte (a key "kind") changes. */
static int by_kind(void *arg, const void *prev, size_t prev_len, const void *key, size_t key_len)
{
    int *calls = arg;
    if (calls) (*calls)++;
    return prev_len && key_len && *(const char *)prev != *(const char *)key;
}

static lsmer_db *open_db_with(const char *dir, const lsmer_options *o)
{
    lsmer_db *db = NULL;
    assert_int_equal(lsmer_open(dir, o, &db), 0);
    return db;
}

static lsmer_db *open_db(const char *dir, int partitioned, int *calls)
{
    lsmer_options o;
    lsmer_options_init(&o);
    o.log_level = LSMER_LOG_WARN;
    o.memtable_size = 256 << 10;
    o.target_file_size = 1 << 20;
    o.level1_size = 2 << 20;
    o.zstd_level = 0;
    if (partitioned) {
        o.table_partition = by_kind;
        o.table_partition_arg = calls;
    }
    lsmer_db *db = NULL;
    assert_int_equal(lsmer_open(dir, &o, &db), 0);
    return db;
}

static uint64_t level_files(lsmer_db *db, int level)
{
    lsmer_stats st;
    assert_int_equal(lsmer_get_stats(db, &st), 0);
    return st.level[level].files;
}

static void expect(lsmer_db *db, const char *k, const char *v)
{
    lsmer_buf b = {0};
    int rc = lsmer_get(db, NULL, k, strlen(k), &b);
    if (!v) {
        assert_int_equal(rc, -ENOENT);
    } else {
        assert_int_equal(rc, 0);
        assert_int_equal(b.size, strlen(v));
        assert_memory_equal(b.data, v, b.size);
    }
    lsmer_buf_free(&b);
}

/* Keys of kinds a, b, c and a range delete from a05 to c05: one flush
 * gives three level-0 tables, and the tombstone still deletes exactly its
 * range in each of them, also after a reopen and a full compaction. */
static void flush_writes_a_table_per_partition(void **state)
{
    (void)state;
    char *dir = test_tmpdir("partition-flush");
    int calls = 0;
    lsmer_db *db = open_db(dir, 1, &calls);
    char k[16];
    for (int i = 0; i < 10; i++)
        for (char kind = 'a'; kind <= 'c'; kind++) {
            snprintf(k, sizeof(k), "%c%02d", kind, i);
            assert_int_equal(lsmer_put(db, k, 3, k, 3), 0);
        }
    assert_int_equal(lsmer_delete_range(db, "a05", 3, "c05", 3), 0);
    assert_int_equal(lsmer_flush(db), 0);
    assert_true(calls > 0);
    assert_int_equal(level_files(db, 0), 3);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 10; i++)
            for (char kind = 'a'; kind <= 'c'; kind++) {
                snprintf(k, sizeof(k), "%c%02d", kind, i);
                int gone = (kind == 'a' && i >= 5) || kind == 'b' || (kind == 'c' && i < 5);
                expect(db, k, gone ? NULL : k);
            }
        /* A scan sees the same. */
        lsmer_iter *it = NULL;
        assert_int_equal(lsmer_iter_open(db, NULL, NULL, &it), 0);
        int n = 0;
        for (lsmer_iter_seek_first(it); lsmer_iter_valid(it); lsmer_iter_next(it)) n++;
        assert_int_equal(lsmer_iter_status(it), 0);
        assert_int_equal(n, 10);
        lsmer_iter_close(it);
        if (round == 0) {
            lsmer_close(db);
            db = open_db(dir, 1, NULL);
        } else if (round == 1) {
            assert_int_equal(lsmer_compact_range(db, NULL), 0);
            assert_int_equal(lsmer_wait_idle(db), 0);
        }
    }
    lsmer_close(db);
    test_rmtree(dir);
    free(dir);
}

/* A "file" written in key order (kind b) and its "inode" (kind i),
 * rewritten after every chunk: what compaction writes, with and without
 * partitioning. */
static uint64_t sequential_compaction_bytes(int partitioned, uint64_t *flushed)
{
    char *dir = test_tmpdir("partition-seq");
    lsmer_db *db = open_db(dir, partitioned, NULL);
    char k[32], v[1000];
    memset(v, 'v', sizeof(v));
    uint64_t block = 0;
    for (int chunk = 0; chunk < 24; chunk++) {
        for (int j = 0; j < 200; j++, block++) {
            snprintf(k, sizeof(k), "b%012llu", (unsigned long long)block);
            assert_int_equal(lsmer_put(db, k, strlen(k), v, sizeof(v)), 0);
        }
        snprintf(v, 32, "size %llu", (unsigned long long)block);
        assert_int_equal(lsmer_put(db, "i0001", 5, v, 32), 0);
        memset(v, 'v', 32);
        assert_int_equal(lsmer_flush(db), 0);
    }
    assert_int_equal(lsmer_wait_idle(db), 0);
    lsmer_stats st;
    assert_int_equal(lsmer_get_stats(db, &st), 0);
    for (uint64_t b = 0; b < block; b += 97) {
        snprintf(k, sizeof(k), "b%012llu", (unsigned long long)b);
        lsmer_buf out = {0};
        assert_int_equal(lsmer_get(db, NULL, k, strlen(k), &out), 0);
        assert_int_equal(out.size, sizeof(v));
        lsmer_buf_free(&out);
    }
    fprintf(stderr, "%s: flushed %llu, compaction wrote %llu bytes, %llu compactions\n",
            partitioned ? "partitioned" : "plain", (unsigned long long)st.flush_bytes_written,
            (unsigned long long)st.compaction_bytes_written, (unsigned long long)st.compactions);
    *flushed = st.flush_bytes_written;
    lsmer_close(db);
    test_rmtree(dir);
    free(dir);
    return st.compaction_bytes_written;
}

static void sequential_data_moves_down_unrewritten(void **state)
{
    (void)state;
    uint64_t flushed_plain, flushed_part;
    uint64_t plain = sequential_compaction_bytes(0, &flushed_plain);
    uint64_t part = sequential_compaction_bytes(1, &flushed_part);
    /* Without partitions every flushed table overlaps the others (the
     * inode key), so level 0's data is merged again; with them only the
     * small inode tables are. */
    assert_true(plain > flushed_plain / 2);
    assert_true(part < flushed_part / 20);
}

/* Cuts before every key that ends in '5', whatever came before it: the
 * engine must still never split the versions of one key. */
static int before_fives(void *arg, const void *prev, size_t prev_len, const void *key,
                        size_t key_len)
{
    (void)arg, (void)prev, (void)prev_len;
    return key_len && ((const char *)key)[key_len - 1] == '5';
}

static void never_cut_inside_a_key(void **state)
{
    (void)state;
    char *dir = test_tmpdir("partition-versions");
    lsmer_options o;
    lsmer_options_init(&o);
    o.log_level = LSMER_LOG_WARN;
    o.table_partition = before_fives;
    lsmer_db *db = open_db_with(dir, &o);
    /* Versions 0..5 of every key, a snapshot after each round. */
    const lsmer_snapshot *snaps[6];
    char k[16], v[32];
    for (int ver = 0; ver < 6; ver++) {
        for (int i = 0; i < 40; i++) {
            snprintf(k, sizeof(k), "k%02d", i);
            snprintf(v, sizeof(v), "%s.%d", k, ver);
            assert_int_equal(lsmer_put(db, k, 3, v, strlen(v)), 0);
        }
        snaps[ver] = lsmer_snapshot_new(db);
        assert_non_null(snaps[ver]);
    }
    for (int step = 0; step < 3; step++) {
        if (step == 1) assert_int_equal(lsmer_flush(db), 0);
        if (step == 2) {
            assert_int_equal(lsmer_compact_range(db, NULL), 0);
            assert_int_equal(lsmer_wait_idle(db), 0);
        }
        for (int ver = 0; ver < 6; ver++)
            for (int i = 0; i < 40; i++) {
                snprintf(k, sizeof(k), "k%02d", i);
                snprintf(v, sizeof(v), "%s.%d", k, ver);
                lsmer_buf b = {0};
                assert_int_equal(lsmer_get(db, snaps[ver], k, 3, &b), 0);
                assert_int_equal(b.size, strlen(v));
                assert_memory_equal(b.data, v, b.size);
                lsmer_buf_free(&b);
            }
    }
    /* One table per run of keys up to the next '5' key: 5 here (k05, k15,
     * k25, k35 start new ones), more only if a cut fell inside a key. */
    lsmer_stats st;
    assert_int_equal(lsmer_get_stats(db, &st), 0);
    uint64_t files = 0;
    for (int l = 0; l < LSMER_MAX_LEVELS; l++) files += st.level[l].files;
    assert_int_equal(files, 5);
    for (int ver = 0; ver < 6; ver++) lsmer_snapshot_release(db, snaps[ver]);
    lsmer_close(db);
    test_rmtree(dir);
    free(dir);
}

/* Level 0 with partitioned flushes counts overlap depth: three flushes of
 * a disjoint data table plus an inode table that every flush rewrites are
 * 6 files but 3 deep, so level 0 scores 3 / trigger, not 6 / trigger. */
static void level0_counts_depth(void **state)
{
    (void)state;
    char *dir = test_tmpdir("partition-depth");
    lsmer_options o;
    lsmer_options_init(&o);
    o.log_level = LSMER_LOG_WARN;
    o.zstd_level = 0;
    o.l0_compaction_trigger = 8;
    o.l0_slowdown_trigger = 16;
    o.l0_stop_trigger = 24;
    o.table_partition = by_kind;
    lsmer_db *db = open_db_with(dir, &o);
    char k[32];
    for (int flush = 0; flush < 3; flush++) {
        for (int j = 0; j < 50; j++) {
            snprintf(k, sizeof(k), "b%06d", flush * 50 + j);
            assert_int_equal(lsmer_put(db, k, strlen(k), "data", 4), 0);
        }
        assert_int_equal(lsmer_put(db, "i0001", 5, "inode", 5), 0);
        assert_int_equal(lsmer_flush(db), 0);
    }
    lsmer_stats st;
    assert_int_equal(lsmer_get_stats(db, &st), 0);
    assert_int_equal(st.level[0].files, 6);
    fprintf(stderr, "level 0: %llu files, score %.3f\n", (unsigned long long)st.level[0].files,
            st.level[0].score);
    assert_true(st.level[0].score > 0.37 && st.level[0].score < 0.38); /* 3 / 8 */
    lsmer_close(db);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flush_writes_a_table_per_partition),
        cmocka_unit_test(sequential_data_moves_down_unrewritten),
        cmocka_unit_test(never_cut_inside_a_key),
        cmocka_unit_test(level0_counts_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
