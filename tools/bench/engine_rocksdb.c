/*
 * engine_rocksdb.c — the benchmark's adapter for RocksDB through its C API
 * (<rocksdb/c.h>). Built only when CMake finds RocksDB (BENCH_HAVE_ROCKSDB).
 *
 * Settings mirror lsmer's: WAL on, zstd at the same level (or none), the
 * same LRU block cache size, a full bloom filter with the same bits per
 * key, the same write buffer, block size, L1 size and multiplier, target
 * file size and L0 triggers. Statistics are enabled so that the bytes
 * written by WAL, flush and compaction, and the stall time, can be read
 * back (rocksdb_options_statistics_get_string); that costs RocksDB a few
 * percent, as it would cost any engine that counts.
 */
#include "bench.h"

#include <errno.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rdb {
    rocksdb_t *db;
    rocksdb_options_t *opt;
    rocksdb_block_based_table_options_t *topt;
    rocksdb_cache_t *cache;
    rocksdb_filterpolicy_t *filter; /* owned by topt once set */
    rocksdb_readoptions_t *ropt;
    rocksdb_writeoptions_t *wopt, *wopt_sync;
};

struct rdb_thread {
    rocksdb_writebatch_t *batch;
};

struct bench_iter {
    rocksdb_iterator_t *it;
};

/* RocksDB reports errors as malloc'd strings; print it and map to -EIO. */
static int rdb_err(char *err, const char *what)
{
    if (!err) return 0;
    fprintf(stderr, "lsmer bench: rocksdb %s: %s\n", what, err);
    rocksdb_free(err);
    return -EIO;
}

static void rdb_describe(const struct bench_config *cfg, char *buf, size_t len)
{
    char comp[32] = "no compression";
    if (cfg->zstd_level > 0) snprintf(comp, sizeof(comp), "zstd-%d", cfg->zstd_level);
    snprintf(buf, len,
             "RocksDB %s, %s, WAL on, LRU cache %zu MiB, full bloom %d, write buffer "
             "%zu MiB, block %zu, L1 %llu MiB x%d, files %zu MiB, L0 %d/%d/%d, statistics on",
             BENCH_ROCKSDB_VERSION, comp, cfg->cache_size >> 20, cfg->bloom_bits,
             cfg->write_buffer >> 20, cfg->block_size, (unsigned long long)(cfg->level1_size >> 20),
             cfg->level_multiplier, cfg->target_file_size >> 20, cfg->l0_trigger, cfg->l0_slowdown,
             cfg->l0_stop);
}

static void rdb_free_all(struct rdb *h)
{
    if (h->db) rocksdb_close(h->db);
    if (h->ropt) rocksdb_readoptions_destroy(h->ropt);
    if (h->wopt) rocksdb_writeoptions_destroy(h->wopt);
    if (h->wopt_sync) rocksdb_writeoptions_destroy(h->wopt_sync);
    if (h->opt) rocksdb_options_destroy(h->opt);
    if (h->topt) rocksdb_block_based_options_destroy(h->topt); /* frees the filter */
    if (h->cache) rocksdb_cache_destroy(h->cache);
    free(h);
}

