/*
 * test_db_basic.c — targeted tests of the public API (lsmer.h), black-box:
 * open/create rules and the LOCK, point operations, binary and large keys
 * and values, batches, iteration with bounds, snapshots, reopen, small
 * memtables that force flushes and compactions, stats and maintenance calls.
 * Each test works in its own scratch directory, removed only on success so
 * a failure leaves the database behind for inspection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lsmer.h"
#include "model.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

static void quiet_options(lsmer_options *o)
{
    lsmer_options_init(o);
    o->log_level = LSMER_LOG_WARN;
}

static lsmer_db *open_db(const char *dir, const lsmer_options *o)
{
    lsmer_db *db = NULL;
    lsmer_options def;
    if (!o) {
        quiet_options(&def);
        o = &def;
    }
    int rc = lsmer_open(dir, o, &db);
    if (rc) fprintf(stderr, "lsmer_open(%s): %d (%s)\n", dir, rc, lsmer_strerror(rc));
    assert_int_equal(rc, 0);
    assert_non_null(db);
    return db;
}

static void put_s(lsmer_db *db, const char *k, const char *v)
{
    assert_int_equal(lsmer_put(db, k, strlen(k), v, strlen(v)), 0);
}

/* Expects key k to hold v (NULL: absent) as of snap. */
static void expect_get(lsmer_db *db, const lsmer_snapshot *snap, const void *k, size_t kn,
                       const void *v, size_t vn)
{
    lsmer_buf b = {0};
    int rc = lsmer_get(db, snap, k, kn, &b);
    if (!v) {
        assert_int_equal(rc, -ENOENT);
    } else {
        assert_int_equal(rc, 0);
        assert_int_equal(b.size, vn);
        if (vn) assert_memory_equal(b.data, v, vn);
    }
    lsmer_buf_free(&b);
}

static void expect_s(lsmer_db *db, const lsmer_snapshot *snap, const char *k, const char *v)
{
    expect_get(db, snap, k, strlen(k), v, v ? strlen(v) : 0);
}

/* The iterator stands on key k (a string), or is invalid if k is NULL. */
static void expect_at(lsmer_iter *it, const char *k)
{
    if (!k) {
        assert_false(lsmer_iter_valid(it));
        assert_int_equal(lsmer_iter_status(it), 0);
        return;
    }
    assert_true(lsmer_iter_valid(it));
    size_t kn;
    const void *key = lsmer_iter_key(it, &kn);
    if (kn != strlen(k) || memcmp(key, k, kn) != 0) {
        fprintf(stderr, "iterator at ");
        model_print_key(stderr, key, kn);
        fprintf(stderr, ", expected \"%s\"\n", k);
        fail();
    }
}

static void check_model(lsmer_db *db, const lsmer_snapshot *snap, const struct model *m,
                        const char *what)
{
    assert_int_equal(model_db_check(db, snap, NULL, m, what), 0);
    /* and every key by point lookup */
    for (size_t i = 0; i < model_count(m); i++) {
        struct model_entry e;
        model_nth(m, i, &e);
        expect_get(db, snap, e.key, e.klen, e.val, e.vlen);
    }
}

static void done_dir(char *dir)
{
    test_rmtree(dir);
    free(dir);
}

/* ---- open, close, lock -------------------------------------------------- */

static void open_put_get_delete(void **state)
{
    (void)state;
    char *dir = test_tmpdir("basic");
    lsmer_db *db = open_db(dir, NULL);
    expect_s(db, NULL, "a", NULL);
    put_s(db, "a", "1");
    put_s(db, "b", "2");
    expect_s(db, NULL, "a", "1");
    expect_s(db, NULL, "b", "2");
    expect_s(db, NULL, "c", NULL);
    put_s(db, "a", "one");
    expect_s(db, NULL, "a", "one");
    assert_int_equal(lsmer_delete(db, "a", 1), 0);
    expect_s(db, NULL, "a", NULL);
    assert_int_equal(lsmer_delete(db, "zzz", 3), 0); /* deleting nothing is fine */
    put_s(db, "empty", "");
    expect_s(db, NULL, "empty", "");
    /* Single operations go to the write queue without a batch of their
     * own: the same argument checks, the same accounting. */
    assert_int_equal(lsmer_put(NULL, "k", 1, "v", 1), -EINVAL);
    assert_int_equal(lsmer_put(db, NULL, 1, "v", 1), -EINVAL);
    assert_int_equal(lsmer_put(db, "k", 1, NULL, 1), -EINVAL);
    assert_int_equal(lsmer_delete(db, NULL, 2), -EINVAL);
    assert_int_equal(lsmer_delete_range(db, "a", 1, NULL, 1), -EINVAL);
    assert_int_equal(lsmer_delete_range(NULL, "a", 1, "b", 1), -EINVAL);
    lsmer_stats st0, st1;
    assert_int_equal(lsmer_get_stats(db, &st0), 0);
    put_s(db, "acct", "12345");                                   /* 4 + 5 */
    assert_int_equal(lsmer_delete(db, "acct", 4), 0);             /* 4 */
    assert_int_equal(lsmer_delete_range(db, "x", 1, "yy", 2), 0); /* 1 + 2 */
    assert_int_equal(lsmer_get_stats(db, &st1), 0);
    assert_int_equal(st1.user_bytes_written - st0.user_bytes_written, 16);
    expect_s(db, NULL, "acct", NULL);
    assert_int_equal(lsmer_sync(db), 0);
    assert_int_equal(lsmer_wait_idle(db), 0);
    lsmer_close(db);

    db = open_db(dir, NULL);
    expect_s(db, NULL, "a", NULL);
    expect_s(db, NULL, "b", "2");
    expect_s(db, NULL, "empty", "");
    lsmer_close(db);

    assert_non_null(lsmer_strerror(-LSMER_ECORRUPT));
    assert_non_null(lsmer_strerror(-ENOENT));
    done_dir(dir);
}

