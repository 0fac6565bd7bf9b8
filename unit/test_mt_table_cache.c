/*
 * test_mt_table_cache.c — the table cache over real tables in a scratch
 * directory, seen through a counting env (a wrapper around the POSIX env
 * that counts the files open for reading), so the tests check what is
 * actually open on disk, not only what the cache says.
 *
 * Single-threaded: hits share one table, idle tables beyond max_open are
 * closed least recently used first, tables in use are never closed (also
 * when evicted), evict closes idle tables, a missing or corrupt file is an
 * error and nothing is cached for it, and the cache's iterator holds its
 * table until destroyed. Then several threads get, read, iterate, release
 * and evict at random (this is why the file is test_mt_: the
 * ThreadSanitizer build runs it), and at the end everything adds up.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsmer.h"

#include "dbformat.h"
#include "env.h"
#include "filemeta.h"
#include "filename.h"
#include "iterator.h"
#include "table_builder.h"
#include "table_cache.h"
#include "table_reader.h"
#include "testutil.h"

#define NFILES 10
#define NKEYS 200

/* ---- counting env (test double) ------------------------------------------ */

struct count_env {
    struct lsmer_env base;
    struct lsmer_env *inner;
    atomic_int live_reads; /* files open with ENV_READ */
    atomic_int read_opens;
};

struct count_file {
    struct env_file base;
    struct env_file *inner;
    int reading;
};

static struct count_env *cenv_of(struct lsmer_env *e)
{
    return (struct count_env *)e;
}

static int c_open(struct lsmer_env *env, const char *path, int mode, struct env_file **out)
{
    struct count_env *ce = cenv_of(env);
    struct count_file *cf = calloc(1, sizeof(*cf));
    if (!cf) return -ENOMEM;
    int rc = env_open(ce->inner, path, mode, &cf->inner);
    if (rc) {
        free(cf);
        return rc;
    }
    cf->base.env = env;
    cf->reading = mode == ENV_READ;
    if (cf->reading) {
        atomic_fetch_add(&ce->live_reads, 1);
        atomic_fetch_add(&ce->read_opens, 1);
    }
    *out = &cf->base;
    return 0;
}
static int c_pread(struct env_file *f, void *buf, size_t n, uint64_t off, size_t *got)
{
    return env_pread(((struct count_file *)f)->inner, buf, n, off, got);
}
static int c_append(struct env_file *f, const void *buf, size_t n)
{
    return env_append(((struct count_file *)f)->inner, buf, n);
}
static int c_sync(struct env_file *f)
{
    return env_sync(((struct count_file *)f)->inner);
}
static int c_size(struct env_file *f, uint64_t *out)
{
    return env_size(((struct count_file *)f)->inner, out);
}
static int c_close(struct env_file *f)
{
    struct count_file *cf = (struct count_file *)f;
    if (cf->reading) atomic_fetch_sub(&cenv_of(f->env)->live_reads, 1);
    int rc = env_close(cf->inner);
    free(cf);
    return rc;
}
static int c_file_size(struct lsmer_env *e, const char *path, uint64_t *out)
{
    return env_file_size(cenv_of(e)->inner, path, out);
}
static int c_exists(struct lsmer_env *e, const char *path)
{
    return env_exists(cenv_of(e)->inner, path);
}
static int c_remove(struct lsmer_env *e, const char *path)
{
    return env_remove(cenv_of(e)->inner, path);
}
static int c_rename(struct lsmer_env *e, const char *from, const char *to)
{
    return env_rename(cenv_of(e)->inner, from, to);
}
static int c_mkdir(struct lsmer_env *e, const char *path)
{
    return env_mkdir(cenv_of(e)->inner, path);
}
static int c_sync_dir(struct lsmer_env *e, const char *dir)
{
    return env_sync_dir(cenv_of(e)->inner, dir);
}
static int c_list(struct lsmer_env *e, const char *dir, char ***names, size_t *count)
{
    return env_list(cenv_of(e)->inner, dir, names, count);
}
static int c_lock(struct lsmer_env *e, const char *path, struct env_lock **out)
{
    return env_lock(cenv_of(e)->inner, path, out);
}
static void c_unlock(struct lsmer_env *e, struct env_lock *lk)
{
    env_unlock(cenv_of(e)->inner, lk);
}
static int c_free_space(struct lsmer_env *e, const char *dir, uint64_t *avail, uint64_t *total)
{
    return env_free_space(cenv_of(e)->inner, dir, avail, total);
}
static uint64_t c_now(struct lsmer_env *e)
{
    return env_now_micros(cenv_of(e)->inner);
}
static void c_destroy(struct lsmer_env *e)
{
    (void)e;
}
static const struct env_ops count_ops = {
    .open = c_open,
    .pread = c_pread,
    .append = c_append,
    .sync = c_sync,
    .size = c_size,
    .close = c_close,
    .file_size = c_file_size,
    .exists = c_exists,
    .remove = c_remove,
    .rename = c_rename,
    .mkdir = c_mkdir,
    .sync_dir = c_sync_dir,
    .list = c_list,
    .lock = c_lock,
    .unlock = c_unlock,
    .free_space = c_free_space,
    .now_micros = c_now,
    .destroy = c_destroy,
};

