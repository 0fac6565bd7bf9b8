/*
 * bench_run.c — the child side of `lsmer bench`: runs every workload of the
 * configuration against one engine and writes one struct bench_result per
 * workload to the parent's pipe.
 *
 * Keys are 16 decimal digits of the key's index, so sequential indexes are
 * sequential keys. A missing key is the index in 15 digits followed by '.',
 * which sorts between real keys (so tables' key ranges cover it and only
 * the bloom filter can answer "absent"). Values come from a pool of distinct
 * values whose first half is random bytes and second half the first half
 * again, so that a block of them compresses about 2:1 (db_bench's default).
 *
 * Latency is taken around every operation with CLOCK_MONOTONIC and kept in
 * a per-thread log-bucketed histogram (bench_hist.h), merged at the end.
 */
#include "bench.h"
#include "bench_hist.h"
#include "bench_int.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

enum wl_kind {
    WL_FILLSEQ,
    WL_FILLRANDOM,
    WL_OVERWRITE,
    WL_READRANDOM,
    WL_READMISSING,
    WL_READSEQ,
    WL_SEEKRANDOM,
    WL_DELETERANDOM,
    WL_FILLSYNC,
    WL_FILLBATCH,
    WL_FILLSYNC4,
    WL_FILLBIG,
};

struct workload {
    const char *name;
    enum wl_kind kind;
    int fresh;       /* starts from an empty database */
    int is_write;    /* report write amplification etc. */
    int needs_data;  /* reads the num keys a full fill leaves */
    int leaves_full; /* afterwards the database holds the full key space */
};

static const struct workload workloads[] = {
    {"fillseq", WL_FILLSEQ, 1, 1, 0, 1},         {"fillrandom", WL_FILLRANDOM, 1, 1, 0, 1},
    {"overwrite", WL_OVERWRITE, 0, 1, 1, 1},     {"readrandom", WL_READRANDOM, 0, 0, 1, 1},
    {"readmissing", WL_READMISSING, 0, 0, 1, 1}, {"readseq", WL_READSEQ, 0, 0, 1, 1},
    {"seekrandom", WL_SEEKRANDOM, 0, 0, 1, 1},   {"deleterandom", WL_DELETERANDOM, 0, 1, 1, 1},
    {"fillsync", WL_FILLSYNC, 1, 1, 0, 0},       {"fillbatch", WL_FILLBATCH, 1, 1, 0, 1},
    {"fillsync4", WL_FILLSYNC4, 1, 1, 0, 0},     {"fillbig", WL_FILLBIG, 1, 1, 0, 0},
};
#define N_WORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

const char *const bench_workload_names[] = {
    "fillseq",      "fillrandom", "overwrite", "readrandom", "readmissing", "readseq", "seekrandom",
    "deleterandom", "fillsync",   "fillbatch", "fillsync4",  "fillbig",     NULL,
};

static const struct workload *workload_find(const char *name)
{
    for (size_t i = 0; i < N_WORKLOADS; i++)
        if (strcmp(workloads[i].name, name) == 0) return &workloads[i];
    return NULL;
}

int bench_workload_known(const char *name)
{
    return workload_find(name) != NULL;
}

/* ---- keys, values, random numbers ------------------------------------ */

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64: fast, and every seed gives a good stream. */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void key_make(uint64_t idx, uint8_t *k)
{
    for (int i = BENCH_KEY_SIZE - 1; i >= 0; i--) {
        k[i] = (uint8_t)('0' + idx % 10);
        idx /= 10;
    }
}

static void key_missing(uint64_t idx, uint8_t *k)
{
    for (int i = BENCH_KEY_SIZE - 2; i >= 0; i--) {
        k[i] = (uint8_t)('0' + idx % 10);
        idx /= 10;
    }
    k[BENCH_KEY_SIZE - 1] = '.';
}

/* A pool of distinct values of one size: each is its first half random
 * bytes, its second half a copy of the first half ("half random, half
 * repeated"), so zstd halves it. Values are picked from it by index. */
struct value_pool {
    uint8_t *data;
    size_t vlen;
    uint64_t count;
};