static void open_rules(void **state)
{
    (void)state;
    char *dir = test_tmpdir("basic-open");
    lsmer_options o;
    lsmer_db *db = NULL;
    char path[4096];

    /* create_if_missing = 0 on a missing directory */
    snprintf(path, sizeof(path), "%s/missing", dir);
    quiet_options(&o);
    o.create_if_missing = 0;
    assert_true(lsmer_open(path, &o, &db) < 0);
    assert_null(db);
    /* ...and on an existing empty one */
    snprintf(path, sizeof(path), "%s/empty", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_true(lsmer_open(path, &o, &db) < 0);

    /* create in a directory that does not exist yet */
    snprintf(path, sizeof(path), "%s/new", dir);
    db = open_db(path, NULL);
    put_s(db, "k", "v");
    lsmer_close(db);
    /* error_if_exists */
    quiet_options(&o);
    o.error_if_exists = 1;
    db = NULL;
    assert_int_equal(lsmer_open(path, &o, &db), -EEXIST);
    /* opt == NULL means defaults */
    assert_int_equal(lsmer_open(path, NULL, &db), 0);
    expect_s(db, NULL, "k", "v");
    lsmer_close(db);

    /* a non-empty directory that holds no database */
    snprintf(path, sizeof(path), "%s/other", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    char file[4200];
    snprintf(file, sizeof(file), "%s/notes.txt", path);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("not a database\n", f);
    fclose(f);
    db = NULL;
    quiet_options(&o);
    assert_int_equal(lsmer_open(path, &o, &db), -EINVAL);
    assert_null(db);
    done_dir(dir);
}

static void lock_excludes_second_open(void **state)
{
    (void)state;
    char *dir = test_tmpdir("basic-lock");
    /* A child process waits until the parent has the db open, then tries. */
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char c;
        close(go[1]);
        if (read(go[0], &c, 1) != 1) _exit(100);
        lsmer_options o;
        quiet_options(&o);
        lsmer_db *db = NULL;
        int rc = lsmer_open(dir, &o, &db);
        _exit(rc == -EBUSY ? 0 : rc == 0 ? 101 : 102);
    }
    close(go[0]);
    lsmer_db *db = open_db(dir, NULL);
    put_s(db, "x", "y");
    assert_int_equal(write(go[1], "g", 1), 1);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    close(go[1]);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) != 0)
        fprintf(stderr, "second process: exit %d (101: opened, 102: other error)\n",
                WEXITSTATUS(st));
    assert_int_equal(WEXITSTATUS(st), 0);

    /* the same process opening it again */
    lsmer_db *db2 = NULL;
    lsmer_options o;
    quiet_options(&o);
    assert_int_equal(lsmer_open(dir, &o, &db2), -EBUSY);
    assert_null(db2);
    lsmer_close(db);
    /* released on close */
    db = open_db(dir, NULL);
    expect_s(db, NULL, "x", "y");
    lsmer_close(db);
    done_dir(dir);
}

static void read_only_open(void **state)
{
    (void)state;
    char *dir = test_tmpdir("basic-ro");
    lsmer_db *db = open_db(dir, NULL);
    put_s(db, "a", "1");
    lsmer_close(db);
    lsmer_options o;
    quiet_options(&o);
    o.read_only = 1;
    db = open_db(dir, &o);
    expect_s(db, NULL, "a", "1");
    assert_true(lsmer_put(db, "b", 1, "2", 1) < 0);
    expect_s(db, NULL, "b", NULL);
    lsmer_close(db);
    db = open_db(dir, NULL);
    expect_s(db, NULL, "a", "1");
    expect_s(db, NULL, "b", NULL);
    lsmer_close(db);
    done_dir(dir);
}

/* ---- keys and values ---------------------------------------------------- */

