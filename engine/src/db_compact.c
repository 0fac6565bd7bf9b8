/*
 * db_compact.c — the compaction thread and lsmer_compact_range.
 *
 * A compaction merges its input files (internal-key order) and writes the
 * survivors into new files of the output level, split at the target file
 * size, where the output would overlap too much of the next level, or where
 * the table_partition option says, and never inside one user key. What it drops:
 *   - a version shadowed by a newer version of the same key that every
 *     snapshot already sees (LevelDB's rule);
 *   - a point deletion that every snapshot sees when no deeper level can
 *     hold the key;
 *   - a version covered by a range tombstone of the inputs that every
 *     snapshot sees;
 *   - at the bottom (nothing deeper overlaps), range tombstones every
 *     snapshot sees.
 * Range tombstones of the inputs are merged into one fragmented set and
 * written into the outputs clipped to each output's key span.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "compaction_pick.h"
#include "db_impl.h"
#include "merging_iter.h"
#include "range_del.h"
#include "table_reader.h"

struct compact_state {
    struct lsmer_db *db;
    struct compaction *c;
    uint64_t oldest_snapshot;
    struct rdel_set *rdels; /* tombstones carried to the outputs */
    /* Tombstones of files outside the compaction (a rewrite in place, see
     * db_reclaim.c): they decide what is dropped, but stay where they are. */
    const struct rdel_set *external;
    struct table_out cur;
    int have_cur;
    /* Where the current output's tombstone span starts: where the previous
     * output's ended, not at its own first key (keys dropped between the
     * two must not take their tombstones with them); unbounded for the
     * first output. */
    struct buffer cur_lo;
    int first_output;
    struct file_meta **outs;
    size_t nouts, capouts;
    uint64_t bytes_read, bytes_written;
};

static int open_output(struct compact_state *cs)
{
    int rc = db_table_open(cs->db, cs->c->output_level, &cs->cur);
    if (!rc) cs->have_cur = 1;
    return rc;
}

/* Finishes the current output; hi_ukey (.p NULL = unbounded) ends its span
 * for tombstones. */
static int finish_output(struct compact_state *cs, struct slice hi_ukey)
{
    struct slice lo = cs->first_output ? slice_make(NULL, 0) : buffer_slice(&cs->cur_lo);
    struct file_meta *m;
    cs->have_cur = 0;
    cs->first_output = 0;
    int rc = db_table_finish(cs->db, &cs->cur, cs->rdels, lo, hi_ukey, &m);
    if (!rc && m && cs->nouts == cs->capouts) {
        size_t cap = cs->capouts ? cs->capouts * 2 : 8;
        struct file_meta **p = realloc(cs->outs, cap * sizeof(*p));
        if (p)
            cs->outs = p, cs->capouts = cap;
        else
            rc = -ENOMEM;
    }
    if (m && rc) {
        /* Its number stays pending until the sweep runs; the file is an
         * orphan it removes. */
        pthread_mutex_lock(&cs->db->mu);
        db_remove_pending_locked(cs->db, m->number);
        pthread_mutex_unlock(&cs->db->mu);
        file_meta_unref(m);
    } else if (m) {
        cs->outs[cs->nouts++] = m;
        cs->bytes_written += m->file_size;
    }
    if (!rc && hi_ukey.p) rc = buffer_set(&cs->cur_lo, hi_ukey.p, hi_ukey.n);
    return rc;
}

/* Collects the inputs' range tombstones and drops, at the bottom, those
 * every snapshot sees. */
static int collect_tombstones(struct compact_state *cs)
{
    struct lsmer_db *db = cs->db;
    struct rdel_set *all = NULL;
    int rc = 0;
    for (int which = 0; which < 2; which++) {
        size_t n = cs->c->inputs[which].n;
        for (size_t i = 0; i < n; i++) {
            struct file_meta *f = cs->c->inputs[which].v[i];
            if (!f->num_range_deletions) continue;
            struct table *t;
            struct tc_handle *h;
            rc = table_cache_get(db->tcache, f, &t, &h);
            if (rc) goto out;
            const struct rdel_set *rd = table_range_dels(t);
            if (rd && !rdel_empty(rd)) {
                if (!all && !(all = rdel_new())) rc = -ENOMEM;
                if (!rc) rc = rdel_add_all(all, rd);
            }
            table_cache_release(db->tcache, h);
            if (rc) goto out;
        }
    }
out:
    if (rc) {
        rdel_free(all);
        return rc;
    }
    cs->rdels = all;
    return 0;
}

