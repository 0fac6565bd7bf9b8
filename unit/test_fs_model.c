/*
 * test_fs_model.c — the fs core against a model of the tree.
 *
 * Method. A random sequence of namespace and data operations (create,
 * mkdir, symlink, link, unlink, rmdir, rename with its flags, write,
 * truncate, setxattr, removexattr) is applied both to the fs core (called
 * directly, no mount) and to an in-memory model: directories as lists of
 * (name, node), nodes with a type, link count, bytes, target and xattrs.
 * Every call's result (0 or the errno the model predicts) is checked at
 * once; the whole tree — listings, inode numbers, types, link counts,
 * sizes, contents, xattrs — is compared every few dozen steps, and after
 * closing and reopening the filesystem. Offsets and lengths cluster around
 * the inline limit (2 KiB) and the block size (16 KiB), where the storage
 * changes shape. The seed is printed; LSMER_SEED=n replays a run.
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

#include "fs.h"
#include "testutil.h"

#define MAX_NODES 400
#define MAX_ENTS 16 /* > the number of names */
#define MAX_XA 4
#define MAX_FILE (300u * 1024u)

enum { T_FILE = 1, T_DIR, T_LINK };

struct ment {
    char name[16];
    int child;
};

struct mxattr {
    char name[16];
    uint8_t val[32];
    size_t len;
};

struct mnode {
    int used;
    int type;
    uint64_t ino;
    uint32_t nlink;
    uint8_t *data; /* files */
    size_t size;
    char target[40]; /* symlinks */
    struct mxattr xa[MAX_XA];
    int nxa;
    int parent; /* dirs */
    struct ment ents[MAX_ENTS];
    int nents;
};

struct world {
    struct lsmerfs *fs;
    char *dir;
    struct mnode n[MAX_NODES];
    struct rng rng;
    struct fs_ctx ctx;
    uint8_t *buf;
};

static const char *names[] = {"a", "b", "c", "dd", "eee", "f.txt", "g-1", "H", "i_i", "zz"};
#define NNAMES (sizeof(names) / sizeof(names[0]))

/* ---- model helpers ----------------------------------------------------- */

static int find_ent(struct mnode *d, const char *name)
{
    for (int i = 0; i < d->nents; i++)
        if (strcmp(d->ents[i].name, name) == 0) return i;
    return -1;
}

static int new_node(struct world *w, int type)
{
    for (int i = 1; i < MAX_NODES; i++) {
        if (!w->n[i].used) {
            memset(&w->n[i], 0, sizeof(w->n[i]));
            w->n[i].used = 1;
            w->n[i].type = type;
            w->n[i].nlink = type == T_DIR ? 2 : 1;
            return i;
        }
    }
    return -1;
}

static void free_node(struct world *w, int i)
{
    free(w->n[i].data);
    memset(&w->n[i], 0, sizeof(w->n[i]));
}

static void add_ent(struct mnode *d, const char *name, int child)
{
    assert_true(d->nents < MAX_ENTS);
    snprintf(d->ents[d->nents].name, sizeof(d->ents[0].name), "%s", name);
    d->ents[d->nents].child = child;
    d->nents++;
}

static void del_ent(struct mnode *d, int idx)
{
    d->ents[idx] = d->ents[--d->nents];
}

/* Drops one link of node c (not a directory). */
static void unlink_node(struct world *w, int c)
{
    if (--w->n[c].nlink == 0) free_node(w, c);
}

static int pick_dir(struct world *w)
{
    int dirs[MAX_NODES], nd = 0;
    for (int i = 0; i < MAX_NODES; i++)
        if (w->n[i].used && w->n[i].type == T_DIR) dirs[nd++] = i;
    return dirs[rng_uniform(&w->rng, (uint64_t)nd)];
}