static void binary_and_large_keys(void **state)
{
    (void)state;
    char *dir = test_tmpdir("basic-keys");
    lsmer_db *db = open_db(dir, NULL);
    struct model *m = model_new();
    /* zero bytes inside keys and values; "a" < "a\0" < "a\0b" < "a\1" */
    static const struct {
        const char *k;
        size_t n;
    } ks[] = {{"a", 1},  {"a\0", 2},  {"a\0b", 3}, {"a\1", 2},
              {"\0", 1}, {"\0\0", 2}, {"\xff", 1}, {"\xff\xff\0", 3}};
    for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
        char v[8] = {0, (char)i, 0, 'v'};
        assert_int_equal(lsmer_put(db, ks[i].k, ks[i].n, v, 4), 0);
        model_put(m, ks[i].k, ks[i].n, v, 4);
    }
    /* 4 KiB keys differing only in their last byte, and in their first */
    struct rng r;
    rng_init(&r, test_seed("binary_and_large_keys"));
    unsigned char *big = malloc(LSMER_MAX_KEY + 1);
    assert_non_null(big);
    rng_bytes(&r, big, LSMER_MAX_KEY + 1);
    for (int i = 0; i < 16; i++) {
        big[4095] = (unsigned char)i;
        big[0] = (unsigned char)(i & 3);
        assert_int_equal(lsmer_put(db, big, 4096, &i, sizeof(i)), 0);
        model_put(m, big, 4096, &i, sizeof(i));
    }
    /* the largest key allowed, and one byte more */
    assert_int_equal(lsmer_put(db, big, LSMER_MAX_KEY, "max", 3), 0);
    model_put(m, big, LSMER_MAX_KEY, "max", 3);
    assert_int_equal(lsmer_put(db, big, LSMER_MAX_KEY + 1, "x", 1), -EINVAL);
    check_model(db, NULL, m, "binary keys (memtable)");
    assert_int_equal(lsmer_flush(db), 0);
    check_model(db, NULL, m, "binary keys (flushed)");
    /* delete a few, one of them by a range that ends on a zero-byte key */
    assert_int_equal(lsmer_delete(db, "a\0", 2), 0);
    model_delete(m, "a\0", 2);
    assert_int_equal(lsmer_delete_range(db, "\0", 1, "\0\0\0", 3), 0);
    model_delete_range(m, "\0", 1, "\0\0\0", 3);
    check_model(db, NULL, m, "binary keys (deleted)");
    lsmer_close(db);
    db = open_db(dir, NULL);
    check_model(db, NULL, m, "binary keys (reopened)");
    assert_int_equal(lsmer_compact_range(db, NULL), 0);
    check_model(db, NULL, m, "binary keys (compacted)");
    lsmer_close(db);
    free(big);
    model_free(m);
    done_dir(dir);
}

static void large_value(void **state)
{
    (void)state;
    char *dir = test_tmpdir("basic-bigval");
    lsmer_db *db = open_db(dir, NULL);
    size_t n = 16u << 20;
    unsigned char *v = malloc(n);
    assert_non_null(v);
    struct rng r;
    rng_init(&r, test_seed("large_value"));
    rng_bytes(&r, v, n);
    assert_int_equal(lsmer_put(db, "big", 3, v, n), 0);
    put_s(db, "small", "s");
    expect_get(db, NULL, "big", 3, v, n);
    assert_int_equal(lsmer_flush(db), 0);
    expect_get(db, NULL, "big", 3, v, n);
    /* through an iterator too */
    lsmer_iter *it;
    assert_int_equal(lsmer_iter_open(db, NULL, NULL, &it), 0);
    lsmer_iter_seek_first(it);
    expect_at(it, "big");
    const void *got;
    size_t gn;
    assert_int_equal(lsmer_iter_value(it, &got, &gn), 0);
    assert_int_equal(gn, n);
    assert_memory_equal(got, v, n);
    lsmer_iter_next(it);
    expect_at(it, "small");
    lsmer_iter_close(it);
    lsmer_close(db);
    db = open_db(dir, NULL);
    expect_get(db, NULL, "big", 3, v, n);
    v[12345] ^= 1; /* overwrite with a different large value */
    assert_int_equal(lsmer_put(db, "big", 3, v, n), 0);
    lsmer_close(db);
    db = open_db(dir, NULL);
    expect_get(db, NULL, "big", 3, v, n);
    lsmer_close(db);
    free(v);
    done_dir(dir);
}

/* ---- batches ------------------------------------------------------------ */

