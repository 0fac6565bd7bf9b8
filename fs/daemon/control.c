/*
 * control.c — the control channel of the daemon (control.h): socket setup,
 * the control thread that answers requests, and the job thread that runs a
 * compaction or a backup while reporting progress to its client.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control_proto.h"
#include "fs_backup.h"
#include "fs_export.h"
#include "op_counters.h"
#include "uring.h"

/* A client that connects and says nothing does not hold the thread long. */
#define CTL_IO_TIMEOUT_S 5
#define CTL_PROGRESS_NS (500 * 1000000LL)

enum job_kind { JOB_NONE, JOB_COMPACT, JOB_BACKUP };

struct control {
    struct lsmerfs *fs;
    lsmer_db *db;
    kv_log_fn log;
    void *log_arg;
    char data_dir[PATH_MAX];
    char mountpoint[PATH_MAX];
    char dir[PATH_MAX];  /* DATA_DIR/control */
    char sock[PATH_MAX]; /* DATA_DIR/control/sock */
    int listen_fd;
    int wake[2]; /* a byte on wake[1] stops the control thread */
    pthread_t thread;
    int64_t start_ns;

    /* The job. job_running is set by the control thread and cleared by the
     * job thread when it is done; the control thread (or control_stop)
     * joins it. job_text is what `stats` shows about it. */
    pthread_t job_thread;
    int job_joinable; /* control thread only (and control_stop after it) */
    atomic_int job_running;
    atomic_int job_cancel;
    enum job_kind job_kind;
    int job_fd;
    char job_dest[PATH_MAX];
    pthread_mutex_t text_lock;
    char job_text[256]; /* text_lock */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void ctl_log(struct control *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ctl_log(struct control *c, int level, const char *fmt, ...)
{
    char msg[PATH_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->log)
        c->log(c->log_arg, level, msg);
    else
        fprintf(stderr, "lsmerfs: %s\n", msg);
}

/* Sends all of buf; -errno (EPIPE when the client went away). */
static int send_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int send_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int send_line(int fd, const char *fmt, ...)
{
    char line[CTL_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return -EINVAL;
    if ((size_t)n > sizeof(line) - 2) n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    return send_all(fd, line, (size_t)n);
}

static int send_error(int fd, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int send_error(int fd, int err, const char *fmt, ...)
{
    char msg[CTL_LINE_MAX - 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n') *p = ' ';
    return send_line(fd, "error %d %s", err < 0 ? -err : err, msg);
}

static void set_job_text(struct control *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_job_text(struct control *c, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&c->text_lock);
    va_start(ap, fmt);
    vsnprintf(c->job_text, sizeof(c->job_text), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&c->text_lock);
}

/* ---- stats ------------------------------------------------------------- */

static void answer_stats(struct control *c, int fd)
{
    lsmer_stats s;
    memset(&s, 0, sizeof(s));
    int rc = lsmer_get_stats(c->db, &s);
    if (rc) {
        send_error(fd, rc, "reading the engine statistics failed: %s", lsmer_strerror(rc));
        return;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        send_error(fd, ENOMEM, "out of memory");
        return;
    }
#define X(name) fprintf(f, "engine " #name " %llu\n", (unsigned long long)s.name);
    CTL_ENGINE_FIELDS(X)
#undef X
    fprintf(f, "engine background_error %d\n", s.background_error);
    for (int l = 0; l < s.levels && l < LSMER_MAX_LEVELS; l++)
        fprintf(f, "level %d %llu %llu %.4f\n", l, (unsigned long long)s.level[l].files,
                (unsigned long long)s.level[l].bytes, s.level[l].score);

    struct fs_export_counts fc;
    fs_export_counts(c->fs, &fc);
    struct statvfs sv;
    uint64_t vol_total = 0, vol_avail = 0;
    if (statvfs(c->data_dir, &sv) == 0) {
        uint64_t fr = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
        vol_total = (uint64_t)sv.f_blocks * fr;
        vol_avail = (uint64_t)sv.f_bavail * fr;
    }
    struct {
        const char *name;
        uint64_t v;
    } fsf[] = {
        {"uptime_ms", (uint64_t)((now_ns() - c->start_ns) / 1000000)},
        {"referenced_inodes", fc.referenced_inodes},
        {"inos_handed_out", fc.inos_handed_out},
        {"read_bytes", atomic_load_explicit(&lsmerfs_read_bytes, memory_order_relaxed)},
        {"write_bytes", atomic_load_explicit(&lsmerfs_write_bytes, memory_order_relaxed)},
        {"volume_total_bytes", vol_total},
        {"volume_avail_bytes", vol_avail},
        {"uring_queues", (uint64_t)lsmerfs_uring_queues()},
        {"uring_requests", lsmerfs_uring_requests()},
    };
    for (size_t i = 0; i < sizeof(fsf) / sizeof(fsf[0]); i++)
        fprintf(f, "fs %s %llu\n", fsf[i].name, (unsigned long long)fsf[i].v);
    static const char *const op_names[] = {
#define X(name) #name,
        LSMERFS_OPS(X)
#undef X
    };
    for (int i = 0; i < LSMERFS_OP_COUNT; i++)
        fprintf(
            f, "op %s %llu\n", op_names[i],
            (unsigned long long)atomic_load_explicit(&lsmerfs_op_count[i], memory_order_relaxed));
    if (atomic_load(&c->job_running)) {
        pthread_mutex_lock(&c->text_lock);
        fprintf(f, "job %s %s\n", c->job_kind == JOB_BACKUP ? "backup" : "compact", c->job_text);
        pthread_mutex_unlock(&c->text_lock);
    }
    fprintf(f, "ok\n");
    if (fclose(f) != 0 || !buf) {
        free(buf);
        send_error(fd, ENOMEM, "out of memory");
        return;
    }
    send_all(fd, buf, len);
    free(buf);
}

/* ---- jobs -------------------------------------------------------------- */

struct compact_run {
    lsmer_db *db;
    int rc;
    atomic_int done;
};

static void *compact_main(void *arg)
{
    struct compact_run *r = arg;
    r->rc = lsmer_compact_range(r->db, NULL);
    atomic_store(&r->done, 1);
    return NULL;
}

static void run_compact(struct control *c, int fd)
{
    struct compact_run r = {.db = c->db};
    lsmer_stats before, now;
    memset(&before, 0, sizeof(before));
    memset(&now, 0, sizeof(now));
    lsmer_get_stats(c->db, &before);
    uint64_t total = before.table_bytes + before.memtable_bytes;
    ctl_log(c, 2, "control: compaction of everything started");
    set_job_text(c, "starting");
    pthread_t t;
    int prc = pthread_create(&t, NULL, compact_main, &r);
    if (prc) {
        send_error(fd, prc, "cannot start the compaction thread: %s", strerror(prc));
        return;
    }
    int client_ok = 1;
    while (!atomic_load(&r.done)) {
        struct timespec nap = {0, CTL_PROGRESS_NS};
        nanosleep(&nap, NULL);
        if (atomic_load(&r.done) || lsmer_get_stats(c->db, &now) != 0) continue;
        unsigned long long rd = now.compaction_bytes_read - before.compaction_bytes_read;
        unsigned long long wr = now.compaction_bytes_written - before.compaction_bytes_written;
        unsigned long long jobs = now.compactions - before.compactions;
        set_job_text(c, "read %llu of ~%llu bytes, wrote %llu, %llu jobs", rd,
                     (unsigned long long)total, wr, jobs);
        /* A client that went away does not stop the compaction (it cannot
         * be interrupted); it only stops the reports. */
        if (client_ok && send_line(fd, "progress %llu %llu %llu %llu", rd, wr,
                                   (unsigned long long)total, jobs) != 0)
            client_ok = 0;
    }
    pthread_join(t, NULL);
    if (r.rc) {
        ctl_log(c, 0, "control: compaction failed: %s", lsmer_strerror(r.rc));
        send_error(fd, r.rc, "compaction failed: %s", lsmer_strerror(r.rc));
        return;
    }
    lsmer_get_stats(c->db, &now);
    ctl_log(c, 2, "control: compaction done");
    send_line(fd, "ok %llu %llu", (unsigned long long)before.table_bytes,
              (unsigned long long)now.table_bytes);
}

struct backup_ctx {
    struct control *c;
    int fd;
    int client_ok;
    int64_t last_ns;
};

static int backup_progress(void *arg, const struct fs_backup_progress *p)
{
    struct backup_ctx *b = arg;
    if (atomic_load(&b->c->job_cancel)) return 1;
    set_job_text(b->c, "%llu keys, %llu of ~%llu bytes", (unsigned long long)p->keys,
                 (unsigned long long)p->bytes, (unsigned long long)p->total_estimate);
    int64_t t = now_ns();
    if (p->done || t - b->last_ns < CTL_PROGRESS_NS / 2) return 0;
    b->last_ns = t;
    /* The client asked for this backup and is waiting for it: if it went
     * away (interrupted), nobody will use the copy. */
    if (send_line(b->fd, "progress %llu %llu %llu", (unsigned long long)p->keys,
                  (unsigned long long)p->bytes, (unsigned long long)p->total_estimate) != 0)
        return 1;
    return 0;
}

static void run_backup(struct control *c, int fd)
{
    struct backup_ctx b = {.c = c, .fd = fd, .client_ok = 1, .last_ns = now_ns()};
    struct fs_backup_progress res;
    ctl_log(c, 2, "control: backup to %s started", c->job_dest);
    set_job_text(c, "to %s: starting", c->job_dest);
    int rc = fs_backup(c->db, c->job_dest, backup_progress, &b, &res);
    if (rc) {
        ctl_log(c, rc == -ECANCELED ? 1 : 0, "control: backup to %s failed: %s", c->job_dest,
                rc == -ECANCELED ? "cancelled" : lsmer_strerror(rc));
        send_error(fd, rc, "backup to %s failed: %s", c->job_dest,
                   rc == -ECANCELED ? "cancelled (unmount or client gone)" : lsmer_strerror(rc));
        return;
    }
    ctl_log(c, 2, "control: backup to %s done: %llu keys at sequence %llu", c->job_dest,
            (unsigned long long)res.keys, (unsigned long long)res.sequence);
    send_line(fd, "ok %llu %llu %llu %llu %llu %llu %llu %llu %llu",
              (unsigned long long)res.sequence, (unsigned long long)res.keys,
              (unsigned long long)res.bytes, (unsigned long long)res.inodes,
              (unsigned long long)res.dirs, (unsigned long long)res.files,
              (unsigned long long)res.symlinks, (unsigned long long)res.others,
              (unsigned long long)res.file_bytes);
}

static void *job_main(void *arg)
{
    struct control *c = arg;
    if (c->job_kind == JOB_COMPACT)
        run_compact(c, c->job_fd);
    else
        run_backup(c, c->job_fd);
    close(c->job_fd);
    c->job_fd = -1;
    atomic_store(&c->job_running, 0);
    return NULL;
}

static void reap_job(struct control *c)
{
    if (c->job_joinable && !atomic_load(&c->job_running)) {
        pthread_join(c->job_thread, NULL);
        c->job_joinable = 0;
    }
}

/* path is at or below dir (both absolute, no trailing slash but "/"). */
static int is_below(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/') return 1;
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* The canonical path of dest: realpath of its deepest existing ancestor
 * with the rest appended (so "/mnt/./x", "//mnt/x" and symlinks into the
 * mount are seen for what they are). 0 or -errno. */
static int resolve_existing(const char *dest, char out[PATH_MAX])
{
    char head[PATH_MAX];
    size_t n = strlen(dest);
    if (n >= sizeof(head)) return -ENAMETOOLONG;
    memcpy(head, dest, n + 1);
    for (;;) {
        char *slash = strrchr(head, '/');
        if (realpath(head[0] ? head : "/", out)) {
            const char *rest = dest + strlen(head);
            size_t used = strlen(out);
            if (used == 1) used = 0; /* "/" + "/rest" */
            if (used + strlen(rest) >= PATH_MAX) return -ENAMETOOLONG;
            strcpy(out + used, rest);
            if (!out[0]) strcpy(out, "/");
            return 0;
        }
        if (errno != ENOENT && errno != ENOTDIR) return -errno;
        if (!slash) return -ENOENT;
        *slash = '\0';
    }
}

/* Hands fd to the job thread (which closes it) or answers an error. */
static void start_job(struct control *c, int fd, enum job_kind kind, const char *dest)
{
    reap_job(c);
    if (!atomic_load(&c->job_running) && c->job_joinable) {
        /* it finished between reap_job's look and this one */
        pthread_join(c->job_thread, NULL);
        c->job_joinable = 0;
    }
    if (atomic_load(&c->job_running)) {
        pthread_mutex_lock(&c->text_lock);
        char text[sizeof(c->job_text)];
        memcpy(text, c->job_text, sizeof(text));
        pthread_mutex_unlock(&c->text_lock);
        send_error(fd, EBUSY, "a %s is running (%s); one job at a time",
                   c->job_kind == JOB_BACKUP ? "backup" : "compaction", text);
        close(fd);
        return;
    }
    if (kind == JOB_BACKUP) {
        if (dest[0] != '/') {
            send_error(fd, EINVAL, "backup needs an absolute DEST path");
            close(fd);
            return;
        }
        if (strlen(dest) >= sizeof(c->job_dest)) {
            send_error(fd, ENAMETOOLONG, "DEST path too long (at most %zu bytes)",
                       sizeof(c->job_dest) - 1);
            close(fd);
            return;
        }
        char real[PATH_MAX];
        if (is_below(dest, c->mountpoint) || is_below(dest, c->data_dir) ||
            (resolve_existing(dest, real) == 0 &&
             (is_below(real, c->mountpoint) || is_below(real, c->data_dir)))) {
            send_error(fd, EINVAL, "%s is inside the filesystem or its DATA_DIR", dest);
            close(fd);
            return;
        }
        int rc = fs_backup_dest_ok(dest);
        if (rc) {
            send_error(fd, rc, "%s: %s", dest,
                       rc == -ENOTEMPTY ? "not empty (a backup needs an empty or missing "
                                          "directory)"
                                        : strerror(-rc));
            close(fd);
            return;
        }
        strcpy(c->job_dest, dest);
    }
    /* No timeout on a job's progress reports beyond the socket's own. */
    c->job_kind = kind;
    c->job_fd = fd;
    atomic_store(&c->job_cancel, 0);
    atomic_store(&c->job_running, 1);
    int prc = pthread_create(&c->job_thread, NULL, job_main, c);
    if (prc) {
        atomic_store(&c->job_running, 0);
        c->job_fd = -1;
        send_error(fd, prc, "cannot start a thread: %s", strerror(prc));
        close(fd);
        return;
    }
    c->job_joinable = 1;
}

/* ---- the control thread ----------------------------------------------- */

/* Reads one request line into buf (NUL-terminated, no newline). */
static int read_request(int fd, char *buf, size_t size)
{
    size_t used = 0;
    while (used + 1 < size) {
        ssize_t n = recv(fd, buf + used, size - 1 - used, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) break;
        char *nl = memchr(buf + used, '\n', (size_t)n);
        used += (size_t)n;
        if (nl) {
            *nl = '\0';
            return 0;
        }
    }
    buf[used] = '\0';
    return used + 1 >= size ? -E2BIG : 0; /* a request without its newline is taken as is */
}

static void serve(struct control *c, int fd)
{
    struct timeval tv = {CTL_IO_TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0) {
        close(fd);
        return;
    }
    uid_t me = geteuid();
    if (cred.uid != me && cred.uid != 0) {
        ctl_log(c, 1, "control: refused uid %u (pid %d): not the mount's owner (uid %u) or root",
                (unsigned)cred.uid, (int)cred.pid, (unsigned)me);
        send_error(fd, EACCES,
                   "permission denied: only the owner of this mount (uid %u) and root may use "
                   "its control channel",
                   (unsigned)me);
        close(fd);
        return;
    }
    char req[CTL_LINE_MAX];
    int rc = read_request(fd, req, sizeof(req));
    if (rc) {
        if (rc == -E2BIG) send_error(fd, E2BIG, "request too long");
        close(fd);
        return;
    }
    if (strcmp(req, "stats") == 0) {
        answer_stats(c, fd);
    } else if (strcmp(req, "compact") == 0) {
        start_job(c, fd, JOB_COMPACT, NULL);
        return;
    } else if (strncmp(req, "backup ", 7) == 0) {
        start_job(c, fd, JOB_BACKUP, req + 7);
        return;
    } else {
        send_error(fd, EINVAL, "unknown request '%.64s' (stats, compact, backup DEST)", req);
    }
    close(fd);
}

static void *control_main(void *arg)
{
    struct control *c = arg;
    for (;;) {
        struct pollfd p[2] = {{c->listen_fd, POLLIN, 0}, {c->wake[0], POLLIN, 0}};
        int n = poll(p, 2, 1000);
        if (n < 0 && errno != EINTR) {
            ctl_log(c, 0, "control: poll: %s", strerror(errno));
            break;
        }
        reap_job(c);
        if (n <= 0) continue;
        if (p[1].revents) break;
        if (p[0].revents & POLLIN) {
            int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) serve(c, fd);
        }
    }
    return NULL;
}

/* ---- start and stop ---------------------------------------------------- */

/* The socket's directory: ours, a real directory, mode 0700. */
static int make_private_dir(struct control *c)
{
    if (mkdir(c->dir, 0700) != 0 && errno != EEXIST) return -errno;
    struct stat st;
    if (lstat(c->dir, &st) != 0) return -errno;
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
        ctl_log(c, 0, "control: %s is not a directory owned by uid %u", c->dir,
                (unsigned)geteuid());
        return -EPERM;
    }
    if ((st.st_mode & 07777) != 0700 && chmod(c->dir, 0700) != 0) return -errno;
    return 0;
}

static int bind_socket(struct control *c)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    int dfd = -1;
    if (strlen(c->sock) < sizeof(a.sun_path)) {
        strcpy(a.sun_path, c->sock);
    } else {
        /* A long DATA_DIR: bind through the directory's descriptor (the
         * client connects the same way). */
        dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) return -errno;
        snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/%s", dfd, CTL_SOCK_NAME);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = 0;
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    /* A socket left by a daemon that crashed: we hold the store, so it is
     * nobody's. */
    unlink(c->sock);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || chmod(c->sock, 0600) != 0 ||
        listen(fd, 16) != 0) {
        rc = -errno;
        close(fd);
        goto out;
    }
    c->listen_fd = fd;
out:
    if (dfd >= 0) close(dfd);
    return rc;
}

int control_start(const struct control_config *cfg, struct control **out)
{
    struct control *c = calloc(1, sizeof(*c));
    if (!c) return -ENOMEM;
    c->fs = cfg->fs;
    c->db = fs_export_db(cfg->fs);
    c->log = cfg->log;
    c->log_arg = cfg->log_arg;
    c->listen_fd = c->wake[0] = c->wake[1] = c->job_fd = -1;
    c->start_ns = now_ns();
    pthread_mutex_init(&c->text_lock, NULL);
    int rc = -ENAMETOOLONG;
    if ((size_t)snprintf(c->data_dir, sizeof(c->data_dir), "%s", cfg->data_dir) >=
            sizeof(c->data_dir) ||
        (size_t)snprintf(c->mountpoint, sizeof(c->mountpoint), "%s", cfg->mountpoint) >=
            sizeof(c->mountpoint) ||
        (size_t)snprintf(c->dir, sizeof(c->dir), "%s/%s", cfg->data_dir, CTL_DIR_NAME) >=
            sizeof(c->dir) ||
        (size_t)snprintf(c->sock, sizeof(c->sock), "%s/%s", c->dir, CTL_SOCK_NAME) >=
            sizeof(c->sock))
        goto fail;
    rc = make_private_dir(c);
    if (rc) goto fail;
    rc = bind_socket(c);
    if (rc) goto fail;
    if (pipe2(c->wake, O_CLOEXEC) != 0) {
        rc = -errno;
        goto fail;
    }
    rc = -pthread_create(&c->thread, NULL, control_main, c);
    if (rc) goto fail;
    *out = c;
    return 0;
fail:
    ctl_log(c, 1, "control channel %s not available: %s", c->sock, strerror(-rc));
    if (c->listen_fd >= 0) {
        close(c->listen_fd);
        unlink(c->sock);
    }
    if (c->wake[0] >= 0) close(c->wake[0]);
    if (c->wake[1] >= 0) close(c->wake[1]);
    rmdir(c->dir);
    pthread_mutex_destroy(&c->text_lock);
    free(c);
    return rc;
}

void control_stop(struct control *c)
{
    if (!c) return;
    char x = 1;
    ssize_t n = write(c->wake[1], &x, 1);
    (void)n;
    pthread_join(c->thread, NULL);
    if (c->job_joinable) {
        atomic_store(&c->job_cancel, 1);
        if (atomic_load(&c->job_running) && c->job_kind == JOB_COMPACT)
            ctl_log(c, 1,
                    "control: waiting for the compaction started by `lsmer compact` to finish "
                    "before closing the store (it cannot be interrupted)");
        pthread_join(c->job_thread, NULL);
    }
    close(c->listen_fd);
    close(c->wake[0]);
    close(c->wake[1]);
    unlink(c->sock);
    rmdir(c->dir);
    pthread_mutex_destroy(&c->text_lock);
    free(c);
}
