/*
 * ops.c — the FUSE low-level operations table: thin adapters from requests
 * to fs core calls (see daemon.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "fs_acl.h"
#include "op_counters.h"

_Atomic uint64_t lsmerfs_op_count[LSMERFS_OP_COUNT];
_Atomic uint64_t lsmerfs_read_bytes, lsmerfs_write_bytes;

static struct lsmerfs_daemon *dm(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

static struct fs_ctx req_ctx(fuse_req_t req)
{
    const struct fuse_ctx *c = fuse_req_ctx(req);
    /* Without FUSE_CAP_DONT_MASK the kernel has applied the umask; with it
     * (asked for with ACLs) the core applies it, unless a default ACL
     * replaces it. */
    struct fs_ctx x = {
        .uid = c->uid, .gid = c->gid, .pid = c->pid, .umask = dm(req)->dont_mask ? c->umask : 0};
    return x;
}

static void reply_entry(fuse_req_t req, int rc, const struct stat *st)
{
    if (rc) {
        fuse_reply_err(req, -rc);
        return;
    }
    struct fuse_entry_param e;
    memset(&e, 0, sizeof(e));
    e.ino = st->st_ino;
    e.attr = *st;
    e.attr_timeout = dm(req)->timeout;
    e.entry_timeout = dm(req)->timeout;
    struct lsmerfs *fs = dm(req)->fs; /* the reply frees req */
    /* The entry carries a reference (fs.h); if the kernel never got it,
     * it will never forget it either. */
    if (fuse_reply_entry(req, &e) == -ENOENT && e.ino) fs_forget(fs, e.ino, 1);
}

void lsmerfs_attr_changed(void *daemon, uint64_t ino)
{
    struct lsmerfs_daemon *d = daemon;
    struct fuse_session *se = atomic_load(&d->se);
    /* Attributes only (offset < 0): no page cache, no inode lock, so this
     * is safe from inside the write that changed them. */
    if (se) fuse_lowlevel_notify_inval_inode(se, ino, -1, 0);
}

static void ll_init(void *userdata, struct fuse_conn_info *conn)
{
    struct lsmerfs_daemon *d = userdata;
    if (d->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) {
        conn->want |= FUSE_CAP_WRITEBACK_CACHE;
    } else {
        conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
        d->writeback = 0;
    }
    /* With the cache the kernel keeps files' mtime/ctime (fs.h). */
    fs_set_kernel_cmtime(d->fs, d->writeback);
    if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
    if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    /* Not the first HANDLE_KILLPRIV: with it the kernel would leave the
     * clearing on write to us but still ask for security.capability before
     * each write. channel.c negotiates HANDLE_KILLPRIV_V2 instead (the core
     * clears setuid/setgid and capabilities, fs_kill_suid/fs_kill_caps);
     * with -o nokillpriv_v2 the kernel clears them itself. */
    conn->want &= ~(unsigned)FUSE_CAP_HANDLE_KILLPRIV;
    /* POSIX ACLs: the kernel checks and caches them (this implies
     * default_permissions); the core stores them, keeps modes in step and
     * does inheritance, for which it needs the unmasked create mode and the
     * umask: the kernel must not apply the umask itself (DONT_MASK). Both
     * or neither. */
    unsigned acl_caps = FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
    if (d->acl && (conn->capable & acl_caps) == acl_caps) {
        conn->want |= acl_caps;
        d->dont_mask = 1;
        fs_set_posix_acl(d->fs, 1);
    } else {
        conn->want &= ~acl_caps;
        d->dont_mask = 0;
        fs_set_posix_acl(d->fs, 0);
    }
    conn->max_write = 1u << 20;
    conn->time_gran = 1;
}

static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    LSMERFS_COUNT_OP(lookup);
    struct stat st;
    int rc = fs_lookup(dm(req)->fs, parent, name, &st);
    if (rc == -ENOENT) {
        /* A negative entry: the kernel may cache the absence, since every
         * change to this tree passes through it. */
        struct fuse_entry_param e;
        memset(&e, 0, sizeof(e));
        e.entry_timeout = dm(req)->timeout;
        fuse_reply_entry(req, &e);
        return;
    }
    reply_entry(req, rc, &st);
}

