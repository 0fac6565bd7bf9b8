/*
 * fs_inode.c — inodes and dentries as values: load, store, convert to
 * struct stat; lookup, getattr, setattr; dropping an inode's last link.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"

int fs_inode_get(struct lsmerfs *fs, const struct kv_snap *snap, uint64_t ino, struct fs_inode *out)
{
    uint8_t k[KEY_INO_LEN];
    struct kv_buf v = {0};
    int rc = kv_get(fs->kv, snap, k, key_inode(k, ino), &v);
    if (rc == 0) {
        rc = inode_decode(v.data, v.size, out);
        if (rc) fs_logf(fs, 0, "inode %llu does not parse", (unsigned long long)ino);
        if (rc == -EPROTO) rc = -EUCLEAN;
    }
    kv_buf_free(&v);
    return rc;
}

int fs_inode_put(struct kv_batch *b, uint64_t ino, const struct fs_inode *in)
{
    uint8_t k[KEY_INO_LEN];
    uint8_t *v = malloc(FS_INODE_BUF);
    if (!v) return -ENOMEM;
    size_t n = inode_encode(in, v);
    int rc = kv_batch_put(b, k, key_inode(k, ino), v, n);
    free(v);
    return rc;
}

static void ns_to_ts(int64_t ns, struct timespec *ts)
{
    int64_t s = ns / 1000000000, r = ns % 1000000000;
    if (r < 0) {
        r += 1000000000;
        s--;
    }
    ts->tv_sec = (time_t)s;
    ts->tv_nsec = (long)r;
}

static int64_t ts_to_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

void fs_inode_to_stat(const struct lsmerfs *fs, uint64_t ino, const struct fs_inode *in,
                      struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = (ino_t)ino;
    st->st_mode = (mode_t)in->mode;
    st->st_nlink = (nlink_t)in->nlink;
    st->st_uid = (uid_t)in->uid;
    st->st_gid = (gid_t)in->gid;
    st->st_rdev = (dev_t)in->rdev;
    st->st_size = (off_t)in->size;
    st->st_blksize = (blksize_t)fs->block_size;
    /* Space is not tracked per block; report the size rounded up. */
    st->st_blocks = (blkcnt_t)((in->size + 511) / 512);
    ns_to_ts(in->atime_ns, &st->st_atim);
    ns_to_ts(in->mtime_ns, &st->st_mtim);
    ns_to_ts(in->ctime_ns, &st->st_ctim);
}

void fs_inode_init(struct fs_inode *in, mode_t mode, const struct fs_ctx *ctx, int64_t now)
{
    memset(in, 0, offsetof(struct fs_inode, inline_data));
    in->mode = (uint32_t)mode;
    in->uid = ctx->uid;
    in->gid = ctx->gid;
    in->nlink = 1;
    in->atime_ns = in->mtime_ns = in->ctime_ns = in->btime_ns = now;
    in->generation = 1;
    if (S_ISREG(mode)) in->flags |= FS_IFLAG_INLINE;
}

void fs_kill_suid(struct fs_inode *in, const struct fs_ctx *ctx)
{
    if (ctx && ctx->uid == 0) return;
    in->mode &= ~(uint32_t)S_ISUID;
    if (in->mode & S_IXGRP) in->mode &= ~(uint32_t)S_ISGID;
}

int fs_kill_caps(struct lsmerfs *fs, struct kv_batch *b, uint64_t ino, const struct fs_inode *in)
{
    /* The flag keeps the common case (no attributes) to no lookup. */
    if (!S_ISREG(in->mode) || !(in->flags & FS_IFLAG_HAS_XATTR)) return 0;
    static const char name[] = "security.capability";
    uint8_t k[KEY_NAMED_MAX];
    size_t klen = key_xattr(k, ino, name, sizeof(name) - 1);
    struct kv_buf v = {0};
    int rc = kv_get(fs->kv, NULL, k, klen, &v);
    kv_buf_free(&v);
    if (rc == -ENOENT) return 0;
    return rc ? rc : kv_batch_delete(b, k, klen);
}

int fs_dentry_get(struct lsmerfs *fs, const struct kv_snap *snap, uint64_t parent, const char *name,
                  size_t nlen, uint64_t *ino, uint8_t *type)
{
    uint8_t k[KEY_NAMED_MAX];
    struct kv_buf v = {0};
    int rc = kv_get(fs->kv, snap, k, key_dentry(k, parent, name, nlen), &v);
    if (rc == 0) rc = dentry_decode(v.data, v.size, ino, type);
    kv_buf_free(&v);
    return rc;
}