struct prune_state {
    struct rdel_set *dst;
    uint64_t oldest;
    int bottom;
    int rc;
};

/* Keeps, per piece, every seq newer than the oldest snapshot and the newest
 * one at or below it (the older ones are invisible to everybody); at the
 * bottom, drops that last one too. */
static int prune_piece(void *arg, struct slice start, struct slice end, const uint64_t *seqs,
                       size_t nseqs)
{
    struct prune_state *p = arg;
    for (size_t i = 0; i < nseqs; i++) {
        if (seqs[i] <= p->oldest) {
            if (!p->bottom) p->rc = rdel_add(p->dst, start, end, seqs[i]);
            break;
        }
        p->rc = rdel_add(p->dst, start, end, seqs[i]);
        if (p->rc) break;
    }
    return p->rc;
}

static int do_compaction(struct compact_state *cs)
{
    struct lsmer_db *db = cs->db;
    struct compaction *c = cs->c;
    int rc = collect_tombstones(cs);
    if (rc) return rc;
    /* Tombstones restricted to what still matters, for carrying forward; the
     * full set decides what point entries to drop. */
    struct rdel_set *carried = NULL;
    if (cs->rdels) {
        carried = rdel_new();
        if (!carried) return -ENOMEM;
        struct prune_state ps = {carried, cs->oldest_snapshot, compaction_is_bottommost(c), 0};
        rdel_for_each(cs->rdels, prune_piece, &ps);
        if (ps.rc) {
            rdel_free(carried);
            return ps.rc;
        }
    }
    struct rdel_set *full = cs->rdels;
    cs->rdels = carried;
    if (cs->external && !rdel_empty(cs->external)) {
        if (!full && !(full = rdel_new())) return -ENOMEM;
        rc = rdel_add_all(full, cs->external);
        if (rc) goto out;
    }

    size_t nin = c->inputs[0].n + c->inputs[1].n, k = 0;
    struct iter **children = calloc(nin ? nin : 1, sizeof(*children));
    if (!children) {
        rc = -ENOMEM;
        goto out;
    }
    for (int which = 0; which < 2; which++)
        for (size_t i = 0; i < c->inputs[which].n; i++) {
            struct file_meta *f = c->inputs[which].v[i];
            cs->bytes_read += f->file_size;
            children[k] = table_cache_iter(db->tcache, f);
            if (!children[k]) {
                for (size_t j = 0; j < k; j++) iter_destroy(children[j]);
                free(children);
                rc = -ENOMEM;
                goto out;
            }
            k++;
        }
    struct iter *in = merging_iter_new(children, k, ikey_compare_raw);
    free(children); /* the children now belong to in */

    struct buffer cur_ukey = BUFFER_INIT;
    int have_ukey = 0;
    cs->first_output = 1;
    uint64_t last_seq_for_key = SEQ_MAX;
    for (iter_seek_first(in); iter_valid(in); iter_next(in)) {
        if (atomic_load(&db->shutting_down)) {
            rc = -ECANCELED;
            break;
        }
        struct slice ik = iter_key(in);
        if (!ikey_valid(ik)) {
            rc = -LSMER_ECORRUPT;
            db_log(db, LSMER_LOG_ERROR, "compaction: malformed key in an input table");
            break;
        }
        struct slice uk = ikey_user(ik);
        uint64_t seq = ikey_seq(ik);
        int new_key = !have_ukey || slice_compare(uk, buffer_slice(&cur_ukey)) != 0;
        if (new_key) {
            /* A user-key boundary: the only place an output may end. */
            if (cs->have_cur &&
                (table_builder_file_size(cs->cur.tb) >= c->max_output_file_size ||
                 compaction_should_stop_before(c, ik) ||
                 (have_ukey && db->opt.table_partition && !table_builder_empty(cs->cur.tb) &&
                  db->opt.table_partition(db->opt.table_partition_arg, cur_ukey.p, cur_ukey.n, uk.p,
                                          uk.n)))) {
                rc = finish_output(cs, uk);
                if (rc) break;
            }
            rc = buffer_set(&cur_ukey, uk.p, uk.n);
            if (rc) break;
            have_ukey = 1;
            last_seq_for_key = SEQ_MAX;
        }
        int drop = 0;
        if (last_seq_for_key <= cs->oldest_snapshot) {
            drop = 1; /* shadowed by a newer version everybody sees */
        } else if (ikey_type(ik) == TYPE_DELETE && seq <= cs->oldest_snapshot &&
                   compaction_key_not_in_deeper_levels(c, uk)) {
            drop = 1;
        } else if (full) {
            /* Covered by a tombstone that every snapshot sees. Not the
             * newest covering tombstone: that one may be newer than a
             * snapshot while an older one (dropped at the bottom) is not. */
            if (rdel_max_covering(full, uk, cs->oldest_snapshot) > seq) drop = 1;
        }
        last_seq_for_key = seq;
        if (drop) continue;
        if (!cs->have_cur) {
            rc = open_output(cs);
            if (rc) break;
        }
        rc = table_builder_add(cs->cur.tb, ik, iter_value(in));
        if (rc) break;
    }
    if (!rc) rc = iter_status(in);
    iter_destroy(in);
    buffer_free(&cur_ukey);
    if (!rc && !cs->have_cur && cs->rdels && !rdel_empty(cs->rdels)) {
        /* Only tombstones survive: they still need a home. */
        rc = open_output(cs);
    }
    if (!rc && cs->have_cur) rc = finish_output(cs, slice_make(NULL, 0));
    if (!rc && cs->nouts) rc = env_sync_dir(db->env, db->dir);
out:
    if (cs->have_cur) {
        db_table_abandon(db, &cs->cur);
        cs->have_cur = 0;
    }
    rdel_free(full);
    return rc;
}

