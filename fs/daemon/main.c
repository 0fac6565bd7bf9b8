/*
 * main.c — the lsmerfs command: parse arguments, open the store, mount, run
 * the multi-threaded FUSE loop, unmount cleanly on SIGTERM/SIGINT (or
 * fusermount3 -u).
 *
 *   lsmerfs DATA_DIR MOUNTPOINT [-f] [-d] [-s] [-o opt[,opt...]]
 *
 * Unless -f, the process forks before it opens anything (the engine starts
 * threads, which do not survive a fork); the parent waits until the child
 * has mounted, or failed, and exits with that status, so a script or
 * mount(8) can use the mount as soon as the command returns. The daemon
 * then logs to syslog; in the foreground to stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "control.h"
#include "daemon.h"
#include "channel.h"
#include "lsmer.h"
#include "uring.h"

#define LSMERFS_VERSION LSMER_VERSION_STRING

static int use_syslog;
/* -o loglevel: messages above it are dropped (the daemon's and the
 * store's); 3 until set, and the store then logs at its own default. */
static int log_max = 3;

static void log_msg(void *arg, int level, const char *msg)
{
    (void)arg;
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    if (level < 0) level = 0;
    if (level > 3) level = 3;
    if (level > log_max) return;
    if (use_syslog)
        syslog(prio[level], "%s", msg);
    else
        fprintf(stderr, "lsmerfs: %s\n", msg);
}

static void logf_(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_msg(NULL, level, msg);
}

static void fuse_log_to_syslog(enum fuse_log_level level, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    if (n && msg[n - 1] == '\n') msg[n - 1] = '\0';
    syslog((int)level, "%s", msg);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: lsmerfs DATA_DIR MOUNTPOINT [options]\n"
               "\n"
               "Mounts the lsmerfs filesystem stored in DATA_DIR (created if empty) at\n"
               "MOUNTPOINT. Unmount with: fusermount3 -u MOUNTPOINT\n"
               "\n"
               "options:\n"
               "  -f                 stay in the foreground, log to stderr\n"
               "  -d, --debug        FUSE debug output (implies -f)\n"
               "  -s                 single-threaded\n"
               "  -o opt[,opt...]    mount options:\n"
               "     nowriteback     no kernel writeback cache: each write reaches the\n"
               "                     store before write(2) returns (slower)\n"
               "     writeback       the kernel's writeback cache (default): written data\n"
               "                     reaches the store at close, fsync or writeback\n"
               "     timeout=SECS    entry/attribute cache validity (default 86400)\n"
               "     nodefault_permissions  do not let the kernel check permissions\n"
               "                     (default_permissions, the default, lets it)\n"
               "     loglevel=LEVEL  error, warn, info or debug: what is logged (default:\n"
               "                     info in the foreground, warn when daemonized)\n"
               "     nokillpriv_v2   let the kernel remove setuid/setgid and file\n"
               "                     capabilities on write (it then asks for the\n"
               "                     security.capability attribute before every write);\n"
               "                     by default (killpriv_v2) the filesystem does it\n"
               "     nouring         requests through /dev/fuse only; by default they go\n"
               "                     through per-CPU io_uring queues when the kernel\n"
               "                     offers them (fuse module parameter enable_uring=Y)\n"
               "     uring_workers=N threads per CPU serving its io_uring queue (default 2)\n"
               "     noacl           no POSIX ACLs (setfacl fails with EOPNOTSUPP); by\n"
               "                     default they are on when the kernel offers them\n"
               "                     (and default_permissions is not turned off)\n"
               "     and any FUSE mount option (allow_other, ro, max_read=N, ...)\n"
               "  -h, --help         this text\n"
               "  -V, --version      version\n");
}

struct cmdline {
    const char *data_dir;
    const char *mountpoint;
    int foreground, debug, single;
    int writeback;
    int default_permissions;
    int acl;
    int killpriv_v2;
    int uring, uring_workers;
    int log_level; /* -1: default (info in the foreground, warnings in the background) */
    double timeout;
    char fuse_opts[4096]; /* comma-separated, passed to libfuse */
};