static void ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    LSMERFS_COUNT_OP(forget);
    fs_forget(dm(req)->fs, ino, nlookup);
    fuse_reply_none(req);
}

static void ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    /* Counted as the forgets it carries. */
    atomic_fetch_add_explicit(&lsmerfs_op_count[LSMERFS_OP_forget], count, memory_order_relaxed);
    for (size_t i = 0; i < count; i++) fs_forget(dm(req)->fs, forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
}

static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    LSMERFS_COUNT_OP(getattr);
    (void)fi;
    struct stat st;
    int rc = fs_getattr(dm(req)->fs, ino, &st);
    if (rc)
        fuse_reply_err(req, -rc);
    else
        fuse_reply_attr(req, &st, dm(req)->timeout);
}

static void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
                       struct fuse_file_info *fi)
{
    LSMERFS_COUNT_OP(setattr);
    (void)fi;
    static const struct {
        int fuse;
        unsigned fs;
    } map[] = {
        {FUSE_SET_ATTR_MODE, FS_SET_MODE},
        {FUSE_SET_ATTR_UID, FS_SET_UID},
        {FUSE_SET_ATTR_GID, FS_SET_GID},
        {FUSE_SET_ATTR_SIZE, FS_SET_SIZE},
        {FUSE_SET_ATTR_ATIME, FS_SET_ATIME},
        {FUSE_SET_ATTR_MTIME, FS_SET_MTIME},
        {FUSE_SET_ATTR_ATIME_NOW, FS_SET_ATIME_NOW},
        {FUSE_SET_ATTR_MTIME_NOW, FS_SET_MTIME_NOW},
        {FUSE_SET_ATTR_CTIME, FS_SET_CTIME},
    };
    unsigned to_set = 0;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (valid & map[i].fuse) to_set |= map[i].fs;
    struct fs_ctx ctx = req_ctx(req);
    struct stat st;
    int rc = fs_setattr(dm(req)->fs, ino, attr, to_set, &ctx, &st);
    if (rc)
        fuse_reply_err(req, -rc);
    else
        fuse_reply_attr(req, &st, dm(req)->timeout);
}

static void ll_readlink(fuse_req_t req, fuse_ino_t ino)
{
    LSMERFS_COUNT_OP(readlink);
    char buf[PATH_MAX + 1];
    size_t len;
    int rc = fs_readlink(dm(req)->fs, ino, buf, sizeof(buf), &len);
    if (rc)
        fuse_reply_err(req, -rc);
    else
        fuse_reply_readlink(req, buf);
}

static void ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
    LSMERFS_COUNT_OP(mknod);
    struct fs_ctx ctx = req_ctx(req);
    struct stat st;
    reply_entry(req, fs_mknod(dm(req)->fs, parent, name, mode, rdev, &ctx, &st), &st);
}

static void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    LSMERFS_COUNT_OP(mkdir);
    struct fs_ctx ctx = req_ctx(req);
    struct stat st;
    reply_entry(req, fs_mkdir(dm(req)->fs, parent, name, mode, &ctx, &st), &st);
}

static void ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
    LSMERFS_COUNT_OP(symlink);
    struct fs_ctx ctx = req_ctx(req);
    struct stat st;
    reply_entry(req, fs_symlink(dm(req)->fs, link, parent, name, &ctx, &st), &st);
}

static void ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
    LSMERFS_COUNT_OP(link);
    struct fs_ctx ctx = req_ctx(req);
    struct stat st;
    reply_entry(req, fs_link(dm(req)->fs, ino, newparent, newname, &ctx, &st), &st);
}

static void ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    LSMERFS_COUNT_OP(unlink);
    struct fs_ctx ctx = req_ctx(req);
    fuse_reply_err(req, -fs_unlink(dm(req)->fs, parent, name, &ctx));
}

static void ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    LSMERFS_COUNT_OP(rmdir);
    struct fs_ctx ctx = req_ctx(req);
    fuse_reply_err(req, -fs_rmdir(dm(req)->fs, parent, name, &ctx));
}

