/*
 * test_fs_posix.c — targeted POSIX rules of the fs core, called directly
 * (no mount): names, link counts, rename rules, holes and truncation,
 * SEEK_DATA/SEEK_HOLE, punch hole, xattr flags, unlinked-while-open files
 * and their reclaim at mount, inode numbers never reused, readdir offsets
 * and snapshots, setuid clearing, refusing foreign stores.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs.h"
#include "lsmer.h"
#include "testutil.h"

#define ROOT 1

struct t {
    char *dir;
    struct lsmerfs *fs;
    struct fs_ctx ctx; /* root */
    struct fs_ctx user;
};

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof(*t));
    t->dir = test_tmpdir("fs_posix");
    assert_int_equal(fs_open(t->dir, NULL, &t->fs), 0);
    t->user.uid = 1000;
    t->user.gid = 1000;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct t *t = *state;
    fs_close(t->fs);
    test_rmtree(t->dir);
    free(t->dir);
    free(t);
    return 0;
}

static void reopen(struct t *t)
{
    fs_close(t->fs);
    assert_int_equal(fs_open(t->dir, NULL, &t->fs), 0);
}

static uint64_t mkfile(struct t *t, uint64_t dir, const char *name)
{
    struct stat st;
    uint64_t fh;
    assert_int_equal(fs_create(t->fs, dir, name, 0644, O_RDWR, &t->ctx, &fh, &st), 0);
    assert_int_equal(fs_release(t->fs, st.st_ino, fh), 0);
    fs_forget(t->fs, st.st_ino, 1); /* as the kernel would, eventually */
    return st.st_ino;
}

static uint64_t mkdir_(struct t *t, uint64_t dir, const char *name)
{
    struct stat st;
    assert_int_equal(fs_mkdir(t->fs, dir, name, 0755, &t->ctx, &st), 0);
    fs_forget(t->fs, st.st_ino, 1);
    return st.st_ino;
}

/* lookup and link, dropping the reference they hand out as the kernel would
 * once it is done with the inode */
static int lk(struct t *t, uint64_t parent, const char *name, struct stat *st)
{
    int rc = fs_lookup(t->fs, parent, name, st);
    if (rc == 0) fs_forget(t->fs, st->st_ino, 1);
    return rc;
}

static int ln_(struct t *t, uint64_t ino, uint64_t parent, const char *name,
               const struct fs_ctx *ctx, struct stat *st)
{
    int rc = fs_link(t->fs, ino, parent, name, ctx, st);
    if (rc == 0) fs_forget(t->fs, ino, 1);
    return rc;
}

static struct stat attr(struct t *t, uint64_t ino)
{
    struct stat st;
    assert_int_equal(fs_getattr(t->fs, ino, &st), 0);
    return st;
}

static void put(struct t *t, uint64_t ino, off_t off, const void *p, size_t n)
{
    size_t w;
    assert_int_equal(fs_write(t->fs, ino, ino, p, n, off, &t->ctx, &w), 0);
    assert_int_equal(w, n);
}

static void truncate_to(struct t *t, uint64_t ino, off_t size)
{
    struct stat a = {.st_size = size}, st;
    assert_int_equal(fs_setattr(t->fs, ino, &a, FS_SET_SIZE, &t->ctx, &st), 0);
    assert_int_equal(st.st_size, size);
}

/* Reads [off, off+n) and checks that every byte equals c. */
static void expect_fill(struct t *t, uint64_t ino, off_t off, size_t n, int c)
{
    uint8_t *b = malloc(n);
    size_t got;
    assert_int_equal(fs_read(t->fs, ino, ino, b, n, off, &got), 0);
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++)
        if (b[i] != (uint8_t)c)
            fail_msg("byte %zu of [%lld,+%zu) is %d, want %d", i, (long long)off, n, b[i], c);
    free(b);
}

static void names_and_lengths(void **state)
{
    struct t *t = *state;
    char name[300];
    struct stat st;
    uint64_t fh;
    memset(name, 'n', sizeof(name));
    name[255] = '\0';
    assert_int_equal(fs_create(t->fs, ROOT, name, 0644, 0, &t->ctx, &fh, &st), 0);
    fs_release(t->fs, st.st_ino, fh);
    assert_int_equal(lk(t, ROOT, name, &st), 0);
    name[255] = 'n';
    name[256] = '\0';
    assert_int_equal(fs_create(t->fs, ROOT, name, 0644, 0, &t->ctx, &fh, &st), -ENAMETOOLONG);
    assert_int_equal(fs_mkdir(t->fs, ROOT, name, 0755, &t->ctx, &st), -ENAMETOOLONG);
    assert_int_equal(lk(t, ROOT, name, &st), -ENAMETOOLONG);
    /* creating an existing name, looking up under a file */
    uint64_t f = mkfile(t, ROOT, "f");
    assert_int_equal(fs_create(t->fs, ROOT, "f", 0644, 0, &t->ctx, &fh, &st), -EEXIST);
    assert_int_equal(fs_mkdir(t->fs, ROOT, "f", 0755, &t->ctx, &st), -EEXIST);
    assert_int_equal(lk(t, f, "x", &st), -ENOTDIR);
    assert_int_equal(fs_mkdir(t->fs, f, "x", 0755, &t->ctx, &st), -ENOTDIR);
    /* symlink targets up to 4095 bytes */
    char *target = malloc(5000);
    memset(target, 't', 5000);
    target[4095] = '\0';
    assert_int_equal(fs_symlink(t->fs, target, ROOT, "l", &t->ctx, &st), 0);
    assert_int_equal(st.st_size, 4095);
    char back[4200];
    size_t len;
    assert_int_equal(fs_readlink(t->fs, st.st_ino, back, sizeof(back), &len), 0);
    assert_int_equal(len, 4095);
    assert_string_equal(back, target);
    target[4095] = 't';
    target[4096] = '\0';
    assert_int_equal(fs_symlink(t->fs, target, ROOT, "l2", &t->ctx, &st), -ENAMETOOLONG);
    assert_int_equal(fs_readlink(t->fs, f, back, sizeof(back), &len), -EINVAL);
    free(target);
}