/* ---- fixture: NFILES tables of NKEYS keys each ---------------------------- */

struct fixture {
    char *dir;
    struct count_env env;
    struct table_options topt;
    struct file_meta *meta[NFILES + 1]; /* 1..NFILES */
};

static void key_of(char *buf, size_t cap, int file, int i)
{
    snprintf(buf, cap, "f%02d-k%04d", file, i);
}

static void build_table(struct fixture *fx, int number)
{
    char path[4096];
    assert_int_equal(filename_table(path, sizeof(path), fx->dir, (uint64_t)number), 0);
    struct env_file *f;
    assert_int_equal(env_open(&fx->env.base, path, ENV_WRITE, &f), 0);
    struct table_builder *b;
    assert_int_equal(table_builder_new(f, &fx->topt, &b), 0);
    struct buffer first = BUFFER_INIT, last = BUFFER_INIT, ik = BUFFER_INIT;
    for (int i = 0; i < NKEYS; i++) {
        char k[32], v[32];
        key_of(k, sizeof(k), number, i);
        int vn = snprintf(v, sizeof(v), "value-%d-%d", number, i);
        buffer_clear(&ik);
        assert_int_equal(ikey_append(&ik, k, strlen(k), 100, TYPE_VALUE), 0);
        assert_int_equal(table_builder_add(b, buffer_slice(&ik), slice_make(v, (size_t)vn)), 0);
        if (i == 0) assert_int_equal(buffer_set(&first, ik.p, ik.n), 0);
        if (i == NKEYS - 1) assert_int_equal(buffer_set(&last, ik.p, ik.n), 0);
    }
    assert_int_equal(table_builder_finish(b), 0);
    struct file_meta *m = file_meta_new();
    assert_non_null(m);
    m->number = (uint64_t)number;
    m->file_size = table_builder_file_size(b);
    assert_int_equal(file_meta_set_keys(m, buffer_slice(&first), buffer_slice(&last)), 0);
    table_builder_free(b);
    assert_int_equal(env_close(f), 0);
    fx->meta[number] = m;
    buffer_free(&first);
    buffer_free(&last);
    buffer_free(&ik);
}

static int fx_setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx) return -1;
    fx->dir = test_tmpdir("test_table_cache");
    fx->env.base.ops = &count_ops;
    fx->env.inner = env_posix_default();
    table_options_init(&fx->topt);
    fx->topt.block_size = 512; /* several blocks per table */
    for (int n = 1; n <= NFILES; n++) build_table(fx, n);
    *state = fx;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fixture *fx = *state;
    for (int n = 1; n <= NFILES; n++) file_meta_unref(fx->meta[n]);
    test_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

static int live(struct fixture *fx)
{
    return atomic_load(&fx->env.live_reads);
}
static int opens(struct fixture *fx)
{
    return atomic_load(&fx->env.read_opens);
}

/* Whether key i of file is in t with its value. No cmocka asserts: the
 * worker threads call it too. */