static int pick_type(struct world *w, int type)
{
    int c[MAX_NODES], k = 0;
    for (int i = 0; i < MAX_NODES; i++)
        if (w->n[i].used && w->n[i].type == type) c[k++] = i;
    return k ? c[rng_uniform(&w->rng, (uint64_t)k)] : -1;
}

static const char *pick_name(struct world *w)
{
    return names[rng_uniform(&w->rng, NNAMES)];
}

/* Is node d equal to or below node top? */
static int within(struct world *w, int d, int top)
{
    for (int depth = 0; depth < MAX_NODES; depth++) {
        if (d == top) return 1;
        if (d == 0) return 0;
        d = w->n[d].parent;
    }
    fail_msg("model parent cycle");
    return 0;
}

static uint64_t pick_offset(struct world *w)
{
    static const uint64_t marks[] = {0, 2048, 16384, 32768, 65536, 131072, 196608};
    switch (rng_uniform(&w->rng, 4)) {
    case 0:
        return rng_uniform(&w->rng, 4096);
    case 1: {
        uint64_t m = marks[rng_uniform(&w->rng, sizeof(marks) / sizeof(marks[0]))];
        uint64_t d = rng_uniform(&w->rng, 64);
        return rng_one_in(&w->rng, 2) && m >= d ? m - d : m + d;
    }
    default:
        return rng_uniform(&w->rng, MAX_FILE - 70000);
    }
}

/* ---- checks ------------------------------------------------------------ */

static void check_node_attr(struct world *w, int i, const struct stat *st)
{
    struct mnode *m = &w->n[i];
    assert_int_equal(st->st_ino, m->ino);
    assert_int_equal(st->st_nlink, m->nlink);
    switch (m->type) {
    case T_FILE:
        assert_true(S_ISREG(st->st_mode));
        assert_int_equal(st->st_size, m->size);
        break;
    case T_DIR:
        assert_true(S_ISDIR(st->st_mode));
        break;
    case T_LINK:
        assert_true(S_ISLNK(st->st_mode));
        assert_int_equal(st->st_size, strlen(m->target));
        break;
    }
}

static void check_content(struct world *w, int i)
{
    struct mnode *m = &w->n[i];
    size_t got;
    /* whole file, plus one read that starts in the middle and runs past
     * the end */
    assert_int_equal(fs_read(w->fs, m->ino, m->ino, w->buf, MAX_FILE + 100, 0, &got), 0);
    assert_int_equal(got, m->size);
    if (m->size) assert_memory_equal(w->buf, m->data, m->size);
    if (m->size > 10) {
        off_t off = (off_t)rng_uniform(&w->rng, m->size);
        assert_int_equal(fs_read(w->fs, m->ino, m->ino, w->buf, 100000, off, &got), 0);
        size_t want = m->size - (size_t)off < 100000 ? m->size - (size_t)off : 100000;
        assert_int_equal(got, want);
        assert_memory_equal(w->buf, m->data + off, want);
    }
}

static void check_xattrs(struct world *w, int i)
{
    struct mnode *m = &w->n[i];
    char list[512];
    size_t len, want = 0;
    for (int k = 0; k < m->nxa; k++) want += strlen(m->xa[k].name) + 1;
    assert_int_equal(fs_listxattr(w->fs, m->ino, NULL, 0, &len), 0);
    assert_int_equal(len, want);
    assert_int_equal(fs_listxattr(w->fs, m->ino, list, sizeof(list), &len), 0);
    assert_int_equal(len, want);
    int count = 0;
    for (size_t p = 0; p < len; p += strlen(list + p) + 1) count++;
    assert_int_equal(count, m->nxa);
    for (int k = 0; k < m->nxa; k++) {
        uint8_t v[64];
        assert_int_equal(fs_getxattr(w->fs, m->ino, m->xa[k].name, v, sizeof(v), &len), 0);
        assert_int_equal(len, m->xa[k].len);
        if (len) assert_memory_equal(v, m->xa[k].val, len);
    }
}