static int add_fuse_opt(struct cmdline *c, const char *opt, size_t n)
{
    size_t used = strlen(c->fuse_opts);
    if (used + n + 2 > sizeof(c->fuse_opts)) return -1;
    if (used) c->fuse_opts[used++] = ',';
    memcpy(c->fuse_opts + used, opt, n);
    c->fuse_opts[used + n] = '\0';
    return 0;
}

static int bad_o(const char *why, const char *opt)
{
    fprintf(stderr, "lsmerfs: bad -o option '%s': %s (see lsmerfs --help)\n", opt, why);
    return -1;
}

/* 0, or -1 after saying what is wrong. */
static int parse_o(struct cmdline *c, const char *list)
{
    while (*list) {
        size_t n = strcspn(list, ",");
        char opt[256];
        if (n >= sizeof(opt)) {
            fprintf(stderr, "lsmerfs: a -o option is longer than 255 bytes\n");
            return -1;
        }
        memcpy(opt, list, n);
        opt[n] = '\0';
        if (strcmp(opt, "nowriteback") == 0 || strcmp(opt, "no_writeback_cache") == 0)
            c->writeback = 0;
        else if (strcmp(opt, "writeback") == 0 || strcmp(opt, "writeback_cache") == 0)
            c->writeback = 1;
        else if (strncmp(opt, "timeout=", 8) == 0) {
            char *end;
            c->timeout = strtod(opt + 8, &end);
            if (end == opt + 8 || *end || !isfinite(c->timeout) || c->timeout < 0)
                return bad_o("want a number of seconds, 0 or more", opt);
        } else if (strcmp(opt, "nodefault_permissions") == 0)
            c->default_permissions = 0;
        else if (strcmp(opt, "default_permissions") == 0)
            c->default_permissions = 1;
        else if (strncmp(opt, "loglevel=", 9) == 0) {
            static const char *const names[] = {"error", "warn", "info", "debug"};
            c->log_level = -2;
            for (int i = 0; i < 4; i++)
                if (strcmp(opt + 9, names[i]) == 0) c->log_level = i;
            if (strcmp(opt + 9, "warning") == 0) c->log_level = 1;
            if (c->log_level < 0) return bad_o("want error, warn, info or debug", opt);
        } else if (strcmp(opt, "nokillpriv_v2") == 0)
            c->killpriv_v2 = 0;
        else if (strcmp(opt, "killpriv_v2") == 0)
            c->killpriv_v2 = 1;
        else if (strcmp(opt, "nouring") == 0)
            c->uring = 0;
        else if (strcmp(opt, "uring") == 0)
            c->uring = 1;
        else if (strncmp(opt, "uring_workers=", 14) == 0) {
            char *end;
            long v = strtol(opt + 14, &end, 10);
            if (end == opt + 14 || *end || v < 1 || v > 64)
                return bad_o("want a number of threads from 1 to 64", opt);
            c->uring_workers = (int)v;
        } else if (strcmp(opt, "noacl") == 0)
            c->acl = 0;
        else if (strcmp(opt, "acl") == 0)
            c->acl = 1;
        else if (n && add_fuse_opt(c, opt, n) != 0) {
            fprintf(stderr, "lsmerfs: -o options too long in all\n");
            return -1;
        }
        list += n;
        if (*list == ',') list++;
    }
    return 0;
}

