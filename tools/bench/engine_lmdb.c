/*
 * engine_lmdb.c — the benchmark's adapter for LMDB (<lmdb.h>), a
 * copy-on-write B+tree in a memory map. Built only when CMake finds LMDB
 * (BENCH_HAVE_LMDB).
 *
 * Durability made comparable: LMDB has no WAL; every write is its own
 * transaction. The environment is opened with MDB_NOSYNC, so a commit
 * writes its pages with write(2) and returns (it survives a crash of the
 * process, like a WAL engine's unsynced write); a sync write then calls
 * mdb_env_sync(force) (it survives a crash of the machine). LMDB has no
 * compression, block cache or bloom filter; its resident memory includes
 * the pages of the map it has touched.
 *
 * Threads: LMDB allows one write transaction at a time (it queues writers
 * on a mutex) and any number of readers. Each bench thread keeps one read
 * transaction that is reset after every get and renewed before the next
 * (MDB_NOTLS, so it is not tied to the OS thread).
 */
#include "bench.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>

struct lmdb_db {
    MDB_env *env;
    MDB_dbi dbi;
};

struct lmdb_thread {
    MDB_txn *rtxn; /* reset between gets */
};

struct bench_iter {
    struct lmdb_db *h;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val key, val;
    int valid;
    int status;
};

static int lmdb_rc(int rc, const char *what)
{
    if (rc == 0) return 0;
    if (rc == MDB_NOTFOUND) return -ENOENT;
    fprintf(stderr, "lsmer bench: lmdb %s: %s\n", what, mdb_strerror(rc));
    if (rc == MDB_MAP_FULL) return -ENOSPC;
    return rc > 0 ? -rc : -EIO;
}

static void lmdb_describe(const struct bench_config *cfg, char *buf, size_t len)
{
    (void)cfg;
    int ma, mi, pa;
    mdb_version(&ma, &mi, &pa);
    snprintf(buf, len,
             "LMDB %d.%d.%d, B+tree, no WAL (MDB_NOSYNC commit per write = process-crash "
             "durable; sync writes add mdb_env_sync), no compression, no cache, no bloom",
             ma, mi, pa);
}

static int lmdb_open(const struct bench_config *cfg, const char *dir, void **out)
{
    struct lmdb_db *h = calloc(1, sizeof(*h));
    MDB_txn *txn = NULL;
    int rc;
    if (!h) return -ENOMEM;
    rc = mdb_env_create(&h->env);
    if (rc != 0) goto fail;
    /* Address space only: the file grows as pages are written. Generous,
     * because freed pages are reused only once no reader can see them. */
    size_t want = (size_t)(cfg->num * (BENCH_KEY_SIZE + cfg->value_size + 64) * 4 +
                           cfg->big_num * (cfg->big_value_size + 8192) * 4);
    size_t map = (size_t)64 << 30;
    if (want > map) map = want;
    rc = mdb_env_set_mapsize(h->env, map);
    if (rc == 0) rc = mdb_env_set_maxreaders(h->env, (unsigned)(cfg->threads * 2 + 16));
    if (rc == 0) rc = mdb_env_open(h->env, dir, MDB_NOSYNC | MDB_NOTLS, 0644);
    if (rc == 0) rc = mdb_txn_begin(h->env, NULL, 0, &txn);
    if (rc == 0) rc = mdb_dbi_open(txn, NULL, 0, &h->dbi);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (rc != 0) goto fail;
    *out = h;
    return 0;
fail:
    if (txn) mdb_txn_abort(txn);
    if (h->env) mdb_env_close(h->env);
    free(h);
    return lmdb_rc(rc, "open");
}

static void lmdb_close(void *db)
{
    struct lmdb_db *h = db;
    mdb_env_sync(h->env, 1);
    mdb_env_close(h->env);
    free(h);
}

static int lmdb_thread_init(void *db, struct bench_thread *t)
{
    (void)db;
    struct lmdb_thread *s = calloc(1, sizeof(*s));
    if (!s) return -ENOMEM;
    t->engine_state = s;
    return 0;
}

static void lmdb_thread_fini(void *db, struct bench_thread *t)
{
    (void)db;
    struct lmdb_thread *s = t->engine_state;
    if (!s) return;
    if (s->rtxn) mdb_txn_abort(s->rtxn);
    free(s);
    t->engine_state = NULL;
}

static int lmdb_write(struct lmdb_db *h, const struct bench_kv *kv, size_t n, int del, int sync)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(h->env, NULL, 0, &txn);
    if (rc != 0) return lmdb_rc(rc, "begin");
    for (size_t i = 0; i < n && rc == 0; i++) {
        MDB_val k = {kv[i].klen, (void *)kv[i].key};
        if (del) {
            rc = mdb_del(txn, h->dbi, &k, NULL);
            if (rc == MDB_NOTFOUND) rc = 0; /* deleting a missing key is fine */
        } else {
            MDB_val v = {kv[i].vlen, (void *)kv[i].val};
            rc = mdb_put(txn, h->dbi, &k, &v, 0);
        }
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return lmdb_rc(rc, del ? "del" : "put");
    }
    rc = mdb_txn_commit(txn);
    if (rc == 0 && sync) rc = mdb_env_sync(h->env, 1);
    return lmdb_rc(rc, "commit");
}

