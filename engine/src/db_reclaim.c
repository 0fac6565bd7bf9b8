/*
 * db_reclaim.c — lsmer_reclaim_range: give back the space of deleted data
 * with as little IO and free space as possible.
 *
 * Compaction only applies the tombstones of its own inputs, so the space of
 * a large range deletion (lsmerfs deleting a file) comes back only when the
 * tombstone has travelled down to every level holding the data — and a
 * manual compaction of the range first merges whole levels, which needs
 * free space for a copy of them. On a full volume there is no such space.
 * This pass works file by file instead:
 *   - a table whose whole key range is deleted by a tombstone newer than
 *     everything in it, which every snapshot sees, is dropped from the
 *     version without being read (no IO but the manifest record);
 *   - a table of level >= 1 that a tombstone from a shallower level may
 *     partly delete is rewritten in place (same level, same key range),
 *     dropping what the tombstones delete; it needs free space for one
 *     table at a time, and the old table goes as soon as the new one is in.
 *
 * Why a tombstone of another file may decide: a tombstone [a, b) @ s is a
 * fact about every older version of every key in [a, b), wherever it is
 * stored; once every snapshot sees it (s <= oldest snapshot) those versions
 * are dead for good, since new snapshots only see more. Only tombstones in
 * tables are used: they are durable with the manifest, while one still in
 * the memtable might be lost in a crash together with its unsynced log.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "compaction_pick.h"
#include "db_impl.h"
#include "range_del.h"
#include "table_reader.h"

struct reclaim_job {
    int level;
    struct file_meta *f; /* one reference */
    int drop;            /* 1: drop whole, 0: rewrite */
};

struct reclaim_plan {
    struct reclaim_job *v;
    size_t n, cap;
};

static int plan_add(struct reclaim_plan *p, int level, struct file_meta *f, int drop)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        struct reclaim_job *v = realloc(p->v, cap * sizeof(*v));
        if (!v) return -ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    file_meta_ref(f);
    p->v[p->n++] = (struct reclaim_job){level, f, drop};
    return 0;
}

static void plan_free(struct reclaim_plan *p)
{
    for (size_t i = 0; i < p->n; i++) file_meta_unref(p->v[i].f);
    free(p->v);
}

/* Does f meet [lo, hi) (a NULL bound is open)? */
static int file_in_range(const struct file_meta *f, struct slice lo, struct slice hi)
{
    if (hi.p && slice_compare(file_meta_smallest_ukey(f), hi) >= 0) return 0;
    return !lo.p || slice_compare(file_meta_largest_ukey(f), lo) >= 0;
}

/* Adds the tombstones of every file of level meeting [lo, hi) to set. */
static int add_level_tombstones(struct lsmer_db *db, const struct version *v, int level,
                                struct slice lo, struct slice hi, struct rdel_set *set)
{
    for (size_t i = 0; i < v->nfiles[level]; i++) {
        struct file_meta *f = v->files[level][i];
        if (!f->num_range_deletions || !file_in_range(f, lo, hi)) continue;
        struct table *t;
        struct tc_handle *h;
        int rc = table_cache_get(db->tcache, f, &t, &h);
        if (rc) return rc;
        const struct rdel_set *rd = table_range_dels(t);
        if (rd && !rdel_empty(rd)) rc = rdel_add_all(set, rd);
        table_cache_release(db->tcache, h);
        if (rc) return rc;
    }
    return 0;
}

/* What the tombstones do to one file (see cover_piece). */
struct cover {
    const struct file_meta *f;
    uint64_t oldest;
    struct slice next; /* the first user key not yet known deleted */
    int gap;           /* some key of the file is not deleted */
    int covered;       /* every key of the file's range is deleted */
    int partly;        /* some tombstone may delete some entry */
};

/* The newest tombstone of a piece that every snapshot sees; 0 if none. */
static uint64_t seen_by_all(const uint64_t *seqs, size_t n, uint64_t oldest)
{
    for (size_t i = 0; i < n; i++)
        if (seqs[i] <= oldest) return seqs[i];
    return 0;
}

static int cover_piece(void *arg, struct slice start, struct slice end, const uint64_t *seqs,
                       size_t nseqs)
{
    struct cover *c = arg;
    uint64_t s = seen_by_all(seqs, nseqs, c->oldest);
    struct slice largest = file_meta_largest_ukey(c->f);
    if (slice_compare(start, largest) > 0) return 1; /* past the file */
    if (s > c->f->smallest_seq) c->partly = 1;
    if (!c->gap && !c->covered) {
        if (slice_compare(start, c->next) > 0 || s <= c->f->largest_seq) {
            c->gap = 1;
        } else {
            c->next = end;
            if (slice_compare(end, largest) > 0) c->covered = 1;
        }
    }
    return 0;
}

static void judge(const struct file_meta *f, const struct rdel_set *set, uint64_t oldest,
                  struct cover *c)
{
    memset(c, 0, sizeof(*c));
    c->f = f;
    c->oldest = oldest;
    c->next = file_meta_smallest_ukey(f);
    rdel_for_each_in(set, file_meta_smallest_ukey(f), slice_make(NULL, 0), cover_piece, c);
}

/* Plans the work over the version v (referenced by the caller); no mutex.
 * *all receives every tombstone met (for the rewrites). */