static void batches(void **state)
{
    (void)state;
    char *dir = test_tmpdir("basic-batch");
    lsmer_db *db = open_db(dir, NULL);
    put_s(db, "b1", "old");
    put_s(db, "b2", "old");
    put_s(db, "c", "old");
    assert_int_equal(lsmer_flush(db), 0); /* some of it in a table */
    put_s(db, "b3", "old");

    lsmer_batch *b = lsmer_batch_new();
    assert_non_null(b);
    assert_int_equal(lsmer_batch_count(b), 0);
    assert_int_equal(lsmer_write(db, b, 0), 0); /* empty batch */
    assert_int_equal(lsmer_batch_put(b, "a", 1, "A", 1), 0);
    assert_int_equal(lsmer_batch_put(b, "x", 1, "X", 1), 0);
    assert_int_equal(lsmer_batch_delete(b, "a", 1), 0);
    assert_int_equal(lsmer_batch_delete_range(b, "b", 1, "c", 1), 0);
    assert_int_equal(lsmer_batch_put(b, "b2", 2, "new", 3), 0); /* after the range delete */
    assert_int_equal(lsmer_batch_put(b, "c", 1, "new", 3), 0);
    assert_int_equal(lsmer_batch_count(b), 6);
    assert_true(lsmer_batch_bytes(b) > 0);
    assert_int_equal(lsmer_write(db, b, LSMER_SYNC), 0);
    expect_s(db, NULL, "a", NULL);
    expect_s(db, NULL, "x", "X");
    expect_s(db, NULL, "b1", NULL);
    expect_s(db, NULL, "b2", "new");
    expect_s(db, NULL, "b3", NULL);
    expect_s(db, NULL, "c", "new");

    /* a range delete after a put of the same key wins */
    lsmer_batch_clear(b);
    assert_int_equal(lsmer_batch_count(b), 0);
    assert_int_equal(lsmer_batch_put(b, "y1", 2, "Y", 1), 0);
    assert_int_equal(lsmer_batch_delete_range(b, "y", 1, "z", 1), 0);
    assert_int_equal(lsmer_batch_put(b, "y2", 2, "Y", 1), 0);
    assert_int_equal(lsmer_write(db, b, 0), 0);
    expect_s(db, NULL, "y1", NULL);
    expect_s(db, NULL, "y2", "Y");
    /* a batch bigger than a key limit is refused whole */
    lsmer_batch_clear(b);
    assert_int_equal(lsmer_batch_put(b, "ok", 2, "1", 1), 0);
    char *huge = calloc(1, LSMER_MAX_KEY + 1);
    assert_non_null(huge);
    int rc = lsmer_batch_put(b, huge, LSMER_MAX_KEY + 1, "v", 1);
    if (rc == 0) rc = lsmer_write(db, b, 0);
    assert_int_equal(rc, -EINVAL);
    free(huge);
    expect_s(db, NULL, "ok", NULL);
    lsmer_batch_free(b);

    for (int pass = 0; pass < 3; pass++) {
        if (pass == 1) assert_int_equal(lsmer_flush(db), 0);
        if (pass == 2) {
            lsmer_close(db);
            db = open_db(dir, NULL);
            assert_int_equal(lsmer_compact_range(db, NULL), 0);
        }
        expect_s(db, NULL, "a", NULL);
        expect_s(db, NULL, "b1", NULL);
        expect_s(db, NULL, "b2", "new");
        expect_s(db, NULL, "b3", NULL);
        expect_s(db, NULL, "c", "new");
        expect_s(db, NULL, "y1", NULL);
        expect_s(db, NULL, "y2", "Y");
    }
    lsmer_close(db);
    done_dir(dir);
}

/* ---- iteration ---------------------------------------------------------- */

static void iteration_bounds(void **state)
{
    (void)state;
    char *dir = test_tmpdir("basic-iter");
    lsmer_options o;
    quiet_options(&o);
    lsmer_db *db = open_db(dir, &o);
    char k[16];
    /* even keys k000..k098; half flushed, a few deleted afterwards */
    for (int i = 0; i < 100; i += 2) {
        snprintf(k, sizeof(k), "k%03d", i);
        put_s(db, k, k);
        if (i == 50) assert_int_equal(lsmer_flush(db), 0);
    }
    assert_int_equal(lsmer_delete(db, "k012", 4), 0);
    assert_int_equal(lsmer_delete_range(db, "k030", 4, "k036", 4), 0); /* 30,32,34 */

    lsmer_iter *it;
    lsmer_range r = {"k010", 4, "k020", 4};
    assert_int_equal(lsmer_iter_open(db, NULL, &r, &it), 0);
    assert_false(lsmer_iter_valid(it)); /* starts unpositioned */
    lsmer_iter_seek_first(it);
    expect_at(it, "k010");
    lsmer_iter_next(it);
    expect_at(it, "k014");
    lsmer_iter_seek_last(it);
    expect_at(it, "k018");
    lsmer_iter_next(it);
    expect_at(it, NULL);
    lsmer_iter_seek(it, "k015", 4);
    expect_at(it, "k016");
    lsmer_iter_seek(it, "k012", 4);
    expect_at(it, "k014");
    lsmer_iter_seek_for_prev(it, "k015", 4);
    expect_at(it, "k014");
    lsmer_iter_seek_for_prev(it, "k013", 4);
    expect_at(it, "k010");
    lsmer_iter_prev(it);
    expect_at(it, NULL);
    lsmer_iter_seek(it, "a", 1); /* below the range */
    expect_at(it, "k010");
    lsmer_iter_seek(it, "k019", 4);
    expect_at(it, NULL);
    lsmer_iter_seek(it, "z", 1);
    expect_at(it, NULL);
    lsmer_iter_seek_for_prev(it, "z", 1); /* above the range */
    expect_at(it, "k018");
    lsmer_iter_seek_for_prev(it, "k009", 4);
    expect_at(it, NULL);
    lsmer_iter_seek_for_prev(it, "k020", 4); /* end is exclusive */
    expect_at(it, "k018");
    lsmer_iter_close(it);

    /* the deleted range, crossing memtable and table */
    lsmer_range r2 = {"k028", 4, NULL, 0};
    assert_int_equal(lsmer_iter_open(db, NULL, &r2, &it), 0);
    lsmer_iter_seek_first(it);
    expect_at(it, "k028");
    lsmer_iter_next(it);
    expect_at(it, "k036");
    lsmer_iter_prev(it);
    expect_at(it, "k028");
    lsmer_iter_prev(it);
    expect_at(it, NULL);
    lsmer_iter_seek_last(it);
    expect_at(it, "k098");
    lsmer_iter_close(it);

    /* unbounded, both ways, against a model */
    struct model *m = model_new();
    for (int i = 0; i < 100; i += 2) {
        snprintf(k, sizeof(k), "k%03d", i);
        if (i == 12 || (i >= 30 && i < 36)) continue;
        model_put(m, k, 4, k, 4);
    }
    check_model(db, NULL, m, "iteration");
    assert_int_equal(model_db_check(db, NULL, &r, m, "iteration [k010,k020)"), 0);
    lsmer_range empty = {"k050", 4, "k050", 4};
    assert_int_equal(lsmer_iter_open(db, NULL, &empty, &it), 0);
    lsmer_iter_seek_first(it);
    expect_at(it, NULL);
    lsmer_iter_seek_last(it);
    expect_at(it, NULL);
    lsmer_iter_close(it);

    /* an iterator opened without a snapshot does not see later writes */
    assert_int_equal(lsmer_iter_open(db, NULL, NULL, &it), 0);
    put_s(db, "k001", "late");
    assert_int_equal(lsmer_delete(db, "k000", 4), 0);
    lsmer_iter_seek_first(it);
    expect_at(it, "k000");
    lsmer_iter_next(it);
    expect_at(it, "k002");
    lsmer_iter_close(it);
    lsmer_close(db);
    model_free(m);
    done_dir(dir);
}

