/*
 * db_impl.h — the database object behind lsmer.h, shared by the files that
 * implement it: db_open.c (open, recovery, close), db_write.c (write path,
 * group commit, write stalls, memtable switch), db_read.c (get, snapshots,
 * iterators), db_flush.c and db_compact.c (background jobs), db_files.c
 * (obsolete file sweep), db_stats.c.
 *
 * Locking. db->mu protects every field marked "mu". Readers (get,
 * iterators) take mu only to pin the current memtables and version (refs),
 * then read without it. Only the write leader (the writer at the head of
 * the queue) appends to the WAL and inserts into the memtable, and it does
 * so with mu released; a new leader cannot start until it has finished.
 * Background threads: one flushes immutable memtables, one compacts; both
 * release mu around their IO. Lock order: db->mu, then anything inside the
 * version set, memtable or caches (those never call back into the db).
 *
 * Sequence numbers. last_seq is the newest sequence visible to readers; it
 * is published (atomic store) only after the whole write group is in the
 * memtable, so a reader never sees half a batch.
 */
#ifndef LSMER_DB_IMPL_H
#define LSMER_DB_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "lsmer.h"

#include "block_cache.h"
#include "buffer.h"
#include "env.h"
#include "memtable.h"
#include "table_builder.h"
#include "table_cache.h"
#include "version.h"
#include "wal.h"

#define DB_MAX_IMM 4 /* immutable memtables waiting for flush */

struct lsmer_snapshot {
    uint64_t seq;
    struct lsmer_snapshot *prev, *next; /* mu: list sorted by seq */
};

/* One put, delete or range delete that came without a batch (lsmer_put,
 * lsmer_delete, lsmer_delete_range): its bytes are copied once, into the
 * leader's group batch, instead of first into a batch of its own. */
struct db_write_op {
    int type; /* TYPE_VALUE, TYPE_DELETE, TYPE_RANGE_DELETE */
    const void *k, *v;
    size_t kn, vn;
};

/* A writer waiting in wait_durable for its WAL bytes to become durable. */
struct sync_waiter {
    uint64_t wal_number, offset;
    struct sync_waiter *next, **pprev;
};

struct db_writer {
    const lsmer_batch *batch;     /* NULL for a bare sync request or an op */
    const struct db_write_op *op; /* or this one operation */
    int sync;
    int done;
    int status;
    uint64_t wal_number, wal_offset; /* where the writer's group ended */
    pthread_cond_t cv;
    struct db_writer *next;
    struct sync_waiter durable; /* while it waits for its bytes to be synced */
};

struct imm_entry {
    struct memtable *mem;
    uint64_t log_number; /* the WAL holding its writes */
};

struct db_stats_counters {
    _Atomic uint64_t user_bytes, wal_bytes, flush_bytes, compact_read, compact_written;
    _Atomic uint64_t wal_syncs, sync_requests, flushes, compactions;
    _Atomic uint64_t stall_micros, slowdowns, stops;
};

struct lsmer_db {
    char *dir;
    lsmer_options opt;
    struct lsmer_env *env;
    struct env_lock *lock;
    struct table_options topt; /* base table options (bloom bits per level set at build) */
    struct block_cache *bcache;
    struct table_cache *tcache;
    struct version_set *vs;

    pthread_mutex_t mu;
    pthread_cond_t bg_cv;   /* mu: background work state changed */
    pthread_cond_t work_cv; /* mu: background threads wait here for work */

