/*
 * db_flush.c — writing tables (one table: db_table_open/finish/abandon,
 * shared with compaction; a flush's tables: db_build_tables) and the flush
 * thread, which turns the oldest immutable memtable into level-0 tables.
 *
 * A new table is written, synced, and its directory entry synced before the
 * manifest edit that names it is applied; its number sits in the pending
 * outputs until then so the obsolete-file sweep leaves it alone. After the
 * edit (which also advances the log number past the flushed memtable's WAL)
 * the old WAL is obsolete and is removed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "db_impl.h"
#include "dbformat.h"
#include "range_del.h"

struct rdel_emit {
    struct table_builder *tb;
    int rc;
};

static int emit_piece(void *arg, struct slice start, struct slice end, const uint64_t *seqs,
                      size_t nseqs)
{
    struct rdel_emit *e = arg;
    for (size_t i = 0; i < nseqs; i++) {
        int rc = table_builder_add_range_del(e->tb, start, end, seqs[i]);
        if (rc) return e->rc = rc;
    }
    return 0;
}

struct file_meta *db_meta_from_builder(uint64_t number, struct table_builder *tb)
{
    struct file_meta *m = file_meta_new();
    if (!m) return NULL;
    m->number = number;
    m->file_size = table_builder_file_size(tb);
    if (file_meta_set_keys(m, table_builder_smallest(tb), table_builder_largest(tb))) {
        file_meta_unref(m);
        return NULL;
    }
    m->smallest_seq = table_builder_smallest_seq(tb);
    m->largest_seq = table_builder_largest_seq(tb);
    m->num_entries = table_builder_entries(tb);
    m->num_range_deletions = table_builder_range_dels(tb);
    return m;
}

/* ---- one table: open, finish, abandon -------------------------------- */

/* The file goes and its number leaves the pending outputs. */
static void table_drop(struct lsmer_db *db, uint64_t number)
{
    char *path = db_file_path(db, number, "sst");
    if (path) env_remove(db->env, path);
    free(path);
    pthread_mutex_lock(&db->mu);
    db_remove_pending_locked(db, number);
    pthread_mutex_unlock(&db->mu);
}

int db_table_open(struct lsmer_db *db, int level, struct table_out *o)
{
    memset(o, 0, sizeof(*o));
    pthread_mutex_lock(&db->mu);
    o->number = version_set_new_file_number(db->vs);
    db_add_pending_locked(db, o->number);
    pthread_mutex_unlock(&db->mu);
    char *path = db_file_path(db, o->number, "sst");
    int rc = path ? env_open(db->env, path, ENV_WRITE, &o->f) : -ENOMEM;
    free(path);
    struct table_options topt = db->topt;
    topt.bloom_bits_per_key = db_bloom_bits(db, level);
    if (!rc) rc = table_builder_new(o->f, &topt, &o->tb);
    if (rc) db_table_abandon(db, o);
    return rc;
}

void db_table_abandon(struct lsmer_db *db, struct table_out *o)
{
    table_builder_free(o->tb);
    if (o->f) env_close(o->f);
    if (o->number) table_drop(db, o->number);
    memset(o, 0, sizeof(*o));
}

int db_table_finish(struct lsmer_db *db, struct table_out *o, const struct rdel_set *rdels,
                    struct slice lo, struct slice hi, struct file_meta **meta)
{
    *meta = NULL;
    int rc = 0;
    if (rdels && !rdel_empty(rdels)) {
        struct rdel_emit e = {o->tb, 0};
        rdel_for_each_in(rdels, lo, hi, emit_piece, &e);
        rc = e.rc;
    }
    int empty = table_builder_empty(o->tb);
    if (!rc && !empty) rc = table_builder_finish(o->tb);
    if (!rc && !empty) rc = env_sync(o->f);
    if (!rc && !empty && !(*meta = db_meta_from_builder(o->number, o->tb))) rc = -ENOMEM;
    table_builder_free(o->tb);
    int crc = env_close(o->f);
    if (!rc) rc = crc;
    if (rc)
        db_log(db, LSMER_LOG_ERROR, "writing table %06" PRIu64 ".sst failed: %s", o->number,
               lsmer_strerror(rc));
    if (rc && *meta) {
        file_meta_unref(*meta);
        *meta = NULL;
    }
    if (rc || empty) table_drop(db, o->number);
    memset(o, 0, sizeof(*o));
    return rc;
}

/* ---- a flush's tables ------------------------------------------------ */

void db_table_set_release_locked(struct lsmer_db *db, struct table_set *ts)
{
    for (size_t i = 0; i < ts->n; i++) {
        db_remove_pending_locked(db, ts->metas[i]->number);
        file_meta_unref(ts->metas[i]);
    }
    free(ts->metas);
    memset(ts, 0, sizeof(*ts));
}

static int table_set_push(struct table_set *ts, struct file_meta *m)
{
    if (ts->n == ts->cap) {
        size_t cap = ts->cap ? ts->cap * 2 : 4;
        struct file_meta **p = realloc(ts->metas, cap * sizeof(*p));
        if (!p) return -ENOMEM;
        ts->metas = p;
        ts->cap = cap;
    }
    ts->metas[ts->n++] = m;
    return 0;
}

/* Finishes o into the set (see db_table_finish). */
static int finish_into(struct lsmer_db *db, struct table_out *o, const struct rdel_set *rdels,
                       struct slice lo, struct slice hi, struct table_set *out)
{
    struct file_meta *m;
    int rc = db_table_finish(db, o, rdels, lo, hi, &m);
    if (!rc && m && (rc = table_set_push(out, m)) != 0) {
        table_drop(db, m->number);
        file_meta_unref(m);
    }
    return rc;
}

