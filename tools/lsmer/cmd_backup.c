/*
 * cmd_backup.c — `lsmer backup DATA_DIR|MOUNTPOINT DEST`: a consistent copy
 * of a filesystem, taken from one engine snapshot without unmounting
 * (fs/core/fs_backup.h). A mounted filesystem is copied by its daemon on
 * its control thread (ctl.h) while the filesystem stays in use; a stopped
 * one is opened read-only here. The copy is a store lsmerfs can mount; it
 * is then checked with fs_check (every block read and verified, the
 * filesystem's structure checked) unless --no-verify.
 */
#ifdef LSMER_WITH_FS
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "fs_backup.h"
#include "fs_check.h"

static void backup_usage(FILE *f)
{
    fprintf(f, "Usage: lsmer backup [--quiet] [--no-verify] DATA_DIR|MOUNTPOINT DEST\n"
               "\n"
               "Copies the filesystem as of one instant into DEST, which must be missing or\n"
               "an empty directory, without unmounting it. The copy holds every operation\n"
               "the daemon finished before that instant and none after (dirty pages in the\n"
               "kernel's cache are written back first, so what was written before the\n"
               "command started is in). DEST is itself a DATA_DIR: lsmerfs can mount it,\n"
               "and 'lsmer restore DEST NEW_DATA_DIR' copies it back. It holds the live\n"
               "data only (no overwritten or deleted data), compacted.\n"
               "\n"
               "For a mounted filesystem (its MOUNTPOINT, or the DATA_DIR it has mounted)\n"
               "the daemon writes the copy, as its own user, while the filesystem stays in\n"
               "use; only the mount's owner and root may ask it. Interrupting the command\n"
               "cancels the backup and removes the partial copy. A stopped filesystem is\n"
               "opened read-only. Afterwards the copy is checked like 'lsmer fsck' does.\n"
               "On a terminal a progress line shows the bytes copied.\n"
               "\n"
               "Options:\n"
               "  -q, --quiet      no progress line and no summary\n"
               "      --no-verify  do not check the copy afterwards\n"
               "  -h, --help       this text\n"
               "\n"
               "Exit status:\n"
               "  0  the backup is complete (and checked clean)\n"
               "  1  the backup failed (nothing is left in DEST), or the copy does not\n"
               "     check clean (the message says what; DEST is kept for inspection)\n"
               "  2  usage error, or DEST is not empty\n");
}

/* DEST made absolute without requiring it to exist. */
static int absolute_dest(const char *dest, char *out, size_t len)
{
    if (realpath(dest, out)) return 0;
    if (errno != ENOENT) return -errno;
    char a[PATH_MAX], b[PATH_MAX], parent[PATH_MAX];
    snprintf(a, sizeof(a), "%s", dest);
    snprintf(b, sizeof(b), "%s", dest);
    if (!realpath(dirname(a), parent)) return -errno;
    const char *base = basename(b);
    if ((size_t)snprintf(out, len, "%s/%s", strcmp(parent, "/") ? parent : "", base) >= len)
        return -ENAMETOOLONG;
    return 0;
}