static void link_counts(void **state)
{
    struct t *t = *state;
    assert_int_equal(attr(t, ROOT).st_nlink, 2);
    uint64_t d = mkdir_(t, ROOT, "d");
    assert_int_equal(attr(t, ROOT).st_nlink, 3);
    assert_int_equal(attr(t, d).st_nlink, 2);
    mkdir_(t, d, "sub");
    assert_int_equal(attr(t, d).st_nlink, 3);
    uint64_t f = mkfile(t, d, "f");
    assert_int_equal(attr(t, d).st_nlink, 3); /* files do not count */
    struct stat st;
    assert_int_equal(ln_(t, f, ROOT, "f2", &t->ctx, &st), 0);
    assert_int_equal(st.st_nlink, 2);
    assert_int_equal(ln_(t, f, ROOT, "f2", &t->ctx, &st), -EEXIST);
    assert_int_equal(ln_(t, d, ROOT, "dlink", &t->ctx, &st), -EPERM);
    assert_int_equal(fs_rmdir(t->fs, ROOT, "d", &t->ctx), -ENOTEMPTY);
    assert_int_equal(fs_rmdir(t->fs, d, "f", &t->ctx), -ENOTDIR);
    assert_int_equal(fs_unlink(t->fs, d, "sub", &t->ctx), -EISDIR);
    assert_int_equal(fs_unlink(t->fs, d, "f", &t->ctx), 0);
    assert_int_equal(attr(t, f).st_nlink, 1);
    assert_int_equal(fs_rmdir(t->fs, d, "sub", &t->ctx), 0);
    assert_int_equal(attr(t, d).st_nlink, 2);
    assert_int_equal(fs_rmdir(t->fs, ROOT, "d", &t->ctx), 0);
    assert_int_equal(attr(t, ROOT).st_nlink, 2);
    assert_int_equal(fs_getattr(t->fs, d, &st), -ENOENT);
    assert_int_equal(fs_unlink(t->fs, ROOT, "f2", &t->ctx), 0);
    assert_int_equal(fs_getattr(t->fs, f, &st), -ENOENT);
    assert_int_equal(fs_unlink(t->fs, ROOT, "f2", &t->ctx), -ENOENT);
}

static void rename_rules(void **state)
{
    struct t *t = *state;
    struct stat st;
    uint64_t a = mkdir_(t, ROOT, "a");
    uint64_t b = mkdir_(t, a, "b");
    uint64_t f = mkfile(t, ROOT, "f");
    uint64_t g = mkfile(t, ROOT, "g");
    uint64_t e = mkdir_(t, ROOT, "empty");
    /* a directory into its own subtree, or onto itself */
    assert_int_equal(fs_rename(t->fs, ROOT, "a", b, "x", 0, &t->ctx), -EINVAL);
    assert_int_equal(fs_rename(t->fs, ROOT, "a", a, "x", 0, &t->ctx), -EINVAL);
    /* type clashes and non-empty targets */
    assert_int_equal(fs_rename(t->fs, ROOT, "f", ROOT, "a", 0, &t->ctx), -EISDIR);
    assert_int_equal(fs_rename(t->fs, ROOT, "empty", ROOT, "f", 0, &t->ctx), -ENOTDIR);
    assert_int_equal(fs_rename(t->fs, ROOT, "empty", ROOT, "a", 0, &t->ctx), -ENOTEMPTY);
    assert_int_equal(fs_rename(t->fs, ROOT, "nope", ROOT, "x", 0, &t->ctx), -ENOENT);
    /* NOREPLACE, EXCHANGE without a target */
    assert_int_equal(fs_rename(t->fs, ROOT, "f", ROOT, "g", RENAME_NOREPLACE, &t->ctx), -EEXIST);
    assert_int_equal(fs_rename(t->fs, ROOT, "f", ROOT, "zz", RENAME_EXCHANGE, &t->ctx), -ENOENT);
    /* over an existing file: the target inode goes */
    assert_int_equal(fs_rename(t->fs, ROOT, "f", ROOT, "g", 0, &t->ctx), 0);
    assert_int_equal(lk(t, ROOT, "g", &st), 0);
    assert_int_equal(st.st_ino, f);
    assert_int_equal(lk(t, ROOT, "f", &st), -ENOENT);
    assert_int_equal(fs_getattr(t->fs, g, &st), -ENOENT);
    /* a directory over an empty directory in another parent */
    mkdir_(t, a, "target");
    assert_int_equal(attr(t, a).st_nlink, 4);
    assert_int_equal(attr(t, ROOT).st_nlink, 4); /* a, empty + 2 */
    assert_int_equal(fs_rename(t->fs, ROOT, "empty", a, "target", 0, &t->ctx), 0);
    assert_int_equal(attr(t, a).st_nlink, 4);
    assert_int_equal(attr(t, ROOT).st_nlink, 3);
    assert_int_equal(lk(t, a, "target", &st), 0);
    assert_int_equal(st.st_ino, e);
    /* ".." of the moved directory follows it */
    struct fs_dir *h;
    assert_int_equal(fs_opendir(t->fs, e, &h), 0);
    fs_releasedir(t->fs, h);
    /* hard links to one inode: rename is a no-op */
    assert_int_equal(ln_(t, f, ROOT, "f-link", &t->ctx, &st), 0);
    assert_int_equal(fs_rename(t->fs, ROOT, "g", ROOT, "f-link", 0, &t->ctx), 0);
    assert_int_equal(lk(t, ROOT, "g", &st), 0);
    assert_int_equal(attr(t, f).st_nlink, 2);
    /* EXCHANGE a file with a directory across parents */
    assert_int_equal(fs_rename(t->fs, ROOT, "g", a, "b", RENAME_EXCHANGE, &t->ctx), 0);
    assert_int_equal(lk(t, ROOT, "g", &st), 0);
    assert_int_equal(st.st_ino, b);
    assert_int_equal(lk(t, a, "b", &st), 0);
    assert_int_equal(st.st_ino, f);
    assert_int_equal(attr(t, ROOT).st_nlink, 4);
    assert_int_equal(attr(t, a).st_nlink, 3);
    /* EXCHANGE a directory with its ancestor */
    uint64_t c = mkdir_(t, b, "c");
    (void)c;
    assert_int_equal(fs_rename(t->fs, b, "c", ROOT, "g", RENAME_EXCHANGE, &t->ctx), -EINVAL);
    /* survives a reopen */
    reopen(t);
    assert_int_equal(lk(t, a, "target", &st), 0);
    assert_int_equal(st.st_ino, e);
    assert_int_equal(attr(t, ROOT).st_nlink, 4);
}

