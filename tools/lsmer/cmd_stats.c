/*
 * cmd_stats.c — `lsmer stats DATA_DIR|MOUNTPOINT`: the engine's figures
 * (lsmer_get_stats(): levels with files, bytes and score, write
 * amplification, block cache, bloom filters, stalls, background state) as
 * text or (--json) one JSON object. A mounted filesystem (its mount point,
 * or its DATA_DIR, which the daemon holds locked) is asked through the
 * daemon's control channel (ctl.h), which adds the filesystem's figures:
 * FUSE requests by operation with their rates, bytes read and written,
 * inodes. Otherwise the database is opened read-only. --watch refreshes
 * like top(1), rates over the last interval.
 */
#include "cli.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

static void stats_usage(FILE *f)
{
    fprintf(f, "Usage: lsmer stats [--json] [--watch [SECONDS]] DATA_DIR|MOUNTPOINT\n"
               "\n"
               "For a mounted lsmerfs (its MOUNTPOINT, or the DATA_DIR it has mounted) asks\n"
               "the daemon through its control channel (only the mount's owner and root\n"
               "may); otherwise opens the database in DATA_DIR read-only (nothing is\n"
               "written). Prints:\n"
               "  - each level: number of table files, bytes, and score (size over\n"
               "    capacity; a level is compacted when it reaches the threshold);\n"
               "  - write amplification: (WAL + flush + compaction bytes written) / user\n"
               "    bytes written, for the writes counted since the database was opened\n"
               "    (a read-only open writes nothing, so it shows n/a unless the engine\n"
               "    keeps its counters across opens);\n"
               "  - block cache hit rate, bloom filter useful rate (lookups the filter\n"
               "    answered \"absent\" without reading a block), false positives;\n"
               "  - time writers were stalled, memtables, WAL, snapshots, last sequence,\n"
               "    pending compaction bytes, the sticky background error if any;\n"
               "  - live only: FUSE requests by operation (count, and per second since\n"
               "    the mount or, with --watch, over the last interval), bytes read and\n"
               "    written, inodes the kernel holds, inode numbers handed out, the\n"
               "    volume's space, and a running compaction or backup.\n"
               "\n"
               "Options:\n"
               "  --json             print one JSON object instead of text (stable field\n"
               "                     names; with --watch one object per refresh)\n"
               "  -w, --watch [SECS] refresh every SECS seconds (default 2) until\n"
               "                     interrupted; live mounts only\n"
               "  -h, --help         this text\n"
               "\n"
               "Exit status:\n"
               "  0  printed\n"
               "  1  the database could not be opened or read, or the daemon could not be\n"
               "     asked (the message says why)\n"
               "  2  usage error\n");
}

static double ratio(uint64_t num, uint64_t den)
{
    return den ? (double)num / (double)den : -1;
}

