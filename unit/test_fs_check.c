/*
 * test_fs_check.c — the offline checker (fs/core/fs_check.h): a store built
 * through the fs core is clean; each kind of damage planted with raw engine
 * writes is reported exactly, with the right path; a flipped bit in a table
 * file is a checksum problem; orphans left by a "crash" are INFO only; a
 * store in use, a foreign database and a missing directory are refused.
 * Repair (fs_repair.h): each kind of planted damage is reported with its
 * path, fixed, and a fresh check afterwards is clean; what a user had
 * (file contents, other names) is still there, lost inodes with data show
 * up under /lost+found, and checksum damage is never "repaired".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "fs_check.h"
#include "fs_repair.h"
#include "keys.h"
#include "lsmer.h"
#include "testutil.h"

#define ROOT 1
#define MAXP 64

struct seen {
    int n;
    struct fs_check_problem p[MAXP];
    char path[MAXP][256];
};

static void print_problem(void *arg, const struct fs_check_problem *p)
{
    (void)arg;
    print_message("  %s %s %s: %s\n", p->severity ? "ERROR" : "INFO", fs_check_kind_name(p->kind),
                  p->path ? p->path : "-", p->msg);
}

static void collect(void *arg, const struct fs_check_problem *p)
{
    struct seen *s = arg;
    if (s->n >= MAXP) return;
    s->p[s->n] = *p;
    snprintf(s->path[s->n], sizeof(s->path[0]), "%s", p->path ? p->path : "");
    s->p[s->n].path = NULL;
    s->p[s->n].msg = NULL;
    print_problem(NULL, p);
    s->n++;
}

static int run_check(const char *dir, struct seen *s, struct fs_check_report *r)
{
    memset(s, 0, sizeof(*s));
    struct fs_check_options o = {.on_problem = collect, .arg = s};
    return fs_check(dir, &o, r);
}

/* The inode numbers of what build_store() made. */
struct tree {
    char *dir;
    uint64_t a, b, f, small, sym, x;
    uint64_t bs;
};

static uint64_t make_file(struct lsmerfs *fs, uint64_t parent, const char *name, size_t len,
                          struct rng *rng)
{
    struct fs_ctx ctx = {0, 0, 0, 0};
    struct stat st;
    uint64_t fh;
    assert_int_equal(fs_create(fs, parent, name, 0644, O_RDWR, &ctx, &fh, &st), 0);
    if (len) {
        char *buf = malloc(len);
        rng_bytes(rng, buf, len);
        size_t nw;
        assert_int_equal(fs_write(fs, st.st_ino, fh, buf, len, 0, &ctx, &nw), 0);
        assert_int_equal(nw, len);
        free(buf);
    }
    assert_int_equal(fs_release(fs, st.st_ino, fh), 0);
    fs_forget(fs, st.st_ino, 1);
    return st.st_ino;
}

/* /a/, /a/b/, /a/f (200 KB, blocks), /a/b/g = hard link to /a/f, /small
 * (inline), /sym -> a/f, /x (xattr). */
static void build_store(struct tree *t, const char *name)
{
    struct rng rng;
    rng_init(&rng, test_seed(name));
    t->dir = test_tmpdir(name);
    struct lsmerfs *fs;
    struct fs_ctx ctx = {0, 0, 0, 0};
    struct stat st;
    assert_int_equal(fs_open(t->dir, NULL, &fs), 0);
    t->bs = fs_block_size(fs);
    assert_int_equal(fs_mkdir(fs, ROOT, "a", 0755, &ctx, &st), 0);
    t->a = st.st_ino;
    assert_int_equal(fs_mkdir(fs, t->a, "b", 0755, &ctx, &st), 0);
    t->b = st.st_ino;
    t->f = make_file(fs, t->a, "f", 200000, &rng);
    assert_int_equal(fs_link(fs, t->f, t->b, "g", &ctx, &st), 0);
    t->small = make_file(fs, ROOT, "small", 100, &rng);
    assert_int_equal(fs_symlink(fs, "a/f", ROOT, "sym", &ctx, &st), 0);
    t->sym = st.st_ino;
    t->x = make_file(fs, ROOT, "x", 10, &rng);
    assert_int_equal(fs_setxattr(fs, t->x, "user.k", "v", 1, 0, &ctx), 0);
    fs_close(fs);
}

/* Removes the store build_store() made. */
static void tree_free(struct tree *t)
{
    test_rmtree(t->dir);
    free(t->dir);
}

/* The store in dir opened as a plain database, to plant damage with raw
 * engine writes or to read keys the fs core hides. */
