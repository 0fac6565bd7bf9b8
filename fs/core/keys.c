/* keys.c — key and value encodings of lsmerfs (format in keys.h). */
#include "keys.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static const uint8_t super_magic[8] = {'L', 'S', 'M', 'E', 'R', 'F', 'S', '1'};

void keys_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t keys_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}

static uint8_t *put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
    return p + 4;
}

static uint8_t *put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
    return p + 8;
}

static uint32_t get_le32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

size_t key_super(uint8_t *k)
{
    k[0] = KEY_SUPER;
    return 1;
}

size_t key_prefix(uint8_t *k, uint8_t tag, uint64_t ino)
{
    k[0] = tag;
    keys_put_be64(k + 1, ino);
    return KEY_INO_LEN;
}

size_t key_inode(uint8_t *k, uint64_t ino)
{
    return key_prefix(k, KEY_INODE, ino);
}

size_t key_orphan(uint8_t *k, uint64_t ino)
{
    return key_prefix(k, KEY_ORPHAN, ino);
}

static size_t key_named(uint8_t *k, uint8_t tag, uint64_t ino, const char *name, size_t nlen)
{
    key_prefix(k, tag, ino);
    memcpy(k + KEY_INO_LEN, name, nlen);
    return KEY_INO_LEN + nlen;
}

size_t key_dentry(uint8_t *k, uint64_t parent, const char *name, size_t nlen)
{
    return key_named(k, KEY_DENTRY, parent, name, nlen);
}

size_t key_xattr(uint8_t *k, uint64_t ino, const char *name, size_t nlen)
{
    return key_named(k, KEY_XATTR, ino, name, nlen);
}

size_t key_block(uint8_t *k, uint64_t ino, uint64_t block_no)
{
    key_prefix(k, KEY_BLOCK, ino);
    keys_put_be64(k + KEY_INO_LEN, block_no);
    return KEY_BLOCK_LEN;
}

int key_parse_named(const uint8_t *k, size_t klen, uint8_t tag, uint64_t *ino, const char **name,
                    size_t *nlen)
{
    if (klen <= KEY_INO_LEN || klen > KEY_INO_LEN + FS_NAME_MAX || k[0] != tag) return -EUCLEAN;
    *ino = keys_get_be64(k + 1);
    *name = (const char *)k + KEY_INO_LEN;
    *nlen = klen - KEY_INO_LEN;
    return 0;
}

int key_parse_block(const uint8_t *k, size_t klen, uint64_t *ino, uint64_t *block_no)
{
    if (klen != KEY_BLOCK_LEN || k[0] != KEY_BLOCK) return -EUCLEAN;
    *ino = keys_get_be64(k + 1);
    *block_no = keys_get_be64(k + KEY_INO_LEN);
    return 0;
}

int key_parse_ino(const uint8_t *k, size_t klen, uint8_t tag, uint64_t *ino)
{
    if (klen != KEY_INO_LEN || k[0] != tag) return -EUCLEAN;
    *ino = keys_get_be64(k + 1);
    return 0;
}

size_t inode_encode(const struct fs_inode *in, uint8_t *buf)
{
    uint8_t *p = buf;
    *p++ = FS_INODE_VERSION;
    p = put_le32(p, in->mode);
    p = put_le32(p, in->uid);
    p = put_le32(p, in->gid);
    p = put_le32(p, in->nlink);
    p = put_le32(p, in->flags);
    p = put_le64(p, in->size);
    p = put_le64(p, (uint64_t)in->atime_ns);
    p = put_le64(p, (uint64_t)in->mtime_ns);
    p = put_le64(p, (uint64_t)in->ctime_ns);
    p = put_le64(p, (uint64_t)in->btime_ns);
    p = put_le64(p, in->rdev);
    p = put_le64(p, in->generation);
    p = put_le64(p, in->parent);
    uint32_t n = in->inline_len <= FS_INLINE_CAP ? in->inline_len : FS_INLINE_CAP;
    p = put_le32(p, n);
    memcpy(p, in->inline_data, n);
    return (size_t)(p - buf) + n;
}

int inode_decode(const void *val, size_t len, struct fs_inode *out)
{
    const uint8_t *p = val;
    if (len < 1) return -EUCLEAN;
    if (p[0] > FS_INODE_VERSION) return -EPROTO;
    if (p[0] != FS_INODE_VERSION || len < FS_INODE_FIXED_LEN) return -EUCLEAN;
    p++;
    out->mode = get_le32(p);
    out->uid = get_le32(p + 4);
    out->gid = get_le32(p + 8);
    out->nlink = get_le32(p + 12);
    out->flags = get_le32(p + 16);
    p += 20;
    out->size = get_le64(p);
    out->atime_ns = (int64_t)get_le64(p + 8);
    out->mtime_ns = (int64_t)get_le64(p + 16);
    out->ctime_ns = (int64_t)get_le64(p + 24);
    out->btime_ns = (int64_t)get_le64(p + 32);
    out->rdev = get_le64(p + 40);
    out->generation = get_le64(p + 48);
    out->parent = get_le64(p + 56);
    p += 64;
    uint32_t n = get_le32(p);
    p += 4;
    if (n > FS_INLINE_CAP || len != FS_INODE_FIXED_LEN + (size_t)n) return -EUCLEAN;
    if ((out->flags & FS_IFLAG_INLINE) && n > out->size) return -EUCLEAN;
    memcpy(out->inline_data, p, n);
    out->inline_len = n;
    return 0;
}

void super_encode(const struct fs_super *s, uint8_t *buf)
{
    uint8_t *p = buf;
    memcpy(p, super_magic, 8);
    p += 8;
    p = put_le32(p, s->format);
    p = put_le32(p, s->block_size);
    p = put_le32(p, s->inline_max);
    memcpy(p, s->uuid, 16);
    p += 16;
    put_le64(p, s->ino_limit);
}

int super_decode(const void *val, size_t len, struct fs_super *out)
{
    const uint8_t *p = val;
    if (len < 12 || memcmp(p, super_magic, 8) != 0) return -EUCLEAN;
    out->format = get_le32(p + 8);
    if (out->format > FS_FORMAT_VERSION) return -EPROTO;
    if (len != FS_SUPER_LEN) return -EUCLEAN;
    out->block_size = get_le32(p + 12);
    out->inline_max = get_le32(p + 16);
    memcpy(out->uuid, p + 20, 16);
    out->ino_limit = get_le64(p + 36);
    /* block size: a power of two from 4 KiB to 1 MiB */
    if (out->block_size < 4096 || out->block_size > (1u << 20) ||
        (out->block_size & (out->block_size - 1)) != 0)
        return -EUCLEAN;
    if (out->inline_max > FS_INLINE_CAP || out->ino_limit <= FS_ROOT_INO) return -EUCLEAN;
    return 0;
}

void dentry_encode(uint64_t ino, uint8_t type, uint8_t *buf)
{
    put_le64(buf, ino);
    buf[8] = type;
}

int dentry_decode(const void *val, size_t len, uint64_t *ino, uint8_t *type)
{
    const uint8_t *p = val;
    if (len != DENTRY_VAL_LEN) return -EUCLEAN;
    *ino = get_le64(p);
    *type = p[8];
    if (*ino == 0) return -EUCLEAN;
    return 0;
}
