/*
 * cmd_bench.c — `lsmer bench`: parses the options of the db_bench-style
 * benchmark and hands them to bench_main() (tools/bench/).
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static void bench_usage(FILE *f)
{
    fprintf(f, "Usage: lsmer bench [OPTIONS]\n"
               "\n"
               "Runs db_bench-style workloads against lsmer and, side by side, against the\n"
               "peers this binary was built with (RocksDB, LevelDB, LMDB through their C\n"
               "APIs), each engine in its own child process, with comparable settings: WAL\n"
               "on, the same zstd level (LevelDB: none; LMDB: none), block cache, bloom bits\n"
               "and write buffer. Prints per workload and engine ops/s, MB/s, p50/p99/p99.9\n"
               "latency (log-bucketed histogram) and the slowest operation, and after write\n"
               "workloads the write amplification, space used, peak RSS and time stalled;\n"
               "then tables of all engines with the ratios lsmer / best of RocksDB and\n"
               "LevelDB, and lsmer / LMDB.\n"
               "\n"
               "Workloads (--benchmarks, in this order by default):\n"
               "  fillseq       N puts in key order, fresh database\n"
               "  fillrandom    N puts of random keys (some repeat), fresh database\n"
               "  overwrite     N puts of random existing keys\n"
               "  readrandom    gets of random keys (--reads; --threads readers)\n"
               "  readmissing   gets of keys that are absent but inside the key range\n"
               "  readseq       a full scan with an iterator\n"
               "  seekrandom    seek to a random key, then 100 nexts (--seeks)\n"
               "  deleterandom  N deletes of random keys\n"
               "  fillsync      puts with a sync each (--sync-ops), fresh database\n"
               "  fillbatch     N puts in key order, in batches of 100, fresh database\n"
               "  fillsync4     sync puts from 4 writer threads (group commit)\n"
               "  fillbig       puts of --big-value-size values (--big-num keys)\n"
               "Reads of a database that no fill has loaded first get an untimed load.\n"
               "\n"
               "Options:\n"
               "  --num=N              keys in the key space, ops per write workload (1000000)\n"
               "  --reads=N            gets in readrandom/readmissing (N)\n"
               "  --seeks=N            seeks in seekrandom (N/10)\n"
               "  --sync-ops=N         writes in fillsync/fillsync4 (N/100, at least 100)\n"
               "  --big-num=N          keys in fillbig (N/250, at least 16)\n"
               "  --value-size=BYTES   value size (100); keys are 16 bytes; values compress\n"
               "                       about 2:1 (half random bytes, half repeated)\n"
               "  --big-value-size=BYTES  value size of fillbig (64K)\n"
               "  --benchmarks=LIST    comma-separated workloads (all, in the order above)\n"
               "  --engines=LIST       comma-separated engines: lsmer, rocksdb, leveldb, lmdb,\n"
               "                       lsmer-nocomp (lsmer without compression, to compare\n"
               "                       with LevelDB); default: all built in, except\n"
               "                       lsmer-nocomp\n"
               "  --db=DIR             where the databases go (DIR/ENGINE); they are deleted\n"
               "                       afterwards (default: a new directory in $TMPDIR or /tmp)\n"
               "  --keep               keep the databases\n"
               "  --cache-size=BYTES   block cache of every engine (lsmer's default, 32M)\n"
               "  --write-buffer-size=BYTES  memtable of every engine (lsmer's default, 32M)\n"
               "  --bloom-bits=N       bloom filter bits per key (10; 0 = none)\n"
               "  --compression=LEVEL  zstd level, 0 = off (lsmer's default, 1)\n"
               "  --threads=N          reader threads in readrandom, readmissing, seekrandom (1)\n"
               "  --seed=N             random seed; the same seed gives the same keys (301)\n"
               "  --repeat=N           run every engine N times (1..25), interleaved (A B, A B,\n"
               "                       ...), and report each figure's median (1)\n"
               "  --csv=FILE           also write every figure to FILE as CSV\n"
               "  --no-progress        no progress line (shown on stderr when it is a terminal)\n"
               "  --list               list the engines built in and the workloads, then exit\n"
               "  -h, --help           this text\n"
               "Sizes take a K, M or G suffix (powers of 1024).\n"
               "\n"
               "Columns: ops/s counts keys (seeks for seekrandom); latency is per operation\n"
               "(per batch in fillbatch, per seek + 100 nexts in seekrandom); w-amp is what\n"
               "the engine counts (WAL + flush + compaction bytes) over the key and value\n"
               "bytes written; disk is the bytes the process sent to the block layer\n"
               "(/proc/self/io) over the same; space is du of the database directory;\n"
               "peak RSS is the high-water mark during the workload.\n"
               "\n"
               "Example:\n"
               "  lsmer bench --num=100000 --benchmarks=fillrandom,readrandom --csv=out.csv\n"
               "\n"
               "Exit status:\n"
               "  0  every workload ran on every engine\n"
               "  1  an engine failed or crashed (its message says where; others still ran)\n"
               "  2  usage error\n"
               "  130, 143  interrupted (SIGINT, SIGTERM); the scratch data is removed\n");
}

enum {
    OPT_NUM = 256,
    OPT_READS,
    OPT_SEEKS,
    OPT_SYNC_OPS,
    OPT_BIG_NUM,
    OPT_VALUE_SIZE,
    OPT_BIG_VALUE_SIZE,
    OPT_BENCHMARKS,
    OPT_ENGINES,
    OPT_DB,
    OPT_KEEP,
    OPT_CACHE,
    OPT_WBUF,
    OPT_BLOOM,
    OPT_COMPRESSION,
    OPT_THREADS,
    OPT_SEED,
    OPT_REPEAT,
    OPT_CSV,
    OPT_NO_PROGRESS,
    OPT_LIST,
};

static const struct option bench_opts[] = {
    {"num", required_argument, NULL, OPT_NUM},
    {"reads", required_argument, NULL, OPT_READS},
    {"seeks", required_argument, NULL, OPT_SEEKS},
    {"sync-ops", required_argument, NULL, OPT_SYNC_OPS},
    {"big-num", required_argument, NULL, OPT_BIG_NUM},
    {"value-size", required_argument, NULL, OPT_VALUE_SIZE},
    {"big-value-size", required_argument, NULL, OPT_BIG_VALUE_SIZE},
    {"benchmarks", required_argument, NULL, OPT_BENCHMARKS},
    {"engines", required_argument, NULL, OPT_ENGINES},
    {"db", required_argument, NULL, OPT_DB},
    {"keep", no_argument, NULL, OPT_KEEP},
    {"cache-size", required_argument, NULL, OPT_CACHE},
    {"write-buffer-size", required_argument, NULL, OPT_WBUF},
    {"bloom-bits", required_argument, NULL, OPT_BLOOM},
    {"compression", required_argument, NULL, OPT_COMPRESSION},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"repeat", required_argument, NULL, OPT_REPEAT},
    {"csv", required_argument, NULL, OPT_CSV},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"list", no_argument, NULL, OPT_LIST},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* One "engine NAME" or "workload NAME" per line, for scripts. */
