/*
 * db_write.c — the write path: a queue of writers whose head (the leader)
 * merges the queued batches into one WAL record, appends it, syncs once if
 * any of them asked for it (group commit), inserts the group into the
 * memtable and wakes the others.
 *
 * Before writing, the leader makes room: when level 0 has piled up past the
 * slowdown trigger each write group is delayed a little (more the closer L0
 * is to the stop trigger), so writers slow down smoothly instead of hitting
 * a wall; at the stop trigger, or when every immutable-memtable slot is
 * waiting for flush, it waits for the background threads. A full memtable
 * is switched for a new one with a new WAL.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "db_impl.h"
#include "dbformat.h"

#define GROUP_MAX_BYTES (1u << 20)

void db_set_bg_error_locked(struct lsmer_db *db, int err, const char *what)
{
    if (db->bg_error_hard) return;
    db->bg_error = err;
    db->bg_error_hard = 1;
    db_log(db, LSMER_LOG_ERROR,
           "%s failed: %s; writes are refused until the database is "
           "reopened (reads go on)",
           what, lsmer_strerror(err));
    pthread_cond_broadcast(&db->bg_cv);
}

void db_job_failed_locked(struct lsmer_db *db, unsigned cause, int err, const char *what)
{
    if (err != -ENOSPC && err != -EIO) {
        db_set_bg_error_locked(db, err, what);
        return;
    }
    if (cause == DB_SOFT_WAL && (!db->wal_error || err == -EIO)) db->wal_error = err;
    if (!db->soft_causes) {
        if (err == -ENOSPC)
            db_log(db, LSMER_LOG_ERROR,
                   "%s failed: no space left on the device holding %s; writes fail with "
                   "ENOSPC until space is freed (reads go on, nothing written is lost)",
                   what, db->dir);
        else
            db_log(db, LSMER_LOG_ERROR,
                   "%s failed: I/O error on the device holding %s; writes fail with EIO "
                   "and are retried with backoff until the device works again (reads "
                   "go on, nothing acknowledged is lost); check dmesg",
                   what, db->dir);
    }
    db->soft_causes |= cause;
    if (!db->bg_error_hard) db->bg_error = err;
    db->retry_backoff = db->retry_backoff ? db->retry_backoff * 2 : 100000;
    if (db->retry_backoff > 2000000) db->retry_backoff = 2000000;
    db->retry_at = env_now_micros(db->env) + db->retry_backoff;
    pthread_cond_broadcast(&db->bg_cv);
    pthread_cond_broadcast(&db->sync_cv); /* waiters for a sync see the error now */
}

void db_job_succeeded_locked(struct lsmer_db *db, unsigned cause)
{
    if (!(db->soft_causes & cause)) return;
    db->soft_causes &= ~cause;
    if (cause == DB_SOFT_WAL) db->wal_error = 0;
    if (!db->soft_causes) {
        db->retry_backoff = 0;
        if (!db->bg_error_hard) {
            db->bg_error = 0;
            db_log(db, LSMER_LOG_WARN, "the device holding %s works again; writes resume", db->dir);
        }
    }
    pthread_cond_broadcast(&db->bg_cv);
}

int db_may_retry_locked(struct lsmer_db *db, unsigned cause)
{
    (void)cause; /* every job retries on the same schedule */
    if (db->bg_error_hard) return 0;
    if (!db->soft_causes) return 1;
    return env_now_micros(db->env) >= db->retry_at;
}