static void print_text(const char *dir, const lsmer_stats *s)
{
    char a[32], b[32], c[32];
    uint64_t files = 0, bytes = 0;
    printf("database: %s\n\nlevel   files        bytes   score\n", dir);
    for (int l = 0; l < s->levels && l < LSMER_MAX_LEVELS; l++) {
        cli_format_bytes(s->level[l].bytes, a, sizeof(a));
        printf("L%-5d %6llu %12s %7.2f\n", l, (unsigned long long)s->level[l].files, a,
               s->level[l].score);
        files += s->level[l].files;
        bytes += s->level[l].bytes;
    }
    cli_format_bytes(bytes, a, sizeof(a));
    printf("total  %6llu %12s\n\n", (unsigned long long)files, a);

    uint64_t written = s->wal_bytes_written + s->flush_bytes_written + s->compaction_bytes_written;
    double wa = ratio(written, s->user_bytes_written);
    if (wa < 0) {
        printf("write amplification: n/a (no writes counted since this open)\n");
    } else {
        cli_format_bytes(s->user_bytes_written, a, sizeof(a));
        printf("write amplification: %.2f  (WAL %llu + flush %llu + compaction %llu bytes "
               "over %s of user writes)\n",
               wa, (unsigned long long)s->wal_bytes_written,
               (unsigned long long)s->flush_bytes_written,
               (unsigned long long)s->compaction_bytes_written, a);
    }
    double hit = ratio(s->cache_hits, s->cache_hits + s->cache_misses);
    cli_format_bytes(s->cache_bytes, a, sizeof(a));
    cli_format_bytes(s->cache_capacity, b, sizeof(b));
    if (hit < 0)
        printf("block cache: no lookups yet; %s used of %s\n", a, b);
    else
        printf("block cache: hit rate %.1f%% (%llu hits, %llu misses); %s used of %s\n", 100 * hit,
               (unsigned long long)s->cache_hits, (unsigned long long)s->cache_misses, a, b);
    double useful = ratio(s->bloom_useful, s->bloom_checks);
    if (useful < 0)
        printf("bloom filters: no checks yet\n");
    else
        printf("bloom filters: useful %.1f%% of %llu checks; %llu false positives\n", 100 * useful,
               (unsigned long long)s->bloom_checks, (unsigned long long)s->bloom_false_positives);
    printf("stalls: %.3f s (%llu writes slowed, %llu stopped)\n", (double)s->stall_micros / 1e6,
           (unsigned long long)s->slowdowns, (unsigned long long)s->stops);
    cli_format_bytes(s->memtable_bytes, a, sizeof(a));
    cli_format_bytes(s->wal_file_bytes, b, sizeof(b));
    cli_format_bytes(s->table_bytes, c, sizeof(c));
    printf("memtable: %s (+%llu immutable); WAL: %s; tables: %s\n", a,
           (unsigned long long)s->immutable_memtables, b, c);
    cli_format_bytes(s->pending_compaction_bytes, a, sizeof(a));
    printf("flushes: %llu; compactions: %llu; pending compaction: %s\n",
           (unsigned long long)s->flushes, (unsigned long long)s->compactions, a);
    printf("last sequence: %llu; live snapshots: %llu; WAL syncs: %llu for %llu sync requests\n",
           (unsigned long long)s->last_sequence, (unsigned long long)s->live_snapshots,
           (unsigned long long)s->wal_syncs, (unsigned long long)s->sync_requests);
    printf("open took: %.1f ms\n", (double)s->recovery_micros / 1e3);
    if (s->background_error)
        printf("background error: %s (writes fail until the database is reopened)\n",
               lsmer_strerror(s->background_error));
    else
        printf("background error: none\n");
}

static void json_u64(const char *name, uint64_t v, int comma)
{
    printf("  \"%s\": %llu%s\n", name, (unsigned long long)v, comma ? "," : "");
}

