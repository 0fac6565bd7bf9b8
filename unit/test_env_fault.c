/* test_env_fault.c — the fault env: simulated power loss (unsynced tails,
 * creations, renames and removals rolled back), error injection, crash mode,
 * the sync hook; and a randomized run against a model of what a disk keeps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env_fault.h"
#include "testutil.h"

struct ctx {
    char *dir;
    struct lsmer_env *base;
    struct lsmer_env *fe;
};

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));
    c->dir = test_tmpdir("env_fault");
    c->base = env_posix_default();
    c->fe = fault_env_new(c->base);
    *state = c;
    return c->fe ? 0 : -1;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    fault_env_free(c->fe);
    test_rmtree(c->dir);
    free(c->dir);
    free(c);
    return 0;
}

static char *P(struct ctx *c, const char *name)
{
    static char buf[4][512];
    static int i;
    char *p = buf[i++ & 3];
    snprintf(p, 512, "%s/%s", c->dir, name);
    return p;
}

/* Writes data to a new file through env; syncs it if sync. */
static void put_file(struct lsmer_env *env, const char *path, const char *data, int sync)
{
    struct env_file *f;
    assert_int_equal(env_open(env, path, ENV_WRITE, &f), 0);
    assert_int_equal(env_append(f, data, strlen(data)), 0);
    if (sync) assert_int_equal(env_sync(f), 0);
    assert_int_equal(env_close(f), 0);
}

static void append_file(struct lsmer_env *env, const char *path, const char *data, int sync)
{
    struct env_file *f;
    assert_int_equal(env_open(env, path, ENV_APPEND, &f), 0);
    assert_int_equal(env_append(f, data, strlen(data)), 0);
    if (sync) assert_int_equal(env_sync(f), 0);
    assert_int_equal(env_close(f), 0);
}

/* Content of path read through the real env, or NULL if it does not exist. */
static char *get_file(struct ctx *c, const char *path)
{
    void *d;
    size_t n;
    int rc = env_read_file(c->base, path, &d, &n);
    if (rc == -ENOENT) return NULL;
    assert_int_equal(rc, 0);
    return d;
}

