/* fs_backup.c — snapshot copy of a store into a new store (fs_backup.h). */
#include "fs_backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys.h"

/* Large batches keep the copy's WAL and memtable work per key small; a
 * value larger than this goes alone. */
#define BACKUP_BATCH_BYTES (4u << 20)
#define BACKUP_BATCH_KEYS 16384u

int fs_backup_dest_ok(const char *dest)
{
    DIR *d = opendir(dest);
    if (!d) return errno == ENOENT ? 0 : -errno;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            rc = -ENOTEMPTY;
            break;
        }
    }
    closedir(d);
    return rc;
}

/* Removes what a failed backup left in dest (which was empty or missing
 * when it started), and dest itself if the backup created it. */
static void remove_partial(const char *dest, int created)
{
    DIR *d = opendir(dest);
    if (d) {
        struct dirent *e;
        char p[PATH_MAX];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            if ((size_t)snprintf(p, sizeof(p), "%s/%s", dest, e->d_name) < sizeof(p)) unlink(p);
        }
        closedir(d);
    }
    if (created) rmdir(dest);
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

static void count_inode(struct fs_backup_progress *p, const void *val, size_t vlen)
{
    struct fs_inode tmp;
    if (inode_decode(val, vlen, &tmp) != 0) {
        p->others++;
        p->inodes++;
        return;
    }
    p->inodes++;
    if (S_ISDIR(tmp.mode))
        p->dirs++;
    else if (S_ISREG(tmp.mode)) {
        p->files++;
        p->file_bytes += tmp.size;
    } else if (S_ISLNK(tmp.mode))
        p->symlinks++;
    else
        p->others++;
}

static int copy_snapshot(lsmer_db *src, const lsmer_snapshot *snap, lsmer_db *dst,
                         fs_backup_progress_fn fn, void *arg, struct fs_backup_progress *p)
{
    lsmer_iter *it = NULL;
    lsmer_batch *b = lsmer_batch_new();
    void *super = NULL;
    size_t super_len = 0;
    int have_super = 0;
    if (!b) return -ENOMEM;
    int rc = lsmer_iter_open(src, snap, NULL, &it);
    if (rc) goto out;
    for (lsmer_iter_seek_first(it); lsmer_iter_valid(it); lsmer_iter_next(it)) {
        size_t klen, vlen;
        const void *key = lsmer_iter_key(it, &klen);
        const void *val;
        rc = lsmer_iter_value(it, &val, &vlen);
        if (rc) goto out;
        const uint8_t *k = key;
        if (klen == 1 && k[0] == KEY_SUPER) {
            /* Held back: written last (see fs_backup.h). */
            super = malloc(vlen ? vlen : 1);
            if (!super) {
                rc = -ENOMEM;
                goto out;
            }
            memcpy(super, val, vlen);
            super_len = vlen;
            have_super = 1;
        } else {
            if (klen == KEY_INO_LEN && k[0] == KEY_INODE) count_inode(p, val, vlen);
            rc = lsmer_batch_put(b, key, klen, val, vlen);
            if (rc) goto out;
        }
        p->keys++;
        p->bytes += klen + vlen;
        if (lsmer_batch_bytes(b) >= BACKUP_BATCH_BYTES ||
            lsmer_batch_count(b) >= BACKUP_BATCH_KEYS) {
            rc = lsmer_write(dst, b, 0);
            if (rc) goto out;
            lsmer_batch_clear(b);
            if (fn && fn(arg, p) != 0) {
                rc = -ECANCELED;
                goto out;
            }
        }
    }
    rc = lsmer_iter_status(it);
    if (rc) goto out;
    if (lsmer_batch_count(b)) {
        rc = lsmer_write(dst, b, 0);
        if (rc) goto out;
        lsmer_batch_clear(b);
    }
    /* Everything else is in the copy's log before the superblock. */
    rc = lsmer_sync(dst);
    if (rc) goto out;
    if (have_super) {
        uint8_t sk = KEY_SUPER;
        rc = lsmer_batch_put(b, &sk, 1, super, super_len);
        if (rc == 0) rc = lsmer_write(dst, b, LSMER_SYNC);
        if (rc) goto out;
    }
    /* Tables rather than a log to replay: the copy opens fast and its files
     * are all checksummed blocks. */
    rc = lsmer_flush(dst);
out:
    if (it) lsmer_iter_close(it);
    lsmer_batch_free(b);
    free(super);
    return rc;
}

int fs_backup(lsmer_db *src, const char *dest, fs_backup_progress_fn fn, void *arg,
              struct fs_backup_progress *out)
{
    struct fs_backup_progress p;
    memset(&p, 0, sizeof(p));
    int rc = fs_backup_dest_ok(dest);
    if (rc) return rc;
    int created = 0;
    if (mkdir(dest, 0700) == 0)
        created = 1;
    else if (errno != EEXIST)
        return -errno;

    lsmer_stats st;
    if (lsmer_get_stats(src, &st) == 0) p.total_estimate = st.table_bytes + st.memtable_bytes;
    const lsmer_snapshot *snap = lsmer_snapshot_new(src);
    if (!snap) {
        rc = -ENOMEM;
        goto fail;
    }
    p.sequence = lsmer_snapshot_sequence(snap);

    lsmer_options o;
    lsmer_options_init(&o);
    o.create_if_missing = 1;
    o.error_if_exists = 1;
    o.log_level = LSMER_LOG_WARN;
    lsmer_db *dst = NULL;
    rc = lsmer_open(dest, &o, &dst);
    if (rc == 0) {
        rc = copy_snapshot(src, snap, dst, fn, arg, &p);
        lsmer_close(dst);
    }
    lsmer_snapshot_release(src, snap);
    if (rc == 0) rc = sync_dir(dest);
    if (rc) goto fail;
    p.done = 1;
    if (fn) fn(arg, &p);
    if (out) *out = p;
    return 0;
fail:
    remove_partial(dest, created);
    if (out) *out = p;
    return rc;
}