struct listing {
    char names[MAX_ENTS + 2][256];
    uint64_t inos[MAX_ENTS + 2];
    int full[MAX_ENTS + 2];
    int n;
    int stop_after; /* stop (without consuming) after this many, -1 never */
};

static int collect(void *arg, const char *name, const struct stat *st, int full, off_t next)
{
    (void)full;
    (void)next;
    struct listing *l = arg;
    if (l->stop_after >= 0 && l->n >= l->stop_after) return 1;
    assert_true(l->n < MAX_ENTS + 2);
    snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
    l->inos[l->n] = st->st_ino;
    l->full[l->n] = full;
    l->n++;
    return 0;
}

static void check_dir(struct world *w, int d)
{
    struct mnode *m = &w->n[d];
    struct fs_dir *h;
    struct listing *l = calloc(1, sizeof(*l));
    assert_non_null(l);
    assert_int_equal(fs_opendir(w->fs, m->ino, &h), 0);
    /* read in small pieces, as a small getdents buffer would */
    off_t off = 0;
    for (;;) {
        int before = l->n;
        l->stop_after = before + 3;
        assert_int_equal(fs_readdir(w->fs, h, off, (int)rng_uniform(&w->rng, 2), collect, l), 0);
        if (l->n == before) break;
        off = (off_t)l->n; /* offsets are positions */
    }
    fs_releasedir(w->fs, h);
    /* readdirplus handed out references, as the kernel would hold them */
    for (int j = 0; j < l->n; j++)
        if (l->full[j]) fs_forget(w->fs, l->inos[j], 1);
    assert_int_equal(l->n, m->nents + 2);
    assert_string_equal(l->names[0], ".");
    assert_string_equal(l->names[1], "..");
    assert_int_equal(l->inos[0], m->ino);
    assert_int_equal(l->inos[1], w->n[m->parent].ino);
    for (int k = 0; k < m->nents; k++) {
        int found = 0;
        for (int j = 2; j < l->n; j++) {
            if (strcmp(l->names[j], m->ents[k].name) == 0) {
                assert_int_equal(l->inos[j], w->n[m->ents[k].child].ino);
                found++;
            }
        }
        assert_int_equal(found, 1);
    }
    for (int j = 3; j < l->n; j++) assert_true(strcmp(l->names[j - 1], l->names[j]) < 0);
    free(l);
}

static void check_all(struct world *w)
{
    for (int i = 0; i < MAX_NODES; i++) {
        struct mnode *m = &w->n[i];
        if (!m->used) continue;
        struct stat st;
        assert_int_equal(fs_getattr(w->fs, m->ino, &st), 0);
        check_node_attr(w, i, &st);
        check_xattrs(w, i);
        if (m->type == T_DIR) {
            check_dir(w, i);
            for (int k = 0; k < m->nents; k++) {
                assert_int_equal(fs_lookup(w->fs, m->ino, m->ents[k].name, &st), 0);
                fs_forget(w->fs, st.st_ino, 1);
                check_node_attr(w, m->ents[k].child, &st);
            }
            assert_int_equal(fs_lookup(w->fs, m->ino, "no-such-name", &st), -ENOENT);
        } else if (m->type == T_FILE) {
            check_content(w, i);
        } else {
            char t[64];
            size_t len;
            assert_int_equal(fs_readlink(w->fs, m->ino, t, sizeof(t), &len), 0);
            assert_string_equal(t, m->target);
        }
    }
}

static void reopen(struct world *w)
{
    fs_close(w->fs);
    assert_int_equal(fs_open(w->dir, NULL, &w->fs), 0);
}

/* ---- operations -------------------------------------------------------- */