static void ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags)
{
    LSMERFS_COUNT_OP(rename);
    struct fs_ctx ctx = req_ctx(req);
    fuse_reply_err(req, -fs_rename(dm(req)->fs, parent, name, newparent, newname, flags, &ctx));
}

static void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    LSMERFS_COUNT_OP(open);
    struct fs_ctx ctx = req_ctx(req);
    uint64_t fh;
    int rc = fs_open_file(dm(req)->fs, ino, fi->flags, &ctx, &fh);
    if (rc) {
        fuse_reply_err(req, -rc);
        return;
    }
    fi->fh = fh;
    fi->keep_cache = 1;               /* only this daemon changes the data */
    struct lsmerfs *fs = dm(req)->fs; /* the reply frees req */
    if (fuse_reply_open(req, fi) == -ENOENT) fs_release(fs, ino, fh);
}

static void ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
    LSMERFS_COUNT_OP(create);
    struct fs_ctx ctx = req_ctx(req);
    struct stat st;
    uint64_t fh;
    int rc = fs_create(dm(req)->fs, parent, name, mode, fi->flags, &ctx, &fh, &st);
    if (rc) {
        fuse_reply_err(req, -rc);
        return;
    }
    struct fuse_entry_param e;
    memset(&e, 0, sizeof(e));
    e.ino = st.st_ino;
    e.attr = st;
    e.attr_timeout = e.entry_timeout = dm(req)->timeout;
    fi->fh = fh;
    fi->keep_cache = 1;
    struct lsmerfs *fs = dm(req)->fs; /* the reply frees req */
    if (fuse_reply_create(req, &e, fi) == -ENOENT) {
        fs_release(fs, st.st_ino, fh);
        fs_forget(fs, st.st_ino, 1);
    }
}

static void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    LSMERFS_COUNT_OP(read);
    char *buf = malloc(size ? size : 1);
    size_t n = 0;
    int rc = buf ? fs_read(dm(req)->fs, ino, fi->fh, buf, size, off, &n) : -ENOMEM;
    if (rc)
        fuse_reply_err(req, -rc);
    else {
        atomic_fetch_add_explicit(&lsmerfs_read_bytes, n, memory_order_relaxed);
        fuse_reply_buf(req, buf, n);
    }
    free(buf);
}

static void ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
    LSMERFS_COUNT_OP(write);
    struct fs_ctx ctx = req_ctx(req);
    size_t n;
    int rc = fs_write(dm(req)->fs, ino, fi->fh, buf, size, off, &ctx, &n);
    if (rc)
        fuse_reply_err(req, -rc);
    else {
        atomic_fetch_add_explicit(&lsmerfs_write_bytes, n, memory_order_relaxed);
        fuse_reply_write(req, n);
    }
}

static void ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    LSMERFS_COUNT_OP(release);
    fuse_reply_err(req, -fs_release(dm(req)->fs, ino, fi->fh));
}

static void ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    LSMERFS_COUNT_OP(fsync);
    (void)fi;
    fuse_reply_err(req, -fs_fsync(dm(req)->fs, ino, datasync));
}

static void ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    LSMERFS_COUNT_OP(opendir);
    struct fs_dir *d;
    int rc = fs_opendir(dm(req)->fs, ino, &d);
    if (rc) {
        fuse_reply_err(req, -rc);
        return;
    }
    fi->fh = (uint64_t)(uintptr_t)d;
    struct lsmerfs *fs = dm(req)->fs; /* the reply frees req */
    if (fuse_reply_open(req, fi) == -ENOENT) fs_releasedir(fs, d);
}

struct dirbuf {
    fuse_req_t req;
    char *buf;
    size_t size, used;
    int plus;
    /* Inodes of the full entries packed (readdirplus): each took a
     * reference the kernel owns only if the reply reaches it. */
    uint64_t *refs;
    size_t nrefs, caprefs;
};