static int rdb_open(const struct bench_config *cfg, const char *dir, void **out)
{
    struct rdb *h = calloc(1, sizeof(*h));
    char *err = NULL;
    if (!h) return -ENOMEM;
    h->opt = rocksdb_options_create();
    h->topt = rocksdb_block_based_options_create();
    h->cache = rocksdb_cache_create_lru(cfg->cache_size);
    h->ropt = rocksdb_readoptions_create();
    h->wopt = rocksdb_writeoptions_create();
    h->wopt_sync = rocksdb_writeoptions_create();
    if (!h->opt || !h->topt || !h->cache || !h->ropt || !h->wopt || !h->wopt_sync) {
        rdb_free_all(h);
        return -ENOMEM;
    }
    rocksdb_block_based_options_set_block_cache(h->topt, h->cache);
    rocksdb_block_based_options_set_block_size(h->topt, cfg->block_size);
    if (cfg->bloom_bits > 0)
        rocksdb_block_based_options_set_filter_policy(
            h->topt, rocksdb_filterpolicy_create_bloom_full(cfg->bloom_bits));
    rocksdb_options_set_block_based_table_factory(h->opt, h->topt);
    rocksdb_options_set_create_if_missing(h->opt, 1);
    rocksdb_options_set_write_buffer_size(h->opt, cfg->write_buffer);
    rocksdb_options_set_max_bytes_for_level_base(h->opt, cfg->level1_size);
    rocksdb_options_set_max_bytes_for_level_multiplier(h->opt, cfg->level_multiplier);
    rocksdb_options_set_target_file_size_base(h->opt, cfg->target_file_size);
    rocksdb_options_set_level0_file_num_compaction_trigger(h->opt, cfg->l0_trigger);
    rocksdb_options_set_level0_slowdown_writes_trigger(h->opt, cfg->l0_slowdown);
    rocksdb_options_set_level0_stop_writes_trigger(h->opt, cfg->l0_stop);
    rocksdb_options_set_max_open_files(h->opt, cfg->max_open_files);
    if (cfg->zstd_level > 0) {
        rocksdb_options_set_compression(h->opt, rocksdb_zstd_compression);
        /* window_bits, level, strategy, max_dict_bytes: only the level matters. */
        rocksdb_options_set_compression_options(h->opt, -14, cfg->zstd_level, 0, 0);
    } else {
        rocksdb_options_set_compression(h->opt, rocksdb_no_compression);
    }
    rocksdb_options_enable_statistics(h->opt);
    rocksdb_readoptions_set_verify_checksums(h->ropt, 1);
    rocksdb_writeoptions_set_sync(h->wopt_sync, 1);
    h->db = rocksdb_open(h->opt, dir, &err);
    if (err) {
        int rc = rdb_err(err, "open");
        h->db = NULL;
        rdb_free_all(h);
        return rc;
    }
    *out = h;
    return 0;
}

static void rdb_close(void *db)
{
    rdb_free_all(db);
}

static int rdb_thread_init(void *db, struct bench_thread *t)
{
    (void)db;
    struct rdb_thread *s = calloc(1, sizeof(*s));
    if (!s) return -ENOMEM;
    t->engine_state = s;
    return 0;
}

static void rdb_thread_fini(void *db, struct bench_thread *t)
{
    (void)db;
    struct rdb_thread *s = t->engine_state;
    if (!s) return;
    if (s->batch) rocksdb_writebatch_destroy(s->batch);
    free(s);
    t->engine_state = NULL;
}

static int rdb_put(void *db, struct bench_thread *t, const void *k, size_t kn, const void *v,
                   size_t vn, int sync)
{
    (void)t;
    struct rdb *h = db;
    char *err = NULL;
    rocksdb_put(h->db, sync ? h->wopt_sync : h->wopt, k, kn, v, vn, &err);
    return rdb_err(err, "put");
}

static int rdb_del(void *db, struct bench_thread *t, const void *k, size_t kn, int sync)
{
    (void)t;
    struct rdb *h = db;
    char *err = NULL;
    rocksdb_delete(h->db, sync ? h->wopt_sync : h->wopt, k, kn, &err);
    return rdb_err(err, "delete");
}

static int rdb_write_batch(void *db, struct bench_thread *t, const struct bench_kv *kv, size_t n,
                           int sync)
{
    struct rdb *h = db;
    struct rdb_thread *s = t->engine_state;
    char *err = NULL;
    if (!s->batch && !(s->batch = rocksdb_writebatch_create())) return -ENOMEM;
    rocksdb_writebatch_clear(s->batch);
    for (size_t i = 0; i < n; i++)
        rocksdb_writebatch_put(s->batch, kv[i].key, kv[i].klen, kv[i].val, kv[i].vlen);
    rocksdb_write(h->db, sync ? h->wopt_sync : h->wopt, s->batch, &err);
    return rdb_err(err, "write");
}

