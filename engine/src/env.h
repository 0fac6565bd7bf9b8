/*
 * env.h — the IO layer. Every file the engine touches is opened, written,
 * read, synced, renamed and removed through these calls and nothing else, so
 * that a test env can simulate power loss and inject errors.
 *
 * Files are written append-only (the engine never overwrites bytes in
 * place); a writable file remembers its own end. env_append() hands the bytes
 * to the kernel (write(2)) before it returns, so they survive a crash of the
 * process; env_sync() makes them survive a power loss (fdatasync). A new or
 * renamed directory entry survives a power loss only after env_sync_dir() on
 * its directory.
 *
 * Every call returns 0 or a negative errno. Handles are not shared between
 * threads without external locking, except that env_pread() on a readable
 * file may be called from many threads at once.
 *
 * Implementations: env_posix.c (the real one, env_posix_default()) and
 * env_fault.c (for tests: drops unsynced writes on a simulated crash and
 * injects EIO/ENOSPC).
 */
#ifndef LSMER_ENV_H
#define LSMER_ENV_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

struct lsmer_env;
struct env_file;
struct env_lock;

enum env_open_flags {
    ENV_READ = 0,   /* read-only, random access */
    ENV_WRITE = 1,  /* create or truncate, append-only writing */
    ENV_APPEND = 2, /* open existing (or create) for appending at its end */
};

struct env_ops {
    int (*open)(struct lsmer_env *env, const char *path, int mode, struct env_file **out);
    int (*pread)(struct env_file *f, void *buf, size_t n, uint64_t off, size_t *got);
    int (*append)(struct env_file *f, const void *buf, size_t n);
    int (*sync)(struct env_file *f);
    int (*size)(struct env_file *f, uint64_t *out);
    int (*close)(struct env_file *f);

    int (*file_size)(struct lsmer_env *env, const char *path, uint64_t *out);
    int (*exists)(struct lsmer_env *env, const char *path); /* 1, 0, or -errno */
    int (*remove)(struct lsmer_env *env, const char *path);
    int (*rename)(struct lsmer_env *env, const char *from, const char *to);
    int (*mkdir)(struct lsmer_env *env, const char *path); /* 0 if it exists */
    int (*sync_dir)(struct lsmer_env *env, const char *dir);
    /* *names is a malloc'd array of malloc'd names (no "." or ".."). */
    int (*list)(struct lsmer_env *env, const char *dir, char ***names, size_t *count);
    int (*lock)(struct lsmer_env *env, const char *path, struct env_lock **out);
    void (*unlock)(struct lsmer_env *env, struct env_lock *lk);
    /* Bytes available to an unprivileged writer on the volume holding dir. */
    int (*free_space)(struct lsmer_env *env, const char *dir, uint64_t *avail, uint64_t *total);
    uint64_t (*now_micros)(struct lsmer_env *env); /* monotonic */
    void (*destroy)(struct lsmer_env *env);
    /* Optional (NULL: -EOPNOTSUPP): reserve len more bytes past the bytes
     * appended so far, as zeros, without moving where appends go; the file
     * may then read longer than what was appended (a log reader stops at
     * the zeros). Lets a sync after an append skip the size update.
     * written: write the zeros (blocks that need no conversion when
     * appends land in them, so each later sync is cheaper; costs writing
     * them once) rather than reserve them (fallocate). */
    int (*prealloc)(struct env_file *f, uint64_t len, int written);
    /* Optional (NULL: nothing): start writing [off, off + len) back to the
     * disk without waiting for it. Not a durability point (a test env that
     * simulates power loss must not count it as one); it only leaves less
     * for a later sync to write, so that sync returns sooner. */
    void (*start_writeback)(struct env_file *f, uint64_t off, uint64_t len);
};

struct lsmer_env {
    const struct env_ops *ops;
};

/* Every implementation's file handle starts with this. */
struct env_file {
    struct lsmer_env *env;
};

/* The process-wide POSIX env; never destroyed. */
struct lsmer_env *env_posix_default(void);

static inline int env_open(struct lsmer_env *e, const char *path, int mode, struct env_file **out)
{
    return e->ops->open(e, path, mode, out);
}
/* Reads up to n bytes at off; *got < n only at end of file. */
static inline int env_pread(struct env_file *f, void *buf, size_t n, uint64_t off, size_t *got)
{
    return f->env->ops->pread(f, buf, n, off, got);
}
static inline int env_append(struct env_file *f, const void *buf, size_t n)
{
    return f->env->ops->append(f, buf, n);
}
static inline int env_sync(struct env_file *f)
{
    return f->env->ops->sync(f);
}
static inline int env_prealloc(struct env_file *f, uint64_t len, int written)
{
    return f->env->ops->prealloc ? f->env->ops->prealloc(f, len, written) : -EOPNOTSUPP;
}
static inline void env_start_writeback(struct env_file *f, uint64_t off, uint64_t len)
{
    if (f->env->ops->start_writeback) f->env->ops->start_writeback(f, off, len);
}
static inline int env_size(struct env_file *f, uint64_t *out)
{
    return f->env->ops->size(f, out);
}
/* Closes (and frees) f even when it returns an error. NULL is a no-op. */
static inline int env_close(struct env_file *f)
{
    return f ? f->env->ops->close(f) : 0;
}
static inline int env_file_size(struct lsmer_env *e, const char *path, uint64_t *out)
{
    return e->ops->file_size(e, path, out);
}
static inline int env_exists(struct lsmer_env *e, const char *path)
{
    return e->ops->exists(e, path);
}
static inline int env_remove(struct lsmer_env *e, const char *path)
{
    return e->ops->remove(e, path);
}
static inline int env_rename(struct lsmer_env *e, const char *from, const char *to)
{
    return e->ops->rename(e, from, to);
}
static inline int env_mkdir(struct lsmer_env *e, const char *path)
{
    return e->ops->mkdir(e, path);
}
static inline int env_sync_dir(struct lsmer_env *e, const char *dir)
{
    return e->ops->sync_dir(e, dir);
}
static inline int env_list(struct lsmer_env *e, const char *dir, char ***names, size_t *count)
{
    return e->ops->list(e, dir, names, count);
}
static inline int env_lock(struct lsmer_env *e, const char *path, struct env_lock **out)
{
    return e->ops->lock(e, path, out);
}
static inline void env_unlock(struct lsmer_env *e, struct env_lock *lk)
{
    e->ops->unlock(e, lk);
}
static inline int env_free_space(struct lsmer_env *e, const char *dir, uint64_t *avail,
                                 uint64_t *total)
{
    return e->ops->free_space(e, dir, avail, total);
}
static inline uint64_t env_now_micros(struct lsmer_env *e)
{
    return e->ops->now_micros(e);
}

/* Frees a list returned by env_list(). */
void env_free_list(char **names, size_t count);

/* Reads a whole (small) file into a malloc'd buffer. */
int env_read_file(struct lsmer_env *e, const char *path, void **data, size_t *len);

/* Writes data to path via path.tmp + sync + rename + directory sync, so the
 * file is either wholly old or wholly new after a crash. dir is path's
 * directory. */
int env_write_file_atomic(struct lsmer_env *e, const char *dir, const char *path, const void *data,
                          size_t len);

#endif /* LSMER_ENV_H */