int fs_dentry_put(struct kv_batch *b, uint64_t parent, const char *name, size_t nlen, uint64_t ino,
                  uint8_t type)
{
    uint8_t k[KEY_NAMED_MAX], v[DENTRY_VAL_LEN];
    dentry_encode(ino, type, v);
    return kv_batch_put(b, k, key_dentry(k, parent, name, nlen), v, sizeof(v));
}

int fs_dentry_del(struct kv_batch *b, uint64_t parent, const char *name, size_t nlen)
{
    uint8_t k[KEY_NAMED_MAX];
    return kv_batch_delete(b, k, key_dentry(k, parent, name, nlen));
}

int fs_dir_empty(struct lsmerfs *fs, uint64_t dir)
{
    uint8_t s[KEY_INO_LEN], e[KEY_INO_LEN];
    key_prefix(s, KEY_DENTRY, dir);
    key_prefix(e, KEY_DENTRY, dir + 1);
    struct kv_iter *it;
    int rc = kv_iter_open(fs->kv, NULL, s, sizeof(s), e, sizeof(e), &it);
    if (rc) return rc;
    rc = kv_iter_valid(it) ? -ENOTEMPTY : kv_iter_status(it);
    kv_iter_close(it);
    return rc;
}

int fs_purge_ops(struct kv_batch *b, uint64_t ino, const struct fs_inode *in)
{
    uint8_t k[KEY_INO_LEN], e[KEY_INO_LEN];
    int rc = kv_batch_delete(b, k, key_inode(k, ino));
    if (rc == 0 && S_ISREG(in->mode) && !(in->flags & FS_IFLAG_INLINE)) {
        /* One range delete, whatever the file's size. */
        key_prefix(k, KEY_BLOCK, ino);
        key_prefix(e, KEY_BLOCK, ino + 1);
        rc = kv_batch_delete_range(b, k, sizeof(k), e, sizeof(e));
    }
    if (rc == 0 && (in->flags & FS_IFLAG_HAS_XATTR)) {
        key_prefix(k, KEY_XATTR, ino);
        key_prefix(e, KEY_XATTR, ino + 1);
        rc = kv_batch_delete_range(b, k, sizeof(k), e, sizeof(e));
    }
    if (rc == 0) rc = kv_batch_delete(b, k, key_orphan(k, ino));
    return rc;
}

int fs_drop_inode(struct lsmerfs *fs, struct kv_batch *b, uint64_t ino, const struct fs_inode *in)
{
    if (fs_node_busy(fs, ino)) {
        uint8_t k[KEY_INO_LEN];
        int rc = fs_inode_put(b, ino, in);
        if (rc == 0) rc = kv_batch_put(b, k, key_orphan(k, ino), "", 0);
        return rc;
    }
    return fs_purge_ops(b, ino, in);
}

/* ---- operations -------------------------------------------------------- */

int fs_lookup(struct lsmerfs *fs, uint64_t parent, const char *name, struct stat *out)
{
    size_t nlen;
    uint64_t ino;
    uint8_t type;
    struct fs_locks l = {.n = 0};
    int rc = fs_check_name(name, &nlen);
    if (rc) return rc == -EINVAL ? -ENOENT : rc;
    struct fs_inode *in = malloc(sizeof(*in));
    if (!in) return -ENOMEM;
    rc = fs_dentry_get(fs, NULL, parent, name, nlen, &ino, &type);
    if (rc == 0) {
        /* Read the inode and take the reference under its lock, so an
         * unlink either frees it before (and we say ENOENT) or sees the
         * reference and keeps it as an orphan. */
        fs_lock_inos(fs, &l, &ino, 1);
        rc = fs_inode_get(fs, NULL, ino, in);
        if (rc == 0) rc = fs_node_get(fs, ino, 1, 0);
        fs_unlock_inos(fs, &l);
        if (rc == 0) fs_inode_to_stat(fs, ino, in, out);
    } else if (rc == -ENOENT) {
        /* No dentry: tell ENOTDIR from ENOENT when parent is a file. */
        int prc = fs_inode_get(fs, NULL, parent, in);
        if (prc == 0 && !S_ISDIR(in->mode)) rc = -ENOTDIR;
    }
    free(in);
    return rc;
}