static lsmer_db *open_raw(const char *dir)
{
    lsmer_db *db;
    lsmer_options opt;
    lsmer_options_init(&opt);
    opt.log_level = LSMER_LOG_ERROR;
    assert_int_equal(lsmer_open(dir, &opt, &db), 0);
    return db;
}

static void put_raw(const char *dir, const void *k, size_t klen, const void *v, size_t vlen)
{
    lsmer_db *db = open_raw(dir);
    if (v)
        assert_int_equal(lsmer_put(db, k, klen, v, vlen), 0);
    else
        assert_int_equal(lsmer_delete(db, k, klen), 0);
    lsmer_close(db);
}

static void get_inode(const char *dir, uint64_t ino, struct fs_inode *in)
{
    lsmer_db *db = open_raw(dir);
    uint8_t k[KEY_INO_LEN];
    lsmer_buf v = {0};
    assert_int_equal(lsmer_get(db, NULL, k, key_inode(k, ino), &v), 0);
    assert_int_equal(inode_decode(v.data, v.size, in), 0);
    lsmer_buf_free(&v);
    lsmer_close(db);
}

static void put_inode(const char *dir, uint64_t ino, const struct fs_inode *in)
{
    uint8_t k[KEY_INO_LEN], *v = malloc(FS_INODE_FIXED_LEN + FS_INLINE_CAP);
    size_t vlen = inode_encode(in, v);
    put_raw(dir, k, key_inode(k, ino), v, vlen);
    free(v);
}

/* Exactly one problem, of this kind and severity, with this path. */
static void expect_one(const struct seen *s, const struct fs_check_report *r,
                       enum fs_check_kind kind, const char *path)
{
    assert_int_equal(s->n, 1);
    assert_int_equal(s->p[0].kind, kind);
    assert_int_equal(s->p[0].severity, FS_CHECK_ERROR);
    assert_string_equal(s->path[0], path ? path : "");
    assert_int_equal(r->errors, 1);
    assert_int_equal(r->infos, 0);
    assert_int_equal(r->incomplete, 0);
}

/* Moves the entry of /a into /a/b: a cycle a -> b -> a that no path from
 * the root reaches. */
static void make_cycle(const struct tree *t)
{
    uint8_t k[KEY_NAMED_MAX], v[DENTRY_VAL_LEN];
    put_raw(t->dir, k, key_dentry(k, ROOT, "a", 1), NULL, 0);
    dentry_encode(t->a, S_IFDIR >> 12, v);
    put_raw(t->dir, k, key_dentry(k, t->b, "a", 1), v, sizeof(v));
}

/* A new store in dir holding one orphan: /tmp, 100000 bytes, unlinked
 * while open when the "daemon" stopped (as after kill -9). Returns its ino. */
static uint64_t make_orphan(const char *dir)
{
    struct lsmerfs *fs;
    struct fs_ctx ctx = {0, 0, 0, 0};
    struct stat st;
    uint64_t fh;
    assert_int_equal(fs_open(dir, NULL, &fs), 0);
    assert_int_equal(fs_create(fs, ROOT, "tmp", 0644, O_RDWR, &ctx, &fh, &st), 0);
    size_t nw;
    char buf[100000] = {1};
    assert_int_equal(fs_write(fs, st.st_ino, fh, buf, sizeof(buf), 0, &ctx, &nw), 0);
    assert_int_equal(fs_unlink(fs, ROOT, "tmp", &ctx), 0);
    fs_close(fs); /* still open: the orphan stays */
    return st.st_ino;
}

static char *find_table(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char *best = NULL;
    off_t best_size = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".sst") != 0) continue;
        char *p = malloc(strlen(dir) + n + 2);
        sprintf(p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && st.st_size > best_size) {
            free(best);
            best = p;
            best_size = st.st_size;
        } else {
            free(p);
        }
    }
    closedir(d);
    return best;
}

/* Flushes and compacts the store in dir so that all of it is in tables;
 * returns the path of the largest table (the caller frees it). */
static char *compact_to_table(const char *dir)
{
    lsmer_db *db = open_raw(dir);
    assert_int_equal(lsmer_flush(db), 0);
    assert_int_equal(lsmer_compact_range(db, NULL), 0);
    lsmer_close(db);
    char *table = find_table(dir);
    assert_non_null(table);
    return table;
}

/* Flips a bit a third of the way into the table at path (inside the file
 * data blocks); returns the table's size. */
static off_t flip_bit(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    off_t at = st.st_size / 3;
    uint8_t byte;
    assert_int_equal(pread(fd, &byte, 1, at), 1);
    byte ^= 0x10;
    assert_int_equal(pwrite(fd, &byte, 1, at), 1);
    close(fd);
    return st.st_size;
}

