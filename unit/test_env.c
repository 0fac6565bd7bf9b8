/* test_env.c — the POSIX env: files, namespace ops, lock contention across
 * processes and within one, and the env.c helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "env.h"
#include "testutil.h"

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int list_has(struct lsmer_env *e, const char *dir, const char *name, size_t *count)
{
    char **names;
    size_t n;
    int found = 0;
    assert_int_equal(env_list(e, dir, &names, &n), 0);
    for (size_t i = 0; i < n; i++) {
        assert_true(strcmp(names[i], ".") && strcmp(names[i], ".."));
        if (!strcmp(names[i], name)) found = 1;
    }
    if (count) *count = n;
    env_free_list(names, n);
    return found;
}

static void files_append_pread_size(void **state)
{
    (void)state;
    struct lsmer_env *e = env_posix_default();
    struct rng rng;
    rng_init(&rng, test_seed("files_append_pread_size"));
    char *dir = test_tmpdir("env");
    char *p = path_join(dir, "a");
    struct env_file *f;
    size_t total = 0, got;
    uint8_t *model = malloc(1 << 20);
    uint8_t *back = malloc(1 << 20);

    assert_int_equal(env_open(e, p, ENV_WRITE, &f), 0);
    for (int i = 0; i < 200; i++) {
        size_t n = rng_uniform(&rng, 5000);
        rng_bytes(&rng, model + total, n);
        assert_int_equal(env_append(f, model + total, n), 0);
        total += n;
        uint64_t sz;
        assert_int_equal(env_size(f, &sz), 0);
        assert_int_equal(sz, total);
        /* a writable file can be read back */
        if (total && rng_one_in(&rng, 10)) {
            size_t off = rng_uniform(&rng, total);
            assert_int_equal(env_pread(f, back, total - off, off, &got), 0);
            assert_int_equal(got, total - off);
            assert_memory_equal(back, model + off, got);
        }
    }
    assert_int_equal(env_sync(f), 0);
    assert_int_equal(env_close(f), 0);

    uint64_t fsz;
    assert_int_equal(env_file_size(e, p, &fsz), 0);
    assert_int_equal(fsz, total);
    assert_int_equal(env_open(e, p, ENV_READ, &f), 0);
    assert_int_equal(env_size(f, &fsz), 0);
    assert_int_equal(fsz, total);
    /* short read only at the end of the file */
    assert_int_equal(env_pread(f, back, 100, total - 10, &got), 0);
    assert_int_equal(got, 10);
    assert_int_equal(env_pread(f, back, 100, total + 5, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(env_pread(f, back, total, 0, &got), 0);
    assert_int_equal(got, total);
    assert_memory_equal(back, model, total);
    assert_int_equal(env_append(f, "x", 1), -EBADF); /* read-only handle */
    assert_int_equal(env_close(f), 0);

    /* ENV_APPEND continues at the end; ENV_WRITE truncates */
    assert_int_equal(env_open(e, p, ENV_APPEND, &f), 0);
    assert_int_equal(env_size(f, &fsz), 0);
    assert_int_equal(fsz, total);
    assert_int_equal(env_append(f, "tail", 4), 0);
    assert_int_equal(env_close(f), 0);
    assert_int_equal(env_file_size(e, p, &fsz), 0);
    assert_int_equal(fsz, total + 4);
    assert_int_equal(env_open(e, p, ENV_WRITE, &f), 0);
    assert_int_equal(env_close(f), 0);
    assert_int_equal(env_file_size(e, p, &fsz), 0);
    assert_int_equal(fsz, 0);

    assert_int_equal(env_close(NULL), 0);
    test_rmtree(dir);
    free(model);
    free(back);
    free(p);
    free(dir);
}

static void namespace_ops(void **state)
{
    (void)state;
    struct lsmer_env *e = env_posix_default();
    char *dir = test_tmpdir("env");
    char *a = path_join(dir, "a"), *b = path_join(dir, "b"), *sub = path_join(dir, "sub");
    char *missing = path_join(dir, "missing");
    struct env_file *f;
    size_t n;
    uint64_t sz;

    assert_int_equal(env_open(e, missing, ENV_READ, &f), -ENOENT);
    assert_null(f);
    assert_int_equal(env_exists(e, a), 0);
    assert_int_equal(env_open(e, a, ENV_WRITE, &f), 0);
    assert_int_equal(env_append(f, "hello", 5), 0);
    assert_int_equal(env_close(f), 0);
    assert_int_equal(env_exists(e, a), 1);
    assert_true(list_has(e, dir, "a", &n));
    assert_int_equal(n, 1);

    assert_int_equal(env_rename(e, a, b), 0);
    assert_int_equal(env_exists(e, a), 0);
    assert_int_equal(env_file_size(e, b, &sz), 0);
    assert_int_equal(sz, 5);
    assert_false(list_has(e, dir, "a", NULL));
    assert_true(list_has(e, dir, "b", NULL));
    assert_int_equal(env_rename(e, a, b), -ENOENT);

    assert_int_equal(env_mkdir(e, sub), 0);
    assert_int_equal(env_mkdir(e, sub), 0); /* exists: fine */
    assert_int_equal(env_mkdir(e, b), -ENOTDIR);
    assert_int_equal(env_sync_dir(e, dir), 0);
    assert_int_equal(env_sync_dir(e, missing), -ENOENT);
    assert_true(list_has(e, dir, "sub", &n));
    assert_int_equal(n, 2);

    assert_int_equal(env_remove(e, b), 0);
    assert_int_equal(env_remove(e, b), -ENOENT);
    assert_int_equal(env_remove(e, sub), 0); /* empty directory */
    assert_true(list_has(e, dir, "x", &n) == 0);
    assert_int_equal(n, 0);
    char **names;
    assert_int_equal(env_list(e, missing, &names, &n), -ENOENT);

    uint64_t avail = 0, total = 0;
    assert_int_equal(env_free_space(e, dir, &avail, &total), 0);
    assert_true(total > 0 && avail <= total);
    uint64_t t0 = env_now_micros(e), t1 = env_now_micros(e);
    assert_true(t1 >= t0);

    test_rmtree(dir);
    free(a);
    free(b);
    free(sub);
    free(missing);
    free(dir);
}

static void lock_contention(void **state)
{
    (void)state;
    struct lsmer_env *e = env_posix_default();
    char *dir = test_tmpdir("env");
    char *lockp = path_join(dir, "LOCK");
    char *lockp2 = path_join(dir, "./LOCK"); /* another spelling, same file */
    struct env_lock *lk, *lk2;

    assert_int_equal(env_lock(e, lockp, &lk), 0);
    /* a second lock inside this process is refused */
    assert_int_equal(env_lock(e, lockp, &lk2), -EBUSY);
    assert_null(lk2);
    assert_int_equal(env_lock(e, lockp2, &lk2), -EBUSY);

    /* ...and from another process */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct env_lock *c;
        int rc = env_lock(e, lockp, &c);
        _exit(rc == -EBUSY ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);

    env_unlock(e, lk);
    /* free again: the child can take it, and then we cannot */
    int pfd[2], cfd[2];
    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(pipe(cfd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct env_lock *c;
        char ch = env_lock(e, lockp, &c) == 0 ? 'y' : 'n';
        if (write(cfd[1], &ch, 1) != 1) _exit(2);
        if (read(pfd[0], &ch, 1) != 1) _exit(2); /* hold until told */
        env_unlock(e, c);
        _exit(0);
    }
    char ch;
    assert_int_equal(read(cfd[0], &ch, 1), 1);
    assert_int_equal(ch, 'y');
    assert_int_equal(env_lock(e, lockp, &lk), -EBUSY);
    assert_int_equal(write(pfd[1], "x", 1), 1);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(env_lock(e, lockp, &lk), 0);
    env_unlock(e, lk);
    close(pfd[0]);
    close(pfd[1]);
    close(cfd[0]);
    close(cfd[1]);

    test_rmtree(dir);
    free(lockp);
    free(lockp2);
    free(dir);
}

static void read_and_atomic_write(void **state)
{
    (void)state;
    struct lsmer_env *e = env_posix_default();
    char *dir = test_tmpdir("env");
    char *p = path_join(dir, "CURRENT");
    void *data;
    size_t len, n;

    assert_int_equal(env_read_file(e, p, &data, &len), -ENOENT);
    assert_null(data);
    assert_int_equal(env_write_file_atomic(e, dir, p, "MANIFEST-000001\n", 16), 0);
    assert_int_equal(env_read_file(e, p, &data, &len), 0);
    assert_int_equal(len, 16);
    assert_string_equal(data, "MANIFEST-000001\n"); /* NUL-terminated */
    free(data);
    assert_int_equal(env_write_file_atomic(e, dir, p, "", 0), 0);
    assert_int_equal(env_read_file(e, p, &data, &len), 0);
    assert_int_equal(len, 0);
    free(data);
    /* no temp file is left behind */
    assert_true(list_has(e, dir, "CURRENT", &n));
    assert_int_equal(n, 1);
    /* a missing directory fails cleanly */
    char *bad = path_join(dir, "nodir/CURRENT");
    char *baddir = path_join(dir, "nodir");
    assert_int_equal(env_write_file_atomic(e, baddir, bad, "x", 1), -ENOENT);
    free(bad);
    free(baddir);

    test_rmtree(dir);
    free(p);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(files_append_pread_size),
        cmocka_unit_test(namespace_ops),
        cmocka_unit_test(lock_contention),
        cmocka_unit_test(read_and_atomic_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
