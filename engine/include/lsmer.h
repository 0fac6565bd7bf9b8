/*
 * lsmer.h — the public interface of liblsmer, an embedded LSM-tree key-value
 * store. This header is the whole contract; everything under engine/src is
 * private.
 *
 * Model. A database is a directory. Keys and values are arbitrary byte
 * strings (keys up to LSMER_MAX_KEY bytes, values up to LSMER_MAX_VALUE),
 * ordered by memcmp with the shorter key first on a tie. Every write gets a
 * sequence number; a snapshot is a sequence number that readers can pin while
 * writers go on.
 *
 * Durability. A write returns after its batch is appended to the write-ahead
 * log with write(2): it survives a crash of the process. It survives a crash
 * of the machine once the log is synced: by LSMER_SYNC on the write, by
 * lsmer_sync(), or by a later sync write. Concurrent sync writers share one
 * fdatasync (group commit). After any crash the database reopens to exactly a
 * prefix of the acknowledged writes that includes every synced one; a batch
 * is applied whole or not at all.
 *
 * Errors. Every fallible call returns 0 or a negative errno: -ENOENT (key not
 * found), -EINVAL (bad argument), -ENOMEM, -EIO, -ENOSPC, -EBUSY (directory
 * locked by another process), -EEXIST, -ENOTDIR, -EPROTO (a newer on-disk
 * format), or -LSMER_ECORRUPT when a checksum or a structure does not verify.
 * Corruption is never returned as data. A background job (flush,
 * compaction) that meets corruption sets a sticky error that later writes
 * return until reopen; reads go on. -ENOSPC and -EIO from the disk are not
 * sticky: writes fail with them while the job retries with backoff, and
 * resume by themselves once the disk works again.
 *
 * Threads. Every function may be called from any thread at any time, except
 * that one lsmer_iter must not be used by two threads at once, and nothing
 * may be used after lsmer_close().
 */
#ifndef LSMER_H
#define LSMER_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LSMER_VERSION_MAJOR 0
#define LSMER_VERSION_MINOR 1
#define LSMER_VERSION_PATCH 0
#define LSMER_VERSION_STRING "0.1.0"

/* Returned (negated) when stored data fails a checksum or does not parse.
 * EUCLEAN ("structure needs cleaning") is what Linux filesystems use. */
#define LSMER_ECORRUPT EUCLEAN

#define LSMER_MAX_KEY (64u * 1024u)
#define LSMER_MAX_VALUE (256u * 1024u * 1024u)
#define LSMER_MAX_LEVELS 7

typedef struct lsmer_db lsmer_db;
typedef struct lsmer_batch lsmer_batch;
typedef struct lsmer_iter lsmer_iter;
typedef struct lsmer_snapshot lsmer_snapshot;
struct lsmer_env; /* private IO layer; NULL means the POSIX one */

enum lsmer_log_level {
    LSMER_LOG_ERROR = 0,
    LSMER_LOG_WARN = 1,
    LSMER_LOG_INFO = 2,
    LSMER_LOG_DEBUG = 3,
};
typedef void (*lsmer_log_fn)(void *arg, int level, const char *msg);

typedef struct lsmer_options {
    int create_if_missing; /* default 1 */
    int error_if_exists;   /* default 0 */
    int read_only;         /* default 0: open without writing anything */

    size_t memtable_size;   /* bytes of writes buffered before a flush; 32 MiB */
    size_t block_size;      /* uncompressed data block target; 4 KiB */
    int zstd_level;         /* 0 = no compression; default 1 */
    int bloom_bits_per_key; /* default 10; 0 = no filter */
    /* Per-level override; a negative entry means "use bloom_bits_per_key".
     * Lets the largest level spend fewer bits than the small ones. */
    int bloom_bits_per_level[LSMER_MAX_LEVELS];
    size_t block_cache_size; /* bytes of decompressed blocks; 32 MiB */

    /* Leveled compaction. Level 1 holds level1_size bytes, each further
     * level level_multiplier times more. A level is compacted when it
     * reaches compaction_threshold of its capacity (L0: of
     * l0_compaction_trigger files). */
    double compaction_threshold; /* default 1.0; in (0, 16] */
    uint64_t level1_size;        /* default 64 MiB */
    int level_multiplier;        /* default 10 */
    size_t target_file_size;     /* default 16 MiB */
    int l0_compaction_trigger;   /* default 4 files */
    int l0_slowdown_trigger;     /* default 12: writes are delayed smoothly */
    int l0_stop_trigger;         /* default 20: writes wait for compaction */

    size_t manifest_max_size; /* roll the manifest past this; 4 MiB */
    int max_open_files;       /* table readers kept open; default 1000 */
    int paranoid_checks;      /* verify every block read (default 1) */

    lsmer_log_fn log; /* NULL = stderr, at log_level and above */
    void *log_arg;
    int log_level;         /* default LSMER_LOG_INFO */
    struct lsmer_env *env; /* NULL = POSIX */

    /* Table partitioning (default NULL: none). Called, on the flush and
     * compaction threads, with two consecutive user keys prev < key of the
     * data being written (in a compaction prev may be a key that is being
     * dropped); non-zero ends the current table before key (a flush then
     * writes several level-0 tables). Never called inside one user key. Kinds of keys written in
     * different patterns then live in different tables: a filesystem's file data, written in key
     * order, no longer shares tables with the metadata it updates all over the key space, so its
     * tables do not overlap one another and move down the levels without being rewritten. Must be a
     * pure function of the two keys, cheap, and true only rarely. With it,
     * level 0's triggers count the tables a key can be in (overlap depth)
     * rather than files, but at least a third of the files: a partition
     * that cuts a flush into more than 3 tables makes writes slow down and
     * stop after fewer flushes. */
    int (*table_partition)(void *arg, const void *prev, size_t prev_len, const void *key,
                           size_t key_len);
    void *table_partition_arg;
} lsmer_options;