/* 0 to run, 1 to exit 0 (help, version), -1 to exit 2 (bad usage). */
static int parse_args(int argc, char **argv, struct cmdline *c)
{
    memset(c, 0, sizeof(*c));
    c->writeback = 1;
    c->default_permissions = 1;
    c->acl = 1;
    c->killpriv_v2 = 1;
    c->uring = 1;
    c->uring_workers = 2;
    c->log_level = -1;
    c->timeout = 86400.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("lsmerfs %s (libfuse %s)\n", LSMERFS_VERSION, fuse_pkgversion());
            return 1;
        } else if (strcmp(a, "-f") == 0) {
            c->foreground = 1;
        } else if (strcmp(a, "-d") == 0 || strcmp(a, "--debug") == 0) {
            c->debug = c->foreground = 1;
        } else if (strcmp(a, "-s") == 0) {
            c->single = 1;
        } else if (strcmp(a, "-o") == 0) {
            if (++i >= argc) {
                fprintf(stderr, "lsmerfs: -o needs an argument\n");
                return -1;
            }
            if (parse_o(c, argv[i])) goto bad_opt;
        } else if (strncmp(a, "-o", 2) == 0) {
            if (parse_o(c, a + 2)) goto bad_opt;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "lsmerfs: unknown option '%s' (try --help)\n", a);
            return -1;
        } else if (!c->data_dir) {
            c->data_dir = a;
        } else if (!c->mountpoint) {
            c->mountpoint = a;
        } else {
            fprintf(stderr, "lsmerfs: unexpected argument '%s'\n", a);
            return -1;
        }
    }
    if (!c->data_dir || !c->mountpoint) {
        usage(stderr);
        return -1;
    }
    if (c->timeout < 0) c->timeout = 0;
    return 0;
bad_opt:
    return -1; /* parse_o said why */
}

/* The parent half of daemonizing: wait for the child's verdict. */
static int wait_for_child(int fd)
{
    int status = 1;
    ssize_t n;
    do n = read(fd, &status, sizeof(status));
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(status) ? status : 1;
}

static void tell_parent(int *fd, int status)
{
    if (*fd < 0) return;
    ssize_t n = write(*fd, &status, sizeof(status));
    (void)n;
    close(*fd);
    *fd = -1;
}