static void assert_content(struct ctx *c, const char *name, const char *want)
{
    char *got = get_file(c, P(c, name));
    if (!want) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

/* Nothing the fault env keeps aside is left in the real directory. */
static void assert_no_backups(struct ctx *c)
{
    char **names;
    size_t n;
    assert_int_equal(env_list(c->base, c->dir, &names, &n), 0);
    for (size_t i = 0; i < n; i++) assert_null(strstr(names[i], "faultbak"));
    env_free_list(names, n);
}

static void power_loss(struct ctx *c)
{
    fault_env_crash(c->fe);
    assert_int_equal(fault_env_restore(c->fe), 0);
}

static void unsynced_tail_dropped(void **state)
{
    struct ctx *c = *state;
    put_file(c->fe, P(c, "a"), "abc", 1);
    assert_int_equal(env_sync_dir(c->fe, c->dir), 0);
    append_file(c->fe, P(c, "a"), "def", 0);
    assert_content(c, "a", "abcdef"); /* written: visible before the crash */
    power_loss(c);
    assert_content(c, "a", "abc");
    /* the restored file keeps working */
    append_file(c->fe, P(c, "a"), "XY", 1);
    power_loss(c);
    assert_content(c, "a", "abcXY");
    /* a file never synced loses everything but keeps its durable name */
    put_file(c->fe, P(c, "b"), "data", 0);
    assert_int_equal(env_sync_dir(c->fe, c->dir), 0);
    power_loss(c);
    assert_content(c, "b", "");
}

static void unsynced_creation_removed(void **state)
{
    struct ctx *c = *state;
    put_file(c->fe, P(c, "durable"), "d", 1);
    assert_int_equal(env_sync_dir(c->fe, c->dir), 0);
    put_file(c->fe, P(c, "lost"), "data synced, name not", 1);
    append_file(c->fe, P(c, "lost2"), "appended", 1);
    assert_int_equal(env_exists(c->fe, P(c, "lost")), 1);
    power_loss(c);
    assert_content(c, "durable", "d");
    assert_content(c, "lost", NULL);
    assert_content(c, "lost2", NULL);
    /* sync_dir spelled with a trailing slash counts too */
    char d[600];
    snprintf(d, sizeof(d), "%s/", c->dir);
    put_file(c->fe, P(c, "kept"), "k", 1);
    assert_int_equal(env_sync_dir(c->fe, d), 0);
    power_loss(c);
    assert_content(c, "kept", "k");
}

static void unsynced_rename_undone(void **state)
{
    struct ctx *c = *state;
    put_file(c->fe, P(c, "CURRENT"), "old", 1);
    put_file(c->fe, P(c, "tmp"), "new", 1);
    assert_int_equal(env_sync_dir(c->fe, c->dir), 0);
    assert_int_equal(env_rename(c->fe, P(c, "tmp"), P(c, "CURRENT")), 0);
    assert_content(c, "CURRENT", "new");
    assert_int_equal(env_exists(c->fe, P(c, "tmp")), 0);
    /* the replaced file is kept aside but not listed */
    char **names;
    size_t n;
    assert_int_equal(env_list(c->fe, c->dir, &names, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "CURRENT");
    env_free_list(names, n);
    power_loss(c);
    assert_content(c, "CURRENT", "old");
    assert_content(c, "tmp", "new");
    assert_no_backups(c);

    /* with the directory synced the rename stays */
    assert_int_equal(env_rename(c->fe, P(c, "tmp"), P(c, "CURRENT")), 0);
    assert_int_equal(env_sync_dir(c->fe, c->dir), 0);
    assert_no_backups(c);
    power_loss(c);
    assert_content(c, "CURRENT", "new");
    assert_content(c, "tmp", NULL);

    /* rename of a file whose creation was not durable: both undone */
    put_file(c->fe, P(c, "x"), "xx", 1);
    assert_int_equal(env_rename(c->fe, P(c, "x"), P(c, "y")), 0);
    power_loss(c);
    assert_content(c, "x", NULL);
    assert_content(c, "y", NULL);

    /* a renamed file keeps its own synced length */
    put_file(c->fe, P(c, "s"), "syn", 1);
    assert_int_equal(env_sync_dir(c->fe, c->dir), 0);
    append_file(c->fe, P(c, "s"), "unsyn", 0);
    assert_int_equal(env_rename(c->fe, P(c, "s"), P(c, "t")), 0);
    assert_int_equal(env_sync_dir(c->fe, c->dir), 0);
    power_loss(c);
    assert_content(c, "t", "syn");
    assert_content(c, "s", NULL);

    /* env_write_file_atomic survives or not, whole */
    assert_int_equal(env_write_file_atomic(c->fe, c->dir, P(c, "CURRENT"), "v3", 2), 0);
    power_loss(c);
    assert_content(c, "CURRENT", "v3");
}

static void unsynced_remove_undone(void **state)
{
    struct ctx *c = *state;
    put_file(c->fe, P(c, "a"), "keep", 1);
    assert_int_equal(env_sync_dir(c->fe, c->dir), 0);
    append_file(c->fe, P(c, "a"), "-unsynced", 0);
    assert_int_equal(env_remove(c->fe, P(c, "a")), 0);
    assert_int_equal(env_exists(c->fe, P(c, "a")), 0);
    assert_int_equal(env_remove(c->fe, P(c, "a")), -ENOENT);
    char **names;
    size_t n;
    assert_int_equal(env_list(c->fe, c->dir, &names, &n), 0);
    assert_int_equal(n, 0);
    env_free_list(names, n);
    /* a new file under the removed name, also not durable */
    put_file(c->fe, P(c, "a"), "other", 1);
    power_loss(c);
    assert_content(c, "a", "keep"); /* back, cut to its synced length */
    assert_no_backups(c);

    assert_int_equal(env_remove(c->fe, P(c, "a")), 0);
    assert_int_equal(env_sync_dir(c->fe, c->dir), 0);
    assert_no_backups(c);
    power_loss(c);
    assert_content(c, "a", NULL);

    /* a file the env never saw written counts as durable */
    put_file(c->base, P(c, "pre"), "existing", 0);
    assert_int_equal(env_remove(c->fe, P(c, "pre")), 0);
    power_loss(c);
    assert_content(c, "pre", "existing");
    assert_int_equal(env_rename(c->fe, P(c, "pre"), P(c, "post")), 0);
    power_loss(c);
    assert_content(c, "pre", "existing");
    assert_content(c, "post", NULL);
}

static void crash_mode_fails_everything(void **state)
{
    struct ctx *c = *state;
    struct env_file *f, *g, *r;
    put_file(c->fe, P(c, "a"), "abc", 1);
    assert_int_equal(env_sync_dir(c->fe, c->dir), 0);
    assert_int_equal(env_open(c->fe, P(c, "a"), ENV_APPEND, &f), 0);
    assert_int_equal(env_open(c->fe, P(c, "a"), ENV_READ, &r), 0);
    fault_env_crash(c->fe);
    char buf[8];
    size_t got;
    uint64_t sz;
    char **names;
    size_t n;
    struct env_lock *lk;
    assert_int_equal(env_append(f, "x", 1), -EIO);
    assert_int_equal(env_sync(f), -EIO);
    assert_int_equal(env_size(f, &sz), -EIO);
    assert_int_equal(env_pread(r, buf, 3, 0, &got), -EIO);
    assert_int_equal(env_open(c->fe, P(c, "b"), ENV_WRITE, &g), -EIO);
    assert_int_equal(env_rename(c->fe, P(c, "a"), P(c, "b")), -EIO);
    assert_int_equal(env_remove(c->fe, P(c, "a")), -EIO);
    assert_int_equal(env_sync_dir(c->fe, c->dir), -EIO);
    assert_int_equal(env_exists(c->fe, P(c, "a")), -EIO);
    assert_int_equal(env_file_size(c->fe, P(c, "a"), &sz), -EIO);
    assert_int_equal(env_list(c->fe, c->dir, &names, &n), -EIO);
    assert_int_equal(env_mkdir(c->fe, P(c, "d")), -EIO);
    assert_int_equal(env_lock(c->fe, P(c, "LOCK"), &lk), -EIO);
    assert_int_equal(env_close(f), -EIO); /* still frees (Asan checks) */
    assert_int_equal(fault_env_restore(c->fe), 0);
    /* a handle from before the power loss stays dead */
    assert_int_equal(env_pread(r, buf, 3, 0, &got), -EIO);
    assert_int_equal(env_close(r), -EIO);
    assert_content(c, "a", "abc");
    append_file(c->fe, P(c, "a"), "d", 1);
    assert_content(c, "a", "abcd");
}

static void error_injection(void **state)
{
    struct ctx *c = *state;
    struct env_file *f;
    assert_int_equal(env_open(c->fe, P(c, "a"), ENV_WRITE, &f), 0);

    /* once, after skipping two appends; syncs are not affected */
    fault_env_fail(c->fe, FAULT_APPEND, 2, -ENOSPC, 0);
    assert_int_equal(env_sync(f), 0);
    assert_int_equal(env_append(f, "1", 1), 0);
    assert_int_equal(env_append(f, "2", 1), 0);
    assert_int_equal(env_append(f, "3", 1), -ENOSPC);
    assert_int_equal(env_append(f, "4", 1), 0);
    assert_content(c, "a", "124"); /* a failed append writes nothing */

    /* sticky until cleared; several kinds at once */
    fault_env_fail(c->fe, FAULT_SYNC | FAULT_RENAME, 1, -EIO, 1);
    assert_int_equal(env_sync(f), 0); /* skipped */
    for (int i = 0; i < 3; i++) assert_int_equal(env_sync(f), -EIO);
    assert_int_equal(env_rename(c->fe, P(c, "a"), P(c, "b")), -EIO);
    assert_int_equal(env_append(f, "5", 1), 0);
    fault_env_clear(c->fe);
    assert_int_equal(env_sync(f), 0);
    assert_int_equal(env_close(f), 0);

    /* each kind reaches its own op */
    struct {
        unsigned kind;
        int err;
    } kinds[] = {{FAULT_OPEN, -EIO},    {FAULT_READ, -EIO},   {FAULT_APPEND, -ENOSPC},
                 {FAULT_SYNC, -EIO},    {FAULT_RENAME, -EIO}, {FAULT_REMOVE, -EIO},
                 {FAULT_SYNC_DIR, -EIO}};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        struct env_file *w, *r;
        char buf[4];
        size_t got;
        unsigned kind = kinds[k].kind;
        int e = kinds[k].err;
        fault_env_fail(c->fe, kind, 0, e, 0);
        int rc = env_open(c->fe, P(c, "k"), ENV_WRITE, &w);
        assert_int_equal(rc, kind == FAULT_OPEN ? e : 0);
        if (rc) assert_int_equal(env_open(c->fe, P(c, "k"), ENV_WRITE, &w), 0);
        assert_int_equal(env_append(w, "kk", 2), kind == FAULT_APPEND ? e : 0);
        assert_int_equal(env_sync(w), kind == FAULT_SYNC ? e : 0);
        assert_int_equal(env_close(w), 0);
        assert_int_equal(env_open(c->fe, P(c, "k"), ENV_READ, &r), 0);
        assert_int_equal(env_pread(r, buf, 2, 0, &got), kind == FAULT_READ ? e : 0);
        assert_int_equal(env_close(r), 0);
        assert_int_equal(env_sync_dir(c->fe, c->dir), kind == FAULT_SYNC_DIR ? e : 0);
        assert_int_equal(env_rename(c->fe, P(c, "k"), P(c, "k2")), kind == FAULT_RENAME ? e : 0);
        if (kind == FAULT_RENAME) assert_int_equal(env_rename(c->fe, P(c, "k"), P(c, "k2")), 0);
        assert_int_equal(env_remove(c->fe, P(c, "k2")), kind == FAULT_REMOVE ? e : 0);
        if (kind == FAULT_REMOVE) assert_int_equal(env_remove(c->fe, P(c, "k2")), 0);
        /* once: everything works again */
        assert_int_equal(env_sync_dir(c->fe, c->dir), 0);
    }
}

struct hook {
    struct lsmer_env *fe;
    uint64_t crash_at;
    uint64_t seen;
};

static void on_sync(void *arg)
{
    struct hook *h = arg;
    if (++h->seen == h->crash_at) fault_env_crash(h->fe);
}

static void sync_hook_and_count(void **state)
{
    struct ctx *c = *state;
    struct hook h = {c->fe, 3, 0};
    struct env_file *f;
    uint64_t base = fault_env_syncs(c->fe);
    fault_env_on_sync(c->fe, on_sync, &h);
    assert_int_equal(env_open(c->fe, P(c, "log"), ENV_WRITE, &f), 0);
    assert_int_equal(env_sync_dir(c->fe, c->dir), 0);
    int i, rc = 0;
    for (i = 0; i < 10 && rc == 0; i++) {
        char rec[16];
        snprintf(rec, sizeof(rec), "r%d;", i);
        rc = env_append(f, rec, strlen(rec));
        if (rc == 0) rc = env_sync(f);
    }
    /* the third sync succeeded, then the crash made the fourth append fail */
    assert_int_equal(rc, -EIO);
    assert_int_equal(i, 4);
    assert_int_equal(fault_env_syncs(c->fe) - base, 3);
    env_close(f);
    fault_env_on_sync(c->fe, NULL, NULL);
    assert_int_equal(fault_env_restore(c->fe), 0);
    assert_content(c, "log", "r0;r1;r2;");
}

/* ---- randomized: the fault env against a model of a disk ----
 * The model keeps the namespace as of the last directory sync and, per file
 * (inode), its bytes and synced length. After a power loss the directory
 * must hold exactly the durable names with each file cut to its synced
 * length. */

#define NNAMES 6
#define MAXINODES 4096
#define MAXLEN 2048

struct minode {
    uint8_t data[MAXLEN];
    size_t len, synced;
};

struct model {
    struct minode *ino;
    int ninodes;
    int cur[NNAMES], dur[NNAMES];
};

static void check_model(struct ctx *c, struct model *m)
{
    char name[16];
    size_t live = 0;
    for (int i = 0; i < NNAMES; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        void *d;
        size_t n;
        int rc = env_read_file(c->base, P(c, name), &d, &n);
        if (m->cur[i] < 0) {
            assert_int_equal(rc, -ENOENT);
            continue;
        }
        live++;
        assert_int_equal(rc, 0);
        struct minode *mi = &m->ino[m->cur[i]];
        assert_int_equal(n, mi->len);
        assert_memory_equal(d, mi->data, n);
        free(d);
    }
    char **names;
    size_t n;
    assert_int_equal(env_list(c->fe, c->dir, &names, &n), 0);
    assert_int_equal(n, live);
    env_free_list(names, n);
}

static int new_inode(struct model *m)
{
    assert_true(m->ninodes < MAXINODES);
    struct minode *mi = &m->ino[m->ninodes];
    mi->len = mi->synced = 0;
    return m->ninodes++;
}

static void random_against_model(void **state)
{
    struct ctx *c = *state;
    struct rng rng;
    rng_init(&rng, test_seed("random_against_model"));
    struct model *m = calloc(1, sizeof(*m));
    m->ino = calloc(MAXINODES, sizeof(*m->ino));
    for (int i = 0; i < NNAMES; i++) m->cur[i] = m->dur[i] = -1;
    int steps = (int)(2500 * test_scale());
    char name[16], name2[16];
    uint8_t buf[256];

    for (int step = 0; step < steps && m->ninodes < MAXINODES - 2; step++) {
        int a = (int)rng_uniform(&rng, NNAMES), b = (int)rng_uniform(&rng, NNAMES);
        snprintf(name, sizeof(name), "f%d", a);
        snprintf(name2, sizeof(name2), "f%d", b);
        int op = (int)rng_uniform(&rng, 100);
        if (op < 35) { /* write or append, maybe sync */
            int mode = rng_one_in(&rng, 3) ? ENV_WRITE : ENV_APPEND;
            struct env_file *f;
            assert_int_equal(env_open(c->fe, P(c, name), mode, &f), 0);
            if (m->cur[a] < 0) m->cur[a] = new_inode(m);
            struct minode *mi = &m->ino[m->cur[a]];
            if (mode == ENV_WRITE) mi->len = mi->synced = 0;
            size_t n = rng_uniform(&rng, sizeof(buf));
            if (mi->len + n > MAXLEN) n = MAXLEN - mi->len;
            rng_bytes(&rng, buf, n);
            assert_int_equal(env_append(f, buf, n), 0);
            memcpy(mi->data + mi->len, buf, n);
            mi->len += n;
            if (rng_one_in(&rng, 2)) {
                assert_int_equal(env_sync(f), 0);
                mi->synced = mi->len;
            }
            assert_int_equal(env_close(f), 0);
        } else if (op < 50) { /* rename */
            if (m->cur[a] < 0 || a == b) continue;
            assert_int_equal(env_rename(c->fe, P(c, name), P(c, name2)), 0);
            m->cur[b] = m->cur[a];
            m->cur[a] = -1;
        } else if (op < 62) { /* remove */
            if (m->cur[a] < 0) {
                assert_int_equal(env_remove(c->fe, P(c, name)), -ENOENT);
                continue;
            }
            assert_int_equal(env_remove(c->fe, P(c, name)), 0);
            m->cur[a] = -1;
        } else if (op < 80) { /* directory sync */
            assert_int_equal(env_sync_dir(c->fe, c->dir), 0);
            memcpy(m->dur, m->cur, sizeof(m->cur));
        } else if (op < 92) { /* a sync of its own */
            if (m->cur[a] < 0) continue;
            struct env_file *f;
            assert_int_equal(env_open(c->fe, P(c, name), ENV_APPEND, &f), 0);
            assert_int_equal(env_sync(f), 0);
            assert_int_equal(env_close(f), 0);
            m->ino[m->cur[a]].synced = m->ino[m->cur[a]].len;
        } else { /* power loss */
            power_loss(c);
            memcpy(m->cur, m->dur, sizeof(m->cur));
            for (int i = 0; i < NNAMES; i++)
                if (m->cur[i] >= 0) m->ino[m->cur[i]].len = m->ino[m->cur[i]].synced;
            assert_no_backups(c);
        }
        check_model(c, m);
    }
    free(m->ino);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(unsynced_tail_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(unsynced_creation_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(unsynced_rename_undone, setup, teardown),
        cmocka_unit_test_setup_teardown(unsynced_remove_undone, setup, teardown),
        cmocka_unit_test_setup_teardown(crash_mode_fails_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(error_injection, setup, teardown),
        cmocka_unit_test_setup_teardown(sync_hook_and_count, setup, teardown),
        cmocka_unit_test_setup_teardown(random_against_model, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
