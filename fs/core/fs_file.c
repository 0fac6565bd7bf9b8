/*
 * fs_file.c — file contents: open, read, write, truncate, release,
 * fallocate and SEEK_DATA/SEEK_HOLE.
 *
 * A small file (up to inline_max bytes) lives inside its inode value; a
 * larger one in blocks "b" ino block_no of block_size bytes, where a missing
 * block is a hole and a short block reads as zeros past its end. No block
 * holds bytes at or past the file size, so growing a file never exposes old
 * data. A file converts to blocks when it outgrows inline_max and back to
 * inline when truncated to zero.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_internal.h"

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif

#define FS_MAX_FILE_SIZE ((uint64_t)INT64_MAX)

/* Reads block bno into buf (block_size bytes); *len = its stored length,
 * 0 for a hole. */
static int block_get(struct lsmerfs *fs, const struct kv_snap *snap, uint64_t ino, uint64_t bno,
                     uint8_t *buf, size_t *len)
{
    uint8_t k[KEY_BLOCK_LEN];
    struct kv_buf v = {0};
    int rc = kv_get(fs->kv, snap, k, key_block(k, ino, bno), &v);
    *len = 0;
    if (rc == -ENOENT) return 0;
    if (rc) return rc;
    if (v.size > fs->block_size) {
        rc = -EUCLEAN;
    } else {
        memcpy(buf, v.data, v.size);
        *len = v.size;
    }
    kv_buf_free(&v);
    return rc;
}

static int block_put(struct kv_batch *b, uint64_t ino, uint64_t bno, const void *data, size_t len)
{
    uint8_t k[KEY_BLOCK_LEN];
    key_block(k, ino, bno);
    if (len == 0) return kv_batch_delete(b, k, sizeof(k));
    return kv_batch_put(b, k, sizeof(k), data, len);
}

/* Deletes blocks [from, infinity) of ino with one range delete. */
static int blocks_drop_from(struct kv_batch *b, uint64_t ino, uint64_t from)
{
    uint8_t s[KEY_BLOCK_LEN], e[KEY_INO_LEN];
    key_block(s, ino, from);
    key_prefix(e, KEY_BLOCK, ino + 1);
    return kv_batch_delete_range(b, s, sizeof(s), e, sizeof(e));
}

/* Zeroes [lo, hi) inside block bno (offsets within the block), trimming the
 * block when the zeroed part reaches its end. */
static int block_zero(struct lsmerfs *fs, struct kv_batch *b, uint64_t ino, uint64_t bno, size_t lo,
                      size_t hi, uint8_t *scratch)
{
    size_t len;
    int rc = block_get(fs, NULL, ino, bno, scratch, &len);
    if (rc || lo >= len) return rc;
    if (hi >= len) return block_put(b, ino, bno, scratch, lo);
    memset(scratch + lo, 0, hi - lo);
    return block_put(b, ino, bno, scratch, len);
}

int fs_truncate_locked(struct lsmerfs *fs, struct kv_batch *b, uint64_t ino, struct fs_inode *in,
                       uint64_t size)
{
    const uint64_t bs = fs->block_size;
    int rc = 0;
    if (size > FS_MAX_FILE_SIZE) return -EFBIG;
    if (in->flags & FS_IFLAG_INLINE) {
        if (size <= fs->inline_max) {
            if (size < in->inline_len) in->inline_len = (uint32_t)size;
        } else {
            /* outgrows the inode: its bytes become block 0 */
            rc = block_put(b, ino, 0, in->inline_data, in->inline_len);
            in->flags &= ~FS_IFLAG_INLINE;
            in->inline_len = 0;
        }
        in->size = size;
        return rc;
    }
    if (size == 0) {
        rc = blocks_drop_from(b, ino, 0);
        in->flags |= FS_IFLAG_INLINE;
        in->inline_len = 0;
        in->size = 0;
        return rc;
    }
    if (size < in->size) {
        uint64_t keep = (size + bs - 1) / bs; /* blocks [0, keep) survive */
        if (keep * bs < in->size) rc = blocks_drop_from(b, ino, keep);
        if (rc == 0 && size % bs) {
            uint8_t *scratch = malloc(bs);
            if (!scratch) return -ENOMEM;
            rc = block_zero(fs, b, ino, size / bs, size % bs, bs, scratch);
            free(scratch);
        }
    }
    if (rc == 0) in->size = size;
    return rc;
}