static int pool_init(struct value_pool *p, size_t vlen, size_t bytes, uint64_t seed)
{
    p->vlen = vlen;
    p->count = bytes / vlen < 64 ? 64 : bytes / vlen;
    p->data = malloc(p->count * vlen);
    if (!p->data) return -ENOMEM;
    uint64_t s = seed ^ 0x5eedu ^ vlen;
    size_t half = (vlen + 1) / 2;
    for (uint64_t u = 0; u < p->count; u++) {
        uint8_t *v = p->data + u * vlen;
        for (size_t j = 0; j < half; j += 8) {
            uint64_t r = rng_next(&s);
            memcpy(v + j, &r, half - j < 8 ? half - j : 8);
        }
        memcpy(v + half, v, vlen - half);
    }
    return 0;
}

/* Value i is a pseudo-random unit of the pool, so that the values in one
 * table block differ (a repeat would let the block compress better than
 * the 2:1 the pool is built for). */
static const uint8_t *pool_value(const struct value_pool *p, uint64_t i)
{
    uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull;
    return p->data + (size_t)((h >> 20) % p->count) * p->vlen;
}

double bench_value_compression(const struct bench_config *cfg)
{
    struct value_pool p;
    double in = 0, out = 0;
    int level = cfg->zstd_level > 0 ? cfg->zstd_level : 1;
    size_t bs = cfg->block_size > cfg->value_size ? cfg->block_size : cfg->value_size;
    uint8_t *block = malloc(bs), *dst = malloc(ZSTD_compressBound(bs));
    if (!block || !dst || pool_init(&p, cfg->value_size, 4u << 20, cfg->seed) != 0) {
        free(block);
        free(dst);
        return 0;
    }
    /* Fill table-block-sized buffers with consecutive values, as a table
     * does, and compress each on its own, as a table does. */
    uint64_t i = 0;
    for (int b = 0; b < 256; b++) {
        size_t used = 0;
        while (used + cfg->value_size <= bs) {
            memcpy(block + used, pool_value(&p, i++), cfg->value_size);
            used += cfg->value_size;
        }
        size_t c = ZSTD_compress(dst, ZSTD_compressBound(bs), block, used, level);
        if (ZSTD_isError(c)) break;
        in += (double)used;
        out += (double)c;
    }
    free(p.data);
    free(block);
    free(dst);
    return out > 0 ? in / out : 0;
}

/* ---- shared state of one engine run ----------------------------------- */

struct run {
    const struct bench_config *cfg;
    const struct bench_engine_ops *ops;
    void *db;
    char dir[PATH_MAX];
    struct value_pool pool, big_pool;
    int loaded; /* the database holds keys 0..num-1 (minus deletes) */
    int out_fd;
    /* progress of the running workload */
    const struct workload *wl;
    _Atomic uint64_t done;
    uint64_t total;
    uint64_t start_ns, last_print_ns;
};

struct worker {
    struct run *run;
    const struct workload *wl;
    int id;
    uint64_t begin, end; /* op indexes [begin, end) */
    struct bench_thread t;
    struct bench_hist hist;
    uint64_t rng;
    uint64_t entries, found, bytes;
    int status;
    const char *err_what;
};

static void progress(struct run *r, uint64_t add, int id)
{
    uint64_t done = atomic_fetch_add(&r->done, add) + add;
    if (!r->cfg->progress || id != 0) return;
    uint64_t now = bench_now_ns();
    if (now - r->last_print_ns < 250000000ull) return;
    r->last_print_ns = now;
    double secs = (double)(now - r->start_ns) / 1e9;
    fprintf(stderr, "\r  %s %s: %5.1f%%  %llu/%llu ops  %.0f ops/s\033[K", r->ops->name,
            r->wl->name, r->total ? 100.0 * (double)done / (double)r->total : 100.0,
            (unsigned long long)done, (unsigned long long)r->total,
            secs > 0 ? (double)done / secs : 0.0);
}

static const uint8_t *value_at(const struct run *r, uint64_t i, size_t vlen)
{
    return pool_value(vlen == r->pool.vlen ? &r->pool : &r->big_pool, i);
}

/* ---- one thread of one workload --------------------------------------- */