static int rdb_get(void *db, struct bench_thread *t, const void *k, size_t kn, size_t *vlen)
{
    (void)t;
    struct rdb *h = db;
    char *err = NULL;
    /* Pinned: no copy of the value, as lsmer_get's reusable buffer avoids
     * an allocation per read. */
    rocksdb_pinnableslice_t *p = rocksdb_get_pinned(h->db, h->ropt, k, kn, &err);
    if (err) return rdb_err(err, "get");
    if (!p) return -ENOENT;
    rocksdb_pinnableslice_value(p, vlen);
    rocksdb_pinnableslice_destroy(p);
    return 0;
}

static int rdb_iter_open(void *db, struct bench_thread *t, struct bench_iter **out)
{
    (void)t;
    struct rdb *h = db;
    struct bench_iter *it = calloc(1, sizeof(*it));
    if (!it) return -ENOMEM;
    it->it = rocksdb_create_iterator(h->db, h->ropt);
    if (!it->it) {
        free(it);
        return -ENOMEM;
    }
    *out = it;
    return 0;
}

static void rdb_iter_seek(struct bench_iter *it, const void *k, size_t kn)
{
    if (k)
        rocksdb_iter_seek(it->it, k, kn);
    else
        rocksdb_iter_seek_to_first(it->it);
}

static void rdb_iter_next(struct bench_iter *it)
{
    rocksdb_iter_next(it->it);
}

static int rdb_iter_entry(struct bench_iter *it, size_t *klen, size_t *vlen)
{
    if (!rocksdb_iter_valid(it->it)) return 0;
    rocksdb_iter_key(it->it, klen);
    rocksdb_iter_value(it->it, vlen);
    return 1;
}

static int rdb_iter_status(struct bench_iter *it)
{
    char *err = NULL;
    rocksdb_iter_get_error(it->it, &err);
    return rdb_err(err, "iterator");
}

static void rdb_iter_close(struct bench_iter *it)
{
    rocksdb_iter_destroy(it->it);
    free(it);
}

/* "rocksdb.wal.bytes COUNT : 1234" -> 1234; UINT64_MAX when absent. */
static uint64_t ticker(const char *stats, const char *name)
{
    char pat[96];
    snprintf(pat, sizeof(pat), "%s COUNT : ", name);
    const char *p = strstr(stats, pat);
    if (!p) return UINT64_MAX;
    return strtoull(p + strlen(pat), NULL, 10);
}

static int rdb_counters(void *db, struct bench_engine_counters *out)
{
    struct rdb *h = db;
    char *s = rocksdb_options_statistics_get_string(h->opt);
    if (!s) return -ENOTSUP;
    uint64_t wal = ticker(s, "rocksdb.wal.bytes");
    uint64_t flush = ticker(s, "rocksdb.flush.write.bytes");
    uint64_t comp = ticker(s, "rocksdb.compact.write.bytes");
    uint64_t stall = ticker(s, "rocksdb.stall.micros");
    if (wal != UINT64_MAX && flush != UINT64_MAX && comp != UINT64_MAX)
        out->bytes_written = wal + flush + comp;
    out->stall_micros = stall;
    rocksdb_free(s);
    return 0;
}

const struct bench_engine_ops bench_engine_rocksdb = {
    .name = "rocksdb",
    .describe = rdb_describe,
    .open = rdb_open,
    .close = rdb_close,
    .thread_init = rdb_thread_init,
    .thread_fini = rdb_thread_fini,
    .put = rdb_put,
    .del = rdb_del,
    .write_batch = rdb_write_batch,
    .get = rdb_get,
    .iter_open = rdb_iter_open,
    .iter_seek = rdb_iter_seek,
    .iter_next = rdb_iter_next,
    .iter_entry = rdb_iter_entry,
    .iter_status = rdb_iter_status,
    .iter_close = rdb_iter_close,
    .counters = rdb_counters,
};