int fs_open_file(struct lsmerfs *fs, uint64_t ino, int flags, const struct fs_ctx *ctx,
                 uint64_t *fh)
{
    struct fs_locks l;
    struct kv_batch *b = NULL;
    int mode_changed = 0;
    struct fs_inode *in = malloc(sizeof(*in));
    if (!in) return -ENOMEM;
    fs_lock_inos(fs, &l, &ino, 1);
    int rc = fs_inode_get(fs, NULL, ino, in);
    if (rc) goto out;
    if (S_ISDIR(in->mode) && (flags & O_ACCMODE) != O_RDONLY) {
        rc = -EISDIR;
        goto out;
    }
    /* O_RDONLY|O_TRUNC truncates too, as on Linux: the kernel has checked
     * write permission and already set its own size to 0. */
    if ((flags & O_TRUNC) && S_ISREG(in->mode)) {
        rc = kv_batch_new(&b);
        if (rc) goto out;
        rc = fs_truncate_locked(fs, b, ino, in, 0);
        if (rc) goto out;
        if (!fs_kernel_cmtime_on(fs)) in->mtime_ns = in->ctime_ns = fs_now_ns();
        uint32_t mode = in->mode;
        fs_kill_suid(in, ctx);
        mode_changed = in->mode != mode;
        rc = fs_kill_caps(fs, b, ino, in);
        if (rc == 0) rc = fs_inode_put(b, ino, in);
        if (rc == 0) rc = kv_commit(fs->kv, b, 0);
        if (rc) goto out;
        fs_space_freed(fs);
    }
    rc = fs_node_get(fs, ino, 0, 1);
    if (rc) goto out;
    *fh = 0;
    if ((flags & O_ACCMODE) != O_RDONLY) {
        fs_node_writer(fs, ino, 1);
        *fh = FS_FH_WRITE;
    }
out:
    fs_unlock_inos(fs, &l);
    kv_batch_free(b);
    free(in);
    if (rc == 0 && mode_changed && fs->attr_changed) fs->attr_changed(fs->attr_changed_arg, ino);
    return rc;
}

int fs_release(struct lsmerfs *fs, uint64_t ino, uint64_t fh)
{
    struct fs_locks l;
    int rc = 0;
    fs_lock_inos(fs, &l, &ino, 1);
    if (fh & FS_FH_WRITE) fs_node_writer(fs, ino, -1);
    if (fs_node_put(fs, ino, 0, 1)) rc = fs_reclaim_if_unlinked(fs, ino);
    fs_unlock_inos(fs, &l);
    return rc;
}

