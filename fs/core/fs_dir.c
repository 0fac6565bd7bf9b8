/*
 * fs_dir.c — the namespace: create, mkdir, mknod, symlink, link, unlink,
 * rmdir, readlink, and directory listing. (rename lives in fs_rename.c.)
 * Every change holds fs->ns_lock, then the stripe locks of the inodes it
 * rewrites, and commits one batch.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"

/* Loads a directory that may receive or lose entries. */
static int load_dir(struct lsmerfs *fs, uint64_t ino, struct fs_inode *in)
{
    int rc = fs_inode_get(fs, NULL, ino, in);
    if (rc) return rc;
    if (!S_ISDIR(in->mode)) return -ENOTDIR;
    if (in->nlink == 0) return -ENOENT; /* removed while someone was in it */
    return 0;
}

static void touch_dir(struct fs_inode *dir, int64_t now)
{
    dir->mtime_ns = dir->ctime_ns = now;
}

/* mknod, mkdir, symlink and create. target: the symlink's target or NULL;
 * fh non-NULL: count an open of the new file. */
static int make_node(struct lsmerfs *fs, uint64_t parent, const char *name, mode_t mode, dev_t rdev,
                     const char *target, const struct fs_ctx *ctx, uint64_t *fh, struct stat *out)
{
    size_t nlen, tlen = 0;
    int rc = fs_check_name(name, &nlen);
    if (rc) return rc == -EINVAL ? -EEXIST : rc;
    if (target) {
        tlen = strnlen(target, FS_SYMLINK_MAX + 1);
        if (tlen > FS_SYMLINK_MAX) return -ENAMETOOLONG;
        if (tlen == 0) return -ENOENT;
    }
    rc = fs_space_check(fs, tlen);
    if (rc) return rc;
    switch (mode & S_IFMT) {
    case S_IFREG:
    case S_IFDIR:
    case S_IFLNK:
    case S_IFIFO:
    case S_IFSOCK:
    case S_IFCHR:
    case S_IFBLK:
        break;
    case 0:
        mode |= S_IFREG; /* mknod(2): a zero type means a regular file */
        break;
    default:
        return -EINVAL;
    }
    struct fs_inode *pi = malloc(2 * sizeof(*pi)), *ni = pi + 1;
    struct kv_batch *b = NULL;
    struct fs_locks l = {.n = 0};
    uint64_t ino = 0;
    int counted = 0;
    if (!pi) return -ENOMEM;
    pthread_mutex_lock(&fs->ns_lock);
    fs_lock_inos(fs, &l, &parent, 1);
    rc = load_dir(fs, parent, pi);
    if (rc) goto out;
    uint64_t old;
    uint8_t type;
    rc = fs_dentry_get(fs, NULL, parent, name, nlen, &old, &type);
    if (rc == 0) rc = -EEXIST;
    if (rc != -ENOENT) goto out;
    rc = fs_alloc_ino(fs, &ino);
    if (rc) goto out;
    rc = kv_batch_new(&b);
    if (rc) goto out;

    int64_t now = fs_now_ns();
    mode_t perm = S_ISLNK(mode) ? 0777 : (mode & 07777);
    fs_inode_init(ni, (mode & S_IFMT) | perm, ctx, now);
    /* the parent's default ACL, or else the umask */
    rc = fs_acl_create_locked(fs, b, parent, pi, ino, ni, ctx->umask);
    if (rc) goto out;
    if (pi->mode & S_ISGID) {
        /* BSD group semantics in a setgid directory: the group comes from
         * the directory, and subdirectories inherit the bit. */
        ni->gid = pi->gid;
        if (S_ISDIR(mode)) ni->mode |= S_ISGID;
    }
    if (S_ISDIR(mode)) {
        ni->nlink = 2;
        ni->parent = parent;
        pi->nlink++;
    } else if (S_ISLNK(mode)) {
        memcpy(ni->inline_data, target, tlen);
        ni->inline_len = (uint32_t)tlen;
        ni->size = tlen;
    } else if (S_ISCHR(mode) || S_ISBLK(mode)) {
        ni->rdev = (uint64_t)rdev;
    }
    touch_dir(pi, now);
    rc = fs_inode_put(b, ino, ni);
    if (rc == 0) rc = fs_dentry_put(b, parent, name, nlen, ino, fs_dtype(ni->mode));
    if (rc == 0) rc = fs_inode_put(b, parent, pi);
    if (rc) goto out;
    /* the caller's references exist before the name is visible */
    rc = fs_node_get(fs, ino, 1, fh ? 1 : 0);
    if (rc) goto out;
    counted = 1;
    rc = kv_commit(fs->kv, b, 0);
    if (rc) goto out;
    if (fh) *fh = ino;
    if (out) fs_inode_to_stat(fs, ino, ni, out);
out:
    if (rc && counted) fs_node_put(fs, ino, 1, fh ? 1 : 0);
    fs_unlock_inos(fs, &l);
    pthread_mutex_unlock(&fs->ns_lock);
    kv_batch_free(b);
    free(pi);
    return rc;
}

