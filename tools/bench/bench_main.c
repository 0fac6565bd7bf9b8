/*
 * bench_main.c — the parent side of `lsmer bench`: sets up the scratch
 * directory, runs each engine in a forked child (bench_run.c), collects the
 * results through a pipe, and prints the side-by-side tables and the CSV.
 *
 * Why a child per engine: peak RSS (getrusage of the child), block caches,
 * background threads and allocator state of one engine must not colour the
 * figures of the next, and a crash in one engine must not lose the others.
 */
#include "bench.h"
#include "bench_int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void bench_lsmer_defaults(struct bench_config *cfg); /* engine_lsmer.c */

void bench_config_init(struct bench_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->num = 1000000;
    cfg->value_size = 100;
    cfg->big_value_size = 64 * 1024;
    cfg->cache_size = 32u << 20;
    cfg->write_buffer = 32u << 20;
    cfg->bloom_bits = 10;
    cfg->zstd_level = 1;
    cfg->threads = 1;
    cfg->seed = 301;
    cfg->repeat = 1;
    cfg->progress = isatty(STDERR_FILENO);
    /* The LSM shape RocksDB is given; lsmer's own defaults when linked. */
    cfg->level1_size = 64u << 20;
    cfg->level_multiplier = 10;
    cfg->target_file_size = 16u << 20;
    cfg->block_size = 4096;
    cfg->l0_trigger = 4;
    cfg->l0_slowdown = 12;
    cfg->l0_stop = 20;
    cfg->max_open_files = 1000;
    bench_lsmer_defaults(cfg);
}

/* Zero counts mean "derived from num", as --help says. */
static void config_resolve(struct bench_config *cfg)
{
    if (cfg->reads == 0) cfg->reads = cfg->num;
    if (cfg->seeks == 0) cfg->seeks = cfg->num / 10 > 0 ? cfg->num / 10 : 1;
    if (cfg->sync_ops == 0) {
        cfg->sync_ops = cfg->num / 100;
        if (cfg->sync_ops < 100) cfg->sync_ops = cfg->num < 100 ? cfg->num : 100;
    }
    if (cfg->big_num == 0) {
        cfg->big_num = cfg->num / 250;
        if (cfg->big_num < 16) cfg->big_num = 16;
    }
    if (cfg->n_workloads == 0)
        for (int i = 0; bench_workload_names[i] && i < BENCH_MAX_WORKLOADS; i++)
            cfg->workloads[cfg->n_workloads++] = bench_workload_names[i];
    if (cfg->n_engines == 0)
        for (int i = 0; bench_engines[i] && cfg->n_engines < BENCH_MAX_ENGINES; i++) {
            if (strcmp(bench_engines[i]->name, "lsmer-nocomp") == 0) continue;
            cfg->engines[cfg->n_engines++] = bench_engines[i]->name;
        }
}

void bench_format_size(uint64_t bytes, char *buf, size_t len)
{
    const char *unit = "KMGT";
    double v = (double)bytes;
    if (bytes < 1024) {
        snprintf(buf, len, "%lluB", (unsigned long long)bytes);
        return;
    }
    int u = -1;
    while (v >= 1024 && u < 3) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, "%.1f%c", v, unit[u]);
}

double bench_result_rate(const struct bench_result *res)
{
    if (res->seconds <= 0) return 0;
    uint64_t n = strcmp(res->workload, "seekrandom") == 0 ? res->ops : res->entries;
    return (double)n / res->seconds;
}

void bench_print_header(void)
{
    printf("%-13s %10s %7s %8s %8s %9s %8s %6s %6s %6s %9s %9s %6s\n", "workload", "ops/s", "MB/s",
           "p50 us", "p99 us", "p99.9 us", "max ms", "found", "w-amp", "disk", "space", "peak RSS",
           "stall");
}

/* ---- signals ----------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

/* ---- summary tables ----------------------------------------------------- */

struct table {
    const struct bench_config *cfg;
    struct bench_result *res; /* [engine][workload]: the medians over rounds */
    int *have;
    struct bench_result *rounds; /* [round][engine][workload] as measured */
    int *rounds_have;
    int round; /* the round running */
};

