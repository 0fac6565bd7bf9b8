/*
 * env.c — helpers built on top of any env: list freeing, whole-file reads and
 * crash-atomic whole-file replacement. They use only the env's ops, so they
 * behave the same on the POSIX env and on the fault-injecting test env.
 */
#include "env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void env_free_list(char **names, size_t count)
{
    if (!names) return;
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
}

int env_read_file(struct lsmer_env *e, const char *path, void **data, size_t *len)
{
    struct env_file *f = NULL;
    uint8_t *buf = NULL;
    uint64_t size = 0;
    size_t got = 0;
    int rc;

    *data = NULL;
    *len = 0;
    rc = env_open(e, path, ENV_READ, &f);
    if (rc < 0) goto out;
    rc = env_size(f, &size);
    if (rc < 0) goto out;
    if (size > (uint64_t)SIZE_MAX - 1) {
        rc = -ENOMEM;
        goto out;
    }
    /* One spare byte, NUL, so small text files (CURRENT) can be parsed as
     * strings without another copy. */
    buf = malloc((size_t)size + 1);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    rc = env_pread(f, buf, (size_t)size, 0, &got);
    if (rc < 0) goto out;
    buf[got] = 0;
    *data = buf;
    *len = got;
    buf = NULL;
out:
    free(buf);
    if (f) {
        int crc = env_close(f);
        if (rc == 0 && crc < 0) {
            rc = crc;
            free(*data);
            *data = NULL;
            *len = 0;
        }
    }
    return rc;
}

int env_write_file_atomic(struct lsmer_env *e, const char *dir, const char *path, const void *data,
                          size_t len)
{
    struct env_file *f = NULL;
    size_t n = strlen(path) + 5;
    char *tmp = malloc(n);
    int rc;

    if (!tmp) return -ENOMEM;
    snprintf(tmp, n, "%s.tmp", path);
    rc = env_open(e, tmp, ENV_WRITE, &f);
    if (rc < 0) goto out;
    if (len) {
        rc = env_append(f, data, len);
        if (rc < 0) goto out;
    }
    rc = env_sync(f);
    if (rc < 0) goto out;
    rc = env_close(f);
    f = NULL;
    if (rc < 0) goto out;
    rc = env_rename(e, tmp, path);
    if (rc < 0) goto out;
    rc = env_sync_dir(e, dir);
out:
    if (f) env_close(f);
    /* A failed attempt leaves no temp file behind (best effort: after the
     * rename succeeded there is no temp file to remove). */
    if (rc < 0) env_remove(e, tmp);
    free(tmp);
    return rc;
}