int fs_mkdir(struct lsmerfs *fs, uint64_t parent, const char *name, mode_t mode,
             const struct fs_ctx *ctx, struct stat *out)
{
    return make_node(fs, parent, name, S_IFDIR | (mode & 07777), 0, NULL, ctx, NULL, out);
}

int fs_mknod(struct lsmerfs *fs, uint64_t parent, const char *name, mode_t mode, dev_t rdev,
             const struct fs_ctx *ctx, struct stat *out)
{
    if (S_ISDIR(mode) || S_ISLNK(mode)) return -EINVAL;
    return make_node(fs, parent, name, mode, rdev, NULL, ctx, NULL, out);
}

int fs_symlink(struct lsmerfs *fs, const char *target, uint64_t parent, const char *name,
               const struct fs_ctx *ctx, struct stat *out)
{
    return make_node(fs, parent, name, S_IFLNK | 0777, 0, target, ctx, NULL, out);
}

int fs_create(struct lsmerfs *fs, uint64_t parent, const char *name, mode_t mode, int flags,
              const struct fs_ctx *ctx, uint64_t *fh, struct stat *out)
{
    /* a new file: O_TRUNC and O_EXCL change nothing */
    uint64_t ino;
    int rc = make_node(fs, parent, name, S_IFREG | (mode & 07777), 0, NULL, ctx, &ino, out);
    if (rc) return rc;
    int writer = (flags & O_ACCMODE) != O_RDONLY;
    if (writer) fs_node_writer(fs, ino, 1);
    if (fh) *fh = writer ? FS_FH_WRITE : 0;
    return 0;
}

int fs_readlink(struct lsmerfs *fs, uint64_t ino, char *buf, size_t size, size_t *len)
{
    struct fs_inode *in = malloc(sizeof(*in));
    if (!in) return -ENOMEM;
    int rc = fs_inode_get(fs, NULL, ino, in);
    if (rc) goto out;
    if (!S_ISLNK(in->mode)) {
        rc = -EINVAL;
        goto out;
    }
    if (size < (size_t)in->inline_len + 1) {
        rc = -ENAMETOOLONG;
        goto out;
    }
    memcpy(buf, in->inline_data, in->inline_len);
    buf[in->inline_len] = '\0';
    *len = in->inline_len;
out:
    free(in);
    return rc;
}

