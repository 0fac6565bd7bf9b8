/*
 * cmd_compact.c — `lsmer compact DATA_DIR|MOUNTPOINT`: lsmer_compact_range()
 * over the whole key space, which pushes every level down to the last one
 * and drops deleted and overwritten data. Offline, lsmer_compact_range()
 * blocks, so it runs in a thread while the main thread shows a progress
 * line on a terminal, computed from the engine's compaction counters. On a
 * mounted filesystem the daemon compacts (control channel, ctl.h) while the
 * filesystem stays in use, and sends the same progress figures.
 */
#include "cli.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

static void compact_usage(FILE *f)
{
    fprintf(f, "Usage: lsmer compact [--quiet] DATA_DIR|MOUNTPOINT\n"
               "\n"
               "Compacts the lsmer database in DATA_DIR: every table of every level is\n"
               "merged down to the last level, dropping deleted and overwritten data.\n"
               "Afterwards reads touch fewer files and the space used is the live data.\n"
               "Needs free space for a second copy of the largest level while it runs.\n"
               "For a mounted lsmerfs (its MOUNTPOINT, or the DATA_DIR it has mounted) the\n"
               "daemon compacts while the filesystem stays in use (only the mount's owner\n"
               "and root may ask it); interrupting this command then stops the progress\n"
               "reports, not the compaction.\n"
               "On a terminal a progress line shows the bytes compacted so far.\n"
               "\n"
               "Options:\n"
               "  -q, --quiet  no progress line and no summary\n"
               "  -h, --help   this text\n"
               "\n"
               "Exit status:\n"
               "  0  compacted\n"
               "  1  the database could not be opened, or compaction failed (the message\n"
               "     says why; the database stays consistent either way)\n"
               "  2  usage error\n");
}

struct compact_job {
    lsmer_db *db;
    int rc;
    atomic_int done;
};

static void *compact_thread(void *arg)
{
    struct compact_job *job = arg;
    job->rc = lsmer_compact_range(job->db, NULL);
    atomic_store(&job->done, 1);
    return NULL;
}

static void level_summary(const lsmer_stats *s, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    for (int l = 0; l < s->levels && l < LSMER_MAX_LEVELS && n < len; l++)
        if (s->level[l].files)
            n += (size_t)snprintf(buf + n, len - n, "%sL%d:%llu", n ? " " : "", l,
                                  (unsigned long long)s->level[l].files);
    if (n == 0) snprintf(buf, len, "empty");
}

/* The progress line on a terminal: bytes read of what there was at the
 * start (an estimate, capped below 100%: everything is read once on the way
 * down, more if it passes several levels), bytes written, jobs done. */
static void show_progress(const char *where, uint64_t nread, uint64_t nwritten, uint64_t total,
                          uint64_t jobs)
{
    double pct = total ? 100.0 * (double)nread / (double)total : 0;
    if (pct > 99) pct = 99;
    char r[32], w[32], t[32];
    cli_format_bytes(nread, r, sizeof(r));
    cli_format_bytes(nwritten, w, sizeof(w));
    cli_format_bytes(total, t, sizeof(t));
    fprintf(stderr, "\rcompacting %s: ~%.0f%%  read %s of %s, wrote %s, %llu jobs\033[K", where,
            pct, r, t, w, (unsigned long long)jobs);
}

/* Through the daemon: "progress READ WRITTEN TOTAL JOBS" lines, then
 * "ok BEFORE AFTER" (table bytes) or "error". */
