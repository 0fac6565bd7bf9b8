/* filename.c — database file names; see filename.h. */
#include "filename.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int filename_make(char *buf, size_t cap, const char *dir, enum file_kind kind, uint64_t number)
{
    char name[FILENAME_MAX_BYTES];
    unsigned long long n = (unsigned long long)number;
    switch (kind) {
    case FILE_KIND_CURRENT:
        snprintf(name, sizeof(name), "CURRENT");
        break;
    case FILE_KIND_LOCK:
        snprintf(name, sizeof(name), "LOCK");
        break;
    case FILE_KIND_MANIFEST:
        snprintf(name, sizeof(name), "MANIFEST-%06llu", n);
        break;
    case FILE_KIND_LOG:
        snprintf(name, sizeof(name), "%06llu.log", n);
        break;
    case FILE_KIND_TABLE:
        snprintf(name, sizeof(name), "%06llu.sst", n);
        break;
    case FILE_KIND_TEMP:
        snprintf(name, sizeof(name), "%06llu.tmp", n);
        break;
    default:
        return -EINVAL;
    }
    int len = dir ? snprintf(buf, cap, "%s/%s", dir, name) : snprintf(buf, cap, "%s", name);
    if (len < 0 || (size_t)len >= cap) return -ENAMETOOLONG;
    return 0;
}

int filename_current(char *buf, size_t cap, const char *dir)
{
    return filename_make(buf, cap, dir, FILE_KIND_CURRENT, 0);
}
int filename_lock(char *buf, size_t cap, const char *dir)
{
    return filename_make(buf, cap, dir, FILE_KIND_LOCK, 0);
}
int filename_manifest(char *buf, size_t cap, const char *dir, uint64_t number)
{
    return filename_make(buf, cap, dir, FILE_KIND_MANIFEST, number);
}
int filename_log(char *buf, size_t cap, const char *dir, uint64_t number)
{
    return filename_make(buf, cap, dir, FILE_KIND_LOG, number);
}
int filename_table(char *buf, size_t cap, const char *dir, uint64_t number)
{
    return filename_make(buf, cap, dir, FILE_KIND_TABLE, number);
}
int filename_temp(char *buf, size_t cap, const char *dir, uint64_t number)
{
    return filename_make(buf, cap, dir, FILE_KIND_TEMP, number);
}

/* Parses the decimal number at the start of s spelled exactly as "%06llu"
 * prints it; sets *end past it. -EINVAL otherwise. */
static int parse_number(const char *s, uint64_t *out, const char **end)
{
    size_t len = 0;
    uint64_t v = 0;
    while (s[len] >= '0' && s[len] <= '9') {
        unsigned d = (unsigned)(s[len] - '0');
        if (v > (UINT64_MAX - d) / 10) return -EINVAL; /* overflow */
        v = v * 10 + d;
        len++;
    }
    if (len == 0) return -EINVAL;
    char canon[24];
    int clen = snprintf(canon, sizeof(canon), "%06llu", (unsigned long long)v);
    if (clen < 0 || (size_t)clen != len || memcmp(canon, s, len) != 0) return -EINVAL;
    *out = v;
    *end = s + len;
    return 0;
}

int filename_parse(const char *name, uint64_t *number, enum file_kind *kind)
{
    const char *rest;
    uint64_t n = 0;
    if (!name) return -EINVAL;
    if (strcmp(name, "CURRENT") == 0) {
        *kind = FILE_KIND_CURRENT;
    } else if (strcmp(name, "LOCK") == 0) {
        *kind = FILE_KIND_LOCK;
    } else if (strncmp(name, "MANIFEST-", 9) == 0) {
        if (parse_number(name + 9, &n, &rest) || *rest) return -EINVAL;
        *kind = FILE_KIND_MANIFEST;
    } else {
        size_t len = strlen(name);
        if (len > 4 && strcmp(name + len - 4, ".tmp") == 0) {
            /* Any "<something>.tmp" is ours: env_write_file_atomic makes
             * "<name>.tmp" for whatever it writes. */
            if (parse_number(name, &n, &rest) || strcmp(rest, ".tmp") != 0) n = 0;
            *kind = FILE_KIND_TEMP;
        } else {
            if (parse_number(name, &n, &rest)) return -EINVAL;
            if (strcmp(rest, ".log") == 0)
                *kind = FILE_KIND_LOG;
            else if (strcmp(rest, ".sst") == 0)
                *kind = FILE_KIND_TABLE;
            else
                return -EINVAL;
        }
    }
    *number = n;
    return 0;
}
