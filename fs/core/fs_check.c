/*
 * fs_check.c — the offline checker (see fs_check.h). Two scans of one
 * snapshot: the inode range first (so that every other key can be checked
 * against the inode table as it streams by, without holding blocks or
 * dentries in memory), then the whole key space, which also makes the
 * engine read and verify every table block. Problems whose message needs a
 * path are kept until the end, when every dentry is known.
 */
#include "fs_check.h"
#include "fs_check_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "keys.h"
#include "lsmer.h"

#define PROGRESS_EVERY 65536u

static uint8_t fs_dtype_of(uint32_t mode)
{
    return (uint8_t)((mode & S_IFMT) >> 12);
}

const char *fs_check_kind_name(enum fs_check_kind k)
{
    static const char *const names[] = {
        [FS_CHECK_CHECKSUM] = "checksum",
        [FS_CHECK_SUPER] = "superblock",
        [FS_CHECK_BAD_KEY] = "bad-key",
        [FS_CHECK_BAD_INODE] = "bad-inode",
        [FS_CHECK_BAD_DENTRY] = "bad-dentry",
        [FS_CHECK_ROOT] = "root",
        [FS_CHECK_DANGLING] = "dangling-dentry",
        [FS_CHECK_DENTRY_TYPE] = "dentry-type",
        [FS_CHECK_NOT_DIR] = "entry-in-non-dir",
        [FS_CHECK_NLINK] = "nlink",
        [FS_CHECK_DIR_LINKS] = "dir-hard-link",
        [FS_CHECK_DIR_PARENT] = "dir-parent",
        [FS_CHECK_LOST] = "lost-inode",
        [FS_CHECK_ORPHAN] = "orphan",
        [FS_CHECK_ORPHAN_LINKED] = "orphan-linked",
        [FS_CHECK_ORPHAN_DEAD] = "orphan-dead",
        [FS_CHECK_BLOCK_PAST_EOF] = "block-past-eof",
        [FS_CHECK_BLOCK_DEAD] = "block-dead",
        [FS_CHECK_BLOCK_BAD] = "block-bad",
        [FS_CHECK_XATTR_DEAD] = "xattr-dead",
        [FS_CHECK_XATTR_FLAG] = "xattr-flag",
        [FS_CHECK_UNREACHABLE] = "unreachable",
        [FS_CHECK_INO_LIMIT] = "ino-limit",
        [FS_CHECK_INCOMPLETE] = "incomplete",
    };
    if ((unsigned)k < sizeof(names) / sizeof(names[0]) && names[k]) return names[k];
    return "unknown";
}

/* ---- the inode table --------------------------------------------------- */