int fs_getattr(struct lsmerfs *fs, uint64_t ino, struct stat *out)
{
    struct fs_inode *in = malloc(sizeof(*in));
    if (!in) return -ENOMEM;
    int rc = fs_inode_get(fs, NULL, ino, in);
    if (rc == 0) fs_inode_to_stat(fs, ino, in, out);
    free(in);
    return rc;
}

int fs_setattr(struct lsmerfs *fs, uint64_t ino, const struct stat *attr, unsigned to_set,
               const struct fs_ctx *ctx, struct stat *out)
{
    struct fs_locks l;
    struct kv_batch *b = NULL;
    struct fs_inode *in = malloc(sizeof(*in));
    if (!in) return -ENOMEM;
    fs_lock_inos(fs, &l, &ino, 1);
    int rc = fs_inode_get(fs, NULL, ino, in);
    if (rc) goto out;
    rc = kv_batch_new(&b);
    if (rc) goto out;
    int64_t now = fs_now_ns();
    int changed = 0, shrunk = 0;
    if (to_set & FS_SET_SIZE) {
        if (S_ISDIR(in->mode)) {
            rc = -EISDIR;
            goto out;
        }
        if (!S_ISREG(in->mode)) {
            rc = -EINVAL;
            goto out;
        }
        if (attr->st_size < 0) {
            rc = -EINVAL;
            goto out;
        }
        if ((uint64_t)attr->st_size > in->size) {
            rc = fs_space_check(fs, 0); /* truncate down always proceeds */
            if (rc) goto out;
        }
        if ((uint64_t)attr->st_size < in->size) shrunk = 1;
        if ((uint64_t)attr->st_size != in->size) {
            rc = fs_truncate_locked(fs, b, ino, in, (uint64_t)attr->st_size);
            if (rc) goto out;
            in->mtime_ns = now;
        }
        /* truncate(2) sets mtime and ctime even when the size is unchanged,
         * and like a write it drops setuid and file capabilities */
        fs_kill_suid(in, ctx);
        rc = fs_kill_caps(fs, b, ino, in);
        if (rc) goto out;
        changed = 1;
    }
    if (to_set & (FS_SET_UID | FS_SET_GID)) {
        if (to_set & FS_SET_UID) in->uid = (uint32_t)attr->st_uid;
        if (to_set & FS_SET_GID) in->gid = (uint32_t)attr->st_gid;
        /* chown drops setuid/setgid of non-directories, even for root
         * (setgid only if group-executable: else it marks mandatory
         * locking) — unless the same call sets the mode explicitly. */
        if (!S_ISDIR(in->mode) && !(to_set & FS_SET_MODE)) {
            in->mode &= ~(uint32_t)S_ISUID;
            if (in->mode & S_IXGRP) in->mode &= ~(uint32_t)S_ISGID;
        }
        rc = fs_kill_caps(fs, b, ino, in);
        if (rc) goto out;
        changed = 1;
    }
    if (to_set & FS_SET_MODE) {
        in->mode = (in->mode & S_IFMT) | ((uint32_t)attr->st_mode & 07777);
        /* an access ACL's owner, mask and other entries follow chmod */
        rc = fs_acl_chmod_locked(fs, b, ino, in);
        if (rc) goto out;
        changed = 1;
    }
    if (to_set & FS_SET_ATIME_NOW)
        in->atime_ns = now;
    else if (to_set & FS_SET_ATIME)
        in->atime_ns = ts_to_ns(&attr->st_atim);
    if (to_set & FS_SET_MTIME_NOW)
        in->mtime_ns = now;
    else if (to_set & FS_SET_MTIME)
        in->mtime_ns = ts_to_ns(&attr->st_mtim);
    if (to_set & (FS_SET_ATIME | FS_SET_MTIME | FS_SET_ATIME_NOW | FS_SET_MTIME_NOW)) changed = 1;
    if (changed) in->ctime_ns = now;
    if (to_set & FS_SET_CTIME) in->ctime_ns = ts_to_ns(&attr->st_ctim);
    rc = fs_inode_put(b, ino, in);
    if (rc == 0) rc = kv_commit(fs->kv, b, 0);
    if (rc == 0 && shrunk) fs_space_freed(fs);
    if (rc == 0 && out) fs_inode_to_stat(fs, ino, in, out);
out:
    fs_unlock_inos(fs, &l);
    kv_batch_free(b);
    free(in);
    return rc;
}