int fs_link(struct lsmerfs *fs, uint64_t ino, uint64_t newparent, const char *newname,
            const struct fs_ctx *ctx, struct stat *out)
{
    (void)ctx;
    size_t nlen;
    int rc = fs_check_name(newname, &nlen);
    if (rc) return rc == -EINVAL ? -EEXIST : rc;
    rc = fs_space_check(fs, nlen);
    if (rc) return rc;
    struct fs_inode *pi = malloc(2 * sizeof(*pi)), *in = pi + 1;
    struct kv_batch *b = NULL;
    struct fs_locks l = {.n = 0};
    if (!pi) return -ENOMEM;
    uint64_t inos[2] = {newparent, ino};
    pthread_mutex_lock(&fs->ns_lock);
    fs_lock_inos(fs, &l, inos, 2);
    rc = load_dir(fs, newparent, pi);
    if (rc) goto out;
    rc = fs_inode_get(fs, NULL, ino, in);
    if (rc) goto out;
    if (S_ISDIR(in->mode)) {
        rc = -EPERM;
        goto out;
    }
    if (in->nlink == 0) {
        rc = -ENOENT;
        goto out;
    }
    if (in->nlink >= UINT32_MAX - 1) {
        rc = -EMLINK;
        goto out;
    }
    uint64_t old;
    uint8_t type;
    rc = fs_dentry_get(fs, NULL, newparent, newname, nlen, &old, &type);
    if (rc == 0) rc = -EEXIST;
    if (rc != -ENOENT) goto out;
    rc = kv_batch_new(&b);
    if (rc) goto out;
    int64_t now = fs_now_ns();
    in->nlink++;
    in->ctime_ns = now;
    touch_dir(pi, now);
    rc = fs_inode_put(b, ino, in);
    if (rc == 0) rc = fs_inode_put(b, newparent, pi);
    if (rc == 0) rc = fs_dentry_put(b, newparent, newname, nlen, ino, fs_dtype(in->mode));
    if (rc == 0) rc = kv_commit(fs->kv, b, 0);
    if (rc == 0 && fs_node_get(fs, ino, 1, 0) != 0) {
        /* linked, but no reference to hand out: say so; the kernel will
         * look the name up again */
        rc = -ENOMEM;
    }
    if (rc == 0 && out) fs_inode_to_stat(fs, ino, in, out);
out:
    fs_unlock_inos(fs, &l);
    pthread_mutex_unlock(&fs->ns_lock);
    kv_batch_free(b);
    free(pi);
    return rc;
}

/* unlink and rmdir. */
static int remove_name(struct lsmerfs *fs, uint64_t parent, const char *name, int dir)
{
    size_t nlen;
    int rc = fs_check_name(name, &nlen);
    if (rc == -EINVAL) {
        /* rmdir(".") is EINVAL, rmdir("..") ENOTEMPTY, unlink of either
         * EISDIR — as Linux reports them */
        if (!dir && (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)) return -EISDIR;
        if (dir && strcmp(name, "..") == 0) return -ENOTEMPTY;
        return strcmp(name, ".") == 0 ? -EINVAL : -ENOENT;
    }
    if (rc) return rc;
    struct fs_inode *pi = malloc(2 * sizeof(*pi)), *in = pi + 1;
    struct kv_batch *b = NULL;
    struct fs_locks l = {.n = 0};
    if (!pi) return -ENOMEM;
    pthread_mutex_lock(&fs->ns_lock);
    uint64_t ino;
    uint8_t type;
    rc = fs_dentry_get(fs, NULL, parent, name, nlen, &ino, &type);
    if (rc == -ENOENT) {
        int prc = fs_inode_get(fs, NULL, parent, pi);
        if (prc == 0 && !S_ISDIR(pi->mode)) rc = -ENOTDIR;
    }
    if (rc) goto out;
    uint64_t inos[2] = {parent, ino};
    fs_lock_inos(fs, &l, inos, 2);
    rc = fs_inode_get(fs, NULL, parent, pi);
    if (rc == 0) rc = fs_inode_get(fs, NULL, ino, in);
    if (rc) goto out;
    if (dir && !S_ISDIR(in->mode)) {
        rc = -ENOTDIR;
        goto out;
    }
    if (!dir && S_ISDIR(in->mode)) {
        rc = -EISDIR;
        goto out;
    }
    if (dir) {
        rc = fs_dir_empty(fs, ino);
        if (rc) goto out;
    }
    rc = kv_batch_new(&b);
    if (rc) goto out;
    int64_t now = fs_now_ns();
    touch_dir(pi, now);
    in->ctime_ns = now;
    if (dir) {
        in->nlink = 0;
        if (pi->nlink > 2) pi->nlink--;
    } else if (in->nlink > 0) {
        in->nlink--;
    }
    rc = fs_dentry_del(b, parent, name, nlen);
    if (rc == 0) rc = fs_inode_put(b, parent, pi);
    if (rc == 0) rc = in->nlink == 0 ? fs_drop_inode(fs, b, ino, in) : fs_inode_put(b, ino, in);
    if (rc == 0) rc = kv_commit(fs->kv, b, 0);
    if (rc == 0 && in->nlink == 0) fs_space_freed(fs);
out:
    fs_unlock_inos(fs, &l);
    pthread_mutex_unlock(&fs->ns_lock);
    kv_batch_free(b);
    free(pi);
    return rc;
}

