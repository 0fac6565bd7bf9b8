/*
 * fs_acl.h — POSIX ACLs (acl(5)) for the fs core. An ACL is stored as the
 * xattr the kernel hands us: "system.posix_acl_access" or
 * "system.posix_acl_default", in the kernel's representation — a
 * little-endian u32 version (2), then 8-byte entries {u16 tag, u16 perm,
 * u32 id}. With FUSE_CAP_POSIX_ACL the kernel checks and caches ACLs; the
 * filesystem's part, done here, is what the kernel leaves to it:
 *   - validate what is set (EINVAL for anything the kernel would not
 *     accept itself), and store it with the ids of unnamed entries
 *     canonical;
 *   - keep the mode in sync: setting an access ACL sets the mode's owner,
 *     group (the mask if any) and other bits, and clears setgid when the
 *     caller is neither in the owning group nor root; an access ACL that
 *     says no more than the mode is not stored at all; chmod rewrites the
 *     ACL's owner, mask (or group) and other entries;
 *   - inheritance at create: a parent's default ACL, masked by the create
 *     mode, becomes the new node's access ACL (the umask is then not
 *     applied) and a new directory's default ACL as well.
 * The pure part (parse, encode, mode rules) has no store; the fs_acl_*_locked
 * part works on an inode whose stripe lock the caller holds and adds its
 * keys to the caller's batch, so an ACL change and its mode change commit
 * together.
 *
 * ACLs are honoured (settable, inherited) only once fs_set_posix_acl(fs, 1)
 * is called — the daemon does when the kernel agreed to FUSE_CAP_POSIX_ACL.
 * Until then ACL xattrs are refused with EOPNOTSUPP; chmod still keeps an
 * ACL stored earlier in step with the mode.
 */
#ifndef LSMERFS_FS_ACL_H
#define LSMERFS_FS_ACL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FS_ACL_ACCESS_NAME "system.posix_acl_access"
#define FS_ACL_DEFAULT_NAME "system.posix_acl_default"
#define FS_ACL_VERSION 2u
#define FS_ACL_HEADER_LEN 4u
#define FS_ACL_ENTRY_LEN 8u
#define FS_ACL_UNDEFINED_ID 0xffffffffu

/* Entry tags, as the kernel numbers them. */
#define FS_ACL_USER_OBJ 0x01u
#define FS_ACL_USER 0x02u
#define FS_ACL_GROUP_OBJ 0x04u
#define FS_ACL_GROUP 0x08u
#define FS_ACL_MASK 0x10u
#define FS_ACL_OTHER 0x20u

/* Which ACL an xattr name is. */
enum fs_acl_kind { FS_ACL_NONE = 0, FS_ACL_ACCESS = 1, FS_ACL_DEFAULT = 2 };

struct fs_acl_entry {
    uint16_t tag;
    uint16_t perm; /* bits 4 (read), 2 (write), 1 (execute) */
    uint32_t id;   /* uid or gid for USER and GROUP entries */
};

struct fs_acl {
    size_t count;
    struct fs_acl_entry e[];
};

enum fs_acl_kind fs_acl_kind(const char *name);

/* Parses and validates an xattr value: version 2, whole entries, each tag
 * once in the order USER_OBJ, USER..., GROUP_OBJ, GROUP..., MASK, OTHER, a
 * MASK present when there are named entries, perms within rwx, named ids
 * not (uid_t)-1. -EINVAL otherwise. A header without entries means "no
 * ACL": 0 with *out NULL. Otherwise *out is malloc'ed (free()). */
int fs_acl_parse(const void *value, size_t size, struct fs_acl **out);
size_t fs_acl_xattr_size(const struct fs_acl *acl);
/* Writes fs_acl_xattr_size(acl) bytes; unnamed entries get the undefined
 * id, as the kernel writes them. */
void fs_acl_encode(const struct fs_acl *acl, void *buf);
struct fs_acl *fs_acl_dup(const struct fs_acl *acl);

/* The permission bits an access ACL gives the mode: owner from USER_OBJ,
 * group from MASK (GROUP_OBJ without a mask), other from OTHER. Returns 1
 * if the ACL says nothing more than those bits (no named entries, no mask),
 * so it need not be stored. */
int fs_acl_mode_bits(const struct fs_acl *acl, mode_t *perm);
/* chmod: the ACL's USER_OBJ, MASK (or GROUP_OBJ) and OTHER take the
 * permission bits of mode. */
void fs_acl_chmod(struct fs_acl *acl, mode_t mode);
/* Inheritance from a parent's default ACL (POSIX.1e): *access becomes a
 * copy of dflt with the owner, mask (or group) and other entries ANDed with
 * the create mode, and the mode's bits ANDed with those entries; *access is
 * NULL when it would be equivalent to the resulting mode. -ENOMEM. */
int fs_acl_inherit(const struct fs_acl *dflt, mode_t *mode, struct fs_acl **access);

/* ---- on an inode (caller holds its stripe lock) ------------------------ */

struct lsmerfs;
struct kv_batch;
struct fs_inode;
struct fs_ctx;

void fs_set_posix_acl(struct lsmerfs *fs, int on);
int fs_posix_acl_on(struct lsmerfs *fs);

/* Loads ino's ACL of the given kind; *out NULL if it has none. A stored
 * value that does not parse is corruption: -EIO and a log line. */
int fs_acl_load(struct lsmerfs *fs, uint64_t ino, const struct fs_inode *in, enum fs_acl_kind kind,
                struct fs_acl **out);
/* Stores (acl non-NULL) or deletes the ACL of the given kind into b. */
int fs_acl_store(struct kv_batch *b, uint64_t ino, struct fs_inode *in, enum fs_acl_kind kind,
                 const struct fs_acl *acl);
/* setxattr (value non-NULL) or removexattr of an ACL name: validates,
 * stores or deletes the key into b and updates in's mode as the rules
 * above say. */
int fs_acl_set_locked(struct lsmerfs *fs, struct kv_batch *b, uint64_t ino, struct fs_inode *in,
                      enum fs_acl_kind kind, const void *value, size_t size,
                      const struct fs_ctx *ctx);
/* After in's mode was changed by chmod: rewrites its access ACL, if any. */
int fs_acl_chmod_locked(struct lsmerfs *fs, struct kv_batch *b, uint64_t ino, struct fs_inode *in);
/* A new node ni (mode not yet masked) under parent pi: applies the parent's
 * default ACL if it has one (and ACLs are on), else the umask; adds the new
 * node's ACL keys to b. */
int fs_acl_create_locked(struct lsmerfs *fs, struct kv_batch *b, uint64_t parent,
                         const struct fs_inode *pi, uint64_t ino, struct fs_inode *ni,
                         mode_t umask);

#endif