void db_timed_wait_locked(struct lsmer_db *db, pthread_cond_t *cv, uint64_t deadline_micros)
{
    uint64_t now = env_now_micros(db->env);
    uint64_t wait = deadline_micros > now ? deadline_micros - now : 0;
    if (wait > 2000000) wait = 2000000;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (wait % 1000000) * 1000;
    ts.tv_sec += (time_t)(wait / 1000000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(cv, &db->mu, &ts);
}

int db_apply_locked(struct lsmer_db *db, struct version_edit *e)
{
    /* The manifest records the set's last sequence: bring it up to date. */
    version_set_set_last_sequence(db->vs, atomic_load(&db->last_seq));
    int rc = version_set_log_and_apply(db->vs, e, &db->mu);
    db->apply_failed = rc != 0;
    return rc;
}

/* The memtable's key filter gets 1/32 of the memtable budget: 1 MiB for
 * 32 MiB, about 40 bits per key with 100-byte values (false positives
 * well under 1%), 20 with the filesystem's small entries. */
#define DB_MEM_FILTER_SHARE 32

struct memtable *db_memtable_new(const struct lsmer_db *db)
{
    return memtable_new(db->opt.memtable_size / DB_MEM_FILTER_SHARE);
}

int db_new_wal_locked(struct lsmer_db *db, int sync_old)
{
    /* Sync the old log first: a later sync in the new log must never make a
     * write durable while an earlier unsynced one in the old log is lost
     * (recovery must always give a prefix of the acknowledged writes). */
    /* The syncer uses the log without mu: let it finish first. */
    while (db->sync_running) pthread_cond_wait(&db->sync_cv, &db->mu);
    if (db->wal && sync_old) {
        /* A log whose append failed still syncs its good prefix; a torn
         * record after it is dropped by recovery. */
        int src = wal_sync_prefix(db->wal);
        if (src) return src;
        atomic_fetch_add(&db->st.wal_syncs, 1);
    }
    uint64_t number = version_set_new_file_number(db->vs);
    char *path = db_file_path(db, number, "log");
    if (!path) return -ENOMEM;
    struct wal_writer *w = NULL;
    int rc = wal_writer_open(db->env, path, number, &w);
    if (!rc) {
        /* Reserve the log ahead (an eighth of the memtable at a time, within
         * 256 KiB..4 MiB), so that a sync after an append has no new size
         * to record: about a third off each fdatasync on ext4. */
        uint64_t chunk = db->opt.memtable_size / 8;
        if (chunk < (256u << 10)) chunk = 256u << 10;
        if (chunk > (4u << 20)) chunk = 4u << 20;
        /* the old log's way of reserving, which follows how often it
         * was synced */
        wal_writer_set_prealloc(w, chunk, db->wal ? wal_writer_prealloc_written(db->wal) : 0);
    }
    /* The new log's directory entry must be durable before anything synced
     * into it is acknowledged. */
    if (!rc) rc = env_sync_dir(db->env, db->dir);
    if (rc) {
        db_log(db, LSMER_LOG_ERROR, "cannot create WAL %s: %s", path, lsmer_strerror(rc));
        if (w) {
            wal_writer_close(w);
            env_remove(db->env, path);
        }
        free(path);
        return rc;
    }
    free(path);
    if (db->wal) wal_writer_close(db->wal);
    db->wal = w;
    db->wal_number = number;
    db->wal_appended = 0;
    db->wal_synced = 0;
    db->sync_deadline = 0;                /* a new group forms in the new log */
    pthread_cond_broadcast(&db->sync_cv); /* waiters on the old log are durable */
    return 0;
}

/* mu held, after EIO on the WAL (see wal_abandoned in db_impl.h): a new
 * log without syncing the old one, and the memtable it backed goes to the
 * flush thread. Writes stay refused until that flush is done. */
static int abandon_wal_locked(struct lsmer_db *db)
{
    if (db->n_imm >= DB_MAX_IMM) return db->bg_error; /* the flush makes room first */
    uint64_t old_log = db->wal_number;
    int empty = memtable_empty(db->mem);
    struct memtable *m = empty ? NULL : db_memtable_new(db);
    if (!empty && !m) return -ENOMEM;
    int rc = db_new_wal_locked(db, 0);
    if (rc) {
        if (m) memtable_unref(m);
        return rc;
    }
    db_log(db, LSMER_LOG_WARN,
           "WAL %06" PRIu64 ".log abandoned after an I/O error; its writes go to a table "
           "before writes resume",
           old_log);
    if (!empty) {
        db->imm[db->n_imm].mem = db->mem;
        db->imm[db->n_imm].log_number = old_log;
        db->n_imm++;
        db->mem = m;
    }
    db->wal_abandoned = old_log;
    db_wal_recovered_check_locked(db);
    pthread_cond_broadcast(&db->work_cv);
    return 0;
}

void db_wal_recovered_check_locked(struct lsmer_db *db)
{
    if (!db->wal_abandoned) return;
    for (int i = 0; i < db->n_imm; i++)
        if (db->imm[i].log_number <= db->wal_abandoned) return;
    db->wal_abandoned = 0;
    db_job_succeeded_locked(db, DB_SOFT_WAL);
}

static void sleep_micros(uint64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static int l0_runs_locked(struct lsmer_db *db)
{
    return version_l0_runs(version_set_current(db->vs));
}

/* mu held. Returns 0 when the memtable has room for the next group. */
static int make_room_locked(struct lsmer_db *db, int force_switch)
{
    int delayed = 0;
    uint64_t t0 = 0;
    int rc = 0;
    for (;;) {
        if (db->bg_error) {
            /* Out of space: a broken WAL is replaced once retrying is due;
             * other soft causes clear when their job succeeds. */
            if (db->soft_causes == DB_SOFT_WAL && db->wal_error == -EIO && !db->wal_abandoned &&
                db_may_retry_locked(db, DB_SOFT_WAL)) {
                rc = abandon_wal_locked(db);
                if (rc) {
                    db_job_failed_locked(db, DB_SOFT_WAL, rc, "replacing the WAL");
                    break;
                }
                continue;
            }
            if (db->soft_causes == DB_SOFT_WAL && db->wal_error != -EIO &&
                db_may_retry_locked(db, DB_SOFT_WAL)) {
                rc = db_new_wal_locked(db, 1);
                if (rc) {
                    db_job_failed_locked(db, DB_SOFT_WAL, rc, "replacing the WAL");
                    break;
                }
                db_job_succeeded_locked(db, DB_SOFT_WAL);
                continue;
            }
            rc = db->bg_error;
            break;
        }
        int l0 = l0_runs_locked(db);
        if (!delayed && l0 >= db->opt.l0_slowdown_trigger && l0 < db->opt.l0_stop_trigger) {
            /* Smooth slowdown: 0.1 ms at the slowdown trigger rising to ~2 ms
             * just below the stop trigger, once per write group. */
            int span = db->opt.l0_stop_trigger - db->opt.l0_slowdown_trigger;
            uint64_t us = 100 + (uint64_t)1900 * (uint64_t)(l0 - db->opt.l0_slowdown_trigger) /
                                    (uint64_t)(span ? span : 1);
            pthread_mutex_unlock(&db->mu);
            sleep_micros(us);
            pthread_mutex_lock(&db->mu);
            atomic_fetch_add(&db->st.stall_micros, us);
            atomic_fetch_add(&db->st.slowdowns, 1);
            delayed = 1;
            continue;
        }
        /* An empty memtable always has room: its arena's first block may
         * already exceed a tiny memtable_size. */
        if (!force_switch &&
            (memtable_bytes(db->mem) < db->opt.memtable_size || memtable_empty(db->mem)))
            break;
        if (force_switch && memtable_empty(db->mem)) break;
        if (db->n_imm >= DB_MAX_IMM || l0 >= db->opt.l0_stop_trigger) {
            if (!t0) {
                t0 = env_now_micros(db->env);
                atomic_fetch_add(&db->st.stops, 1);
                if (l0 >= db->opt.l0_stop_trigger)
                    db_log(
                        db, LSMER_LOG_DEBUG,
                        "writes wait: level 0 counts %d (files, or overlap depth when partitioned)",
                        l0);
            }
            pthread_cond_broadcast(&db->work_cv);
            pthread_cond_wait(&db->bg_cv, &db->mu);
            continue;
        }
        /* Switch to a new memtable and WAL. */
        struct memtable *m = db_memtable_new(db);
        if (!m) {
            rc = -ENOMEM;
            break;
        }
        uint64_t old_log = db->wal_number;
        rc = db_new_wal_locked(db, 1);
        if (rc) {
            memtable_unref(m);
            db_job_failed_locked(db, DB_SOFT_WAL, rc, "creating a new WAL");
            break;
        }
        db->imm[db->n_imm].mem = db->mem;
        db->imm[db->n_imm].log_number = old_log;
        db->n_imm++;
        db->mem = m;
        pthread_cond_broadcast(&db->work_cv);
        force_switch = 0;
    }
    if (t0) atomic_fetch_add(&db->st.stall_micros, env_now_micros(db->env) - t0);
    return rc;
}

/* mu held. Waiters whose bytes no sync has covered yet. A writer that the
 * last sync released is still in sync_waiters until it runs again; counting
 * it as waiting for the next sync started that sync before its next write
 * was in (4 writers: 2.7 writes per sync instead of 4). */
static int unsynced_waiters_locked(const struct lsmer_db *db)
{
    int n = 0;
    for (const struct sync_waiter *x = db->sync_waiters; x; x = x->next)
        if (x->wal_number == db->wal_number && x->offset > db->wal_synced) n++;
    return n;
}

/* mu held. Waits until the WAL holds everything up to (wal_number, offset)
 * durably. A waiter that finds no sync running and the group complete
 * becomes the syncer: it syncs everything appended so far, with mu
 * released, so writers keep appending (and queueing for the next sync)
 * meanwhile. A log that was switched out was synced whole before the
 * switch. */
static int wait_durable_once_locked(struct lsmer_db *db, uint64_t wal_number, uint64_t offset)
{
    for (;;) {
        /* A log given up after EIO (abandon_wal_locked) was not synced
         * whole: its bytes are durable only once its memtable is in a
         * table, so they are reported failed, as its failed sync was; so is
         * a wait on a later log meanwhile (a bare sync: it covers them). */
        if (db->wal_abandoned && wal_number >= db->wal_abandoned)
            return db->wal_error ? db->wal_error : -EIO;
        if (db->wal_number != wal_number || db->wal_synced >= offset) return 0;
        if (db->bg_error && (db->soft_causes & DB_SOFT_WAL || db->bg_error_hard))
            return db->bg_error;
        if (db->sync_running) {
            pthread_cond_wait(&db->sync_cv, &db->mu);
            continue;
        }
        /* Group commit: wait (briefly, at most half a sync after the first
         * waiter came) until every sync writer that is inside a write has
         * appended and is waiting here, so one sync covers them all. Without
         * this, writers fall into two alternating halves, each syncing while
         * the other appends. The target is the recent peak of concurrent
         * sync writers (decayed every 64 syncs), since the ones a sync just
         * released are briefly outside lsmer_write. The writer that
         * completes the group syncs at once, itself: no thread has to wake
         * another before the disk starts. */
        int want = db->sync_active > db->sync_peak ? db->sync_active : db->sync_peak;
        if (unsynced_waiters_locked(db) < want) {
            uint64_t now = env_now_micros(db->env);
            if (!db->sync_deadline) db->sync_deadline = now + db->sync_avg_micros / 2;
            if (now < db->sync_deadline) {
                db_timed_wait_locked(db, &db->sync_cv, db->sync_deadline);
                continue;
            }
        }
        db->sync_deadline = 0;
        db->sync_running = 1;
        struct wal_writer *w = db->wal;
        uint64_t target = db->wal_appended;
        pthread_mutex_unlock(&db->mu);
        uint64_t t0 = env_now_micros(db->env);
        int rc = wal_sync(w);
        uint64_t took = env_now_micros(db->env) - t0;
        pthread_mutex_lock(&db->mu);
        db->sync_avg_micros = (db->sync_avg_micros * 7 + took) / 8;
        if (++db->sync_count % 64 == 0) db->sync_peak = db->sync_active;
        if (db->sync_avg_micros > 20000) db->sync_avg_micros = 20000;
        db->sync_running = 0;
        pthread_cond_broadcast(&db->sync_cv);
        if (rc) {
            db_job_failed_locked(db, DB_SOFT_WAL, rc, "syncing the WAL");
            return rc;
        }
        atomic_fetch_add(&db->st.wal_syncs, 1);
        if (target > db->wal_synced) db->wal_synced = target;
    }
}

static int wait_durable_locked(struct lsmer_db *db, struct sync_waiter *me, uint64_t wal_number,
                               uint64_t offset)
{
    /* me lives in the caller's frame: the list is a set of stack objects,
     * each removed before its owner returns. */
    me->wal_number = wal_number;
    me->offset = offset;
    me->next = db->sync_waiters;
    me->pprev = &db->sync_waiters;
    if (me->next) me->next->pprev = &me->next;
    db->sync_waiters = me;
    int rc = wait_durable_once_locked(db, wal_number, offset);
    *me->pprev = me->next;
    if (me->next) me->next->pprev = me->pprev;
    return rc;
}

static int db_write_impl(struct lsmer_db *db, const lsmer_batch *b, const struct db_write_op *op,
                         int sync)
{
    if (db->opt.read_only) return -EROFS;
    struct db_writer w;
    memset(&w, 0, sizeof(w));
    w.batch = b;
    w.op = op;
    w.sync = sync;
    pthread_cond_init(&w.cv, NULL);

    pthread_mutex_lock(&db->mu);
    if (!b && !op) {
        /* A bare sync: everything appended so far. */
        int rc = wait_durable_locked(db, &w.durable, db->wal_number, db->wal_appended);
        pthread_mutex_unlock(&db->mu);
        pthread_cond_destroy(&w.cv);
        return rc;
    }
    if (sync && ++db->sync_active > db->sync_peak) db->sync_peak = db->sync_active;
    if (db->wq_tail)
        db->wq_tail->next = &w;
    else
        db->wq_head = &w;
    db->wq_tail = &w;
    while (!w.done && db->wq_head != &w) pthread_cond_wait(&w.cv, &db->mu);
    if (!w.done) {
        /* We lead: write the group, then hand leadership on before syncing so
         * the next group forms and appends while the disk works. */
        int rc = make_room_locked(db, 0);
        struct db_writer *last = &w;
        if (!rc) {
            uint64_t seq = atomic_load(&db->last_seq) + 1;
            lsmer_batch_clear(db->group_batch);
            size_t bytes = 0;
            for (struct db_writer *x = &w; x; x = x->next) {
                if (!x->batch && !x->op) break; /* lsmer_flush waits for its own turn */
                const struct db_write_op *op = x->op;
                size_t n = op ? op->kn + op->vn + 16 : lsmer_batch_bytes(x->batch);
                if (x != &w && bytes + n > GROUP_MAX_BYTES) break;
                rc = op ? batch_add_op(db->group_batch, op->type, op->k, op->kn, op->v, op->vn)
                        : batch_append_rep(db->group_batch, batch_rep(x->batch));
                if (rc) break;
                bytes += n;
                last = x;
            }
            if (!rc) {
                batch_set_sequence(db->group_batch, seq);
                struct slice rep = batch_rep(db->group_batch);
                uint32_t count = batch_count_rep(rep);
                struct memtable *mem = db->mem;
                struct wal_writer *wal = db->wal;
                pthread_mutex_unlock(&db->mu);
                rc = wal_add_record(wal, rep.p, rep.n);
                if (!rc) {
                    atomic_fetch_add(&db->st.wal_bytes, rep.n);
                    rc = memtable_apply_batch(mem, rep);
                }
                pthread_mutex_lock(&db->mu);
                if (rc) {
                    /* The WAL's tail is unknown now: it must be replaced
                     * before anything else is written. */
                    db_job_failed_locked(db, DB_SOFT_WAL, rc, "appending to the WAL");
                } else {
                    db->wal_appended = wal_file_size(wal);
                    if (count) atomic_store(&db->last_seq, seq + count - 1);
                }
            }
        }
        /* Wake the group and hand leadership on. */
        for (;;) {
            struct db_writer *x = db->wq_head;
            db->wq_head = x->next;
            if (!db->wq_head) db->wq_tail = NULL;
            x->status = rc;
            x->wal_number = db->wal_number;
            x->wal_offset = db->wal_appended;
            if (!rc)
                atomic_fetch_add(&db->st.user_bytes,
                                 x->op ? batch_op_user_bytes(x->op->type, x->op->kn, x->op->vn)
                                       : batch_user_bytes(x->batch));
            if (x != &w) {
                x->done = 1;
                pthread_cond_signal(&x->cv);
            }
            if (x == last) break;
        }
        if (db->wq_head) pthread_cond_signal(&db->wq_head->cv);
    }
    int rc = w.status;
    if (!rc && w.sync) rc = wait_durable_locked(db, &w.durable, w.wal_number, w.wal_offset);
    if (sync) db->sync_active--;
    pthread_mutex_unlock(&db->mu);
    pthread_cond_destroy(&w.cv);
    return rc;
}

int lsmer_write(lsmer_db *db, const lsmer_batch *b, unsigned flags)
{
    if (!db || !b || (flags & ~LSMER_SYNC)) return -EINVAL;
    if (flags & LSMER_SYNC) atomic_fetch_add(&db->st.sync_requests, 1);
    if (lsmer_batch_count(b) == 0 && !(flags & LSMER_SYNC)) return 0;
    return db_write_impl(db, b, NULL, (flags & LSMER_SYNC) != 0);
}

int lsmer_sync(lsmer_db *db)
{
    if (!db) return -EINVAL;
    if (db->opt.read_only) return 0;
    atomic_fetch_add(&db->st.sync_requests, 1);
    return db_write_impl(db, NULL, NULL, 1);
}

/* A single operation goes to the write queue as it is: no batch of its own
 * (a malloc, a copy of the value and a parse of it when the leader merges
 * it); the leader copies it straight into the group's batch. */
static int write_one(lsmer_db *db, int type, const void *k, size_t kn, const void *v, size_t vn)
{
    if (!db) return -EINVAL;
    int rc = batch_op_check(type, k, kn, v, vn);
    if (rc) return rc;
    struct db_write_op op = {type, k, v, kn, vn};
    return db_write_impl(db, NULL, &op, 0);
}

int lsmer_put(lsmer_db *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    return write_one(db, TYPE_VALUE, key, klen, val, vlen);
}

int lsmer_delete(lsmer_db *db, const void *key, size_t klen)
{
    return write_one(db, TYPE_DELETE, key, klen, NULL, 0);
}

int lsmer_delete_range(lsmer_db *db, const void *start, size_t slen, const void *end, size_t elen)
{
    return write_one(db, TYPE_RANGE_DELETE, start, slen, end, elen);
}

int lsmer_flush(lsmer_db *db)
{
    if (!db) return -EINVAL;
    if (db->opt.read_only) return -EROFS;
    /* Become the write leader's equivalent: take a place in the queue so no
     * write is half-applied to the memtable we switch out. */
    struct db_writer w;
    memset(&w, 0, sizeof(w));
    pthread_cond_init(&w.cv, NULL);
    pthread_mutex_lock(&db->mu);
    if (db->wq_tail)
        db->wq_tail->next = &w;
    else
        db->wq_head = &w;
    db->wq_tail = &w;
    while (db->wq_head != &w) pthread_cond_wait(&w.cv, &db->mu);
    int rc = make_room_locked(db, 1);
    db->wq_head = w.next;
    if (!db->wq_head) db->wq_tail = NULL;
    if (db->wq_head) pthread_cond_signal(&db->wq_head->cv);
    /* Wait until every immutable memtable is flushed. */
    while (!rc && db->n_imm > 0) {
        if (db->bg_error) {
            rc = db->bg_error;
            break;
        }
        pthread_cond_broadcast(&db->work_cv);
        pthread_cond_wait(&db->bg_cv, &db->mu);
    }
    pthread_mutex_unlock(&db->mu);
    pthread_cond_destroy(&w.cv);
    return rc;
}