    struct memtable *mem;             /* mu (pointer); leader inserts */
    uint64_t wal_number;              /* mu */
    struct wal_writer *wal;           /* leader or mu */
    uint64_t wal_appended;            /* mu: bytes in the WAL after the last group */
    uint64_t wal_synced;              /* mu: of which durable */
    int sync_running;                 /* mu: a writer syncs the WAL with mu released */
    int sync_active;                  /* mu: sync writers inside lsmer_write */
    struct sync_waiter *sync_waiters; /* mu: writers waiting for durability */
    int sync_peak;                    /* mu: recent peak of sync_active */
    uint64_t sync_count;              /* mu: WAL syncs done by writers */
    uint64_t sync_deadline;           /* mu: when the next sync starts at the latest */
    uint64_t sync_avg_micros;         /* mu: recent WAL sync time (moving average) */
    pthread_cond_t sync_cv;           /* mu: sync_running went to 0 or the WAL changed */
    struct imm_entry imm[DB_MAX_IMM]; /* mu: oldest first */
    int n_imm;                        /* mu */
    _Atomic uint64_t last_seq;

    struct db_writer *wq_head, *wq_tail; /* mu: write queue */
    lsmer_batch *group_batch;            /* leader only: merged group */

    struct lsmer_snapshot snapshots; /* mu: sentinel of a circular list */
    uint64_t n_snapshots;            /* mu */

    uint64_t *pending_outputs; /* mu: table numbers being written */
    size_t n_pending, cap_pending;

    /* mu: the error writes return. Corruption and other hard errors stick
     * until reopen. Running out of space (ENOSPC) and a disk error (EIO) are
     * soft: soft_causes has a bit per job that failed so (DB_SOFT_*); each
     * job retries after retry_at and clears its bit when it succeeds, and
     * bg_error goes back to 0 when no bit is left. */
    int bg_error;
    int bg_error_hard;
    unsigned soft_causes;
    /* mu: the WAL failed with EIO. After a failed fsync the kernel may have
     * dropped the log's unsynced pages, so the log cannot be trusted (nor
     * synced again to make earlier writes durable): the memtable it backs is
     * switched out and flushed to a table, and writes resume only once every
     * memtable whose log is at or below wal_abandoned is flushed. */
    int wal_error;
    uint64_t wal_abandoned;
    uint64_t retry_at, retry_backoff; /* micros */
    int apply_failed;                 /* mu: a manifest write failed; don't sweep */
    _Atomic int shutting_down;
    int flush_running;      /* mu */
    int compact_running;    /* mu */
    int manual_compactions; /* mu: lsmer_compact_range callers waiting */
    _Atomic double compaction_threshold;
    pthread_t flush_thread, compact_thread;
    int threads_started;
    uint64_t recovery_micros;

    struct db_stats_counters st;
    struct table_bloom_counters bloom;
};