static void test_clean(void **state)
{
    (void)state;
    struct tree t;
    struct seen s;
    struct fs_check_report r;
    build_store(&t, "fsck_clean");
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.dirs, 3);
    assert_int_equal(r.files, 3);
    assert_int_equal(r.symlinks, 1);
    assert_int_equal(r.bytes, 200000 + 100 + 10);
    assert_true(r.blocks >= 3);
    /* and it wrote nothing: the store still opens and checks the same */
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    assert_int_equal(s.n, 0);
    tree_free(&t);
}

static void test_dangling_dentry(void **state)
{
    (void)state;
    struct tree t;
    struct seen s;
    struct fs_check_report r;
    build_store(&t, "fsck_dangling");
    uint8_t k[KEY_NAMED_MAX], v[DENTRY_VAL_LEN];
    dentry_encode(t.f + 500, S_IFREG >> 12, v);
    put_raw(t.dir, k, key_dentry(k, t.b, "ghost", 5), v, sizeof(v));
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    expect_one(&s, &r, FS_CHECK_DANGLING, "/a/b/ghost");
    assert_int_equal(s.p[0].ino, t.f + 500);
    tree_free(&t);
}

static void test_wrong_nlink(void **state)
{
    (void)state;
    struct tree t;
    struct seen s;
    struct fs_check_report r;
    build_store(&t, "fsck_nlink");
    struct fs_inode *in = malloc(sizeof(*in));
    get_inode(t.dir, t.f, in);
    assert_int_equal(in->nlink, 2);
    in->nlink = 3;
    put_inode(t.dir, t.f, in);
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    expect_one(&s, &r, FS_CHECK_NLINK, "/a/f");
    assert_int_equal(s.p[0].ino, t.f);

    /* a directory's: 2 + subdirectories */
    get_inode(t.dir, t.f, in);
    in->nlink = 2;
    put_inode(t.dir, t.f, in);
    get_inode(t.dir, t.a, in);
    assert_int_equal(in->nlink, 3);
    in->nlink = 2;
    put_inode(t.dir, t.a, in);
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    expect_one(&s, &r, FS_CHECK_NLINK, "/a");
    free(in);
    tree_free(&t);
}

static void test_lost_inode(void **state)
{
    (void)state;
    struct tree t;
    struct seen s;
    struct fs_check_report r;
    build_store(&t, "fsck_lost");
    struct fs_inode *in = malloc(sizeof(*in));
    get_inode(t.dir, t.small, in);
    uint64_t lost = t.x + 3; /* below ino_limit: the chunk is 1024 */
    put_inode(t.dir, lost, in);
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    expect_one(&s, &r, FS_CHECK_LOST, NULL);
    assert_int_equal(s.p[0].ino, lost);

    /* far above the allocator's limit: lost and above the limit */
    uint8_t k[KEY_INO_LEN];
    put_raw(t.dir, k, key_inode(k, lost), NULL, 0);
    put_inode(t.dir, 1u << 30, in);
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(r.errors, 2);
    int kinds = 0;
    for (int i = 0; i < s.n; i++) {
        assert_int_equal(s.p[i].ino, 1u << 30);
        kinds |= 1 << (s.p[i].kind == FS_CHECK_INO_LIMIT ? 0
                       : s.p[i].kind == FS_CHECK_LOST    ? 1
                                                         : 2);
    }
    assert_int_equal(kinds, 3);
    free(in);
    tree_free(&t);
}

static void test_block_past_eof(void **state)
{
    (void)state;
    struct tree t;
    struct seen s;
    struct fs_check_report r;
    build_store(&t, "fsck_eof");
    uint8_t k[KEY_BLOCK_LEN], v[10] = {1};
    put_raw(t.dir, k, key_block(k, t.f, 50), v, sizeof(v));
    put_raw(t.dir, k, key_block(k, t.f, 51), v, sizeof(v));
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    expect_one(&s, &r, FS_CHECK_BLOCK_PAST_EOF, "/a/f");
    assert_int_equal(s.p[0].block_no, 50);
    assert_int_equal(s.p[0].count, 2);
    put_raw(t.dir, k, key_block(k, t.f, 50), NULL, 0);
    put_raw(t.dir, k, key_block(k, t.f, 51), NULL, 0);

    /* the last block, one byte too long */
    uint64_t last = 200000 / t.bs, len = 200000 % t.bs + 1;
    uint8_t *big = calloc(1, len);
    put_raw(t.dir, k, key_block(k, t.f, last), big, len);
    free(big);
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    expect_one(&s, &r, FS_CHECK_BLOCK_PAST_EOF, "/a/f");
    assert_int_equal(s.p[0].block_no, last);

    /* a block of an inline file */
    put_raw(t.dir, k, key_block(k, t.f, last), v, sizeof(v));
    put_raw(t.dir, k, key_block(k, t.small, 0), v, sizeof(v));
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    expect_one(&s, &r, FS_CHECK_BLOCK_BAD, "/small");
    tree_free(&t);
}