static void holes_and_truncate(void **state)
{
    struct t *t = *state;
    const size_t bs = fs_block_size(t->fs);
    uint64_t f = mkfile(t, ROOT, "f");
    uint8_t *x = malloc(3 * bs);
    memset(x, 0xab, 3 * bs);
    /* inline file: truncate down then up reads zeros */
    put(t, f, 0, x, 1000);
    truncate_to(t, f, 10);
    truncate_to(t, f, 1500);
    expect_fill(t, f, 0, 10, 0xab);
    expect_fill(t, f, 10, 1490, 0);
    /* grow past the inline limit by truncation: data kept, rest zeros */
    truncate_to(t, f, (off_t)(2 * bs + 17));
    expect_fill(t, f, 0, 10, 0xab);
    expect_fill(t, f, 10, 2 * bs + 7, 0);
    /* a write far past the end leaves a hole */
    put(t, f, (off_t)(5 * bs + 100), x, 50);
    assert_int_equal(attr(t, f).st_size, 5 * bs + 150);
    expect_fill(t, f, (off_t)(2 * bs), 3 * bs + 100, 0);
    expect_fill(t, f, (off_t)(5 * bs + 100), 50, 0xab);
    /* block file: cut in the middle of a block, grow again: zeros */
    put(t, f, 0, x, 3 * bs);
    truncate_to(t, f, (off_t)(bs + 5));
    truncate_to(t, f, (off_t)(4 * bs));
    expect_fill(t, f, 0, bs + 5, 0xab);
    expect_fill(t, f, (off_t)(bs + 5), 3 * bs - 5, 0);
    /* a write into a hole between data */
    put(t, f, (off_t)(3 * bs - 3), x, 6);
    expect_fill(t, f, (off_t)(3 * bs - 3), 6, 0xab);
    expect_fill(t, f, (off_t)(3 * bs + 3), bs - 3, 0);
    /* truncate to zero and reuse as a small file */
    truncate_to(t, f, 0);
    put(t, f, 100, x, 10);
    expect_fill(t, f, 0, 100, 0);
    expect_fill(t, f, 100, 10, 0xab);
    reopen(t);
    expect_fill(t, f, 0, 100, 0);
    expect_fill(t, f, 100, 10, 0xab);
    /* reads past the end return nothing */
    size_t got;
    assert_int_equal(fs_read(t->fs, f, f, x, 100, 110, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(fs_read(t->fs, f, f, x, 100, 1 << 30, &got), 0);
    assert_int_equal(got, 0);
    free(x);
}

static void seek_data_hole_and_punch(void **state)
{
    struct t *t = *state;
    const off_t bs = (off_t)fs_block_size(t->fs);
    uint64_t f = mkfile(t, ROOT, "f");
    uint8_t *x = malloc((size_t)bs);
    memset(x, 1, (size_t)bs);
    off_t o;
    assert_int_equal(fs_lseek(t->fs, f, 0, SEEK_DATA, &o), -ENXIO);
    put(t, f, 0, x, 100); /* inline: all data */
    assert_int_equal(fs_lseek(t->fs, f, 5, SEEK_DATA, &o), 0);
    assert_int_equal(o, 5);
    assert_int_equal(fs_lseek(t->fs, f, 5, SEEK_HOLE, &o), 0);
    assert_int_equal(o, 100);
    /* data in blocks 0 and 3, holes at 1-2 and after 4 */
    put(t, f, 0, x, (size_t)bs);
    put(t, f, 3 * bs, x, (size_t)bs);
    truncate_to(t, f, 6 * bs);
    assert_int_equal(fs_lseek(t->fs, f, 10, SEEK_DATA, &o), 0);
    assert_int_equal(o, 10);
    assert_int_equal(fs_lseek(t->fs, f, 10, SEEK_HOLE, &o), 0);
    assert_int_equal(o, bs);
    assert_int_equal(fs_lseek(t->fs, f, bs + 1, SEEK_DATA, &o), 0);
    assert_int_equal(o, 3 * bs);
    assert_int_equal(fs_lseek(t->fs, f, 3 * bs, SEEK_HOLE, &o), 0);
    assert_int_equal(o, 4 * bs);
    assert_int_equal(fs_lseek(t->fs, f, 4 * bs, SEEK_DATA, &o), -ENXIO);
    assert_int_equal(fs_lseek(t->fs, f, 6 * bs, SEEK_HOLE, &o), -ENXIO);
    /* punch: partial head, full middle, partial tail */
    put(t, f, 0, x, (size_t)bs);
    put(t, f, bs, x, (size_t)bs);
    put(t, f, 2 * bs, x, (size_t)bs);
    assert_int_equal(
        fs_fallocate(t->fs, f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 2 * bs, &t->ctx),
        0);
    assert_int_equal(attr(t, f).st_size, 6 * bs);
    expect_fill(t, f, 0, 100, 1);
    expect_fill(t, f, 100, (size_t)(2 * bs), 0);
    expect_fill(t, f, 2 * bs + 100, (size_t)bs - 100, 1);
    assert_int_equal(fs_lseek(t->fs, f, 100, SEEK_DATA, &o), 0);
    assert_int_equal(o, 100); /* block 0 still exists */
    assert_int_equal(fs_lseek(t->fs, f, bs, SEEK_DATA, &o), 0);
    assert_int_equal(o, 2 * bs); /* block 1 went */
    /* punch inside one block */
    assert_int_equal(fs_fallocate(t->fs, f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 3 * bs + 10,
                                  20, &t->ctx),
                     0);
    expect_fill(t, f, 3 * bs, 10, 1);
    expect_fill(t, f, 3 * bs + 10, 20, 0);
    expect_fill(t, f, 3 * bs + 30, 10, 1);
    /* mode 0 extends; KEEP_SIZE does not; others unsupported */
    assert_int_equal(fs_fallocate(t->fs, f, 0, 7 * bs, 10, &t->ctx), 0);
    assert_int_equal(attr(t, f).st_size, 7 * bs + 10);
    assert_int_equal(fs_fallocate(t->fs, f, FALLOC_FL_KEEP_SIZE, 9 * bs, 10, &t->ctx), 0);
    assert_int_equal(attr(t, f).st_size, 7 * bs + 10);
    assert_int_equal(fs_fallocate(t->fs, f, FALLOC_FL_PUNCH_HOLE, 0, 10, &t->ctx), -EOPNOTSUPP);
    free(x);
}

/* A write, a truncate (even to the same size), an open with O_TRUNC and a
 * chown drop a file's capabilities, for root too, as on ext4; other
 * attributes stay. */
static void caps_dropped_on_change(void **state)
{
    struct t *t = *state;
    static const char caps[] = "security.capability";
    char buf[64];
    size_t len, w;
    struct stat a, st;
    uint64_t f = mkfile(t, ROOT, "f");
    for (int how = 0; how < 5; how++) {
        assert_int_equal(fs_setxattr(t->fs, f, caps, "\1\2\3", 3, 0, &t->ctx), 0);
        assert_int_equal(fs_setxattr(t->fs, f, "user.keep", "k", 1, 0, &t->ctx), 0);
        assert_int_equal(fs_getxattr(t->fs, f, caps, buf, sizeof(buf), &len), 0);
        memset(&a, 0, sizeof(a));
        uint64_t fh;
        switch (how) {
        case 0: /* a write by root */
            assert_int_equal(fs_write(t->fs, f, f, "x", 1, 0, &t->ctx, &w), 0);
            break;
        case 1: /* truncate to the size it has */
            assert_int_equal(fs_getattr(t->fs, f, &st), 0);
            a.st_size = st.st_size;
            assert_int_equal(fs_setattr(t->fs, f, &a, FS_SET_SIZE, &t->ctx, &st), 0);
            break;
        case 2: /* open with O_TRUNC */
            assert_int_equal(fs_open_file(t->fs, f, O_WRONLY | O_TRUNC, &t->ctx, &fh), 0);
            assert_int_equal(fs_release(t->fs, f, fh), 0);
            break;
        case 3: /* chown */
            a.st_uid = 1000;
            assert_int_equal(fs_setattr(t->fs, f, &a, FS_SET_UID, &t->ctx, &st), 0);
            break;
        case 4: /* a chmod keeps them (not a change of data or owner) */
            a.st_mode = 0600;
            assert_int_equal(fs_setattr(t->fs, f, &a, FS_SET_MODE, &t->ctx, &st), 0);
            break;
        }
        assert_int_equal(fs_getxattr(t->fs, f, caps, buf, sizeof(buf), &len),
                         how == 4 ? 0 : -ENODATA);
        assert_int_equal(fs_getxattr(t->fs, f, "user.keep", buf, sizeof(buf), &len), 0);
    }
    /* and the drop is in the same batch: it survives a reopen */
    assert_int_equal(fs_write(t->fs, f, f, "y", 1, 0, &t->ctx, &w), 0);
    reopen(t);
    assert_int_equal(fs_getxattr(t->fs, f, caps, buf, sizeof(buf), &len), -ENODATA);
}

/* Through a mount, SEEK_DATA said ENXIO for a file whose data the kernel had
 * not written back yet (t_fsx). The daemon now leaves SEEK_DATA/SEEK_HOLE to
 * the kernel when the writeback cache is on; without it, pages written
 * through a shared mmap stay in the kernel until msync or munmap, which only
 * a handle opened for writing can do, so while one is open the core calls
 * the whole file data. */
static void bug_seek_hole_misses_pages_of_an_open_writer(void **state)
{
    struct t *t = *state;
    const off_t bs = (off_t)fs_block_size(t->fs);
    uint64_t f = mkfile(t, ROOT, "f");
    uint8_t *x = malloc((size_t)bs);
    memset(x, 1, (size_t)bs);
    put(t, f, 2 * bs, x, (size_t)bs); /* holes at blocks 0-1, data in block 2 */
    uint64_t ro, rw;
    off_t o;
    assert_int_equal(fs_open_file(t->fs, f, O_RDONLY, &t->ctx, &ro), 0);
    assert_int_equal(ro, 0);
    assert_int_equal(fs_lseek(t->fs, f, 0, SEEK_DATA, &o), 0);
    assert_int_equal(o, 2 * bs); /* a reader changes nothing */
    assert_int_equal(fs_open_file(t->fs, f, O_RDWR, &t->ctx, &rw), 0);
    assert_int_equal(rw, FS_FH_WRITE);
    assert_int_equal(fs_lseek(t->fs, f, 0, SEEK_DATA, &o), 0);
    assert_int_equal(o, 0);
    assert_int_equal(fs_lseek(t->fs, f, bs, SEEK_HOLE, &o), 0);
    assert_int_equal(o, 3 * bs);
    assert_int_equal(fs_lseek(t->fs, f, 3 * bs, SEEK_DATA, &o), -ENXIO);
    assert_int_equal(fs_release(t->fs, f, rw), 0);
    assert_int_equal(fs_lseek(t->fs, f, 0, SEEK_DATA, &o), 0);
    assert_int_equal(o, 2 * bs);
    assert_int_equal(fs_lseek(t->fs, f, 0, SEEK_HOLE, &o), 0);
    assert_int_equal(o, 0);
    assert_int_equal(fs_release(t->fs, f, ro), 0);
    /* a file created for writing counts from its creation to its release */
    struct stat st;
    uint64_t fh;
    assert_int_equal(fs_create(t->fs, ROOT, "g", 0644, O_WRONLY, &t->ctx, &fh, &st), 0);
    assert_int_equal(fh, FS_FH_WRITE);
    truncate_to(t, st.st_ino, 2 * bs);
    assert_int_equal(fs_lseek(t->fs, st.st_ino, 0, SEEK_HOLE, &o), 0);
    assert_int_equal(o, 2 * bs);
    assert_int_equal(fs_release(t->fs, st.st_ino, fh), 0);
    assert_int_equal(fs_lseek(t->fs, st.st_ino, 0, SEEK_HOLE, &o), 0);
    assert_int_equal(o, 0);
    assert_int_equal(fs_lseek(t->fs, st.st_ino, 0, SEEK_DATA, &o), -ENXIO);
    fs_forget(t->fs, st.st_ino, 1);
    free(x);
}

/* Through a mount, open(O_RDONLY|O_TRUNC) emptied the file as the kernel
 * saw it (it truncates its own view at once) but not in the store, so the
 * bytes were back after a remount (t_posix). Linux truncates on O_TRUNC
 * whatever the access mode; the kernel has checked write permission. */
static void bug_open_rdonly_trunc_kept_the_data(void **state)
{
    struct t *t = *state;
    uint64_t f = mkfile(t, ROOT, "small"), g = mkfile(t, ROOT, "blocks");
    uint8_t x[40000];
    memset(x, 3, sizeof(x));
    put(t, f, 0, x, 100);
    put(t, g, 0, x, sizeof(x));
    uint64_t fh;
    assert_int_equal(fs_open_file(t->fs, f, O_RDONLY | O_TRUNC, &t->ctx, &fh), 0);
    assert_int_equal(attr(t, f).st_size, 0);
    fs_release(t->fs, f, fh);
    assert_int_equal(fs_open_file(t->fs, g, O_RDONLY | O_TRUNC, &t->ctx, &fh), 0);
    assert_int_equal(attr(t, g).st_size, 0);
    fs_release(t->fs, g, fh);
    reopen(t);
    assert_int_equal(attr(t, f).st_size, 0);
    assert_int_equal(attr(t, g).st_size, 0);
    put(t, g, 30000, x, 1); /* no old byte shows through the hole */
    expect_fill(t, g, 0, 30000, 0);
}

/* Through a mount with the writeback cache, files had other mtimes and
 * ctimes after a remount than stat had shown (t_posix): the kernel keeps
 * those times and sends them with a setattr when its coarse clock has
 * moved, but a write it sent back later (or a fallocate, or an O_TRUNC in
 * the same tick) stamped the store's own, later clock over them. With
 * fs_set_kernel_cmtime on, only setattr sets them. */
static void bug_writeback_writes_replaced_kernel_times(void **state)
{
    struct t *t = *state;
    uint64_t f = mkfile(t, ROOT, "f");
    fs_set_kernel_cmtime(t->fs, 1);
    struct stat a, st;
    memset(&a, 0, sizeof(a));
    a.st_mtim.tv_sec = 1000;
    a.st_mtim.tv_nsec = 1;
    a.st_ctim.tv_sec = 2000;
    a.st_ctim.tv_nsec = 2;
    assert_int_equal(fs_setattr(t->fs, f, &a, FS_SET_MTIME | FS_SET_CTIME, &t->ctx, &st), 0);
    uint8_t x[40000];
    memset(x, 7, sizeof(x));
    put(t, f, 0, x, 100);       /* inline */
    put(t, f, 0, x, sizeof(x)); /* into blocks */
    assert_int_equal(fs_fallocate(t->fs, f, 0, 0, 100000, &t->ctx), 0);
    assert_int_equal(
        fs_fallocate(t->fs, f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 20000, &t->ctx), 0);
    uint64_t fh;
    assert_int_equal(fs_open_file(t->fs, f, O_WRONLY | O_TRUNC, &t->ctx, &fh), 0);
    fs_release(t->fs, f, fh);
    st = attr(t, f);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(st.st_mtim.tv_sec, 1000);
    assert_int_equal(st.st_mtim.tv_nsec, 1);
    assert_int_equal(st.st_ctim.tv_sec, 2000);
    assert_int_equal(st.st_ctim.tv_nsec, 2);
    /* without the cache the store keeps them itself */
    fs_set_kernel_cmtime(t->fs, 0);
    put(t, f, 0, x, 10);
    st = attr(t, f);
    assert_true(st.st_mtim.tv_sec > 2000 && st.st_ctim.tv_sec > 2000);
}

static void xattr_flags(void **state)
{
    struct t *t = *state;
    uint64_t f = mkfile(t, ROOT, "f");
    char buf[64];
    size_t len;
    assert_int_equal(fs_getxattr(t->fs, f, "user.a", buf, sizeof(buf), &len), -ENODATA);
    assert_int_equal(fs_setxattr(t->fs, f, "user.a", "v", 1, XATTR_REPLACE, &t->ctx), -ENODATA);
    assert_int_equal(fs_setxattr(t->fs, f, "user.a", "value", 5, XATTR_CREATE, &t->ctx), 0);
    assert_int_equal(fs_setxattr(t->fs, f, "user.a", "v", 1, XATTR_CREATE, &t->ctx), -EEXIST);
    assert_int_equal(fs_getxattr(t->fs, f, "user.a", NULL, 0, &len), 0);
    assert_int_equal(len, 5);
    assert_int_equal(fs_getxattr(t->fs, f, "user.a", buf, 4, &len), -ERANGE);
    assert_int_equal(fs_setxattr(t->fs, f, "user.a", "vv", 2, XATTR_REPLACE, &t->ctx), 0);
    assert_int_equal(fs_getxattr(t->fs, f, "user.a", buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(buf, "vv", 2);
    assert_int_equal(fs_setxattr(t->fs, f, "user.empty", "", 0, 0, &t->ctx), 0);
    assert_int_equal(fs_getxattr(t->fs, f, "user.empty", buf, sizeof(buf), &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(fs_listxattr(t->fs, f, NULL, 0, &len), 0);
    assert_int_equal(len, strlen("user.a") + 1 + strlen("user.empty") + 1);
    assert_int_equal(fs_listxattr(t->fs, f, buf, 5, &len), -ERANGE);
    assert_int_equal(fs_listxattr(t->fs, f, buf, sizeof(buf), &len), 0);
    assert_memory_equal(buf, "user.a\0user.empty\0", len);
    char *big = calloc(1, FS_XATTR_VALUE_MAX + 1);
    assert_int_equal(fs_setxattr(t->fs, f, "user.big", big, FS_XATTR_VALUE_MAX + 1, 0, &t->ctx),
                     -E2BIG);
    assert_int_equal(fs_setxattr(t->fs, f, "user.big", big, FS_XATTR_VALUE_MAX, 0, &t->ctx), 0);
    free(big);
    assert_int_equal(fs_removexattr(t->fs, f, "user.a", &t->ctx), 0);
    assert_int_equal(fs_removexattr(t->fs, f, "user.a", &t->ctx), -ENODATA);
    /* directories have xattrs too; a freed inode's xattrs go with it */
    assert_int_equal(fs_setxattr(t->fs, ROOT, "user.d", "1", 1, 0, &t->ctx), 0);
    reopen(t);
    assert_int_equal(fs_getxattr(t->fs, ROOT, "user.d", buf, sizeof(buf), &len), 0);
    assert_int_equal(fs_unlink(t->fs, ROOT, "f", &t->ctx), 0);
    assert_int_equal(fs_getxattr(t->fs, f, "user.empty", buf, sizeof(buf), &len), -ENOENT);
}

static void unlinked_while_open(void **state)
{
    struct t *t = *state;
    struct stat st;
    uint64_t fh, fh2;
    assert_int_equal(fs_create(t->fs, ROOT, "f", 0644, O_RDWR, &t->ctx, &fh, &st), 0);
    uint64_t f = st.st_ino;
    fs_forget(t->fs, f, 1);
    uint8_t *x = malloc(200000);
    memset(x, 7, 200000);
    put(t, f, 0, x, 200000);
    assert_int_equal(fs_open_file(t->fs, f, O_RDONLY, &t->ctx, &fh2), 0);
    assert_int_equal(fs_unlink(t->fs, ROOT, "f", &t->ctx), 0);
    assert_int_equal(lk(t, ROOT, "f", &st), -ENOENT);
    st = attr(t, f);
    assert_int_equal(st.st_nlink, 0);
    expect_fill(t, f, 0, 200000, 7);
    put(t, f, 200000, x, 10); /* still writable */
    assert_int_equal(fs_release(t->fs, f, fh), 0);
    expect_fill(t, f, 0, 200010, 7);
    assert_int_equal(fs_release(t->fs, f, fh2), 0); /* the last one frees it */
    assert_int_equal(fs_getattr(t->fs, f, &st), -ENOENT);
    assert_int_equal(fs_read(t->fs, f, f, x, 10, 0, &(size_t){0}), -ENOENT);

    /* a "crash" with an orphan: closing without release leaves the orphan
     * key; the next open frees the inode */
    assert_int_equal(fs_create(t->fs, ROOT, "g", 0644, O_RDWR, &t->ctx, &fh, &st), 0);
    uint64_t g = st.st_ino;
    fs_forget(t->fs, g, 1);
    put(t, g, 0, x, 200000);
    assert_int_equal(fs_unlink(t->fs, ROOT, "g", &t->ctx), 0);
    assert_int_equal(attr(t, g).st_nlink, 0);
    reopen(t);
    assert_int_equal(fs_getattr(t->fs, g, &st), -ENOENT);
    /* renaming over an open file keeps it readable until release */
    uint64_t a = mkfile(t, ROOT, "a");
    put(t, a, 0, x, 5000);
    mkfile(t, ROOT, "b");
    assert_int_equal(fs_open_file(t->fs, a, O_RDONLY, &t->ctx, &fh), 0);
    assert_int_equal(fs_rename(t->fs, ROOT, "b", ROOT, "a", 0, &t->ctx), 0);
    expect_fill(t, a, 0, 5000, 7);
    assert_int_equal(fs_release(t->fs, a, fh), 0);
    assert_int_equal(fs_getattr(t->fs, a, &st), -ENOENT);
    free(x);
}

/* The kernel's references (lookup counts) keep an unlinked inode, as a
 * reader that resolved a name just before a rename replaced it must still
 * be able to open it; forget frees it. */
static void lookup_references_keep_unlinked_inodes(void **state)
{
    struct t *t = *state;
    struct stat st;
    uint64_t fh;
    uint64_t f = mkfile(t, ROOT, "conf");
    put(t, f, 0, "old", 3);
    assert_int_equal(fs_lookup(t->fs, ROOT, "conf", &st), 0); /* ref 1 */
    assert_int_equal(fs_lookup(t->fs, ROOT, "conf", &st), 0); /* ref 2 */
    mkfile(t, ROOT, "conf.tmp");
    assert_int_equal(fs_rename(t->fs, ROOT, "conf.tmp", ROOT, "conf", 0, &t->ctx), 0);
    /* replaced, but still referenced: open and read work, nlink is 0 */
    assert_int_equal(attr(t, f).st_nlink, 0);
    assert_int_equal(fs_open_file(t->fs, f, O_RDONLY, &t->ctx, &fh), 0);
    expect_fill(t, f, 0, 1, 'o');
    assert_int_equal(fs_release(t->fs, f, fh), 0);
    fs_forget(t->fs, f, 1);
    assert_int_equal(attr(t, f).st_nlink, 0); /* one reference left */
    fs_forget(t->fs, f, 1);
    assert_int_equal(fs_getattr(t->fs, f, &st), -ENOENT);
    /* the same for rmdir of a directory someone still holds */
    assert_int_equal(fs_mkdir(t->fs, ROOT, "d", 0755, &t->ctx, &st), 0);
    uint64_t d = st.st_ino;
    assert_int_equal(fs_rmdir(t->fs, ROOT, "d", &t->ctx), 0);
    assert_int_equal(attr(t, d).st_nlink, 0);
    assert_int_equal(fs_mkdir(t->fs, d, "x", 0755, &t->ctx, &st), -ENOENT);
    fs_forget(t->fs, d, 1);
    assert_int_equal(fs_getattr(t->fs, d, &st), -ENOENT);
    /* a referenced orphan left at close is freed at the next open */
    assert_int_equal(fs_lookup(t->fs, ROOT, "conf", &st), 0);
    uint64_t c = st.st_ino;
    assert_int_equal(fs_unlink(t->fs, ROOT, "conf", &t->ctx), 0);
    assert_int_equal(attr(t, c).st_nlink, 0);
    reopen(t);
    assert_int_equal(fs_getattr(t->fs, c, &st), -ENOENT);
    /* readdirplus entries are references too; forgetting an unknown
     * inode or more than was handed out is harmless */
    fs_forget(t->fs, 123456, 5);
}

static void inode_numbers_never_reused(void **state)
{
    struct t *t = *state;
    uint64_t last = mkfile(t, ROOT, "x");
    /* across more than one allocation chunk, and across reopens */
    for (int i = 0; i < 2100; i++) {
        if (i % 700 == 0) reopen(t);
        assert_int_equal(fs_unlink(t->fs, ROOT, "x", &t->ctx), 0);
        uint64_t ino = mkfile(t, ROOT, "x");
        assert_true(ino > last);
        last = ino;
    }
}

static int count_cb(void *arg, const char *name, const struct stat *st, int full, off_t next)
{
    (void)st;
    (void)full;
    (void)next;
    char **names = arg;
    int i = 0;
    while (names[i]) i++;
    names[i] = strdup(name);
    return 0;
}

struct one {
    char name[256];
    off_t next;
    int seen;
};

static int one_cb(void *arg, const char *name, const struct stat *st, int full, off_t next)
{
    (void)st;
    (void)full;
    struct one *o = arg;
    if (o->seen) return 1;
    snprintf(o->name, sizeof(o->name), "%s", name);
    o->next = next;
    o->seen = 1;
    return 0;
}

static void readdir_offsets_and_snapshot(void **state)
{
    struct t *t = *state;
    uint64_t d = mkdir_(t, ROOT, "d");
    char name[32];
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof(name), "n%03d", i);
        mkfile(t, d, name);
    }
    struct fs_dir *h;
    assert_int_equal(fs_opendir(t->fs, d, &h), 0);
    /* read one entry at a time, remembering offsets (telldir) */
    off_t offs[60];
    char seen[60][256];
    off_t off = 0;
    int n = 0;
    for (;;) {
        struct one o = {0};
        offs[n] = off;
        assert_int_equal(fs_readdir(t->fs, h, off, 0, one_cb, &o), 0);
        if (!o.seen) break;
        snprintf(seen[n], sizeof(seen[n]), "%s", o.name);
        off = o.next;
        n++;
        /* concurrent changes after the listing started stay invisible */
        if (n == 10) {
            mkfile(t, d, "m-new");
            assert_int_equal(fs_unlink(t->fs, d, "n040", &t->ctx), 0);
        }
    }
    assert_int_equal(n, 52);
    assert_string_equal(seen[0], ".");
    assert_string_equal(seen[1], "..");
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof(name), "n%03d", i);
        assert_string_equal(seen[i + 2], name);
    }
    /* seekdir back to a remembered offset gives the same entry */
    for (int i = 37; i >= 0; i -= 9) {
        struct one o = {0};
        assert_int_equal(fs_readdir(t->fs, h, offs[i], 0, one_cb, &o), 0);
        assert_string_equal(o.name, seen[i]);
    }
    /* rewinddir (offset 0) takes a fresh view */
    char *names[64] = {0};
    assert_int_equal(fs_readdir(t->fs, h, 0, 1, count_cb, names), 0);
    int k = 0, has_new = 0, has_gone = 0;
    for (; names[k]; k++) {
        has_new |= strcmp(names[k], "m-new") == 0;
        has_gone |= strcmp(names[k], "n040") == 0;
        free(names[k]);
    }
    assert_int_equal(k, 52);
    assert_true(has_new);
    assert_false(has_gone);
    fs_releasedir(t->fs, h);
    assert_int_equal(fs_opendir(t->fs, ROOT + 100000, &h), -ENOENT);
}

/* An unmount with a directory still open never releases its handle (the
 * kernel sends no RELEASEDIR): fs_close must release it before the store
 * goes, or its snapshot and iterator outlive the engine. Caught by the
 * sanitizer build's leak check, which runs in CI. */
static void close_releases_open_directories(void **state)
{
    struct t *t = *state;
    uint64_t d = mkdir_(t, ROOT, "d");
    mkfile(t, d, "a");
    mkfile(t, d, "b");
    struct fs_dir *h[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fs_opendir(t->fs, i == 1 ? ROOT : d, &h[i]), 0);
        struct one o = {0};
        assert_int_equal(fs_readdir(t->fs, h[i], 2, i == 2, one_cb, &o), 0);
        assert_true(o.seen);
    }
    fs_releasedir(t->fs, h[1]); /* one released, from the middle of the list */
    reopen(t);                  /* h[0] and h[2] left open */
    struct stat st;
    assert_int_equal(fs_lookup(t->fs, d, "b", &st), 0);
    fs_forget(t->fs, st.st_ino, 1);
}

static void setattr_rules(void **state)
{
    struct t *t = *state;
    struct stat a, st;
    uint64_t f = mkfile(t, ROOT, "f");
    /* a write by a non-root caller clears setuid and group-exec setgid */
    a.st_mode = 06755;
    assert_int_equal(fs_setattr(t->fs, f, &a, FS_SET_MODE, &t->ctx, &st), 0);
    assert_int_equal(st.st_mode & 07777, 06755);
    size_t w;
    assert_int_equal(fs_write(t->fs, f, f, "x", 1, 0, &t->ctx, &w), 0); /* root keeps */
    assert_int_equal(attr(t, f).st_mode & 07777, 06755);
    assert_int_equal(fs_write(t->fs, f, f, "x", 1, 0, &t->user, &w), 0);
    assert_int_equal(attr(t, f).st_mode & 07777, 0755);
    /* chown clears them too */
    assert_int_equal(fs_setattr(t->fs, f, &a, FS_SET_MODE, &t->ctx, &st), 0);
    a.st_uid = 5;
    assert_int_equal(fs_setattr(t->fs, f, &a, FS_SET_UID, &t->ctx, &st), 0);
    assert_int_equal(st.st_uid, 5);
    assert_int_equal(st.st_mode & 07777, 0755);
    /* explicit times and "now" */
    memset(&a, 0, sizeof(a));
    a.st_atim.tv_sec = 1000;
    a.st_atim.tv_nsec = 123;
    a.st_mtim.tv_sec = 2000;
    assert_int_equal(fs_setattr(t->fs, f, &a, FS_SET_ATIME | FS_SET_MTIME, &t->ctx, &st), 0);
    reopen(t);
    st = attr(t, f);
    assert_int_equal(st.st_atim.tv_sec, 1000);
    assert_int_equal(st.st_atim.tv_nsec, 123);
    assert_int_equal(st.st_mtim.tv_sec, 2000);
    assert_true(st.st_ctim.tv_sec > 2000);
    assert_int_equal(fs_setattr(t->fs, f, &a, FS_SET_MTIME_NOW, &t->ctx, &st), 0);
    assert_true(st.st_mtim.tv_sec > 2000);
    assert_int_equal(st.st_atim.tv_sec, 1000);
    /* setgid directories pass their group and the bit on */
    uint64_t d = mkdir_(t, ROOT, "sg");
    a.st_mode = 02775;
    a.st_gid = 77;
    assert_int_equal(fs_setattr(t->fs, d, &a, FS_SET_MODE | FS_SET_GID, &t->ctx, &st), 0);
    assert_int_equal(fs_mkdir(t->fs, d, "sub", 0755, &t->user, &st), 0);
    assert_int_equal(st.st_gid, 77);
    assert_true(st.st_mode & S_ISGID);
    assert_int_equal(fs_mknod(t->fs, d, "fifo", S_IFIFO | 0644, 0, &t->user, &st), 0);
    assert_int_equal(st.st_gid, 77);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(fs_mknod(t->fs, d, "dev", S_IFCHR | 0600, makedev(1, 3), &t->ctx, &st), 0);
    assert_int_equal(attr(t, st.st_ino).st_rdev, makedev(1, 3));
    /* umask from the context */
    struct fs_ctx um = t->ctx;
    um.umask = 027;
    assert_int_equal(fs_mkdir(t->fs, ROOT, "um", 0777, &um, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0750);
    /* size on a directory */
    a.st_size = 0;
    assert_int_equal(fs_setattr(t->fs, d, &a, FS_SET_SIZE, &t->ctx, &st), -EISDIR);
}

static void open_truncates_and_refuses_foreign_store(void **state)
{
    struct t *t = *state;
    uint64_t f = mkfile(t, ROOT, "f");
    uint8_t x[5000];
    memset(x, 3, sizeof(x));
    put(t, f, 0, x, sizeof(x));
    uint64_t fh;
    assert_int_equal(fs_open_file(t->fs, f, O_RDONLY, &t->ctx, &fh), 0);
    assert_int_equal(attr(t, f).st_size, 5000);
    fs_release(t->fs, f, fh);
    assert_int_equal(fs_open_file(t->fs, f, O_WRONLY | O_TRUNC, &t->ctx, &fh), 0);
    assert_int_equal(attr(t, f).st_size, 0);
    fs_release(t->fs, f, fh);
    /* a second open of the same store is refused while the first holds it */
    struct lsmerfs *fs2;
    assert_int_equal(fs_open(t->dir, NULL, &fs2), -EBUSY);
    /* a store that is not lsmerfs */
    char *other = test_tmpdir("fs_foreign");
    lsmer_db *db;
    assert_int_equal(lsmer_open(other, NULL, &db), 0);
    assert_int_equal(lsmer_put(db, "k", 1, "v", 1), 0);
    lsmer_close(db);
    assert_int_equal(fs_open(other, NULL, &fs2), -EINVAL);
    test_rmtree(other);
    free(other);
    /* statfs gives sane figures */
    struct statvfs sv;
    assert_int_equal(fs_statfs(t->fs, &sv), 0);
    assert_true(sv.f_blocks > 0);
    assert_true(sv.f_bavail <= sv.f_blocks);
    assert_int_equal(sv.f_namemax, 255);
    assert_int_equal(fs_fsync(t->fs, f, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(names_and_lengths, setup, teardown),
        cmocka_unit_test_setup_teardown(close_releases_open_directories, setup, teardown),
        cmocka_unit_test_setup_teardown(link_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(rename_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(holes_and_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(seek_data_hole_and_punch, setup, teardown),
        cmocka_unit_test_setup_teardown(bug_seek_hole_misses_pages_of_an_open_writer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(bug_open_rdonly_trunc_kept_the_data, setup, teardown),
        cmocka_unit_test_setup_teardown(bug_writeback_writes_replaced_kernel_times, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(xattr_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(caps_dropped_on_change, setup, teardown),
        cmocka_unit_test_setup_teardown(unlinked_while_open, setup, teardown),
        cmocka_unit_test_setup_teardown(lookup_references_keep_unlinked_inodes, setup, teardown),
        cmocka_unit_test_setup_teardown(inode_numbers_never_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(readdir_offsets_and_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(setattr_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(open_truncates_and_refuses_foreign_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
