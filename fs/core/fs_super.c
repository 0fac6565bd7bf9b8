/*
 * fs_super.c — the filesystem as a whole: open (and create), close, the
 * inode number allocator, orphan reclaim, statfs, the table of open counts,
 * stripe locks and small shared helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "fs_internal.h"

/* ---- small helpers ----------------------------------------------------- */

void fs_logf(struct lsmerfs *fs, int level, const char *fmt, ...)
{
    if (level > fs->log_level) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (fs->log)
        fs->log(fs->log_arg, level, msg);
    else
        fprintf(stderr, "lsmerfs: %s\n", msg);
}

int64_t fs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int fs_check_name(const char *name, size_t *nlen)
{
    size_t n = strnlen(name, FS_NAME_MAX + 1);
    if (n > FS_NAME_MAX) return -ENAMETOOLONG;
    if (n == 0 || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return -EINVAL;
    *nlen = n;
    return 0;
}

static int cmp_unsigned(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

void fs_lock_inos(struct lsmerfs *fs, struct fs_locks *l, const uint64_t *inos, int n)
{
    unsigned idx[6];
    int m = 0;
    for (int i = 0; i < n && i < 6; i++)
        if (inos[i]) idx[m++] = (unsigned)(inos[i] % FS_STRIPES);
    qsort(idx, (size_t)m, sizeof(idx[0]), cmp_unsigned);
    l->n = 0;
    for (int i = 0; i < m; i++) {
        if (l->n > 0 && l->idx[l->n - 1] == idx[i]) continue;
        l->idx[l->n++] = idx[i];
        pthread_mutex_lock(&fs->stripe[idx[i]]);
    }
}

void fs_unlock_inos(struct lsmerfs *fs, struct fs_locks *l)
{
    for (int i = l->n - 1; i >= 0; i--) pthread_mutex_unlock(&fs->stripe[l->idx[i]]);
    l->n = 0;
}

uint32_t fs_block_size(const struct lsmerfs *fs)
{
    return fs->block_size;
}

void fs_set_kernel_cmtime(struct lsmerfs *fs, int on)
{
    atomic_store(&fs->kernel_cmtime, on ? 1 : 0);
}

int fs_kernel_cmtime_on(struct lsmerfs *fs)
{
    return atomic_load(&fs->kernel_cmtime);
}

/* ---- inode numbers ----------------------------------------------------- */

static int super_store(struct lsmerfs *fs, const struct fs_super *s, int durable)
{
    uint8_t k[1], v[FS_SUPER_LEN];
    struct kv_batch *b;
    int rc = kv_batch_new(&b);
    if (rc) return rc;
    super_encode(s, v);
    rc = kv_batch_put(b, k, key_super(k), v, sizeof(v));
    if (rc == 0) rc = kv_commit(fs->kv, b, durable);
    kv_batch_free(b);
    return rc;
}

int fs_alloc_ino(struct lsmerfs *fs, uint64_t *ino)
{
    int rc = 0;
    pthread_mutex_lock(&fs->alloc_lock);
    if (fs->next_ino >= fs->super.ino_limit) {
        /* Record the end of the next chunk before using any of it. The
         * store's log is one sequence, so a create that survives a crash
         * implies this record survived too: no number is ever reused. */
        struct fs_super s = fs->super;
        s.ino_limit = fs->next_ino + FS_INO_CHUNK;
        rc = super_store(fs, &s, 0);
        if (rc) goto out;
        fs->super = s;
    }
    *ino = fs->next_ino++;
out:
    pthread_mutex_unlock(&fs->alloc_lock);
    return rc;
}

/* ---- create, open, close ----------------------------------------------- */

void fs_options_init(struct fs_options *o)
{
    memset(o, 0, sizeof(*o));
    o->block_size = FS_BLOCK_SIZE_DEFAULT;
    o->inline_max = FS_INLINE_MAX_DEFAULT;
    o->root_uid = (uint32_t)getuid();
    o->root_gid = (uint32_t)getgid();
    o->log_level = 1;
}

static int store_is_empty(struct lsmerfs *fs)
{
    struct kv_iter *it;
    int rc = kv_iter_open(fs->kv, NULL, NULL, 0, NULL, 0, &it);
    if (rc) return rc;
    rc = kv_iter_valid(it) ? -EINVAL : kv_iter_status(it);
    kv_iter_close(it);
    return rc;
}

static int fs_mkfs(struct lsmerfs *fs, const struct fs_options *o)
{
    struct fs_super s = {0};
    s.format = FS_FORMAT_VERSION;
    s.block_size = o->block_size;
    s.inline_max = o->inline_max;
    s.ino_limit = FS_ROOT_INO + 1;
    if (getrandom(s.uuid, sizeof(s.uuid), 0) != (ssize_t)sizeof(s.uuid)) {
        uint64_t t = (uint64_t)fs_now_ns();
        memcpy(s.uuid, &t, sizeof(t));
    }
    struct fs_ctx ctx = {.uid = o->root_uid, .gid = o->root_gid};
    struct fs_inode *root = malloc(sizeof(*root));
    struct kv_batch *b = NULL;
    int rc = -ENOMEM;
    if (!root) goto out;
    fs_inode_init(root, S_IFDIR | 0755, &ctx, fs_now_ns());
    root->nlink = 2;
    root->parent = FS_ROOT_INO;
    rc = kv_batch_new(&b);
    if (rc) goto out;
    uint8_t k[KEY_INO_LEN], v[FS_SUPER_LEN];
    super_encode(&s, v);
    rc = kv_batch_put(b, k, key_super(k), v, sizeof(v));
    if (rc == 0) rc = fs_inode_put(b, FS_ROOT_INO, root);
    if (rc == 0) rc = kv_commit(fs->kv, b, 1);
    if (rc == 0) fs->super = s;
out:
    kv_batch_free(b);
    free(root);
    return rc;
}

/* Frees what a crash left behind: files unlinked while open. */
static int reclaim_orphans(struct lsmerfs *fs)
{
    uint8_t start[KEY_INO_LEN], end[KEY_INO_LEN];
    key_orphan(start, 0);
    end[0] = KEY_ORPHAN + 1;
    struct kv_iter *it = NULL;
    struct kv_batch *b = NULL;
    struct fs_inode *in = malloc(sizeof(*in));
    uint64_t n = 0;
    int rc = -ENOMEM;
    if (!in) goto out;
    rc = kv_batch_new(&b);
    if (rc) goto out;
    rc = kv_iter_open(fs->kv, NULL, start, sizeof(start), end, 1, &it);
    if (rc) goto out;
    for (; kv_iter_valid(it); kv_iter_next(it)) {
        size_t klen;
        const uint8_t *k = kv_iter_key(it, &klen);
        uint64_t ino;
        if (key_parse_ino(k, klen, KEY_ORPHAN, &ino) != 0) continue;
        kv_batch_clear(b);
        rc = fs_inode_get(fs, NULL, ino, in);
        if (rc == 0 && in->nlink == 0) {
            rc = fs_purge_ops(b, ino, in);
        } else if (rc == 0 || rc == -ENOENT) {
            uint8_t ok[KEY_INO_LEN];
            rc = kv_batch_delete(b, ok, key_orphan(ok, ino));
        }
        if (rc == 0) rc = kv_commit(fs->kv, b, 0);
        if (rc) goto out;
        n++;
    }
    rc = kv_iter_status(it);
    if (n) fs_logf(fs, 2, "reclaimed %llu orphaned inode(s)", (unsigned long long)n);
out:
    kv_iter_close(it);
    kv_batch_free(b);
    free(in);
    return rc;
}

int fs_open(const char *data_dir, const struct fs_options *o, struct lsmerfs **out)
{
    struct fs_options defaults;
    if (!o) {
        fs_options_init(&defaults);
        o = &defaults;
    }
    if (o->block_size < 4096 || o->block_size > (1u << 20) ||
        (o->block_size & (o->block_size - 1)) || o->inline_max > FS_INLINE_MAX_DEFAULT * 2)
        return -EINVAL;
    struct lsmerfs *fs = calloc(1, sizeof(*fs));
    if (!fs) return -ENOMEM;
    fs->log = o->log;
    fs->log_arg = o->log_arg;
    fs->log_level = o->log_level;
    fs->attr_changed = o->attr_changed;
    fs->attr_changed_arg = o->attr_changed_arg;
    pthread_mutex_init(&fs->ns_lock, NULL);
    pthread_mutex_init(&fs->alloc_lock, NULL);
    pthread_mutex_init(&fs->node_lock, NULL);
    pthread_mutex_init(&fs->dirs_lock, NULL);
    pthread_mutex_init(&fs->space_lock, NULL);
    pthread_cond_init(&fs->space_cv, NULL);
    for (unsigned i = 0; i < FS_STRIPES; i++) pthread_mutex_init(&fs->stripe[i], NULL);

    struct kv_buf v = {0};
    int rc = fs_nodes_init(fs);
    if (rc) goto fail;
    rc = kv_open(data_dir, o->memtable_bytes, o->log, o->log_arg, o->log_level, &fs->kv);
    if (rc) {
        if (rc == -EINVAL) fs_logf(fs, 0, "%s is not an lsmerfs store", data_dir);
        goto fail;
    }
    uint8_t k[1];
    rc = kv_get(fs->kv, NULL, k, key_super(k), &v);
    if (rc == 0) {
        rc = super_decode(v.data, v.size, &fs->super);
        if (rc == -EPROTO)
            fs_logf(fs, 0, "%s: made by a newer lsmerfs (format %u)", data_dir, fs->super.format);
        else if (rc)
            fs_logf(fs, 0, "%s: superblock does not parse", data_dir);
        if (rc == -EUCLEAN) rc = -EINVAL;
    } else if (rc == -ENOENT) {
        rc = store_is_empty(fs);
        if (rc == -EINVAL) fs_logf(fs, 0, "%s holds a store that is not lsmerfs", data_dir);
        if (rc == 0) rc = fs_mkfs(fs, o);
    }
    if (rc) goto fail;
    fs->block_size = fs->super.block_size;
    fs->inline_max = fs->super.inline_max;
    fs->next_ino = fs->super.ino_limit;
    fs->reserve_bytes = o->reserve_bytes;
    if (!fs->reserve_bytes) fs->reserve_bytes = fs_space_reserve_default(fs->kv);
    rc = fs_space_init(fs);
    if (rc) goto fail;
    rc = reclaim_orphans(fs);
    if (rc) goto fail;
    kv_buf_free(&v);
    *out = fs;
    return 0;
fail:
    kv_buf_free(&v);
    fs_space_stop(fs);
    kv_close(fs->kv);
    fs_nodes_free(fs);
    for (unsigned i = 0; i < FS_STRIPES; i++) pthread_mutex_destroy(&fs->stripe[i]);
    pthread_mutex_destroy(&fs->dirs_lock);
    pthread_mutex_destroy(&fs->space_lock);
    pthread_cond_destroy(&fs->space_cv);
    free(fs);
    return rc;
}

void fs_close(struct lsmerfs *fs)
{
    if (!fs) return;
    fs_space_stop(fs);
    /* Their snapshots and iterators must go before the store. */
    fs_dirs_release_all(fs);
    kv_sync(fs->kv);
    kv_close(fs->kv);
    fs_nodes_free(fs);
    for (unsigned i = 0; i < FS_STRIPES; i++) pthread_mutex_destroy(&fs->stripe[i]);
    pthread_mutex_destroy(&fs->ns_lock);
    pthread_mutex_destroy(&fs->alloc_lock);
    pthread_mutex_destroy(&fs->node_lock);
    pthread_mutex_destroy(&fs->dirs_lock);
    pthread_mutex_destroy(&fs->space_lock);
    pthread_cond_destroy(&fs->space_cv);
    free(fs);
}

int fs_fsync(struct lsmerfs *fs, uint64_t ino, int datasync)
{
    (void)ino;
    (void)datasync;
    return kv_sync(fs->kv);
}

int fs_syncfs(struct lsmerfs *fs)
{
    return kv_sync(fs->kv);
}

int fs_statfs(struct lsmerfs *fs, struct statvfs *out)
{
    struct kv_space sp;
    int rc = kv_space(fs->kv, &sp);
    if (rc) return rc;
    const uint64_t frag = 4096;
    memset(out, 0, sizeof(*out));
    out->f_bsize = fs->block_size;
    out->f_frsize = frag;
    out->f_blocks = sp.total_bytes / frag;
    uint64_t avail = sp.avail_bytes > fs->reserve_bytes ? sp.avail_bytes - fs->reserve_bytes : 0;
    out->f_bfree = out->f_bavail = avail / frag;
    /* Inodes are keys, so they are limited by space, not by a table. The
     * count in use is estimated from the allocator (numbers handed out,
     * including ones since freed): the store keeps no running count. */
    pthread_mutex_lock(&fs->alloc_lock);
    uint64_t used = fs->next_ino - 1;
    pthread_mutex_unlock(&fs->alloc_lock);
    uint64_t ffree = avail / 512; /* an empty file costs about this much */
    out->f_files = used + ffree;
    out->f_ffree = out->f_favail = ffree;
    memcpy(&out->f_fsid, fs->super.uuid, sizeof(out->f_fsid));
    out->f_namemax = FS_NAME_MAX;
    return 0;
}