/* ---- snapshots ---------------------------------------------------------- */

static void snapshots_keep_old_values(void **state)
{
    (void)state;
    char *dir = test_tmpdir("basic-snap");
    lsmer_options o;
    quiet_options(&o);
    o.memtable_size = 64 << 10;
    lsmer_db *db = open_db(dir, &o);
    struct model *m = model_new();
    char k[32], v[96];
    for (int i = 0; i < 500; i++) {
        snprintf(k, sizeof(k), "key%05d", i);
        snprintf(v, sizeof(v), "v0-%d", i);
        put_s(db, k, v);
        model_put(m, k, strlen(k), v, strlen(v));
    }
    const lsmer_snapshot *s1 = lsmer_snapshot_new(db);
    assert_non_null(s1);
    struct model *m1 = model_copy(m);
    /* writers go on: overwrite, delete, range delete, insert; enough to
     * flush the memtable many times and compact */
    for (int round = 1; round <= 20; round++) {
        for (int i = 0; i < 500; i += 1 + round % 3) {
            snprintf(k, sizeof(k), "key%05d", i);
            snprintf(v, sizeof(v), "v%d-%d-%040d", round, i, 0);
            put_s(db, k, v);
            model_put(m, k, strlen(k), v, strlen(v));
        }
        snprintf(k, sizeof(k), "key%05d", round * 20);
        assert_int_equal(lsmer_delete(db, k, strlen(k)), 0);
        model_delete(m, k, strlen(k));
        snprintf(k, sizeof(k), "key%05d", round * 7);
        snprintf(v, sizeof(v), "key%05d", round * 7 + 5);
        assert_int_equal(lsmer_delete_range(db, k, strlen(k), v, strlen(v)), 0);
        model_delete_range(m, k, strlen(k), v, strlen(v));
        snprintf(k, sizeof(k), "new%05d", round);
        put_s(db, k, "n");
        model_put(m, k, strlen(k), "n", 1);
    }
    const lsmer_snapshot *s2 = lsmer_snapshot_new(db);
    assert_non_null(s2);
    assert_true(lsmer_snapshot_sequence(s2) > lsmer_snapshot_sequence(s1));
    struct model *m2 = model_copy(m);
    put_s(db, "key00001", "after s2");
    model_put(m, "key00001", 8, "after s2", 8);

    check_model(db, s1, m1, "snapshot 1");
    check_model(db, s2, m2, "snapshot 2");
    check_model(db, NULL, m, "latest");
    assert_int_equal(lsmer_flush(db), 0);
    assert_int_equal(lsmer_compact_range(db, NULL), 0);
    check_model(db, s1, m1, "snapshot 1 after compaction");
    check_model(db, s2, m2, "snapshot 2 after compaction");
    check_model(db, NULL, m, "latest after compaction");
    lsmer_snapshot_release(db, s1);
    assert_int_equal(lsmer_compact_range(db, NULL), 0);
    check_model(db, s2, m2, "snapshot 2 after release of 1");
    lsmer_stats st;
    assert_int_equal(lsmer_get_stats(db, &st), 0);
    assert_int_equal(st.live_snapshots, 1);
    lsmer_snapshot_release(db, s2);
    assert_int_equal(lsmer_get_stats(db, &st), 0);
    assert_int_equal(st.live_snapshots, 0);
    lsmer_close(db);
    db = open_db(dir, &o);
    check_model(db, NULL, m, "reopened");
    lsmer_close(db);
    model_free(m);
    model_free(m1);
    model_free(m2);
    done_dir(dir);
}

