/*
 * ctl.c — the control channel client (ctl.h): finding a mount's socket,
 * connecting with clear messages for the ways it fails, reading reply
 * lines, and parsing a `stats` reply.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"

const char *const ctl_op_names[CTL_OP_COUNT] = {
#define X(name) #name,
    LSMERFS_OPS(X)
#undef X
};
const char *const ctl_fs_names[CTL_FS_COUNT] = {
#define X(name) #name,
    CTL_FS_FIELDS(X)
#undef X
};

int ctl_target(const char *cmd, const char *arg, struct cli_target *t, int quiet)
{
    int rc = cli_resolve_target(arg, t);
    if (rc) {
        if (rc == -EACCES)
            cli_error(cmd,
                      "%s: permission denied (a mounted lsmerfs is only reachable by its "
                      "owner and root, unless mounted with -o allow_other)",
                      arg);
        else
            cli_error(cmd, "%s: %s", arg, strerror(-rc));
        return rc;
    }
    if (t->live) {
        if (!t->data_dir[0]) {
            cli_error(cmd,
                      "%s is an lsmerfs mount whose DATA_DIR is not known (its path has a "
                      "comma?); give the DATA_DIR instead",
                      t->mountpoint);
            return -EINVAL;
        }
        return 0;
    }
    if (cli_find_mount_of(t->data_dir, t->mountpoint, sizeof(t->mountpoint))) {
        t->live = 1;
        if (!quiet)
            fprintf(stderr,
                    "lsmer %s: %s is mounted at %s (its daemon holds the store): asking the "
                    "daemon\n",
                    cmd, t->data_dir, t->mountpoint);
    }
    return 0;
}

static void connect_error(const char *cmd, const char *data_dir, const char *sock, int err)
{
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/%s", data_dir, CTL_DIR_NAME);
    struct stat st;
    switch (err) {
    case EACCES:
    case EPERM:
        if (stat(dir, &st) == 0)
            cli_error(cmd,
                      "permission denied on %s: only the owner of the mount (uid %u) and root "
                      "may use its control channel",
                      sock, (unsigned)st.st_uid);
        else
            cli_error(cmd,
                      "permission denied on %s: only the owner of the mount and root may use "
                      "its control channel",
                      sock);
        break;
    case ENOENT:
        cli_error(cmd,
                  "no control channel at %s: the daemon serving %s did not create one (an "
                  "older lsmerfs, or it could not: see its log)",
                  sock, data_dir);
        break;
    case ECONNREFUSED:
        cli_error(cmd,
                  "nobody listens at %s: the daemon of %s is gone (crashed?); unmount with "
                  "'fusermount3 -uz MOUNTPOINT' and mount again",
                  sock, data_dir);
        break;
    default:
        cli_error(cmd, "cannot connect to %s: %s", sock, strerror(err));
    }
}

int ctl_request(const char *cmd, const char *data_dir, const char *request, struct ctl_conn *c)
{
    char sock[PATH_MAX + 32];
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    if ((size_t)snprintf(sock, sizeof(sock), "%s/%s/%s", data_dir, CTL_DIR_NAME, CTL_SOCK_NAME) >=
        sizeof(sock)) {
        cli_error(cmd, "%s: path too long", data_dir);
        return -ENAMETOOLONG;
    }
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    int dfd = -1, rc = 0;
    if (strlen(sock) < sizeof(a.sun_path)) {
        strcpy(a.sun_path, sock);
    } else {
        /* Too long for sun_path: go through the directory's descriptor, as
         * the daemon did when it bound the socket. */
        char dir[PATH_MAX + 16];
        snprintf(dir, sizeof(dir), "%s/%s", data_dir, CTL_DIR_NAME);
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
            rc = -errno;
            connect_error(cmd, data_dir, sock, errno);
            return rc;
        }
        snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/%s", dfd, CTL_SOCK_NAME);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        rc = -errno;
        connect_error(cmd, data_dir, sock, errno);
        if (fd >= 0) close(fd);
        if (dfd >= 0) close(dfd);
        return rc;
    }
    if (dfd >= 0) close(dfd);
    size_t len = strlen(request);
    char line[CTL_LINE_MAX];
    if (len + 2 > sizeof(line) || strchr(request, '\n')) {
        close(fd);
        cli_error(cmd, "request too long or with a newline in it");
        return -EINVAL;
    }
    memcpy(line, request, len);
    line[len++] = '\n';
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            /* The daemon may have answered and closed before reading (a
             * refusal): its answer is still there to read. */
            if (errno == EPIPE || errno == ECONNRESET) break;
            rc = -errno;
            cli_error(cmd, "sending to %s: %s", sock, strerror(errno));
            close(fd);
            return rc;
        }
        off += (size_t)n;
    }
    c->fd = fd;
    return 0;
}