/* db_open.c */
void db_log(struct lsmer_db *db, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* dir/name into a malloc'd string; NULL on ENOMEM. */
char *db_path(const struct lsmer_db *db, const char *name);
char *db_file_path(const struct lsmer_db *db, uint64_t number, const char *suffix);

/* db_write.c */
/* A new memtable whose key filter is 1/DB_MEM_FILTER_SHARE of the memtable
 * budget; NULL on ENOMEM. */
struct memtable *db_memtable_new(const struct lsmer_db *db);
/* mu held: start a new WAL file; sync_old: make the old one durable first
 * (always, except when it is abandoned after EIO, see wal_abandoned). */
int db_new_wal_locked(struct lsmer_db *db, int sync_old);
/* mu held: a memtable was flushed; lifts the WAL's soft error once every
 * memtable of an abandoned log is in a table. */
void db_wal_recovered_check_locked(struct lsmer_db *db);
enum { DB_SOFT_WAL = 1, DB_SOFT_FLUSH = 2, DB_SOFT_COMPACT = 4 };
/* mu held: records that job `cause` failed with err (soft when -ENOSPC or
 * -EIO: the disk may come back). */
void db_job_failed_locked(struct lsmer_db *db, unsigned cause, int err, const char *what);
/* mu held: job `cause` succeeded; clears its soft error. */
void db_job_succeeded_locked(struct lsmer_db *db, unsigned cause);
/* mu held: 1 if a job held back by a soft error may try again now. */
int db_may_retry_locked(struct lsmer_db *db, unsigned cause);
/* mu held: waits on cv until woken or until the monotonic time deadline. */
void db_timed_wait_locked(struct lsmer_db *db, pthread_cond_t *cv, uint64_t deadline_micros);
/* mu held: log and apply a version edit (released during the IO). */
int db_apply_locked(struct lsmer_db *db, struct version_edit *e);
void db_set_bg_error_locked(struct lsmer_db *db, int err, const char *what);

/* db_flush.c / db_compact.c: thread bodies and helpers, mu not held on entry */
void *db_flush_main(void *arg);
void *db_compact_main(void *arg);
/* One table being written by a flush or a compaction. Its number is in
 * the pending outputs from db_table_open on, so the obsolete-file sweep
 * leaves the file alone; a table that fails or comes out empty gives its
 * number back itself, a finished one keeps it until the caller has put it
 * in the version (or given up) and calls db_remove_pending_locked. */
struct table_out {
    uint64_t number;
    struct env_file *f;
    struct table_builder *tb;
};
/* mu not held. A new numbered table file for level; on error nothing is
 * left (no file, no pending number). */
int db_table_open(struct lsmer_db *db, int level, struct table_out *o);
/* Adds the range tombstones of rdels (may be NULL) in the user-key span
 * [lo, hi) (.p NULL: unbounded), finishes and syncs the table and returns
 * its meta (one reference), or NULL in *meta if it came out empty. An
 * empty or failed table's file and number go. */
int db_table_finish(struct lsmer_db *db, struct table_out *o, const struct rdel_set *rdels,
                    struct slice lo, struct slice hi, struct file_meta **meta);
/* After an error: the unfinished table's file and number go, unwritten. */
void db_table_abandon(struct lsmer_db *db, struct table_out *o);

/* The tables one flush wrote (metas, one reference each; their numbers
 * pending until released). */
struct table_set {
    struct file_meta **metas;
    size_t n, cap;
};
/* Writes the entries of it (internal keys; may be NULL) and the tombstones
 * in rdels (may be NULL) as new tables of level: one, or with the
 * table_partition option one per partition, each table's tombstones
 * clipped to its share of the key space. All or nothing: on error no table
 * is left. */
int db_build_tables(struct lsmer_db *db, int level, struct iter *it, const struct rdel_set *rdels,
                    struct table_set *out);
/* mu held: drops the set's numbers from the pending outputs (after its
 * tables are in the version, or abandoned) and frees it. */
void db_table_set_release_locked(struct lsmer_db *db, struct table_set *ts);
int db_flush_imm_locked(struct lsmer_db *db); /* mu held */
/* A file_meta (one reference) describing the finished table in tb. */
struct file_meta *db_meta_from_builder(uint64_t number, struct table_builder *tb);

/* db_compact.c: mu held on entry and exit (dropped while writing). Runs c
 * and installs the result; external (may be NULL) adds tombstones of other
 * files to those deciding what is dropped. allow_move: a single input with
 * nothing to merge may move down without being rewritten. */
struct compaction;
struct rdel_set;
int db_run_compaction_locked(struct lsmer_db *db, struct compaction *c, int allow_move,
                             const struct rdel_set *external);

/* db_files.c */
void db_add_pending_locked(struct lsmer_db *db, uint64_t number);
void db_remove_pending_locked(struct lsmer_db *db, uint64_t number);
void db_delete_obsolete_locked(struct lsmer_db *db); /* mu held; drops it for IO */

/* db_read.c */
uint64_t db_oldest_snapshot_locked(struct lsmer_db *db);

static inline int db_bloom_bits(const struct lsmer_db *db, int level)
{
    if (level >= 0 && level < LSMER_MAX_LEVELS && db->opt.bloom_bits_per_level[level] >= 0)
        return db->opt.bloom_bits_per_level[level];
    return db->opt.bloom_bits_per_key;
}

#endif /* LSMER_DB_IMPL_H */
