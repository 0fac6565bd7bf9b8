/*
 * fs_rename.c — rename(2) and renameat2(2) with RENAME_NOREPLACE and
 * RENAME_EXCHANGE: the dentries, the link counts of directories that change
 * parent, a replaced target losing a link, and four inodes' times, all in
 * one batch.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* -EINVAL if dir lies in the subtree rooted at top (or is top). Walks
 * parent pointers up to the root; ns_lock keeps them still meanwhile. */
static int check_not_within(struct lsmerfs *fs, uint64_t dir, uint64_t top,
                            struct fs_inode *scratch)
{
    for (int depth = 0; depth < 1 << 20; depth++) {
        if (dir == top) return -EINVAL;
        if (dir == FS_ROOT_INO) return 0;
        int rc = fs_inode_get(fs, NULL, dir, scratch);
        if (rc) return rc;
        if (scratch->parent == 0 || scratch->parent == dir) return 0;
        dir = scratch->parent;
    }
    return -EUCLEAN; /* a parent cycle: the tree is damaged */
}

int fs_rename(struct lsmerfs *fs, uint64_t parent, const char *name, uint64_t newparent,
              const char *newname, unsigned flags, const struct fs_ctx *ctx)
{
    (void)ctx;
    size_t nlen, nnlen;
    if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) return -EINVAL;
    if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) return -EINVAL;
    int rc = fs_check_name(name, &nlen);
    if (rc == 0) rc = fs_check_name(newname, &nnlen);
    if (rc == -EINVAL) return -EBUSY; /* "." or ".." as either name */
    if (rc) return rc;

    /* slots: 0 parent, 1 newparent (may alias 0), 2 source, 3 target */
    struct fs_inode *in = malloc(5 * sizeof(*in));
    struct kv_batch *b = NULL;
    struct fs_locks l = {.n = 0};
    if (!in) return -ENOMEM;
    struct fs_inode *pi = &in[0], *npi = &in[1], *si = &in[2], *di = &in[3], *tmp = &in[4];
    pthread_mutex_lock(&fs->ns_lock);

    uint64_t sino, dino = 0;
    uint8_t stype, dtype = 0;
    rc = fs_dentry_get(fs, NULL, parent, name, nlen, &sino, &stype);
    if (rc) goto out;
    rc = fs_dentry_get(fs, NULL, newparent, newname, nnlen, &dino, &dtype);
    if (rc == -ENOENT) {
        dino = 0;
        rc = 0;
    }
    if (rc) goto out;
    if (dino && (flags & RENAME_NOREPLACE)) {
        rc = -EEXIST;
        goto out;
    }
    if (!dino && (flags & RENAME_EXCHANGE)) {
        rc = -ENOENT;
        goto out;
    }
    rc = fs_inode_get(fs, NULL, newparent, npi);
    if (rc) goto out;
    if (!S_ISDIR(npi->mode)) {
        rc = -ENOTDIR;
        goto out;
    }
    if (npi->nlink == 0) {
        rc = -ENOENT;
        goto out;
    }
    if (sino == dino) goto out; /* two links to one file: nothing to do */
    int sdir = stype == (S_IFDIR >> 12), ddir = dino && dtype == (S_IFDIR >> 12);
    if (sdir && newparent != parent) {
        rc = check_not_within(fs, newparent, sino, tmp);
        if (rc) goto out;
    }
    if ((flags & RENAME_EXCHANGE) && ddir && newparent != parent) {
        rc = check_not_within(fs, parent, dino, tmp);
        if (rc) goto out;
    }
    if (dino && !(flags & RENAME_EXCHANGE)) {
        if (sdir && !ddir) {
            rc = -ENOTDIR;
            goto out;
        }
        if (!sdir && ddir) {
            rc = -EISDIR;
            goto out;
        }
        if (ddir) {
            rc = fs_dir_empty(fs, dino);
            if (rc) goto out;
        }
    }

    uint64_t inos[4] = {parent, newparent, sino, dino};
    fs_lock_inos(fs, &l, inos, 4);
    rc = fs_inode_get(fs, NULL, parent, pi);
    if (rc == 0 && newparent != parent) rc = fs_inode_get(fs, NULL, newparent, npi);
    if (rc == 0) rc = fs_inode_get(fs, NULL, sino, si);
    if (rc == 0 && dino) rc = fs_inode_get(fs, NULL, dino, di);
    if (rc) goto out;
    /* parent and newparent may be one inode: update it through one pointer */
    struct fs_inode *np = newparent == parent ? pi : npi;
    rc = kv_batch_new(&b);
    if (rc) goto out;
    int64_t now = fs_now_ns();

    if (flags & RENAME_EXCHANGE) {
        rc = fs_dentry_put(b, parent, name, nlen, dino, dtype);
        if (rc == 0) rc = fs_dentry_put(b, newparent, newname, nnlen, sino, stype);
        if (sdir && newparent != parent) {
            si->parent = newparent;
            pi->nlink--;
            np->nlink++;
        }
        if (ddir && newparent != parent) {
            di->parent = parent;
            np->nlink--;
            pi->nlink++;
        }
        di->ctime_ns = now;
        if (rc == 0) rc = fs_inode_put(b, dino, di);
    } else {
        rc = fs_dentry_del(b, parent, name, nlen);
        if (rc == 0) rc = fs_dentry_put(b, newparent, newname, nnlen, sino, stype);
        if (sdir && newparent != parent) {
            si->parent = newparent;
            pi->nlink--;
            np->nlink++;
        }
        if (dino) {
            di->ctime_ns = now;
            if (ddir) {
                di->nlink = 0;
                np->nlink--;
            } else if (di->nlink > 0) {
                di->nlink--;
            }
            if (rc == 0)
                rc = di->nlink == 0 ? fs_drop_inode(fs, b, dino, di) : fs_inode_put(b, dino, di);
        }
    }
    si->ctime_ns = now;
    pi->mtime_ns = pi->ctime_ns = now;
    np->mtime_ns = np->ctime_ns = now;
    if (rc == 0) rc = fs_inode_put(b, sino, si);
    if (rc == 0) rc = fs_inode_put(b, parent, pi);
    if (rc == 0 && newparent != parent) rc = fs_inode_put(b, newparent, npi);
    if (rc == 0) rc = kv_commit(fs->kv, b, 0);
    if (rc == 0 && dino && !(flags & RENAME_EXCHANGE) && di->nlink == 0) fs_space_freed(fs);
out:
    fs_unlock_inos(fs, &l);
    pthread_mutex_unlock(&fs->ns_lock);
    kv_batch_free(b);
    free(in);
    return rc;
}