static void test_dead_inode_keys(void **state)
{
    (void)state;
    struct tree t;
    struct seen s;
    struct fs_check_report r;
    build_store(&t, "fsck_dead");
    uint8_t k[KEY_NAMED_MAX], v[10] = {1};
    for (uint64_t b = 0; b < 3; b++) put_raw(t.dir, k, key_block(k, 777, b), v, sizeof(v));
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    expect_one(&s, &r, FS_CHECK_BLOCK_DEAD, NULL);
    assert_int_equal(s.p[0].ino, 777);
    assert_int_equal(s.p[0].count, 3);
    for (uint64_t b = 0; b < 3; b++) put_raw(t.dir, k, key_block(k, 777, b), NULL, 0);

    put_raw(t.dir, k, key_xattr(k, 778, "user.a", 6), v, 1);
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    expect_one(&s, &r, FS_CHECK_XATTR_DEAD, NULL);
    assert_int_equal(s.p[0].ino, 778);
    put_raw(t.dir, k, key_xattr(k, 778, "user.a", 6), NULL, 0);

    /* an orphan record of a linked file */
    put_raw(t.dir, k, key_orphan(k, t.small), "", 0);
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    expect_one(&s, &r, FS_CHECK_ORPHAN_LINKED, "/small");
    put_raw(t.dir, k, key_orphan(k, t.small), NULL, 0);

    /* the inode of /a/f is gone: both its entries dangle, its blocks are dead */
    put_raw(t.dir, k, key_inode(k, t.f), NULL, 0);
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.p[0].kind, FS_CHECK_BLOCK_DEAD);
    assert_int_equal(s.p[0].ino, t.f);
    assert_int_equal(s.p[1].kind, FS_CHECK_DANGLING);
    assert_string_equal(s.path[1], "/a/f");
    assert_int_equal(s.p[2].kind, FS_CHECK_DANGLING);
    assert_string_equal(s.path[2], "/a/b/g");
    tree_free(&t);
}

static void test_unreachable_dir(void **state)
{
    (void)state;
    struct tree t;
    struct seen s;
    struct fs_check_report r;
    build_store(&t, "fsck_cycle");
    /* a cycle, and the counts fixed so that only the cycle is wrong */
    make_cycle(&t);
    struct fs_inode *in = malloc(sizeof(*in));
    get_inode(t.dir, ROOT, in);
    in->nlink--;
    put_inode(t.dir, ROOT, in);
    get_inode(t.dir, t.b, in);
    in->nlink++;
    put_inode(t.dir, t.b, in);
    get_inode(t.dir, t.a, in);
    in->parent = t.b;
    put_inode(t.dir, t.a, in);
    free(in);
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(r.errors, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(s.p[i].kind, FS_CHECK_UNREACHABLE);
        assert_true(s.p[i].ino == t.a || s.p[i].ino == t.b);
    }
    tree_free(&t);
}

/* A file unlinked while open when the "daemon" stopped: INFO, not error. */
static void test_orphan_is_info(void **state)
{
    (void)state;
    char *dir = test_tmpdir("fsck_orphan");
    uint64_t orphan = make_orphan(dir);
    struct seen s;
    struct fs_check_report r;
    assert_int_equal(run_check(dir, &s, &r), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.p[0].kind, FS_CHECK_ORPHAN);
    assert_int_equal(s.p[0].severity, FS_CHECK_INFO);
    assert_int_equal(s.p[0].ino, orphan);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.infos, 1);
    /* the next mount frees it */
    struct lsmerfs *fs;
    assert_int_equal(fs_open(dir, NULL, &fs), 0);
    fs_close(fs);
    assert_int_equal(run_check(dir, &s, &r), 0);
    assert_int_equal(s.n, 0);
    test_rmtree(dir);
    free(dir);
}

