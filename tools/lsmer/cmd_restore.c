/*
 * cmd_restore.c — `lsmer restore BACKUP DATA_DIR`: makes a DATA_DIR from a
 * backup written by `lsmer backup`. The backup is checked first (fs_check:
 * every block read and verified, the filesystem structure checked; a
 * half-written backup has no superblock and is refused), then its files are
 * copied while its lock is held, synced, and the new DATA_DIR is checked
 * again and must hold the same inodes. A copy that fails is removed.
 */
#ifdef LSMER_WITH_FS
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_target.h"
#include "fs_backup.h"
#include "fs_check.h"

static void restore_usage(FILE *f)
{
    fprintf(f, "Usage: lsmer restore [--quiet] BACKUP DATA_DIR\n"
               "\n"
               "Makes DATA_DIR (missing or an empty directory) a copy of BACKUP, a\n"
               "directory written by 'lsmer backup', ready to mount with lsmerfs. BACKUP\n"
               "is checked first as 'lsmer fsck' does (every block read and verified, the\n"
               "filesystem structure checked) and refused if anything is wrong, e.g. a\n"
               "backup that was interrupted. The copy is synced to disk and checked the\n"
               "same way; a copy that does not check clean is removed. BACKUP is not\n"
               "changed and must not be mounted meanwhile.\n"
               "\n"
               "Options:\n"
               "  -q, --quiet  no progress and no summary\n"
               "  -h, --help   this text\n"
               "\n"
               "Exit status:\n"
               "  0  restored and checked clean\n"
               "  1  BACKUP does not check clean, or copying failed (nothing is left in\n"
               "     DATA_DIR); the message says why\n"
               "  2  usage error, or DATA_DIR is not empty\n");
}

struct ui {
    int tty;
    int shown;
    const char *what;
};

static void on_problem(void *arg, const struct fs_check_problem *p)
{
    struct ui *u = arg;
    if (p->severity != FS_CHECK_ERROR || u->shown >= 5) return;
    u->shown++;
    if (u->tty) fprintf(stderr, "\r\033[K");
    fprintf(stderr, "lsmer restore: %s: %s: %s%s%s\n", u->what, fs_check_kind_name(p->kind), p->msg,
            p->path ? " at " : "", p->path ? p->path : "");
}

static void on_progress(void *arg, const char *phase, uint64_t keys)
{
    struct ui *u = arg;
    if (u->tty)
        fprintf(stderr, "\rchecking %s (%s): %llu keys\033[K", u->what, phase,
                (unsigned long long)keys);
}

/* 0 if dir checks clean; prints why not otherwise. */
static int check(struct ui *u, const char *dir, struct fs_check_report *rep)
{
    struct fs_check_options o = {on_problem, u, on_progress, u};
    memset(rep, 0, sizeof(*rep));
    u->what = dir;
    u->shown = 0;
    int rc = fs_check(dir, &o, rep);
    if (u->tty) fprintf(stderr, "\r\033[K");
    if (rc) {
        cli_error("restore", "cannot check %s: %s; %s", dir, lsmer_strerror(rc), cli_hint(rc));
        return rc;
    }
    if (rep->errors || rep->incomplete) {
        cli_error("restore",
                  "%s does not check clean (%llu problems%s); for details: lsmer fsck %s", dir,
                  (unsigned long long)rep->errors, rep->incomplete ? ", scan incomplete" : "", dir);
        return -LSMER_ECORRUPT;
    }
    return 0;
}

static int copy_file(const char *from, const char *to, mode_t mode, struct ui *u, uint64_t *done,
                     uint64_t total)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) return -errno;
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0666);
    if (out < 0) {
        int rc = -errno;
        close(in);
        return rc;
    }
    static char buf[1 << 20];
    int rc = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                rc = -errno;
                goto done;
            }
            off += w;
        }
        *done += (uint64_t)n;
        if (u->tty) {
            char a[32], b[32];
            cli_format_bytes(*done, a, sizeof(a));
            cli_format_bytes(total, b, sizeof(b));
            fprintf(stderr, "\rcopying: %s of %s\033[K", a, b);
        }
    }
done:
    if (rc == 0 && fsync(out) != 0) rc = -errno;
    if (close(out) != 0 && rc == 0) rc = -errno;
    close(in);
    return rc;
}

/* The database's files: everything regular but the lock and temp files. */
static int is_db_file(const char *name)
{
    size_t n = strlen(name);
    return strcmp(name, "LOCK") != 0 && !(n > 4 && strcmp(name + n - 4, ".tmp") == 0);
}

static void remove_copy(const char *dir, int created)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[PATH_MAX];
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.' &&
                (size_t)snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) < sizeof(p))
                unlink(p);
        closedir(d);
    }
    if (created) rmdir(dir);
}