/* ---- reopen, flushes, compactions, stats -------------------------------- */

static void random_fill(lsmer_db *db, struct model *m, struct rng *r, int n, int keyspace)
{
    char k[32];
    unsigned char v[300];
    for (int i = 0; i < n; i++) {
        int kn = snprintf(k, sizeof(k), "r%07d", (int)rng_uniform(r, (uint64_t)keyspace));
        uint64_t op = rng_uniform(r, 20);
        if (op == 0) {
            assert_int_equal(lsmer_delete(db, k, (size_t)kn), 0);
            model_delete(m, k, (size_t)kn);
        } else if (op == 1) {
            char e[32];
            int en = snprintf(e, sizeof(e), "r%07d", (int)rng_uniform(r, (uint64_t)keyspace));
            assert_int_equal(lsmer_delete_range(db, k, (size_t)kn, e, (size_t)en), 0);
            model_delete_range(m, k, (size_t)kn, e, (size_t)en);
        } else {
            size_t vn = (size_t)rng_uniform(r, sizeof(v));
            rng_bytes(r, v, vn);
            assert_int_equal(lsmer_put(db, k, (size_t)kn, v, vn), 0);
            model_put(m, k, (size_t)kn, v, vn);
        }
    }
}

static void reopen_keeps_everything(void **state)
{
    (void)state;
    struct rng r;
    rng_init(&r, test_seed("reopen_keeps_everything"));
    for (int flush = 0; flush < 2; flush++) {
        char *dir = test_tmpdir("basic-reopen");
        lsmer_db *db = open_db(dir, NULL);
        struct model *m = model_new();
        random_fill(db, m, &r, 3000, 1000);
        if (flush) assert_int_equal(lsmer_flush(db), 0);
        random_fill(db, m, &r, 500, 1000); /* and some only in the WAL */
        lsmer_close(db);
        db = open_db(dir, NULL);
        check_model(db, NULL, m, flush ? "reopen after flush" : "reopen without flush");
        random_fill(db, m, &r, 500, 1000);
        lsmer_close(db);
        db = open_db(dir, NULL);
        check_model(db, NULL, m, "second reopen");
        lsmer_close(db);
        model_free(m);
        done_dir(dir);
    }
}

static void small_memtable_flush_and_compact(void **state)
{
    (void)state;
    char *dir = test_tmpdir("basic-small");
    lsmer_options o;
    quiet_options(&o);
    o.memtable_size = 64 << 10;
    o.level1_size = 256 << 10;
    o.target_file_size = 64 << 10;
    o.level_multiplier = 4;
    o.block_cache_size = 256 << 10;
    lsmer_db *db = open_db(dir, &o);
    struct model *m = model_new();
    struct rng r;
    rng_init(&r, test_seed("small_memtable_flush_and_compact"));
    lsmer_stats st0, st;
    assert_int_equal(lsmer_get_stats(db, &st0), 0);
    assert_int_equal(st0.background_error, 0);
    random_fill(db, m, &r, 20000, 5000); /* ~3 MB of writes */
    assert_int_equal(lsmer_wait_idle(db), 0);
    assert_int_equal(lsmer_get_stats(db, &st), 0);
    assert_true(st.user_bytes_written > st0.user_bytes_written + 1000000);
    assert_true(st.wal_bytes_written >= st.user_bytes_written / 2);
    assert_true(st.flushes > 1);
    assert_true(st.flush_bytes_written > 0);
    assert_true(st.compactions > 0);
    assert_true(st.compaction_bytes_written > 0);
    assert_true(st.table_bytes > 0);
    assert_true(st.levels > 1 && st.levels <= LSMER_MAX_LEVELS);
    uint64_t files = 0, bytes = 0;
    int deeper = 0;
    for (int i = 0; i < st.levels; i++) {
        files += st.level[i].files;
        bytes += st.level[i].bytes;
        if (i > 0 && st.level[i].files) deeper = 1;
    }
    assert_true(files > 0);
    assert_true(deeper); /* compaction moved data below L0 */
    assert_true(bytes == st.table_bytes);
    assert_int_equal(st.background_error, 0);
    assert_true(st.last_sequence >= 20000);
    check_model(db, NULL, m, "small memtable");

    assert_int_equal(lsmer_compact_range(db, NULL), 0);
    assert_int_equal(lsmer_get_stats(db, &st), 0);
    assert_int_equal(st.level[0].files, 0);
    check_model(db, NULL, m, "after compact_range");
    /* a partial range */
    random_fill(db, m, &r, 3000, 5000);
    lsmer_range cr = {"r0001000", 8, "r0002000", 8};
    assert_int_equal(lsmer_compact_range(db, &cr), 0);
    check_model(db, NULL, m, "after partial compact_range");
    lsmer_close(db);
    db = open_db(dir, &o);
    check_model(db, NULL, m, "small memtable reopened");
    assert_int_equal(lsmer_get_stats(db, &st), 0);
    assert_true(st.table_bytes > 0);
    lsmer_close(db);
    model_free(m);
    done_dir(dir);
}