static void test_flipped_bit(void **state)
{
    (void)state;
    struct tree t;
    struct seen s;
    struct fs_check_report r;
    build_store(&t, "fsck_bitflip");
    char *table = compact_to_table(t.dir);
    /* clean once in tables */
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    assert_int_equal(s.n, 0);

    flip_bit(table);
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    assert_true(s.n >= 1);
    assert_int_equal(s.p[0].kind, FS_CHECK_CHECKSUM);
    assert_int_equal(s.p[0].severity, FS_CHECK_ERROR);
    assert_true(r.errors >= 1);
    assert_int_equal(r.incomplete, 1);
    for (int i = 0; i < s.n; i++) /* no false lost/nlink reports after it */
        assert_true(s.p[i].kind == FS_CHECK_CHECKSUM || s.p[i].kind == FS_CHECK_INCOMPLETE);
    free(table);
    tree_free(&t);
}

static void test_refusals(void **state)
{
    (void)state;
    struct seen s;
    struct fs_check_report r;
    char *dir = test_tmpdir("fsck_refuse");
    char missing[4096];
    snprintf(missing, sizeof(missing), "%s/nope", dir);
    assert_int_equal(run_check(missing, &s, &r), -ENOENT);
    /* an empty directory: no database */
    assert_int_equal(run_check(dir, &s, &r), -EINVAL);
    /* a database that is not lsmerfs */
    put_raw(dir, "hello", 5, "world", 5);
    assert_int_equal(run_check(dir, &s, &r), -EINVAL);
    test_rmtree(dir);
    free(dir);

    /* in use */
    struct tree t;
    build_store(&t, "fsck_busy");
    struct lsmerfs *fs;
    assert_int_equal(fs_open(t.dir, NULL, &fs), 0);
    assert_int_equal(run_check(t.dir, &s, &r), -EBUSY);
    fs_close(fs);
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    assert_int_equal(s.n, 0);
    tree_free(&t);
}

/* ---- repair ------------------------------------------------------------ */

struct fixes {
    int n;
    enum fs_check_kind kind[MAXP];
    int fixed[MAXP];
    char path[MAXP][256];
};

static void collect_fix(void *arg, const struct fs_check_problem *p, int fixed, const char *action)
{
    struct fixes *f = arg;
    print_message("    -> %s: %s\n", fixed ? "fixed" : "left", action);
    if (f->n >= MAXP) return;
    f->kind[f->n] = p->kind;
    f->fixed[f->n] = fixed;
    snprintf(f->path[f->n], sizeof(f->path[0]), "%s", p->path ? p->path : "");
    f->n++;
}

static int run_repair(const char *dir, struct fixes *f, struct fs_repair_report *rr)
{
    memset(f, 0, sizeof(*f));
    struct fs_repair_options o = {
        .check = {.on_problem = print_problem}, .on_fix = collect_fix, .fix_arg = f};
    return fs_repair(dir, &o, rr);
}

/* The repair reported kind at path (path NULL: any) and fixed it. */
static void expect_fixed(const struct fixes *f, enum fs_check_kind kind, const char *path)
{
    for (int i = 0; i < f->n; i++)
        if (f->kind[i] == kind && (!path || strcmp(f->path[i], path) == 0)) {
            assert_int_equal(f->fixed[i], 1);
            return;
        }
    print_message("no fix of %s at %s\n", fs_check_kind_name(kind), path ? path : "-");
    fail();
}