int fs_unlink(struct lsmerfs *fs, uint64_t parent, const char *name, const struct fs_ctx *ctx)
{
    (void)ctx;
    return remove_name(fs, parent, name, 0);
}

int fs_rmdir(struct lsmerfs *fs, uint64_t parent, const char *name, const struct fs_ctx *ctx)
{
    (void)ctx;
    return remove_name(fs, parent, name, 1);
}

/* ---- listing ----------------------------------------------------------- */

struct fs_dir {
    pthread_mutex_t lock;
    uint64_t ino;
    uint64_t parent;
    const struct kv_snap *snap; /* lock: the view this handle lists */
    struct kv_iter *it;         /* lock: positioned at entry number pos */
    uint64_t pos;               /* lock */
    struct fs_dir *prev, *next; /* fs->dirs_lock: the list of open handles */
    int listed;                 /* fs->dirs_lock: on that list */
};

static void dir_reset(struct lsmerfs *fs, struct fs_dir *d)
{
    kv_iter_close(d->it);
    d->it = NULL;
    kv_snap_release(fs->kv, d->snap);
    d->snap = NULL;
}

/* Takes a fresh snapshot and positions at the first name (entry 2). */
static int dir_refresh(struct lsmerfs *fs, struct fs_dir *d)
{
    dir_reset(fs, d);
    d->snap = kv_snap_new(fs->kv);
    if (!d->snap) return -ENOMEM;
    struct fs_inode *in = malloc(sizeof(*in));
    if (!in) return -ENOMEM;
    int rc = fs_inode_get(fs, d->snap, d->ino, in);
    if (rc == 0 && !S_ISDIR(in->mode)) rc = -ENOTDIR;
    if (rc == 0) d->parent = in->parent ? in->parent : d->ino;
    free(in);
    if (rc) return rc;
    return 0;
}

static int dir_seek(struct lsmerfs *fs, struct fs_dir *d, uint64_t pos)
{
    if (d->it && d->pos == pos) return 0;
    kv_iter_close(d->it);
    d->it = NULL;
    uint8_t s[KEY_INO_LEN], e[KEY_INO_LEN];
    key_prefix(s, KEY_DENTRY, d->ino);
    key_prefix(e, KEY_DENTRY, d->ino + 1);
    int rc = kv_iter_open(fs->kv, d->snap, s, sizeof(s), e, sizeof(e), &d->it);
    if (rc) return rc;
    /* Only a seekdir() back to an earlier place costs a walk from the
     * start; reading on from where the last call stopped does not. */
    for (d->pos = 2; d->pos < pos && kv_iter_valid(d->it); d->pos++) kv_iter_next(d->it);
    return 0;
}