static void compaction_threshold_validation(void **state)
{
    (void)state;
    char *dir = test_tmpdir("basic-thresh");
    lsmer_db *db = open_db(dir, NULL);
    assert_int_equal(lsmer_set_compaction_threshold(db, 0.0), -EINVAL);
    assert_int_equal(lsmer_set_compaction_threshold(db, -1.0), -EINVAL);
    assert_int_equal(lsmer_set_compaction_threshold(db, 16.0001), -EINVAL);
    assert_int_equal(lsmer_set_compaction_threshold(db, NAN), -EINVAL);
    assert_int_equal(lsmer_set_compaction_threshold(db, INFINITY), -EINVAL);
    assert_int_equal(lsmer_set_compaction_threshold(db, 16.0), 0);
    assert_int_equal(lsmer_set_compaction_threshold(db, 0.25), 0);
    assert_int_equal(lsmer_set_compaction_threshold(db, 1.0), 0);
    lsmer_close(db);
    /* an invalid value in the options is refused at open */
    lsmer_options o;
    quiet_options(&o);
    o.compaction_threshold = 0;
    lsmer_db *bad = NULL;
    assert_int_equal(lsmer_open(dir, &o, &bad), -EINVAL);
    assert_null(bad);
    done_dir(dir);
}

/* A low threshold compacts sooner: with the same writes, more compaction
 * work is done at 0.3 than at 8. */
static void compaction_threshold_effect(void **state)
{
    (void)state;
    uint64_t work[2];
    double th[2] = {0.3, 8.0};
    for (int i = 0; i < 2; i++) {
        char *dir = test_tmpdir("basic-thresh2");
        lsmer_options o;
        quiet_options(&o);
        o.memtable_size = 64 << 10;
        o.level1_size = 256 << 10;
        o.target_file_size = 64 << 10;
        o.l0_stop_trigger = 1000;
        o.l0_slowdown_trigger = 1000;
        lsmer_db *db = open_db(dir, &o);
        assert_int_equal(lsmer_set_compaction_threshold(db, th[i]), 0);
        struct model *m = model_new();
        struct rng r;
        rng_init(&r, 42);
        random_fill(db, m, &r, 15000, 100000);
        assert_int_equal(lsmer_wait_idle(db), 0);
        lsmer_stats st;
        assert_int_equal(lsmer_get_stats(db, &st), 0);
        work[i] = st.compaction_bytes_written;
        check_model(db, NULL, m, "threshold");
        lsmer_close(db);
        model_free(m);
        done_dir(dir);
    }
    fprintf(stderr, "compaction bytes written: threshold 0.3: %llu, 8: %llu\n",
            (unsigned long long)work[0], (unsigned long long)work[1]);
    assert_true(work[0] > work[1]);
}

/* ---- regression tests for engine bugs found here ------------------------ */

static void watchdog_fired(int sig)
{
    (void)sig;
    static const char msg[] = "test_db_basic: watchdog: a test ran over 120 s (engine hang?)\n";
    if (write(2, msg, sizeof(msg) - 1) < 0) _exit(3);
    _exit(2);
}

/* Found by test_db_model: with memtable_size at or below the arena's first
 * block (64 KiB) an empty memtable already counted as full, so the first
 * write waited forever while the flush thread spun; after the first fix,
 * every single write still switched the memtable and flushed a one-entry
 * table. 20 KB of writes must fit in a 32 KiB memtable. */
static void bug_tiny_memtable_flushes_every_write(void **state)
{
    (void)state;
    char *dir = test_tmpdir("basic-tinymem");
    static const size_t sizes[] = {32 << 10, 64 << 10};
    for (int i = 0; i < 2; i++) {
        lsmer_options o;
        quiet_options(&o);
        o.memtable_size = sizes[i];
        lsmer_db *db = open_db(dir, &o);
        lsmer_stats st0, st;
        assert_int_equal(lsmer_get_stats(db, &st0), 0);
        char k[32];
        for (int j = 0; j < 400; j++) {
            snprintf(k, sizeof(k), "tiny%d-%06d", i, j);
            put_s(db, k, "0123456789012345678901234567890123456789");
        }
        expect_s(db, NULL, "tiny0-000000", "0123456789012345678901234567890123456789");
        assert_int_equal(lsmer_get_stats(db, &st), 0);
        if (st.flushes - st0.flushes > 4)
            fprintf(stderr, "memtable %zu: %llu flushes for 400 small writes\n", sizes[i],
                    (unsigned long long)(st.flushes - st0.flushes));
        assert_true(st.flushes - st0.flushes <= 4);
        lsmer_close(db);
    }
    done_dir(dir);
}

