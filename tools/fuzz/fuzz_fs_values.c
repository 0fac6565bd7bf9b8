/*
 * fuzz_fs_values.c — fuzz target: the bytes are a value or key of the
 * filesystem's key schema as the store could hand it back after damage:
 * an inode, the superblock, a dentry, a named / block / inode key, or a
 * POSIX ACL xattr (the first byte picks which). Decoding must refuse what
 * does not parse exactly (lsmerfs then answers -EIO) and never read past
 * the value; what it accepts must encode back to bytes that decode to the
 * same thing.
 */
#include <stdlib.h>
#include <string.h>

#include "fs_acl.h"
#include "fuzz.h"
#include "keys.h"

static uint8_t enc1[FS_INODE_FIXED_LEN + FS_INLINE_CAP], enc2[sizeof(enc1)];

static void inode_roundtrip(const uint8_t *p, size_t n)
{
    static struct fs_inode a, b;
    if (inode_decode(p, n, &a) != 0) return;
    size_t n1 = inode_encode(&a, enc1);
    if (inode_decode(enc1, n1, &b) != 0) abort();
    size_t n2 = inode_encode(&b, enc2);
    if (n1 != n2 || memcmp(enc1, enc2, n1) != 0) abort();
}

static void super_roundtrip(const uint8_t *p, size_t n)
{
    struct fs_super a, b;
    if (super_decode(p, n, &a) != 0) return;
    super_encode(&a, enc1);
    if (super_decode(enc1, FS_SUPER_LEN, &b) != 0) abort();
    super_encode(&b, enc2);
    if (memcmp(enc1, enc2, FS_SUPER_LEN) != 0) abort();
}

static void dentry_roundtrip(const uint8_t *p, size_t n)
{
    uint64_t ino, ino2;
    uint8_t type, type2;
    if (dentry_decode(p, n, &ino, &type) != 0) return;
    dentry_encode(ino, type, enc1);
    if (dentry_decode(enc1, DENTRY_VAL_LEN, &ino2, &type2) != 0) abort();
    if (ino != ino2 || type != type2) abort();
}

static void keys(const uint8_t *p, size_t n)
{
    static const uint8_t tags[] = {KEY_DENTRY, KEY_XATTR, KEY_INODE, KEY_ORPHAN, KEY_BLOCK};
    for (size_t t = 0; t < sizeof(tags); t++) {
        uint64_t ino;
        const char *name;
        size_t nlen;
        if (key_parse_named(p, n, tags[t], &ino, &name, &nlen) == 0) {
            /* the name lies inside the key */
            if (name < (const char *)p || name + nlen > (const char *)p + n) abort();
        }
        (void)key_parse_ino(p, n, tags[t], &ino);
    }
    uint64_t ino, blk;
    if (key_parse_block(p, n, &ino, &blk) == 0) {
        size_t kn = key_block(enc1, ino, blk);
        if (kn != n || memcmp(enc1, p, n) != 0) abort(); /* one encoding only */
    }
}

static void acl_roundtrip(const uint8_t *p, size_t n)
{
    struct fs_acl *a = NULL, *b = NULL;
    if (fs_acl_parse(p, n, &a) != 0 || !a) return;
    size_t n1 = fs_acl_xattr_size(a);
    uint8_t *x = malloc(n1), *y = NULL;
    if (!x) abort();
    fs_acl_encode(a, x);
    if (fs_acl_parse(x, n1, &b) != 0 || !b) abort();
    size_t n2 = fs_acl_xattr_size(b);
    if (n2 != n1 || !(y = malloc(n2))) abort();
    fs_acl_encode(b, y);
    if (memcmp(x, y, n1) != 0) abort();
    free(x);
    free(y);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] % 5) {
    case 0:
        inode_roundtrip(p, n);
        break;
    case 1:
        super_roundtrip(p, n);
        break;
    case 2:
        dentry_roundtrip(p, n);
        break;
    case 3:
        keys(p, n);
        break;
    default:
        acl_roundtrip(p, n);
        break;
    }
    return 0;
}

/* Adds a seed that must decode: the round trips above start from it. */
static void add_with(fuzz_add_fn add, void *arg, uint8_t selector, const uint8_t *p, size_t n)
{
    static struct fs_inode in;
    struct fs_super su;
    struct fs_acl *acl = NULL;
    uint64_t ino, blk;
    uint8_t type;
    const char *name;
    size_t nlen;
    int ok = selector == 0   ? inode_decode(p, n, &in) == 0
             : selector == 1 ? super_decode(p, n, &su) == 0
             : selector == 2 ? dentry_decode(p, n, &ino, &type) == 0
             : selector == 3 ? key_parse_named(p, n, p[0], &ino, &name, &nlen) == 0 ||
                                   key_parse_block(p, n, &ino, &blk) == 0 ||
                                   key_parse_ino(p, n, p[0], &ino) == 0
                             : fs_acl_parse(p, n, &acl) == 0 && acl;
    free(acl);
    if (!ok) abort(); /* a seed the decoder refuses tests nothing */
    uint8_t *buf = malloc(n + 1);
    if (!buf) return;
    buf[0] = selector;
    memcpy(buf + 1, p, n);
    add(arg, buf, n + 1);
    free(buf);
}

void fuzz_seed_inputs(fuzz_add_fn add, void *arg)
{
    static struct fs_inode in;
    memset(&in, 0, sizeof(in));
    in.mode = 0100644;
    in.nlink = 1;
    in.size = 5;
    in.flags = FS_IFLAG_INLINE;
    in.inline_len = 5;
    memcpy(in.inline_data, "hello", 5);
    in.mtime_ns = 1700000000123456789;
    add_with(add, arg, 0, enc1, inode_encode(&in, enc1));
    in.mode = 040755;
    in.flags = 0;
    in.inline_len = 0;
    in.parent = 1;
    add_with(add, arg, 0, enc1, inode_encode(&in, enc1));
    struct fs_super s = {1, 16384, 4096, {1, 2, 3}, 1000};
    super_encode(&s, enc1);
    add_with(add, arg, 1, enc1, FS_SUPER_LEN);
    dentry_encode(42, 8, enc1);
    add_with(add, arg, 2, enc1, DENTRY_VAL_LEN);
    add_with(add, arg, 3, enc1, key_dentry(enc1, 7, "name.txt", 8));
    add_with(add, arg, 3, enc1, key_block(enc1, 7, 3));
    add_with(add, arg, 3, enc1, key_inode(enc1, 7));
    /* an access ACL with a named user and a mask, as setfacl writes it */
    static const uint8_t acl[] = {
        2,    0, 0, 0,                         /* version */
        1,    0, 6, 0, 0xff, 0xff, 0xff, 0xff, /* USER_OBJ rw- */
        2,    0, 4, 0, 0xe8, 0x03, 0,    0,    /* USER 1000 r-- */
        4,    0, 4, 0, 0xff, 0xff, 0xff, 0xff, /* GROUP_OBJ r-- */
        0x10, 0, 4, 0, 0xff, 0xff, 0xff, 0xff, /* MASK r-- */
        0x20, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, /* OTHER --- */
    };
    add_with(add, arg, 4, acl, sizeof(acl));
}
