/*
 * fs_xattr.c — extended attributes as keys "x" ino name. Names are stored
 * as given (with their namespace prefix: "user.", "trusted.", ...); the
 * kernel has already checked which namespaces the caller may use. POSIX
 * ACLs (system.posix_acl_access / _default) are xattrs too, but setting or
 * removing one goes through fs_acl.c, which validates it and keeps the mode
 * in step in the same batch; while ACLs are off (fs_set_posix_acl) they are
 * refused with EOPNOTSUPP.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "fs_internal.h"

static int check_xattr_name(const char *name, size_t *nlen)
{
    size_t n = strnlen(name, FS_NAME_MAX + 1);
    if (n == 0 || n > FS_NAME_MAX) return -ERANGE;
    *nlen = n;
    return 0;
}

/* Sets (value != NULL) or removes (value == NULL) one attribute. */
static int xattr_change(struct lsmerfs *fs, uint64_t ino, const char *name, const void *value,
                        size_t size, int flags, const struct fs_ctx *ctx)
{
    enum fs_acl_kind acl = fs_acl_kind(name);
    size_t nlen;
    int rc = check_xattr_name(name, &nlen);
    if (rc) return rc;
    if (value && size > FS_XATTR_VALUE_MAX) return -E2BIG;
    struct fs_locks l;
    struct kv_batch *b = NULL;
    struct kv_buf v = {0};
    struct fs_inode *in = malloc(sizeof(*in));
    if (!in) return -ENOMEM;
    fs_lock_inos(fs, &l, &ino, 1);
    rc = fs_inode_get(fs, NULL, ino, in);
    if (rc) goto out;
    uint8_t k[KEY_NAMED_MAX];
    size_t klen = key_xattr(k, ino, name, nlen);
    int exists = 0;
    if (in->flags & FS_IFLAG_HAS_XATTR) {
        rc = kv_get(fs->kv, NULL, k, klen, &v);
        if (rc == 0)
            exists = 1;
        else if (rc != -ENOENT)
            goto out;
    }
    rc = 0;
    if (!value || (flags & XATTR_REPLACE)) {
        if (!exists) {
            rc = -ENODATA;
            goto out;
        }
    }
    if (value && (flags & XATTR_CREATE) && exists) {
        rc = -EEXIST;
        goto out;
    }
    rc = kv_batch_new(&b);
    if (rc) goto out;
    if (acl)
        rc = fs_acl_set_locked(fs, b, ino, in, acl, value, size, ctx);
    else if (value)
        rc = kv_batch_put(b, k, klen, value, size);
    else
        rc = kv_batch_delete(b, k, klen);
    in->flags |= value && !acl ? FS_IFLAG_HAS_XATTR : 0;
    in->ctime_ns = fs_now_ns();
    if (rc == 0) rc = fs_inode_put(b, ino, in);
    if (rc == 0) rc = kv_commit(fs->kv, b, 0);
out:
    fs_unlock_inos(fs, &l);
    kv_batch_free(b);
    kv_buf_free(&v);
    free(in);
    return rc;
}

int fs_setxattr(struct lsmerfs *fs, uint64_t ino, const char *name, const void *value, size_t size,
                int flags, const struct fs_ctx *ctx)
{
    if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) return -EINVAL;
    /* Without ACLs on, storing them as plain bytes would make programs
     * (cp -a) believe they set a mode through an ACL; refusing them sends
     * those programs to chmod. */
    if (fs_acl_kind(name) && !fs_posix_acl_on(fs)) return -EOPNOTSUPP;
    int rc = fs_space_check(fs, size + strlen(name));
    if (rc) return rc;
    return xattr_change(fs, ino, name, value ? value : "", size, flags, ctx);
}

int fs_removexattr(struct lsmerfs *fs, uint64_t ino, const char *name, const struct fs_ctx *ctx)
{
    /* An ACL stored while ACLs were on may be removed with them off. */
    return xattr_change(fs, ino, name, NULL, 0, 0, ctx);
}

int fs_getxattr(struct lsmerfs *fs, uint64_t ino, const char *name, void *buf, size_t size,
                size_t *len)
{
    size_t nlen;
    int rc = check_xattr_name(name, &nlen);
    if (rc) return rc;
    uint8_t k[KEY_NAMED_MAX];
    struct kv_buf v = {0};
    rc = kv_get(fs->kv, NULL, k, key_xattr(k, ino, name, nlen), &v);
    if (rc == -ENOENT) {
        struct stat st;
        rc = fs_getattr(fs, ino, &st);
        if (rc == 0) rc = -ENODATA;
        goto out;
    }
    if (rc) goto out;
    *len = v.size;
    if (size == 0) goto out;
    if (size < v.size) {
        rc = -ERANGE;
        goto out;
    }
    memcpy(buf, v.data, v.size);
out:
    kv_buf_free(&v);
    return rc;
}

int fs_listxattr(struct lsmerfs *fs, uint64_t ino, char *buf, size_t size, size_t *len)
{
    struct stat st;
    int rc = fs_getattr(fs, ino, &st);
    if (rc) return rc;
    uint8_t s[KEY_INO_LEN], e[KEY_INO_LEN];
    key_prefix(s, KEY_XATTR, ino);
    key_prefix(e, KEY_XATTR, ino + 1);
    struct kv_iter *it;
    rc = kv_iter_open(fs->kv, NULL, s, sizeof(s), e, sizeof(e), &it);
    if (rc) return rc;
    size_t total = 0;
    for (; kv_iter_valid(it); kv_iter_next(it)) {
        size_t klen, nlen;
        const uint8_t *k = kv_iter_key(it, &klen);
        const char *name;
        uint64_t kino;
        rc = key_parse_named(k, klen, KEY_XATTR, &kino, &name, &nlen);
        if (rc) goto out;
        if (size) {
            if (total + nlen + 1 > size) {
                rc = -ERANGE;
                goto out;
            }
            memcpy(buf + total, name, nlen);
            buf[total + nlen] = '\0';
        }
        total += nlen + 1;
    }
    rc = kv_iter_status(it);
    if (rc == 0) *len = total;
out:
    kv_iter_close(it);
    return rc;
}
