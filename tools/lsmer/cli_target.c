/*
 * cli_target.c — resolves DATA_DIR|MOUNTPOINT arguments through
 * /proc/self/mountinfo (see cli_target.h).
 */
#include "cli_target.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* mountinfo escapes space, tab, newline and backslash as \ooo. In place. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
}

/* Calls fn(mountpoint, source, arg) for every lsmerfs mount; stops when fn
 * returns non-zero and returns that. */
static int for_each_lsmerfs(int (*fn)(const char *mnt, const char *src, void *arg), void *arg)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f) return 0;
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    while (!rc && getline(&line, &cap, f) > 0) {
        /* id parent major:minor root mountpoint options [optional...] - fstype source super */
        char *save = NULL, *tok, *mnt = NULL, *fstype = NULL, *src = NULL;
        int field = 0, after_dash = 0;
        for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save), field++) {
            if (field == 4) mnt = tok;
            if (after_dash == 1) fstype = tok;
            if (after_dash == 2) src = tok;
            if (after_dash) after_dash++;
            if (field > 5 && !after_dash && strcmp(tok, "-") == 0) after_dash = 1;
        }
        if (!mnt || !fstype || !src || strcmp(fstype, "fuse.lsmerfs") != 0) continue;
        unescape(mnt);
        unescape(src);
        rc = fn(mnt, src, arg);
    }
    free(line);
    fclose(f);
    return rc;
}

struct by_mnt {
    struct cli_target *t;
};

static int match_mnt(const char *mnt, const char *src, void *arg)
{
    struct cli_target *t = ((struct by_mnt *)arg)->t;
    if (strcmp(mnt, t->mountpoint) != 0) return 0;
    t->live = 1;
    if (src[0] == '/' && strlen(src) < sizeof(t->data_dir))
        strcpy(t->data_dir, src);
    else
        t->data_dir[0] = 0;
    return 1;
}

int cli_resolve_target(const char *arg, struct cli_target *out)
{
    memset(out, 0, sizeof(*out));
    char abs[PATH_MAX];
    if (!realpath(arg, abs)) return -errno;
    struct stat st;
    if (stat(abs, &st) != 0) return -errno;
    if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
    strcpy(out->mountpoint, abs);
    struct by_mnt b = {out};
    if (for_each_lsmerfs(match_mnt, &b)) return 0;
    out->mountpoint[0] = 0;
    strcpy(out->data_dir, abs);
    return 0;
}

struct by_src {
    const char *data_dir;
    char *mnt;
    size_t len;
};

static int match_src(const char *mnt, const char *src, void *arg)
{
    struct by_src *b = arg;
    if (strcmp(src, b->data_dir) != 0 || strlen(mnt) >= b->len) return 0;
    strcpy(b->mnt, mnt);
    return 1;
}

int cli_find_mount_of(const char *data_dir, char *mnt, size_t mnt_len)
{
    struct by_src b = {data_dir, mnt, mnt_len};
    return for_each_lsmerfs(match_src, &b);
}