/* Found by test_db_model (seed 1795567451416057, a range-deleted key came
 * back): when a compaction splits its output between two kept keys and the
 * keys in between are dropped because a range tombstone covers them, the
 * next output's tombstones are clipped from its first KEPT key, so the
 * dropped span is covered by no output and older versions in deeper levels
 * come back. Values larger than the target file size put one key in each
 * output, so every boundary is such a split. */
static void bug_range_tombstone_lost_between_outputs(void **state)
{
    (void)state;
    char *dir = test_tmpdir("basic-rdel-gap");
    lsmer_options o;
    quiet_options(&o);
    o.target_file_size = 4096;
    o.level1_size = 8192;
    o.level_multiplier = 2;
    o.l0_compaction_trigger = 2;
    lsmer_db *db = open_db(dir, &o);
    struct rng r;
    rng_init(&r, 1);
    size_t vn = 5000;
    unsigned char *v = malloc(vn);
    assert_non_null(v);
    char k[16];
    for (int gen = 1; gen <= 2; gen++) {
        for (int i = 0; i < 20; i++) {
            rng_bytes(&r, v, vn); /* incompressible */
            v[0] = (unsigned char)gen;
            snprintf(k, sizeof(k), "k%02d", i);
            assert_int_equal(lsmer_put(db, k, 3, v, vn), 0);
        }
        assert_int_equal(lsmer_flush(db), 0);
        if (gen == 1) { /* the old versions go deep */
            assert_int_equal(lsmer_compact_range(db, NULL), 0);
            assert_int_equal(lsmer_wait_idle(db), 0);
        }
    }
    assert_int_equal(lsmer_delete_range(db, "k05", 3, "k15", 3), 0);
    assert_int_equal(lsmer_flush(db), 0);
    assert_int_equal(lsmer_wait_idle(db), 0);
    lsmer_buf b = {0};
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof(k), "k%02d", i);
        int rc = lsmer_get(db, NULL, k, 3, &b);
        if (i >= 5 && i < 15) {
            if (rc != -ENOENT)
                fprintf(stderr, "%s: range-deleted key came back (generation %d)\n", k,
                        rc == 0 ? ((unsigned char *)b.data)[0] : -1);
            assert_int_equal(rc, -ENOENT);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(((unsigned char *)b.data)[0], 2);
        }
    }
    lsmer_buf_free(&b);
    free(v);
    lsmer_close(db);
    done_dir(dir);
}

/* Every test runs under a watchdog, so a hang fails in minutes. */
static int arm_watchdog(void **state)
{
    (void)state;
    signal(SIGALRM, watchdog_fired);
    alarm(120);
    return 0;
}

static int disarm_watchdog(void **state)
{
    (void)state;
    alarm(0);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(bug_tiny_memtable_flushes_every_write, arm_watchdog,
                                        disarm_watchdog),
        cmocka_unit_test_setup_teardown(bug_range_tombstone_lost_between_outputs, arm_watchdog,
                                        disarm_watchdog),
        cmocka_unit_test_setup_teardown(open_put_get_delete, arm_watchdog, disarm_watchdog),
        cmocka_unit_test_setup_teardown(open_rules, arm_watchdog, disarm_watchdog),
        cmocka_unit_test_setup_teardown(lock_excludes_second_open, arm_watchdog, disarm_watchdog),
        cmocka_unit_test_setup_teardown(read_only_open, arm_watchdog, disarm_watchdog),
        cmocka_unit_test_setup_teardown(binary_and_large_keys, arm_watchdog, disarm_watchdog),
        cmocka_unit_test_setup_teardown(large_value, arm_watchdog, disarm_watchdog),
        cmocka_unit_test_setup_teardown(batches, arm_watchdog, disarm_watchdog),
        cmocka_unit_test_setup_teardown(iteration_bounds, arm_watchdog, disarm_watchdog),
        cmocka_unit_test_setup_teardown(snapshots_keep_old_values, arm_watchdog, disarm_watchdog),
        cmocka_unit_test_setup_teardown(reopen_keeps_everything, arm_watchdog, disarm_watchdog),
        cmocka_unit_test_setup_teardown(small_memtable_flush_and_compact, arm_watchdog,
                                        disarm_watchdog),
        cmocka_unit_test_setup_teardown(compaction_threshold_validation, arm_watchdog,
                                        disarm_watchdog),
        cmocka_unit_test_setup_teardown(compaction_threshold_effect, arm_watchdog, disarm_watchdog),
    };
    /* LSMER_TEST_FILTER=pattern runs only the matching tests (cmocka's * and ?) */
    const char *filter = getenv("LSMER_TEST_FILTER");
    if (filter) cmocka_set_test_filter(filter);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