int fs_read(struct lsmerfs *fs, uint64_t ino, uint64_t fh, void *buf, size_t size, off_t off,
            size_t *nread)
{
    (void)fh;
    const uint64_t bs = fs->block_size;
    struct kv_iter *it = NULL;
    struct fs_inode *in = malloc(sizeof(*in));
    if (!in) return -ENOMEM;
    *nread = 0;
    const struct kv_snap *snap = kv_snap_new(fs->kv);
    int rc = snap ? fs_inode_get(fs, snap, ino, in) : -ENOMEM;
    if (rc) goto out;
    if (S_ISDIR(in->mode)) {
        rc = -EISDIR;
        goto out;
    }
    if (!S_ISREG(in->mode)) {
        rc = -EINVAL;
        goto out;
    }
    if (off < 0) {
        rc = -EINVAL;
        goto out;
    }
    if ((uint64_t)off >= in->size || size == 0) goto out;
    uint64_t n = in->size - (uint64_t)off;
    if (n > size) n = size;
    uint8_t *dst = buf;
    memset(dst, 0, n);
    if (in->flags & FS_IFLAG_INLINE) {
        if ((uint64_t)off < in->inline_len) {
            uint64_t m = in->inline_len - (uint64_t)off;
            memcpy(dst, in->inline_data + off, m < n ? m : n);
        }
        *nread = n;
        goto out;
    }
    uint64_t first = (uint64_t)off / bs, last = ((uint64_t)off + n - 1) / bs;
    uint8_t s[KEY_BLOCK_LEN], e[KEY_BLOCK_LEN];
    key_block(s, ino, first);
    key_block(e, ino, last + 1);
    rc = kv_iter_open(fs->kv, snap, s, sizeof(s), e, sizeof(e), &it);
    if (rc) goto out;
    for (; kv_iter_valid(it); kv_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = kv_iter_key(it, &klen);
        const void *v;
        uint64_t kino, bno;
        rc = key_parse_block(k, klen, &kino, &bno);
        if (rc == 0) rc = kv_iter_value(it, &v, &vlen);
        if (rc == 0 && vlen > bs) rc = -EUCLEAN;
        if (rc) goto out;
        /* overlap of [off, off+n) with the block's stored bytes */
        uint64_t bstart = bno * bs;
        uint64_t lo = bstart > (uint64_t)off ? bstart : (uint64_t)off;
        uint64_t hi = bstart + vlen;
        if (hi > (uint64_t)off + n) hi = (uint64_t)off + n;
        if (lo < hi)
            memcpy(dst + (lo - (uint64_t)off), (const uint8_t *)v + (lo - bstart), hi - lo);
    }
    rc = kv_iter_status(it);
    if (rc == 0) *nread = n;
out:
    kv_iter_close(it);
    kv_snap_release(fs->kv, snap);
    free(in);
    return rc;
}

int fs_write(struct lsmerfs *fs, uint64_t ino, uint64_t fh, const void *buf, size_t size, off_t off,
             const struct fs_ctx *ctx, size_t *nwritten)
{
    (void)fh;
    const uint64_t bs = fs->block_size;
    struct fs_locks l;
    struct kv_batch *b = NULL;
    uint8_t *scratch = NULL;
    int mode_changed = 0;
    struct fs_inode *in = malloc(sizeof(*in));
    if (!in) return -ENOMEM;
    *nwritten = 0;
    if (off < 0) {
        free(in);
        return -EINVAL;
    }
    if ((uint64_t)off > FS_MAX_FILE_SIZE - size) {
        free(in);
        return -EFBIG;
    }
    int rc = fs_space_check(fs, size);
    if (rc) {
        free(in);
        return rc;
    }
    fs_lock_inos(fs, &l, &ino, 1);
    rc = fs_inode_get(fs, NULL, ino, in);
    if (rc) goto out;
    if (S_ISDIR(in->mode)) {
        rc = -EISDIR;
        goto out;
    }
    if (!S_ISREG(in->mode)) {
        rc = -EINVAL;
        goto out;
    }
    if (size == 0) goto out;
    rc = kv_batch_new(&b);
    if (rc) goto out;
    const uint8_t *src = buf;
    uint64_t start = (uint64_t)off, end = start + size;
    uint64_t newsize = end > in->size ? end : in->size;

    if ((in->flags & FS_IFLAG_INLINE) && newsize <= fs->inline_max) {
        if (start > in->inline_len)
            memset(in->inline_data + in->inline_len, 0, start - in->inline_len);
        memcpy(in->inline_data + start, src, size);
        if (end > in->inline_len) in->inline_len = (uint32_t)end;
    } else {
        scratch = malloc(bs);
        if (!scratch) {
            rc = -ENOMEM;
            goto out;
        }
        /* An inline file becomes blocks: its bytes are block 0's old
         * content, which the loop below merges with the new data. */
        int converting = (in->flags & FS_IFLAG_INLINE) != 0;
        if (converting) {
            in->flags &= ~FS_IFLAG_INLINE;
            if (start >= bs && in->inline_len > 0)
                rc = block_put(b, ino, 0, in->inline_data, in->inline_len);
            if (rc) goto out;
        }
        for (uint64_t bno = start / bs; bno <= (end - 1) / bs; bno++) {
            uint64_t bstart = bno * bs;
            size_t lo = (size_t)((start > bstart ? start : bstart) - bstart);
            size_t hi = (size_t)((end < bstart + bs ? end : bstart + bs) - bstart);
            const uint8_t *piece = src + (bstart + lo - start);
            if (lo == 0 && hi == bs) {
                rc = block_put(b, ino, bno, piece, bs);
            } else {
                size_t len = 0;
                if (converting && bno == 0) {
                    memcpy(scratch, in->inline_data, in->inline_len);
                    len = in->inline_len;
                } else {
                    rc = block_get(fs, NULL, ino, bno, scratch, &len);
                    if (rc) goto out;
                }
                if (lo > len) memset(scratch + len, 0, lo - len);
                memcpy(scratch + lo, piece, hi - lo);
                rc = block_put(b, ino, bno, scratch, hi > len ? hi : len);
            }
            if (rc) goto out;
        }
        in->inline_len = 0;
    }
    in->size = newsize;
    if (!fs_kernel_cmtime_on(fs)) in->mtime_ns = in->ctime_ns = fs_now_ns();
    uint32_t mode = in->mode;
    if (in->mode & (S_ISUID | S_ISGID)) fs_kill_suid(in, ctx);
    mode_changed = in->mode != mode;
    rc = fs_kill_caps(fs, b, ino, in);
    if (rc == 0) rc = fs_inode_put(b, ino, in);
    if (rc == 0) rc = kv_commit(fs->kv, b, 0);
    if (rc == 0) *nwritten = size;
out:
    fs_unlock_inos(fs, &l);
    kv_batch_free(b);
    free(scratch);
    free(in);
    if (rc == 0 && mode_changed && fs->attr_changed) fs->attr_changed(fs->attr_changed_arg, ino);
    return rc;
}