static size_t slot_of(uint64_t ino, size_t cap)
{
    return (size_t)((ino * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static int tab_grow(struct chk *c)
{
    size_t ncap = c->cap ? c->cap * 2 : 1024;
    struct ci *nt = calloc(ncap, sizeof(*nt));
    if (!nt) return -ENOMEM;
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->tab[i].ino) continue;
        size_t s = slot_of(c->tab[i].ino, ncap);
        while (nt[s].ino) s = (s + 1) & (ncap - 1);
        nt[s] = c->tab[i];
    }
    free(c->tab);
    c->tab = nt;
    c->cap = ncap;
    return 0;
}

struct ci *tab_find(const struct chk *c, uint64_t ino)
{
    if (!c->cap || !ino) return NULL;
    for (size_t s = slot_of(ino, c->cap);; s = (s + 1) & (c->cap - 1)) {
        if (c->tab[s].ino == ino) return &c->tab[s];
        if (!c->tab[s].ino) return NULL;
    }
}

int tab_add(struct chk *c, uint64_t ino, struct ci **out)
{
    if ((c->n + 1) * 4 >= c->cap * 3) {
        int rc = tab_grow(c);
        if (rc) return rc;
    }
    size_t s = slot_of(ino, c->cap);
    while (c->tab[s].ino) s = (s + 1) & (c->cap - 1);
    memset(&c->tab[s], 0, sizeof(c->tab[s]));
    c->tab[s].ino = ino;
    c->n++;
    *out = &c->tab[s];
    return 0;
}

/* ---- problems ---------------------------------------------------------- */

static void count(struct chk *c, enum fs_check_severity sev)
{
    if (sev == FS_CHECK_ERROR)
        c->r->errors++;
    else
        c->r->infos++;
}

static void emit(struct chk *c, struct fs_check_problem *p)
{
    count(c, p->severity);
    if (c->o && c->o->on_problem) c->o->on_problem(c->o->arg, p);
}

/* Keeps a problem until paths are known. name: a dentry's name (not
 * NUL-terminated) when the problem is about that entry of p->parent. */
static int defer(struct chk *c, const struct fs_check_problem *p, const char *name, size_t nlen,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int defer(struct chk *c, const struct fs_check_problem *p, const char *name, size_t nlen,
                 const char *fmt, ...)
{
    if (c->npend == c->cappend) {
        size_t ncap = c->cappend ? c->cappend * 2 : 64;
        struct pending *np = realloc(c->pend, ncap * sizeof(*np));
        if (!np) return -ENOMEM;
        c->pend = np;
        c->cappend = ncap;
    }
    struct pending *e = &c->pend[c->npend];
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    e->p = *p;
    e->msg = strdup(buf);
    e->name = NULL;
    if (name) {
        e->name = malloc(nlen + 1);
        if (e->name) {
            memcpy(e->name, name, nlen);
            e->name[nlen] = 0;
        }
    }
    if (!e->msg || (name && !e->name)) {
        free(e->msg);
        free(e->name);
        return -ENOMEM;
    }
    c->npend++;
    return 0;
}

static int defer_ino(struct chk *c, enum fs_check_kind kind, enum fs_check_severity sev,
                     uint64_t ino, const char *msg)
{
    struct fs_check_problem p = {.kind = kind, .severity = sev, .ino = ino};
    return defer(c, &p, NULL, 0, "%s", msg);
}

/* A key as text for messages: the tag, the inode, then the rest. */
static void key_text(const uint8_t *k, size_t klen, char *buf, size_t len)
{
    if (klen == 0) {
        snprintf(buf, len, "(the first key)");
        return;
    }
    int n = snprintf(buf, len, "'%c'", k[0] >= 0x20 && k[0] < 0x7f ? k[0] : '?');
    if (klen >= KEY_INO_LEN && n > 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " ino %" PRIu64, keys_get_be64(k + 1));
    if (klen == KEY_BLOCK_LEN && k[0] == KEY_BLOCK && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " block %" PRIu64, keys_get_be64(k + 9));
    else if (klen > KEY_INO_LEN && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, " name \"%.*s\"",
                 (int)(klen - KEY_INO_LEN > 64 ? 64 : klen - KEY_INO_LEN),
                 (const char *)k + KEY_INO_LEN);
}

static void engine_error(struct chk *c, int err, const char *what, const uint8_t *last,
                         size_t lastlen)
{
    char kt[160], msg[400];
    key_text(last, lastlen, kt, sizeof(kt));
    snprintf(msg, sizeof(msg), "%s: %s while reading %s (after key %s)",
             err == -LSMER_ECORRUPT ? "checksum or format error" : "read error",
             lsmer_strerror(err), what, kt);
    struct fs_check_problem p = {.kind = FS_CHECK_CHECKSUM, .severity = FS_CHECK_ERROR, .msg = msg};
    emit(c, &p);
    c->r->incomplete = 1;
}

static void progress(struct chk *c, const char *phase)
{
    if (c->o && c->o->progress) c->o->progress(c->o->progress_arg, phase, c->r->keys);
}

/* ---- pass 1: inodes ---------------------------------------------------- */

static int scan_inodes(struct chk *c)
{
    uint8_t start[1] = {KEY_INODE}, end[1] = {KEY_INODE + 1};
    lsmer_range range = {start, 1, end, 1};
    lsmer_iter *it = NULL;
    uint8_t last[KEY_NAMED_MAX];
    size_t lastlen = 0;
    struct fs_inode *in = malloc(sizeof(*in));
    int rc = in ? lsmer_iter_open(c->db, c->snap, &range, &it) : -ENOMEM;
    if (rc) goto out;
    for (lsmer_iter_seek_first(it); lsmer_iter_valid(it); lsmer_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = lsmer_iter_key(it, &klen);
        const void *v;
        uint64_t ino;
        if (++c->r->keys % PROGRESS_EVERY == 0) progress(c, "inodes");
        lastlen = klen < sizeof(last) ? klen : sizeof(last);
        memcpy(last, k, lastlen);
        if (key_parse_ino(k, klen, KEY_INODE, &ino) != 0 || ino == 0) continue; /* pass 2 */
        if (ino > c->max_ino) c->max_ino = ino;
        rc = lsmer_iter_value(it, &v, &vlen);
        if (rc) {
            engine_error(c, rc, "an inode value", last, lastlen);
            rc = 0;
            goto out;
        }
        int drc = inode_decode(v, vlen, in);
        if (drc) {
            char msg[128];
            snprintf(msg, sizeof(msg), "inode %" PRIu64 " does not decode (%s, %zu bytes)", ino,
                     drc == -EPROTO ? "newer format" : "corrupt", vlen);
            rc = defer_ino(c, FS_CHECK_BAD_INODE, FS_CHECK_ERROR, ino, msg);
            if (rc) goto out;
            continue;
        }
        struct ci *e;
        rc = tab_add(c, ino, &e);
        if (rc) goto out;
        e->mode = in->mode;
        e->nlink = in->nlink;
        e->flags = in->flags;
        e->size = in->size;
        e->parent = in->parent;
        c->r->inodes++;
        if (S_ISDIR(in->mode))
            c->r->dirs++;
        else if (S_ISREG(in->mode)) {
            c->r->files++;
            c->r->bytes += in->size;
        } else if (S_ISLNK(in->mode))
            c->r->symlinks++;
        else
            c->r->others++;
    }
    rc = lsmer_iter_status(it);
    if (rc) {
        engine_error(c, rc, "the inodes", last, lastlen);
        rc = 0;
    }
out:
    lsmer_iter_close(it);
    free(in);
    return rc;
}

/* ---- pass 2: everything ------------------------------------------------ */

static int run_flush(struct chk *c)
{
    if (!c->run.kind) return 0;
    struct fs_check_problem p = c->run;
    c->run.kind = 0;
    const char *what = p.kind == FS_CHECK_XATTR_DEAD ? "xattr" : "block";
    switch (p.kind) {
    case FS_CHECK_BLOCK_PAST_EOF:
        return defer(c, &p, NULL, 0,
                     "%" PRIu64 " data block(s) from block %" PRIu64
                     " hold bytes at or past the size (%s)",
                     p.count, p.block_no, c->run_msg);
    case FS_CHECK_BLOCK_DEAD:
    case FS_CHECK_XATTR_DEAD:
        return defer(c, &p, NULL, 0,
                     "%" PRIu64 " %s key(s) of inode %" PRIu64 ", which does not exist", p.count,
                     what, p.ino);
    default:
        return defer(c, &p, NULL, 0, "%s", c->run_msg);
    }
}

/* Groups consecutive keys of one inode with the same problem into one. */
static int run_add(struct chk *c, enum fs_check_kind kind, uint64_t ino, uint64_t block_no,
                   const char *msg)
{
    if (c->run.kind == kind && c->run.ino == ino) {
        c->run.count++;
        return 0;
    }
    int rc = run_flush(c);
    if (rc) return rc;
    memset(&c->run, 0, sizeof(c->run));
    c->run.kind = kind;
    c->run.severity = FS_CHECK_ERROR;
    c->run.ino = ino;
    c->run.block_no = block_no;
    c->run.count = 1;
    snprintf(c->run_msg, sizeof(c->run_msg), "%s", msg ? msg : "");
    return 0;
}

static int check_block(struct chk *c, const uint8_t *k, size_t klen, size_t vlen)
{
    uint64_t ino, bno;
    struct fs_check_problem p = {.kind = FS_CHECK_BAD_KEY, .severity = FS_CHECK_ERROR};
    if (key_parse_block(k, klen, &ino, &bno) != 0)
        return defer(c, &p, NULL, 0, "malformed block key (%zu bytes)", klen);
    c->r->blocks++;
    const struct ci *e = tab_find(c, ino);
    if (!e) return run_add(c, FS_CHECK_BLOCK_DEAD, ino, bno, NULL);
    char msg[160];
    uint32_t bs = c->super.block_size;
    if (!S_ISREG(e->mode) || (e->flags & FS_IFLAG_INLINE)) {
        snprintf(msg, sizeof(msg), "data blocks of %s",
                 S_ISREG(e->mode) ? "a file whose data is inline"
                                  : "an inode that is no regular file");
        return run_add(c, FS_CHECK_BLOCK_BAD, ino, bno, msg);
    }
    if (vlen > bs) {
        snprintf(msg, sizeof(msg), "block %" PRIu64 " holds %zu bytes, more than the block size %u",
                 bno, vlen, bs);
        return run_add(c, FS_CHECK_BLOCK_BAD, ino, bno, msg);
    }
    /* no block holds bytes at or past the size; an empty block past the end
     * is still one too many */
    uint64_t off = bno * (uint64_t)bs;
    if (bno > UINT64_MAX / bs || off + vlen > e->size || (vlen == 0 && off >= e->size)) {
        snprintf(msg, sizeof(msg), "size %" PRIu64, e->size);
        return run_add(c, FS_CHECK_BLOCK_PAST_EOF, ino, bno, msg);
    }
    return run_flush(c);
}

static int check_dentry(struct chk *c, const uint8_t *k, size_t klen, const void *v, size_t vlen)
{
    uint64_t dir, ino;
    const char *name;
    size_t nlen;
    uint8_t type;
    struct fs_check_problem p = {.kind = FS_CHECK_BAD_KEY, .severity = FS_CHECK_ERROR};
    if (key_parse_named(k, klen, KEY_DENTRY, &dir, &name, &nlen) != 0 || nlen == 0 ||
        nlen > FS_NAME_MAX || memchr(name, '/', nlen) || memchr(name, 0, nlen) ||
        (nlen == 1 && name[0] == '.') || (nlen == 2 && name[0] == '.' && name[1] == '.'))
        return defer(c, &p, NULL, 0, "malformed directory entry key (%zu bytes)", klen);
    p.parent = dir;
    if (dentry_decode(v, vlen, &ino, &type) != 0) {
        p.kind = FS_CHECK_BAD_DENTRY;
        return defer(c, &p, name, nlen, "directory entry value does not decode (%zu bytes)", vlen);
    }
    p.ino = ino;
    struct ci *d = tab_find(c, dir);
    if (d) d->entries++;
    if (dir == FS_ROOT_INO && nlen == sizeof(FS_LOST_FOUND) - 1 &&
        memcmp(name, FS_LOST_FOUND, nlen) == 0)
        c->lf_ino = ino;
    if (!d || !S_ISDIR(d->mode)) {
        p.kind = FS_CHECK_NOT_DIR;
        int rc = defer(c, &p, name, nlen, "entry of inode %" PRIu64 ", which %s", dir,
                       d ? "is no directory" : "does not exist");
        if (rc) return rc;
    }
    struct ci *e = tab_find(c, ino);
    if (!e) {
        p.kind = FS_CHECK_DANGLING;
        return defer(c, &p, name, nlen, "entry names inode %" PRIu64 ", which does not exist", ino);
    }
    if (fs_dtype_of(e->mode) != type) {
        p.kind = FS_CHECK_DENTRY_TYPE;
        int rc = defer(c, &p, name, nlen,
                       "entry says type %u but inode %" PRIu64 " has type %u (mode %o)", type, ino,
                       fs_dtype_of(e->mode), e->mode);
        if (rc) return rc;
    }
    if (ino == FS_ROOT_INO) {
        p.kind = FS_CHECK_ROOT;
        return defer(c, &p, name, nlen, "entry names the root directory");
    }
    e->dentries++;
    if (S_ISDIR(e->mode)) {
        if (d) d->subdirs++;
        if (e->dentries > 1) {
            p.kind = FS_CHECK_DIR_LINKS;
            if (dir != e->parent || e->first_parent == e->parent)
                return defer(c, &p, name, nlen, "second entry naming directory inode %" PRIu64,
                             ino);
            /* this entry agrees with '..': the one seen first is the extra
             * one, and this one gives the directory its path */
            p.parent = e->first_parent;
            int rc = defer(c, &p, e->name, strlen(e->name),
                           "second entry naming directory inode %" PRIu64
                           " (its '..' is the directory of another entry)",
                           ino);
            if (rc) return rc;
            char *nn = malloc(nlen + 1);
            if (!nn) return -ENOMEM;
            memcpy(nn, name, nlen);
            nn[nlen] = 0;
            free(e->name);
            e->name = nn;
            e->first_parent = dir;
            return 0;
        }
    }
    if (!e->name) {
        e->name = malloc(nlen + 1);
        if (!e->name) return -ENOMEM;
        memcpy(e->name, name, nlen);
        e->name[nlen] = 0;
        e->first_parent = dir;
    }
    return 0;
}

static int check_key(struct chk *c, lsmer_iter *it, const uint8_t *k, size_t klen)
{
    const void *v = NULL;
    size_t vlen = 0;
    /* every value is read, so that out-of-line values are verified too */
    int rc = lsmer_iter_value(it, &v, &vlen);
    if (rc) return rc;
    uint64_t ino;
    const char *name;
    size_t nlen;
    struct fs_check_problem p = {.kind = FS_CHECK_BAD_KEY, .severity = FS_CHECK_ERROR};
    if (klen == 0) return defer(c, &p, NULL, 0, "empty key");
    if (k[0] != KEY_BLOCK && k[0] != KEY_XATTR) {
        rc = run_flush(c);
        if (rc) return rc;
    }
    switch (k[0]) {
    case KEY_SUPER:
        if (klen != 1) return defer(c, &p, NULL, 0, "malformed superblock key (%zu bytes)", klen);
        return 0;
    case KEY_INODE:
        if (key_parse_ino(k, klen, KEY_INODE, &ino) != 0 || ino == 0)
            return defer(c, &p, NULL, 0, "malformed inode key (%zu bytes)", klen);
        return 0; /* pass 1 */
    case KEY_DENTRY:
        return check_dentry(c, k, klen, v, vlen);
    case KEY_BLOCK:
        if (c->run.kind == FS_CHECK_XATTR_DEAD) {
            rc = run_flush(c);
            if (rc) return rc;
        }
        return check_block(c, k, klen, vlen);
    case KEY_ORPHAN: {
        if (key_parse_ino(k, klen, KEY_ORPHAN, &ino) != 0 || ino == 0)
            return defer(c, &p, NULL, 0, "malformed orphan key (%zu bytes)", klen);
        struct ci *e = tab_find(c, ino);
        if (!e) {
            p.kind = FS_CHECK_ORPHAN_DEAD;
            p.ino = ino;
            return defer(c, &p, NULL, 0, "orphan record of inode %" PRIu64 ", which does not exist",
                         ino);
        }
        e->orphan = 1;
        return 0;
    }
    case KEY_XATTR: {
        if (key_parse_named(k, klen, KEY_XATTR, &ino, &name, &nlen) != 0 || nlen == 0 || ino == 0)
            return defer(c, &p, NULL, 0, "malformed xattr key (%zu bytes)", klen);
        struct ci *e = tab_find(c, ino);
        if (!e) return run_add(c, FS_CHECK_XATTR_DEAD, ino, 0, NULL);
        rc = run_flush(c);
        if (rc || (e->flags & FS_IFLAG_HAS_XATTR) || e->xattr_reported) return rc;
        e->xattr_reported = 1;
        p.kind = FS_CHECK_XATTR_FLAG;
        p.ino = ino;
        return defer(c, &p, NULL, 0,
                     "has xattrs but not the HAS_XATTR flag (freeing it would leave them behind)");
    }
    default:
        return defer(c, &p, NULL, 0, "key with unknown tag 0x%02x (%zu bytes)", k[0], klen);
    }
}

static int scan_all(struct chk *c)
{
    lsmer_iter *it = NULL;
    uint8_t last[KEY_NAMED_MAX];
    size_t lastlen = 0;
    int rc = lsmer_iter_open(c->db, c->snap, NULL, &it);
    if (rc) return rc;
    for (lsmer_iter_seek_first(it); lsmer_iter_valid(it); lsmer_iter_next(it)) {
        size_t klen;
        const uint8_t *k = lsmer_iter_key(it, &klen);
        if (++c->r->keys % PROGRESS_EVERY == 0) progress(c, "keys");
        rc = check_key(c, it, k, klen);
        if (rc == -LSMER_ECORRUPT || rc == -EIO) {
            engine_error(c, rc, "a value", k, klen < sizeof(last) ? klen : sizeof(last));
            rc = 0;
            goto out;
        }
        if (rc) goto out;
        lastlen = klen < sizeof(last) ? klen : sizeof(last);
        memcpy(last, k, lastlen);
    }
    rc = lsmer_iter_status(it);
    if (rc) {
        engine_error(c, rc, "the key space", last, lastlen);
        rc = 0;
    }
    if (rc == 0) rc = run_flush(c);
out:
    lsmer_iter_close(it);
    return rc;
}

/* ---- paths and the tree ------------------------------------------------ */

/* The path of ino through the first dentry naming each inode, into a fresh
 * string; NULL if it has none (or on ENOMEM). A chain that does not reach
 * the root starts with "<ino N>". */
char *path_of(const struct chk *c, uint64_t ino, const char *leaf)
{
    const char *parts[MAX_DEPTH];
    unsigned n = 0;
    uint64_t top = ino;
    if (leaf) parts[n++] = leaf;
    uint64_t seen[MAX_DEPTH];
    unsigned nseen = 0;
    while (top != FS_ROOT_INO && n < MAX_DEPTH) {
        const struct ci *e = tab_find(c, top);
        if (!e || !e->name) break;
        int loop = 0; /* a cycle: stop where it closes (only damaged trees get here) */
        for (unsigned i = 0; i < nseen && !loop; i++) loop = seen[i] == top;
        if (loop) break;
        seen[nseen++] = top;
        parts[n++] = e->name;
        top = e->first_parent;
    }
    if (n == 0 && top != FS_ROOT_INO) return NULL;
    size_t len = 32;
    for (unsigned i = 0; i < n; i++) len += strlen(parts[i]) + 1;
    char *s = malloc(len), *p = s;
    if (!s) return NULL;
    if (top != FS_ROOT_INO) p += sprintf(p, "<ino %" PRIu64 ">", top);
    if (n == 0) strcpy(p, "/");
    while (n > 0) p += sprintf(p, "/%s", parts[--n]);
    return s;
}

/* Marks a directory reachable (2) or not (3) by following first dentries up
 * to the root; 1 while on the current walk, so meeting it again is a cycle.
 * A second walk over the same chain writes the answer. */
uint8_t reach_of(struct chk *c, struct ci *e)
{
    uint8_t res;
    for (struct ci *x = e;;) {
        if (x->ino == FS_ROOT_INO) {
            res = 2;
            break;
        }
        if (x->reach >= 2 || x->reach == 1) {
            res = x->reach == 2 ? 2 : 3;
            break;
        }
        x->reach = 1;
        struct ci *up = x->name ? tab_find(c, x->first_parent) : NULL;
        if (!up || !S_ISDIR(up->mode)) {
            res = 3;
            break;
        }
        x = up;
    }
    for (struct ci *x = e; x && x->reach == 1; x = tab_find(c, x->first_parent)) x->reach = res;
    return res;
}

static int check_inodes(struct chk *c)
{
    int rc = 0;
    struct ci *root = tab_find(c, FS_ROOT_INO);
    if (!root || !S_ISDIR(root->mode)) {
        rc = defer_ino(c, FS_CHECK_ROOT, FS_CHECK_ERROR, FS_ROOT_INO,
                       root ? "the root inode is no directory"
                            : "the root directory (inode 1) is missing");
        if (rc) return rc;
    }
    for (size_t i = 0; i < c->cap && rc == 0; i++) {
        struct ci *e = &c->tab[i];
        if (!e->ino) continue;
        int dir = S_ISDIR(e->mode);
        struct fs_check_problem p = {.severity = FS_CHECK_ERROR, .ino = e->ino};
        if (c->have_super && e->ino >= c->super.ino_limit) {
            p.kind = FS_CHECK_INO_LIMIT;
            rc = defer(c, &p, NULL, 0,
                       "inode %" PRIu64 " is at or above the superblock's ino_limit %" PRIu64
                       " (the number may be handed out again)",
                       e->ino, c->super.ino_limit);
            if (rc) break;
        }
        if (e->dentries == 0 && e->ino != FS_ROOT_INO) {
            if (e->orphan && e->nlink == 0) {
                p.kind = FS_CHECK_ORPHAN;
                p.severity = FS_CHECK_INFO;
                rc = defer(c, &p, NULL, 0,
                           "inode %" PRIu64 " was unlinked while open: freed at the next mount",
                           e->ino);
            } else if (e->orphan) {
                p.kind = FS_CHECK_NLINK;
                rc = defer(c, &p, NULL, 0,
                           "orphaned inode %" PRIu64 " has no entry but a link count of %u", e->ino,
                           e->nlink);
            } else {
                p.kind = FS_CHECK_LOST;
                rc = defer(c, &p, NULL, 0,
                           "inode %" PRIu64 " (mode %o, nlink %u, size %" PRIu64
                           ") has no directory entry and no orphan record",
                           e->ino, e->mode, e->nlink, e->size);
            }
            continue;
        }
        if (e->orphan) {
            p.kind = FS_CHECK_ORPHAN_LINKED;
            rc = defer(c, &p, NULL, 0, "orphan record, but inode %" PRIu64 " still has %u entr%s",
                       e->ino, e->dentries, e->dentries == 1 ? "y" : "ies");
            if (rc) break;
        }
        uint64_t want = dir ? 2ull + e->subdirs : e->dentries;
        if (e->nlink != want) {
            p.kind = FS_CHECK_NLINK;
            rc = defer(c, &p, NULL, 0, "link count is %u, should be %" PRIu64 "%s", e->nlink, want,
                       dir ? " (2 + subdirectories)" : " (the entries naming it)");
            if (rc) break;
        }
        if (!dir) continue;
        uint64_t want_parent = e->ino == FS_ROOT_INO ? FS_ROOT_INO : e->first_parent;
        if (e->parent != want_parent) {
            p.kind = FS_CHECK_DIR_PARENT;
            rc = defer(c, &p, NULL, 0,
                       "'..' is inode %" PRIu64 " but the entry is in inode %" PRIu64, e->parent,
                       want_parent);
            if (rc) break;
        }
        if (e->ino != FS_ROOT_INO && reach_of(c, e) != 2) {
            p.kind = FS_CHECK_UNREACHABLE;
            rc = defer(c, &p, NULL, 0,
                       "directory inode %" PRIu64 " is not reachable from the root (a cycle, or "
                       "a parent that is gone)",
                       e->ino);
        }
    }
    return rc;
}

char *fs_check_pending_path(const struct chk *c, const struct pending *e)
{
    if (e->name) return path_of(c, e->p.parent, e->name);
    if (e->p.ino && e->p.kind != FS_CHECK_BLOCK_DEAD && e->p.kind != FS_CHECK_XATTR_DEAD &&
        e->p.kind != FS_CHECK_ORPHAN_DEAD) {
        const struct ci *x = tab_find(c, e->p.ino);
        if (x && (x->name || x->ino == FS_ROOT_INO)) return path_of(c, e->p.ino, NULL);
    }
    return NULL;
}

void fs_check_emit_pending(struct chk *c)
{
    for (size_t i = 0; i < c->npend; i++) {
        struct pending *e = &c->pend[i];
        char *path = fs_check_pending_path(c, e);
        e->p.path = path;
        e->p.msg = e->msg;
        emit(c, &e->p);
        e->p.path = NULL;
        free(path);
    }
}

/* ---- the entry point --------------------------------------------------- */

static void quiet_log(void *arg, int level, const char *msg)
{
    (void)arg;
    (void)level;
    (void)msg;
}

static int read_super(struct chk *c)
{
    uint8_t k[1];
    lsmer_buf v = {0};
    int rc = lsmer_get(c->db, c->snap, k, key_super(k), &v);
    struct fs_check_problem p = {.kind = FS_CHECK_SUPER, .severity = FS_CHECK_ERROR};
    char msg[200];
    c->super.block_size = FS_BLOCK_SIZE_DEFAULT;
    if (rc == -ENOENT) {
        /* an lsmerfs store has a superblock from its first batch on; with
         * no inode either it is some other database */
        uint8_t s[1] = {KEY_INODE}, e[1] = {KEY_INODE + 1};
        lsmer_range r = {s, 1, e, 1};
        lsmer_iter *it = NULL;
        rc = lsmer_iter_open(c->db, c->snap, &r, &it);
        if (rc) return rc;
        lsmer_iter_seek_first(it);
        int any = lsmer_iter_valid(it);
        rc = lsmer_iter_status(it);
        lsmer_iter_close(it);
        if (rc) return rc;
        if (!any) return -EINVAL;
        p.msg = "the superblock is missing (block size 64 KiB assumed)";
        emit(c, &p);
        return 0;
    }
    if (rc) return rc;
    struct fs_super s;
    rc = super_decode(v.data, v.size, &s);
    lsmer_buf_free(&v);
    if (rc == -EPROTO) return rc;
    if (rc == 0 && (s.block_size < 4096 || s.block_size > (1u << 20) ||
                    (s.block_size & (s.block_size - 1)) || s.ino_limit <= FS_ROOT_INO))
        rc = -EUCLEAN;
    if (rc) {
        snprintf(msg, sizeof(msg),
                 "the superblock does not parse or has impossible values "
                 "(block size 64 KiB assumed)");
        p.msg = msg;
        emit(c, &p);
        return 0;
    }
    c->super = s;
    c->have_super = 1;
    return 0;
}

int fs_check_scan(struct chk *c, const char *data_dir, const struct fs_check_options *o,
                  struct fs_check_report *out)
{
    memset(c, 0, sizeof(*c));
    memset(out, 0, sizeof(*out));
    c->o = o;
    c->r = out;
    struct stat st;
    if (stat(data_dir, &st) != 0) return -errno;
    if (!S_ISDIR(st.st_mode)) return -ENOTDIR;

    lsmer_options opt;
    lsmer_options_init(&opt);
    opt.create_if_missing = 0;
    opt.read_only = 1;
    opt.paranoid_checks = 1;
    opt.log = quiet_log;
    int rc = lsmer_open(data_dir, &opt, &c->db);
    if (rc == -ENOENT) return -EINVAL; /* a directory without a database */
    if (rc == -LSMER_ECORRUPT) {
        struct fs_check_problem p = {.kind = FS_CHECK_CHECKSUM,
                                     .severity = FS_CHECK_ERROR,
                                     .msg = "the database does not open: a file of the engine "
                                            "(manifest, log or table) fails its checksum"};
        emit(c, &p);
        out->incomplete = 1;
        return 0;
    }
    if (rc) return rc;
    c->snap = lsmer_snapshot_new(c->db);
    if (!c->snap) {
        rc = -ENOMEM;
        goto out;
    }
    rc = read_super(c);
    if (rc == -LSMER_ECORRUPT || rc == -EIO) {
        engine_error(c, rc, "the superblock", (const uint8_t *)"S", 1);
        rc = 0;
        goto out;
    }
    if (rc) goto out;
    rc = scan_inodes(c);
    if (rc) goto out;
    rc = scan_all(c);
    if (rc) goto out;
    progress(c, "done");
    if (out->incomplete) {
        /* Half a scan would call every inode past the damage lost: only the
         * problems found so far are kept, and the tree is not judged. */
        struct fs_check_problem p = {.kind = FS_CHECK_INCOMPLETE,
                                     .severity = FS_CHECK_ERROR,
                                     .msg = "the scan stopped at the damage above: link counts, "
                                            "lost inodes and the tree were not checked"};
        fs_check_emit_pending(c);
        emit(c, &p);
        goto out;
    }
    rc = check_inodes(c);
out:
    if (c->snap) lsmer_snapshot_release(c->db, c->snap);
    c->snap = NULL;
    if (c->db) lsmer_close(c->db);
    c->db = NULL;
    return rc;
}

void fs_check_release(struct chk *c)
{
    for (size_t i = 0; i < c->npend; i++) {
        free(c->pend[i].msg);
        free(c->pend[i].name);
    }
    free(c->pend);
    for (size_t i = 0; i < c->cap; i++) free(c->tab[i].name);
    free(c->tab);
    memset(c, 0, sizeof(*c));
}

int fs_check(const char *data_dir, const struct fs_check_options *o, struct fs_check_report *out)
{
    struct chk c;
    int rc = fs_check_scan(&c, data_dir, o, out);
    if (rc == 0 && !out->incomplete) fs_check_emit_pending(&c);
    fs_check_release(&c);
    return rc;
}
