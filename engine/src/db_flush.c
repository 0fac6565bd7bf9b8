/*
 * db_flush.c — building tables and the flush thread, which turns the oldest
 * immutable memtable into a level-0 table.
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

int db_build_table(struct lsmer_db *db, int level, uint64_t number, struct iter *it,
                   const struct rdel_set *rdels, struct file_meta **meta_out)
{
    *meta_out = NULL;
    char *path = db_file_path(db, number, "sst");
    if (!path) return -ENOMEM;
    struct env_file *f = NULL;
    struct table_builder *tb = NULL;
    struct table_options topt = db->topt;
    topt.bloom_bits_per_key = db_bloom_bits(db, level);
    int rc = env_open(db->env, path, ENV_WRITE, &f);
    if (rc) goto out;
    rc = table_builder_new(f, &topt, &tb);
    if (rc) goto out;
    if (it) {
        for (iter_seek_first(it); iter_valid(it); iter_next(it)) {
            rc = table_builder_add(tb, iter_key(it), iter_value(it));
            if (rc) goto out;
        }
        rc = iter_status(it);
        if (rc) goto out;
    }
    if (rdels && !rdel_empty(rdels)) {
        struct rdel_emit e = {tb, 0};
        rdel_for_each(rdels, emit_piece, &e);
        rc = e.rc;
        if (rc) goto out;
    }
    if (table_builder_empty(tb)) goto out; /* nothing to write: no file */
    rc = table_builder_finish(tb);
    if (!rc) rc = env_sync(f);
    if (rc) goto out;
    struct file_meta *m = db_meta_from_builder(number, tb);
    if (!m) {
        rc = -ENOMEM;
        goto out;
    }
    if (rc) {
        file_meta_unref(m);
        goto out;
    }
    *meta_out = m;
out:
    table_builder_free(tb);
    if (f) {
        int crc = env_close(f);
        if (!rc) rc = crc;
    }
    if (rc) {
        db_log(db, LSMER_LOG_ERROR, "writing table %s failed: %s", path, lsmer_strerror(rc));
        if (*meta_out) file_meta_unref(*meta_out);
        *meta_out = NULL;
    }
    if (rc || !*meta_out) env_remove(db->env, path);
    free(path);
    return rc;
}

/* mu held. Flushes db->imm[0]. */
int db_flush_imm_locked(struct lsmer_db *db)
{
    struct memtable *m = db->imm[0].mem;
    uint64_t number = version_set_new_file_number(db->vs);
    db_add_pending_locked(db, number);
    pthread_mutex_unlock(&db->mu);

    uint64_t t0 = env_now_micros(db->env);
    struct iter *it = memtable_iter(m);
    struct file_meta *meta = NULL;
    int rc = it ? db_build_table(db, 0, number, it, memtable_range_dels(m), &meta) : -ENOMEM;
    iter_destroy(it);
    if (!rc && meta) rc = env_sync_dir(db->env, db->dir);

    pthread_mutex_lock(&db->mu);
    struct version_edit es, *e = &es;
    version_edit_init(e);
    if (!rc && meta) rc = version_edit_add_file(e, 0, meta);
    if (!rc) {
        /* Every write up to the next memtable's log is now in a table. */
        uint64_t next_log = db->n_imm > 1 ? db->imm[1].log_number : db->wal_number;
        version_edit_set_log_number(e, next_log);
        rc = db_apply_locked(db, e);
    }
    version_edit_free(e);
    db_remove_pending_locked(db, number);
    if (rc) {
        if (meta) file_meta_unref(meta);
        return rc;
    }
    if (meta) {
        atomic_fetch_add(&db->st.flush_bytes, meta->file_size);
        db_log(db, LSMER_LOG_DEBUG,
               "flushed memtable to %06" PRIu64 ".sst (%" PRIu64 " bytes) in %.3f s", number,
               meta->file_size, (env_now_micros(db->env) - t0) / 1e6);
        file_meta_unref(meta);
    }
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
