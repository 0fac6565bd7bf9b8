/*
 * fs_repair.c — repair of an lsmerfs store (see fs_repair.h). Each pass is
 * a full check (fs_check_scan), then one fix per kept problem, planned from
 * that check's inode table and applied as its own kv batch after re-reading
 * what it changes, so a fix never acts on a value an earlier fix of the
 * same pass replaced.
 */
#include "fs_repair.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fs_check_int.h"
#include "keys.h"
#include "kv.h"

#define INODE_BUF (FS_INODE_FIXED_LEN + FS_INLINE_CAP)

/* A problem reported as left, so that later passes do not repeat it. */
struct left_sig {
    enum fs_check_kind kind;
    uint64_t ino, parent, block_no;
    uint64_t name_hash;
};

struct rep {
    const char *dir;
    const struct fs_repair_options *o;
    struct fs_repair_report *out;
    struct chk *c;
    struct kv *kv;
    struct kv_batch *b;
    struct fs_inode *in, *in2;
    uint8_t *vbuf;
    int structural; /* an entry was added or removed in this pass */
    struct left_sig *left;
    size_t nleft, capleft;
};

static void quiet_log(void *arg, int level, const char *msg)
{
    (void)arg;
    (void)level;
    (void)msg;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; s && *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* ---- reporting --------------------------------------------------------- */

static void report(struct rep *R, const struct fs_check_problem *p, int fixed, const char *action)
{
    if (!fixed) {
        struct left_sig s = {p->kind, p->ino, p->parent, p->block_no, hash_str(p->path)};
        for (size_t i = 0; i < R->nleft; i++)
            if (memcmp(&R->left[i], &s, sizeof(s)) == 0) return;
        if (R->nleft == R->capleft) {
            size_t n = R->capleft ? R->capleft * 2 : 16;
            struct left_sig *nl = realloc(R->left, n * sizeof(*nl));
            if (nl) {
                R->left = nl;
                R->capleft = n;
            }
        }
        if (R->nleft < R->capleft) R->left[R->nleft++] = s;
        R->out->left++;
    } else {
        R->out->fixed++;
        if (p->severity == FS_CHECK_ERROR) R->out->errors_fixed++;
    }
    const struct fs_check_options *co = &R->o->check;
    if (co->on_problem) co->on_problem(co->arg, p);
    if (R->o->on_fix) R->o->on_fix(R->o->fix_arg, p, fixed, action);
}

static const char *why_left(enum fs_check_kind k)
{
    switch (k) {
    case FS_CHECK_CHECKSUM:
        return "not repaired: an engine file is damaged; run 'lsmer scrub DATA_DIR' to name it, "
               "and restore from a backup";
    case FS_CHECK_INCOMPLETE:
        return "nothing repaired: the scan did not finish, so the tree cannot be judged";
    case FS_CHECK_SUPER:
        return "not repaired: the block size cannot be known for sure; restore the store from "
               "a backup";
    case FS_CHECK_BAD_KEY:
        return "not repaired: a key outside the schema may be a newer lsmerfs's; inspect it "
               "with 'lsmer dump --raw DATA_DIR'";
    case FS_CHECK_BAD_INODE:
        return "not repaired: the inode does not decode; its entries and data are kept";
    case FS_CHECK_ROOT:
        return "not repaired: the root directory itself is missing or no directory";
    default:
        return "not repaired";
    }
}

/* Problems the check emits as it goes (checksum, superblock, and all of
 * them when the scan stopped early): none can be repaired. */
static void on_immediate(void *arg, const struct fs_check_problem *p)
{
    struct rep *R = arg;
    report(R, p, 0, why_left(p->kind));
}

/* ---- kv helpers -------------------------------------------------------- */

static int kv_ready(struct rep *R)
{
    if (R->kv) return 0;
    int rc = kv_open(R->dir, 0, quiet_log, NULL, 0, &R->kv);
    if (rc) return rc;
    rc = kv_batch_new(&R->b);
    if (rc) {
        kv_close(R->kv);
        R->kv = NULL;
    }
    return rc;
}

static void kv_done(struct rep *R)
{
    if (!R->kv) return;
    kv_sync(R->kv);
    kv_batch_free(R->b);
    kv_close(R->kv);
    R->kv = NULL;
    R->b = NULL;
}

static int commit(struct rep *R)
{
    int rc = kv_commit(R->kv, R->b, 0);
    kv_batch_clear(R->b);
    return rc;
}

static int get_inode(struct rep *R, uint64_t ino, struct fs_inode *in)
{
    uint8_t k[KEY_INO_LEN];
    struct kv_buf v = {0};
    int rc = kv_get(R->kv, NULL, k, key_inode(k, ino), &v);
    if (rc == 0) rc = inode_decode(v.data, v.size, in);
    kv_buf_free(&v);
    return rc;
}

static int put_inode(struct rep *R, uint64_t ino, const struct fs_inode *in)
{
    uint8_t k[KEY_INO_LEN];
    size_t n = inode_encode(in, R->vbuf);
    return kv_batch_put(R->b, k, key_inode(k, ino), R->vbuf, n);
}

/* 1 and the entry's target if parent/name exists, 0 if not, or an error. */
static int get_dentry(struct rep *R, uint64_t parent, const char *name, uint64_t *ino,
                      uint8_t *type)
{
    uint8_t k[KEY_NAMED_MAX];
    struct kv_buf v = {0};
    int rc = kv_get(R->kv, NULL, k, key_dentry(k, parent, name, strlen(name)), &v);
    if (rc == -ENOENT) return 0;
    if (rc == 0) rc = dentry_decode(v.data, v.size, ino, type);
    kv_buf_free(&v);
    return rc ? rc : 1;
}

static int key_exists(struct rep *R, const uint8_t *k, size_t klen)
{
    struct kv_buf v = {0};
    int rc = kv_get(R->kv, NULL, k, klen, &v);
    kv_buf_free(&v);
    return rc == 0 ? 1 : rc == -ENOENT ? 0 : rc;
}

static int delete_prefix(struct rep *R, uint8_t tag, uint64_t ino)
{
    uint8_t s[KEY_INO_LEN], e[KEY_INO_LEN];
    key_prefix(s, tag, ino);
    key_prefix(e, tag, ino + 1);
    return kv_batch_delete_range(R->b, s, sizeof(s), e, sizeof(e));
}

/* Everything of ino: inode, blocks, xattrs, orphan record. */
static int purge(struct rep *R, uint64_t ino)
{
    uint8_t k[KEY_INO_LEN];
    int rc = kv_batch_delete(R->b, k, key_inode(k, ino));
    if (rc == 0) rc = delete_prefix(R, KEY_BLOCK, ino);
    if (rc == 0) rc = delete_prefix(R, KEY_XATTR, ino);
    if (rc == 0) rc = kv_batch_delete(R->b, k, key_orphan(k, ino));
    return rc ? rc : commit(R);
}

static int bad_inode(const struct chk *c, uint64_t ino)
{
    for (size_t i = 0; i < c->npend; i++)
        if (c->pend[i].p.kind == FS_CHECK_BAD_INODE && c->pend[i].p.ino == ino) return 1;
    return 0;
}

static uint8_t dtype_of(uint32_t mode)
{
    return (uint8_t)((mode & S_IFMT) >> 12);
}

/* ---- lost+found -------------------------------------------------------- */

/* The inode of /lost+found, made if missing. 0 and *lf, or 1 with why
 * filled when lost things cannot be linked, or a negative errno. */
static int lost_found(struct rep *R, uint64_t *lf, char *why, size_t wlen)
{
    struct chk *c = R->c;
    if (c->lf_ino && !tab_find(c, c->lf_ino)) {
        /* the entry named nothing: if a fix above removed it, make a new one */
        uint64_t x;
        uint8_t t;
        int rc = get_dentry(R, FS_ROOT_INO, FS_LOST_FOUND, &x, &t);
        if (rc < 0) return rc;
        if (rc == 0) c->lf_ino = 0;
    }
    if (c->lf_ino) {
        const struct ci *e = tab_find(c, c->lf_ino);
        if (!e || !S_ISDIR(e->mode)) {
            snprintf(why, wlen,
                     "not repaired: /lost+found is not a directory; rename it and run "
                     "'lsmer fsck --repair' again");
            return 1;
        }
        *lf = c->lf_ino;
        return 0;
    }
    const struct ci *root = tab_find(c, FS_ROOT_INO);
    if (!root || !S_ISDIR(root->mode) || !c->have_super) {
        snprintf(why, wlen, "not repaired: no root directory or superblock to make /lost+found");
        return 1;
    }
    /* a number above every inode in use, and the allocator told so */
    uint8_t sk[1], sv[FS_SUPER_LEN];
    struct kv_buf v = {0};
    struct fs_super s;
    int rc = kv_get(R->kv, NULL, sk, key_super(sk), &v);
    if (rc == 0) rc = super_decode(v.data, v.size, &s);
    kv_buf_free(&v);
    if (rc) return rc;
    uint64_t ino = s.ino_limit > c->max_ino ? s.ino_limit : c->max_ino + 1;
    s.ino_limit = ino + 1;
    super_encode(&s, sv);
    rc = get_inode(R, FS_ROOT_INO, R->in2);
    if (rc) return rc;
    int64_t now = now_ns();
    R->in2->nlink++;
    R->in2->mtime_ns = R->in2->ctime_ns = now;
    struct fs_inode *in = R->in;
    memset(in, 0, sizeof(*in));
    in->mode = S_IFDIR | 0700;
    in->nlink = 2;
    in->atime_ns = in->mtime_ns = in->ctime_ns = in->btime_ns = now;
    in->parent = FS_ROOT_INO;
    uint8_t k[KEY_NAMED_MAX], dv[DENTRY_VAL_LEN];
    dentry_encode(ino, S_IFDIR >> 12, dv);
    rc = kv_batch_put(R->b, sk, key_super(sk), sv, sizeof(sv));
    if (rc == 0) rc = put_inode(R, ino, in);
    if (rc == 0) rc = put_inode(R, FS_ROOT_INO, R->in2);
    if (rc == 0)
        rc = kv_batch_put(R->b, k,
                          key_dentry(k, FS_ROOT_INO, FS_LOST_FOUND, sizeof(FS_LOST_FOUND) - 1), dv,
                          sizeof(dv));
    if (rc == 0) rc = commit(R);
    if (rc) return rc;
    struct ci *e;
    rc = tab_add(c, ino, &e);
    if (rc) return rc;
    e->mode = in->mode;
    e->nlink = 2;
    e->parent = e->first_parent = FS_ROOT_INO;
    e->dentries = 1;
    e->reach = 2;
    e->name = strdup(FS_LOST_FOUND);
    if (!e->name) return -ENOMEM;
    c->lf_ino = c->max_ino = ino;
    R->structural = 1;
    *lf = ino;
    return 0;
}

/* Links ino as /lost+found/#INO, in one batch with the removal of its
 * entry old_parent/old_name when it has one (a directory cut off from the
 * root). */
static int link_lost(struct rep *R, uint64_t ino, uint64_t old_parent, const char *old_name,
                     char *action, size_t alen)
{
    uint64_t lf;
    int rc = lost_found(R, &lf, action, alen);
    if (rc) return rc;
    struct ci *e = tab_find(R->c, ino);
    if (!e) return -ENOENT;
    char name[48];
    snprintf(name, sizeof(name), "#%" PRIu64, ino);
    for (unsigned i = 1;; i++) {
        uint64_t x;
        uint8_t t;
        rc = get_dentry(R, lf, name, &x, &t);
        if (rc < 0) return rc;
        if (rc == 0) break;
        snprintf(name, sizeof(name), "#%" PRIu64 ".%u", ino, i);
    }
    rc = get_inode(R, ino, R->in);
    if (rc) return rc;
    int64_t now = now_ns();
    int dir = S_ISDIR(R->in->mode);
    R->in->ctime_ns = now;
    if (dir) {
        R->in->parent = lf;
        R->in->nlink = 2 + e->subdirs;
        rc = get_inode(R, lf, R->in2);
        if (rc) return rc;
        R->in2->nlink++;
        R->in2->mtime_ns = R->in2->ctime_ns = now;
        rc = put_inode(R, lf, R->in2);
    } else {
        R->in->nlink = 1;
    }
    uint8_t k[KEY_NAMED_MAX], dv[DENTRY_VAL_LEN];
    dentry_encode(ino, dtype_of(R->in->mode), dv);
    if (rc == 0) rc = put_inode(R, ino, R->in);
    if (rc == 0) rc = kv_batch_put(R->b, k, key_dentry(k, lf, name, strlen(name)), dv, sizeof(dv));
    if (rc == 0) rc = kv_batch_delete(R->b, k, key_orphan(k, ino));
    if (rc == 0 && old_name)
        rc = kv_batch_delete(R->b, k, key_dentry(k, old_parent, old_name, strlen(old_name)));
    if (rc == 0) rc = commit(R);
    if (rc) return rc;
    e = tab_find(R->c, ino);
    free(e->name);
    e->name = strdup(name);
    if (!e->name) return -ENOMEM;
    e->first_parent = lf;
    e->dentries = 1;
    R->structural = 1;
    snprintf(action, alen, "%s/lost+found/%s", old_name ? "moved to " : "linked as ", name);
    return 0;
}

/* ---- one fix per problem ----------------------------------------------- */

/* Removes the entry parent/name unless it is gone already. */
static int remove_entry(struct rep *R, uint64_t parent, const char *name, char *action, size_t alen)
{
    uint8_t k[KEY_NAMED_MAX];
    size_t klen = key_dentry(k, parent, name, strlen(name));
    int rc = key_exists(R, k, klen);
    if (rc < 0) return rc;
    if (rc == 0) {
        snprintf(action, alen, "the entry was already removed above");
        return 0;
    }
    rc = kv_batch_delete(R->b, k, klen);
    if (rc == 0) rc = commit(R);
    if (rc == 0) {
        R->structural = 1;
        snprintf(action, alen, "removed the entry");
    }
    return rc;
}

static int fix_blocks_past_eof(struct rep *R, uint64_t ino, char *action, size_t alen)
{
    const struct ci *e = tab_find(R->c, ino);
    uint32_t bs = R->c->super.block_size;
    uint64_t full = e->size / bs, tail = e->size % bs;
    uint64_t first_dead = full + (tail ? 1 : 0);
    uint8_t s[KEY_BLOCK_LEN], end[KEY_INO_LEN];
    key_block(s, ino, first_dead);
    key_prefix(end, KEY_BLOCK, ino + 1);
    int rc = kv_batch_delete_range(R->b, s, sizeof(s), end, sizeof(end));
    int cut = 0;
    if (rc == 0 && tail) {
        struct kv_buf v = {0};
        uint8_t k[KEY_BLOCK_LEN];
        rc = kv_get(R->kv, NULL, k, key_block(k, ino, full), &v);
        if (rc == 0 && v.size > tail) {
            rc = kv_batch_put(R->b, k, sizeof(k), v.data, (size_t)tail);
            cut = 1;
        } else if (rc == -ENOENT) {
            rc = 0;
        }
        kv_buf_free(&v);
    }
    if (rc == 0) rc = commit(R);
    if (rc == 0)
        snprintf(action, alen, "removed the blocks from block %" PRIu64 " on%s", first_dead,
                 cut ? " and cut the last one to the size" : "");
    return rc;
}

/* Blocks of a regular file longer than the block size (or than the file):
 * each is cut; blocks of anything else are removed. */
static int fix_blocks_bad(struct rep *R, uint64_t ino, char *action, size_t alen)
{
    const struct ci *e = tab_find(R->c, ino);
    if (!S_ISREG(e->mode) || (e->flags & FS_IFLAG_INLINE)) {
        int rc = delete_prefix(R, KEY_BLOCK, ino);
        if (rc == 0) rc = commit(R);
        if (rc == 0) snprintf(action, alen, "removed every data block of the inode");
        return rc;
    }
    uint32_t bs = R->c->super.block_size;
    uint8_t s[KEY_INO_LEN], end[KEY_INO_LEN];
    key_prefix(s, KEY_BLOCK, ino);
    key_prefix(end, KEY_BLOCK, ino + 1);
    struct kv_iter *it = NULL;
    int rc = kv_iter_open(R->kv, NULL, s, sizeof(s), end, sizeof(end), &it);
    uint64_t cut = 0;
    for (; rc == 0 && kv_iter_valid(it); kv_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = kv_iter_key(it, &klen);
        const void *v;
        uint64_t kino, bno;
        if (key_parse_block(k, klen, &kino, &bno) != 0) continue;
        rc = kv_iter_value(it, &v, &vlen);
        if (rc || vlen <= bs) continue;
        uint64_t off = bno * (uint64_t)bs;
        size_t keep = off >= e->size ? 0 : e->size - off < bs ? (size_t)(e->size - off) : bs;
        rc = kv_batch_put(R->b, k, klen, v, keep);
        cut++;
    }
    if (rc == 0) rc = kv_iter_status(it);
    kv_iter_close(it);
    if (rc == 0) rc = commit(R);
    if (rc == 0)
        snprintf(action, alen, "cut %" PRIu64 " oversized block(s) to the block size", cut);
    return rc;
}

static int set_xattr_flag(struct rep *R, uint64_t ino, char *action, size_t alen)
{
    int rc = get_inode(R, ino, R->in);
    if (rc) return rc;
    R->in->flags |= FS_IFLAG_HAS_XATTR;
    rc = put_inode(R, ino, R->in);
    if (rc == 0) rc = commit(R);
    if (rc == 0) snprintf(action, alen, "set the HAS_XATTR flag");
    return rc;
}

static int raise_ino_limit(struct rep *R, char *action, size_t alen)
{
    uint8_t sk[1], sv[FS_SUPER_LEN];
    struct kv_buf v = {0};
    struct fs_super s;
    int rc = kv_get(R->kv, NULL, sk, key_super(sk), &v);
    if (rc == 0) rc = super_decode(v.data, v.size, &s);
    kv_buf_free(&v);
    if (rc) return rc;
    if (s.ino_limit > R->c->max_ino) {
        snprintf(action, alen, "ino_limit is %" PRIu64 " now (raised above)", s.ino_limit);
        return 0;
    }
    s.ino_limit = R->c->max_ino + 1;
    super_encode(&s, sv);
    rc = kv_batch_put(R->b, sk, sizeof(sk), sv, sizeof(sv));
    if (rc == 0) rc = commit(R);
    if (rc == 0) snprintf(action, alen, "raised ino_limit to %" PRIu64, s.ino_limit);
    return rc;
}

static int fix_count(struct rep *R, const struct pending *p, char *action, size_t alen)
{
    const struct ci *e = tab_find(R->c, p->p.ino);
    int rc = get_inode(R, p->p.ino, R->in);
    if (rc) return rc;
    if (p->p.kind == FS_CHECK_NLINK) {
        uint32_t want = S_ISDIR(e->mode) ? 2 + e->subdirs : e->dentries;
        R->in->nlink = want;
        snprintf(action, alen, "set the link count to %u", want);
    } else {
        uint64_t want = e->ino == FS_ROOT_INO ? FS_ROOT_INO : e->first_parent;
        R->in->parent = want;
        snprintf(action, alen, "set '..' to inode %" PRIu64, want);
    }
    R->in->ctime_ns = now_ns();
    rc = put_inode(R, p->p.ino, R->in);
    return rc ? rc : commit(R);
}

static int has_data(const struct ci *e)
{
    if (e->flags & FS_IFLAG_HAS_XATTR) return 1;
    if (S_ISREG(e->mode)) return e->size > 0;
    if (S_ISDIR(e->mode)) return e->entries > 0;
    return S_ISLNK(e->mode);
}

/* An NLINK problem of an orphan with no entry: it is freed, not counted. */
static int is_orphan_nlink(const struct chk *c, const struct pending *pe)
{
    const struct ci *e = pe->p.kind == FS_CHECK_NLINK ? tab_find(c, pe->p.ino) : NULL;
    return e && e->dentries == 0 && e->orphan;
}

/* Fixes one kept problem: 1 fixed, 0 left (action says why), 2 skipped
 * for now (a count in a pass that changed entries), or a negative errno. */
static int fix_one(struct rep *R, struct pending *pe, char *action, size_t alen)
{
    struct chk *c = R->c;
    const struct fs_check_problem *p = &pe->p;
    struct ci *e = p->ino ? tab_find(c, p->ino) : NULL;
    int rc;
    snprintf(action, alen, "%s", why_left(p->kind));
    switch (p->kind) {
    case FS_CHECK_DANGLING:
    case FS_CHECK_NOT_DIR:
    case FS_CHECK_DIR_LINKS:
    case FS_CHECK_BAD_DENTRY:
    case FS_CHECK_ROOT:
        if (!pe->name) return 0; /* the root itself */
        if (bad_inode(c, p->parent) || (p->kind == FS_CHECK_DANGLING && bad_inode(c, p->ino))) {
            snprintf(action, alen, "not repaired: it concerns an inode that does not decode");
            return 0;
        }
        rc = remove_entry(R, p->parent, pe->name, action, alen);
        return rc ? rc : 1;
    case FS_CHECK_DENTRY_TYPE: {
        uint64_t ino;
        uint8_t type;
        rc = get_dentry(R, p->parent, pe->name, &ino, &type);
        if (rc < 0) return rc;
        if (rc == 0) {
            snprintf(action, alen, "the entry was already removed above");
            return 1;
        }
        uint8_t k[KEY_NAMED_MAX], dv[DENTRY_VAL_LEN];
        dentry_encode(ino, dtype_of(e->mode), dv);
        rc = kv_batch_put(R->b, k, key_dentry(k, p->parent, pe->name, strlen(pe->name)), dv,
                          sizeof(dv));
        if (rc == 0) rc = commit(R);
        snprintf(action, alen, "set the entry's type to %u", dtype_of(e->mode));
        return rc ? rc : 1;
    }
    case FS_CHECK_LOST:
        if (e->nlink == 0 || !has_data(e)) {
            rc = purge(R, p->ino);
            snprintf(action, alen, "freed the inode (%s)",
                     e->nlink ? "it held nothing" : "nlink 0");
            return rc ? rc : 1;
        }
        rc = link_lost(R, p->ino, 0, NULL, action, alen);
        return rc < 0 ? rc : rc == 0;
    case FS_CHECK_UNREACHABLE:
        for (size_t i = 0; i < c->cap; i++) c->tab[i].reach = 0;
        if (reach_of(c, e) == 2) {
            snprintf(action, alen, "reachable again through the fix above");
            return 1;
        }
        rc = link_lost(R, p->ino, e->first_parent, e->name, action, alen);
        return rc < 0 ? rc : rc == 0;
    case FS_CHECK_ORPHAN:
        rc = purge(R, p->ino);
        snprintf(action, alen, "freed it now");
        return rc ? rc : 1;
    case FS_CHECK_NLINK:
        if (e && e->dentries == 0 && e->orphan) {
            rc = purge(R, p->ino);
            snprintf(action, alen, "freed the inode (an orphan with no entry)");
            return rc ? rc : 1;
        }
        if (R->structural) return 2;
        rc = fix_count(R, pe, action, alen);
        return rc ? rc : 1;
    case FS_CHECK_DIR_PARENT:
        if (R->structural) return 2;
        rc = fix_count(R, pe, action, alen);
        return rc ? rc : 1;
    case FS_CHECK_ORPHAN_LINKED:
    case FS_CHECK_ORPHAN_DEAD: {
        if (p->kind == FS_CHECK_ORPHAN_DEAD && bad_inode(c, p->ino)) {
            snprintf(action, alen, "not repaired: the inode does not decode");
            return 0;
        }
        uint8_t k[KEY_INO_LEN];
        rc = kv_batch_delete(R->b, k, key_orphan(k, p->ino));
        if (rc == 0) rc = commit(R);
        snprintf(action, alen, "removed the orphan record");
        return rc ? rc : 1;
    }
    case FS_CHECK_BLOCK_DEAD:
    case FS_CHECK_XATTR_DEAD:
        if (bad_inode(c, p->ino)) {
            snprintf(action, alen, "not repaired: the inode does not decode");
            return 0;
        }
        rc = delete_prefix(R, p->kind == FS_CHECK_BLOCK_DEAD ? KEY_BLOCK : KEY_XATTR, p->ino);
        if (rc == 0) rc = commit(R);
        snprintf(action, alen, "removed the %s of the dead inode",
                 p->kind == FS_CHECK_BLOCK_DEAD ? "data blocks" : "xattrs");
        return rc ? rc : 1;
    case FS_CHECK_BLOCK_PAST_EOF:
        rc = fix_blocks_past_eof(R, p->ino, action, alen);
        return rc ? rc : 1;
    case FS_CHECK_BLOCK_BAD:
        rc = fix_blocks_bad(R, p->ino, action, alen);
        return rc ? rc : 1;
    case FS_CHECK_XATTR_FLAG:
        rc = set_xattr_flag(R, p->ino, action, alen);
        return rc ? rc : 1;
    case FS_CHECK_INO_LIMIT:
        rc = raise_ino_limit(R, action, alen);
        return rc ? rc : 1;
    default:
        return 0;
    }
}

static int fix_pass(struct rep *R)
{
    struct chk *c = R->c;
    char action[256];
    int rc = 0;
    R->structural = 0;
    /* paths as the check saw them, before anything moves */
    char **paths = calloc(c->npend ? c->npend : 1, sizeof(*paths));
    if (!paths) return -ENOMEM;
    for (size_t i = 0; i < c->npend; i++) paths[i] = fs_check_pending_path(c, &c->pend[i]);
    /* entries and inodes first; counts only in a pass that moved nothing */
    for (size_t k = 0; k < 2 * c->npend && rc == 0; k++) {
        size_t i = k % c->npend;
        struct pending *pe = &c->pend[i];
        int count = (pe->p.kind == FS_CHECK_NLINK || pe->p.kind == FS_CHECK_DIR_PARENT) &&
                    !is_orphan_nlink(c, pe);
        if (count != (k >= c->npend)) continue;
        int fixable = !(pe->p.kind == FS_CHECK_CHECKSUM || pe->p.kind == FS_CHECK_SUPER ||
                        pe->p.kind == FS_CHECK_BAD_KEY || pe->p.kind == FS_CHECK_BAD_INODE ||
                        (pe->p.kind == FS_CHECK_ROOT && !pe->name));
        if (fixable) rc = kv_ready(R);
        if (rc) break;
        int res = fixable ? fix_one(R, pe, action, sizeof(action)) : 0;
        if (!fixable) snprintf(action, sizeof(action), "%s", why_left(pe->p.kind));
        if (res < 0) {
            rc = res;
            break;
        }
        if (res == 2) continue; /* the next pass judges it again */
        pe->p.path = paths[i];
        pe->p.msg = pe->msg;
        report(R, &pe->p, res, action);
        pe->p.path = NULL;
    }
    for (size_t i = 0; i < c->npend; i++) free(paths[i]);
    free(paths);
    kv_done(R);
    return rc;
}

int fs_repair(const char *data_dir, const struct fs_repair_options *o, struct fs_repair_report *out)
{
    struct rep R;
    memset(&R, 0, sizeof(R));
    memset(out, 0, sizeof(*out));
    R.dir = data_dir;
    R.o = o;
    R.out = out;
    R.in = malloc(sizeof(*R.in));
    R.in2 = malloc(sizeof(*R.in2));
    R.vbuf = malloc(INODE_BUF);
    int rc = R.in && R.in2 && R.vbuf ? 0 : -ENOMEM;
    struct fs_check_options co = o->check;
    co.on_problem = on_immediate;
    co.arg = &R;
    for (unsigned pass = 1; rc == 0; pass++) {
        struct chk c;
        struct fs_check_report r;
        rc = fs_check_scan(&c, data_dir, &co, &r);
        out->passes++;
        if (rc) {
            fs_check_release(&c);
            break;
        }
        if (!r.incomplete)
            for (size_t i = 0; i < c.npend; i++) {
                if (c.pend[i].p.severity == FS_CHECK_ERROR)
                    r.errors++;
                else
                    r.infos++;
            }
        if (pass == 1) out->first = r;
        out->last = r;
        if (r.incomplete || (r.errors == 0 && r.infos == 0)) {
            fs_check_release(&c);
            break;
        }
        uint64_t before = out->fixed;
        R.c = &c;
        if (pass > FS_REPAIR_MAX_PASSES) {
            /* the last check: what is left is reported as left */
            for (size_t i = 0; i < c.npend; i++) {
                char *path = fs_check_pending_path(&c, &c.pend[i]);
                c.pend[i].p.path = path;
                c.pend[i].p.msg = c.pend[i].msg;
                report(&R, &c.pend[i].p, 0, "not repaired: still found after the passes above");
                c.pend[i].p.path = NULL;
                free(path);
            }
        } else {
            rc = fix_pass(&R);
        }
        R.c = NULL;
        fs_check_release(&c);
        if (out->fixed == before) break;
    }
    free(R.left);
    free(R.in);
    free(R.in2);
    free(R.vbuf);
    return rc;
}