static int do_write_batch(struct worker *w, uint64_t first, uint64_t n, size_t vlen)
{
    const struct run *r = w->run;
    uint8_t keys[BENCH_BATCH][BENCH_KEY_SIZE];
    struct bench_kv kv[BENCH_BATCH];
    for (uint64_t j = 0; j < n; j++) {
        key_make(first + j, keys[j]);
        kv[j] = (struct bench_kv){keys[j], BENCH_KEY_SIZE, value_at(r, first + j, vlen), vlen};
    }
    int rc = r->ops->write_batch(r->db, &w->t, kv, (size_t)n, 0);
    if (rc == 0) {
        w->entries += n;
        w->bytes += n * (BENCH_KEY_SIZE + vlen);
    }
    return rc;
}

/* Reads the entry under the iterator and the next `nexts` ones. */
static int scan_entries(struct worker *w, struct bench_iter *it, int nexts)
{
    const struct bench_engine_ops *ops = w->run->ops;
    for (int s = 0;; s++) {
        size_t kl, vl;
        if (!ops->iter_entry(it, &kl, &vl)) break;
        if (s == 0) w->found++;
        w->entries++;
        w->bytes += kl + vl;
        if (s == nexts) break;
        ops->iter_next(it);
    }
    return ops->iter_status(it);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct run *r = w->run;
    const struct bench_config *cfg = r->cfg;
    const struct bench_engine_ops *ops = r->ops;
    struct bench_iter *it = NULL;
    uint8_t key[BENCH_KEY_SIZE];
    size_t vlen = w->wl->kind == WL_FILLBIG ? cfg->big_value_size : cfg->value_size;
    uint64_t space = w->wl->kind == WL_FILLBIG ? cfg->big_num : cfg->num;
    int sync = w->wl->kind == WL_FILLSYNC || w->wl->kind == WL_FILLSYNC4;
    int rc = ops->thread_init(r->db, &w->t);
    if (rc != 0) {
        w->err_what = "thread setup";
        goto out;
    }
    if (w->wl->kind == WL_READSEQ || w->wl->kind == WL_SEEKRANDOM) {
        rc = ops->iter_open(r->db, &w->t, &it);
        if (rc != 0) {
            w->err_what = "iterator open";
            goto out_thread;
        }
        if (w->wl->kind == WL_READSEQ) ops->iter_seek(it, NULL, 0);
    }
    uint64_t pending = 0;
    for (uint64_t i = w->begin; i < w->end; i++) {
        uint64_t t0 = bench_now_ns();
        size_t got = 0;
        switch (w->wl->kind) {
        case WL_FILLSEQ:
            key_make(i, key);
            rc = ops->put(r->db, &w->t, key, sizeof(key), value_at(r, i, vlen), vlen, 0);
            break;
        case WL_FILLRANDOM:
        case WL_OVERWRITE:
        case WL_FILLSYNC:
        case WL_FILLSYNC4:
        case WL_FILLBIG: {
            uint64_t k = rng_next(&w->rng) % space;
            key_make(k, key);
            rc = ops->put(r->db, &w->t, key, sizeof(key), value_at(r, i, vlen), vlen, sync);
            break;
        }
        case WL_FILLBATCH: {
            uint64_t first = i * BENCH_BATCH;
            uint64_t n = cfg->num - first < BENCH_BATCH ? cfg->num - first : BENCH_BATCH;
            rc = do_write_batch(w, first, n, vlen);
            break;
        }
        case WL_READRANDOM:
        case WL_READMISSING:
            if (w->wl->kind == WL_READRANDOM)
                key_make(rng_next(&w->rng) % cfg->num, key);
            else
                key_missing(rng_next(&w->rng) % cfg->num, key);
            rc = ops->get(r->db, &w->t, key, sizeof(key), &got);
            if (rc == 0) {
                w->found++;
                w->bytes += sizeof(key) + got;
            } else if (rc == -ENOENT) {
                rc = 0;
            }
            w->entries++;
            break;
        case WL_READSEQ: {
            size_t kl, vl;
            if (!ops->iter_entry(it, &kl, &vl)) {
                rc = ops->iter_status(it);
                w->end = i; /* ran off the end: fewer entries than num */
                goto done;
            }
            w->entries++;
            w->found++;
            w->bytes += kl + vl;
            ops->iter_next(it);
            break;
        }
        case WL_SEEKRANDOM:
            key_make(rng_next(&w->rng) % cfg->num, key);
            ops->iter_seek(it, key, sizeof(key));
            rc = scan_entries(w, it, BENCH_SEEK_NEXTS);
            break;
        case WL_DELETERANDOM:
            key_make(rng_next(&w->rng) % cfg->num, key);
            rc = ops->del(r->db, &w->t, key, sizeof(key), 0);
            w->bytes += sizeof(key);
            break;
        }
        if (rc != 0) {
            w->err_what = w->wl->name;
            break;
        }
        hist_add(&w->hist, bench_now_ns() - t0);
        if (w->wl->kind != WL_FILLBATCH && w->wl->kind != WL_READRANDOM &&
            w->wl->kind != WL_READMISSING && w->wl->kind != WL_READSEQ &&
            w->wl->kind != WL_SEEKRANDOM) {
            w->entries++;
            if (w->wl->kind != WL_DELETERANDOM) w->bytes += sizeof(key) + vlen;
        }
        if (++pending == 256) {
            progress(r, pending, w->id);
            pending = 0;
        }
    }
done:
    progress(r, pending, w->id);
    if (it) ops->iter_close(it);
out_thread:
    ops->thread_fini(r->db, &w->t);
out:
    w->status = rc;
    return NULL;
}