static void json_ratio(const char *name, double v)
{
    if (v < 0)
        printf("  \"%s\": null,\n", name);
    else
        printf("  \"%s\": %.6f,\n", name, v);
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

/* Live figures and the rates to print with them. */
struct live_view {
    const struct cli_target *t;
    const struct ctl_stats *now;
    const struct ctl_stats *prev; /* the last refresh, or NULL: rates since the mount */
};

/* Seconds between prev and now (the daemon's clock), or since the mount. */
static double interval_s(const struct live_view *v)
{
    uint64_t t1 = v->now->fs[CTL_FS_uptime_ms];
    uint64_t t0 = v->prev ? v->prev->fs[CTL_FS_uptime_ms] : 0;
    return t1 > t0 ? (double)(t1 - t0) / 1e3 : 0;
}

static double rate(const struct live_view *v, uint64_t now, uint64_t prev)
{
    double dt = interval_s(v);
    uint64_t base = v->prev ? prev : 0;
    return dt > 0 && now >= base ? (double)(now - base) / dt : 0;
}

static void print_live_text(const struct live_view *v)
{
    const struct ctl_stats *n = v->now;
    const struct ctl_stats *p = v->prev;
    char a[32], b[32];
    uint64_t up = n->fs[CTL_FS_uptime_ms] / 1000;
    printf("\nfilesystem: %s (mounted %lluh%02llum%02llus ago)\n", v->t->mountpoint,
           (unsigned long long)(up / 3600), (unsigned long long)(up / 60 % 60),
           (unsigned long long)(up % 60));
    cli_format_bytes(n->fs[CTL_FS_read_bytes], a, sizeof(a));
    cli_format_bytes(n->fs[CTL_FS_write_bytes], b, sizeof(b));
    printf("data: read %s, written %s", a, b);
    cli_format_bytes((uint64_t)rate(v, n->fs[CTL_FS_read_bytes], p ? p->fs[CTL_FS_read_bytes] : 0),
                     a, sizeof(a));
    cli_format_bytes(
        (uint64_t)rate(v, n->fs[CTL_FS_write_bytes], p ? p->fs[CTL_FS_write_bytes] : 0), b,
        sizeof(b));
    printf(" (%s/s read, %s/s written %s)\n", a, b, p ? "now" : "on average");
    printf("inodes: %llu held by the kernel; %llu inode numbers handed out\n",
           (unsigned long long)n->fs[CTL_FS_referenced_inodes],
           (unsigned long long)n->fs[CTL_FS_inos_handed_out]);
    cli_format_bytes(n->fs[CTL_FS_volume_avail_bytes], a, sizeof(a));
    cli_format_bytes(n->fs[CTL_FS_volume_total_bytes], b, sizeof(b));
    printf("volume of DATA_DIR: %s free of %s\n", a, b);
    if (n->fs[CTL_FS_uring_queues])
        printf("requests: %llu through io_uring (%llu per-CPU queues in use), the rest "
               "through /dev/fuse\n",
               (unsigned long long)n->fs[CTL_FS_uring_requests],
               (unsigned long long)n->fs[CTL_FS_uring_queues]);
    else
        printf("requests: through /dev/fuse\n");
    if (n->job[0]) printf("running: %s\n", n->job);
    uint64_t total = 0, total_prev = 0;
    for (int i = 0; i < CTL_OP_COUNT; i++) {
        total += n->ops[i];
        total_prev += p ? p->ops[i] : 0;
    }
    printf("\nFUSE requests: %llu (%.1f/s %s)\n", (unsigned long long)total,
           rate(v, total, total_prev), p ? "now" : "since the mount");
    printf("operation       count       per s\n");
    for (int i = 0; i < CTL_OP_COUNT; i++)
        if (n->ops[i])
            printf("%-12s %10llu %11.1f\n", ctl_op_names[i], (unsigned long long)n->ops[i],
                   rate(v, n->ops[i], p ? p->ops[i] : 0));
}

static void print_json(const char *dir, const lsmer_stats *s, const struct live_view *v)
{
    uint64_t written = s->wal_bytes_written + s->flush_bytes_written + s->compaction_bytes_written;
    printf("{\n  \"database\": ");
    json_string(dir);
    printf(",\n  \"live\": %s,\n", v ? "true" : "false");
    if (v) {
        printf("  \"mountpoint\": ");
        json_string(v->t->mountpoint);
        printf(",\n");
    }
    printf("  \"levels\": [");
    for (int l = 0; l < s->levels && l < LSMER_MAX_LEVELS; l++)
        printf("%s\n    {\"level\": %d, \"files\": %llu, \"bytes\": %llu, \"score\": %.4f}",
               l ? "," : "", l, (unsigned long long)s->level[l].files,
               (unsigned long long)s->level[l].bytes, s->level[l].score);
    printf("\n  ],\n");
    json_ratio("write_amplification", ratio(written, s->user_bytes_written));
    json_ratio("cache_hit_rate", ratio(s->cache_hits, s->cache_hits + s->cache_misses));
    json_ratio("bloom_useful_rate", ratio(s->bloom_useful, s->bloom_checks));
    json_u64("user_bytes_written", s->user_bytes_written, 1);
    json_u64("wal_bytes_written", s->wal_bytes_written, 1);
    json_u64("flush_bytes_written", s->flush_bytes_written, 1);
    json_u64("compaction_bytes_read", s->compaction_bytes_read, 1);
    json_u64("compaction_bytes_written", s->compaction_bytes_written, 1);
    json_u64("wal_syncs", s->wal_syncs, 1);
    json_u64("sync_requests", s->sync_requests, 1);
    json_u64("flushes", s->flushes, 1);
    json_u64("compactions", s->compactions, 1);
    json_u64("stall_micros", s->stall_micros, 1);
    json_u64("slowdowns", s->slowdowns, 1);
    json_u64("stops", s->stops, 1);
    json_u64("cache_hits", s->cache_hits, 1);
    json_u64("cache_misses", s->cache_misses, 1);
    json_u64("cache_bytes", s->cache_bytes, 1);
    json_u64("cache_capacity", s->cache_capacity, 1);
    json_u64("bloom_checks", s->bloom_checks, 1);
    json_u64("bloom_useful", s->bloom_useful, 1);
    json_u64("bloom_false_positives", s->bloom_false_positives, 1);
    json_u64("memtable_bytes", s->memtable_bytes, 1);
    json_u64("immutable_memtables", s->immutable_memtables, 1);
    json_u64("wal_file_bytes", s->wal_file_bytes, 1);
    json_u64("table_bytes", s->table_bytes, 1);
    json_u64("live_snapshots", s->live_snapshots, 1);
    json_u64("last_sequence", s->last_sequence, 1);
    json_u64("pending_compaction_bytes", s->pending_compaction_bytes, 1);
    json_u64("recovery_micros", s->recovery_micros, 1);
    printf("  \"background_error\": %d%s\n", s->background_error, v ? "," : "");
    if (v) {
        const struct ctl_stats *n = v->now, *p = v->prev;
        printf("  \"fs\": {");
        for (int i = 0; i < CTL_FS_COUNT; i++)
            printf("%s\"%s\": %llu", i ? ", " : "", ctl_fs_names[i], (unsigned long long)n->fs[i]);
        printf("},\n  \"rate_interval_s\": %.3f,\n  \"ops\": {", interval_s(v));
        for (int i = 0; i < CTL_OP_COUNT; i++)
            printf("%s\n    \"%s\": {\"count\": %llu, \"per_s\": %.2f}", i ? "," : "",
                   ctl_op_names[i], (unsigned long long)n->ops[i],
                   rate(v, n->ops[i], p ? p->ops[i] : 0));
        printf("\n  },\n  \"job\": ");
        if (n->job[0])
            json_string(n->job);
        else
            printf("null");
        printf("\n");
    }
    printf("}\n");
}

static int stats_offline(const char *dir, int json)
{
    lsmer_db *db;
    if (cli_open_db("stats", dir, 1, &db) != 0) return CLI_EXIT_FAIL;
    lsmer_stats s;
    memset(&s, 0, sizeof(s));
    int rc = lsmer_get_stats(db, &s);
    if (rc != 0) {
        cli_error("stats", "reading the statistics of %s failed: %s; %s", dir, lsmer_strerror(rc),
                  cli_hint(rc));
        lsmer_close(db);
        return CLI_EXIT_FAIL;
    }
    if (json)
        print_json(dir, &s, NULL);
    else
        print_text(dir, &s);
    lsmer_close(db);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int stats_live(const struct cli_target *t, int json, double watch)
{
    struct ctl_stats bufs[2];
    struct ctl_stats *now = &bufs[0], *prev = NULL;
    int tty = isatty(STDOUT_FILENO);
    for (;;) {
        if (ctl_get_stats("stats", t->data_dir, now) != 0) return CLI_EXIT_FAIL;
        struct live_view v = {t, now, prev};
        if (watch > 0 && tty && !json) printf("\033[H\033[2J");
        if (json) {
            print_json(t->data_dir, &now->engine, &v);
        } else {
            print_text(t->data_dir, &now->engine);
            print_live_text(&v);
        }
        if (fflush(stdout) != 0) return CLI_EXIT_FAIL;
        if (watch <= 0) return CLI_EXIT_OK;
        struct timespec nap = {(time_t)watch, (long)((watch - (double)(time_t)watch) * 1e9)};
        while (nanosleep(&nap, &nap) != 0) {
        }
        prev = now;
        now = now == &bufs[0] ? &bufs[1] : &bufs[0];
    }
}

int cmd_stats(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"watch", optional_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int json = 0;
    double watch = 0;
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":hw::", opts, NULL);
        if (c == -1) break;
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'w': {
            /* "--watch 5" as well as "--watch=5": a following number is
             * the interval. */
            const char *arg = optarg;
            char *end;
            if (!arg && optind < argc) {
                strtod(argv[optind], &end);
                if (*argv[optind] && *end == 0) arg = argv[optind++];
            }
            watch = 2;
            if (arg) {
                watch = strtod(arg, &end);
                if (*end != 0 || !(watch >= 0.1 && watch <= 86400)) {
                    cli_error("stats", "bad --watch interval '%s' (seconds, 0.1 to 86400)", arg);
                    return CLI_EXIT_USAGE;
                }
            }
            break;
        }
        case 'h':
            stats_usage(stdout);
            return CLI_EXIT_OK;
        default:
            cli_error("stats", "unknown option '%s' (see 'lsmer stats --help')", argv[optind - 1]);
            return CLI_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        cli_error("stats",
                  "%s (usage: lsmer stats [--json] [--watch [SECONDS]] "
                  "DATA_DIR|MOUNTPOINT)",
                  argc - optind == 0 ? "missing DATA_DIR or MOUNTPOINT" : "too many arguments");
        return CLI_EXIT_USAGE;
    }
    struct cli_target t;
    if (ctl_target("stats", argv[optind], &t, 0) != 0) return CLI_EXIT_FAIL;
    if (t.live) return stats_live(&t, json, watch);
    if (watch > 0) {
        cli_error("stats",
                  "--watch needs a mounted filesystem (%s is not mounted; its figures "
                  "do not change)",
                  t.data_dir);
        return CLI_EXIT_USAGE;
    }
    return stats_offline(t.data_dir, json);
}