static int punch_hole(struct lsmerfs *fs, struct kv_batch *b, uint64_t ino, struct fs_inode *in,
                      uint64_t start, uint64_t end)
{
    const uint64_t bs = fs->block_size;
    if (end > in->size) end = in->size;
    if (start >= end) return 0;
    if (in->flags & FS_IFLAG_INLINE) {
        if (start < in->inline_len) {
            uint64_t hi = end < in->inline_len ? end : in->inline_len;
            if (hi == in->inline_len)
                in->inline_len = (uint32_t)start;
            else
                memset(in->inline_data + start, 0, hi - start);
        }
        return 0;
    }
    uint8_t *scratch = malloc(bs);
    if (!scratch) return -ENOMEM;
    int rc = 0;
    uint64_t first_full = (start + bs - 1) / bs, end_full = end / bs;
    if (first_full < end_full) {
        uint8_t s[KEY_BLOCK_LEN], e[KEY_BLOCK_LEN];
        key_block(s, ino, first_full);
        key_block(e, ino, end_full);
        rc = kv_batch_delete_range(b, s, sizeof(s), e, sizeof(e));
    }
    uint64_t sb = start / bs, eb = (end - 1) / bs;
    if (rc == 0 && (start % bs || (sb == eb && end % bs)))
        rc = block_zero(fs, b, ino, sb, start % bs, sb == eb ? end - sb * bs : bs, scratch);
    if (rc == 0 && eb != sb && end % bs) rc = block_zero(fs, b, ino, eb, 0, end % bs, scratch);
    free(scratch);
    return rc;
}