/* Fills *opt with the defaults above. Always call this first. */
void lsmer_options_init(lsmer_options *opt);

/* A growable output buffer. Zero-initialise it; the library reallocs data as
 * needed; free it with lsmer_buf_free(). */
typedef struct lsmer_buf {
    void *data;
    size_t size;
    size_t cap;
} lsmer_buf;
void lsmer_buf_free(lsmer_buf *b);

/* ---- open and close ---------------------------------------------------- */

/* Opens (or creates) the database in dir. Takes a lock on dir/LOCK so that a
 * second process gets -EBUSY. A non-empty directory that holds no database
 * gives -EINVAL, a database of a newer format -EPROTO, both with a log line
 * naming what was found. opt may be NULL for defaults. */
int lsmer_open(const char *dir, const lsmer_options *opt, lsmer_db **out);

/* Waits for background work to reach a safe point, syncs the WAL, releases
 * the lock and frees everything. Outstanding iterators and snapshots must be
 * released first. */
void lsmer_close(lsmer_db *db);

/* ---- writes ----------------------------------------------------------- */

#define LSMER_SYNC 1u /* make the write durable (fdatasync) before return */

int lsmer_put(lsmer_db *db, const void *key, size_t klen, const void *val, size_t vlen);
int lsmer_delete(lsmer_db *db, const void *key, size_t klen);
/* Deletes every key k with start <= k < end. */
int lsmer_delete_range(lsmer_db *db, const void *start, size_t slen, const void *end, size_t elen);

lsmer_batch *lsmer_batch_new(void); /* NULL on out-of-memory */
void lsmer_batch_free(lsmer_batch *b);
void lsmer_batch_clear(lsmer_batch *b);
int lsmer_batch_put(lsmer_batch *b, const void *key, size_t klen, const void *val, size_t vlen);
int lsmer_batch_delete(lsmer_batch *b, const void *key, size_t klen);
int lsmer_batch_delete_range(lsmer_batch *b, const void *start, size_t slen, const void *end,
                             size_t elen);
size_t lsmer_batch_count(const lsmer_batch *b);
size_t lsmer_batch_bytes(const lsmer_batch *b);

/* Applies b atomically. Operations inside a batch apply in order (a put
 * after a range delete in the same batch survives it). flags: LSMER_SYNC. */
int lsmer_write(lsmer_db *db, const lsmer_batch *b, unsigned flags);

/* Forces everything written so far to stable storage. */
int lsmer_sync(lsmer_db *db);

/* ---- reads ------------------------------------------------------------ */

/* Looks key up as of snap (NULL = latest). 0 and the value in *out, or
 * -ENOENT. */
int lsmer_get(lsmer_db *db, const lsmer_snapshot *snap, const void *key, size_t klen,
              lsmer_buf *out);

const lsmer_snapshot *lsmer_snapshot_new(lsmer_db *db); /* NULL on ENOMEM */
void lsmer_snapshot_release(lsmer_db *db, const lsmer_snapshot *snap);
uint64_t lsmer_snapshot_sequence(const lsmer_snapshot *snap);

/* Half-open key range [start, end); a NULL bound is unbounded. */
typedef struct lsmer_range {
    const void *start;
    size_t start_len;
    const void *end;
    size_t end_len;
} lsmer_range;

