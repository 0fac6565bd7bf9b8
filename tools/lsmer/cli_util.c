/*
 * cli_util.c — helpers the `lsmer` subcommands share: error messages that
 * say what to do, opening a database with a clear diagnosis, parsing
 * numbers, sizes and flag-only command lines, and timing.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "lsmer %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

const char *cli_hint(int err)
{
    switch (err) {
    case -ENOENT:
        return "check the path; a database is the directory given to lsmerfs as DATA_DIR";
    case -ENOTDIR:
        return "give the database directory, not a file inside it";
    case -EBUSY:
        return "another process holds its LOCK: unmount the filesystem (fusermount3 -u "
               "MOUNTPOINT) or stop the process using it, then retry";
    case -EACCES:
    case -EPERM:
        return "run as the owner of the directory (or root)";
    case -EINVAL:
        return "the directory does not hold an lsmer database (no CURRENT file), or an "
               "option is out of range";
    case -EPROTO:
        return "it was written by a newer lsmer; use that version's tools";
    case -LSMER_ECORRUPT:
        return "a file failed its checksum: run 'lsmer fsck DIR' to find it, and restore from "
               "a backup if it cannot be repaired";
    case -ENOSPC:
        return "free some space on that filesystem and retry";
    case -EROFS:
        return "the filesystem is mounted read-only; remount it read-write";
    case -EIO:
        return "the disk reported an error: check dmesg, then run 'lsmer fsck DIR'";
    default:
        return "see the message above";
    }
}

static const char *errstr(int err)
{
    return lsmer_strerror(err);
}

int cli_open_db(const char *cmd, const char *dir, int read_only, lsmer_db **out)
{
    struct stat st;
    int rc;
    *out = NULL;
    if (stat(dir, &st) != 0) {
        rc = -errno;
        cli_error(cmd, "cannot open %s: %s; %s", dir, strerror(errno), cli_hint(rc));
        return rc;
    }
    if (!S_ISDIR(st.st_mode)) {
        rc = -ENOTDIR;
        cli_error(cmd, "%s is not a directory; %s", dir, cli_hint(rc));
        return rc;
    }
    lsmer_options opt;
    lsmer_options_init(&opt);
    opt.create_if_missing = 0;
    opt.read_only = read_only;
    opt.log_level = LSMER_LOG_WARN; /* "opened in ..." lines are noise here */
    rc = lsmer_open(dir, &opt, out);
    if (rc != 0) {
        *out = NULL;
        cli_error(cmd, "cannot open the database in %s: %s; %s", dir, errstr(rc), cli_hint(rc));
    }
    return rc;
}

int cli_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !isdigit((unsigned char)*s)) return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != 0) return -EINVAL;
    *out = v;
    return 0;
}

int cli_parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !isdigit((unsigned char)*s)) return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0) return -EINVAL;
    unsigned shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 0:
        break;
    case 'K':
        shift = 10;
        break;
    case 'M':
        shift = 20;
        break;
    case 'G':
        shift = 30;
        break;
    default:
        return -EINVAL;
    }
    if (*end) {
        end++;
        if (strcmp(end, "") != 0 && strcasecmp(end, "B") != 0 && strcasecmp(end, "iB") != 0)
            return -EINVAL;
    }
    if (shift && v > (UINT64_MAX >> shift)) return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

void cli_format_bytes(uint64_t v, char *buf, unsigned len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double d = (double)v;
    int u = 0;
    while (d >= 1024 && u < 4) {
        d /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)v);
    else
        snprintf(buf, len, "%.1f %s", d, units[u]);
}

double cli_seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int cli_parse_flags(const struct cli_flags_syntax *syn, int argc, char **argv, struct cli_flags *f)
{
    struct option opts[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"no-verify", no_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    if (!syn->takes_no_verify) opts[2] = opts[3];
    memset(f, 0, sizeof(*f));
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":qh", opts, NULL);
        if (c == -1) break;
        switch (c) {
        case 'q':
            f->quiet = 1;
            break;
        case 'n':
            f->no_verify = 1;
            break;
        case 'h':
            syn->usage(stdout);
            return CLI_EXIT_OK;
        default:
            cli_error(syn->cmd, "unknown option '%s' (see 'lsmer %s --help')", argv[optind - 1],
                      syn->cmd);
            return CLI_EXIT_USAGE;
        }
    }
    if (argc - optind != syn->operands) {
        cli_error(syn->cmd, "%s (usage: %s)",
                  argc - optind < syn->operands ? syn->missing : "too many arguments",
                  syn->synopsis);
        return CLI_EXIT_USAGE;
    }
    return -1;
}