static int lookup_ok(struct table *t, int file, int i)
{
    char k[32], v[32];
    key_of(k, sizeof(k), file, i);
    int vn = snprintf(v, sizeof(v), "value-%d-%d", file, i);
    struct buffer lk = BUFFER_INIT, val = BUFFER_INIT;
    int ok = ikey_append(&lk, k, strlen(k), SEQ_MAX, TYPE_SEEK) == 0 &&
             table_get(t, buffer_slice(&lk), NULL, &val) == 1 && val.n == (size_t)vn &&
             memcmp(val.p, v, val.n) == 0;
    buffer_free(&lk);
    buffer_free(&val);
    return ok;
}

static void check_lookup(struct table *t, int file, int i)
{
    assert_true(lookup_ok(t, file, i));
}

/* get + lookup + release of file n; 1 if all went well */
static int touch_ok(struct table_cache *tc, struct fixture *fx, int n)
{
    struct table *t;
    struct tc_handle *h;
    if (table_cache_get(tc, fx->meta[n], &t, &h) != 0) return 0;
    int ok = lookup_ok(t, n, n * 7 % NKEYS);
    table_cache_release(tc, h);
    return ok;
}

static void touch(struct table_cache *tc, struct fixture *fx, int n)
{
    assert_true(touch_ok(tc, fx, n));
}

/* ---- single-threaded ------------------------------------------------------ */

static void hits_share_one_table(void **state)
{
    struct fixture *fx = *state;
    struct table_cache *tc;
    assert_int_equal(table_cache_new(&fx->env.base, fx->dir, &fx->topt, 4, &tc), 0);
    int o0 = opens(fx);
    struct table *t1, *t2;
    struct tc_handle *h1, *h2;
    assert_int_equal(table_cache_get(tc, fx->meta[3], &t1, &h1), 0);
    assert_int_equal(table_cache_get(tc, fx->meta[3], &t2, &h2), 0);
    assert_ptr_equal(t1, t2);
    assert_int_equal(opens(fx) - o0, 1);
    for (int i = 0; i < NKEYS; i += 17) check_lookup(t1, 3, i);
    table_cache_release(tc, h1);
    table_cache_release(tc, h2);
    assert_int_equal(table_cache_open_count(tc), 1);
    assert_int_equal(live(fx), 1);
    table_cache_free(tc);
    assert_int_equal(live(fx), 0);
    assert_int_equal(table_cache_new(&fx->env.base, fx->dir, &fx->topt, 0, &tc), -EINVAL);
    assert_null(tc);
}

static void lru_closes_oldest_idle(void **state)
{
    struct fixture *fx = *state;
    struct table_cache *tc;
    assert_int_equal(table_cache_new(&fx->env.base, fx->dir, &fx->topt, 3, &tc), 0);
    touch(tc, fx, 1);
    touch(tc, fx, 2);
    touch(tc, fx, 3);
    touch(tc, fx, 1); /* 2 is now the least recently used */
    assert_int_equal(live(fx), 3);
    touch(tc, fx, 4); /* evicts 2 */
    assert_int_equal(live(fx), 3);
    assert_int_equal(table_cache_open_count(tc), 3);
    int o = opens(fx);
    touch(tc, fx, 1);
    touch(tc, fx, 3);
    touch(tc, fx, 4);
    assert_int_equal(opens(fx), o); /* all hits */
    touch(tc, fx, 2);
    assert_int_equal(opens(fx), o + 1); /* reopened, evicting 1 */
    assert_int_equal(live(fx), 3);
    touch(tc, fx, 1);
    assert_int_equal(opens(fx), o + 2);
    table_cache_free(tc);
    assert_int_equal(live(fx), 0);
}