int fs_fallocate(struct lsmerfs *fs, uint64_t ino, int mode, off_t off, off_t len,
                 const struct fs_ctx *ctx)
{
    (void)ctx;
    if (off < 0 || len <= 0) return -EINVAL;
    if ((uint64_t)off > FS_MAX_FILE_SIZE - (uint64_t)len) return -EFBIG;
    int punch = mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
    if (mode != 0 && mode != FALLOC_FL_KEEP_SIZE && !punch) return -EOPNOTSUPP;
    struct fs_locks l;
    struct kv_batch *b = NULL;
    struct fs_inode *in = malloc(sizeof(*in));
    if (!in) return -ENOMEM;
    fs_lock_inos(fs, &l, &ino, 1);
    int rc = fs_inode_get(fs, NULL, ino, in);
    if (rc) goto out;
    if (S_ISDIR(in->mode)) {
        rc = -EISDIR;
        goto out;
    }
    if (!S_ISREG(in->mode)) {
        rc = -ENODEV;
        goto out;
    }
    rc = kv_batch_new(&b);
    if (rc) goto out;
    uint64_t end = (uint64_t)off + (uint64_t)len;
    int64_t now = fs_now_ns();
    int stamp = !fs_kernel_cmtime_on(fs);
    if (punch) {
        rc = punch_hole(fs, b, ino, in, (uint64_t)off, end);
        if (stamp) in->mtime_ns = in->ctime_ns = now;
    } else if (mode == 0 && end > in->size) {
        /* Space is not reserved (an LSM tree cannot promise it); the file
         * grows and the new range reads as zeros. Still refused when the
         * volume is down to the reserve, as growing a file is. */
        rc = fs_space_check(fs, 0);
        if (rc) goto out;
        rc = fs_truncate_locked(fs, b, ino, in, end);
        if (stamp) in->ctime_ns = now;
    } else {
        goto out; /* nothing changes */
    }
    if (rc == 0) rc = fs_inode_put(b, ino, in);
    if (rc == 0) rc = kv_commit(fs->kv, b, 0);
    if (rc == 0 && punch) fs_space_freed(fs);
out:
    fs_unlock_inos(fs, &l);
    kv_batch_free(b);
    free(in);
    return rc;
}

int fs_lseek(struct lsmerfs *fs, uint64_t ino, off_t off, int whence, off_t *out)
{
    const uint64_t bs = fs->block_size;
    if (whence != SEEK_DATA && whence != SEEK_HOLE) return -EINVAL;
    if (off < 0) return -ENXIO;
    struct kv_iter *it = NULL;
    struct fs_inode *in = malloc(sizeof(*in));
    if (!in) return -ENOMEM;
    const struct kv_snap *snap = kv_snap_new(fs->kv);
    int rc = snap ? fs_inode_get(fs, snap, ino, in) : -ENOMEM;
    if (rc) goto out;
    uint64_t pos = (uint64_t)off;
    if (pos >= in->size) {
        rc = -ENXIO;
        goto out;
    }
    if (!S_ISREG(in->mode) || (in->flags & FS_IFLAG_INLINE) || fs_node_writing(fs, ino)) {
        *out = whence == SEEK_DATA ? off : (off_t)in->size;
        goto out;
    }
    uint8_t s[KEY_BLOCK_LEN], e[KEY_INO_LEN];
    key_block(s, ino, pos / bs);
    key_prefix(e, KEY_BLOCK, ino + 1);
    rc = kv_iter_open(fs->kv, snap, s, sizeof(s), e, sizeof(e), &it);
    if (rc) goto out;
    uint64_t expect = pos / bs; /* SEEK_HOLE: the next block that must exist */
    for (; kv_iter_valid(it); kv_iter_next(it)) {
        size_t klen;
        const uint8_t *k = kv_iter_key(it, &klen);
        uint64_t kino, bno;
        rc = key_parse_block(k, klen, &kino, &bno);
        if (rc) goto out;
        if (whence == SEEK_DATA) {
            uint64_t at = bno * bs > pos ? bno * bs : pos;
            if (at >= in->size) break;
            *out = (off_t)at;
            goto out;
        }
        if (bno != expect) break;
        expect++;
        if (expect * bs >= in->size) break;
    }
    rc = kv_iter_status(it);
    if (rc) goto out;
    if (whence == SEEK_DATA) {
        rc = -ENXIO;
    } else {
        uint64_t at = expect * bs > pos ? expect * bs : pos;
        *out = (off_t)(at < in->size ? at : in->size);
    }
out:
    kv_iter_close(it);
    kv_snap_release(fs->kv, snap);
    free(in);
    return rc;
}
