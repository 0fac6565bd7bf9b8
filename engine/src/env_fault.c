/*
 * env_fault.c — the power-loss and error-injection env for tests.
 *
 * Method. Every file written through this env has a node recording its size
 * as written and its synced length (env_sync() sets synced = size; the real
 * fdatasync is skipped because only the simulated power loss matters, which
 * keeps crash tests fast). Every namespace change — a creation, a rename, a
 * removal — is done for real on the base env at once (so readers see it) and
 * also pushed on an undo log naming the directories whose env_sync_dir()
 * would make it durable. Whatever a rename replaces or a removal deletes is
 * not deleted: it is renamed aside to "<path>.faultbak-<n>" in the base env
 * (hidden from env_list()) until the change becomes durable.
 *
 * env_sync_dir(d) commits the log entries about d: their backups are deleted.
 * fault_env_restore() undoes the remaining entries newest first (un-rename,
 * un-remove by renaming the backup back, un-create by deleting), then cuts
 * every surviving file back to its synced length. The result is what a power
 * loss leaves on a filesystem that keeps synced data and synced directory
 * entries and nothing else.
 *
 * Limits: directories made by env_mkdir() are treated as durable at once;
 * directory names must be spelled alike in paths and in env_sync_dir()
 * (trailing slashes are ignored); a rename across directories is committed
 * when both directories are synced. Files present before the env saw them
 * are taken as wholly durable. Opening an existing file with ENV_WRITE
 * truncates it and its durable content with it.
 *
 * Thread safety: one mutex guards all state and is held across the base
 * env's calls, except that the on-sync callback runs with it released (so
 * it may call fault_env_crash()).
 */
#include "env_fault.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAULT_BACKUP_TAG ".faultbak-"

struct fnode {
    char *path;      /* current name while live */
    uint64_t size;   /* bytes appended so far */
    uint64_t synced; /* durable prefix */
    /* [lost_lo, lost_hi): bytes a sync failed with EIO to write. Linux
     * marks such pages clean, so a later successful sync does not write them
     * either: after a power loss they read as zeros. */
    uint64_t lost_lo, lost_hi;
    /* env_prealloc(): the real file's length (zeros past size), and that
     * length as of the last sync (a power loss keeps a synced prealloc). */
    uint64_t prealloc, prealloc_synced;
    int live; /* has a name in the namespace */
    int refs; /* open handles + undo entries pointing here */
    struct fnode *next;
};

enum undo_kind { UNDO_CREATE, UNDO_RENAME, UNDO_REMOVE };

struct undo {
    enum undo_kind kind;
    char *path;   /* CREATE/REMOVE: the name; RENAME: the source */
    char *to;     /* RENAME: the target */
    char *backup; /* RENAME: replaced target; REMOVE: removed file */
    char *dir_a;  /* directory of path */
    char *dir_b;  /* RENAME: directory of to */
    int a_synced, b_synced;
    struct fnode *node; /* the file created / renamed / removed */
    struct fnode *old;  /* RENAME: the replaced target, or NULL */
    struct undo *prev, *next;
};

struct fault_env {
    struct lsmer_env env; /* first: the public handle */
    struct lsmer_env *base;
    pthread_mutex_t mu;
    /* everything below protected by mu */
    struct fnode *nodes;
    struct undo *undo_head, *undo_tail;
    uint64_t backup_seq;
    uint64_t epoch; /* handles from an earlier epoch are dead */
    int crashed;
    unsigned fail_ops;
    uint64_t fail_skip;
    int fail_err;
    int fail_sticky;
    uint64_t syncs;
    void (*on_sync)(void *arg);
    void *on_sync_arg;
};

struct fault_file {
    struct env_file base;
    struct env_file *real;
    struct fnode *node; /* NULL for read-only handles */
    uint64_t epoch;
};

static struct fault_env *fenv(struct lsmer_env *e)
{
    return (struct fault_env *)e;
}

/* ---------------------------------------------------------------- helpers */

