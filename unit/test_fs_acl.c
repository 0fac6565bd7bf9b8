/*
 * test_fs_acl.c — POSIX ACLs in the fs core (fs_acl.h): parsing and
 * validation of the kernel's xattr form, the mode kept in step with an
 * access ACL (set, chmod, setgid), default-ACL inheritance for files and
 * directories (umask ignored then), malformed values refused, persistence.
 * Driven through fs.h as the daemon drives it, plus the pure parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "fs.h"
#include "fs_acl.h"
#include "testutil.h"

#define ROOT 1
#define UO FS_ACL_USER_OBJ
#define U FS_ACL_USER
#define GO FS_ACL_GROUP_OBJ
#define G FS_ACL_GROUP
#define M FS_ACL_MASK
#define O FS_ACL_OTHER
#define X FS_ACL_UNDEFINED_ID

struct t {
    char *dir;
    struct lsmerfs *fs;
    struct fs_ctx ctx; /* root, umask 022 */
};

/* An xattr value from n entries {tag, perm, id}. */
struct ent {
    uint16_t tag, perm;
    uint32_t id;
};
static size_t acl_value(uint8_t *buf, const struct ent *e, size_t n)
{
    buf[0] = 2;
    buf[1] = buf[2] = buf[3] = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = buf + 4 + 8 * i;
        p[0] = (uint8_t)e[i].tag;
        p[1] = (uint8_t)(e[i].tag >> 8);
        p[2] = (uint8_t)e[i].perm;
        p[3] = (uint8_t)(e[i].perm >> 8);
        for (int j = 0; j < 4; j++) p[4 + j] = (uint8_t)(e[i].id >> (8 * j));
    }
    return 4 + 8 * n;
}