int fs_opendir(struct lsmerfs *fs, uint64_t ino, struct fs_dir **out)
{
    struct fs_dir *d = calloc(1, sizeof(*d));
    if (!d) return -ENOMEM;
    pthread_mutex_init(&d->lock, NULL);
    d->ino = ino;
    int rc = dir_refresh(fs, d);
    if (rc) {
        fs_releasedir(fs, d);
        return rc;
    }
    pthread_mutex_lock(&fs->dirs_lock);
    d->next = fs->dirs;
    if (fs->dirs) fs->dirs->prev = d;
    fs->dirs = d;
    d->listed = 1;
    pthread_mutex_unlock(&fs->dirs_lock);
    *out = d;
    return 0;
}

void fs_releasedir(struct lsmerfs *fs, struct fs_dir *d)
{
    if (!d) return;
    pthread_mutex_lock(&fs->dirs_lock);
    if (d->listed) {
        if (d->prev)
            d->prev->next = d->next;
        else
            fs->dirs = d->next;
        if (d->next) d->next->prev = d->prev;
        d->listed = 0;
    }
    pthread_mutex_unlock(&fs->dirs_lock);
    dir_reset(fs, d);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

void fs_dirs_release_all(struct lsmerfs *fs)
{
    for (;;) {
        pthread_mutex_lock(&fs->dirs_lock);
        struct fs_dir *d = fs->dirs;
        pthread_mutex_unlock(&fs->dirs_lock);
        if (!d) return;
        fs_releasedir(fs, d);
    }
}

static void type_only(struct stat *st, uint64_t ino, uint8_t type)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = (ino_t)ino;
    st->st_mode = (mode_t)type << 12;
}

int fs_readdir(struct lsmerfs *fs, struct fs_dir *d, off_t off, int plus, fs_dirent_fn fn,
               void *arg)
{
    if (off < 0) return -EINVAL;
    struct fs_inode *in = plus ? malloc(sizeof(*in)) : NULL;
    if (plus && !in) return -ENOMEM;
    struct stat st;
    char name[FS_NAME_MAX + 1];
    int rc = 0;
    pthread_mutex_lock(&d->lock);
    if (off == 0 || !d->snap) {
        rc = dir_refresh(fs, d);
        if (rc) goto out;
    }
    uint64_t pos = (uint64_t)off;
    while (pos < 2) {
        type_only(&st, pos == 0 ? d->ino : d->parent, S_IFDIR >> 12);
        if (fn(arg, pos == 0 ? "." : "..", &st, 0, (off_t)(pos + 1))) goto out;
        pos++;
    }
    rc = dir_seek(fs, d, pos);
    if (rc) goto out;
    for (; kv_iter_valid(d->it); kv_iter_next(d->it), d->pos++) {
        size_t klen, vlen, nlen;
        const uint8_t *k = kv_iter_key(d->it, &klen);
        const void *v;
        const char *np;
        uint64_t parent, ino;
        uint8_t type;
        rc = key_parse_named(k, klen, KEY_DENTRY, &parent, &np, &nlen);
        if (rc == 0) rc = kv_iter_value(d->it, &v, &vlen);
        if (rc == 0) rc = dentry_decode(v, vlen, &ino, &type);
        if (rc) goto out;
        memcpy(name, np, nlen);
        name[nlen] = '\0';
        int full = 0;
        if (plus) {
            /* a full entry hands the kernel a reference, as lookup does */
            struct fs_locks l;
            fs_lock_inos(fs, &l, &ino, 1);
            if (fs_inode_get(fs, NULL, ino, in) == 0 && fs_node_get(fs, ino, 1, 0) == 0) {
                fs_inode_to_stat(fs, ino, in, &st);
                full = 1;
            }
            fs_unlock_inos(fs, &l);
        }
        if (!full) type_only(&st, ino, type);
        if (fn(arg, name, &st, full, (off_t)(d->pos + 1))) {
            if (full) fs_forget(fs, ino, 1); /* not handed out after all */
            goto out;
        }
    }
    rc = kv_iter_status(d->it);
out:
    pthread_mutex_unlock(&d->lock);
    free(in);
    return rc;
}
