/*
 * engine_lsmer.c — the benchmark's adapter for liblsmer ("lsmer"), plus
 * "lsmer-nocomp": the same engine with compression off, to compare with
 * LevelDB, which Debian builds without zstd.
 *
 * Per-thread state is a reusable lsmer_buf for gets and a batch for
 * fillbatch; both are freed in thread_fini.
 */
#include "bench.h"

#include "lsmer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lsmer_bench_db {
    lsmer_db *db;
};

struct lsmer_bench_thread {
    lsmer_buf buf;
    lsmer_batch *batch;
};

struct bench_iter {
    lsmer_iter *it;
};

void bench_lsmer_defaults(struct bench_config *cfg);
void bench_lsmer_defaults(struct bench_config *cfg)
{
    lsmer_options o;
    lsmer_options_init(&o);
    cfg->cache_size = o.block_cache_size;
    cfg->write_buffer = o.memtable_size;
    cfg->bloom_bits = o.bloom_bits_per_key;
    cfg->zstd_level = o.zstd_level;
    cfg->level1_size = o.level1_size;
    cfg->level_multiplier = o.level_multiplier;
    cfg->target_file_size = o.target_file_size;
    cfg->block_size = o.block_size;
    cfg->l0_trigger = o.l0_compaction_trigger;
    cfg->l0_slowdown = o.l0_slowdown_trigger;
    cfg->l0_stop = o.l0_stop_trigger;
    cfg->max_open_files = o.max_open_files;
}

static void bench_log(void *arg, int level, const char *msg)
{
    (void)arg;
    if (level <= LSMER_LOG_WARN) fprintf(stderr, "lsmer: %s\n", msg);
}

static void fill_options(const struct bench_config *cfg, int zstd_level, lsmer_options *o)
{
    lsmer_options_init(o);
    o->create_if_missing = 1;
    o->memtable_size = cfg->write_buffer;
    o->block_cache_size = cfg->cache_size;
    o->bloom_bits_per_key = cfg->bloom_bits;
    o->zstd_level = zstd_level;
    o->block_size = cfg->block_size;
    o->log = bench_log; /* warnings only: info lines would garble the table */
    o->log_level = LSMER_LOG_WARN;
}

static void describe_level(const struct bench_config *cfg, int level, char *buf, size_t len)
{
    char comp[32] = "no compression";
    if (level > 0) snprintf(comp, sizeof(comp), "zstd-%d", level);
    snprintf(buf, len,
             "liblsmer %s, %s, WAL on, cache %zu MiB, bloom %d, write buffer %zu MiB, "
             "block %zu, L1 %llu MiB x%d, files %zu MiB, L0 %d/%d/%d",
             LSMER_VERSION_STRING, comp, cfg->cache_size >> 20, cfg->bloom_bits,
             cfg->write_buffer >> 20, cfg->block_size, (unsigned long long)(cfg->level1_size >> 20),
             cfg->level_multiplier, cfg->target_file_size >> 20, cfg->l0_trigger, cfg->l0_slowdown,
             cfg->l0_stop);
}

static void lb_describe(const struct bench_config *cfg, char *buf, size_t len)
{
    describe_level(cfg, cfg->zstd_level, buf, len);
}

static void lb_describe_nocomp(const struct bench_config *cfg, char *buf, size_t len)
{
    describe_level(cfg, 0, buf, len);
}

static int open_level(const struct bench_config *cfg, const char *dir, int level, void **out)
{
    struct lsmer_bench_db *h = calloc(1, sizeof(*h));
    if (!h) return -ENOMEM;
    lsmer_options o;
    fill_options(cfg, level, &o);
    int rc = lsmer_open(dir, &o, &h->db);
    if (rc != 0) {
        fprintf(stderr, "lsmer bench: lsmer_open(%s): %s\n", dir, lsmer_strerror(rc));
        free(h);
        return rc;
    }
    *out = h;
    return 0;
}

static int lb_open(const struct bench_config *cfg, const char *dir, void **out)
{
    return open_level(cfg, dir, cfg->zstd_level, out);
}

static int lb_open_nocomp(const struct bench_config *cfg, const char *dir, void **out)
{
    return open_level(cfg, dir, 0, out);
}

static void lb_close(void *db)
{
    struct lsmer_bench_db *h = db;
    lsmer_close(h->db);
    free(h);
}

static int lb_thread_init(void *db, struct bench_thread *t)
{
    (void)db;
    struct lsmer_bench_thread *s = calloc(1, sizeof(*s));
    if (!s) return -ENOMEM;
    t->engine_state = s;
    return 0;
}

static void lb_thread_fini(void *db, struct bench_thread *t)
{
    (void)db;
    struct lsmer_bench_thread *s = t->engine_state;
    if (!s) return;
    lsmer_buf_free(&s->buf);
    if (s->batch) lsmer_batch_free(s->batch);
    free(s);
    t->engine_state = NULL;
}

