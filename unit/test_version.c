/* test_version.c — file names, and the version set: create / apply /
 * recover across reopen with random edits checked against a model of the
 * level layout; manifest rolling; a torn manifest tail; corruption in the
 * middle; CURRENT problems; IO errors and simulated power loss; version
 * pinning and live files; overlap queries. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <cmocka.h>

#include "lsmer.h"

#include "dbformat.h"
#include "env.h"
#include "env_fault.h"
#include "filename.h"
#include "version.h"
#include "testutil.h"

static struct rng rng;

/* ---- file names ------------------------------------------------------ */

static void filenames(void **state)
{
    (void)state;
    char buf[64];
    uint64_t n;
    enum file_kind k;
    static const uint64_t nums[] = {1, 123, 999999, 1000000, UINT64_MAX};
    static const enum file_kind kinds[] = {FILE_KIND_MANIFEST, FILE_KIND_LOG, FILE_KIND_TABLE,
                                           FILE_KIND_TEMP};
    for (size_t i = 0; i < 5; i++) {
        for (size_t j = 0; j < 4; j++) {
            assert_int_equal(filename_make(buf, sizeof(buf), NULL, kinds[j], nums[i]), 0);
            assert_int_equal(filename_parse(buf, &n, &k), 0);
            assert_true(n == nums[i]);
            assert_int_equal(k, kinds[j]);
        }
    }
    assert_int_equal(filename_table(buf, sizeof(buf), "/d", 7), 0);
    assert_string_equal(buf, "/d/000007.sst");
    assert_int_equal(filename_manifest(buf, sizeof(buf), NULL, 123), 0);
    assert_string_equal(buf, "MANIFEST-000123");
    assert_int_equal(filename_log(buf, 10, NULL, 7), -ENAMETOOLONG); /* needs 11 */
    assert_int_equal(filename_log(buf, 11, NULL, 7), 0);
    assert_int_equal(filename_log(buf, 10, "dir", 7), -ENAMETOOLONG);
    assert_int_equal(filename_parse("CURRENT", &n, &k), 0);
    assert_int_equal(k, FILE_KIND_CURRENT);
    assert_int_equal(filename_parse("LOCK", &n, &k), 0);
    assert_int_equal(k, FILE_KIND_LOCK);
    assert_int_equal(filename_parse("CURRENT.tmp", &n, &k), 0);
    assert_int_equal(k, FILE_KIND_TEMP);
    static const char *bad[] = {"",
                                "7.log",
                                "0000007.log",
                                "000007.LOG",
                                "000007.ss",
                                "000007.sst.bak",
                                "MANIFEST-",
                                "MANIFEST-12",
                                "MANIFEST-000012x",
                                "x000012.sst",
                                "99999999999999999999999.log",
                                "current",
                                "LOCK2",
                                ".tmp",
                                "notes.txt"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(filename_parse(bad[i], &n, &k), -EINVAL);
}

/* ---- helpers --------------------------------------------------------- */

static void log_to_stderr(void *arg, int level, const char *msg)
{
    (void)arg;
    if (level <= LSMER_LOG_WARN) fprintf(stderr, "  [vs log %d] %s\n", level, msg);
}

static struct vs_options default_opts(void)
{
    struct vs_options o;
    memset(&o, 0, sizeof(o));
    o.num_levels = LSMER_MAX_LEVELS;
    o.level1_size = 10 << 20;
    o.level_multiplier = 10;
    o.l0_compaction_trigger = 4;
    o.target_file_size = 2 << 20;
    o.manifest_max_size = 4 << 20;
    o.create_if_missing = 1;
    o.log = log_to_stderr;
    return o;
}

static struct file_meta *mkfile(uint64_t number, const char *lo, const char *hi, uint64_t size,
                                uint64_t seq)
{
    struct buffer a = BUFFER_INIT, b = BUFFER_INIT;
    struct file_meta *f = file_meta_new();
    assert_non_null(f);
    f->number = number;
    f->file_size = size;
    f->smallest_seq = 1;
    f->largest_seq = seq;
    ikey_append(&a, lo, strlen(lo), seq, TYPE_VALUE);
    ikey_append(&b, hi, strlen(hi), 1, TYPE_VALUE);
    assert_int_equal(file_meta_set_keys(f, buffer_slice(&a), buffer_slice(&b)), 0);
    buffer_free(&a);
    buffer_free(&b);
    return f;
}

static struct version_set *open_vs(struct lsmer_env *env, const char *dir,
                                   const struct vs_options *o, int expect_rc, int *created)
{
    struct version_set *vs = NULL;
    int c = -1;
    assert_int_equal(version_set_new(env, dir, o, &vs), 0);
    int rc = version_set_recover(vs, &c);
    assert_int_equal(rc, expect_rc);
    if (created) *created = c;
    if (rc) {
        version_set_free(vs);
        return NULL;
    }
    return vs;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static int apply(struct version_set *vs, struct version_edit *e)
{
    pthread_mutex_lock(&mu);
    int rc = version_set_log_and_apply(vs, e, &mu);
    pthread_mutex_unlock(&mu);
    return rc;
}

static int count_manifests(const char *dir)
{
    char **names;
    size_t n;
    int c = 0;
    assert_int_equal(env_list(env_posix_default(), dir, &names, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (!strncmp(names[i], "MANIFEST-", 9)) c++;
    env_free_list(names, n);
    return c;
}

/* ---- the model ------------------------------------------------------- */

#define MAXF 4096
struct mfile {
    uint64_t number, size, seq;
    int level;
};
struct model {
    struct mfile f[MAXF];
    size_t n;
    uint64_t log_number, last_seq;
};

static void key_of(char *buf, uint64_t number, int end)
{
    /* every file gets its own key interval, so any layout is valid */
    snprintf(buf, 32, "k%012llu", (unsigned long long)(number * 10 + (end ? 5 : 0)));
}

/* 1 if the set's current state is m's (no assertion), for outcomes that
 * may legitimately be one of two states. */
static int model_matches(struct version_set *vs, const struct model *m)
{
    struct version *v = version_set_current(vs);
    size_t total = 0;
    for (int l = 0; l < v->num_levels; l++) {
        for (size_t i = 0; i < v->nfiles[l]; i++) {
            size_t j;
            for (j = 0; j < m->n; j++)
                if (m->f[j].number == v->files[l][i]->number) break;
            if (j == m->n || m->f[j].level != l) return 0;
        }
        total += v->nfiles[l];
    }
    return total == m->n && version_set_log_number(vs) == m->log_number &&
           version_set_last_sequence(vs) == m->last_seq;
}

static void check_model(struct version_set *vs, const struct model *m)
{
    struct version *v = version_set_current(vs);
    size_t total = 0;
    for (int l = 0; l < v->num_levels; l++) {
        uint64_t bytes = 0;
        for (size_t i = 0; i < v->nfiles[l]; i++) {
            const struct file_meta *f = v->files[l][i];
            size_t j;
            for (j = 0; j < m->n; j++)
                if (m->f[j].number == f->number) break;
            assert_true(j < m->n);
            assert_int_equal(m->f[j].level, l);
            assert_true(m->f[j].size == f->file_size);
            assert_true(m->f[j].seq == f->largest_seq);
            char k[32];
            key_of(k, f->number, 0);
            assert_memory_equal(f->smallest.p, k, strlen(k));
            bytes += f->file_size;
            if (i > 0) {
                const struct file_meta *p = v->files[l][i - 1];
                if (l == 0)
                    assert_true(p->largest_seq > f->largest_seq ||
                                (p->largest_seq == f->largest_seq && p->number > f->number));
                else
                    assert_true(p->number < f->number); /* keys grow with numbers */
            }
        }
        assert_true(bytes == version_level_bytes(v, l));
        total += v->nfiles[l];
    }
    assert_int_equal(total, m->n);
    assert_true(version_set_log_number(vs) == m->log_number);
    assert_true(version_set_last_sequence(vs) == m->last_seq);
    for (size_t j = 0; j < m->n; j++)
        assert_true(m->f[j].number < version_set_next_file_number(vs));
}

/* One random edit, applied to the model only if apply succeeds. */
static struct model *g_attempt; /* if set, receives the attempted state */

static int random_step(struct version_set *vs, struct model *m)
{
    struct version_edit e;
    struct model next = *m;
    char lo[32], hi[32];
    uint64_t touched[8];
    int nt = 0;
    version_edit_init(&e);
    int ops = 1 + (int)rng_uniform(&rng, 4);
    for (int op = 0; op < ops; op++) {
        int what = (int)rng_uniform(&rng, 3);
        if (next.n < 20 || what == 0) {
            if (next.n >= MAXF) continue;
            struct mfile *mf = &next.f[next.n++];
            mf->number = version_set_new_file_number(vs);
            mf->level = (int)rng_uniform(&rng, LSMER_MAX_LEVELS);
            mf->size = 1 + rng_uniform(&rng, 1 << 20);
            mf->seq = 1 + rng_uniform(&rng, 1000);
            key_of(lo, mf->number, 0);
            key_of(hi, mf->number, 1);
            struct file_meta *f = mkfile(mf->number, lo, hi, mf->size, mf->seq);
            assert_int_equal(version_edit_add_file(&e, mf->level, f), 0);
            file_meta_unref(f);
            touched[nt++] = mf->number;
            continue;
        }
        size_t j = rng_uniform(&rng, next.n);
        int seen = 0;
        for (int i = 0; i < nt; i++) seen |= touched[i] == next.f[j].number;
        if (seen) continue; /* one change per file per edit */
        touched[nt++] = next.f[j].number;
        assert_int_equal(version_edit_delete_file(&e, next.f[j].level, next.f[j].number), 0);
        if (what == 1 || next.f[j].level + 1 >= LSMER_MAX_LEVELS) {
            next.f[j] = next.f[--next.n];
        } else { /* move down a level, as a trivial move does */
            struct mfile *mf = &next.f[j];
            key_of(lo, mf->number, 0);
            key_of(hi, mf->number, 1);
            struct file_meta *f = mkfile(mf->number, lo, hi, mf->size, mf->seq);
            mf->level++;
            assert_int_equal(version_edit_add_file(&e, mf->level, f), 0);
            file_meta_unref(f);
        }
    }
    if (rng_one_in(&rng, 3)) {
        next.log_number = version_set_new_file_number(vs);
        version_edit_set_log_number(&e, next.log_number);
    }
    if (rng_one_in(&rng, 2)) {
        next.last_seq += rng_uniform(&rng, 100);
        pthread_mutex_lock(&mu);
        version_set_set_last_sequence(vs, next.last_seq);
        pthread_mutex_unlock(&mu);
    }
    int rc = apply(vs, &e);
    version_edit_free(&e);
    if (g_attempt) *g_attempt = next;
    if (rc == 0)
        *m = next;
    else
        m->last_seq = next.last_seq; /* a plain counter: set even if apply fails */
    return rc;
}

static void random_edits_across_reopen(const struct vs_options *o, int steps)
{
    char *dir = test_tmpdir("version");
    struct lsmer_env *env = env_posix_default();
    struct model *m = calloc(1, sizeof(*m));
    int created;
    struct version_set *vs = open_vs(env, dir, o, 0, &created);
    assert_int_equal(created, 1);
    check_model(vs, m);
    for (int step = 0; step < steps; step++) {
        assert_int_equal(random_step(vs, m), 0);
        check_model(vs, m);
        if (rng_one_in(&rng, 15)) {
            version_set_free(vs);
            vs = open_vs(env, dir, o, 0, &created);
            assert_int_equal(created, 0);
            check_model(vs, m);
            assert_true(count_manifests(dir) <= 2);
        }
    }
    version_set_free(vs);
    vs = open_vs(env, dir, o, 0, &created);
    check_model(vs, m);
    /* one more apply starts a new manifest and removes the old one */
    assert_int_equal(random_step(vs, m), 0);
    assert_int_equal(count_manifests(dir), 1);
    version_set_free(vs);
    free(m);
    test_rmtree(dir);
    free(dir);
}

static void random_edits(void **state)
{
    (void)state;
    struct vs_options o = default_opts();
    random_edits_across_reopen(&o, 300);
}

static void manifest_roll(void **state)
{
    (void)state;
    struct vs_options o = default_opts();
    o.manifest_max_size = 600; /* roll every few edits */
    random_edits_across_reopen(&o, 300);
}

/* ---- failures -------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void new_and_foreign_directories(void **state)
{
    (void)state;
    struct lsmer_env *env = env_posix_default();
    struct vs_options o = default_opts();
    char *dir = test_tmpdir("version_dirs");
    int created;
    /* no database, create_if_missing = 0 */
    o.create_if_missing = 0;
    open_vs(env, dir, &o, -ENOENT, NULL);
    o.create_if_missing = 1;
    /* a foreign file: not a database */
    write_file(dir, "notes.txt", "hello");
    open_vs(env, dir, &o, -EINVAL, NULL);
    char path[512];
    snprintf(path, sizeof(path), "%s/notes.txt", dir);
    unlink(path);
    /* a table without CURRENT: damaged, never silently recreated */
    write_file(dir, "000005.sst", "x");
    open_vs(env, dir, &o, -LSMER_ECORRUPT, NULL);
    snprintf(path, sizeof(path), "%s/000005.sst", dir);
    unlink(path);
    /* LOCK, a temp file and a stray manifest (a crashed creation) are fine */
    write_file(dir, "LOCK", "");
    write_file(dir, "CURRENT.tmp", "MANIFEST-000009\n");
    write_file(dir, "MANIFEST-000009", "junk");
    struct version_set *vs = open_vs(env, dir, &o, 0, &created);
    assert_int_equal(created, 1);
    assert_true(version_set_manifest_number(vs) == 1);
    version_set_free(vs);
    vs = open_vs(env, dir, &o, 0, &created);
    assert_int_equal(created, 0);
    version_set_free(vs);

    /* CURRENT naming a missing manifest; CURRENT holding garbage */
    write_file(dir, "CURRENT", "MANIFEST-000077\n");
    open_vs(env, dir, &o, -LSMER_ECORRUPT, NULL);
    write_file(dir, "CURRENT", "MANIFEST-000001"); /* no newline */
    open_vs(env, dir, &o, -LSMER_ECORRUPT, NULL);
    write_file(dir, "CURRENT", "000001.log\n");
    open_vs(env, dir, &o, -LSMER_ECORRUPT, NULL);
    write_file(dir, "CURRENT", "MANIFEST-000001\n");
    vs = open_vs(env, dir, &o, 0, &created);
    version_set_free(vs);
    test_rmtree(dir);
    free(dir);
}

static uint64_t file_size_of(const char *path)
{
    uint64_t n;
    assert_int_equal(env_file_size(env_posix_default(), path, &n), 0);
    return n;
}

static void torn_tail_and_corrupt_middle(void **state)
{
    (void)state;
    struct lsmer_env *env = env_posix_default();
    struct vs_options o = default_opts();
    char *dir = test_tmpdir("version_torn");
    struct model *m = calloc(1, sizeof(*m)), *before_last = calloc(1, sizeof(*m));
    int created;
    struct version_set *vs = open_vs(env, dir, &o, 0, &created);
    for (int i = 0; i < 20; i++) assert_int_equal(random_step(vs, m), 0);
    char mpath[512];
    assert_int_equal(filename_manifest(mpath, sizeof(mpath), dir, version_set_manifest_number(vs)),
                     0);
    *before_last = *m;
    uint64_t size_before = file_size_of(mpath);
    assert_int_equal(random_step(vs, m), 0);
    uint64_t size_after = file_size_of(mpath);
    assert_true(size_after > size_before + 8);
    version_set_free(vs);

    /* cut the last record anywhere inside it: a torn tail, the state of
     * the edit before */
    uint64_t cut = size_before + 1 + rng_uniform(&rng, size_after - size_before - 1);
    assert_int_equal(truncate(mpath, (off_t)cut), 0);
    vs = open_vs(env, dir, &o, 0, &created);
    check_model(vs, before_last);
    version_set_free(vs);

    /* a flipped byte inside the first record (followed by good ones) */
    int fd = open(mpath, O_RDWR);
    assert_true(fd >= 0);
    uint8_t byte;
    assert_int_equal(pread(fd, &byte, 1, 12), 1);
    byte ^= 0x40;
    assert_int_equal(pwrite(fd, &byte, 1, 12), 1);
    close(fd);
    open_vs(env, dir, &o, -LSMER_ECORRUPT, NULL);

    /* an empty manifest named by CURRENT */
    assert_int_equal(truncate(mpath, 0), 0);
    open_vs(env, dir, &o, -LSMER_ECORRUPT, NULL);
    free(m);
    free(before_last);
    test_rmtree(dir);
    free(dir);
}

static void invalid_edits_change_nothing(void **state)
{
    (void)state;
    struct lsmer_env *env = env_posix_default();
    struct vs_options o = default_opts();
    char *dir = test_tmpdir("version_invalid");
    int created;
    struct version_set *vs = open_vs(env, dir, &o, 0, &created);
    struct version_edit e;
    struct file_meta *a = mkfile(version_set_new_file_number(vs), "a", "m", 100, 5);
    struct file_meta *b = mkfile(version_set_new_file_number(vs), "k", "z", 100, 6);
    version_edit_init(&e);
    version_edit_add_file(&e, 1, a);
    assert_int_equal(apply(vs, &e), 0);
    version_edit_free(&e);
    struct version *v0 = version_set_current(vs);

    version_edit_add_file(&e, 1, b); /* overlaps a in L1 */
    assert_int_equal(apply(vs, &e), -EINVAL);
    version_edit_free(&e);
    version_edit_delete_file(&e, 2, a->number); /* a is in L1, not L2 */
    assert_int_equal(apply(vs, &e), -EINVAL);
    version_edit_free(&e);
    version_edit_add_file(&e, 2, a); /* already present */
    assert_int_equal(apply(vs, &e), -EINVAL);
    version_edit_free(&e);
    version_edit_set_log_number(&e, 1000000); /* not allocated yet */
    assert_int_equal(apply(vs, &e), -EINVAL);
    version_edit_free(&e);
    assert_ptr_equal(version_set_current(vs), v0);

    /* the same file at L0 overlapping is fine */
    version_edit_add_file(&e, 0, b);
    assert_int_equal(apply(vs, &e), 0);
    version_edit_free(&e);
    version_set_free(vs);
    vs = open_vs(env, dir, &o, 0, &created);
    assert_int_equal(version_num_files(version_set_current(vs), 0), 1);
    assert_int_equal(version_num_files(version_set_current(vs), 1), 1);
    version_set_free(vs);
    file_meta_unref(a);
    file_meta_unref(b);
    test_rmtree(dir);
    free(dir);
}

/* IO errors leave the current version alone; the next apply starts a new
 * manifest; a simulated power loss keeps exactly what was applied. */
static void io_errors_and_power_loss(void **state)
{
    (void)state;
    struct lsmer_env *env = fault_env_new(env_posix_default());
    struct vs_options o = default_opts();
    o.manifest_max_size = 1000;
    char *dir = test_tmpdir("version_fault");
    struct model *m = calloc(1, sizeof(*m)), *saved = calloc(1, sizeof(*m));
    int created;
    struct version_set *vs = open_vs(env, dir, &o, 0, &created);
    static const unsigned kinds[] = {FAULT_SYNC, FAULT_APPEND, FAULT_OPEN, FAULT_RENAME,
                                     FAULT_SYNC_DIR};
    int failures = 0;
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < 3; i++) assert_int_equal(random_step(vs, m), 0);
        /* a failing apply */
        *saved = *m;
        struct version *v0 = version_set_current(vs);
        fault_env_fail(env, kinds[rng_uniform(&rng, 5)], rng_uniform(&rng, 3), -EIO, 0);
        int rc = random_step(vs, m);
        fault_env_clear(env);
        if (rc) {
            failures++;
            assert_int_equal(rc, -EIO);
            assert_ptr_equal(version_set_current(vs), v0);
            saved->last_seq = m->last_seq;
            check_model(vs, saved);
            /* recovers on the next apply */
            assert_int_equal(random_step(vs, m), 0);
        }
        check_model(vs, m);
        if (rng_one_in(&rng, 3)) {
            /* power loss: everything applied was synced */
            fault_env_crash(env);
            version_set_free(vs);
            assert_int_equal(fault_env_restore(env), 0);
            vs = open_vs(env, dir, &o, 0, &created);
            assert_int_equal(created, 0);
            check_model(vs, m);
        }
    }
    assert_true(failures >= 5); /* the injected faults did hit applies */
    version_set_free(vs);
    fault_env_free(env);
    free(m);
    free(saved);
    test_rmtree(dir);
    free(dir);
}

/* A crash at every sync while creating and rolling manifests: recovery
 * always sees the state of the last apply that returned 0, or the one in
 * flight. */
struct crash_at {
    struct lsmer_env *env;
    uint64_t at, seen;
};
static void crash_hook(void *arg)
{
    struct crash_at *c = arg;
    if (c->seen++ == c->at) fault_env_crash(c->env);
}

static void crash_at_every_sync(void **state)
{
    (void)state;
    struct vs_options o = default_opts();
    o.manifest_max_size = 300;
    int crashed = 0, made_it = 0;
    for (uint64_t at = 0; at < 40; at++) {
        struct lsmer_env *env = fault_env_new(env_posix_default());
        char *dir = test_tmpdir("version_crash");
        struct model *m = calloc(1, sizeof(*m)), *prev = calloc(1, sizeof(*m));
        struct model *tried = calloc(1, sizeof(*m));
        struct crash_at c = {env, at, 0};
        struct version_set *vs = NULL;
        int created, rc;
        fault_env_on_sync(env, crash_hook, &c);
        assert_int_equal(version_set_new(env, dir, &o, &vs), 0);
        rc = version_set_recover(vs, &created);
        for (int i = 0; rc == 0 && i < 25; i++) {
            *prev = *m;
            g_attempt = tried;
            rc = random_step(vs, m);
            g_attempt = NULL;
        }
        version_set_free(vs);
        fault_env_on_sync(env, NULL, NULL);
        assert_int_equal(fault_env_restore(env), 0);
        vs = NULL;
        assert_int_equal(version_set_new(env, dir, &o, &vs), 0);
        assert_int_equal(version_set_recover(vs, &created), 0);
        /* the edit in flight at the crash either made it or not; every
         * edit before it did */
        crashed += rc != 0;
        if (rc == 0 || model_matches(vs, prev)) {
            check_model(vs, rc == 0 ? m : prev);
        } else {
            made_it++;
            check_model(vs, tried);
        }
        version_set_free(vs);
        fault_env_free(env);
        free(m);
        free(prev);
        free(tried);
        test_rmtree(dir);
        free(dir);
    }
    fprintf(stderr, "crash_at_every_sync: %d crashes, %d with the edit in flight durable\n",
            crashed, made_it);
    assert_true(crashed >= 35);
}

/* ---- versions: pinning, live files, queries ---------------------------- */

static void pinned_versions_and_live_files(void **state)
{
    (void)state;
    struct lsmer_env *env = env_posix_default();
    struct vs_options o = default_opts();
    char *dir = test_tmpdir("version_pin");
    int created;
    struct version_set *vs = open_vs(env, dir, &o, 0, &created);
    struct version_edit e;
    struct file_meta *a = mkfile(version_set_new_file_number(vs), "a", "c", 10, 1);
    struct file_meta *b = mkfile(version_set_new_file_number(vs), "d", "f", 10, 2);
    version_edit_init(&e);
    version_edit_add_file(&e, 1, a);
    version_edit_add_file(&e, 1, b);
    assert_int_equal(apply(vs, &e), 0);
    version_edit_free(&e);
    struct version *pinned = version_set_current(vs);
    version_ref(pinned);
    version_edit_delete_file(&e, 1, a->number);
    assert_int_equal(apply(vs, &e), 0);
    version_edit_free(&e);
    assert_int_equal(version_num_files(pinned, 1), 2); /* unchanged */
    assert_int_equal(version_num_files(version_set_current(vs), 1), 1);
    uint64_t *nums;
    size_t n;
    assert_int_equal(version_set_live_files(vs, &nums, &n), 0);
    assert_int_equal(n, 2);
    assert_true(nums[0] == a->number && nums[1] == b->number);
    free(nums);
    version_unref(pinned);
    assert_int_equal(version_set_live_files(vs, &nums, &n), 0);
    assert_int_equal(n, 1);
    assert_true(nums[0] == b->number);
    free(nums);
    file_meta_unref(a);
    file_meta_unref(b);
    version_set_free(vs);
    test_rmtree(dir);
    free(dir);
}

static void *apply_thread(void *arg)
{
    struct version_set *vs = arg;
    for (int i = 0; i < 50; i++) {
        struct version_edit e;
        version_edit_init(&e);
        pthread_mutex_lock(&mu);
        uint64_t n = version_set_new_file_number(vs);
        char lo[32], hi[32];
        key_of(lo, n, 0);
        key_of(hi, n, 1);
        struct file_meta *f = mkfile(n, lo, hi, 1, 1);
        version_edit_add_file(&e, 2, f);
        file_meta_unref(f);
        int rc = version_set_log_and_apply(vs, &e, &mu);
        pthread_mutex_unlock(&mu);
        version_edit_free(&e);
        if (rc) return (void *)1;
    }
    return NULL;
}

static void concurrent_applies(void **state)
{
    (void)state;
    struct lsmer_env *env = env_posix_default();
    struct vs_options o = default_opts();
    o.manifest_max_size = 2000;
    char *dir = test_tmpdir("version_mt");
    int created;
    struct version_set *vs = open_vs(env, dir, &o, 0, &created);
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, apply_thread, vs);
    for (int i = 0; i < 3; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_null(r);
    }
    assert_int_equal(version_num_files(version_set_current(vs), 2), 150);
    version_set_free(vs);
    vs = open_vs(env, dir, &o, 0, &created);
    assert_int_equal(version_num_files(version_set_current(vs), 2), 150);
    version_set_free(vs);
    test_rmtree(dir);
    free(dir);
}

