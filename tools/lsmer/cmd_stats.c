/*
 * cmd_stats.c — `lsmer stats DATA_DIR`: opens the database read-only and
 * prints lsmer_get_stats(): the levels (files, bytes, score), write
 * amplification, block cache hit rate, bloom filter usefulness, stalls and
 * background state, as text or (--json) as one JSON object.
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void stats_usage(FILE *f)
{
    fprintf(f, "Usage: lsmer stats [--json] DATA_DIR\n"
               "\n"
               "Opens the lsmer database in DATA_DIR read-only (nothing is written; it may\n"
               "not be in use by a mounted lsmerfs, which holds its lock) and prints:\n"
               "  - each level: number of table files, bytes, and score (size over\n"
               "    capacity; a level is compacted when it reaches the threshold);\n"
               "  - write amplification: (WAL + flush + compaction bytes written) / user\n"
               "    bytes written, for the writes counted since the database was opened\n"
               "    (a read-only open writes nothing, so it shows n/a unless the engine\n"
               "    keeps its counters across opens);\n"
               "  - block cache hit rate, bloom filter useful rate (lookups the filter\n"
               "    answered \"absent\" without reading a block), false positives;\n"
               "  - time writers were stalled, memtables, WAL, snapshots, last sequence,\n"
               "    pending compaction bytes, the sticky background error if any.\n"
               "\n"
               "Options:\n"
               "  --json      print one JSON object instead of text (stable field names)\n"
               "  -h, --help  this text\n"
               "\n"
               "Exit status:\n"
               "  0  printed\n"
               "  1  the database could not be opened or read (the message says why)\n"
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

static void print_json(const char *dir, const lsmer_stats *s)
{
    uint64_t written = s->wal_bytes_written + s->flush_bytes_written + s->compaction_bytes_written;
    printf("{\n  \"database\": ");
    json_string(dir);
    printf(",\n  \"levels\": [");
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
    printf("  \"background_error\": %d\n}\n", s->background_error);
}

int cmd_stats(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int json = 0;
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", opts, NULL);
        if (c == -1) break;
        switch (c) {
        case 'j':
            json = 1;
            break;
        case 'h':
            stats_usage(stdout);
            return CLI_EXIT_OK;
        default:
            cli_error("stats", "unknown option '%s' (see 'lsmer stats --help')", argv[optind - 1]);
            return CLI_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        cli_error("stats", "%s (usage: lsmer stats [--json] DATA_DIR)",
                  argc - optind == 0 ? "missing DATA_DIR" : "too many arguments");
        return CLI_EXIT_USAGE;
    }
    const char *dir = argv[optind];
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
        print_json(dir, &s);
    else
        print_text(dir, &s);
    lsmer_close(db);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
