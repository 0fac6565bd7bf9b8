/*
 * fs_nodes.c — the in-memory table of inodes someone still refers to: the
 * kernel's lookup count (every entry handed out by lookup, create, mkdir,
 * mknod, symlink, link or readdirplus, until forget) and open handles, and
 * how many of those were opened for writing (fs_lseek asks).
 * An inode that loses its last link while referenced is kept as an orphan
 * (nlink 0 plus an "o" key) and freed when the last reference goes; the
 * kernel may still open, stat or read it until then, as on a local
 * filesystem (a reader that resolved a name just before a rename replaced
 * it must still be able to open what it found).
 *
 * A chained hash table that doubles when it holds twice as many entries as
 * buckets; entries exist only while a count is non-zero. Guarded by
 * fs->node_lock, a leaf lock (see fs.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "fs_internal.h"

struct fs_node {
    uint64_t ino;
    uint64_t nlookup;
    uint64_t nopen;
    uint64_t nwrite; /* of the opens, those for writing */
    struct fs_node *next;
};

int fs_nodes_init(struct lsmerfs *fs)
{
    fs->node_buckets = 1024;
    fs->node_count = 0;
    fs->node_tab = calloc(fs->node_buckets, sizeof(*fs->node_tab));
    return fs->node_tab ? 0 : -ENOMEM;
}

void fs_nodes_free(struct lsmerfs *fs)
{
    for (size_t i = 0; fs->node_tab && i < fs->node_buckets; i++) {
        struct fs_node *e = fs->node_tab[i];
        while (e) {
            struct fs_node *n = e->next;
            free(e);
            e = n;
        }
    }
    free(fs->node_tab);
    fs->node_tab = NULL;
}

static size_t bucket(uint64_t ino, size_t n)
{
    return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 32) & (n - 1);
}

static void grow(struct lsmerfs *fs)
{
    size_t n = fs->node_buckets * 2;
    struct fs_node **tab = calloc(n, sizeof(*tab));
    if (!tab) return; /* longer chains, still correct */
    for (size_t i = 0; i < fs->node_buckets; i++) {
        struct fs_node *e = fs->node_tab[i];
        while (e) {
            struct fs_node *next = e->next;
            size_t b = bucket(e->ino, n);
            e->next = tab[b];
            tab[b] = e;
            e = next;
        }
    }
    free(fs->node_tab);
    fs->node_tab = tab;
    fs->node_buckets = n;
}

int fs_node_get(struct lsmerfs *fs, uint64_t ino, uint64_t lookups, uint64_t opens)
{
    int rc = 0;
    pthread_mutex_lock(&fs->node_lock);
    struct fs_node **head = &fs->node_tab[bucket(ino, fs->node_buckets)], *e;
    for (e = *head; e; e = e->next)
        if (e->ino == ino) break;
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (!e) {
            rc = -ENOMEM;
            goto out;
        }
        e->ino = ino;
        e->next = *head;
        *head = e;
        if (++fs->node_count > 2 * fs->node_buckets) grow(fs);
    }
    e->nlookup += lookups;
    e->nopen += opens;
out:
    pthread_mutex_unlock(&fs->node_lock);
    return rc;
}

int fs_node_put(struct lsmerfs *fs, uint64_t ino, uint64_t lookups, uint64_t opens)
{
    int idle = 0;
    pthread_mutex_lock(&fs->node_lock);
    struct fs_node **pp = &fs->node_tab[bucket(ino, fs->node_buckets)];
    for (; *pp; pp = &(*pp)->next) {
        struct fs_node *e = *pp;
        if (e->ino != ino) continue;
        e->nlookup = e->nlookup > lookups ? e->nlookup - lookups : 0;
        e->nopen = e->nopen > opens ? e->nopen - opens : 0;
        if (e->nlookup == 0 && e->nopen == 0) {
            *pp = e->next;
            free(e);
            fs->node_count--;
            idle = 1;
        }
        break;
    }
    pthread_mutex_unlock(&fs->node_lock);
    return idle;
}

void fs_node_writer(struct lsmerfs *fs, uint64_t ino, int delta)
{
    pthread_mutex_lock(&fs->node_lock);
    for (struct fs_node *e = fs->node_tab[bucket(ino, fs->node_buckets)]; e; e = e->next) {
        if (e->ino != ino) continue;
        if (delta > 0)
            e->nwrite++;
        else if (e->nwrite > 0)
            e->nwrite--;
        break;
    }
    pthread_mutex_unlock(&fs->node_lock);
}

int fs_node_writing(struct lsmerfs *fs, uint64_t ino)
{
    int writing = 0;
    pthread_mutex_lock(&fs->node_lock);
    for (struct fs_node *e = fs->node_tab[bucket(ino, fs->node_buckets)]; e; e = e->next)
        if (e->ino == ino) writing = e->nwrite > 0;
    pthread_mutex_unlock(&fs->node_lock);
    return writing;
}

int fs_node_busy(struct lsmerfs *fs, uint64_t ino)
{
    int busy = 0;
    pthread_mutex_lock(&fs->node_lock);
    for (struct fs_node *e = fs->node_tab[bucket(ino, fs->node_buckets)]; e; e = e->next)
        if (e->ino == ino) busy = e->nlookup > 0 || e->nopen > 0;
    pthread_mutex_unlock(&fs->node_lock);
    return busy;
}

int fs_reclaim_if_unlinked(struct lsmerfs *fs, uint64_t ino)
{
    struct kv_batch *b = NULL;
    struct fs_inode *in = malloc(sizeof(*in));
    if (!in) return -ENOMEM; /* the orphan key stays; the next mount frees it */
    int rc = fs_inode_get(fs, NULL, ino, in);
    if (rc == 0 && in->nlink == 0) {
        rc = kv_batch_new(&b);
        if (rc == 0) rc = fs_purge_ops(b, ino, in);
        if (rc == 0) rc = kv_commit(fs->kv, b, 0);
        if (rc == 0) fs_space_freed(fs);
    } else if (rc == -ENOENT) {
        rc = 0;
    }
    kv_batch_free(b);
    free(in);
    return rc;
}

void fs_forget(struct lsmerfs *fs, uint64_t ino, uint64_t nlookup)
{
    struct fs_locks l;
    fs_lock_inos(fs, &l, &ino, 1);
    if (fs_node_put(fs, ino, nlookup, 0)) {
        int rc = fs_reclaim_if_unlinked(fs, ino);
        if (rc)
            fs_logf(fs, 1, "freeing unlinked inode %llu failed (%d); the next mount will",
                    (unsigned long long)ino, rc);
    }
    fs_unlock_inos(fs, &l);
}