int ctl_read_line(struct ctl_conn *c, char *line, size_t size)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t n = (size_t)(nl - c->buf);
            size_t copy = n < size - 1 ? n : size - 1;
            memcpy(line, c->buf, copy);
            line[copy] = 0;
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            return 1;
        }
        if (c->len == sizeof(c->buf)) return -E2BIG;
        ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (r == 0) return 0;
        c->len += (size_t)r;
    }
}

void ctl_close(struct ctl_conn *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

int ctl_parse_error(const char *line, int *err, const char **text)
{
    if (strncmp(line, "error ", 6) != 0) return 0;
    char *end;
    long n = strtol(line + 6, &end, 10);
    *err = n > 0 ? (int)-n : -EIO;
    *text = *end == ' ' ? end + 1 : end;
    return 1;
}

static int find_name(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

static const struct {
    const char *name;
    size_t off;
} engine_fields[] = {
#define X(name) {#name, offsetof(lsmer_stats, name)},
    CTL_ENGINE_FIELDS(X)
#undef X
};

static void parse_stats_line(char *line, struct ctl_stats *s)
{
    char *save = NULL;
    char *word = strtok_r(line, " ", &save);
    char *a = strtok_r(NULL, " ", &save);
    char *b = strtok_r(NULL, " ", &save);
    if (!word || !a || !b) return;
    if (strcmp(word, "engine") == 0) {
        if (strcmp(a, "background_error") == 0) {
            s->engine.background_error = atoi(b);
            return;
        }
        for (size_t i = 0; i < sizeof(engine_fields) / sizeof(engine_fields[0]); i++)
            if (strcmp(engine_fields[i].name, a) == 0)
                *(uint64_t *)((char *)&s->engine + engine_fields[i].off) = strtoull(b, NULL, 10);
    } else if (strcmp(word, "level") == 0) {
        int l = atoi(a);
        char *bytes = strtok_r(NULL, " ", &save), *score = strtok_r(NULL, " ", &save);
        if (l < 0 || l >= LSMER_MAX_LEVELS || !bytes || !score) return;
        s->engine.level[l].files = strtoull(b, NULL, 10);
        s->engine.level[l].bytes = strtoull(bytes, NULL, 10);
        s->engine.level[l].score = strtod(score, NULL);
        if (s->engine.levels < l + 1) s->engine.levels = l + 1;
    } else if (strcmp(word, "fs") == 0) {
        int i = find_name(ctl_fs_names, CTL_FS_COUNT, a);
        if (i >= 0) s->fs[i] = strtoull(b, NULL, 10);
    } else if (strcmp(word, "op") == 0) {
        int i = find_name(ctl_op_names, CTL_OP_COUNT, a);
        if (i >= 0) s->ops[i] = strtoull(b, NULL, 10);
    }
}

int ctl_get_stats(const char *cmd, const char *data_dir, struct ctl_stats *out)
{
    struct ctl_conn c;
    memset(out, 0, sizeof(*out));
    int rc = ctl_request(cmd, data_dir, "stats", &c);
    if (rc) return rc;
    char line[CTL_LINE_MAX];
    for (;;) {
        rc = ctl_read_line(&c, line, sizeof(line));
        if (rc <= 0) {
            cli_error(cmd, "the daemon of %s stopped answering: %s", data_dir,
                      rc == 0 ? "connection closed" : strerror(-rc));
            rc = rc == 0 ? -EPIPE : rc;
            break;
        }
        int err;
        const char *text;
        if (strcmp(line, "ok") == 0 || strncmp(line, "ok ", 3) == 0) {
            rc = 0;
            break;
        }
        if (ctl_parse_error(line, &err, &text)) {
            cli_error(cmd, "%s", text);
            rc = err;
            break;
        }
        if (strncmp(line, "job ", 4) == 0) {
            size_t n = strnlen(line + 4, sizeof(out->job) - 1);
            memcpy(out->job, line + 4, n);
            out->job[n] = 0;
            continue;
        }
        parse_stats_line(line, out);
    }
    ctl_close(&c);
    return rc;
}
