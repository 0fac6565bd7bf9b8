/*
 * version.h — versions (immutable snapshots of the live tables per level)
 * and the version set (the current version, the manifest that records how it
 * came to be, and the database-wide counters: next file number, last
 * sequence, log number).
 *
 * Levels. L0 holds flushed memtables; its files may overlap and are kept
 * newest first (largest_seq descending, then number descending), the order
 * a point lookup must consult them in. L1 and deeper hold files sorted by
 * smallest key whose internal-key ranges do not overlap (file i's largest <
 * file i+1's smallest); every apply and every recovery checks this.
 *
 * Versions. Reference counted (atomic): version_set_current() hands out the
 * current version without a reference; callers pin it with version_ref()
 * under the db mutex and drop it with version_unref() from any thread. A
 * version's file arrays never change. The version set keeps a list of every
 * live version (guarded by its own internal mutex) for
 * version_set_live_files().
 *
 * The manifest (MANIFEST-%06llu, named by CURRENT) is a sequence of records
 * framed by the WAL format (wal.h), each one encoded version_edit. A new
 * manifest starts with a snapshot edit of the whole state. A fresh one is
 * begun on the first apply after recovery, after a failed write, and when
 * the current one exceeds manifest_max_size; CURRENT is switched with
 * env_write_file_atomic and the old manifest removed. See
 * docs/format-manifest.md.
 *
 * Thread safety. Everything except version_ref/version_unref and the
 * version_* read-only queries on a pinned version must be called with the
 * db mutex held. version_set_log_and_apply drops that mutex during its IO
 * and serialises itself (a second caller waits).
 *
 * After version_set_log_and_apply fails, whether the edit reached the disk
 * is unknown: keep every file the edit added (do not sweep obsolete files)
 * until a later apply succeeds; that apply writes a fresh manifest holding
 * exactly the current version.
 */
#ifndef LSMER_VERSION_H
#define LSMER_VERSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "lsmer.h"

#include "coding.h"
#include "env.h"
#include "filemeta.h"
#include "version_edit.h"

struct version_set;

struct version {
    struct version_set *vs;
    atomic_int refs;
    struct version *prev, *next; /* vs's list of live versions (its list mutex) */
    int num_levels;
    struct file_meta **files[LSMER_MAX_LEVELS]; /* one reference on each */
    size_t nfiles[LSMER_MAX_LEVELS];
    uint64_t level_bytes[LSMER_MAX_LEVELS];
    double score[LSMER_MAX_LEVELS]; /* L0: l0_runs / trigger; Ln: bytes / capacity */
    /* What level 0's triggers count: its files, or with l0_by_depth the
     * most files one key can be in, but at least a third of the files. */
    int l0_runs;
};

struct vs_options {
    int num_levels;             /* 2..LSMER_MAX_LEVELS; 0 = LSMER_MAX_LEVELS */
    uint64_t level1_size;       /* capacity of L1 in bytes */
    int level_multiplier;       /* capacity of L(n+1) / capacity of L(n) */
    int l0_compaction_trigger;  /* L0 runs (see struct version) that make score 1.0 */
    int l0_by_depth;            /* count L0 runs by overlap depth (tables are partitioned) */
    uint64_t target_file_size;  /* compaction output file size */
    uint64_t manifest_max_size; /* start a new manifest past this */
    int create_if_missing;      /* recover() may create a new database */
    lsmer_log_fn log;           /* NULL = silent */
    void *log_arg;
};

/* ---- versions -------------------------------------------------------- */

void version_ref(struct version *v);
/* Drops a reference; at zero frees v and drops its file references. */
void version_unref(struct version *v);

static inline size_t version_num_files(const struct version *v, int level)
{
    return v->nfiles[level];
}
static inline uint64_t version_level_bytes(const struct version *v, int level)
{
    return v->level_bytes[level];
}
double version_level_score(const struct version *v, int level);
/* Level 0's run count (struct version). */
static inline int version_l0_runs(const struct version *v)
{
    return v->l0_runs;
}
/* Bytes a full compaction round would have to move: for each level the
 * bytes above its capacity (L0: all of it once it reaches the trigger). */
uint64_t version_pending_compaction_bytes(const struct version *v);