static int add_dirent(void *arg, const char *name, const struct stat *st, int full, off_t next)
{
    struct dirbuf *db = arg;
    size_t room = db->size - db->used, need;
    if (db->plus) {
        struct fuse_entry_param e;
        memset(&e, 0, sizeof(e));
        e.attr = *st;
        if (full) {
            e.ino = st->st_ino;
            e.attr_timeout = e.entry_timeout = dm(db->req)->timeout;
        }
        need = fuse_add_direntry_plus(db->req, db->buf + db->used, room, name, &e, next);
    } else {
        need = fuse_add_direntry(db->req, db->buf + db->used, room, name, st, next);
    }
    if (need > room) return 1; /* not consumed; the next call starts here */
    if (db->plus && full) {
        if (db->nrefs == db->caprefs) {
            size_t cap = db->caprefs ? db->caprefs * 2 : 32;
            uint64_t *p = realloc(db->refs, cap * sizeof(*p));
            if (!p) return 1; /* fs_readdir gives the reference back */
            db->refs = p;
            db->caprefs = cap;
        }
        db->refs[db->nrefs++] = (uint64_t)st->st_ino;
    }
    db->used += need;
    return 0;
}

static void do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, int plus)
{
    struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
    struct dirbuf db = {.req = req, .buf = malloc(size ? size : 1), .size = size, .plus = plus};
    int rc = db.buf ? fs_readdir(dm(req)->fs, d, off, plus, add_dirent, &db) : -ENOMEM;
    struct lsmerfs *fs = dm(req)->fs; /* the reply frees req */
    /* Entries already packed are worth more than a late error. */
    if (rc && db.used == 0) {
        fuse_reply_err(req, -rc);
    } else if (fuse_reply_buf(req, db.buf, db.used) == -ENOENT) {
        /* The request was interrupted: the kernel never sees these
         * entries, so it will never forget them. */
        for (size_t i = 0; i < db.nrefs; i++) fs_forget(fs, db.refs[i], 1);
    }
    free(db.refs);
    free(db.buf);
}

static void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    LSMERFS_COUNT_OP(readdir);
    (void)ino;
    do_readdir(req, size, off, fi, 0);
}

static void ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
    LSMERFS_COUNT_OP(readdirplus);
    (void)ino;
    do_readdir(req, size, off, fi, 1);
}

static void ll_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    LSMERFS_COUNT_OP(releasedir);
    (void)ino;
    fs_releasedir(dm(req)->fs, (struct fs_dir *)(uintptr_t)fi->fh);
    fuse_reply_err(req, 0);
}

static void ll_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    LSMERFS_COUNT_OP(fsyncdir);
    (void)fi;
    fuse_reply_err(req, -fs_fsync(dm(req)->fs, ino, datasync));
}

static void ll_statfs(fuse_req_t req, fuse_ino_t ino)
{
    LSMERFS_COUNT_OP(statfs);
    (void)ino;
    struct statvfs sv;
    int rc = fs_statfs(dm(req)->fs, &sv);
    if (rc)
        fuse_reply_err(req, -rc);
    else
        fuse_reply_statfs(req, &sv);
}

/* Setting an access ACL clears setgid unless the caller is in the file's
 * group; the core looks at ctx->gid for that. The kernel's verdict
 * (FUSE_SETXATTR_ACL_KILL_SGID) does not reach us through libfuse, so
 * when the caller has the file's group only as a supplementary group,
 * ctx->gid becomes that group. */
static void acl_caller_group(fuse_req_t req, fuse_ino_t ino, struct fs_ctx *ctx)
{
    struct stat st;
    if (ctx->uid == 0 || fs_getattr(dm(req)->fs, ino, &st) != 0 || st.st_gid == ctx->gid) return;
    gid_t small[64], *groups = small;
    int cap = 64, n = fuse_req_getgroups(req, cap, small);
    if (n > cap) {
        cap = n;
        groups = malloc((size_t)cap * sizeof(*groups));
        if (!groups) return;
        n = fuse_req_getgroups(req, cap, groups);
    }
    for (int i = 0; i < n && i < cap; i++) {
        if (groups[i] == st.st_gid) {
            ctx->gid = (uint32_t)st.st_gid;
            break;
        }
    }
    if (groups != small) free(groups);
}