static int make_plan(struct lsmer_db *db, const struct version *v, struct slice lo, struct slice hi,
                     uint64_t oldest, struct reclaim_plan *plan, struct rdel_set *all)
{
    /* Level 0 files overlap each other: judge them by all of level 0's
     * tombstones (a file's own are never newer than the file). */
    int rc = add_level_tombstones(db, v, 0, lo, hi, all);
    for (size_t i = 0; !rc && i < v->nfiles[0]; i++) {
        struct file_meta *f = v->files[0][i];
        if (!file_in_range(f, lo, hi)) continue;
        struct cover c;
        judge(f, all, oldest, &c);
        if (c.covered) rc = plan_add(plan, 0, f, 1);
    }
    /* Deeper levels: by the tombstones of the levels above, which are the
     * ones that can delete their data. */
    for (int level = 1; !rc && level < v->num_levels; level++) {
        for (size_t i = 0; !rc && i < v->nfiles[level]; i++) {
            struct file_meta *f = v->files[level][i];
            if (hi.p && slice_compare(file_meta_smallest_ukey(f), hi) >= 0) break;
            if (!file_in_range(f, lo, hi)) continue;
            struct cover c;
            judge(f, all, oldest, &c);
            if (c.covered)
                rc = plan_add(plan, level, f, 1);
            else if (c.partly)
                rc = plan_add(plan, level, f, 0);
        }
        if (!rc) rc = add_level_tombstones(db, v, level, lo, hi, all);
    }
    return rc;
}

/* mu held: is f still at level in the current version, and idle? */
static int still_there(struct lsmer_db *db, int level, const struct file_meta *f)
{
    const struct version *v = version_set_current(db->vs);
    if (f->being_compacted) return 0;
    for (size_t i = 0; i < v->nfiles[level]; i++)
        if (v->files[level][i] == f) return 1;
    return 0;
}

int lsmer_reclaim_range(lsmer_db *db, const lsmer_range *r)
{
    if (!db) return -EINVAL;
    if (db->opt.read_only) return -EROFS;
    /* The tombstones count only once they are in tables. Out of space, the
     * flush may fail: reclaim with what the tables hold already. */
    int rc = lsmer_flush(db);
    if (rc && rc != -ENOSPC) return rc;
    struct slice lo = {NULL, 0}, hi = {NULL, 0};
    if (r && r->start) lo = slice_make(r->start, r->start_len);
    if (r && r->end) hi = slice_make(r->end, r->end_len);

    uint64_t t0 = env_now_micros(db->env);
    pthread_mutex_lock(&db->mu);
    db->manual_compactions++;
    while (db->compact_running && !db->bg_error_hard) pthread_cond_wait(&db->bg_cv, &db->mu);
    if (db->bg_error_hard) {
        rc = db->bg_error;
        goto out_locked;
    }
    db->compact_running = 1;
    struct version *v = version_set_current(db->vs);
    version_ref(v);
    uint64_t oldest = db_oldest_snapshot_locked(db);
    pthread_mutex_unlock(&db->mu);

    struct reclaim_plan plan = {0};
    struct rdel_set *all = rdel_new();
    rc = all ? make_plan(db, v, lo, hi, oldest, &plan, all) : -ENOMEM;
    version_unref(v);

    pthread_mutex_lock(&db->mu);
    size_t dropped = 0, rewritten = 0;
    uint64_t dropped_bytes = 0;
    if (!rc) {
        /* Whole tables first: free, and they make room for the rewrites. */
        struct version_edit es;
        version_edit_init(&es);
        for (size_t i = 0; !rc && i < plan.n; i++) {
            struct reclaim_job *j = &plan.v[i];
            if (!j->drop || !still_there(db, j->level, j->f)) continue;
            rc = version_edit_delete_file(&es, j->level, j->f->number);
            dropped++;
            dropped_bytes += j->f->file_size;
        }
        if (!rc && dropped) rc = db_apply_locked(db, &es);
        version_edit_free(&es);
        if (!rc && dropped) db_delete_obsolete_locked(db);
    }
    for (size_t i = 0; !rc && i < plan.n; i++) {
        struct reclaim_job *j = &plan.v[i];
        if (j->drop || !still_there(db, j->level, j->f)) continue;
        if (atomic_load(&db->shutting_down)) {
            rc = -ECANCELED;
            break;
        }
        struct compaction *c = compaction_new_rewrite(db->vs, j->level, j->f);
        if (!c) continue; /* a neighbour is busy: the next pass gets it */
        rc = db_run_compaction_locked(db, c, 0, all);
        compaction_release(c);
        if (!rc) {
            rewritten++;
            db_delete_obsolete_locked(db);
        }
    }
    /* Outputs of a failed rewrite are not in any version: delete them. */
    if (rc) db_delete_obsolete_locked(db);
    plan_free(&plan);
    rdel_free(all);
    db->compact_running = 0;
    if (rc && rc != -ECANCELED && rc != -ENOSPC) db_set_bg_error_locked(db, rc, "reclaim");
    if (!rc && (dropped || rewritten))
        db_log(db, LSMER_LOG_INFO,
               "reclaimed deleted data: %zu tables dropped (%" PRIu64 " bytes), %zu rewritten, "
               "%.3f s",
               dropped, dropped_bytes, rewritten, (env_now_micros(db->env) - t0) / 1e6);
out_locked:
    db->manual_compactions--;
    pthread_cond_broadcast(&db->work_cv);
    pthread_cond_broadcast(&db->bg_cv);
    pthread_mutex_unlock(&db->mu);
    return rc;
}