/* Repairs dir and checks that a fresh check is clean. */
static void repair_clean(const char *dir, struct fixes *f, struct fs_repair_report *rr)
{
    assert_int_equal(run_repair(dir, f, rr), 0);
    assert_true(rr->fixed >= 1);
    assert_int_equal(rr->left, 0);
    assert_int_equal(rr->last.errors, 0);
    assert_int_equal(rr->last.infos, 0);
    for (int i = 0; i < f->n; i++) assert_int_equal(f->fixed[i], 1);
    struct seen s;
    struct fs_check_report r;
    assert_int_equal(run_check(dir, &s, &r), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(r.errors, 0);
}

/* The contents of the regular file at ino, read through the fs core. */
static char *read_file(const char *dir, uint64_t ino, size_t *len)
{
    struct lsmerfs *fs;
    struct fs_ctx ctx = {0, 0, 0, 0};
    struct stat st;
    uint64_t fh;
    assert_int_equal(fs_open(dir, NULL, &fs), 0);
    assert_int_equal(fs_getattr(fs, ino, &st), 0);
    char *buf = malloc((size_t)st.st_size + 1);
    assert_int_equal(fs_open_file(fs, ino, O_RDONLY, &ctx, &fh), 0);
    size_t nr = 0;
    assert_int_equal(fs_read(fs, ino, fh, buf, (size_t)st.st_size + 1, 0, &nr), 0);
    assert_int_equal(nr, (size_t)st.st_size);
    fs_release(fs, ino, fh);
    fs_close(fs);
    *len = nr;
    return buf;
}

/* The regular file at ino holds exactly want[0, len). */
static void expect_file(const char *dir, uint64_t ino, const char *want, size_t len)
{
    size_t n;
    char *got = read_file(dir, ino, &n);
    assert_int_equal(n, len);
    assert_memory_equal(got, want, len);
    free(got);
}

/* ino of parent/name through the fs core, 0 if there is none. */
static uint64_t lookup(const char *dir, uint64_t parent, const char *name)
{
    struct lsmerfs *fs;
    struct stat st;
    assert_int_equal(fs_open(dir, NULL, &fs), 0);
    int rc = fs_lookup(fs, parent, name, &st);
    if (rc == 0) fs_forget(fs, st.st_ino, 1);
    fs_close(fs);
    return rc == 0 ? st.st_ino : 0;
}

static void test_repair_entries(void **state)
{
    (void)state;
    struct tree t;
    struct fixes f;
    struct fs_repair_report rr;
    build_store(&t, "repair_entries");
    size_t flen;
    char *before = read_file(t.dir, t.f, &flen);
    uint8_t k[KEY_NAMED_MAX], v[DENTRY_VAL_LEN];
    /* an entry naming nothing */
    dentry_encode(t.f + 500, S_IFREG >> 12, v);
    put_raw(t.dir, k, key_dentry(k, t.b, "ghost", 5), v, sizeof(v));
    /* an entry whose type is wrong */
    dentry_encode(t.small, S_IFLNK >> 12, v);
    put_raw(t.dir, k, key_dentry(k, ROOT, "small", 5), v, sizeof(v));
    /* a second entry of directory /a/b, and an entry naming the root */
    dentry_encode(t.b, S_IFDIR >> 12, v);
    put_raw(t.dir, k, key_dentry(k, ROOT, "b2", 2), v, sizeof(v));
    dentry_encode(ROOT, S_IFDIR >> 12, v);
    put_raw(t.dir, k, key_dentry(k, t.a, "up", 2), v, sizeof(v));
    /* an entry that does not decode */
    put_raw(t.dir, k, key_dentry(k, t.a, "junk", 4), "xyz", 3);
    repair_clean(t.dir, &f, &rr);
    expect_fixed(&f, FS_CHECK_DANGLING, "/a/b/ghost");
    expect_fixed(&f, FS_CHECK_DENTRY_TYPE, "/small");
    expect_fixed(&f, FS_CHECK_DIR_LINKS, "/b2");
    expect_fixed(&f, FS_CHECK_ROOT, "/a/up");
    expect_fixed(&f, FS_CHECK_BAD_DENTRY, "/a/junk");
    assert_int_equal(lookup(t.dir, t.b, "ghost"), 0);
    assert_int_equal(lookup(t.dir, ROOT, "b2"), 0);
    assert_int_equal(lookup(t.dir, t.a, "b"), t.b);
    assert_int_equal(lookup(t.dir, ROOT, "small"), t.small);
    assert_int_equal(lookup(t.dir, t.b, "g"), t.f);
    expect_file(t.dir, t.f, before, flen);
    free(before);
    /* a second repair finds nothing to do */
    assert_int_equal(run_repair(t.dir, &f, &rr), 0);
    assert_int_equal(rr.fixed, 0);
    assert_int_equal(f.n, 0);
    tree_free(&t);
}

static void test_repair_counts(void **state)
{
    (void)state;
    struct tree t;
    struct fixes f;
    struct fs_repair_report rr;
    build_store(&t, "repair_counts");
    struct fs_inode *in = malloc(sizeof(*in));
    get_inode(t.dir, t.f, in);
    in->nlink = 7;
    put_inode(t.dir, t.f, in);
    get_inode(t.dir, t.a, in);
    in->nlink = 9;
    put_inode(t.dir, t.a, in);
    get_inode(t.dir, t.b, in);
    in->parent = t.small;
    put_inode(t.dir, t.b, in);
    get_inode(t.dir, t.x, in);
    in->flags &= ~FS_IFLAG_HAS_XATTR;
    put_inode(t.dir, t.x, in);
    repair_clean(t.dir, &f, &rr);
    expect_fixed(&f, FS_CHECK_NLINK, "/a/f");
    expect_fixed(&f, FS_CHECK_NLINK, "/a");
    expect_fixed(&f, FS_CHECK_DIR_PARENT, "/a/b");
    expect_fixed(&f, FS_CHECK_XATTR_FLAG, "/x");
    get_inode(t.dir, t.f, in);
    assert_int_equal(in->nlink, 2);
    get_inode(t.dir, t.a, in);
    assert_int_equal(in->nlink, 3);
    get_inode(t.dir, t.b, in);
    assert_int_equal(in->parent, t.a);
    free(in);
    tree_free(&t);
}

static void test_repair_lost(void **state)
{
    (void)state;
    struct tree t;
    struct fixes f;
    struct fs_repair_report rr;
    build_store(&t, "repair_lost");
    struct fs_inode *in = malloc(sizeof(*in));
    /* a lost copy of /small (inline data), a lost empty file, a lost file
     * far above the allocator's limit, and a file whose only entry is in a
     * directory that does not exist */
    get_inode(t.dir, t.small, in);
    in->nlink = 1;
    uint64_t lost = t.x + 3, empty = t.x + 4, child = t.x + 5, high = 1u << 30;
    put_inode(t.dir, lost, in);
    put_inode(t.dir, high, in);
    put_inode(t.dir, child, in);
    uint8_t k[KEY_NAMED_MAX], v[DENTRY_VAL_LEN];
    dentry_encode(child, S_IFREG >> 12, v);
    put_raw(t.dir, k, key_dentry(k, 9999, "child", 5), v, sizeof(v));
    in->size = 0;
    in->inline_len = 0;
    put_inode(t.dir, empty, in);
    repair_clean(t.dir, &f, &rr);
    expect_fixed(&f, FS_CHECK_LOST, NULL);
    expect_fixed(&f, FS_CHECK_INO_LIMIT, NULL);
    expect_fixed(&f, FS_CHECK_NOT_DIR, "<ino 9999>/child");
    assert_true(rr.passes >= 3); /* the child is lost only once its entry is gone */
    uint64_t lf = lookup(t.dir, ROOT, "lost+found");
    assert_true(lf > 0);
    char name[32];
    size_t n;
    char *want = read_file(t.dir, t.small, &n);
    uint64_t inos[3] = {lost, high, child};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "#%llu", (unsigned long long)inos[i]);
        assert_int_equal(lookup(t.dir, lf, name), inos[i]);
        expect_file(t.dir, inos[i], want, n);
    }
    free(want);
    snprintf(name, sizeof(name), "#%llu", (unsigned long long)empty);
    assert_int_equal(lookup(t.dir, lf, name), 0);
    uint8_t ik[KEY_INO_LEN];
    lsmer_db *db = open_raw(t.dir);
    lsmer_buf bv = {0};
    assert_int_equal(lsmer_get(db, NULL, ik, key_inode(ik, empty), &bv), -ENOENT);
    lsmer_close(db);
    /* no inode number is handed out twice after the repair */
    struct lsmerfs *fs;
    struct fs_ctx ctx = {0, 0, 0, 0};
    struct stat st;
    assert_int_equal(fs_open(t.dir, NULL, &fs), 0);
    assert_int_equal(fs_mkdir(fs, ROOT, "new", 0755, &ctx, &st), 0);
    assert_true(st.st_ino > high);
    assert_true(st.st_ino != lf);
    fs_close(fs);
    struct seen s;
    struct fs_check_report r;
    assert_int_equal(run_check(t.dir, &s, &r), 0);
    assert_int_equal(s.n, 0);
    free(in);
    tree_free(&t);
}