static void op_make(struct world *w, int type)
{
    int d = pick_dir(w);
    const char *name = pick_name(w);
    struct stat st;
    int rc;
    uint64_t fh;
    char target[40];
    snprintf(target, sizeof(target), "t/%llu", (unsigned long long)rng_uniform(&w->rng, 1000000));
    if (type == T_FILE)
        rc = fs_create(w->fs, w->n[d].ino, name, 0644, O_RDWR, &w->ctx, &fh, &st);
    else if (type == T_DIR)
        rc = fs_mkdir(w->fs, w->n[d].ino, name, 0755, &w->ctx, &st);
    else
        rc = fs_symlink(w->fs, target, w->n[d].ino, name, &w->ctx, &st);
    if (find_ent(&w->n[d], name) >= 0) {
        assert_int_equal(rc, -EEXIST);
        return;
    }
    assert_int_equal(rc, 0);
    if (type == T_FILE) assert_int_equal(fs_release(w->fs, st.st_ino, fh), 0);
    fs_forget(w->fs, st.st_ino, 1);
    int c = new_node(w, type);
    assert_true(c > 0);
    w->n[c].ino = st.st_ino;
    if (type == T_DIR) {
        w->n[c].parent = d;
        w->n[d].nlink++;
    }
    if (type == T_LINK) snprintf(w->n[c].target, sizeof(w->n[c].target), "%s", target);
    add_ent(&w->n[d], name, c);
    check_node_attr(w, c, &st);
}

static void op_write(struct world *w)
{
    int f = pick_type(w, T_FILE);
    if (f < 0) return;
    struct mnode *m = &w->n[f];
    uint64_t off = pick_offset(w);
    size_t len = rng_one_in(&w->rng, 3) ? (size_t)rng_uniform(&w->rng, 70000)
                                        : (size_t)rng_uniform(&w->rng, 3000);
    if (off + len > MAX_FILE) len = MAX_FILE - off;
    rng_bytes(&w->rng, w->buf, len);
    size_t n;
    assert_int_equal(fs_write(w->fs, m->ino, m->ino, w->buf, len, (off_t)off, &w->ctx, &n), 0);
    assert_int_equal(n, len);
    if (len == 0) return;
    if (off + len > m->size) {
        m->data = realloc(m->data, off + len);
        assert_non_null(m->data);
        memset(m->data + m->size, 0, off + len - m->size);
        m->size = off + len;
    }
    memcpy(m->data + off, w->buf, len);
}

static void op_truncate(struct world *w)
{
    int f = pick_type(w, T_FILE);
    if (f < 0) return;
    struct mnode *m = &w->n[f];
    uint64_t size = rng_one_in(&w->rng, 5) ? 0 : pick_offset(w);
    struct stat attr = {.st_size = (off_t)size}, st;
    assert_int_equal(fs_setattr(w->fs, m->ino, &attr, FS_SET_SIZE, &w->ctx, &st), 0);
    assert_int_equal(st.st_size, size);
    if (size > m->size) {
        m->data = realloc(m->data, size);
        assert_non_null(m->data);
        memset(m->data + m->size, 0, size - m->size);
    }
    m->size = size;
}

static void op_remove(struct world *w, int dir)
{
    int d = pick_dir(w);
    const char *name = pick_name(w);
    int rc = dir ? fs_rmdir(w->fs, w->n[d].ino, name, &w->ctx)
                 : fs_unlink(w->fs, w->n[d].ino, name, &w->ctx);
    int e = find_ent(&w->n[d], name);
    if (e < 0) {
        assert_int_equal(rc, -ENOENT);
        return;
    }
    int c = w->n[d].ents[e].child;
    int isdir = w->n[c].type == T_DIR;
    if (dir && !isdir) {
        assert_int_equal(rc, -ENOTDIR);
    } else if (!dir && isdir) {
        assert_int_equal(rc, -EISDIR);
    } else if (dir && w->n[c].nents > 0) {
        assert_int_equal(rc, -ENOTEMPTY);
    } else {
        assert_int_equal(rc, 0);
        uint64_t ino = w->n[c].ino;
        del_ent(&w->n[d], e);
        if (dir) {
            w->n[d].nlink--;
            free_node(w, c);
        } else {
            unlink_node(w, c);
        }
        struct stat st;
        if (!w->n[c].used) assert_int_equal(fs_getattr(w->fs, ino, &st), -ENOENT);
    }
}