static int copy_store(const char *from, const char *to, struct ui *u)
{
    DIR *d = opendir(from);
    if (!d) return -errno;
    struct dirent *e;
    char src[PATH_MAX], dst[PATH_MAX];
    struct stat st;
    uint64_t total = 0, done = 0;
    while ((e = readdir(d)) != NULL) {
        if ((size_t)snprintf(src, sizeof(src), "%s/%s", from, e->d_name) >= sizeof(src)) continue;
        if (lstat(src, &st) == 0 && S_ISREG(st.st_mode) && is_db_file(e->d_name))
            total += (uint64_t)st.st_size;
    }
    rewinddir(d);
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if ((size_t)snprintf(src, sizeof(src), "%s/%s", from, e->d_name) >= sizeof(src) ||
            (size_t)snprintf(dst, sizeof(dst), "%s/%s", to, e->d_name) >= sizeof(dst)) {
            rc = -ENAMETOOLONG;
            break;
        }
        if (lstat(src, &st) != 0) {
            rc = -errno;
            break;
        }
        if (!S_ISREG(st.st_mode) || !is_db_file(e->d_name)) continue;
        rc = copy_file(src, dst, st.st_mode, u, &done, total);
        if (rc) cli_error("restore", "copying %s to %s: %s", src, dst, strerror(-rc));
    }
    closedir(d);
    if (u->tty) fprintf(stderr, "\r\033[K");
    if (rc == 0) {
        int dfd = open(to, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) != 0) rc = -errno;
        if (dfd >= 0) close(dfd);
        if (rc) cli_error("restore", "syncing %s: %s", to, strerror(-rc));
    }
    return rc;
}

int cmd_restore(int argc, char **argv)
{
    static const struct cli_flags_syntax syntax = {
        .cmd = "restore",
        .synopsis = "lsmer restore [--quiet] BACKUP DATA_DIR",
        .usage = restore_usage,
        .operands = 2,
        .missing = "missing arguments",
    };
    struct cli_flags flags;
    int rc = cli_parse_flags(&syntax, argc, argv, &flags);
    if (rc >= 0) return rc;
    int quiet = flags.quiet;
    char backup[PATH_MAX], mnt[PATH_MAX];
    const char *data_dir = argv[optind + 1];
    if (!realpath(argv[optind], backup)) {
        cli_error("restore", "%s: %s", argv[optind], strerror(errno));
        return CLI_EXIT_FAIL;
    }
    if (cli_find_mount_of(backup, mnt, sizeof(mnt))) {
        cli_error("restore",
                  "%s is mounted at %s; unmount it first (or back it up with 'lsmer "
                  "backup %s DEST')",
                  backup, mnt, mnt);
        return CLI_EXIT_FAIL;
    }
    rc = fs_backup_dest_ok(data_dir);
    if (rc) {
        cli_error("restore", "%s: %s", data_dir,
                  rc == -ENOTEMPTY ? "not empty; restore into a missing or empty directory"
                                   : strerror(-rc));
        return rc == -ENOTEMPTY ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
    struct ui u = {!quiet && isatty(STDERR_FILENO), 0, backup};
    struct fs_check_report before, after;
    if (check(&u, backup, &before) != 0) {
        fprintf(stderr, "lsmer restore: not restoring from %s\n", backup);
        return CLI_EXIT_FAIL;
    }

    /* Hold the backup's lock while copying: nobody may mount or change it
     * meanwhile. */
    lsmer_db *held;
    if (cli_open_db("restore", backup, 1, &held) != 0) return CLI_EXIT_FAIL;
    int created = 0;
    if (mkdir(data_dir, 0700) == 0)
        created = 1;
    else if (errno != EEXIST) {
        cli_error("restore", "cannot create %s: %s", data_dir, strerror(errno));
        lsmer_close(held);
        return CLI_EXIT_FAIL;
    }
    rc = copy_store(backup, data_dir, &u);
    lsmer_close(held);
    if (rc == 0) rc = check(&u, data_dir, &after);
    if (rc == 0 && (after.inodes != before.inodes || after.files != before.files ||
                    after.dirs != before.dirs || after.bytes != before.bytes)) {
        cli_error("restore", "the copy in %s differs from %s (%llu inodes instead of %llu)",
                  data_dir, backup, (unsigned long long)after.inodes,
                  (unsigned long long)before.inodes);
        rc = -EIO;
    }
    if (rc) {
        remove_copy(data_dir, created);
        fprintf(stderr, "lsmer restore: nothing restored; %s is as it was\n", data_dir);
        return CLI_EXIT_FAIL;
    }
    if (!quiet) {
        char b[32];
        cli_format_bytes(after.bytes, b, sizeof(b));
        printf("restored %s into %s; checked clean: %llu inodes (%llu directories, %llu files, "
               "%llu symlinks), %s of file data\n",
               backup, data_dir, (unsigned long long)after.inodes, (unsigned long long)after.dirs,
               (unsigned long long)after.files, (unsigned long long)after.symlinks, b);
    }
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
#endif