static int compact_live(const struct cli_target *t, int quiet)
{
    struct ctl_conn c;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (ctl_request("compact", t->data_dir, "compact", &c) != 0) return CLI_EXIT_FAIL;
    int tty = !quiet && isatty(STDERR_FILENO);
    char line[CTL_LINE_MAX];
    int rc, ret = CLI_EXIT_FAIL;
    while ((rc = ctl_read_line(&c, line, sizeof(line))) > 0) {
        unsigned long long rd, wr, total, jobs, before, after;
        int err;
        const char *text;
        if (sscanf(line, "progress %llu %llu %llu %llu", &rd, &wr, &total, &jobs) == 4) {
            if (tty) show_progress(t->mountpoint, rd, wr, total, jobs);
        } else if (sscanf(line, "ok %llu %llu", &before, &after) == 2) {
            if (tty) fprintf(stderr, "\r\033[K");
            if (!quiet) {
                char sb[32], sa[32];
                cli_format_bytes(before, sb, sizeof(sb));
                cli_format_bytes(after, sa, sizeof(sa));
                printf("compacted %s (live) in %.1f s: tables %s -> %s\n", t->mountpoint,
                       cli_seconds_since(&t0), sb, sa);
            }
            ret = CLI_EXIT_OK;
            break;
        } else if (ctl_parse_error(line, &err, &text)) {
            if (tty) fprintf(stderr, "\r\033[K");
            cli_error("compact", "%s: %s", t->mountpoint, text);
            break;
        }
    }
    if (rc <= 0) {
        if (tty) fprintf(stderr, "\r\033[K");
        cli_error("compact", "the daemon of %s stopped answering (%s); see its log", t->mountpoint,
                  rc == 0 ? "connection closed" : strerror(-rc));
    }
    ctl_close(&c);
    return ret;
}

int cmd_compact(int argc, char **argv)
{
    static const struct cli_flags_syntax syntax = {
        .cmd = "compact",
        .synopsis = "lsmer compact [--quiet] DATA_DIR|MOUNTPOINT",
        .usage = compact_usage,
        .operands = 1,
        .missing = "missing DATA_DIR or MOUNTPOINT",
    };
    struct cli_flags flags;
    int ret = cli_parse_flags(&syntax, argc, argv, &flags);
    if (ret >= 0) return ret;
    int quiet = flags.quiet;
    struct cli_target target;
    if (ctl_target("compact", argv[optind], &target, quiet) != 0) return CLI_EXIT_FAIL;
    if (target.live) return compact_live(&target, quiet);
    const char *dir = target.data_dir;
    struct compact_job job = {.rc = 0};
    if (cli_open_db("compact", dir, 0, &job.db) != 0) return CLI_EXIT_FAIL;

    lsmer_stats before, now;
    memset(&before, 0, sizeof(before));
    lsmer_get_stats(job.db, &before);
    int tty = !quiet && isatty(STDERR_FILENO);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t tid;
    int prc = pthread_create(&tid, NULL, compact_thread, &job);
    if (prc != 0) {
        job.rc = -prc;
    } else {
        while (!atomic_load(&job.done)) {
            struct timespec nap = {0, 250 * 1000 * 1000};
            nanosleep(&nap, NULL);
            if (!tty || lsmer_get_stats(job.db, &now) != 0) continue;
            show_progress(dir, now.compaction_bytes_read - before.compaction_bytes_read,
                          now.compaction_bytes_written - before.compaction_bytes_written,
                          before.table_bytes + before.memtable_bytes,
                          now.compactions - before.compactions);
        }
        pthread_join(tid, NULL);
    }
    double secs = cli_seconds_since(&t0);
    if (tty) fprintf(stderr, "\r\033[K");
    if (job.rc != 0) {
        cli_error("compact", "compacting %s failed: %s; %s", dir, lsmer_strerror(job.rc),
                  cli_hint(job.rc));
        lsmer_close(job.db);
        return CLI_EXIT_FAIL;
    }
    if (!quiet && lsmer_get_stats(job.db, &now) == 0) {
        char lb[128], la[128], sb[32], sa[32];
        level_summary(&before, lb, sizeof(lb));
        level_summary(&now, la, sizeof(la));
        cli_format_bytes(before.table_bytes, sb, sizeof(sb));
        cli_format_bytes(now.table_bytes, sa, sizeof(sa));
        printf("compacted %s in %.1f s: tables %s -> %s; files per level %s -> %s\n", dir, secs, sb,
               sa, lb, la);
    }
    lsmer_close(job.db);
    return CLI_EXIT_OK;
}