static int run(struct cmdline *c, int report_fd)
{
    char data_dir[PATH_MAX], mnt[PATH_MAX];
    struct lsmerfs_daemon d = {.writeback = c->writeback,
                               .timeout = c->timeout,
                               /* ACLs imply the kernel's permission checks */
                               .acl = c->acl && c->default_permissions};
    struct fuse_session *se = NULL;
    struct fuse_loop_config *cfg = NULL;
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    struct control *ctl = NULL;
    struct lsmerfs_uring *uring = NULL;
    int status = 1, mounted = 0, handlers = 0;

    if (!realpath(c->mountpoint, mnt)) {
        logf_(0, "mount point %s: %s", c->mountpoint, strerror(errno));
        goto out;
    }
    if (mkdir(c->data_dir, 0700) != 0 && errno != EEXIST) {
        logf_(0, "cannot create %s: %s", c->data_dir, strerror(errno));
        goto out;
    }
    if (!realpath(c->data_dir, data_dir)) {
        logf_(0, "%s: %s", c->data_dir, strerror(errno));
        goto out;
    }
    struct fs_options fo;
    fs_options_init(&fo);
    fo.log = log_msg;
    fo.attr_changed = lsmerfs_attr_changed;
    fo.attr_changed_arg = &d;
    fo.log_level = c->log_level >= 0 ? c->log_level : c->foreground ? 2 : 1;
    if (c->log_level >= 0) log_max = c->log_level;
    int rc = fs_open(data_dir, &fo, &d.fs);
    if (rc) {
        if (rc == -EBUSY)
            logf_(0, "%s is in use by another process (already mounted?)", data_dir);
        else
            logf_(0, "cannot open %s: %s", data_dir, lsmer_strerror(rc));
        goto out;
    }

    /* fsname: the store's path, so mount(8) and df show where the data
     * lives (unless a comma in it would split the option list). */
    char opts[4096 + PATH_MAX + 512];
    snprintf(opts, sizeof(opts), "fsname=%s,subtype=lsmerfs%s%s%s",
             strchr(data_dir, ',') ? "lsmerfs" : data_dir,
             c->default_permissions ? ",default_permissions" : "", c->fuse_opts[0] ? "," : "",
             c->fuse_opts);
    if (fuse_opt_add_arg(&args, "lsmerfs") || fuse_opt_add_arg(&args, "-o") ||
        fuse_opt_add_arg(&args, opts) || (c->debug && fuse_opt_add_arg(&args, "-d"))) {
        logf_(0, "out of memory");
        goto out;
    }
    se = fuse_session_new(&args, &lsmerfs_ll_ops, sizeof(lsmerfs_ll_ops), &d);
    if (!se) {
        logf_(0, "bad mount options: %s", opts);
        goto out;
    }
    if (fuse_set_signal_handlers(se) != 0) {
        logf_(0, "cannot install signal handlers");
        goto out;
    }
    handlers = 1;
    if (fuse_session_mount(se, mnt) != 0) {
        logf_(0, "cannot mount at %s", mnt);
        goto out;
    }
    mounted = 1;
    atomic_store(&d.se, se);
    /* Rings only for the multi-threaded loop: -s means one thread. */
    if (c->uring && !c->single) {
        rc = lsmerfs_uring_create(se, fuse_session_fd(se), c->uring_workers, &uring);
        if (rc) logf_(2, "no io_uring queues (%s): requests go through /dev/fuse", strerror(-rc));
    }
    if (c->killpriv_v2 || uring) {
        struct channel_config chc = {.killpriv_v2 = c->killpriv_v2, .uring = uring};
        if (lsmerfs_channel_install(se, &chc) != 0)
            logf_(1, "cannot hook the FUSE channel: the kernel will ask for security.capability "
                     "before every write, and requests go through /dev/fuse");
    }
    if (report_fd >= 0) {
        tell_parent(&report_fd, 0);
        use_syslog = 1;
        fuse_set_log_func(fuse_log_to_syslog);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
            if (null > 2) close(null);
        }
        if (chdir("/") != 0) logf_(1, "chdir /: %s", strerror(errno));
    }
    logf_(2, "mounted %s at %s (writeback cache %s)", data_dir, mnt, c->writeback ? "on" : "off");
    /* `lsmer stats|compact|backup` on the live mount; the mount works
     * without it (control_start logs why it could not start). */
    struct control_config cc = {
        .data_dir = data_dir, .mountpoint = mnt, .fs = d.fs, .log = log_msg};
    control_start(&cc, &ctl);
    if (c->single) {
        rc = fuse_session_loop(se);
    } else {
        cfg = fuse_loop_cfg_create();
        if (!cfg) {
            logf_(0, "out of memory starting the request loop; unmounting %s", mnt);
            goto out;
        }
        fuse_loop_cfg_set_clone_fd(cfg, 0);
        fuse_loop_cfg_set_idle_threads(cfg, 4);
        rc = fuse_session_loop_mt(se, cfg);
    }
    /* libfuse's loop returns the signal that ended it (SIGTERM, SIGINT,
     * SIGHUP): a requested, clean shutdown, not a failure. */
    status = rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP ? 0 : 1;
    logf_(2, "unmounting %s", mnt);
out:
    atomic_store(&d.se, NULL);
    if (mounted) fuse_session_unmount(se);
    /* After the unmount (the kernel then fails every waiting ring entry,
     * so no request is left stranded on one), before the session and the
     * store go: the ring workers use both. */
    lsmerfs_uring_destroy(uring);
    control_stop(ctl);
    if (handlers) fuse_remove_signal_handlers(se);
    if (se) fuse_session_destroy(se);
    if (cfg) fuse_loop_cfg_destroy(cfg);
    fuse_opt_free_args(&args);
    fs_close(d.fs);
    tell_parent(&report_fd, status);
    return status;
}

int main(int argc, char **argv)
{
    struct cmdline c;
    int rc = parse_args(argc, argv, &c);
    if (rc) return rc > 0 ? 0 : 2;
    if (c.foreground) return run(&c, -1);

    int p[2];
    if (pipe(p) != 0) {
        perror("lsmerfs: pipe");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("lsmerfs: fork");
        return 1;
    }
    if (pid > 0) {
        close(p[1]);
        return wait_for_child(p[0]);
    }
    close(p[0]);
    setsid();
    /* Errors before the mount still reach the terminal; after it, syslog. */
    openlog("lsmerfs", LOG_PID, LOG_DAEMON);
    return run(&c, p[1]) ? 1 : 0;
}