static void in_use_never_closed(void **state)
{
    struct fixture *fx = *state;
    struct table_cache *tc;
    assert_int_equal(table_cache_new(&fx->env.base, fx->dir, &fx->topt, 2, &tc), 0);
    struct table *t[NFILES + 1];
    struct tc_handle *h[NFILES + 1];
    for (int n = 1; n <= NFILES; n++)
        assert_int_equal(table_cache_get(tc, fx->meta[n], &t[n], &h[n]), 0);
    /* all held: all open, above max_open */
    assert_int_equal(live(fx), NFILES);
    assert_int_equal(table_cache_open_count(tc), NFILES);
    for (int n = 1; n <= NFILES; n++) check_lookup(t[n], n, NKEYS - 1);
    /* evicting a held table keeps it usable until released */
    table_cache_evict(tc, 5);
    check_lookup(t[5], 5, 0);
    assert_int_equal(live(fx), NFILES);
    table_cache_release(tc, h[5]);
    assert_int_equal(live(fx), NFILES - 1);
    /* release in order; the idle ones beyond 2 close, the last two stay */
    for (int n = 1; n <= NFILES; n++) {
        if (n == 5) continue;
        table_cache_release(tc, h[n]);
        if (n < NFILES) check_lookup(t[NFILES], NFILES, 3); /* still held */
    }
    assert_int_equal(live(fx), 2);
    int o = opens(fx);
    touch(tc, fx, NFILES);
    touch(tc, fx, NFILES - 1);
    assert_int_equal(opens(fx), o);
    table_cache_release(tc, NULL);
    table_cache_free(tc);
    assert_int_equal(live(fx), 0);
}

static void evict_idle_closes(void **state)
{
    struct fixture *fx = *state;
    struct table_cache *tc;
    assert_int_equal(table_cache_new(&fx->env.base, fx->dir, &fx->topt, 8, &tc), 0);
    touch(tc, fx, 1);
    touch(tc, fx, 2);
    assert_int_equal(live(fx), 2);
    table_cache_evict(tc, 1);
    assert_int_equal(live(fx), 1);
    table_cache_evict(tc, 1);  /* again: nothing */
    table_cache_evict(tc, 77); /* never opened */
    assert_int_equal(table_cache_open_count(tc), 1);
    int o = opens(fx);
    touch(tc, fx, 1); /* opens again */
    assert_int_equal(opens(fx), o + 1);
    table_cache_free(tc);
    assert_int_equal(live(fx), 0);
}

static void open_errors(void **state)
{
    struct fixture *fx = *state;
    struct table_cache *tc;
    assert_int_equal(table_cache_new(&fx->env.base, fx->dir, &fx->topt, 4, &tc), 0);
    struct file_meta *missing = file_meta_clone(fx->meta[1]);
    missing->number = 99;
    struct table *t;
    struct tc_handle *h;
    assert_int_equal(table_cache_get(tc, missing, &t, &h), -ENOENT);
    assert_null(t);
    assert_null(h);
    struct iter *it = table_cache_iter(tc, missing);
    iter_seek_first(it);
    assert_false(iter_valid(it));
    assert_int_equal(iter_status(it), -ENOENT);
    iter_destroy(it);

    /* a corrupt file: garbage of the right size */
    char path[4096];
    assert_int_equal(filename_table(path, sizeof(path), fx->dir, 98), 0);
    struct env_file *f;
    assert_int_equal(env_open(&fx->env.base, path, ENV_WRITE, &f), 0);
    uint8_t junk[1000];
    memset(junk, 0x5a, sizeof(junk));
    assert_int_equal(env_append(f, junk, sizeof(junk)), 0);
    assert_int_equal(env_close(f), 0);
    missing->number = 98;
    missing->file_size = sizeof(junk);
    assert_int_equal(table_cache_get(tc, missing, &t, &h), -LSMER_ECORRUPT);
    assert_int_equal(table_cache_open_count(tc), 0);
    assert_int_equal(live(fx), 0); /* the failed opens closed their files */
    /* the file is repaired: the next get succeeds (nothing was cached) */
    assert_int_equal(env_remove(&fx->env.base, path), 0);
    char good[4096];
    assert_int_equal(filename_table(good, sizeof(good), fx->dir, 1), 0);
    void *data;
    size_t len;
    assert_int_equal(env_read_file(&fx->env.base, good, &data, &len), 0);
    assert_int_equal(env_open(&fx->env.base, path, ENV_WRITE, &f), 0);
    assert_int_equal(env_append(f, data, len), 0);
    assert_int_equal(env_close(f), 0);
    free(data);
    missing->file_size = len;
    assert_int_equal(table_cache_get(tc, missing, &t, &h), 0);
    check_lookup(t, 1, 5);
    table_cache_release(tc, h);
    file_meta_unref(missing);
    table_cache_free(tc);
    assert_int_equal(live(fx), 0);
}

