/*
 * keys.h — how lsmerfs lays a filesystem out as keys and values. This is the
 * on-disk format of the filesystem (docs/fs.md describes it for readers).
 *
 * Keys. One tag byte, then big-endian integers so that all keys of one inode
 * sort together and a prefix scan returns them in order:
 *
 *   "S"                          superblock
 *   "i" ino                      inode
 *   "d" parent_ino name          directory entry -> child ino, type
 *   "b" ino block_no             one block of file data; a hole is no key
 *   "x" ino name                 extended attribute -> value bytes
 *   "o" ino                      orphan: nlink 0 but still open
 *
 * ino and block_no are 8 bytes big-endian; names are raw bytes, 1..255 of
 * them, not NUL-terminated. A block holds at most block_size bytes and may
 * be shorter (the rest of it reads as zeros); no block ever holds bytes at or
 * beyond the file's size.
 *
 * Values. Integers in values are little-endian and fixed width.
 *
 *   superblock: magic "LSMERFS1" (8), format u32, block_size u32,
 *               inline_max u32, uuid (16), ino_limit u64
 *     ino_limit: every inode number below it may have been handed out;
 *     after a restart numbers start at ino_limit, so none is reused.
 *   inode:      version u8 (=1), mode u32, uid u32, gid u32, nlink u32,
 *               flags u32, size u64, atime/mtime/ctime/btime i64 (ns since
 *               the epoch), rdev u64, generation u64, parent u64 (the
 *               parent of a directory; 0 for other types), inline_len u32,
 *               then inline_len bytes: the whole content of a small file
 *               (flag FS_IFLAG_INLINE) or the target of a symlink.
 *   dentry:     ino u64, type u8 (S_IFMT >> 12, i.e. a DT_* value)
 *
 * Decoding rejects anything that does not parse exactly with -EUCLEAN and a
 * newer format with -EPROTO; it never returns half-parsed data.
 *
 * Thread safety: pure functions on caller memory.
 */
#ifndef LSMERFS_KEYS_H
#define LSMERFS_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define FS_ROOT_INO 1u
#define FS_NAME_MAX 255u
#define FS_SYMLINK_MAX 4095u  /* PATH_MAX - 1 */
#ifndef FS_BLOCK_SIZE_DEFAULT /* -D for experiments */
#define FS_BLOCK_SIZE_DEFAULT (16u * 1024u)
#endif
#define FS_INLINE_MAX_DEFAULT 2048u
#define FS_INLINE_CAP 4096u /* inline buffer: symlink targets up to 4095 */
#define FS_FORMAT_VERSION 1u
#define FS_INODE_VERSION 1u

#define KEY_SUPER 'S'
#define KEY_INODE 'i'
#define KEY_DENTRY 'd'
#define KEY_BLOCK 'b'
#define KEY_XATTR 'x'
#define KEY_ORPHAN 'o'

#define KEY_INO_LEN 9u                       /* tag + ino */
#define KEY_BLOCK_LEN 17u                    /* tag + ino + block_no */
#define KEY_NAMED_MAX (9u + FS_NAME_MAX + 1) /* tag + ino + name */

/* Inode flags. */
#define FS_IFLAG_INLINE 1u    /* regular file: data lives in the inode value */
#define FS_IFLAG_HAS_XATTR 2u /* some "x" key may exist for this inode */

struct fs_inode {
    uint32_t mode; /* S_IFMT type bits + permission bits */
    uint32_t uid;
    uint32_t gid;
    uint32_t nlink;
    uint32_t flags; /* FS_IFLAG_* */
    uint64_t size;
    int64_t atime_ns, mtime_ns, ctime_ns, btime_ns;
    uint64_t rdev;
    uint64_t generation;
    uint64_t parent; /* directories: the parent's ino (root: itself) */
    uint32_t inline_len;
    uint8_t inline_data[FS_INLINE_CAP];
};

struct fs_super {
    uint32_t format;
    uint32_t block_size;
    uint32_t inline_max;
    uint8_t uuid[16];
    uint64_t ino_limit;
};

#define FS_SUPER_LEN (8 + 4 + 4 + 4 + 16 + 8)
#define FS_INODE_FIXED_LEN (1 + 5 * 4 + 8 + 4 * 8 + 3 * 8 + 4)

void keys_put_be64(uint8_t *p, uint64_t v);
uint64_t keys_get_be64(const uint8_t *p);

size_t key_super(uint8_t *k);
size_t key_inode(uint8_t *k, uint64_t ino);
size_t key_orphan(uint8_t *k, uint64_t ino);
/* tag + ino: the prefix of every dentry of dir ino (or xattr, block key of
 * ino with the matching tag). The end of that prefix range is
 * key_prefix(tag, ino + 1). */
size_t key_prefix(uint8_t *k, uint8_t tag, uint64_t ino);
size_t key_dentry(uint8_t *k, uint64_t parent, const char *name, size_t nlen);
size_t key_xattr(uint8_t *k, uint64_t ino, const char *name, size_t nlen);
size_t key_block(uint8_t *k, uint64_t ino, uint64_t block_no);

/* Splits a key of the given tag. -EUCLEAN if it has a different shape. */
int key_parse_named(const uint8_t *k, size_t klen, uint8_t tag, uint64_t *ino, const char **name,
                    size_t *nlen);
int key_parse_block(const uint8_t *k, size_t klen, uint64_t *ino, uint64_t *block_no);
int key_parse_ino(const uint8_t *k, size_t klen, uint8_t tag, uint64_t *ino);

/* Encodes into buf (at least FS_INODE_FIXED_LEN + FS_INLINE_CAP bytes);
 * returns the length. */
size_t inode_encode(const struct fs_inode *in, uint8_t *buf);
int inode_decode(const void *val, size_t len, struct fs_inode *out);

void super_encode(const struct fs_super *s, uint8_t *buf); /* FS_SUPER_LEN bytes */
int super_decode(const void *val, size_t len, struct fs_super *out);

#define DENTRY_VAL_LEN 9u
void dentry_encode(uint64_t ino, uint8_t type, uint8_t *buf);
int dentry_decode(const void *val, size_t len, uint64_t *ino, uint8_t *type);

#endif