int db_build_tables(struct lsmer_db *db, int level, struct iter *it, const struct rdel_set *rdels,
                    struct table_set *out)
{
    struct table_out o;
    int rc = db_table_open(db, level, &o);
    /* The user key that ended the previous table: the next table's
     * tombstones start there. */
    struct buffer lo = BUFFER_INIT, prev = BUFFER_INIT;
    int first = 1, partition = db->opt.table_partition != NULL;
    if (!rc && it) {
        for (iter_seek_first(it); iter_valid(it); iter_next(it)) {
            struct slice ik = iter_key(it), uk = ikey_user(ik);
            /* prev is the last key added: set whenever the table is not
             * empty (and kept only with a partition to ask) */
            if (partition && !table_builder_empty(o.tb) &&
                slice_compare(uk, buffer_slice(&prev)) != 0 &&
                db->opt.table_partition(db->opt.table_partition_arg, prev.p, prev.n, uk.p, uk.n)) {
                rc = finish_into(db, &o, rdels, first ? slice_make(NULL, 0) : buffer_slice(&lo), uk,
                                 out);
                if (!rc) rc = buffer_set(&lo, uk.p, uk.n);
                first = 0;
                if (!rc) rc = db_table_open(db, level, &o);
                if (rc) break;
            }
            rc = table_builder_add(o.tb, ik, iter_value(it));
            if (!rc && partition) rc = buffer_set(&prev, uk.p, uk.n);
            if (rc) break;
        }
        if (!rc) rc = iter_status(it);
    }
    if (!rc)
        rc = finish_into(db, &o, rdels, first ? slice_make(NULL, 0) : buffer_slice(&lo),
                         slice_make(NULL, 0), out);
    else if (o.tb)
        db_table_abandon(db, &o);
    if (rc) {
        /* All or nothing: tables already finished go too. */
        for (size_t i = 0; i < out->n; i++) {
            table_drop(db, out->metas[i]->number);
            file_meta_unref(out->metas[i]);
        }
        out->n = 0;
    }
    buffer_free(&lo);
    buffer_free(&prev);
    return rc;
}

/* mu held. Flushes db->imm[0]. */
int db_flush_imm_locked(struct lsmer_db *db)
{
    struct memtable *m = db->imm[0].mem;
    pthread_mutex_unlock(&db->mu);

    uint64_t t0 = env_now_micros(db->env);
    struct iter *it = memtable_iter(m);
    struct table_set ts = {0};
    int rc = it ? db_build_tables(db, 0, it, memtable_range_dels(m), &ts) : -ENOMEM;
    iter_destroy(it);
    if (!rc && ts.n) rc = env_sync_dir(db->env, db->dir);

    pthread_mutex_lock(&db->mu);
    struct version_edit es, *e = &es;
    version_edit_init(e);
    for (size_t i = 0; !rc && i < ts.n; i++) rc = version_edit_add_file(e, 0, ts.metas[i]);
    if (!rc) {
        /* Every write up to the next memtable's log is now in a table. */
        uint64_t next_log = db->n_imm > 1 ? db->imm[1].log_number : db->wal_number;
        version_edit_set_log_number(e, next_log);
        rc = db_apply_locked(db, e);
    }
    version_edit_free(e);
    if (!rc) {
        uint64_t bytes = 0;
        for (size_t i = 0; i < ts.n; i++) bytes += ts.metas[i]->file_size;
        atomic_fetch_add(&db->st.flush_bytes, bytes);
        if (ts.n)
            db_log(db, LSMER_LOG_DEBUG,
                   "flushed memtable to %zu table(s) from %06" PRIu64 ".sst (%" PRIu64
                   " bytes) in %.3f s",
                   ts.n, ts.metas[0]->number, bytes, (env_now_micros(db->env) - t0) / 1e6);
    }
    db_table_set_release_locked(db, &ts);
    if (rc) return rc;
    atomic_fetch_add(&db->st.flushes, 1);
    memtable_unref(m);
    memmove(&db->imm[0], &db->imm[1], sizeof(db->imm[0]) * (size_t)(db->n_imm - 1));
    db->n_imm--;
    db_delete_obsolete_locked(db);
    return 0;
}

void *db_flush_main(void *arg)
{
    struct lsmer_db *db = arg;
    pthread_mutex_lock(&db->mu);
    for (;;) {
        while (!atomic_load(&db->shutting_down) &&
               (db->n_imm == 0 || !db_may_retry_locked(db, DB_SOFT_FLUSH))) {
            if (db->n_imm && db->soft_causes && !db->bg_error_hard)
                db_timed_wait_locked(db, &db->work_cv, db->retry_at);
            else
                pthread_cond_wait(&db->work_cv, &db->mu);
        }
        if (atomic_load(&db->shutting_down)) break;
        db->flush_running = 1;
        int rc = db_flush_imm_locked(db);
        db->flush_running = 0;
        if (rc)
            db_job_failed_locked(db, DB_SOFT_FLUSH, rc, "flushing a memtable");
        else {
            db_job_succeeded_locked(db, DB_SOFT_FLUSH);
            db_wal_recovered_check_locked(db);
        }
        /* Level 0 grew: compaction may be due; writers may proceed. */
        pthread_cond_broadcast(&db->work_cv);
        pthread_cond_broadcast(&db->bg_cv);
    }
    pthread_mutex_unlock(&db->mu);
    return NULL;
}