/* 1 if some file of level has a user-key range meeting [smallest, largest]
 * (inclusive; a bound with .p == NULL is unbounded). */
int version_overlap_in_level(const struct version *v, int level, struct slice smallest_ukey,
                             struct slice largest_ukey);

/* Appends to out (borrowed pointers, no references) the files of level
 * whose user-key range meets [begin, end] (.p == NULL = unbounded). For L0
 * the range grows to cover every file found, transitively, so no L0 file
 * left out overlaps the result. 0 or -ENOMEM. */
int version_files_overlapping(const struct version *v, int level, struct slice begin_ukey,
                              struct slice end_ukey, struct file_array *out);

/* Level >= 1: index of the first file whose largest internal key >= ikey
 * (the only file that may hold it), or nfiles if none. */
size_t version_find_file(const struct version *v, int level, struct slice ikey);

/* ---- the version set ------------------------------------------------- */

/* dir and opt are copied. Does no IO. 0, -EINVAL, -ENOMEM. */
int version_set_new(struct lsmer_env *env, const char *dir, const struct vs_options *opt,
                    struct version_set **out);
/* Frees the set. Every version other than the current one must have been
 * released. */
void version_set_free(struct version_set *vs);

/* Loads the state named by CURRENT. With no CURRENT: a directory holding
 * no table or log creates a new database (*created_new = 1) if
 * create_if_missing, else -ENOENT; a directory holding a file that is no
 * database file is -EINVAL; tables or logs without CURRENT are
 * -LSMER_ECORRUPT. A CURRENT naming a missing or unreadable manifest,
 * corruption before the manifest's last record, or a state that breaks the
 * level invariants are -LSMER_ECORRUPT (logged with the file's name); a
 * torn last record is ignored. A newer format is -EPROTO. Writes nothing
 * unless it creates a database. */
int version_set_recover(struct version_set *vs, int *created_new);

/* Writes MANIFEST-000001 holding an empty database, syncs it, then points
 * CURRENT at it atomically. recover() calls it for a new database, so
 * callers need not; it is a no-op once the set has a manifest. */
int version_set_create(struct version_set *vs);

/* Applies e to the current version and makes the result current, durably.
 * Call with *mu (the db mutex) held; it is released during IO. Fills in e's
 * next file number and last sequence (and log number, if unset). e's
 * deletions must name files in the stated levels and additions must keep
 * L1+ sorted and non-overlapping, else -EINVAL and nothing changes. On an
 * IO error returns it and leaves the current version unchanged. */
int version_set_log_and_apply(struct version_set *vs, struct version_edit *e, pthread_mutex_t *mu);

struct version *version_set_current(struct version_set *vs);
uint64_t version_set_new_file_number(struct version_set *vs);
/* Makes sure later numbers are above n. */
void version_set_mark_file_number_used(struct version_set *vs, uint64_t n);
uint64_t version_set_next_file_number(const struct version_set *vs);
uint64_t version_set_last_sequence(const struct version_set *vs);
void version_set_set_last_sequence(struct version_set *vs, uint64_t seq);
/* WALs numbered below this are no longer needed. */
uint64_t version_set_log_number(const struct version_set *vs);
/* The manifest CURRENT names (0 before recover/create). The obsolete-file
 * sweep must keep every manifest numbered >= this: a newer one may be
 * being written by an apply that dropped the mutex. */
uint64_t version_set_manifest_number(const struct version_set *vs);
int version_set_num_levels(const struct version_set *vs);
const struct vs_options *version_set_options(const struct version_set *vs);
/* Capacity in bytes of level (>= 1). */
uint64_t version_set_level_capacity(const struct version_set *vs, int level);

/* Every table number referenced by any live version, sorted ascending,
 * without duplicates, in a malloc'd array (NULL when *count is 0).
 * 0 or -ENOMEM. */
int version_set_live_files(struct version_set *vs, uint64_t **numbers, size_t *count);

/* The compaction pointer of level (an internal key; empty = start). Used by
 * compaction_pick so compactions of a level rotate through its keys. */
struct slice version_set_compact_pointer(const struct version_set *vs, int level);
int version_set_set_compact_pointer(struct version_set *vs, int level, struct slice ikey);

#endif /* LSMER_VERSION_H */