static int setup(void **state)
{
    struct t *t = calloc(1, sizeof(*t));
    t->dir = test_tmpdir("fs_acl");
    assert_int_equal(fs_open(t->dir, NULL, &t->fs), 0);
    fs_set_posix_acl(t->fs, 1);
    t->ctx.umask = 022;
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

static uint64_t mkfile(struct t *t, uint64_t dir, const char *name, mode_t mode, struct stat *st)
{
    uint64_t fh;
    assert_int_equal(fs_create(t->fs, dir, name, mode, O_RDWR, &t->ctx, &fh, st), 0);
    assert_int_equal(fs_release(t->fs, st->st_ino, fh), 0);
    fs_forget(t->fs, st->st_ino, 1);
    return st->st_ino;
}

static uint64_t mkdir_(struct t *t, uint64_t dir, const char *name, mode_t mode, struct stat *st)
{
    assert_int_equal(fs_mkdir(t->fs, dir, name, mode, &t->ctx, st), 0);
    fs_forget(t->fs, st->st_ino, 1);
    return st->st_ino;
}

static mode_t perm_of(struct t *t, uint64_t ino)
{
    struct stat st;
    assert_int_equal(fs_getattr(t->fs, ino, &st), 0);
    return st.st_mode & 07777;
}

/* Asserts ino's ACL of that name holds exactly the n entries e. */
static void expect_acl(struct t *t, uint64_t ino, const char *name, const struct ent *e, size_t n)
{
    uint8_t want[256], got[256];
    size_t wlen = acl_value(want, e, n), glen = 0;
    assert_int_equal(fs_getxattr(t->fs, ino, name, got, sizeof(got), &glen), 0);
    assert_int_equal(glen, wlen);
    assert_memory_equal(got, want, wlen);
}

static void expect_no_acl(struct t *t, uint64_t ino, const char *name)
{
    uint8_t got[256];
    size_t glen;
    assert_int_equal(fs_getxattr(t->fs, ino, name, got, sizeof(got), &glen), -ENODATA);
}

/* ---- the pure parser ---------------------------------------------------- */

static void parse_valid(void **state)
{
    (void)state;
    uint8_t v[256];
    struct fs_acl *a;
    const struct ent min[] = {{UO, 6, X}, {GO, 4, X}, {O, 4, X}};
    size_t n = acl_value(v, min, 3);
    assert_int_equal(fs_acl_parse(v, n, &a), 0);
    assert_non_null(a);
    assert_int_equal(a->count, 3);
    mode_t perm;
    assert_int_equal(fs_acl_mode_bits(a, &perm), 1); /* equivalent to 0644 */
    assert_int_equal(perm, 0644);
    free(a);

    /* named entries with a mask; ids of unnamed entries become canonical */
    const struct ent full[] = {{UO, 7, 55}, {U, 4, 1000}, {U, 6, 1001}, {GO, 5, 9},
                               {G, 1, 50},  {M, 5, 3},    {O, 0, 4}};
    const struct ent canon[] = {{UO, 7, X}, {U, 4, 1000}, {U, 6, 1001}, {GO, 5, X},
                                {G, 1, 50}, {M, 5, X},    {O, 0, X}};
    n = acl_value(v, full, 7);
    assert_int_equal(fs_acl_parse(v, n, &a), 0);
    assert_int_equal(fs_acl_mode_bits(a, &perm), 0); /* group bits from the mask */
    assert_int_equal(perm, 0750);
    uint8_t enc[256], want[256];
    assert_int_equal(fs_acl_xattr_size(a), n);
    fs_acl_encode(a, enc);
    acl_value(want, canon, 7);
    assert_memory_equal(enc, want, n);

    /* chmod: owner, mask, other change; the group entry does not */
    fs_acl_chmod(a, 0604);
    assert_int_equal(a->e[0].perm, 6);
    assert_int_equal(a->e[3].perm, 5);
    assert_int_equal(a->e[5].perm, 0);
    assert_int_equal(a->e[6].perm, 4);
    free(a);

    /* a header alone: no ACL */
    a = (struct fs_acl *)1;
    assert_int_equal(fs_acl_parse(v, 4, &a), 0);
    assert_null(a);
}

static void parse_malformed(void **state)
{
    (void)state;
    uint8_t v[256];
    struct fs_acl *a = NULL;
    const struct ent ok[] = {{UO, 6, X}, {GO, 4, X}, {O, 4, X}};
    size_t n = acl_value(v, ok, 3);
    assert_int_equal(fs_acl_parse(v, n - 1, &a), -EINVAL); /* partial entry */
    assert_int_equal(fs_acl_parse(v, 3, &a), -EINVAL);     /* partial header */
    assert_int_equal(fs_acl_parse(NULL, 0, &a), -EINVAL);
    v[0] = 1; /* version */
    assert_int_equal(fs_acl_parse(v, n, &a), -EINVAL);
    assert_null(a);

    static const struct {
        struct ent e[5];
        size_t n;
    } bad[] = {
        {{{UO, 8, X}, {GO, 4, X}, {O, 4, X}}, 3},                       /* perm beyond rwx */
        {{{UO, 6, X}, {GO, 4, X}, {0x40, 4, X}}, 3},                    /* unknown tag */
        {{{UO, 6, X}, {GO, 4, X}}, 2},                                  /* no OTHER */
        {{{GO, 4, X}, {UO, 6, X}, {O, 4, X}}, 3},                       /* out of order */
        {{{UO, 6, X}, {UO, 6, X}, {GO, 4, X}, {O, 4, X}}, 4},           /* USER_OBJ twice */
        {{{UO, 6, X}, {U, 4, 7}, {GO, 4, X}, {O, 4, X}}, 4},            /* named, no mask */
        {{{UO, 6, X}, {U, 4, X}, {GO, 4, X}, {M, 4, X}, {O, 4, X}}, 5}, /* id -1 */
        {{{UO, 6, X}, {GO, 4, X}, {U, 4, 7}, {M, 4, X}, {O, 4, X}}, 5}, /* USER after GROUP_OBJ */
        {{{UO, 6, X}, {GO, 4, X}, {O, 4, X}, {M, 4, X}}, 4},            /* MASK after OTHER */
        {{{UO, 6, X}, {GO, 4, X}, {O, 4, X}, {O, 4, X}}, 4},            /* OTHER twice */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = acl_value(v, bad[i].e, bad[i].n);
        a = NULL;
        assert_int_equal(fs_acl_parse(v, n, &a), -EINVAL);
        assert_null(a);
    }
}

/* ---- through the core ---------------------------------------------------- */

static void refused_when_off(void **state)
{
    struct t *t = *state;
    struct stat st;
    uint64_t f = mkfile(t, ROOT, "f", 0644, &st);
    uint8_t v[64];
    const struct ent e[] = {{UO, 6, X}, {U, 4, 99}, {GO, 4, X}, {M, 4, X}, {O, 4, X}};
    size_t n = acl_value(v, e, 5);
    fs_set_posix_acl(t->fs, 0);
    assert_int_equal(fs_setxattr(t->fs, f, FS_ACL_ACCESS_NAME, v, n, 0, &t->ctx), -EOPNOTSUPP);
    /* other xattrs are unaffected */
    assert_int_equal(fs_setxattr(t->fs, f, "user.x", "1", 1, 0, &t->ctx), 0);
    fs_set_posix_acl(t->fs, 1);
    assert_int_equal(fs_setxattr(t->fs, f, FS_ACL_ACCESS_NAME, v, n, 0, &t->ctx), 0);
}

static void set_access_sets_mode(void **state)
{
    struct t *t = *state;
    struct stat st;
    uint64_t f = mkfile(t, ROOT, "f", 0600, &st);
    assert_int_equal(st.st_mode & 0777, 0600);
    uint8_t v[64];
    const struct ent e[] = {{UO, 6, X}, {U, 4, 65534}, {GO, 0, X}, {M, 5, X}, {O, 1, X}};
    size_t n = acl_value(v, e, 5);
    assert_int_equal(fs_setxattr(t->fs, f, FS_ACL_ACCESS_NAME, v, n, 0, &t->ctx), 0);
    assert_int_equal(perm_of(t, f), 0651); /* owner, mask, other */
    expect_acl(t, f, FS_ACL_ACCESS_NAME, e, 5);
    char names[256];
    size_t len;
    assert_int_equal(fs_listxattr(t->fs, f, names, sizeof(names), &len), 0);
    assert_int_equal(len, sizeof(FS_ACL_ACCESS_NAME));
    assert_string_equal(names, FS_ACL_ACCESS_NAME);

    /* an ACL the mode can say alone: the mode changes, no ACL is kept */
    const struct ent eq[] = {{UO, 7, X}, {GO, 5, X}, {O, 0, X}};
    n = acl_value(v, eq, 3);
    assert_int_equal(fs_setxattr(t->fs, f, FS_ACL_ACCESS_NAME, v, n, 0, &t->ctx), 0);
    assert_int_equal(perm_of(t, f), 0750);
    expect_no_acl(t, f, FS_ACL_ACCESS_NAME);

    /* removing an access ACL leaves the mode as it is */
    n = acl_value(v, e, 5);
    assert_int_equal(fs_setxattr(t->fs, f, FS_ACL_ACCESS_NAME, v, n, 0, &t->ctx), 0);
    assert_int_equal(fs_removexattr(t->fs, f, FS_ACL_ACCESS_NAME, &t->ctx), 0);
    expect_no_acl(t, f, FS_ACL_ACCESS_NAME);
    assert_int_equal(perm_of(t, f), 0651);
    assert_int_equal(fs_removexattr(t->fs, f, FS_ACL_ACCESS_NAME, &t->ctx), -ENODATA);
}

static void setgid_cleared_outside_group(void **state)
{
    struct t *t = *state;
    struct stat st;
    uint64_t f = mkfile(t, ROOT, "f", 0644, &st);
    struct stat a = {.st_mode = 02775};
    assert_int_equal(fs_setattr(t->fs, f, &a, FS_SET_MODE, &t->ctx, &st), 0);
    uint8_t v[64];
    const struct ent e[] = {{UO, 7, X}, {U, 5, 42}, {GO, 5, X}, {M, 7, X}, {O, 5, X}};
    size_t n = acl_value(v, e, 5);
    /* the owner (uid 1000) in the file's group (0) keeps setgid */
    struct fs_ctx member = {.uid = 1000, .gid = 0};
    assert_int_equal(fs_setxattr(t->fs, f, FS_ACL_ACCESS_NAME, v, n, 0, &member), 0);
    assert_int_equal(perm_of(t, f), 02775);
    /* one outside the group loses it; root would not */
    struct fs_ctx outsider = {.uid = 1000, .gid = 1000};
    assert_int_equal(fs_setxattr(t->fs, f, FS_ACL_ACCESS_NAME, v, n, 0, &outsider), 0);
    assert_int_equal(perm_of(t, f), 0775);
    assert_int_equal(fs_setattr(t->fs, f, &a, FS_SET_MODE, &t->ctx, &st), 0);
    struct fs_ctx root_other = {.uid = 0, .gid = 1000};
    assert_int_equal(fs_setxattr(t->fs, f, FS_ACL_ACCESS_NAME, v, n, 0, &root_other), 0);
    assert_int_equal(perm_of(t, f), 02775);
}

static void chmod_updates_acl(void **state)
{
    struct t *t = *state;
    struct stat st;
    uint64_t f = mkfile(t, ROOT, "f", 0644, &st);
    uint8_t v[64];
    const struct ent e[] = {{UO, 6, X}, {U, 6, 7}, {GO, 4, X}, {M, 6, X}, {O, 4, X}};
    size_t n = acl_value(v, e, 5);
    assert_int_equal(fs_setxattr(t->fs, f, FS_ACL_ACCESS_NAME, v, n, 0, &t->ctx), 0);
    assert_int_equal(perm_of(t, f), 0664);
    struct stat a = {.st_mode = 0701};
    assert_int_equal(fs_setattr(t->fs, f, &a, FS_SET_MODE, &t->ctx, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0701);
    /* the mask takes the group bits; the named and group entries stay */
    const struct ent after[] = {{UO, 7, X}, {U, 6, 7}, {GO, 4, X}, {M, 0, X}, {O, 1, X}};
    expect_acl(t, f, FS_ACL_ACCESS_NAME, after, 5);
    /* other setattrs leave it alone */
    a.st_uid = 5;
    assert_int_equal(fs_setattr(t->fs, f, &a, FS_SET_UID, &t->ctx, &st), 0);
    expect_acl(t, f, FS_ACL_ACCESS_NAME, after, 5);
    /* a file without an ACL gets none from chmod */
    uint64_t g = mkfile(t, ROOT, "g", 0644, &st);
    assert_int_equal(fs_setattr(t->fs, g, &a, FS_SET_MODE, &t->ctx, &st), 0);
    expect_no_acl(t, g, FS_ACL_ACCESS_NAME);
}

/* A directory with default u::rwx u:1234:rwx g::r-x g:50:-w- m::rwx o::r-x. */
static uint64_t dir_with_default(struct t *t, const char *name)
{
    struct stat st;
    uint64_t d = mkdir_(t, ROOT, name, 0755, &st);
    uint8_t v[64];
    const struct ent e[] = {{UO, 7, X}, {U, 7, 1234}, {GO, 5, X}, {G, 2, 50}, {M, 7, X}, {O, 5, X}};
    size_t n = acl_value(v, e, 6);
    assert_int_equal(fs_setxattr(t->fs, d, FS_ACL_DEFAULT_NAME, v, n, 0, &t->ctx), 0);
    assert_int_equal(perm_of(t, d), 0755); /* a default ACL does not touch the mode */
    expect_no_acl(t, d, FS_ACL_ACCESS_NAME);
    return d;
}

static void inherit_file(void **state)
{
    struct t *t = *state;
    uint64_t d = dir_with_default(t, "d");
    struct stat st;
    t->ctx.umask = 077; /* ignored under a default ACL */
    uint64_t f = mkfile(t, d, "f", 0640, &st);
    assert_int_equal(st.st_mode & 07777, 0640);
    /* owner, mask and other ANDed with the create mode */
    const struct ent want[] = {{UO, 6, X}, {U, 7, 1234}, {GO, 5, X},
                               {G, 2, 50}, {M, 4, X},    {O, 0, X}};
    expect_acl(t, f, FS_ACL_ACCESS_NAME, want, 6);
    expect_no_acl(t, f, FS_ACL_DEFAULT_NAME); /* files get no default ACL */
    assert_int_equal(perm_of(t, f), 0640);

    /* mknod and create alike; a symlink gets nothing */
    assert_int_equal(fs_mknod(t->fs, d, "p", S_IFIFO | 0666, 0, &t->ctx, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0664); /* other: r-x & rw- */
    assert_int_equal(fs_symlink(t->fs, "f", d, "l", &t->ctx, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0777);
    expect_no_acl(t, st.st_ino, FS_ACL_ACCESS_NAME);

    /* without a default ACL the umask applies and nothing is inherited */
    uint64_t g = mkfile(t, ROOT, "g", 0666, &st);
    assert_int_equal(st.st_mode & 0777, 0600);
    expect_no_acl(t, g, FS_ACL_ACCESS_NAME);
}

static void inherit_dir(void **state)
{
    struct t *t = *state;
    uint64_t d = dir_with_default(t, "d");
    struct stat st;
    uint64_t s = mkdir_(t, d, "s", 0750, &st);
    assert_int_equal(st.st_mode & 07777, 0750);
    const struct ent access[] = {{UO, 7, X}, {U, 7, 1234}, {GO, 5, X},
                                 {G, 2, 50}, {M, 5, X},    {O, 0, X}};
    const struct ent dflt[] = {{UO, 7, X}, {U, 7, 1234}, {GO, 5, X},
                               {G, 2, 50}, {M, 7, X},    {O, 5, X}};
    expect_acl(t, s, FS_ACL_ACCESS_NAME, access, 6);
    expect_acl(t, s, FS_ACL_DEFAULT_NAME, dflt, 6);
    /* and on down: a grandchild inherits the same default */
    uint64_t g = mkdir_(t, s, "g", 0777, &st);
    assert_int_equal(st.st_mode & 07777, 0775);
    expect_acl(t, g, FS_ACL_DEFAULT_NAME, dflt, 6);

    /* a default ACL with no named entries: the mode alone carries it */
    uint8_t v[64];
    const struct ent plain[] = {{UO, 7, X}, {GO, 0, X}, {O, 0, X}};
    size_t n = acl_value(v, plain, 3);
    assert_int_equal(fs_setxattr(t->fs, d, FS_ACL_DEFAULT_NAME, v, n, 0, &t->ctx), 0);
    t->ctx.umask = 0;
    uint64_t f = mkfile(t, d, "f", 0666, &st);
    assert_int_equal(st.st_mode & 0777, 0600);
    expect_no_acl(t, f, FS_ACL_ACCESS_NAME);
    uint64_t s2 = mkdir_(t, d, "s2", 0777, &st);
    assert_int_equal(st.st_mode & 0777, 0700);
    expect_no_acl(t, s2, FS_ACL_ACCESS_NAME);
    expect_acl(t, s2, FS_ACL_DEFAULT_NAME, plain, 3);

    /* removing the default ends inheritance */
    assert_int_equal(fs_removexattr(t->fs, d, FS_ACL_DEFAULT_NAME, &t->ctx), 0);
    t->ctx.umask = 022;
    f = mkfile(t, d, "h", 0666, &st);
    assert_int_equal(st.st_mode & 0777, 0644);
    expect_no_acl(t, f, FS_ACL_ACCESS_NAME);

    /* with ACLs off, a stored default is not inherited */
    n = acl_value(v, dflt, 6);
    assert_int_equal(fs_setxattr(t->fs, d, FS_ACL_DEFAULT_NAME, v, n, 0, &t->ctx), 0);
    fs_set_posix_acl(t->fs, 0);
    f = mkfile(t, d, "i", 0666, &st);
    assert_int_equal(st.st_mode & 0777, 0644);
    expect_no_acl(t, f, FS_ACL_ACCESS_NAME);
}

static void malformed_refused(void **state)
{
    struct t *t = *state;
    struct stat st;
    uint64_t f = mkfile(t, ROOT, "f", 0644, &st);
    uint64_t d = mkdir_(t, ROOT, "d", 0755, &st);
    uint8_t v[64];
    const struct ent bad[] = {{UO, 6, X}, {U, 4, 7}, {GO, 4, X}, {O, 4, X}}; /* no mask */
    size_t n = acl_value(v, bad, 4);
    assert_int_equal(fs_setxattr(t->fs, f, FS_ACL_ACCESS_NAME, v, n, 0, &t->ctx), -EINVAL);
    assert_int_equal(fs_setxattr(t->fs, d, FS_ACL_DEFAULT_NAME, v, n, 0, &t->ctx), -EINVAL);
    assert_int_equal(fs_setxattr(t->fs, f, FS_ACL_ACCESS_NAME, v, 7, 0, &t->ctx), -EINVAL);
    assert_int_equal(fs_setxattr(t->fs, f, FS_ACL_ACCESS_NAME, NULL, 0, 0, &t->ctx), -EINVAL);
    /* a valid ACL with a byte or two changed, or cut short: refused or
     * stored exactly when the parser accepts it, never a crash */
    struct rng r;
    rng_init(&r, test_seed("fs_acl malformed"));
    const struct ent good[] = {{UO, 6, X}, {U, 4, 7}, {GO, 4, X}, {M, 6, X}, {O, 4, X}};
    int accepted = 0, refused = 0;
    for (int i = 0; i < 2000; i++) {
        uint8_t m[64];
        size_t len = acl_value(m, good, 5);
        int flips = 1 + (int)rng_uniform(&r, 2);
        for (int j = 0; j < flips; j++)
            m[rng_uniform(&r, len)] ^= (uint8_t)(1u << rng_uniform(&r, 8));
        if (rng_one_in(&r, 8)) len = rng_uniform(&r, len + 1);
        int rc = fs_setxattr(t->fs, f, FS_ACL_ACCESS_NAME, m, len, 0, &t->ctx);
        assert_true(rc == 0 || rc == -EINVAL);
        struct fs_acl *a = NULL;
        assert_int_equal(fs_acl_parse(m, len, &a) == 0, rc == 0);
        free(a);
        if (rc == 0)
            accepted++;
        else
            refused++;
    }
    assert_true(accepted > 0 && refused > 0);
    assert_int_equal(perm_of(t, f) & ~0777, 0);
    /* a default ACL only on directories; no ACL on symlinks */
    const struct ent ok[] = {{UO, 6, X}, {GO, 4, X}, {O, 4, X}};
    n = acl_value(v, ok, 3);
    assert_int_equal(fs_setxattr(t->fs, f, FS_ACL_DEFAULT_NAME, v, n, 0, &t->ctx), -EACCES);
    assert_int_equal(fs_symlink(t->fs, "f", ROOT, "l", &t->ctx, &st), 0);
    assert_int_equal(fs_setxattr(t->fs, st.st_ino, FS_ACL_ACCESS_NAME, v, n, 0, &t->ctx),
                     -EOPNOTSUPP);
}

static void persists(void **state)
{
    struct t *t = *state;
    uint64_t d = dir_with_default(t, "d");
    struct stat st;
    uint64_t f = mkfile(t, d, "f", 0660, &st);
    fs_close(t->fs);
    assert_int_equal(fs_open(t->dir, NULL, &t->fs), 0);
    fs_set_posix_acl(t->fs, 1);
    const struct ent want[] = {{UO, 6, X}, {U, 7, 1234}, {GO, 5, X},
                               {G, 2, 50}, {M, 6, X},    {O, 0, X}};
    expect_acl(t, f, FS_ACL_ACCESS_NAME, want, 6);
    assert_int_equal(perm_of(t, f), 0660);
    uint64_t g = mkfile(t, d, "g", 0600, &st);
    assert_int_equal(st.st_mode & 0777, 0600);
    const struct ent want2[] = {{UO, 6, X}, {U, 7, 1234}, {GO, 5, X},
                                {G, 2, 50}, {M, 0, X},    {O, 0, X}};
    expect_acl(t, g, FS_ACL_ACCESS_NAME, want2, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_valid),
        cmocka_unit_test(parse_malformed),
        cmocka_unit_test_setup_teardown(refused_when_off, setup, teardown),
        cmocka_unit_test_setup_teardown(set_access_sets_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(setgid_cleared_outside_group, setup, teardown),
        cmocka_unit_test_setup_teardown(chmod_updates_acl, setup, teardown),
        cmocka_unit_test_setup_teardown(inherit_file, setup, teardown),
        cmocka_unit_test_setup_teardown(inherit_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(persists, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