static int is_below(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return n && strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

struct progress {
    const char *what;
    int tty;
};

static void show(const struct progress *pr, uint64_t keys, uint64_t bytes, uint64_t total)
{
    if (!pr->tty) return;
    char b[32], t[32];
    cli_format_bytes(bytes, b, sizeof(b));
    cli_format_bytes(total, t, sizeof(t));
    double pct = total ? 100.0 * (double)bytes / (double)total : 0;
    if (pct > 99) pct = 99;
    fprintf(stderr, "\rbacking up %s: ~%.0f%%  %llu keys, %s of ~%s\033[K", pr->what, pct,
            (unsigned long long)keys, b, t);
}

static int offline_progress(void *arg, const struct fs_backup_progress *p)
{
    show(arg, p->keys, p->bytes, p->total_estimate);
    return 0;
}

static int backup_offline(const struct cli_target *t, const char *dest, struct progress *pr,
                          struct fs_backup_progress *res)
{
    lsmer_db *db;
    if (cli_open_db("backup", t->data_dir, 1, &db) != 0) return -EIO;
    int rc = fs_backup(db, dest, offline_progress, pr, res);
    lsmer_close(db);
    if (pr->tty) fprintf(stderr, "\r\033[K");
    if (rc)
        cli_error("backup", "copying %s to %s failed: %s; %s", t->data_dir, dest,
                  lsmer_strerror(rc), cli_hint(rc));
    return rc;
}

static int backup_live(const struct cli_target *t, const char *dest, struct progress *pr,
                       struct fs_backup_progress *res)
{
    /* The kernel's writeback cache may hold data written before this
     * command: have it sent to the daemon first. */
    int mfd = open(t->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (mfd >= 0) {
        if (syncfs(mfd) != 0)
            fprintf(stderr, "lsmer backup: syncfs %s: %s (going on)\n", t->mountpoint,
                    strerror(errno));
        close(mfd);
    }
    char req[CTL_LINE_MAX];
    if ((size_t)snprintf(req, sizeof(req), "backup %s", dest) >= sizeof(req)) return -ENAMETOOLONG;
    struct ctl_conn c;
    if (ctl_request("backup", t->data_dir, req, &c) != 0) return -EIO;
    char line[CTL_LINE_MAX];
    int rc, ret = -EIO;
    while ((rc = ctl_read_line(&c, line, sizeof(line))) > 0) {
        unsigned long long v[9];
        int err;
        const char *text;
        if (sscanf(line, "progress %llu %llu %llu", &v[0], &v[1], &v[2]) == 3) {
            show(pr, v[0], v[1], v[2]);
        } else if (sscanf(line, "ok %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                          &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) == 9) {
            res->sequence = v[0];
            res->keys = v[1];
            res->bytes = v[2];
            res->inodes = v[3];
            res->dirs = v[4];
            res->files = v[5];
            res->symlinks = v[6];
            res->others = v[7];
            res->file_bytes = v[8];
            ret = 0;
            break;
        } else if (ctl_parse_error(line, &err, &text)) {
            if (pr->tty) fprintf(stderr, "\r\033[K");
            cli_error("backup", "the daemon of %s: %s", t->mountpoint, text);
            ret = err;
            break;
        }
    }
    if (pr->tty) fprintf(stderr, "\r\033[K");
    if (rc <= 0)
        cli_error("backup", "the daemon of %s stopped answering (%s); see its log", t->mountpoint,
                  rc == 0 ? "connection closed" : strerror(-rc));
    ctl_close(&c);
    return ret;
}

struct verify {
    struct progress *pr;
    int shown;
};

static void verify_problem(void *arg, const struct fs_check_problem *p)
{
    struct verify *v = arg;
    if (p->severity != FS_CHECK_ERROR || v->shown >= 5) return;
    v->shown++;
    if (v->pr->tty) fprintf(stderr, "\r\033[K");
    fprintf(stderr, "lsmer backup: problem in the copy: %s%s%s\n", p->msg, p->path ? " at " : "",
            p->path ? p->path : "");
}

static void verify_progress(void *arg, const char *phase, uint64_t keys)
{
    struct verify *v = arg;
    if (v->pr->tty)
        fprintf(stderr, "\rchecking the copy (%s): %llu keys\033[K", phase,
                (unsigned long long)keys);
}

int cmd_backup(int argc, char **argv)
{
    static const struct cli_flags_syntax syntax = {
        .cmd = "backup",
        .synopsis = "lsmer backup [--quiet] DATA_DIR|MOUNTPOINT DEST",
        .usage = backup_usage,
        .operands = 2,
        .missing = "missing arguments",
        .takes_no_verify = 1,
    };
    struct cli_flags flags;
    int rc = cli_parse_flags(&syntax, argc, argv, &flags);
    if (rc >= 0) return rc;
    int quiet = flags.quiet, verify = !flags.no_verify;
    struct cli_target t;
    if (ctl_target("backup", argv[optind], &t, quiet) != 0) return CLI_EXIT_FAIL;
    char dest[PATH_MAX];
    rc = absolute_dest(argv[optind + 1], dest, sizeof(dest));
    if (rc) {
        cli_error("backup", "%s: %s", argv[optind + 1], strerror(-rc));
        return CLI_EXIT_FAIL;
    }
    rc = fs_backup_dest_ok(dest);
    if (rc) {
        cli_error("backup", "%s: %s", dest,
                  rc == -ENOTEMPTY ? "not empty; a backup goes into a missing or empty directory"
                                   : strerror(-rc));
        return rc == -ENOTEMPTY ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
    if (is_below(dest, t.data_dir) || (t.live && is_below(dest, t.mountpoint))) {
        cli_error("backup", "%s is inside the filesystem being backed up or its DATA_DIR", dest);
        return CLI_EXIT_USAGE;
    }
    struct progress pr = {t.live ? t.mountpoint : t.data_dir, !quiet && isatty(STDERR_FILENO)};
    struct fs_backup_progress res;
    memset(&res, 0, sizeof(res));
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = t.live ? backup_live(&t, dest, &pr, &res) : backup_offline(&t, dest, &pr, &res);
    if (rc) return CLI_EXIT_FAIL;
    double secs = cli_seconds_since(&t0);

    if (verify) {
        struct verify v = {&pr, 0};
        struct fs_check_options o = {verify_problem, &v, verify_progress, &v};
        struct fs_check_report rep;
        memset(&rep, 0, sizeof(rep));
        rc = fs_check(dest, &o, &rep);
        if (pr.tty) fprintf(stderr, "\r\033[K");
        if (rc) {
            cli_error("backup", "checking the copy in %s failed: %s; %s", dest, lsmer_strerror(rc),
                      cli_hint(rc));
            return CLI_EXIT_FAIL;
        }
        /* The checker counts what it reads; the copy must hold every inode
         * the backup wrote. */
        if (rep.errors || rep.incomplete || rep.inodes != res.inodes || rep.files != res.files ||
            rep.dirs != res.dirs) {
            cli_error("backup",
                      "the copy in %s does not check clean (%llu problems, %llu inodes read of "
                      "%llu written); it is kept for inspection: lsmer fsck %s",
                      dest, (unsigned long long)rep.errors, (unsigned long long)rep.inodes,
                      (unsigned long long)res.inodes, dest);
            return CLI_EXIT_FAIL;
        }
    }
    if (!quiet) {
        char fb[32], kb[32];
        cli_format_bytes(res.file_bytes, fb, sizeof(fb));
        cli_format_bytes(res.bytes, kb, sizeof(kb));
        printf("backed up %s%s as of sequence %llu in %.1f s to %s%s\n"
               "  %llu inodes (%llu directories, %llu files, %llu symlinks, %llu other), %s of "
               "file data; %llu keys, %s\n",
               pr.what, t.live ? " (live)" : "", (unsigned long long)res.sequence, secs, dest,
               verify ? "; checked clean" : "", (unsigned long long)res.inodes,
               (unsigned long long)res.dirs, (unsigned long long)res.files,
               (unsigned long long)res.symlinks, (unsigned long long)res.others, fb,
               (unsigned long long)res.keys, kb);
    }
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
#endif