static int lb_put(void *db, struct bench_thread *t, const void *k, size_t kn, const void *v,
                  size_t vn, int sync)
{
    struct lsmer_bench_db *h = db;
    struct lsmer_bench_thread *s = t->engine_state;
    if (!sync) return lsmer_put(h->db, k, kn, v, vn);
    /* A sync put is a one-entry batch written with LSMER_SYNC. */
    if (!s->batch && !(s->batch = lsmer_batch_new())) return -ENOMEM;
    lsmer_batch_clear(s->batch);
    int rc = lsmer_batch_put(s->batch, k, kn, v, vn);
    return rc ? rc : lsmer_write(h->db, s->batch, LSMER_SYNC);
}

static int lb_del(void *db, struct bench_thread *t, const void *k, size_t kn, int sync)
{
    (void)t;
    struct lsmer_bench_db *h = db;
    int rc = lsmer_delete(h->db, k, kn);
    if (rc == 0 && sync) rc = lsmer_sync(h->db);
    return rc;
}

static int lb_write_batch(void *db, struct bench_thread *t, const struct bench_kv *kv, size_t n,
                          int sync)
{
    struct lsmer_bench_db *h = db;
    struct lsmer_bench_thread *s = t->engine_state;
    if (!s->batch && !(s->batch = lsmer_batch_new())) return -ENOMEM;
    lsmer_batch_clear(s->batch);
    for (size_t i = 0; i < n; i++) {
        int rc = lsmer_batch_put(s->batch, kv[i].key, kv[i].klen, kv[i].val, kv[i].vlen);
        if (rc != 0) return rc;
    }
    return lsmer_write(h->db, s->batch, sync ? LSMER_SYNC : 0);
}

static int lb_get(void *db, struct bench_thread *t, const void *k, size_t kn, size_t *vlen)
{
    struct lsmer_bench_db *h = db;
    struct lsmer_bench_thread *s = t->engine_state;
    int rc = lsmer_get(h->db, NULL, k, kn, &s->buf);
    if (rc == 0) *vlen = s->buf.size;
    return rc;
}

static int lb_iter_open(void *db, struct bench_thread *t, struct bench_iter **out)
{
    (void)t;
    struct lsmer_bench_db *h = db;
    struct bench_iter *it = calloc(1, sizeof(*it));
    if (!it) return -ENOMEM;
    int rc = lsmer_iter_open(h->db, NULL, NULL, &it->it);
    if (rc != 0) {
        free(it);
        return rc;
    }
    *out = it;
    return 0;
}

static void lb_iter_seek(struct bench_iter *it, const void *k, size_t kn)
{
    if (k)
        lsmer_iter_seek(it->it, k, kn);
    else
        lsmer_iter_seek_first(it->it);
}

static void lb_iter_next(struct bench_iter *it)
{
    lsmer_iter_next(it->it);
}

static int lb_iter_entry(struct bench_iter *it, size_t *klen, size_t *vlen)
{
    if (!lsmer_iter_valid(it->it)) return 0;
    const void *v;
    lsmer_iter_key(it->it, klen);
    if (lsmer_iter_value(it->it, &v, vlen) != 0) return 0; /* iter_status says why */
    return 1;
}

static int lb_iter_status(struct bench_iter *it)
{
    return lsmer_iter_status(it->it);
}

static void lb_iter_close(struct bench_iter *it)
{
    lsmer_iter_close(it->it);
    free(it);
}

static int lb_counters(void *db, struct bench_engine_counters *out)
{
    struct lsmer_bench_db *h = db;
    lsmer_stats st;
    int rc = lsmer_get_stats(h->db, &st);
    if (rc != 0) return rc;
    out->bytes_written =
        st.wal_bytes_written + st.flush_bytes_written + st.compaction_bytes_written;
    out->stall_micros = st.stall_micros;
    return 0;
}

/* The two engines differ in name, compression and so description. */
#define LSMER_BENCH_OPS(engine_name, describe_fn, open_fn)                                         \
    {                                                                                              \
        .name = engine_name, .describe = describe_fn, .open = open_fn, .close = lb_close,          \
        .thread_init = lb_thread_init, .thread_fini = lb_thread_fini, .put = lb_put,               \
        .del = lb_del, .write_batch = lb_write_batch, .get = lb_get, .iter_open = lb_iter_open,    \
        .iter_seek = lb_iter_seek, .iter_next = lb_iter_next, .iter_entry = lb_iter_entry,         \
        .iter_status = lb_iter_status, .iter_close = lb_iter_close, .counters = lb_counters,       \
    }

const struct bench_engine_ops bench_engine_lsmer = LSMER_BENCH_OPS("lsmer", lb_describe, lb_open);
const struct bench_engine_ops bench_engine_lsmer_nocomp =
    LSMER_BENCH_OPS("lsmer-nocomp", lb_describe_nocomp, lb_open_nocomp);