static void list_all(void)
{
    for (int i = 0; bench_engines[i]; i++) {
        printf("engine %s\n", bench_engines[i]->name);
    }
    for (int i = 0; bench_workload_names[i]; i++) printf("workload %s\n", bench_workload_names[i]);
}

/* Splits a comma-separated list in place into out[]; -1 on too many. */
static int split_list(char *s, const char **out, int max)
{
    int n = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        if (*tok == 0) continue;
        if (n == max) return -1;
        out[n++] = tok;
    }
    return n;
}

static int bad_value(const char *opt, const char *val, const char *want)
{
    cli_error("bench", "bad value '%s' for --%s: %s (see 'lsmer bench --help')", val, opt, want);
    return CLI_EXIT_USAGE;
}

int cmd_bench(int argc, char **argv)
{
    struct bench_config cfg;
    uint64_t v;
    char *engines = NULL, *workloads = NULL;
    int rc = CLI_EXIT_USAGE;
    bench_config_init(&cfg);
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", bench_opts, NULL);
        if (c == -1) break;
        const char *name = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        switch (c) {
        case 'h':
            bench_usage(stdout);
            rc = CLI_EXIT_OK;
            goto out;
        case OPT_LIST:
            list_all();
            rc = CLI_EXIT_OK;
            goto out;
        case OPT_NUM:
        case OPT_READS:
        case OPT_SEEKS:
        case OPT_SYNC_OPS:
        case OPT_BIG_NUM:
        case OPT_SEED:
            if (cli_parse_u64(optarg, &v) != 0 || (v == 0 && c != OPT_SEED)) {
                rc = bad_value(bench_opts[c - OPT_NUM].name, optarg, "a positive integer");
                goto out;
            }
            if (c == OPT_NUM) cfg.num = v;
            if (c == OPT_READS) cfg.reads = v;
            if (c == OPT_SEEKS) cfg.seeks = v;
            if (c == OPT_SYNC_OPS) cfg.sync_ops = v;
            if (c == OPT_BIG_NUM) cfg.big_num = v;
            if (c == OPT_SEED) cfg.seed = v;
            break;
        case OPT_REPEAT:
            if (cli_parse_u64(optarg, &v) != 0 || v < 1 || v > 25) {
                rc = bad_value("repeat", optarg, "1 to 25");
                goto out;
            }
            cfg.repeat = (int)v;
            break;
        case OPT_VALUE_SIZE:
        case OPT_BIG_VALUE_SIZE:
            if (cli_parse_size(optarg, &v) != 0 || v == 0 || v > (64u << 20)) {
                rc = bad_value(bench_opts[c - OPT_NUM].name, optarg, "1 byte to 64M");
                goto out;
            }
            if (c == OPT_VALUE_SIZE)
                cfg.value_size = (size_t)v;
            else
                cfg.big_value_size = (size_t)v;
            break;
        case OPT_CACHE:
        case OPT_WBUF:
            if (cli_parse_size(optarg, &v) != 0 || (c == OPT_WBUF && v < 64 * 1024)) {
                rc = bad_value(bench_opts[c - OPT_NUM].name, optarg,
                               c == OPT_WBUF ? "a size of at least 64K" : "a size such as 64M");
                goto out;
            }
            if (c == OPT_CACHE)
                cfg.cache_size = (size_t)v;
            else
                cfg.write_buffer = (size_t)v;
            break;
        case OPT_BLOOM:
            if (cli_parse_u64(optarg, &v) != 0 || v > 64) {
                rc = bad_value("bloom-bits", optarg, "0 to 64");
                goto out;
            }
            cfg.bloom_bits = (int)v;
            break;
        case OPT_COMPRESSION:
            if (cli_parse_u64(optarg, &v) != 0 || v > 22) {
                rc = bad_value("compression", optarg, "a zstd level 0 (off) to 22");
                goto out;
            }
            cfg.zstd_level = (int)v;
            break;
        case OPT_THREADS:
            if (cli_parse_u64(optarg, &v) != 0 || v == 0 || v > 64) {
                rc = bad_value("threads", optarg, "1 to 64");
                goto out;
            }
            cfg.threads = (int)v;
            break;
        case OPT_BENCHMARKS:
            free(workloads);
            workloads = strdup(optarg);
            if (!workloads) goto oom;
            cfg.n_workloads = split_list(workloads, cfg.workloads, BENCH_MAX_WORKLOADS);
            if (cfg.n_workloads <= 0) {
                rc = bad_value("benchmarks", optarg, "a comma-separated list of workloads");
                goto out;
            }
            for (int i = 0; i < cfg.n_workloads; i++)
                if (!bench_workload_known(cfg.workloads[i])) {
                    cli_error("bench", "unknown workload '%s' (run 'lsmer bench --list')",
                              cfg.workloads[i]);
                    goto out;
                }
            break;
        case OPT_ENGINES:
            free(engines);
            engines = strdup(optarg);
            if (!engines) goto oom;
            cfg.n_engines = split_list(engines, cfg.engines, BENCH_MAX_ENGINES);
            if (cfg.n_engines <= 0) {
                rc = bad_value("engines", optarg, "a comma-separated list of engines");
                goto out;
            }
            for (int i = 0; i < cfg.n_engines; i++) {
                const char *e = cfg.engines[i];
                if (!bench_engine_find(e)) {
                    if (!strcmp(e, "rocksdb") || !strcmp(e, "leveldb") || !strcmp(e, "lmdb"))
                        cli_error("bench",
                                  "%s was not found when lsmer was built: install it with "
                                  "scripts/install-deps.sh --bench, then re-run cmake and rebuild",
                                  e);
                    else
                        cli_error("bench", "unknown engine '%s' (run 'lsmer bench --list')", e);
                    goto out;
                }
                for (int j = 0; j < i; j++)
                    if (!strcmp(cfg.engines[j], e)) {
                        cli_error("bench", "engine '%s' is listed twice", e);
                        goto out;
                    }
            }
            break;
        case OPT_DB:
            cfg.db_dir = optarg;
            break;
        case OPT_KEEP:
            cfg.keep = 1;
            break;
        case OPT_CSV:
            cfg.csv_path = optarg;
            break;
        case OPT_NO_PROGRESS:
            cfg.progress = 0;
            break;
        case ':':
            cli_error("bench", "option %s needs a value (see 'lsmer bench --help')", name);
            goto out;
        default:
            cli_error("bench", "unknown option '%s' (see 'lsmer bench --help')", name);
            goto out;
        }
    }
    if (optind < argc) {
        cli_error("bench",
                  "unexpected argument '%s' (options are --name=value; see 'lsmer "
                  "bench --help')",
                  argv[optind]);
        goto out;
    }
    rc = bench_main(&cfg);
    goto out;
oom:
    cli_error("bench", "out of memory");
    rc = CLI_EXIT_FAIL;
out:
    free(engines);
    free(workloads);
    return rc;
}