/* ---- one workload ----------------------------------------------------- */

static uint64_t workload_ops(const struct bench_config *cfg, const struct workload *wl)
{
    switch (wl->kind) {
    case WL_READRANDOM:
    case WL_READMISSING:
        return cfg->reads;
    case WL_SEEKRANDOM:
        return cfg->seeks;
    case WL_FILLSYNC:
    case WL_FILLSYNC4:
        return cfg->sync_ops;
    case WL_FILLBATCH:
        return (cfg->num + BENCH_BATCH - 1) / BENCH_BATCH;
    case WL_FILLBIG:
        return cfg->big_num;
    default:
        return cfg->num;
    }
}

static int workload_threads(const struct bench_config *cfg, const struct workload *wl)
{
    switch (wl->kind) {
    case WL_READRANDOM:
    case WL_READMISSING:
    case WL_SEEKRANDOM:
        return cfg->threads;
    case WL_FILLSYNC4:
        return BENCH_SYNC_THREADS;
    default:
        return 1;
    }
}

static int db_reopen_fresh(struct run *r)
{
    if (r->db) r->ops->close(r->db);
    r->db = NULL;
    r->loaded = 0;
    int rc = bench_rmtree(r->dir);
    if (rc == 0 && mkdir(r->dir, 0755) != 0) rc = -errno;
    if (rc != 0) {
        fprintf(stderr, "lsmer bench: cannot recreate %s: %s\n", r->dir, strerror(-rc));
        return rc;
    }
    rc = r->ops->open(r->cfg, r->dir, &r->db);
    if (rc != 0) {
        r->db = NULL;
        fprintf(stderr, "lsmer bench: %s: cannot open a database in %s: %s\n", r->ops->name, r->dir,
                strerror(-rc));
    }
    return rc;
}

/* Untimed load of keys 0..num-1 in batches, for workloads that read. */
static int preload(struct run *r)
{
    int rc = db_reopen_fresh(r);
    if (rc != 0) return rc;
    struct worker w = {.run = r, .id = 0};
    rc = r->ops->thread_init(r->db, &w.t);
    if (rc != 0) return rc;
    if (r->cfg->progress)
        fprintf(stderr, "\r  %s: loading %llu keys\033[K", r->ops->name,
                (unsigned long long)r->cfg->num);
    for (uint64_t first = 0; first < r->cfg->num && rc == 0; first += BENCH_BATCH) {
        uint64_t n = r->cfg->num - first < BENCH_BATCH ? r->cfg->num - first : BENCH_BATCH;
        rc = do_write_batch(&w, first, n, r->cfg->value_size);
    }
    r->ops->thread_fini(r->db, &w.t);
    if (rc == 0) r->loaded = 1;
    return rc;
}

static void counters_read(const struct run *r, struct bench_engine_counters *c)
{
    c->bytes_written = UINT64_MAX;
    c->stall_micros = UINT64_MAX;
    if (r->ops->counters && r->db) r->ops->counters(r->db, c);
}