/* An iterator over the keys in r (NULL = all) as of snap (NULL = a snapshot
 * taken now, held until the iterator is closed). Starts unpositioned. */
int lsmer_iter_open(lsmer_db *db, const lsmer_snapshot *snap, const lsmer_range *r,
                    lsmer_iter **out);
void lsmer_iter_close(lsmer_iter *it);
void lsmer_iter_seek_first(lsmer_iter *it);
void lsmer_iter_seek_last(lsmer_iter *it);
void lsmer_iter_seek(lsmer_iter *it, const void *key, size_t klen);          /* first >= key */
void lsmer_iter_seek_for_prev(lsmer_iter *it, const void *key, size_t klen); /* last <= key */
int lsmer_iter_valid(const lsmer_iter *it);
void lsmer_iter_next(lsmer_iter *it);
void lsmer_iter_prev(lsmer_iter *it);
/* Valid until the iterator moves. */
const void *lsmer_iter_key(const lsmer_iter *it, size_t *klen);
/* 0, or an error if the value could not be read (it may live out of line). */
int lsmer_iter_value(lsmer_iter *it, const void **val, size_t *vlen);
/* 0 if the iterator stopped because the range ended; an error otherwise. */
int lsmer_iter_status(const lsmer_iter *it);

/* ---- maintenance ------------------------------------------------------ */

/* Changes the compaction threshold (fraction of a level's capacity at which
 * it is compacted) while the database runs. -EINVAL outside (0, 16]. */
int lsmer_set_compaction_threshold(lsmer_db *db, double fraction);

/* Flushes the memtable to a table and waits for it. */
int lsmer_flush(lsmer_db *db);

/* Compacts every level holding keys in r (NULL = everything) down to the
 * bottom, dropping deleted and overwritten data no snapshot needs. Waits. */
int lsmer_compact_range(lsmer_db *db, const lsmer_range *r);

/* Gives back the space of data deleted in r (NULL = everything) with the
 * least work: flushes the memtable, then drops every table whose whole key
 * range is deleted (no IO) and rewrites in place, one at a time, each table
 * that a range deletion may partly delete. Needs free space for one table,
 * not for a level: meant for a nearly full disk, after large deletions
 * (lsmerfs calls it when free space runs short). Unlike
 * lsmer_compact_range it leaves levels as they are. Waits. */
int lsmer_reclaim_range(lsmer_db *db, const lsmer_range *r);

/* Waits until no flush or compaction is pending. */
int lsmer_wait_idle(lsmer_db *db);

/* ---- statistics ------------------------------------------------------- */

typedef struct lsmer_level_stats {
    uint64_t files;
    uint64_t bytes;
    double score; /* size / capacity; compaction wants >= threshold */
} lsmer_level_stats;

typedef struct lsmer_stats {
    uint64_t user_bytes_written; /* keys + values handed to writes */
    uint64_t wal_bytes_written;
    uint64_t flush_bytes_written;
    uint64_t compaction_bytes_read;
    uint64_t compaction_bytes_written;
    uint64_t wal_syncs;     /* fdatasync calls on the WAL */
    uint64_t sync_requests; /* sync writes + lsmer_sync calls */
    uint64_t flushes;
    uint64_t compactions;
    uint64_t stall_micros; /* time writers spent delayed or stopped */
    uint64_t slowdowns;    /* writes delayed */
    uint64_t stops;        /* writes that waited for compaction */
    uint64_t cache_hits;
    uint64_t cache_misses;
    uint64_t cache_bytes;
    uint64_t cache_capacity;
    uint64_t bloom_checks;          /* point lookups that consulted a filter */
    uint64_t bloom_useful;          /* ...and the filter said "absent" */
    uint64_t bloom_false_positives; /* filter said "maybe", key was absent */
    uint64_t memtable_bytes;
    uint64_t immutable_memtables;
    uint64_t wal_file_bytes; /* size of the live WAL */
    uint64_t table_bytes;    /* all live tables */
    uint64_t live_snapshots;
    uint64_t last_sequence;
    uint64_t pending_compaction_bytes;
    uint64_t recovery_micros; /* how long the last open took */
    int background_error;     /* sticky error, 0 if none */
    int levels;
    lsmer_level_stats level[LSMER_MAX_LEVELS];
} lsmer_stats;

int lsmer_get_stats(lsmer_db *db, lsmer_stats *out);

/* A short English description of an error code returned by this library. */
const char *lsmer_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* LSMER_H */