int db_run_compaction_locked(struct lsmer_db *db, struct compaction *c, int allow_move,
                             const struct rdel_set *external)
{
    int rc = 0;
    struct version_edit es, *e = &es;
    version_edit_init(e);
    uint64_t t0 = env_now_micros(db->env);
    if (allow_move && compaction_is_trivial_move(c)) {
        struct file_meta *f = c->inputs[0].v[0];
        rc = version_edit_delete_file(e, c->level, f->number);
        if (!rc) rc = version_edit_add_file(e, c->output_level, f);
        if (!rc) rc = db_apply_locked(db, e);
        version_edit_free(e);
        if (!rc)
            db_log(db, LSMER_LOG_DEBUG, "moved %06" PRIu64 ".sst to level %d", f->number,
                   c->output_level);
        return rc;
    }
    struct compact_state cs;
    memset(&cs, 0, sizeof(cs));
    cs.db = db;
    cs.c = c;
    cs.oldest_snapshot = db_oldest_snapshot_locked(db);
    cs.external = external;
    pthread_mutex_unlock(&db->mu);
    rc = do_compaction(&cs);
    pthread_mutex_lock(&db->mu);
    if (!rc) {
        rc = compaction_add_input_deletions(c, e);
        for (size_t i = 0; !rc && i < cs.nouts; i++)
            rc = version_edit_add_file(e, c->output_level, cs.outs[i]);
        if (!rc) rc = db_apply_locked(db, e);
    }
    for (size_t i = 0; i < cs.nouts; i++) {
        db_remove_pending_locked(db, cs.outs[i]->number);
        file_meta_unref(cs.outs[i]);
    }
    free(cs.outs);
    rdel_free(cs.rdels);
    buffer_free(&cs.cur_lo);
    version_edit_free(e);
    if (!rc) {
        atomic_fetch_add(&db->st.compact_read, cs.bytes_read);
        atomic_fetch_add(&db->st.compact_written, cs.bytes_written);
        atomic_fetch_add(&db->st.compactions, 1);
        db_log(db, LSMER_LOG_DEBUG,
               "compacted level %d -> %d: %" PRIu64 " bytes in, %" PRIu64 " out, %.3f s", c->level,
               c->output_level, cs.bytes_read, cs.bytes_written,
               (env_now_micros(db->env) - t0) / 1e6);
    }
    return rc;
}