static int run_workload(struct run *r, const struct workload *wl, struct bench_result *res)
{
    const struct bench_config *cfg = r->cfg;
    int rc = 0;
    memset(res, 0, sizeof(*res));
    snprintf(res->engine, sizeof(res->engine), "%s", r->ops->name);
    snprintf(res->workload, sizeof(res->workload), "%s", wl->name);
    res->is_write = wl->is_write;
    res->write_amp = res->disk_write_amp = res->stall_sec = -1;

    if (wl->fresh) {
        rc = db_reopen_fresh(r);
    } else if (wl->needs_data && !r->loaded) {
        rc = preload(r);
        snprintf(res->note, sizeof(res->note), "after an untimed load of %llu keys",
                 (unsigned long long)cfg->num);
    } else if (!r->db) {
        rc = db_reopen_fresh(r);
    }
    if (rc != 0) goto out;

    int nthreads = workload_threads(cfg, wl);
    uint64_t total = workload_ops(cfg, wl);
    struct worker *ws = calloc((size_t)nthreads, sizeof(*ws));
    pthread_t *tids = calloc((size_t)nthreads, sizeof(*tids));
    if (!ws || !tids) {
        free(ws);
        free(tids);
        rc = -ENOMEM;
        goto out;
    }
    r->wl = wl;
    r->total = total;
    atomic_store(&r->done, 0);
    struct bench_engine_counters c0, c1;
    counters_read(r, &c0);
    uint64_t io0 = bench_io_written();
    bench_reset_peak_rss();
    r->start_ns = r->last_print_ns = bench_now_ns();
    int started = 0;
    for (int i = 0; i < nthreads; i++) {
        struct worker *w = &ws[i];
        w->run = r;
        w->wl = wl;
        w->id = i;
        w->begin = total * (uint64_t)i / (uint64_t)nthreads;
        w->end = total * (uint64_t)(i + 1) / (uint64_t)nthreads;
        w->rng = cfg->seed * 1000003u + (uint64_t)(wl - workloads) * 7919u + (uint64_t)i;
        hist_init(&w->hist);
        int prc = pthread_create(&tids[i], NULL, worker_main, w);
        if (prc != 0) {
            rc = -prc;
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) pthread_join(tids[i], NULL);
    uint64_t end_ns = bench_now_ns();
    if (cfg->progress) fprintf(stderr, "\r\033[K");

    struct bench_hist h;
    hist_init(&h);
    uint64_t user_bytes = 0;
    for (int i = 0; i < started; i++) {
        struct worker *w = &ws[i];
        hist_merge(&h, &w->hist);
        res->entries += w->entries;
        res->found += w->found;
        res->bytes += w->bytes;
        if (w->status != 0 && rc == 0) {
            rc = w->status;
            fprintf(stderr, "lsmer bench: %s failed in %s (%s): %s\n", r->ops->name, wl->name,
                    w->err_what ? w->err_what : "?", strerror(-rc));
        }
    }
    user_bytes = res->bytes;
    res->ops = h.count;
    res->seconds = (double)(end_ns - r->start_ns) / 1e9;
    res->p50_us = hist_quantile(&h, 0.50) / 1e3;
    res->p99_us = hist_quantile(&h, 0.99) / 1e3;
    res->p999_us = hist_quantile(&h, 0.999) / 1e3;
    res->max_us = h.count ? (double)h.max / 1e3 : 0;
    res->peak_rss_kb = bench_peak_rss_kb();
    if (wl->is_write) {
        uint64_t io1 = bench_io_written();
        counters_read(r, &c1);
        if (user_bytes > 0 && c0.bytes_written != UINT64_MAX && c1.bytes_written != UINT64_MAX)
            res->write_amp = (double)(c1.bytes_written - c0.bytes_written) / (double)user_bytes;
        if (user_bytes > 0 && io0 != UINT64_MAX && io1 != UINT64_MAX)
            res->disk_write_amp = io1 > io0 ? (double)(io1 - io0) / (double)user_bytes : 0;
        if (c0.stall_micros != UINT64_MAX && c1.stall_micros != UINT64_MAX)
            res->stall_sec = (double)(c1.stall_micros - c0.stall_micros) / 1e6;
    }
    res->space_bytes = bench_du(r->dir);
    if (wl->fresh) r->loaded = wl->leaves_full;
    free(ws);
    free(tids);
out:
    res->status = rc;
    return rc;
}

/* ---- the engine run --------------------------------------------------- */

static void print_row(const struct bench_result *res);

int bench_child_run(const struct bench_config *cfg, const struct bench_engine_ops *ops,
                    const char *dir, int out_fd)
{
    struct run r = {.cfg = cfg, .ops = ops, .out_fd = out_fd};
    int failed = 0;
    snprintf(r.dir, sizeof(r.dir), "%s", dir);
    int need_big = 0;
    for (int i = 0; i < cfg->n_workloads; i++)
        if (strcmp(cfg->workloads[i], "fillbig") == 0) need_big = 1;
    if (pool_init(&r.pool, cfg->value_size, 2u << 20, cfg->seed) != 0 ||
        (need_big && pool_init(&r.big_pool, cfg->big_value_size, 8u << 20, cfg->seed) != 0)) {
        free(r.pool.data);
        fprintf(stderr, "lsmer bench: out of memory for the value pool\n");
        return 1;
    }
    uint64_t base_rss = bench_peak_rss_kb(); /* the harness and its value pools */
    for (int i = 0; i < cfg->n_workloads; i++) {
        const struct workload *wl = workload_find(cfg->workloads[i]);
        struct bench_result res;
        if (!wl) continue;
        int rc = run_workload(&r, wl, &res);
        print_row(&res);
        if (write(out_fd, &res, sizeof(res)) != (ssize_t)sizeof(res)) {
            fprintf(stderr, "lsmer bench: lost the pipe to the parent\n");
            failed = 1;
            break;
        }
        if (rc != 0) {
            failed = 1;
            /* The database may be unusable: start the next workload afresh. */
            if (r.db) ops->close(r.db);
            r.db = NULL;
            r.loaded = 0;
        }
    }
    if (r.db) ops->close(r.db);
    if (!cfg->keep) bench_rmtree(r.dir);
    char base[16];
    bench_format_size(base_rss * 1024, base, sizeof(base));
    printf("(of the peak RSS figures, %s is the benchmark's own: code and value pools)\n", base);
    free(r.pool.data);
    free(r.big_pool.data);
    return failed;
}

/* ---- one result line -------------------------------------------------- */

static void fmt_opt(double v, const char *fmt, char *buf, size_t len)
{
    if (v < 0)
        snprintf(buf, len, "n/a");
    else
        snprintf(buf, len, fmt, v);
}

static void print_row(const struct bench_result *res)
{
    char space[16], rss[16], wa[16], dwa[16], stall[16], found[16];
    if (res->status != 0) {
        printf("%-13s FAILED: %s\n", res->workload, strerror(-res->status));
        fflush(stdout);
        return;
    }
    bench_format_size(res->space_bytes, space, sizeof(space));
    bench_format_size(res->peak_rss_kb * 1024, rss, sizeof(rss));
    if (res->is_write) {
        fmt_opt(res->write_amp, "%.2f", wa, sizeof(wa));
        fmt_opt(res->disk_write_amp, "%.2f", dwa, sizeof(dwa));
        fmt_opt(res->stall_sec, "%.2f", stall, sizeof(stall));
    } else {
        snprintf(wa, sizeof(wa), "-");
        snprintf(dwa, sizeof(dwa), "-");
        snprintf(stall, sizeof(stall), "-");
    }
    if (res->entries && !res->is_write && strcmp(res->workload, "readseq") != 0)
        snprintf(found, sizeof(found), "%.0f%%",
                 100.0 * (double)res->found /
                     (double)(strcmp(res->workload, "seekrandom") == 0 ? res->ops : res->entries));
    else
        snprintf(found, sizeof(found), "-");
    double mbs = res->seconds > 0 ? (double)res->bytes / res->seconds / 1e6 : 0;
    printf("%-13s %10.0f %7.1f %8.1f %8.1f %9.1f %8.2f %6s %6s %6s %9s %9s %6s%s%s\n",
           res->workload, bench_result_rate(res), mbs, res->p50_us, res->p99_us, res->p999_us,
           res->max_us / 1e3, found, wa, dwa, space, rss, stall, res->note[0] ? "  " : "",
           res->note);
    fflush(stdout);
}
