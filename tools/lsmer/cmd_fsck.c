/*
 * cmd_fsck.c — `lsmer fsck [--repair] DATA_DIR`: checks an lsmerfs store
 * offline with fs_check() (fs/core/fs_check.h), or checks and repairs it
 * with fs_repair() (fs_repair.h), and prints one line per problem (and
 * what was done about it), a summary, and an exit code in the manner of
 * e2fsck.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef LSMER_WITH_FS
#include "fs_check.h"
#include "fs_repair.h"
#endif

#define FSCK_OK 0
#define FSCK_CORRECTED 1
#define FSCK_UNCORRECTED 4
#define FSCK_OPERATIONAL 8

static void fsck_usage(FILE *f)
{
    fprintf(f, "Usage: lsmer fsck [OPTIONS] DATA_DIR\n"
               "\n"
               "Check an lsmerfs filesystem offline: the DATA_DIR given to lsmerfs, which must\n"
               "not be mounted. Without --repair the store is opened read-only and nothing\n"
               "is written.\n"
               "\n"
               "What is checked:\n"
               "  - every block of every table file against its checksum (the whole key space\n"
               "    is read), and the write-ahead log as it is replayed;\n"
               "  - the superblock;\n"
               "  - every directory entry names a live inode of the type the entry records,\n"
               "    inside an inode that is a directory;\n"
               "  - every inode's link count equals the entries naming it (a directory:\n"
               "    2 + its subdirectories); a directory has one entry and its '..' agrees;\n"
               "  - inodes with no entry and no orphan record (lost); orphan records of\n"
               "    inodes still linked or gone;\n"
               "  - data blocks past the end of a file, of inline files, of dead inodes;\n"
               "    extended attributes of dead inodes;\n"
               "  - directories unreachable from the root, or in a cycle;\n"
               "  - inode numbers at or above the superblock's allocation limit.\n"
               "\n"
               "Each problem is printed as 'ERROR kind PATH: what' (or 'INFO ...'), with the\n"
               "path from the root when the inode has one, else its inode number.\n"
               "Files unlinked while open when the daemon stopped (crash, kill -9) are\n"
               "listed as INFO: the next mount frees them; they are not errors.\n"
               "\n"
               "Repair (-y): each fix is one atomic batch, written after the check, and\n"
               "printed under its problem as '  -> fixed: what was done' or\n"
               "'  -> left: why, and what to do'. The inode is trusted, an entry is not:\n"
               "  - entries naming a missing inode, inside a non-directory, naming the root,\n"
               "    a second entry of a directory, undecodable entries: removed;\n"
               "  - an entry whose type disagrees with its inode: rewritten;\n"
               "  - an inode with no entry: freed if it holds nothing (or nlink is 0), else\n"
               "    linked as /lost+found/#INO (lost+found is made, mode 0700, if missing);\n"
               "    directories cut off from the root (a cycle) are moved there too;\n"
               "  - orphans are freed now; orphan records of linked or missing inodes go;\n"
               "  - link counts and '..' are set from the entries;\n"
               "  - blocks past the end of a file (the last cut to the size), of inline files\n"
               "    or non-files, and blocks and xattrs of missing inodes: removed;\n"
               "  - a too-low superblock ino_limit: raised.\n"
               "Never touched: checksum damage (find the file with 'lsmer scrub', restore it\n"
               "from a backup), a bad superblock, unknown keys, undecodable inodes (and their\n"
               "entries and data), a missing root, and anything when the scan stopped early.\n"
               "A fix may uncover more (a removed entry leaves its child without one), so\n"
               "check and fix alternate until nothing changes; the final check decides the\n"
               "exit status. Back up DATA_DIR first if its contents matter.\n"
               "\n"
               "Options:\n"
               "  -n, --no-repair  only check (the default)\n"
               "  -y, --repair     repair what can be repaired safely (see below)\n"
               "  -q, --quiet      print only errors and the summary (no INFO lines)\n"
               "  -P, --progress   show progress on stderr even when it is not a terminal\n"
               "      --no-progress  never show progress\n"
               "  -h, --help       show this help\n"
               "\n"
               "Exit status (as e2fsck):\n"
               "  0  no errors (INFO lines may have been printed)\n"
               "  1  errors were found and corrected, or orphans freed (--repair); a new\n"
               "     check now finds no errors\n"
               "  4  errors were found and left uncorrected (or remain after --repair)\n"
               "  8  operational error: DATA_DIR cannot be opened, is not an lsmerfs store,\n"
               "     is in use (mounted), the check ran out of memory, or a repair could not\n"
               "     write (ENOSPC, EIO: fixes written before it are whole; run again)\n"
               "  2  usage error\n"
               "\n"
               "Examples:\n"
               "  fusermount3 -u /mnt/fs && lsmer fsck /srv/fs-data\n"
               "  lsmer fsck -q /srv/fs-data || echo \"damaged: exit $?\"\n"
               "  cp -a /srv/fs-data /srv/fs-data.bak && lsmer fsck -y /srv/fs-data\n");
}

#ifdef LSMER_WITH_FS
struct fsck_state {
    int quiet;
    int progress;
    int progress_shown;
};

static void on_problem(void *arg, const struct fs_check_problem *p)
{
    struct fsck_state *s = arg;
    if (s->quiet && p->severity != FS_CHECK_ERROR) return;
    if (s->progress_shown) {
        fputs("\r\033[K", stderr);
        s->progress_shown = 0;
    }
    const char *sev = p->severity == FS_CHECK_ERROR ? "ERROR" : "INFO";
    if (p->path)
        printf("%s %s %s: %s\n", sev, fs_check_kind_name(p->kind), p->path, p->msg);
    else
        printf("%s %s: %s\n", sev, fs_check_kind_name(p->kind), p->msg);
    fflush(stdout);
}

static void on_fix(void *arg, const struct fs_check_problem *p, int fixed, const char *action)
{
    struct fsck_state *s = arg;
    if (s->quiet && p->severity != FS_CHECK_ERROR && fixed) return;
    printf("  -> %s: %s\n", fixed ? "fixed" : "left", action);
    fflush(stdout);
}

static void on_progress(void *arg, const char *phase, uint64_t keys)
{
    struct fsck_state *s = arg;
    if (!s->progress) return;
    fprintf(stderr, "\rlsmer fsck: %s: %" PRIu64 " keys read\033[K", phase, keys);
    s->progress_shown = 1;
    fflush(stderr);
}
#endif

int cmd_fsck(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"no-repair", no_argument, NULL, 'n'},
        {"repair", no_argument, NULL, 'y'},
        {"quiet", no_argument, NULL, 'q'},
        {"progress", no_argument, NULL, 'P'},
        {"no-progress", no_argument, NULL, 1},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int repair = 0, quiet = 0, progress = isatty(STDERR_FILENO), c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "nyqPh", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            repair = 0;
            break;
        case 'y':
            repair = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'P':
            progress = 1;
            break;
        case 1:
            progress = 0;
            break;
        case 'h':
            fsck_usage(stdout);
            return CLI_EXIT_OK;
        default:
            fprintf(stderr, "Run 'lsmer fsck --help' for usage.\n");
            return CLI_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cli_error("fsck", optind >= argc ? "missing DATA_DIR" : "too many arguments");
        fprintf(stderr, "Run 'lsmer fsck --help' for usage.\n");
        return CLI_EXIT_USAGE;
    }
    const char *dir = argv[optind];
#ifndef LSMER_WITH_FS
    (void)quiet;
    (void)repair;
    (void)progress;
    cli_error("fsck", "this lsmer was built without the lsmerfs core (FUSE 3 was not found at "
                      "build time), so it cannot check a filesystem; rebuild with libfuse3-dev");
    return FSCK_OPERATIONAL;
#else
    struct fsck_state st = {.quiet = quiet, .progress = progress};
    struct fs_check_options o = {
        .on_problem = on_problem, .arg = &st, .progress = on_progress, .progress_arg = &st};
    struct fs_check_report r;
    struct fs_repair_report rr;
    int rc;
    if (repair) {
        struct fs_repair_options ro = {.check = o, .on_fix = on_fix, .fix_arg = &st};
        rc = fs_repair(dir, &ro, &rr);
        r = rr.last;
    } else {
        rc = fs_check(dir, &o, &r);
    }
    if (st.progress_shown) fputs("\r\033[K", stderr);
    if (rc) {
        switch (rc) {
        case -EBUSY:
            cli_error("fsck", "%s is in use (mounted?); unmount first (fusermount3 -u MOUNTPOINT)",
                      dir);
            break;
        case -EINVAL:
            cli_error("fsck",
                      "%s is not an lsmerfs store (no lsmer database, or one without an "
                      "lsmerfs superblock); give the DATA_DIR used with lsmerfs",
                      dir);
            break;
        case -EPROTO:
            cli_error("fsck", "%s was written by a newer version; use that version's lsmer", dir);
            break;
        default:
            cli_error("fsck", "cannot %s %s: %s; %s", repair ? "repair" : "check", dir,
                      lsmer_strerror(rc), cli_hint(rc));
        }
        return FSCK_OPERATIONAL;
    }
    char bytes[32];
    cli_format_bytes(r.bytes, bytes, sizeof(bytes));
    printf("%s: %" PRIu64 " inodes (%" PRIu64 " directories, %" PRIu64 " files, %" PRIu64
           " symlinks, %" PRIu64 " other), %s in files, %" PRIu64 " keys; %" PRIu64
           " error%s, %" PRIu64 " info%s%s\n",
           dir, r.inodes, r.dirs, r.files, r.symlinks, r.others, bytes, r.keys, r.errors,
           r.errors == 1 ? "" : "s", r.infos, r.infos == 1 ? "" : "s",
           r.incomplete ? " (the scan stopped early)" : "");
    if (!repair) return r.errors ? FSCK_UNCORRECTED : FSCK_OK;
    printf("%s: repair: %" PRIu64 " problem%s fixed (%" PRIu64 " error%s), %" PRIu64
           " left, %u check%s; the last check above found %" PRIu64 " error%s\n",
           dir, rr.fixed, rr.fixed == 1 ? "" : "s", rr.errors_fixed,
           rr.errors_fixed == 1 ? "" : "s", rr.left, rr.passes, rr.passes == 1 ? "" : "s", r.errors,
           r.errors == 1 ? "" : "s");
    if (r.errors) return FSCK_UNCORRECTED;
    return rr.fixed ? FSCK_CORRECTED : FSCK_OK;
#endif
}
