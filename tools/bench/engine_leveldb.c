/*
 * engine_leveldb.c — the benchmark's adapter for LevelDB through its C API
 * (<leveldb/c.h>). Built only when CMake finds LevelDB (BENCH_HAVE_LEVELDB).
 *
 * Settings: WAL on (LevelDB always logs), the same LRU block cache, a bloom
 * filter with the same bits per key, the same write buffer and block size,
 * checksums verified on every read (as lsmer's paranoid_checks does). Not
 * comparable: Debian's LevelDB 1.23 has no zstd, so it runs with no
 * compression (compare it with "lsmer-nocomp"); its level sizes are fixed
 * in the library. The C API has no counters for bytes written or stalls, so
 * only the disk write amplification is shown for it. leveldb_get returns a
 * malloc'd copy of the value: that allocation is part of its C API's cost.
 */
#include "bench.h"

#include <errno.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>

struct ldb {
    leveldb_t *db;
    leveldb_options_t *opt;
    leveldb_cache_t *cache;
    leveldb_filterpolicy_t *filter;
    leveldb_readoptions_t *ropt;
    leveldb_writeoptions_t *wopt, *wopt_sync;
};

struct ldb_thread {
    leveldb_writebatch_t *batch;
};

struct bench_iter {
    leveldb_iterator_t *it;
};

static int ldb_err(char *err, const char *what)
{
    if (!err) return 0;
    fprintf(stderr, "lsmer bench: leveldb %s: %s\n", what, err);
    leveldb_free(err);
    return -EIO;
}

static void ldb_describe(const struct bench_config *cfg, char *buf, size_t len)
{
    snprintf(buf, len,
             "LevelDB %d.%d, no compression (Debian's LevelDB has no zstd%s), WAL on, LRU "
             "cache %zu MiB, bloom %d, write buffer %zu MiB, block %zu, checksums verified",
             leveldb_major_version(), leveldb_minor_version(),
             cfg->zstd_level > 0 ? "; compare with lsmer-nocomp" : "", cfg->cache_size >> 20,
             cfg->bloom_bits, cfg->write_buffer >> 20, cfg->block_size);
}

static void ldb_free_all(struct ldb *h)
{
    if (h->db) leveldb_close(h->db);
    if (h->ropt) leveldb_readoptions_destroy(h->ropt);
    if (h->wopt) leveldb_writeoptions_destroy(h->wopt);
    if (h->wopt_sync) leveldb_writeoptions_destroy(h->wopt_sync);
    if (h->opt) leveldb_options_destroy(h->opt);
    if (h->filter) leveldb_filterpolicy_destroy(h->filter);
    if (h->cache) leveldb_cache_destroy(h->cache);
    free(h);
}

static int ldb_open(const struct bench_config *cfg, const char *dir, void **out)
{
    struct ldb *h = calloc(1, sizeof(*h));
    char *err = NULL;
    if (!h) return -ENOMEM;
    h->opt = leveldb_options_create();
    h->cache = leveldb_cache_create_lru(cfg->cache_size);
    h->ropt = leveldb_readoptions_create();
    h->wopt = leveldb_writeoptions_create();
    h->wopt_sync = leveldb_writeoptions_create();
    if (cfg->bloom_bits > 0) h->filter = leveldb_filterpolicy_create_bloom(cfg->bloom_bits);
    if (!h->opt || !h->cache || !h->ropt || !h->wopt || !h->wopt_sync ||
        (cfg->bloom_bits > 0 && !h->filter)) {
        ldb_free_all(h);
        return -ENOMEM;
    }
    leveldb_options_set_create_if_missing(h->opt, 1);
    leveldb_options_set_cache(h->opt, h->cache);
    if (h->filter) leveldb_options_set_filter_policy(h->opt, h->filter);
    leveldb_options_set_write_buffer_size(h->opt, cfg->write_buffer);
    leveldb_options_set_block_size(h->opt, cfg->block_size);
    leveldb_options_set_max_open_files(h->opt, cfg->max_open_files);
    leveldb_options_set_compression(h->opt, leveldb_no_compression);
    leveldb_readoptions_set_verify_checksums(h->ropt, 1);
    leveldb_writeoptions_set_sync(h->wopt_sync, 1);
    h->db = leveldb_open(h->opt, dir, &err);
    if (err) {
        int rc = ldb_err(err, "open");
        h->db = NULL;
        ldb_free_all(h);
        return rc;
    }
    *out = h;
    return 0;
}