static const struct bench_result *cell(const struct table *t, int e, int w)
{
    int i = e * BENCH_MAX_WORKLOADS + w;
    return t->have[i] && t->res[i].status == 0 ? &t->res[i] : NULL;
}

static void table_free(struct table *t)
{
    free(t->res);
    free(t->have);
    free(t->rounds);
    free(t->rounds_have);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of one double field (at byte offset field) of n >= 1
 * results: the mean of the middle two when n is even. */
static double median_of(const struct bench_result *const *rs, int n, size_t field)
{
    double v[64];
    for (int i = 0; i < n; i++) memcpy(&v[i], (const char *)rs[i] + field, sizeof(double));
    qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t median_u64(const struct bench_result *const *rs, int n, size_t field)
{
    double v[64];
    for (int i = 0; i < n; i++) {
        uint64_t x;
        memcpy(&x, (const char *)rs[i] + field, sizeof(x));
        v[i] = (double)x;
    }
    qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
    return (uint64_t)(n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}

/* Fills t->res with, per engine and workload, the median of each figure
 * over the rounds that succeeded (each figure on its own: the median
 * throughput and the median p99 may come from different rounds). The
 * throughput is the operations over the median time: for an even number
 * of rounds, over the mean of the two middle times. A cell that failed in
 * any round reports that round's failure. */
static void table_reduce(struct table *t)
{
    const struct bench_config *cfg = t->cfg;
    for (int e = 0; e < cfg->n_engines; e++)
        for (int w = 0; w < cfg->n_workloads; w++) {
            const struct bench_result *ok[64];
            int n = 0, out = e * BENCH_MAX_WORKLOADS + w;
            for (int r = 0; r < cfg->repeat && r < 64; r++) {
                int i = (r * BENCH_MAX_ENGINES + e) * BENCH_MAX_WORKLOADS + w;
                if (!t->rounds_have[i]) continue;
                if (t->rounds[i].status != 0) {
                    t->res[out] = t->rounds[i];
                    t->have[out] = 1;
                    n = -1;
                    break;
                }
                ok[n++] = &t->rounds[i];
            }
            if (n <= 0) continue;
            struct bench_result m = *ok[0];
#define MEDIAN_D(f) m.f = median_of(ok, n, offsetof(struct bench_result, f))
#define MEDIAN_U(f) m.f = median_u64(ok, n, offsetof(struct bench_result, f))
            MEDIAN_D(seconds);
            MEDIAN_D(p50_us);
            MEDIAN_D(p99_us);
            MEDIAN_D(p999_us);
            MEDIAN_D(max_us);
            MEDIAN_D(write_amp);
            MEDIAN_D(disk_write_amp);
            MEDIAN_D(stall_sec);
            MEDIAN_U(found);
            MEDIAN_U(space_bytes);
            MEDIAN_U(peak_rss_kb);
#undef MEDIAN_D
#undef MEDIAN_U
            t->res[out] = m;
            t->have[out] = 1;
        }
}

static int engine_index(const struct bench_config *cfg, const char *name)
{
    for (int e = 0; e < cfg->n_engines; e++)
        if (strcmp(cfg->engines[e], name) == 0) return e;
    return -1;
}

enum metric { M_RATE, M_P99, M_WAMP, M_SPACE, M_STALL };

static int metric_value(const struct bench_result *r, enum metric m, double *out)
{
    if (!r) return 0;
    switch (m) {
    case M_RATE:
        *out = bench_result_rate(r);
        return 1;
    case M_P99:
        *out = r->p99_us;
        return r->ops > 0;
    case M_WAMP:
        *out = r->write_amp >= 0 ? r->write_amp : r->disk_write_amp;
        return r->is_write && *out >= 0;
    case M_SPACE:
        *out = (double)r->space_bytes;
        return r->is_write;
    case M_STALL:
        *out = r->stall_sec;
        return r->is_write && *out >= 0;
    }
    return 0;
}

static void print_cell(const struct bench_result *r, enum metric m)
{
    double v;
    char buf[32];
    if (!metric_value(r, m, &v)) {
        printf(" %11s", "-");
        return;
    }
    switch (m) {
    case M_RATE:
        printf(" %11.0f", v);
        break;
    case M_P99:
        printf(" %11.1f", v);
        break;
    case M_WAMP:
        if (r->write_amp >= 0 && r->disk_write_amp >= 0)
            snprintf(buf, sizeof(buf), "%.2f/%.2f", r->write_amp, r->disk_write_amp);
        else if (r->disk_write_amp >= 0)
            snprintf(buf, sizeof(buf), "n/a/%.2f", r->disk_write_amp);
        else
            snprintf(buf, sizeof(buf), "n/a");
        printf(" %11s", buf);
        break;
    case M_SPACE:
        bench_format_size((uint64_t)v, buf, sizeof(buf));
        printf(" %11s", buf);
        break;
    case M_STALL:
        printf(" %11.2f", v);
        break;
    }
}

/* lsmer's figure over the best peer's (higher is better for rates, lower for
 * the rest), with the peer named. */
static void print_ratio(const struct table *t, int w, enum metric m, const char *const *peers)
{
    int le = engine_index(t->cfg, "lsmer");
    double lv, best = 0, v;
    const char *best_name = NULL;
    char buf[40];
    if (le < 0 || !metric_value(cell(t, le, w), m, &lv)) {
        printf(" %16s", "-");
        return;
    }
    for (int i = 0; peers[i]; i++) {
        int e = engine_index(t->cfg, peers[i]);
        if (e < 0 || !metric_value(cell(t, e, w), m, &v)) continue;
        int better = m == M_RATE ? v > best : (best_name == NULL || v < best);
        if (best_name == NULL || better) {
            best = v;
            best_name = peers[i];
        }
    }
    if (!best_name || best <= 0) {
        printf(" %16s", "-");
        return;
    }
    if (peers[1])
        snprintf(buf, sizeof(buf), "%.2fx %s", lv / best, best_name);
    else
        snprintf(buf, sizeof(buf), "%.2fx", lv / best);
    printf(" %16s", buf);
}

static void print_table(const struct table *t, enum metric m, const char *title)
{
    static const char *const lsm_peers[] = {"rocksdb", "leveldb", NULL};
    static const char *const lmdb_peer[] = {"lmdb", NULL};
    const struct bench_config *cfg = t->cfg;
    int any = 0;
    for (int w = 0; w < cfg->n_workloads; w++)
        for (int e = 0; e < cfg->n_engines; e++) {
            double v;
            if (metric_value(cell(t, e, w), m, &v)) any = 1;
        }
    if (!any) return;
    int ratios = engine_index(cfg, "lsmer") >= 0 && cfg->n_engines > 1;
    printf("\n%s\n%-13s", title, "workload");
    for (int e = 0; e < cfg->n_engines; e++) printf(" %11s", cfg->engines[e]);
    if (ratios && m != M_WAMP && m != M_STALL) printf(" %16s %16s", "lsmer/best-LSM", "lsmer/lmdb");
    printf("\n");
    for (int w = 0; w < cfg->n_workloads; w++) {
        int row = 0;
        double v;
        for (int e = 0; e < cfg->n_engines; e++)
            if (metric_value(cell(t, e, w), m, &v)) row = 1;
        if (!row) continue;
        printf("%-13s", cfg->workloads[w]);
        for (int e = 0; e < cfg->n_engines; e++) print_cell(cell(t, e, w), m);
        if (ratios && m != M_WAMP && m != M_STALL) {
            print_ratio(t, w, m, lsm_peers);
            print_ratio(t, w, m, lmdb_peer);
        }
        printf("\n");
    }
}

/* ---- CSV ----------------------------------------------------------------- */

static int write_csv(const struct table *t, const char *path)
{
    const struct bench_config *cfg = t->cfg;
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "lsmer bench: cannot write %s: %s (check the directory exists)\n", path,
                strerror(errno));
        return -errno;
    }
    fprintf(f, "engine,workload,status,ops,entries,found,bytes,seconds,rate_per_sec,mb_per_sec,"
               "p50_us,p99_us,p999_us,max_us,write_amp,disk_write_amp,space_bytes,peak_rss_kb,"
               "stall_sec,num,value_size,zstd_level,cache_size,bloom_bits,threads,note\n");
    for (int e = 0; e < cfg->n_engines; e++)
        for (int w = 0; w < cfg->n_workloads; w++) {
            int i = e * BENCH_MAX_WORKLOADS + w;
            if (!t->have[i]) continue;
            const struct bench_result *r = &t->res[i];
            fprintf(f,
                    "%s,%s,%d,%llu,%llu,%llu,%llu,%.6f,%.1f,%.3f,%.3f,%.3f,%.3f,%.3f,%.4f,%.4f,"
                    "%llu,%llu,%.3f,%llu,%zu,%d,%zu,%d,%d,\"%s\"\n",
                    r->engine, r->workload, r->status, (unsigned long long)r->ops,
                    (unsigned long long)r->entries, (unsigned long long)r->found,
                    (unsigned long long)r->bytes, r->seconds, bench_result_rate(r),
                    r->seconds > 0 ? (double)r->bytes / r->seconds / 1e6 : 0.0, r->p50_us,
                    r->p99_us, r->p999_us, r->max_us, r->write_amp, r->disk_write_amp,
                    (unsigned long long)r->space_bytes, (unsigned long long)r->peak_rss_kb,
                    r->stall_sec, (unsigned long long)cfg->num, cfg->value_size, cfg->zstd_level,
                    cfg->cache_size, cfg->bloom_bits, cfg->threads, r->note);
        }
    int rc = fclose(f) == 0 ? 0 : -errno;
    if (rc != 0)
        fprintf(stderr, "lsmer bench: writing %s failed: %s\n", path, strerror(-rc));
    else
        printf("\nCSV written to %s\n", path);
    return rc;
}

/* ---- the run ------------------------------------------------------------- */

static void print_machine(const struct bench_config *cfg)
{
    struct utsname u;
    char when[64] = "?", cpu[128] = "?";
    time_t now = time(NULL);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", gmtime(&now));
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof(line), f))
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                if (c) snprintf(cpu, sizeof(cpu), "%s", c + 2);
                cpu[strcspn(cpu, "\n")] = 0;
                break;
            }
        fclose(f);
    }
    if (uname(&u) != 0) snprintf(u.release, sizeof(u.release), "?");
    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) != 3) load[0] = load[1] = load[2] = -1;
    printf("lsmer bench: %s, %ld cores (%s), Linux %s, load average %.2f %.2f %.2f\n", when,
           sysconf(_SC_NPROCESSORS_ONLN), cpu, u.release, load[0], load[1], load[2]);
    char cache[16], wb[16];
    bench_format_size(cfg->cache_size, cache, sizeof(cache));
    bench_format_size(cfg->write_buffer, wb, sizeof(wb));
    double ratio = bench_value_compression(cfg);
    printf("keys: %llu x %d bytes; values: %zu bytes, compressing %.1f:1 with zstd-%d on %zu-byte "
           "blocks\n",
           (unsigned long long)cfg->num, BENCH_KEY_SIZE, cfg->value_size, ratio,
           cfg->zstd_level > 0 ? cfg->zstd_level : 1, cfg->block_size);
    char comp[32] = "none";
    if (cfg->zstd_level > 0) snprintf(comp, sizeof(comp), "zstd-%d", cfg->zstd_level);
    printf("every engine: WAL on, block cache %s, bloom %d bits/key, write buffer %s, "
           "compression %s where the engine has it\n",
           cache, cfg->bloom_bits, wb, comp);
    printf("ops: %llu reads, %llu seeks (+%d nexts), %llu sync writes, %llu x %zu-byte values "
           "in fillbig; %d reader thread%s\n",
           (unsigned long long)cfg->reads, (unsigned long long)cfg->seeks, BENCH_SEEK_NEXTS,
           (unsigned long long)cfg->sync_ops, (unsigned long long)cfg->big_num, cfg->big_value_size,
           cfg->threads, cfg->threads == 1 ? "" : "s");
    printf("columns: ops/s is keys/s (seeks/s for seekrandom; fillbatch latency is per batch of "
           "%d);\n  w-amp = engine-counted bytes written (WAL + flush + compaction) / user bytes;"
           "\n  disk = bytes the process sent to the block layer (/proc/self/io) / user bytes;"
           "\n  both taken when the workload ends, before pending compactions run.\n",
           BENCH_BATCH);
}