static void op_link(struct world *w)
{
    int c = pick_type(w, rng_one_in(&w->rng, 4) ? T_LINK : T_FILE);
    if (c < 0) return;
    int d = pick_dir(w);
    const char *name = pick_name(w);
    struct stat st;
    int rc = fs_link(w->fs, w->n[c].ino, w->n[d].ino, name, &w->ctx, &st);
    if (find_ent(&w->n[d], name) >= 0) {
        assert_int_equal(rc, -EEXIST);
        return;
    }
    assert_int_equal(rc, 0);
    fs_forget(w->fs, st.st_ino, 1);
    w->n[c].nlink++;
    add_ent(&w->n[d], name, c);
    check_node_attr(w, c, &st);
}

static void op_rename(struct world *w)
{
    int sd = pick_dir(w), dd = pick_dir(w);
    const char *sn = pick_name(w), *dn = pick_name(w);
    static const unsigned flag_choices[] = {0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE};
    unsigned flags = flag_choices[rng_uniform(&w->rng, 4)];
    int rc = fs_rename(w->fs, w->n[sd].ino, sn, w->n[dd].ino, dn, flags, &w->ctx);
    int se = find_ent(&w->n[sd], sn), de = find_ent(&w->n[dd], dn);
    if (se < 0) {
        assert_int_equal(rc, -ENOENT);
        return;
    }
    if (de >= 0 && (flags & RENAME_NOREPLACE)) {
        assert_int_equal(rc, -EEXIST);
        return;
    }
    if (de < 0 && (flags & RENAME_EXCHANGE)) {
        assert_int_equal(rc, -ENOENT);
        return;
    }
    int s = w->n[sd].ents[se].child, t = de >= 0 ? w->n[dd].ents[de].child : -1;
    if (s == t) {
        assert_int_equal(rc, 0); /* same inode: nothing happens */
        return;
    }
    int sdir = w->n[s].type == T_DIR, tdir = t >= 0 && w->n[t].type == T_DIR;
    if (sdir && dd != sd && within(w, dd, s)) {
        assert_int_equal(rc, -EINVAL);
        return;
    }
    if ((flags & RENAME_EXCHANGE) && tdir && dd != sd && within(w, sd, t)) {
        assert_int_equal(rc, -EINVAL);
        return;
    }
    if (t >= 0 && !(flags & RENAME_EXCHANGE)) {
        if (sdir && !tdir) {
            assert_int_equal(rc, -ENOTDIR);
            return;
        }
        if (!sdir && tdir) {
            assert_int_equal(rc, -EISDIR);
            return;
        }
        if (tdir && w->n[t].nents > 0) {
            assert_int_equal(rc, -ENOTEMPTY);
            return;
        }
    }
    assert_int_equal(rc, 0);
    if (flags & RENAME_EXCHANGE) {
        w->n[sd].ents[se].child = t;
        w->n[dd].ents[de].child = s;
        if (sd != dd) {
            if (sdir) {
                w->n[s].parent = dd;
                w->n[sd].nlink--;
                w->n[dd].nlink++;
            }
            if (tdir) {
                w->n[t].parent = sd;
                w->n[dd].nlink--;
                w->n[sd].nlink++;
            }
        }
        return;
    }
    if (t >= 0) {
        w->n[dd].ents[de].child = s;
        if (tdir) {
            w->n[dd].nlink--;
            free_node(w, t);
        } else {
            unlink_node(w, t);
        }
    } else {
        add_ent(&w->n[dd], dn, s);
    }
    /* the source entry: find it again (add_ent may share the directory) */
    se = find_ent(&w->n[sd], sn);
    if (sd == dd && strcmp(sn, dn) == 0) return; /* cannot happen: s != t */
    del_ent(&w->n[sd], se);
    if (sdir && sd != dd) {
        w->n[s].parent = dd;
        w->n[sd].nlink--;
        w->n[dd].nlink++;
    }
}