static void ldb_close(void *db)
{
    ldb_free_all(db);
}

static int ldb_thread_init(void *db, struct bench_thread *t)
{
    (void)db;
    struct ldb_thread *s = calloc(1, sizeof(*s));
    if (!s) return -ENOMEM;
    t->engine_state = s;
    return 0;
}

static void ldb_thread_fini(void *db, struct bench_thread *t)
{
    (void)db;
    struct ldb_thread *s = t->engine_state;
    if (!s) return;
    if (s->batch) leveldb_writebatch_destroy(s->batch);
    free(s);
    t->engine_state = NULL;
}

static int ldb_put(void *db, struct bench_thread *t, const void *k, size_t kn, const void *v,
                   size_t vn, int sync)
{
    (void)t;
    struct ldb *h = db;
    char *err = NULL;
    leveldb_put(h->db, sync ? h->wopt_sync : h->wopt, k, kn, v, vn, &err);
    return ldb_err(err, "put");
}

static int ldb_del(void *db, struct bench_thread *t, const void *k, size_t kn, int sync)
{
    (void)t;
    struct ldb *h = db;
    char *err = NULL;
    leveldb_delete(h->db, sync ? h->wopt_sync : h->wopt, k, kn, &err);
    return ldb_err(err, "delete");
}

static int ldb_write_batch(void *db, struct bench_thread *t, const struct bench_kv *kv, size_t n,
                           int sync)
{
    struct ldb *h = db;
    struct ldb_thread *s = t->engine_state;
    char *err = NULL;
    if (!s->batch && !(s->batch = leveldb_writebatch_create())) return -ENOMEM;
    leveldb_writebatch_clear(s->batch);
    for (size_t i = 0; i < n; i++)
        leveldb_writebatch_put(s->batch, kv[i].key, kv[i].klen, kv[i].val, kv[i].vlen);
    leveldb_write(h->db, sync ? h->wopt_sync : h->wopt, s->batch, &err);
    return ldb_err(err, "write");
}

static int ldb_get(void *db, struct bench_thread *t, const void *k, size_t kn, size_t *vlen)
{
    (void)t;
    struct ldb *h = db;
    char *err = NULL;
    char *v = leveldb_get(h->db, h->ropt, k, kn, vlen, &err);
    if (err) return ldb_err(err, "get");
    if (!v) return -ENOENT;
    leveldb_free(v);
    return 0;
}

static int ldb_iter_open(void *db, struct bench_thread *t, struct bench_iter **out)
{
    (void)t;
    struct ldb *h = db;
    struct bench_iter *it = calloc(1, sizeof(*it));
    if (!it) return -ENOMEM;
    it->it = leveldb_create_iterator(h->db, h->ropt);
    if (!it->it) {
        free(it);
        return -ENOMEM;
    }
    *out = it;
    return 0;
}

static void ldb_iter_seek(struct bench_iter *it, const void *k, size_t kn)
{
    if (k)
        leveldb_iter_seek(it->it, k, kn);
    else
        leveldb_iter_seek_to_first(it->it);
}

static void ldb_iter_next(struct bench_iter *it)
{
    leveldb_iter_next(it->it);
}

static int ldb_iter_entry(struct bench_iter *it, size_t *klen, size_t *vlen)
{
    if (!leveldb_iter_valid(it->it)) return 0;
    leveldb_iter_key(it->it, klen);
    leveldb_iter_value(it->it, vlen);
    return 1;
}

static int ldb_iter_status(struct bench_iter *it)
{
    char *err = NULL;
    leveldb_iter_get_error(it->it, &err);
    return ldb_err(err, "iterator");
}

static void ldb_iter_close(struct bench_iter *it)
{
    leveldb_iter_destroy(it->it);
    free(it);
}

const struct bench_engine_ops bench_engine_leveldb = {
    .name = "leveldb",
    .describe = ldb_describe,
    .open = ldb_open,
    .close = ldb_close,
    .thread_init = ldb_thread_init,
    .thread_fini = ldb_thread_fini,
    .put = ldb_put,
    .del = ldb_del,
    .write_batch = ldb_write_batch,
    .get = ldb_get,
    .iter_open = ldb_iter_open,
    .iter_seek = ldb_iter_seek,
    .iter_next = ldb_iter_next,
    .iter_entry = ldb_iter_entry,
    .iter_status = ldb_iter_status,
    .iter_close = ldb_iter_close,
    .counters = NULL,
};