static void test_repair_blocks(void **state)
{
    (void)state;
    struct tree t;
    struct fixes f;
    struct fs_repair_report rr;
    build_store(&t, "repair_blocks");
    size_t flen;
    char *before = read_file(t.dir, t.f, &flen);
    uint8_t k[KEY_NAMED_MAX], v[10] = {1};
    put_raw(t.dir, k, key_block(k, t.f, 50), v, sizeof(v));
    uint64_t last = 200000 / t.bs, len = 200000 % t.bs + 7;
    uint8_t *big = calloc(1, len);
    lsmer_db *db = open_raw(t.dir);
    lsmer_buf bv = {0};
    assert_int_equal(lsmer_get(db, NULL, k, key_block(k, t.f, last), &bv), 0);
    memcpy(big, bv.data, bv.size);
    lsmer_buf_free(&bv);
    lsmer_close(db);
    put_raw(t.dir, k, key_block(k, t.f, last), big, len); /* 7 bytes too long */
    free(big);
    put_raw(t.dir, k, key_block(k, t.small, 0), v, sizeof(v));
    for (uint64_t b = 0; b < 3; b++) put_raw(t.dir, k, key_block(k, 777, b), v, sizeof(v));
    put_raw(t.dir, k, key_xattr(k, 778, "user.a", 6), v, 1);
    put_raw(t.dir, k, key_orphan(k, t.small), "", 0);
    put_raw(t.dir, k, key_orphan(k, 779), "", 0);
    repair_clean(t.dir, &f, &rr);
    expect_fixed(&f, FS_CHECK_BLOCK_PAST_EOF, "/a/f");
    expect_fixed(&f, FS_CHECK_BLOCK_BAD, "/small");
    expect_fixed(&f, FS_CHECK_BLOCK_DEAD, NULL);
    expect_fixed(&f, FS_CHECK_XATTR_DEAD, NULL);
    expect_fixed(&f, FS_CHECK_ORPHAN_LINKED, "/small");
    expect_fixed(&f, FS_CHECK_ORPHAN_DEAD, NULL);
    expect_file(t.dir, t.f, before, flen);
    free(before);
    assert_int_equal(lookup(t.dir, ROOT, "small"), t.small);
    tree_free(&t);
}