static struct slice us(const char *s)
{
    return s ? slice_make(s, strlen(s)) : slice_make(NULL, 0);
}

static void overlap_queries(void **state)
{
    (void)state;
    struct lsmer_env *env = env_posix_default();
    struct vs_options o = default_opts();
    char *dir = test_tmpdir("version_overlap");
    int created;
    struct version_set *vs = open_vs(env, dir, &o, 0, &created);
    struct version_edit e;
    version_edit_init(&e);
    /* L0: [c,e] [d,h] [j,k] [g,i] -> from [c,c] the closure is c..i */
    const char *l0[][2] = {{"c", "e"}, {"d", "h"}, {"j", "k"}, {"g", "i"}};
    for (int i = 0; i < 4; i++) {
        struct file_meta *f = mkfile(10 + (uint64_t)i, l0[i][0], l0[i][1], 100, 10 + (uint64_t)i);
        version_edit_add_file(&e, 0, f);
        file_meta_unref(f);
    }
    /* L1: [a,b] [d,f] [m,p] */
    const char *l1[][2] = {{"a", "b"}, {"d", "f"}, {"m", "p"}};
    for (int i = 0; i < 3; i++) {
        struct file_meta *f = mkfile(20 + (uint64_t)i, l1[i][0], l1[i][1], 100, 1);
        version_edit_add_file(&e, 1, f);
        file_meta_unref(f);
    }
    assert_int_equal(apply(vs, &e), 0);
    version_edit_free(&e);
    struct version *v = version_set_current(vs);
    /* L0 newest first */
    assert_true(v->files[0][0]->number == 13 && v->files[0][3]->number == 10);

    struct file_array out = FILE_ARRAY_INIT;
    assert_int_equal(version_files_overlapping(v, 0, us("c"), us("c"), &out), 0);
    assert_int_equal(out.n, 3); /* 10, 11, 13 but not [j,k] */
    for (size_t i = 0; i < out.n; i++) assert_true(out.v[i]->number != 12);
    out.n = 0;
    assert_int_equal(version_files_overlapping(v, 0, us(NULL), us(NULL), &out), 0);
    assert_int_equal(out.n, 4);
    out.n = 0;
    assert_int_equal(version_files_overlapping(v, 1, us("c"), us("n"), &out), 0);
    assert_int_equal(out.n, 2);
    assert_true(out.v[0]->number == 21 && out.v[1]->number == 22);
    out.n = 0;
    assert_int_equal(version_files_overlapping(v, 1, us("q"), us(NULL), &out), 0);
    assert_int_equal(out.n, 0);
    file_array_free(&out);

    assert_true(version_overlap_in_level(v, 1, us("b"), us("c")));
    assert_false(version_overlap_in_level(v, 1, us("g"), us("l")));
    assert_true(version_overlap_in_level(v, 1, us(NULL), us("a")));
    assert_false(version_overlap_in_level(v, 1, us("q"), us(NULL)));
    assert_false(version_overlap_in_level(v, 2, us(NULL), us(NULL)));
    assert_true(version_overlap_in_level(v, 0, us("k"), us("l")));
    assert_false(version_overlap_in_level(v, 0, us("l"), us("z")));

    struct buffer k = BUFFER_INIT;
    ikey_append(&k, "e", 1, SEQ_MAX, TYPE_SEEK);
    assert_int_equal(version_find_file(v, 1, buffer_slice(&k)), 1);
    buffer_clear(&k);
    ikey_append(&k, "g", 1, SEQ_MAX, TYPE_SEEK);
    assert_int_equal(version_find_file(v, 1, buffer_slice(&k)), 2);
    buffer_clear(&k);
    ikey_append(&k, "z", 1, SEQ_MAX, TYPE_SEEK);
    assert_int_equal(version_find_file(v, 1, buffer_slice(&k)), 3);
    buffer_free(&k);

    /* scores: L0 4 files / trigger 4, L1 300 bytes / 10 MiB */
    assert_true(version_level_score(v, 0) == 1.0);
    assert_true(version_level_score(v, 1) == 300.0 / (10 << 20));
    assert_true(version_set_level_capacity(vs, 3) == (uint64_t)(10 << 20) * 100);
    assert_true(version_pending_compaction_bytes(v) == 400); /* L0 at its trigger */
    version_set_free(vs);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    rng_init(&rng, test_seed("test_version"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(filenames),
        cmocka_unit_test(random_edits),
        cmocka_unit_test(manifest_roll),
        cmocka_unit_test(new_and_foreign_directories),
        cmocka_unit_test(torn_tail_and_corrupt_middle),
        cmocka_unit_test(invalid_edits_change_nothing),
        cmocka_unit_test(io_errors_and_power_loss),
        cmocka_unit_test(crash_at_every_sync),
        cmocka_unit_test(pinned_versions_and_live_files),
        cmocka_unit_test(concurrent_applies),
        cmocka_unit_test(overlap_queries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