static void op_xattr(struct world *w)
{
    int c;
    do c = (int)rng_uniform(&w->rng, MAX_NODES);
    while (!w->n[c].used);
    struct mnode *m = &w->n[c];
    char name[16];
    snprintf(name, sizeof(name), "user.x%d", (int)rng_uniform(&w->rng, 5));
    int k;
    for (k = 0; k < m->nxa; k++)
        if (strcmp(m->xa[k].name, name) == 0) break;
    int exists = k < m->nxa;
    if (rng_one_in(&w->rng, 3)) {
        int rc = fs_removexattr(w->fs, m->ino, name, &w->ctx);
        assert_int_equal(rc, exists ? 0 : -ENODATA);
        if (exists) m->xa[k] = m->xa[--m->nxa];
        return;
    }
    static const int flag_choices[] = {0, XATTR_CREATE, XATTR_REPLACE};
    int flags = flag_choices[rng_uniform(&w->rng, 3)];
    uint8_t v[32];
    size_t len = (size_t)rng_uniform(&w->rng, sizeof(v) + 1);
    rng_bytes(&w->rng, v, len);
    int rc = fs_setxattr(w->fs, m->ino, name, v, len, flags, &w->ctx);
    if (exists && flags == XATTR_CREATE) {
        assert_int_equal(rc, -EEXIST);
        return;
    }
    if (!exists && flags == XATTR_REPLACE) {
        assert_int_equal(rc, -ENODATA);
        return;
    }
    if (!exists && m->nxa >= MAX_XA) {
        assert_int_equal(rc, 0);
        assert_int_equal(fs_removexattr(w->fs, m->ino, name, &w->ctx), 0);
        return;
    }
    assert_int_equal(rc, 0);
    if (!exists) {
        k = m->nxa++;
        snprintf(m->xa[k].name, sizeof(m->xa[k].name), "%s", name);
    }
    memcpy(m->xa[k].val, v, len);
    m->xa[k].len = len;
}

static void run_model(int steps)
{
    struct world *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    rng_init(&w->rng, test_seed("fs_model"));
    w->buf = malloc(MAX_FILE + 200);
    assert_non_null(w->buf);
    w->dir = test_tmpdir("fs_model");
    assert_int_equal(fs_open(w->dir, NULL, &w->fs), 0);
    w->n[0].used = 1;
    w->n[0].type = T_DIR;
    w->n[0].ino = 1;
    w->n[0].nlink = 2;
    w->n[0].parent = 0;
    check_all(w);
    for (int step = 0; step < steps; step++) {
        unsigned r = (unsigned)rng_uniform(&w->rng, 100);
        if (r < 14)
            op_make(w, T_FILE);
        else if (r < 22)
            op_make(w, T_DIR);
        else if (r < 25)
            op_make(w, T_LINK);
        else if (r < 45)
            op_write(w);
        else if (r < 53)
            op_truncate(w);
        else if (r < 61)
            op_remove(w, 0);
        else if (r < 67)
            op_remove(w, 1);
        else if (r < 82)
            op_rename(w);
        else if (r < 87)
            op_link(w);
        else if (r < 97)
            op_xattr(w);
        else
            reopen(w);
        if (step % 50 == 49) check_all(w);
    }
    check_all(w);
    reopen(w);
    check_all(w);
    fs_close(w->fs);
    for (int i = 0; i < MAX_NODES; i++) free(w->n[i].data);
    test_rmtree(w->dir);
    free(w->dir);
    free(w->buf);
    free(w);
}

static void model_random_ops(void **state)
{
    (void)state;
    run_model((int)(1200 * test_scale()));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(model_random_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
