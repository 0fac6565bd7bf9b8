/*
 * test_mt_fs.c — the fs core under concurrent callers, as the FUSE loop's
 * threads call it. Checks that:
 *   - a listing of a directory never skips or repeats a name that exists
 *     throughout, while other threads create and delete names beside it;
 *   - writers to disjoint ranges of one file do not lose each other's data
 *     (the per-inode lock serialises their read-modify-write of blocks and
 *     of the inode);
 *   - concurrent creates, renames across directories (including directory
 *     moves, which take several locks) and unlinks leave link counts that
 *     match the tree.
 * Runs under ThreadSanitizer in the Tsan build (test_mt_* label).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "testutil.h"

#define ROOT 1
#define STABLE 200
#define WRITERS 4
#define CHUNK 20000

static struct lsmerfs *fs;
static struct fs_ctx ctx;
static uint64_t stable_dir, file_ino, mv_a, mv_b;
static atomic_int stop;
static atomic_int failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            atomic_fetch_add(&failures, 1);                                                        \
        }                                                                                          \
    } while (0)

struct seen {
    int count[STABLE];
};

static int note(void *arg, const char *name, const struct stat *st, int full, off_t next)
{
    (void)st;
    (void)full;
    (void)next;
    struct seen *s = arg;
    int i, end = 0;
    if (sscanf(name, "s%d%n", &i, &end) == 1 && name[end] == '\0' && i >= 0 && i < STABLE)
        s->count[i]++;
    return 0;
}

/* Lists the directory over and over in small pieces. */
static void *lister(void *arg)
{
    (void)arg;
    int rounds = 0;
    while (!atomic_load(&stop) || rounds < 5) {
        struct fs_dir *d;
        CHECK(fs_opendir(fs, stable_dir, &d) == 0);
        struct seen s;
        memset(&s, 0, sizeof(s));
        CHECK(fs_readdir(fs, d, 0, rounds & 1, note, &s) == 0);
        fs_releasedir(fs, d);
        for (int i = 0; i < STABLE; i++) CHECK(s.count[i] == 1);
        rounds++;
    }
    return NULL;
}

/* Creates and deletes names between the stable ones. */
static void *churner(void *arg)
{
    int id = (int)(intptr_t)arg;
    char name[32];
    struct stat st;
    uint64_t fh;
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "s%03d-%d-%d", i % STABLE, i, id);
        CHECK(fs_create(fs, stable_dir, name, 0644, O_RDWR, &ctx, &fh, &st) == 0);
        CHECK(fs_release(fs, st.st_ino, fh) == 0);
        if (i % 3) CHECK(fs_unlink(fs, stable_dir, name, &ctx) == 0);
    }
    return NULL;
}

/* Writer id fills bytes [id*CHUNK, (id+1)*CHUNK) of one file in small,
 * unaligned pieces, so neighbouring writers share blocks. */
static void *writer(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint8_t buf[777];
    memset(buf, 'A' + id, sizeof(buf));
    for (size_t off = 0; off < CHUNK; off += sizeof(buf)) {
        size_t n = CHUNK - off < sizeof(buf) ? CHUNK - off : sizeof(buf), w;
        CHECK(fs_write(fs, file_ino, file_ino, buf, n, (off_t)(id * CHUNK + off), &ctx, &w) == 0);
    }
    return NULL;
}

/* Moves a directory back and forth between two parents while the other
 * mover does the same with another, crossing lock orders. */
static void *mover(void *arg)
{
    int id = (int)(intptr_t)arg;
    const char *name = id ? "m1" : "m0";
    for (int i = 0; i < 200; i++) {
        uint64_t from = (i % 2) ? mv_b : mv_a, to = (i % 2) ? mv_a : mv_b;
        if (id) {
            uint64_t t = from;
            from = to;
            to = t;
        }
        CHECK(fs_rename(fs, from, name, to, name, 0, &ctx) == 0);
    }
    return NULL;
}

static void concurrent_ops(void **state)
{
    (void)state;
    char *dir = test_tmpdir("fs_mt");
    struct stat st;
    uint64_t fh;
    char name[32];
    assert_int_equal(fs_open(dir, NULL, &fs), 0);
    assert_int_equal(fs_mkdir(fs, ROOT, "stable", 0755, &ctx, &st), 0);
    stable_dir = st.st_ino;
    for (int i = 0; i < STABLE; i++) {
        snprintf(name, sizeof(name), "s%03d", i);
        assert_int_equal(fs_create(fs, stable_dir, name, 0644, O_RDWR, &ctx, &fh, &st), 0);
        fs_release(fs, st.st_ino, fh);
    }
    assert_int_equal(fs_create(fs, ROOT, "shared", 0644, O_RDWR, &ctx, &fh, &st), 0);
    file_ino = st.st_ino;
    assert_int_equal(fs_mkdir(fs, ROOT, "A", 0755, &ctx, &st), 0);
    mv_a = st.st_ino;
    assert_int_equal(fs_mkdir(fs, ROOT, "B", 0755, &ctx, &st), 0);
    mv_b = st.st_ino;
    assert_int_equal(fs_mkdir(fs, mv_a, "m0", 0755, &ctx, &st), 0);
    assert_int_equal(fs_mkdir(fs, mv_b, "m1", 0755, &ctx, &st), 0);

    pthread_t th[2 + 2 + WRITERS + 2];
    int n = 0;
    pthread_create(&th[n++], NULL, lister, NULL);
    pthread_create(&th[n++], NULL, lister, NULL);
    int first_join = n;
    for (intptr_t i = 0; i < 2; i++) pthread_create(&th[n++], NULL, churner, (void *)i);
    for (intptr_t i = 0; i < WRITERS; i++) pthread_create(&th[n++], NULL, writer, (void *)i);
    for (intptr_t i = 0; i < 2; i++) pthread_create(&th[n++], NULL, mover, (void *)i);
    for (int i = first_join; i < n; i++) pthread_join(th[i], NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < first_join; i++) pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&failures), 0);

    /* the file holds every writer's bytes */
    uint8_t *buf = malloc(WRITERS * CHUNK);
    size_t got;
    assert_int_equal(fs_read(fs, file_ino, file_ino, buf, WRITERS * CHUNK, 0, &got), 0);
    assert_int_equal(got, WRITERS * CHUNK);
    for (int i = 0; i < WRITERS * CHUNK; i++)
        if (buf[i] != 'A' + i / CHUNK) fail_msg("byte %d is %c", i, buf[i]);
    free(buf);
    /* each mover made an even number of moves: back where it started */
    assert_int_equal(fs_lookup(fs, mv_a, "m0", &st), 0);
    assert_int_equal(fs_lookup(fs, mv_b, "m1", &st), 0);
    assert_int_equal(fs_getattr(fs, mv_a, &st), 0);
    assert_int_equal(st.st_nlink, 3);
    assert_int_equal(fs_getattr(fs, mv_b, &st), 0);
    assert_int_equal(st.st_nlink, 3);
    /* churners left every third file of theirs */
    struct fs_dir *d;
    struct seen s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(fs_opendir(fs, stable_dir, &d), 0);
    assert_int_equal(fs_readdir(fs, d, 0, 0, note, &s), 0);
    fs_releasedir(fs, d);
    for (int i = 0; i < STABLE; i++) assert_int_equal(s.count[i], 1);
    for (int i = 0; i < 300; i += 3) {
        snprintf(name, sizeof(name), "s%03d-%d-1", i % STABLE, i);
        assert_int_equal(fs_lookup(fs, stable_dir, name, &st), 0);
    }
    fs_close(fs);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concurrent_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