void *db_compact_main(void *arg)
{
    struct lsmer_db *db = arg;
    pthread_mutex_lock(&db->mu);
    for (;;) {
        struct compaction *c = NULL;
        while (!atomic_load(&db->shutting_down)) {
            if (db_may_retry_locked(db, DB_SOFT_COMPACT) && !db->manual_compactions &&
                (c = compaction_pick(db->vs, atomic_load(&db->compaction_threshold))))
                break;
            if (db->soft_causes && !db->bg_error_hard)
                db_timed_wait_locked(db, &db->work_cv, db->retry_at);
            else
                pthread_cond_wait(&db->work_cv, &db->mu);
        }
        if (!c) break;
        db->compact_running = 1;
        int rc = db_run_compaction_locked(db, c, 1, NULL);
        compaction_release(c);
        db->compact_running = 0;
        if (rc && rc != -ECANCELED) db_job_failed_locked(db, DB_SOFT_COMPACT, rc, "compaction");
        if (!rc) {
            db_job_succeeded_locked(db, DB_SOFT_COMPACT);
            db_delete_obsolete_locked(db);
        }
        pthread_cond_broadcast(&db->bg_cv);
        pthread_cond_broadcast(&db->work_cv);
    }
    pthread_mutex_unlock(&db->mu);
    return NULL;
}

int lsmer_set_compaction_threshold(lsmer_db *db, double fraction)
{
    if (!db || !(fraction > 0 && fraction <= 16)) return -EINVAL;
    atomic_store(&db->compaction_threshold, fraction);
    pthread_mutex_lock(&db->mu);
    pthread_cond_broadcast(&db->work_cv);
    pthread_mutex_unlock(&db->mu);
    return 0;
}

int lsmer_wait_idle(lsmer_db *db)
{
    if (!db) return -EINVAL;
    if (db->opt.read_only) return 0;
    pthread_mutex_lock(&db->mu);
    int rc = 0;
    for (;;) {
        if (db->bg_error) {
            rc = db->bg_error;
            break;
        }
        int due = db->n_imm > 0 || db->flush_running || db->compact_running;
        struct version *v = version_set_current(db->vs);
        double threshold = atomic_load(&db->compaction_threshold);
        for (int l = 0; !due && l < LSMER_MAX_LEVELS - 1; l++) due = v->score[l] >= threshold;
        if (!due) break;
        pthread_cond_broadcast(&db->work_cv);
        pthread_cond_wait(&db->bg_cv, &db->mu);
    }
    pthread_mutex_unlock(&db->mu);
    return rc;
}

int lsmer_compact_range(lsmer_db *db, const lsmer_range *r)
{
    if (!db) return -EINVAL;
    if (db->opt.read_only) return -EROFS;
    int rc = lsmer_flush(db);
    if (rc) return rc;
    struct slice lo = {NULL, 0}, hi = {NULL, 0};
    if (r && r->start) lo = slice_make(r->start, r->start_len);
    if (r && r->end) hi = slice_make(r->end, r->end_len);
    pthread_mutex_lock(&db->mu);
    db->manual_compactions++;
    /* Wait for the background compaction to get out of the way. */
    while (db->compact_running && !db->bg_error) pthread_cond_wait(&db->bg_cv, &db->mu);
    /* Push everything in range down to the deepest level that holds any of
     * it (moves where possible), then rewrite that level once so deleted and
     * overwritten data is dropped. */
    int bottom = -1;
    for (int level = 0; level < LSMER_MAX_LEVELS; level++)
        if (version_overlap_in_level(version_set_current(db->vs), level, lo, hi)) bottom = level;
    for (int level = 0; level <= bottom && !rc; level++) {
        int last = level == bottom;
        for (;;) {
            if (db->bg_error) {
                rc = db->bg_error;
                break;
            }
            struct compaction *c = compaction_pick_range(db->vs, level, lo, hi);
            if (!c) break;
            db->compact_running = 1;
            rc = db_run_compaction_locked(db, c, !last, NULL);
            compaction_release(c);
            db->compact_running = 0;
            if (rc) {
                db_job_failed_locked(db, DB_SOFT_COMPACT, rc, "manual compaction");
                break;
            }
            db_job_succeeded_locked(db, DB_SOFT_COMPACT);
            db_delete_obsolete_locked(db);
            if (last) break; /* the rewrite leaves the range at a deeper level */
        }
    }
    db->manual_compactions--;
    pthread_cond_broadcast(&db->work_cv);
    pthread_cond_broadcast(&db->bg_cv);
    pthread_mutex_unlock(&db->mu);
    return rc;
}