static void ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                        size_t size, int flags)
{
    LSMERFS_COUNT_OP(setxattr);
    struct fs_ctx ctx = req_ctx(req);
    if (fs_acl_kind(name) == FS_ACL_ACCESS) acl_caller_group(req, ino, &ctx);
    fuse_reply_err(req, -fs_setxattr(dm(req)->fs, ino, name, value, size, flags, &ctx));
}

static void ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    LSMERFS_COUNT_OP(getxattr);
    char *buf = size ? malloc(size) : NULL;
    size_t len = 0;
    int rc = (size && !buf) ? -ENOMEM : fs_getxattr(dm(req)->fs, ino, name, buf, size, &len);
    if (rc)
        fuse_reply_err(req, -rc);
    else if (size == 0)
        fuse_reply_xattr(req, len);
    else
        fuse_reply_buf(req, buf, len);
    free(buf);
}

static void ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    LSMERFS_COUNT_OP(listxattr);
    char *buf = size ? malloc(size) : NULL;
    size_t len = 0;
    int rc = (size && !buf) ? -ENOMEM : fs_listxattr(dm(req)->fs, ino, buf, size, &len);
    if (rc)
        fuse_reply_err(req, -rc);
    else if (size == 0)
        fuse_reply_xattr(req, len);
    else
        fuse_reply_buf(req, buf, len);
    free(buf);
}

static void ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
    LSMERFS_COUNT_OP(removexattr);
    struct fs_ctx ctx = req_ctx(req);
    fuse_reply_err(req, -fs_removexattr(dm(req)->fs, ino, name, &ctx));
}

static void ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                         struct fuse_file_info *fi)
{
    LSMERFS_COUNT_OP(fallocate);
    (void)fi;
    struct fs_ctx ctx = req_ctx(req);
    fuse_reply_err(req, -fs_fallocate(dm(req)->fs, ino, mode, offset, length, &ctx));
}

static void ll_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
                     struct fuse_file_info *fi)
{
    LSMERFS_COUNT_OP(lseek);
    (void)fi;
    /* With the writeback cache the kernel holds written data, and the size
     * it implies, that the store has not seen yet, and it does not write
     * them back before asking: an answer from the store could call fresh
     * data a hole, or the end of the file ENXIO. ENOSYS makes the kernel
     * answer SEEK_DATA/SEEK_HOLE itself from then on (no holes, its own
     * size). Without the cache, writes reach the store before they return,
     * and fs_lseek allows for pages written through a shared mmap. */
    if (dm(req)->writeback) {
        fuse_reply_err(req, ENOSYS);
        return;
    }
    off_t out;
    int rc = fs_lseek(dm(req)->fs, ino, off, whence, &out);
    if (rc)
        fuse_reply_err(req, -rc);
    else
        fuse_reply_lseek(req, out);
}

const struct fuse_lowlevel_ops lsmerfs_ll_ops = {
    .init = ll_init,
    .lookup = ll_lookup,
    .forget = ll_forget,
    .forget_multi = ll_forget_multi,
    .getattr = ll_getattr,
    .setattr = ll_setattr,
    .readlink = ll_readlink,
    .mknod = ll_mknod,
    .mkdir = ll_mkdir,
    .symlink = ll_symlink,
    .link = ll_link,
    .unlink = ll_unlink,
    .rmdir = ll_rmdir,
    .rename = ll_rename,
    .open = ll_open,
    .create = ll_create,
    .read = ll_read,
    .write = ll_write,
    /* No .flush: every write is in the store's log when it is acknowledged
     * and the kernel writes back dirty pages (and reports their errors)
     * before it would send FLUSH. libfuse answers ENOSYS to the first one,
     * the kernel then stops sending it, and every close saves a round trip. */
    .release = ll_release,
    .fsync = ll_fsync,
    .opendir = ll_opendir,
    .readdir = ll_readdir,
    .readdirplus = ll_readdirplus,
    .releasedir = ll_releasedir,
    .fsyncdir = ll_fsyncdir,
    .statfs = ll_statfs,
    .setxattr = ll_setxattr,
    .getxattr = ll_getxattr,
    .listxattr = ll_listxattr,
    .removexattr = ll_removexattr,
    .fallocate = ll_fallocate,
    .lseek = ll_lseek,
};