/* Returns the error an operation of kind should fail with, or 0. */
static int fault_check(struct fault_env *fe, unsigned kind)
{
    if (fe->crashed) return -EIO;
    if (!(fe->fail_ops & kind)) return 0;
    if (fe->fail_skip > 0) {
        fe->fail_skip--;
        return 0;
    }
    int err = fe->fail_err;
    if (!fe->fail_sticky) fe->fail_ops = 0;
    return err;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static char *dir_norm(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    return strndup(dir, n);
}

static struct fnode *node_find(struct fault_env *fe, const char *path)
{
    for (struct fnode *n = fe->nodes; n; n = n->next)
        if (n->live && !strcmp(n->path, path)) return n;
    return NULL;
}

static struct fnode *node_new(struct fault_env *fe, const char *path, uint64_t size)
{
    struct fnode *n = calloc(1, sizeof(*n));
    if (!n) return NULL;
    n->path = strdup(path);
    if (!n->path) {
        free(n);
        return NULL;
    }
    n->size = n->synced = size;
    n->live = 1;
    n->next = fe->nodes;
    fe->nodes = n;
    return n;
}

/* Frees nodes that nothing names or points to any more. */
static void node_gc(struct fault_env *fe)
{
    struct fnode **pp = &fe->nodes;
    while (*pp) {
        struct fnode *n = *pp;
        if (!n->live && n->refs == 0) {
            *pp = n->next;
            free(n->path);
            free(n);
        } else {
            pp = &n->next;
        }
    }
}

static int node_set_path(struct fnode *n, const char *path)
{
    char *p = strdup(path);
    if (!p) return -ENOMEM;
    free(n->path);
    n->path = p;
    return 0;
}

/* The node of an existing file, made on first sight (then wholly durable). */
static int node_get_existing(struct fault_env *fe, const char *path, struct fnode **out)
{
    uint64_t size = 0;
    int rc;

    *out = node_find(fe, path);
    if (*out) return 0;
    rc = env_file_size(fe->base, path, &size);
    if (rc < 0) return rc;
    *out = node_new(fe, path, size);
    return *out ? 0 : -ENOMEM;
}

static char *backup_name(struct fault_env *fe, const char *path)
{
    size_t n = strlen(path) + sizeof(FAULT_BACKUP_TAG) + 24;
    char *b = malloc(n);
    if (b) snprintf(b, n, "%s" FAULT_BACKUP_TAG "%llu", path, (unsigned long long)++fe->backup_seq);
    return b;
}

/* Renames the existing file at path aside to a new backup name, so that
 * undoing the change that replaces or removes it can bring it back. On
 * success *n is its node and *backup the name it now has (the caller owns
 * it); on failure *backup is NULL. Call with mu held. */
static int set_aside(struct fault_env *fe, const char *path, struct fnode **n, char **backup)
{
    *backup = NULL;
    int rc = node_get_existing(fe, path, n);
    if (rc < 0) return rc;
    char *b = backup_name(fe, path);
    if (!b) return -ENOMEM;
    rc = env_rename(fe->base, path, b);
    if (rc < 0) {
        free(b);
        return rc;
    }
    *backup = b;
    return 0;
}

static void undo_free(struct fault_env *fe, struct undo *u)
{
    if (u->node) u->node->refs--;
    if (u->old) u->old->refs--;
    free(u->path);
    free(u->to);
    free(u->backup);
    free(u->dir_a);
    free(u->dir_b);
    free(u);
    node_gc(fe);
}

static void undo_unlink(struct fault_env *fe, struct undo *u)
{
    if (u->prev)
        u->prev->next = u->next;
    else
        fe->undo_head = u->next;
    if (u->next)
        u->next->prev = u->prev;
    else
        fe->undo_tail = u->prev;
}

/* Builds and appends an undo entry; on -ENOMEM the caller's change stays
 * done but will survive a simulated power loss (tests do not run out of
 * memory in practice). */
static int undo_push(struct fault_env *fe, enum undo_kind kind, const char *path, const char *to,
                     char *backup, struct fnode *node, struct fnode *old)
{
    struct undo *u = calloc(1, sizeof(*u));
    if (!u) goto nomem;
    u->kind = kind;
    u->path = strdup(path);
    u->dir_a = dir_of(path);
    if (!u->path || !u->dir_a) goto nomem;
    if (to) {
        u->to = strdup(to);
        u->dir_b = dir_of(to);
        if (!u->to || !u->dir_b) goto nomem;
    } else {
        u->b_synced = 1;
    }
    u->backup = backup;
    u->node = node;
    u->old = old;
    if (node) node->refs++;
    if (old) old->refs++;
    u->prev = fe->undo_tail;
    if (fe->undo_tail)
        fe->undo_tail->next = u;
    else
        fe->undo_head = u;
    fe->undo_tail = u;
    return 0;
nomem:
    if (u) {
        free(u->path);
        free(u->to);
        free(u->dir_a);
        free(u->dir_b);
        free(u);
    }
    free(backup);
    return -ENOMEM;
}

/* The change is durable: forget how to undo it and drop its backup. */
static void undo_commit(struct fault_env *fe, struct undo *u)
{
    undo_unlink(fe, u);
    if (u->backup) env_remove(fe->base, u->backup);
    undo_free(fe, u);
}

static int undo_apply(struct fault_env *fe, struct undo *u)
{
    int rc = 0, r;

    switch (u->kind) {
    case UNDO_CREATE:
        r = env_remove(fe->base, u->path);
        if (r < 0 && r != -ENOENT) rc = r;
        u->node->live = 0;
        break;
    case UNDO_RENAME:
        rc = env_rename(fe->base, u->to, u->path);
        if (rc == 0) rc = node_set_path(u->node, u->path);
        if (u->backup) {
            r = env_rename(fe->base, u->backup, u->to);
            if (r < 0 && rc == 0) rc = r;
            if (u->old) {
                u->old->live = 1;
                r = node_set_path(u->old, u->to);
                if (r < 0 && rc == 0) rc = r;
            }
        }
        break;
    case UNDO_REMOVE:
        rc = env_rename(fe->base, u->backup, u->path);
        if (rc == 0) {
            u->node->live = 1;
            rc = node_set_path(u->node, u->path);
        }
        break;
    }
    return rc;
}

/* Cuts path back to its first len bytes using only base env calls. */
/* Rewrites path as its first len bytes (lost_lo..lost_hi zeroed) followed
 * by pad zero bytes (a preallocation that survived). */
static int truncate_to(struct lsmer_env *base, const char *path, uint64_t len, uint64_t lost_lo,
                       uint64_t lost_hi, uint64_t pad)
{
    struct env_file *f = NULL;
    void *buf = NULL;
    size_t got = 0;
    int rc;

    if (len > SIZE_MAX) return -ENOMEM;
    buf = malloc(len ? (size_t)len : 1);
    if (!buf) return -ENOMEM;
    rc = env_open(base, path, ENV_READ, &f);
    if (rc < 0) goto out;
    rc = env_pread(f, buf, (size_t)len, 0, &got);
    env_close(f);
    f = NULL;
    if (rc < 0) goto out;
    if (lost_hi > got) lost_hi = got;
    if (lost_lo < lost_hi) memset((char *)buf + lost_lo, 0, (size_t)(lost_hi - lost_lo));
    rc = env_open(base, path, ENV_WRITE, &f);
    if (rc < 0) goto out;
    if (got) rc = env_append(f, buf, got);
    while (rc == 0 && pad > 0) {
        static const char zeros[4096];
        size_t k = pad < sizeof(zeros) ? (size_t)pad : sizeof(zeros);
        rc = env_append(f, zeros, k);
        pad -= k;
    }
out:
    if (f) {
        int c = env_close(f);
        if (rc == 0) rc = c;
    }
    free(buf);
    return rc;
}

/* ------------------------------------------------------------ file ops */

static int fault_open(struct lsmer_env *e, const char *path, int mode, struct env_file **out)
{
    struct fault_env *fe = fenv(e);
    struct fault_file *ff = NULL;
    struct env_file *real = NULL;
    struct fnode *n = NULL;
    int existed = 0, rc;

    *out = NULL;
    ff = calloc(1, sizeof(*ff));
    if (!ff) return -ENOMEM;
    pthread_mutex_lock(&fe->mu);
    rc = fault_check(fe, FAULT_OPEN);
    if (rc < 0) goto out;
    if (mode != ENV_READ) {
        existed = env_exists(fe->base, path);
        if (existed < 0) {
            rc = existed;
            goto out;
        }
    }
    rc = env_open(fe->base, path, mode, &real);
    if (rc < 0) goto out;
    if (mode != ENV_READ) {
        uint64_t size = 0;
        n = node_find(fe, path);
        if (mode == ENV_APPEND) {
            rc = env_size(real, &size);
            if (rc < 0) goto out;
        }
        if (!n) {
            /* A file already there counts as durable up to its size. */
            n = node_new(fe, path, existed ? size : 0);
            if (!n) {
                rc = -ENOMEM;
                goto out;
            }
            if (!existed) {
                rc = undo_push(fe, UNDO_CREATE, path, NULL, NULL, n, NULL);
                if (rc < 0) goto out;
            }
        } else if (mode == ENV_WRITE) {
            n->size = n->synced = 0;
            n->prealloc = n->prealloc_synced = n->lost_lo = n->lost_hi = 0;
        }
        n->size = mode == ENV_WRITE ? 0 : size;
        if (n->synced > n->size) n->synced = n->size;
        n->refs++;
    }
    ff->base.env = e;
    ff->real = real;
    ff->node = n;
    ff->epoch = fe->epoch;
    *out = &ff->base;
    real = NULL;
    ff = NULL;
out:
    pthread_mutex_unlock(&fe->mu);
    if (real) env_close(real);
    free(ff);
    return rc;
}

/* Call with mu held: the handle's error before any file op, or 0. */
static int file_check(struct fault_env *fe, struct fault_file *ff, unsigned kind)
{
    if (ff->epoch != fe->epoch) return -EIO; /* opened before a power loss */
    return fault_check(fe, kind);
}

/* Call with mu held: the error of an op that writes through ff (append,
 * prealloc) before it runs, or 0. A read-only handle cannot write. */
static int write_check(struct fault_env *fe, struct fault_file *ff)
{
    int rc = file_check(fe, ff, FAULT_APPEND);
    if (rc == 0 && !ff->node) rc = -EBADF;
    return rc;
}

static int fault_pread(struct env_file *f, void *buf, size_t n, uint64_t off, size_t *got)
{
    struct fault_file *ff = (struct fault_file *)f;
    struct fault_env *fe = fenv(f->env);
    int rc;

    *got = 0;
    pthread_mutex_lock(&fe->mu);
    rc = file_check(fe, ff, FAULT_READ);
    if (rc == 0) rc = env_pread(ff->real, buf, n, off, got);
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

static int fault_append(struct env_file *f, const void *buf, size_t n)
{
    struct fault_file *ff = (struct fault_file *)f;
    struct fault_env *fe = fenv(f->env);
    int rc;

    pthread_mutex_lock(&fe->mu);
    rc = write_check(fe, ff);
    if (rc == 0) {
        rc = env_append(ff->real, buf, n);
        if (rc == 0)
            ff->node->size += n;
        else
            env_size(ff->real, &ff->node->size); /* a short write may have landed */
    }
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

static int fault_prealloc(struct env_file *f, uint64_t len, int written)
{
    struct fault_file *ff = (struct fault_file *)f;
    struct fault_env *fe = fenv(f->env);
    pthread_mutex_lock(&fe->mu);
    int rc = write_check(fe, ff);
    if (rc == 0) rc = env_prealloc(ff->real, len, written);
    if (rc == 0 && ff->node->size + len > ff->node->prealloc)
        ff->node->prealloc = ff->node->size + len;
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

static int fault_sync(struct env_file *f)
{
    struct fault_file *ff = (struct fault_file *)f;
    struct fault_env *fe = fenv(f->env);
    void (*fn)(void *) = NULL;
    void *arg = NULL;
    int rc;

    pthread_mutex_lock(&fe->mu);
    rc = file_check(fe, ff, FAULT_SYNC);
    if (rc == -EIO && ff->node && !fe->crashed && ff->epoch == fe->epoch &&
        ff->node->size > ff->node->synced) {
        struct fnode *n = ff->node;
        if (n->lost_hi <= n->lost_lo) n->lost_lo = n->synced;
        n->lost_hi = n->size;
    }
    if (rc == 0) {
        if (ff->node) ff->node->synced = ff->node->size;
        if (ff->node) ff->node->prealloc_synced = ff->node->prealloc;
        fe->syncs++;
        fn = fe->on_sync;
        arg = fe->on_sync_arg;
    }
    pthread_mutex_unlock(&fe->mu);
    if (fn) fn(arg);
    return rc;
}

static int fault_size(struct env_file *f, uint64_t *out)
{
    struct fault_file *ff = (struct fault_file *)f;
    struct fault_env *fe = fenv(f->env);
    int rc;

    pthread_mutex_lock(&fe->mu);
    rc = file_check(fe, ff, 0);
    if (rc == 0) rc = env_size(ff->real, out);
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

static int fault_close(struct env_file *f)
{
    struct fault_file *ff = (struct fault_file *)f;
    struct fault_env *fe = fenv(f->env);
    int rc;

    pthread_mutex_lock(&fe->mu);
    rc = env_close(ff->real); /* always release the real handle */
    if (fe->crashed || ff->epoch != fe->epoch) rc = -EIO;
    if (ff->node) {
        ff->node->refs--;
        node_gc(fe);
    }
    pthread_mutex_unlock(&fe->mu);
    free(ff);
    return rc;
}

/* ------------------------------------------------------- namespace ops */

static int fault_file_size(struct lsmer_env *e, const char *path, uint64_t *out)
{
    struct fault_env *fe = fenv(e);
    int rc;
    pthread_mutex_lock(&fe->mu);
    rc = fe->crashed ? -EIO : env_file_size(fe->base, path, out);
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

/* A call on a path that needs no undo entry, passed to the base env
 * under mu; -EIO after a simulated power loss. */
static int pass_path_op(struct lsmer_env *e, const char *path,
                        int (*op)(struct lsmer_env *base, const char *path))
{
    struct fault_env *fe = fenv(e);
    pthread_mutex_lock(&fe->mu);
    int rc = fe->crashed ? -EIO : op(fe->base, path);
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

static int fault_exists(struct lsmer_env *e, const char *path)
{
    return pass_path_op(e, path, env_exists);
}

static int fault_mkdir(struct lsmer_env *e, const char *path)
{
    return pass_path_op(e, path, env_mkdir);
}

static int fault_remove(struct lsmer_env *e, const char *path)
{
    struct fault_env *fe = fenv(e);
    struct fnode *n = NULL;
    char *backup = NULL;
    int rc;

    pthread_mutex_lock(&fe->mu);
    rc = fault_check(fe, FAULT_REMOVE);
    if (rc < 0) goto out;
    /* Keep the file aside: a power loss before the directory sync brings
     * it back. */
    rc = set_aside(fe, path, &n, &backup);
    if (rc < 0) goto out;
    n->live = 0;
    rc = undo_push(fe, UNDO_REMOVE, path, NULL, backup, n, NULL);
    backup = NULL;
out:
    free(backup);
    node_gc(fe);
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

static int fault_rename(struct lsmer_env *e, const char *from, const char *to)
{
    struct fault_env *fe = fenv(e);
    struct fnode *n = NULL, *old = NULL;
    char *backup = NULL;
    int rc, ex;

    pthread_mutex_lock(&fe->mu);
    rc = fault_check(fe, FAULT_RENAME);
    if (rc < 0) goto out;
    rc = node_get_existing(fe, from, &n);
    if (rc < 0 || !strcmp(from, to)) goto out;
    ex = env_exists(fe->base, to);
    if (ex < 0) {
        rc = ex;
        goto out;
    }
    if (ex) {
        rc = set_aside(fe, to, &old, &backup);
        if (rc < 0) goto out;
    }
    rc = env_rename(fe->base, from, to);
    if (rc < 0) {
        if (backup) env_rename(fe->base, backup, to);
        goto out;
    }
    if (old) old->live = 0;
    rc = node_set_path(n, to);
    if (rc < 0) goto out;
    rc = undo_push(fe, UNDO_RENAME, from, to, backup, n, old);
    backup = NULL;
out:
    free(backup);
    node_gc(fe);
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

static int fault_sync_dir(struct lsmer_env *e, const char *dir)
{
    struct fault_env *fe = fenv(e);
    char *d = dir_norm(dir);
    int rc;

    if (!d) return -ENOMEM;
    pthread_mutex_lock(&fe->mu);
    rc = fault_check(fe, FAULT_SYNC_DIR);
    if (rc == 0) {
        struct undo *u = fe->undo_head, *next;
        for (; u; u = next) {
            next = u->next;
            if (!strcmp(u->dir_a, d)) u->a_synced = 1;
            if (u->dir_b && !strcmp(u->dir_b, d)) u->b_synced = 1;
            if (u->a_synced && u->b_synced) undo_commit(fe, u);
        }
    }
    pthread_mutex_unlock(&fe->mu);
    free(d);
    return rc;
}

static int fault_list(struct lsmer_env *e, const char *dir, char ***names, size_t *count)
{
    struct fault_env *fe = fenv(e);
    int rc;

    *names = NULL;
    *count = 0;
    pthread_mutex_lock(&fe->mu);
    rc = fe->crashed ? -EIO : env_list(fe->base, dir, names, count);
    pthread_mutex_unlock(&fe->mu);
    if (rc < 0) return rc;
    /* Hide the backups of not-yet-durable renames and removals. */
    size_t j = 0;
    for (size_t i = 0; i < *count; i++) {
        if (strstr((*names)[i], FAULT_BACKUP_TAG))
            free((*names)[i]);
        else
            (*names)[j++] = (*names)[i];
    }
    *count = j;
    return 0;
}

static int fault_lock(struct lsmer_env *e, const char *path, struct env_lock **out)
{
    struct fault_env *fe = fenv(e);
    int rc;
    *out = NULL;
    pthread_mutex_lock(&fe->mu);
    rc = fe->crashed ? -EIO : env_lock(fe->base, path, out);
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

static void fault_unlock(struct lsmer_env *e, struct env_lock *lk)
{
    struct fault_env *fe = fenv(e);
    pthread_mutex_lock(&fe->mu);
    env_unlock(fe->base, lk);
    pthread_mutex_unlock(&fe->mu);
}

static int fault_free_space(struct lsmer_env *e, const char *dir, uint64_t *avail, uint64_t *total)
{
    struct fault_env *fe = fenv(e);
    int rc;
    pthread_mutex_lock(&fe->mu);
    rc = fe->crashed ? -EIO : env_free_space(fe->base, dir, avail, total);
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

static uint64_t fault_now_micros(struct lsmer_env *e)
{
    return env_now_micros(fenv(e)->base);
}

static void fault_destroy(struct lsmer_env *e)
{
    fault_env_free(e);
}

static const struct env_ops fault_ops = {
    .open = fault_open,
    .pread = fault_pread,
    .append = fault_append,
    .sync = fault_sync,
    .prealloc = fault_prealloc,
    .size = fault_size,
    .close = fault_close,
    .file_size = fault_file_size,
    .exists = fault_exists,
    .remove = fault_remove,
    .rename = fault_rename,
    .mkdir = fault_mkdir,
    .sync_dir = fault_sync_dir,
    .list = fault_list,
    .lock = fault_lock,
    .unlock = fault_unlock,
    .free_space = fault_free_space,
    .now_micros = fault_now_micros,
    .destroy = fault_destroy,
};

/* ------------------------------------------------------------------ API */

struct lsmer_env *fault_env_new(struct lsmer_env *base)
{
    struct fault_env *fe = calloc(1, sizeof(*fe));
    if (!fe) return NULL;
    if (pthread_mutex_init(&fe->mu, NULL) != 0) {
        free(fe);
        return NULL;
    }
    fe->env.ops = &fault_ops;
    fe->base = base;
    return &fe->env;
}

/* Leaves the files as a clean shutdown would: pending changes stay, their
 * backups go. Every file opened through the env must be closed first. */
void fault_env_free(struct lsmer_env *e)
{
    struct fault_env *fe;
    if (!e) return;
    fe = fenv(e);
    pthread_mutex_lock(&fe->mu);
    while (fe->undo_head) undo_commit(fe, fe->undo_head);
    while (fe->nodes) {
        struct fnode *n = fe->nodes;
        fe->nodes = n->next;
        free(n->path);
        free(n);
    }
    pthread_mutex_unlock(&fe->mu);
    pthread_mutex_destroy(&fe->mu);
    free(fe);
}

void fault_env_crash(struct lsmer_env *e)
{
    struct fault_env *fe = fenv(e);
    pthread_mutex_lock(&fe->mu);
    fe->crashed = 1;
    pthread_mutex_unlock(&fe->mu);
}

int fault_env_restore(struct lsmer_env *e)
{
    struct fault_env *fe = fenv(e);
    int rc = 0, r;

    pthread_mutex_lock(&fe->mu);
    /* Newest first, so each undo finds the namespace its change left. */
    while (fe->undo_tail) {
        struct undo *u = fe->undo_tail;
        r = undo_apply(fe, u);
        if (r < 0 && rc == 0) rc = r;
        undo_unlink(fe, u);
        undo_free(fe, u);
    }
    for (struct fnode *n = fe->nodes; n; n = n->next) {
        if (!n->live ||
            (n->size <= n->synced && n->lost_hi <= n->lost_lo && n->prealloc <= n->synced))
            continue;
        uint64_t pad = n->prealloc_synced > n->synced ? n->prealloc_synced - n->synced : 0;
        r = truncate_to(fe->base, n->path, n->synced, n->lost_lo, n->lost_hi, pad);
        n->lost_lo = n->lost_hi = 0;
        n->prealloc = n->prealloc_synced = 0;
        if (r < 0 && rc == 0) rc = r;
        n->size = n->synced;
    }
    fe->epoch++; /* handles still open refer to the world before the crash */
    fe->crashed = 0;
    node_gc(fe);
    pthread_mutex_unlock(&fe->mu);
    return rc;
}

void fault_env_fail(struct lsmer_env *e, unsigned ops, uint64_t skip, int err, int sticky)
{
    struct fault_env *fe = fenv(e);
    pthread_mutex_lock(&fe->mu);
    fe->fail_ops = ops;
    fe->fail_skip = skip;
    fe->fail_err = err > 0 ? -err : err ? err : -EIO;
    fe->fail_sticky = sticky;
    pthread_mutex_unlock(&fe->mu);
}

void fault_env_clear(struct lsmer_env *e)
{
    struct fault_env *fe = fenv(e);
    pthread_mutex_lock(&fe->mu);
    fe->fail_ops = 0;
    fe->fail_skip = 0;
    pthread_mutex_unlock(&fe->mu);
}

uint64_t fault_env_syncs(struct lsmer_env *e)
{
    struct fault_env *fe = fenv(e);
    uint64_t n;
    pthread_mutex_lock(&fe->mu);
    n = fe->syncs;
    pthread_mutex_unlock(&fe->mu);
    return n;
}

void fault_env_on_sync(struct lsmer_env *e, void (*fn)(void *arg), void *arg)
{
    struct fault_env *fe = fenv(e);
    pthread_mutex_lock(&fe->mu);
    fe->on_sync = fn;
    fe->on_sync_arg = arg;
    pthread_mutex_unlock(&fe->mu);
}