static int lmdb_put(void *db, struct bench_thread *t, const void *k, size_t kn, const void *v,
                    size_t vn, int sync)
{
    (void)t;
    struct bench_kv kv = {k, kn, v, vn};
    return lmdb_write(db, &kv, 1, 0, sync);
}

static int lmdb_del(void *db, struct bench_thread *t, const void *k, size_t kn, int sync)
{
    (void)t;
    struct bench_kv kv = {k, kn, NULL, 0};
    return lmdb_write(db, &kv, 1, 1, sync);
}

static int lmdb_write_batch(void *db, struct bench_thread *t, const struct bench_kv *kv, size_t n,
                            int sync)
{
    (void)t;
    return lmdb_write(db, kv, n, 0, sync);
}

static int lmdb_get(void *db, struct bench_thread *t, const void *k, size_t kn, size_t *vlen)
{
    struct lmdb_db *h = db;
    struct lmdb_thread *s = t->engine_state;
    int rc = s->rtxn ? mdb_txn_renew(s->rtxn) : mdb_txn_begin(h->env, NULL, MDB_RDONLY, &s->rtxn);
    if (rc != 0) {
        if (s->rtxn) mdb_txn_abort(s->rtxn);
        s->rtxn = NULL;
        return lmdb_rc(rc, "read txn");
    }
    MDB_val key = {kn, (void *)k}, val;
    rc = mdb_get(s->rtxn, h->dbi, &key, &val);
    if (rc == 0) {
        /* Touch the value so that its pages are really read, as the other
         * engines copy or decompress theirs. */
        volatile const unsigned char *p = val.mv_data;
        if (val.mv_size) (void)(p[0] + p[val.mv_size - 1]);
        *vlen = val.mv_size;
    }
    mdb_txn_reset(s->rtxn);
    return rc == MDB_NOTFOUND ? -ENOENT : lmdb_rc(rc, "get");
}

static int lmdb_iter_open(void *db, struct bench_thread *t, struct bench_iter **out)
{
    (void)t;
    struct lmdb_db *h = db;
    struct bench_iter *it = calloc(1, sizeof(*it));
    if (!it) return -ENOMEM;
    it->h = h;
    int rc = mdb_txn_begin(h->env, NULL, MDB_RDONLY, &it->txn);
    if (rc == 0) rc = mdb_cursor_open(it->txn, h->dbi, &it->cur);
    if (rc != 0) {
        if (it->txn) mdb_txn_abort(it->txn);
        free(it);
        return lmdb_rc(rc, "cursor");
    }
    *out = it;
    return 0;
}

static void lmdb_cursor_step(struct bench_iter *it, MDB_cursor_op op)
{
    int rc = mdb_cursor_get(it->cur, &it->key, &it->val, op);
    it->valid = rc == 0;
    if (rc != 0 && rc != MDB_NOTFOUND) it->status = lmdb_rc(rc, "cursor");
}

static void lmdb_iter_seek(struct bench_iter *it, const void *k, size_t kn)
{
    if (k) {
        it->key.mv_size = kn;
        it->key.mv_data = (void *)k;
        lmdb_cursor_step(it, MDB_SET_RANGE);
    } else {
        lmdb_cursor_step(it, MDB_FIRST);
    }
}

static void lmdb_iter_next(struct bench_iter *it)
{
    if (it->valid) lmdb_cursor_step(it, MDB_NEXT);
}

static int lmdb_iter_entry(struct bench_iter *it, size_t *klen, size_t *vlen)
{
    if (!it->valid) return 0;
    *klen = it->key.mv_size;
    *vlen = it->val.mv_size;
    return 1;
}

static int lmdb_iter_status(struct bench_iter *it)
{
    return it->status;
}

static void lmdb_iter_close(struct bench_iter *it)
{
    mdb_cursor_close(it->cur);
    mdb_txn_abort(it->txn);
    free(it);
}

const struct bench_engine_ops bench_engine_lmdb = {
    .name = "lmdb",
    .describe = lmdb_describe,
    .open = lmdb_open,
    .close = lmdb_close,
    .thread_init = lmdb_thread_init,
    .thread_fini = lmdb_thread_fini,
    .put = lmdb_put,
    .del = lmdb_del,
    .write_batch = lmdb_write_batch,
    .get = lmdb_get,
    .iter_open = lmdb_iter_open,
    .iter_seek = lmdb_iter_seek,
    .iter_next = lmdb_iter_next,
    .iter_entry = lmdb_iter_entry,
    .iter_status = lmdb_iter_status,
    .iter_close = lmdb_iter_close,
    .counters = NULL,
};