static void iterator_holds_table(void **state)
{
    struct fixture *fx = *state;
    struct table_cache *tc;
    assert_int_equal(table_cache_new(&fx->env.base, fx->dir, &fx->topt, 1, &tc), 0);
    struct iter *it = table_cache_iter(tc, fx->meta[4]);
    table_cache_evict(tc, 4);
    touch(tc, fx, 6); /* fills the only idle slot */
    touch(tc, fx, 7);
    int i = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it), i++) {
        char k[32];
        key_of(k, sizeof(k), 4, i);
        struct slice u = ikey_user(iter_key(it));
        assert_int_equal(u.n, strlen(k));
        assert_memory_equal(u.p, k, u.n);
    }
    assert_int_equal(i, NKEYS);
    assert_int_equal(iter_status(it), 0);
    assert_int_equal(live(fx), 2); /* 4 (held by it) and 7 */
    iter_destroy(it);
    assert_int_equal(live(fx), 1);
    table_cache_free(tc);
    assert_int_equal(live(fx), 0);
}

/* ---- threads -------------------------------------------------------------- */

struct worker {
    pthread_t th;
    struct fixture *fx;
    struct table_cache *tc;
    uint64_t seed;
    int ops;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct rng r;
    rng_init(&r, w->seed);
    struct tc_handle *held[4] = {NULL};
    struct table *held_t[4];
    int held_n[4];
    for (int op = 0; op < w->ops; op++) {
        int n = 1 + (int)rng_uniform(&r, NFILES);
        int slot = (int)rng_uniform(&r, 4);
        switch (rng_uniform(&r, 6)) {
        case 0:
        case 1: /* hold a table for a while */
            table_cache_release(w->tc, held[slot]);
            held[slot] = NULL;
            if (table_cache_get(w->tc, w->fx->meta[n], &held_t[slot], &held[slot]) == 0)
                held_n[slot] = n;
            else
                abort();
            break;
        case 2: /* use a held one */
            if (held[slot] && !lookup_ok(held_t[slot], held_n[slot], (int)rng_uniform(&r, NKEYS)))
                abort();
            break;
        case 3: { /* a short scan */
            struct iter *it = table_cache_iter(w->tc, w->fx->meta[n]);
            iter_seek_first(it);
            for (int i = 0; i < 20 && iter_valid(it); i++) iter_next(it);
            if (iter_status(it) != 0) abort();
            iter_destroy(it);
            break;
        }
        case 4:
            table_cache_evict(w->tc, (uint64_t)n);
            break;
        default:
            if (!touch_ok(w->tc, w->fx, n)) abort();
        }
    }
    for (int i = 0; i < 4; i++) table_cache_release(w->tc, held[i]);
    return NULL;
}

static void threads(void **state)
{
    struct fixture *fx = *state;
    struct table_cache *tc;
    assert_int_equal(table_cache_new(&fx->env.base, fx->dir, &fx->topt, 3, &tc), 0);
    uint64_t seed = test_seed("table_cache_threads");
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.fx = fx,
                               .tc = tc,
                               .seed = seed + (uint64_t)i * 7919,
                               .ops = (int)(20000 * test_scale())};
        assert_int_equal(pthread_create(&w[i].th, NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(w[i].th, NULL);
    /* nothing held: at most max_open idle tables, and the env agrees */
    assert_true(table_cache_open_count(tc) <= 3);
    assert_int_equal(live(fx), (int)table_cache_open_count(tc));
    table_cache_free(tc);
    assert_int_equal(live(fx), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hits_share_one_table),
        cmocka_unit_test(lru_closes_oldest_idle),
        cmocka_unit_test(in_use_never_closed),
        cmocka_unit_test(evict_idle_closes),
        cmocka_unit_test(open_errors),
        cmocka_unit_test(iterator_holds_table),
        cmocka_unit_test(threads),
    };
    return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