static int dir_absent_or_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return errno == ENOENT;
    struct dirent *de;
    int empty = 1;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) empty = 0;
    closedir(d);
    return empty;
}

static int make_root(const struct bench_config *cfg, char *root, size_t len, int *created)
{
    *created = 0;
    if (cfg->db_dir) {
        snprintf(root, len, "%s", cfg->db_dir);
        if (mkdir(root, 0755) == 0) {
            *created = 1;
        } else if (errno != EEXIST) {
            int err = errno;
            fprintf(stderr, "lsmer bench: cannot create --db directory %s: %s\n", root,
                    strerror(err));
            return -err;
        }
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(root, len, "%s/lsmer-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        int err = errno;
        fprintf(stderr,
                "lsmer bench: cannot create a scratch directory %s: %s (set TMPDIR or "
                "--db=DIR)\n",
                root, strerror(err));
        return -err;
    }
    *created = 1;
    return 0;
}

static int run_engine(const struct bench_config *cfg, const struct bench_engine_ops *ops,
                      const char *dir, struct table *t, int e, uint64_t *rss_kb)
{
    int fds[2];
    char desc[512];
    ops->describe(cfg, desc, sizeof(desc));
    if (cfg->repeat > 1)
        printf("\n== %s (round %d of %d): %s\n", ops->name, t->round + 1, cfg->repeat, desc);
    else
        printf("\n== %s: %s\n", ops->name, desc);
    bench_print_header();
    fflush(NULL);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "lsmer bench: cannot create %s: %s\n", dir, strerror(errno));
        return -errno;
    }
    if (pipe(fds) != 0) return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(fds[0]);
        close(fds[1]);
        return -err;
    }
    if (pid == 0) {
        close(fds[0]);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        int rc = bench_child_run(cfg, ops, dir, fds[1]);
        fflush(NULL);
        _exit(rc);
    }
    close(fds[1]);
    struct bench_result r;
    for (;;) {
        ssize_t n = read(fds[0], &r, sizeof(r));
        if (n < 0 && errno == EINTR) continue;
        if (n != (ssize_t)sizeof(r)) break;
        for (int w = 0; w < cfg->n_workloads; w++)
            if (strcmp(cfg->workloads[w], r.workload) == 0) {
                int i = (t->round * BENCH_MAX_ENGINES + e) * BENCH_MAX_WORKLOADS + w;
                t->rounds[i] = r;
                t->rounds_have[i] = 1;
                break;
            }
    }
    close(fds[0]);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof(ru));
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
    }
    *rss_kb = (uint64_t)ru.ru_maxrss;
    if (WIFSIGNALED(status)) {
        fprintf(stderr,
                "lsmer bench: the %s run was killed by signal %d (%s); its data is in %s; "
                "rerun with --engines=%s --keep to investigate\n",
                ops->name, WTERMSIG(status), strsignal(WTERMSIG(status)), dir, ops->name);
        return -EINTR;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int bench_main(const struct bench_config *in)
{
    struct bench_config cfg = *in;
    config_resolve(&cfg);
    char root[PATH_MAX];
    int created = 0, failed = 0;
    uint64_t rss[BENCH_MAX_ENGINES] = {0};
    struct table t = {.cfg = &cfg};
    size_t cells = (size_t)BENCH_MAX_ENGINES * BENCH_MAX_WORKLOADS;
    t.res = calloc(cells, sizeof(*t.res));
    t.have = calloc(cells, sizeof(*t.have));
    t.rounds = calloc(cells * (size_t)cfg.repeat, sizeof(*t.rounds));
    t.rounds_have = calloc(cells * (size_t)cfg.repeat, sizeof(*t.rounds_have));
    if (!t.res || !t.have || !t.rounds || !t.rounds_have) {
        table_free(&t);
        fprintf(stderr, "lsmer bench: out of memory\n");
        return BENCH_EXIT_FAILED;
    }
    if (cfg.n_engines == 0) {
        fprintf(stderr, "lsmer bench: no engine to run (this build has neither the lsmer engine "
                        "nor a peer; install them with scripts/install-deps.sh --bench and "
                        "re-run cmake)\n");
        table_free(&t);
        return BENCH_EXIT_FAILED;
    }
    if (make_root(&cfg, root, sizeof(root), &created) != 0) {
        table_free(&t);
        return BENCH_EXIT_FAILED;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* A closed stdout (| head) must not kill us before the scratch data is
     * removed; writes then just fail. */
    signal(SIGPIPE, SIG_IGN);

    /* The engines' directories are wiped between workloads: never do that
     * to something that was there before the run. */
    for (int e = 0; e < cfg.n_engines; e++) {
        char dir[PATH_MAX];
        if (snprintf(dir, sizeof(dir), "%s/%s", root, cfg.engines[e]) >= (int)sizeof(dir) ||
            !dir_absent_or_empty(dir)) {
            fprintf(stderr,
                    "lsmer bench: %s already exists and is not empty; the benchmark deletes its "
                    "databases, so give --db an empty or new directory\n",
                    dir);
            if (created) bench_rmtree(root);
            table_free(&t);
            return BENCH_EXIT_USAGE;
        }
    }
    print_machine(&cfg);
    printf("scratch: %s (%s)\n", root, cfg.keep ? "kept" : "deleted afterwards");
    /* Rounds interleave the engines (A B C, A B C, ...), so a change in
     * the machine's load during the run falls on every engine alike. */
    /* A failed workload does not stop the later rounds (its cell reports
     * the failure; the exit status too); a path too long would fail in
     * every round, so it ends the run. */
    int fatal = 0, rounds_run = 0;
    for (t.round = 0; t.round < cfg.repeat && !interrupted && !fatal; t.round++) {
        for (int e = 0; e < cfg.n_engines && !interrupted; e++) {
            const struct bench_engine_ops *ops = bench_engine_find(cfg.engines[e]);
            char dir[PATH_MAX];
            if (snprintf(dir, sizeof(dir), "%s/%s", root, ops->name) >= (int)sizeof(dir)) {
                fprintf(stderr, "lsmer bench: path too long: %s (use a shorter --db)\n", root);
                failed = fatal = 1;
                break;
            }
            uint64_t kb = 0;
            if (run_engine(&cfg, ops, dir, &t, e, &kb) != 0) failed = 1;
            if (kb > rss[e]) rss[e] = kb;
            char buf[16];
            bench_format_size(kb * 1024, buf, sizeof(buf));
            printf("peak RSS of the %s process: %s\n", ops->name, buf);
            if (!cfg.keep) bench_rmtree(dir);
        }
        if (!interrupted && !fatal) rounds_run++;
    }
    table_reduce(&t);
    if (cfg.repeat > 1 && rounds_run == cfg.repeat)
        printf("\n(the tables below give, for each figure, its median over the %d rounds)\n",
               cfg.repeat);
    else if (cfg.repeat > 1)
        printf("\n(the tables below give, for each figure, its median over the rounds that "
               "ran: %d of %d, the last one perhaps cut short)\n",
               rounds_run, cfg.repeat);
    if (interrupted) {
        fprintf(stderr, "lsmer bench: interrupted\n");
        failed = 1;
    } else {
        print_table(&t, M_RATE, "== throughput, ops/s (higher is better; ratio > 1: lsmer faster)");
        print_table(&t, M_P99, "== p99 latency, us (lower is better; ratio < 1: lsmer faster)");
        print_table(&t, M_WAMP,
                    "== write amplification, engine-counted/disk (n/a: engine has no counter)");
        print_table(&t, M_SPACE, "== space used after each write workload (du; lower is better)");
        print_table(&t, M_STALL, "== time writers were stalled, s (engine-counted)");
        printf("\npeak RSS per process:");
        for (int e = 0; e < cfg.n_engines; e++) {
            char buf[16];
            bench_format_size(rss[e] * 1024, buf, sizeof(buf));
            printf(" %s %s%s", cfg.engines[e], buf, e + 1 < cfg.n_engines ? "," : "\n");
        }
    }
    if (cfg.csv_path && write_csv(&t, cfg.csv_path) != 0) failed = 1;
    if (created && !cfg.keep) bench_rmtree(root);
    table_free(&t);
    if (interrupted) return 128 + interrupted;
    return failed ? BENCH_EXIT_FAILED : BENCH_EXIT_OK;
}
