/*
 * fs_acl.c — POSIX ACLs: the xattr form, the mode rules, and their use on
 * inodes (see fs_acl.h).
 */
#include "fs_acl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"

enum fs_acl_kind fs_acl_kind(const char *name)
{
    if (strcmp(name, FS_ACL_ACCESS_NAME) == 0) return FS_ACL_ACCESS;
    if (strcmp(name, FS_ACL_DEFAULT_NAME) == 0) return FS_ACL_DEFAULT;
    return FS_ACL_NONE;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static struct fs_acl *acl_alloc(size_t count)
{
    struct fs_acl *a = malloc(sizeof(*a) + count * sizeof(a->e[0]));
    if (a) a->count = count;
    return a;
}

/* The entry order acl(5) and the kernel require; named entries may repeat. */
static int acl_valid(const struct fs_acl *a)
{
    enum { WANT_USER_OBJ, IN_USERS, IN_GROUPS, AFTER_MASK, DONE } state = WANT_USER_OBJ;
    int named = 0;
    for (size_t i = 0; i < a->count; i++) {
        const struct fs_acl_entry *e = &a->e[i];
        if (e->perm & ~7u) return -EINVAL;
        switch (e->tag) {
        case FS_ACL_USER_OBJ:
            if (state != WANT_USER_OBJ) return -EINVAL;
            state = IN_USERS;
            break;
        case FS_ACL_USER:
        case FS_ACL_GROUP:
            if (state != (e->tag == FS_ACL_USER ? IN_USERS : IN_GROUPS)) return -EINVAL;
            if (e->id == FS_ACL_UNDEFINED_ID) return -EINVAL;
            named = 1;
            break;
        case FS_ACL_GROUP_OBJ:
            if (state != IN_USERS) return -EINVAL;
            state = IN_GROUPS;
            break;
        case FS_ACL_MASK:
            if (state != IN_GROUPS) return -EINVAL;
            state = AFTER_MASK;
            break;
        case FS_ACL_OTHER:
            /* named entries need a mask to bound them */
            if (state != AFTER_MASK && (state != IN_GROUPS || named)) return -EINVAL;
            state = DONE;
            break;
        default:
            return -EINVAL;
        }
    }
    return state == DONE ? 0 : -EINVAL;
}

int fs_acl_parse(const void *value, size_t size, struct fs_acl **out)
{
    *out = NULL;
    const uint8_t *p = value;
    if (!value || size < FS_ACL_HEADER_LEN || (size - FS_ACL_HEADER_LEN) % FS_ACL_ENTRY_LEN)
        return -EINVAL;
    if (get32(p) != FS_ACL_VERSION) return -EINVAL;
    size_t count = (size - FS_ACL_HEADER_LEN) / FS_ACL_ENTRY_LEN;
    if (count == 0) return 0;
    struct fs_acl *a = acl_alloc(count);
    if (!a) return -ENOMEM;
    p += FS_ACL_HEADER_LEN;
    for (size_t i = 0; i < count; i++, p += FS_ACL_ENTRY_LEN) {
        a->e[i].tag = get16(p);
        a->e[i].perm = get16(p + 2);
        a->e[i].id = get32(p + 4);
        if (a->e[i].tag != FS_ACL_USER && a->e[i].tag != FS_ACL_GROUP)
            a->e[i].id = FS_ACL_UNDEFINED_ID;
    }
    int rc = acl_valid(a);
    if (rc) {
        free(a);
        return rc;
    }
    *out = a;
    return 0;
}

size_t fs_acl_xattr_size(const struct fs_acl *acl)
{
    return FS_ACL_HEADER_LEN + acl->count * FS_ACL_ENTRY_LEN;
}

void fs_acl_encode(const struct fs_acl *acl, void *buf)
{
    uint8_t *p = buf;
    put32(p, FS_ACL_VERSION);
    p += FS_ACL_HEADER_LEN;
    for (size_t i = 0; i < acl->count; i++, p += FS_ACL_ENTRY_LEN) {
        const struct fs_acl_entry *e = &acl->e[i];
        int named = e->tag == FS_ACL_USER || e->tag == FS_ACL_GROUP;
        put16(p, e->tag);
        put16(p + 2, e->perm);
        put32(p + 4, named ? e->id : FS_ACL_UNDEFINED_ID);
    }
}

struct fs_acl *fs_acl_dup(const struct fs_acl *acl)
{
    struct fs_acl *a = acl_alloc(acl->count);
    if (a) memcpy(a->e, acl->e, acl->count * sizeof(a->e[0]));
    return a;
}

static struct fs_acl_entry *find_tag(struct fs_acl *a, uint16_t tag)
{
    for (size_t i = 0; i < a->count; i++)
        if (a->e[i].tag == tag) return &a->e[i];
    return NULL;
}

int fs_acl_mode_bits(const struct fs_acl *acl, mode_t *perm)
{
    struct fs_acl *a = (struct fs_acl *)acl; /* find_tag only reads here */
    const struct fs_acl_entry *u = find_tag(a, FS_ACL_USER_OBJ), *g = find_tag(a, FS_ACL_GROUP_OBJ),
                              *m = find_tag(a, FS_ACL_MASK), *o = find_tag(a, FS_ACL_OTHER);
    mode_t bits = 0;
    if (u) bits |= (mode_t)(u->perm & 7u) << 6;
    if (m)
        bits |= (mode_t)(m->perm & 7u) << 3;
    else if (g)
        bits |= (mode_t)(g->perm & 7u) << 3;
    if (o) bits |= (mode_t)(o->perm & 7u);
    *perm = bits;
    /* a valid ACL without a mask has no named entries */
    return m == NULL;
}

void fs_acl_chmod(struct fs_acl *acl, mode_t mode)
{
    struct fs_acl_entry *u = find_tag(acl, FS_ACL_USER_OBJ), *m = find_tag(acl, FS_ACL_MASK),
                        *o = find_tag(acl, FS_ACL_OTHER);
    struct fs_acl_entry *g = m ? m : find_tag(acl, FS_ACL_GROUP_OBJ);
    if (u) u->perm = (uint16_t)((mode >> 6) & 7u);
    if (g) g->perm = (uint16_t)((mode >> 3) & 7u);
    if (o) o->perm = (uint16_t)(mode & 7u);
}

int fs_acl_inherit(const struct fs_acl *dflt, mode_t *mode, struct fs_acl **access)
{
    *access = NULL;
    struct fs_acl *a = fs_acl_dup(dflt);
    if (!a) return -ENOMEM;
    struct fs_acl_entry *u = find_tag(a, FS_ACL_USER_OBJ), *m = find_tag(a, FS_ACL_MASK),
                        *o = find_tag(a, FS_ACL_OTHER);
    struct fs_acl_entry *g = m ? m : find_tag(a, FS_ACL_GROUP_OBJ);
    /* Each class entry keeps only what the create mode grants, and the
     * mode only what the entry grants: the result is their intersection. */
    mode_t want = *mode & 0777, got = 0;
    struct {
        struct fs_acl_entry *e;
        int shift;
    } cls[3] = {{u, 6}, {g, 3}, {o, 0}};
    for (int i = 0; i < 3; i++) {
        if (!cls[i].e) continue;
        cls[i].e->perm &= (uint16_t)((want >> cls[i].shift) & 7u);
        got |= (mode_t)cls[i].e->perm << cls[i].shift;
    }
    *mode = (*mode & ~(mode_t)0777) | got;
    if (m) {
        *access = a; /* a mask (so maybe named entries): not expressible as a mode */
    } else {
        free(a);
    }
    return 0;
}

/* ---- on inodes --------------------------------------------------------- */

void fs_set_posix_acl(struct lsmerfs *fs, int on)
{
    atomic_store(&fs->posix_acl, on ? 1 : 0);
}

int fs_posix_acl_on(struct lsmerfs *fs)
{
    return atomic_load(&fs->posix_acl);
}

static const char *kind_name(enum fs_acl_kind kind)
{
    return kind == FS_ACL_ACCESS ? FS_ACL_ACCESS_NAME : FS_ACL_DEFAULT_NAME;
}

int fs_acl_load(struct lsmerfs *fs, uint64_t ino, const struct fs_inode *in, enum fs_acl_kind kind,
                struct fs_acl **out)
{
    *out = NULL;
    if (!(in->flags & FS_IFLAG_HAS_XATTR)) return 0;
    const char *name = kind_name(kind);
    uint8_t k[KEY_NAMED_MAX];
    struct kv_buf v = {0};
    int rc = kv_get(fs->kv, NULL, k, key_xattr(k, ino, name, strlen(name)), &v);
    if (rc == -ENOENT) return 0;
    if (rc) return rc;
    rc = fs_acl_parse(v.data, v.size, out);
    if (rc == -EINVAL) {
        fs_logf(fs, 0, "inode %llu: stored %s does not parse", (unsigned long long)ino, name);
        rc = -EIO;
    }
    kv_buf_free(&v);
    return rc;
}

int fs_acl_store(struct kv_batch *b, uint64_t ino, struct fs_inode *in, enum fs_acl_kind kind,
                 const struct fs_acl *acl)
{
    const char *name = kind_name(kind);
    uint8_t k[KEY_NAMED_MAX];
    size_t klen = key_xattr(k, ino, name, strlen(name));
    if (!acl) return kv_batch_delete(b, k, klen);
    size_t n = fs_acl_xattr_size(acl);
    uint8_t *v = malloc(n);
    if (!v) return -ENOMEM;
    fs_acl_encode(acl, v);
    int rc = kv_batch_put(b, k, klen, v, n);
    free(v);
    if (rc == 0) in->flags |= FS_IFLAG_HAS_XATTR;
    return rc;
}

int fs_acl_set_locked(struct lsmerfs *fs, struct kv_batch *b, uint64_t ino, struct fs_inode *in,
                      enum fs_acl_kind kind, const void *value, size_t size,
                      const struct fs_ctx *ctx)
{
    (void)fs;
    if (S_ISLNK(in->mode)) return -EOPNOTSUPP;
    if (kind == FS_ACL_DEFAULT && !S_ISDIR(in->mode)) return value ? -EACCES : -ENODATA;
    struct fs_acl *acl = NULL;
    if (value) {
        int rc = fs_acl_parse(value, size, &acl);
        if (rc) return rc;
    }
    if (acl && kind == FS_ACL_ACCESS) {
        mode_t perm;
        if (fs_acl_mode_bits(acl, &perm)) {
            /* the mode says it all: keep no ACL */
            free(acl);
            acl = NULL;
        }
        in->mode = (in->mode & ~0777u) | (uint32_t)perm;
        /* as the kernel's posix_acl_update_mode(): a caller outside the
         * file's group (and not root) loses setgid. ctx->gid is the
         * caller's group that matters: the daemon passes the file's group
         * when the caller has it as a supplementary group. */
        if (ctx && ctx->uid != 0 && ctx->gid != in->gid) in->mode &= ~(uint32_t)S_ISGID;
    }
    int rc = fs_acl_store(b, ino, in, kind, acl);
    free(acl);
    return rc;
}

int fs_acl_chmod_locked(struct lsmerfs *fs, struct kv_batch *b, uint64_t ino, struct fs_inode *in)
{
    struct fs_acl *acl;
    int rc = fs_acl_load(fs, ino, in, FS_ACL_ACCESS, &acl);
    if (rc || !acl) return rc;
    fs_acl_chmod(acl, (mode_t)in->mode);
    rc = fs_acl_store(b, ino, in, FS_ACL_ACCESS, acl);
    free(acl);
    return rc;
}

int fs_acl_create_locked(struct lsmerfs *fs, struct kv_batch *b, uint64_t parent,
                         const struct fs_inode *pi, uint64_t ino, struct fs_inode *ni, mode_t umask)
{
    struct fs_acl *dflt = NULL, *access = NULL;
    int rc = 0;
    if (fs_posix_acl_on(fs) && !S_ISLNK(ni->mode)) {
        rc = fs_acl_load(fs, parent, pi, FS_ACL_DEFAULT, &dflt);
        if (rc) return rc;
    }
    if (!dflt) {
        if (!S_ISLNK(ni->mode)) ni->mode &= ~(uint32_t)(umask & 0777);
        return 0;
    }
    /* A default ACL replaces the umask (acl(5), umask(2)). */
    mode_t mode = (mode_t)ni->mode;
    rc = fs_acl_inherit(dflt, &mode, &access);
    if (rc) goto out;
    ni->mode = (uint32_t)mode;
    if (access) rc = fs_acl_store(b, ino, ni, FS_ACL_ACCESS, access);
    if (rc == 0 && S_ISDIR(ni->mode)) rc = fs_acl_store(b, ino, ni, FS_ACL_DEFAULT, dflt);
out:
    free(dflt);
    free(access);
    return rc;
}