static void test_repair_cycle(void **state)
{
    (void)state;
    struct tree t;
    struct fixes f;
    struct fs_repair_report rr;
    build_store(&t, "repair_cycle");
    make_cycle(&t);
    repair_clean(t.dir, &f, &rr);
    expect_fixed(&f, FS_CHECK_UNREACHABLE, NULL);
    uint64_t lf = lookup(t.dir, ROOT, "lost+found");
    assert_true(lf > 0);
    /* one of the two is now under lost+found, the other inside it */
    char na[32], nb[32];
    snprintf(na, sizeof(na), "#%llu", (unsigned long long)t.a);
    snprintf(nb, sizeof(nb), "#%llu", (unsigned long long)t.b);
    uint64_t top = lookup(t.dir, lf, na) ? t.a : t.b;
    assert_true(lookup(t.dir, lf, top == t.a ? na : nb) == top);
    if (top == t.a)
        assert_int_equal(lookup(t.dir, t.a, "b"), t.b);
    else
        assert_int_equal(lookup(t.dir, t.b, "a"), t.a);
    assert_int_equal(lookup(t.dir, t.a, "f"), t.f);
    tree_free(&t);
}

static void test_repair_orphan(void **state)
{
    (void)state;
    char *dir = test_tmpdir("repair_orphan");
    make_orphan(dir);
    struct fixes f;
    struct fs_repair_report rr;
    repair_clean(dir, &f, &rr);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.kind[0], FS_CHECK_ORPHAN);
    assert_int_equal(rr.errors_fixed, 0);
    assert_int_equal(rr.first.infos, 1);
    test_rmtree(dir);
    free(dir);
}

/* Damage under a checksum is never "repaired": nothing is written. */
static void test_repair_refuses_checksum(void **state)
{
    (void)state;
    struct tree t;
    build_store(&t, "repair_bitflip");
    char *table = compact_to_table(t.dir);
    off_t size = flip_bit(table);
    struct fixes f;
    struct fs_repair_report rr;
    assert_int_equal(run_repair(t.dir, &f, &rr), 0);
    assert_int_equal(rr.fixed, 0);
    assert_true(rr.last.errors >= 1);
    assert_int_equal(rr.last.incomplete, 1);
    assert_true(f.n >= 1);
    for (int i = 0; i < f.n; i++) assert_int_equal(f.fixed[i], 0);
    struct stat st;
    assert_int_equal(stat(table, &st), 0); /* the table is still there, unchanged */
    assert_int_equal(st.st_size, size);
    /* in use: refused */
    free(table);
    tree_free(&t);
    build_store(&t, "repair_busy");
    struct lsmerfs *fs;
    assert_int_equal(fs_open(t.dir, NULL, &fs), 0);
    assert_int_equal(run_repair(t.dir, &f, &rr), -EBUSY);
    fs_close(fs);
    tree_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_dangling_dentry),
        cmocka_unit_test(test_wrong_nlink),
        cmocka_unit_test(test_lost_inode),
        cmocka_unit_test(test_block_past_eof),
        cmocka_unit_test(test_dead_inode_keys),
        cmocka_unit_test(test_unreachable_dir),
        cmocka_unit_test(test_orphan_is_info),
        cmocka_unit_test(test_flipped_bit),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_repair_entries),
        cmocka_unit_test(test_repair_counts),
        cmocka_unit_test(test_repair_lost),
        cmocka_unit_test(test_repair_blocks),
        cmocka_unit_test(test_repair_cycle),
        cmocka_unit_test(test_repair_orphan),
        cmocka_unit_test(test_repair_refuses_checksum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
