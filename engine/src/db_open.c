/*
 * db_open.c — lsmer_open (lock, recover the version set, replay the WALs,
 * start the background threads), lsmer_close, options and logging.
 *
 * Recovery replays every WAL at or after the manifest's log number into a
 * memtable, writes what it recovered as a level-0 table, and starts a fresh
 * WAL, so that after open the manifest alone describes the old logs as
 * obsolete. A torn WAL tail (a crash mid-write) is dropped; a damaged record
 * followed by good ones is corruption and fails the open.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "db_impl.h"
#include "filename.h"

void lsmer_options_init(lsmer_options *o)
{
    memset(o, 0, sizeof(*o));
    o->create_if_missing = 1;
    o->memtable_size = 32u << 20;
    o->block_size = 4096;
    o->zstd_level = 1;
    o->bloom_bits_per_key = 10;
    for (int i = 0; i < LSMER_MAX_LEVELS; i++) o->bloom_bits_per_level[i] = -1;
    o->block_cache_size = 32u << 20;
    o->compaction_threshold = 1.0;
    o->level1_size = 64u << 20;
    o->level_multiplier = 10;
    o->target_file_size = 16u << 20;
    o->l0_compaction_trigger = 4;
    o->l0_slowdown_trigger = 12;
    o->l0_stop_trigger = 20;
    o->manifest_max_size = 4u << 20;
    o->max_open_files = 1000;
    o->paranoid_checks = 1;
    o->log_level = LSMER_LOG_INFO;
}

void lsmer_buf_free(lsmer_buf *b)
{
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->size = b->cap = 0;
}

const char *lsmer_strerror(int err)
{
    if (err < 0) err = -err;
    if (err == LSMER_ECORRUPT) return "stored data is corrupt (checksum or structure)";
    if (err == EPROTO) return "database written by a newer lsmer (unknown format version)";
    return strerror(err);
}

void db_log(struct lsmer_db *db, int level, const char *fmt, ...)
{
    if (level > db->opt.log_level) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (db->opt.log) {
        db->opt.log(db->opt.log_arg, level, msg);
    } else {
        static const char *names[] = {"error", "warning", "info", "debug"};
        fprintf(stderr, "lsmer %s: %s: %s\n",
                names[level < 0   ? 0
                      : level > 3 ? 3
                                  : level],
                db->dir, msg);
    }
}

char *db_path(const struct lsmer_db *db, const char *name)
{
    size_t n = strlen(db->dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", db->dir, name);
    return p;
}

char *db_file_path(const struct lsmer_db *db, uint64_t number, const char *suffix)
{
    char name[64];
    snprintf(name, sizeof(name), "%06" PRIu64 ".%s", number, suffix);
    return db_path(db, name);
}

/* Routes the version set's messages through db_log (stderr by default). */
static void db_vs_log(void *arg, int level, const char *msg)
{
    db_log(arg, level, "%s", msg);
}

static int validate_options(const lsmer_options *o)
{
    if (o->memtable_size < 4096 || o->block_size < 256 || o->block_size > (64u << 20))
        return -EINVAL;
    if (o->zstd_level < 0 || o->zstd_level > 22) return -EINVAL;
    if (o->bloom_bits_per_key < 0 || o->bloom_bits_per_key > 64) return -EINVAL;
    if (!(o->compaction_threshold > 0 && o->compaction_threshold <= 16)) return -EINVAL;
    if (o->level_multiplier < 2 || o->level1_size < 4096 || o->target_file_size < 4096)
        return -EINVAL;
    if (o->l0_compaction_trigger < 1 || o->l0_slowdown_trigger < o->l0_compaction_trigger ||
        o->l0_stop_trigger < o->l0_slowdown_trigger)
        return -EINVAL;
    return 0;
}

struct replay_state {
    struct lsmer_db *db;
    uint64_t max_seq;
};

/* Replays one WAL into db->mem, flushing to level 0 whenever the memtable
 * fills (so recovery memory stays within the memtable budget). */
/* Writes the recovered memtable into level-0 tables recorded in edit
 * (before the background threads start: nothing else looks at the pending
 * outputs, and the edit is applied before any sweep). */
static int recovery_flush(struct lsmer_db *db, struct version_edit *edit)
{
    struct iter *it = memtable_iter(db->mem);
    struct table_set ts = {0};
    int rc = it ? db_build_tables(db, 0, it, memtable_range_dels(db->mem), &ts) : -ENOMEM;
    iter_destroy(it);
    for (size_t i = 0; !rc && i < ts.n; i++) rc = version_edit_add_file(edit, 0, ts.metas[i]);
    pthread_mutex_lock(&db->mu);
    db_table_set_release_locked(db, &ts);
    pthread_mutex_unlock(&db->mu);
    return rc;
}

static int replay_wal(struct lsmer_db *db, uint64_t number, struct version_edit *edit)
{
    char *path = db_file_path(db, number, "log");
    if (!path) return -ENOMEM;
    struct wal_reader *r = NULL;
    struct buffer rec = BUFFER_INIT;
    int rc = wal_reader_open(db->env, path, number, &r);
    if (rc) {
        db_log(db, LSMER_LOG_ERROR, "cannot open WAL %s: %s", path, lsmer_strerror(rc));
        goto out;
    }
    uint64_t records = 0;
    for (;;) {
        rc = wal_read_record(r, &rec);
        if (rc == 0) break;
        if (rc < 0) {
            db_log(db, LSMER_LOG_ERROR,
                   "WAL %s is corrupt (%s): %s; the database cannot be "
                   "opened without losing data after that point",
                   path, wal_reader_error_detail(r), lsmer_strerror(rc));
            goto out;
        }
        struct slice rep = buffer_slice(&rec);
        if (rep.n < 12) {
            rc = -LSMER_ECORRUPT;
            db_log(db, LSMER_LOG_ERROR, "WAL %s: record too short for a batch", path);
            goto out;
        }
        rc = memtable_apply_batch(db->mem, rep);
        if (rc) {
            db_log(db, LSMER_LOG_ERROR, "WAL %s: bad batch at record %" PRIu64 ": %s", path,
                   records, lsmer_strerror(rc));
            goto out;
        }
        uint64_t last = batch_sequence(rep) + batch_count_rep(rep);
        if (batch_count_rep(rep) && last - 1 > atomic_load(&db->last_seq))
            atomic_store(&db->last_seq, last - 1);
        records++;
        /* A read-only open writes nothing: the memtable holds it all. */
        if (!db->opt.read_only && memtable_bytes(db->mem) >= db->opt.memtable_size) {
            rc = recovery_flush(db, edit);
            if (rc) goto out;
            memtable_unref(db->mem);
            db->mem = db_memtable_new(db);
            if (!db->mem) {
                rc = -ENOMEM;
                goto out;
            }
        }
    }
    if (wal_reader_tail_dropped(r))
        db_log(db, LSMER_LOG_WARN,
               "WAL %s: dropped a torn tail of %" PRIu64
               " bytes (writes not yet acknowledged as durable when the process stopped)",
               path, wal_reader_tail_dropped(r));
    rc = 0;
out:
    if (r) wal_reader_close(r);
    buffer_free(&rec);
    free(path);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every table the manifest names must be in the directory; a missing one
 * means the manifest or the directory is damaged (reads would otherwise
 * report its keys as absent). */
static int check_tables_present(struct lsmer_db *db, char **names, size_t n)
{
    struct version *v = version_set_current(db->vs);
    for (int level = 0; level < LSMER_MAX_LEVELS; level++) {
        for (size_t i = 0; i < v->nfiles[level]; i++) {
            char want[32];
            snprintf(want, sizeof(want), "%06" PRIu64 ".sst", v->files[level][i]->number);
            int found = 0;
            for (size_t j = 0; j < n && !found; j++) found = names[j] && !strcmp(names[j], want);
            if (!found) {
                db_log(db, LSMER_LOG_ERROR,
                       "the manifest names table %s (level %d) but it is missing from %s: the "
                       "database is damaged; run lsmer fsck",
                       want, level, db->dir);
                return -LSMER_ECORRUPT;
            }
        }
    }
    return 0;
}

static int recover(struct lsmer_db *db)
{
    struct version_edit edit_s, *edit = &edit_s;
    version_edit_init(edit);
    uint64_t *logs = NULL;
    size_t nlogs = 0;
    char **names = NULL;
    size_t n = 0;
    int rc, created = 0;

    rc = env_mkdir(db->env, db->dir);
    if (rc) {
        db_log(db, LSMER_LOG_ERROR, "cannot create directory %s: %s", db->dir, strerror(-rc));
        return rc;
    }
    char *lockpath = db_path(db, "LOCK");
    if (!lockpath) return -ENOMEM;
    rc = env_lock(db->env, lockpath, &db->lock);
    free(lockpath);
    if (rc) {
        if (rc == -EBUSY)
            db_log(db, LSMER_LOG_ERROR, "%s is in use by another process (LOCK is held)", db->dir);
        return rc;
    }
    rc = version_set_recover(db->vs, &created);
    if (rc) {
        if (rc == -ENOENT)
            db_log(db, LSMER_LOG_ERROR, "no database in %s (and create_if_missing is off)",
                   db->dir);
        return rc;
    }
    if (!created && db->opt.error_if_exists) {
        db_log(db, LSMER_LOG_ERROR, "a database already exists in %s", db->dir);
        return -EEXIST;
    }
    atomic_store(&db->last_seq, version_set_last_sequence(db->vs));

    /* WALs to replay: every log at or after the manifest's log number. */
    rc = env_list(db->env, db->dir, &names, &n);
    if (rc) goto out;
    logs = calloc(n ? n : 1, sizeof(*logs));
    if (!logs) {
        rc = -ENOMEM;
        goto out;
    }
    uint64_t min_log = version_set_log_number(db->vs);
    for (size_t i = 0; i < n; i++) {
        uint64_t num;
        enum file_kind kind;
        if (filename_parse(names[i], &num, &kind) == 0) {
            version_set_mark_file_number_used(db->vs, num);
            if (kind == FILE_KIND_LOG && num >= min_log) logs[nlogs++] = num;
        }
    }
    qsort(logs, nlogs, sizeof(*logs), cmp_u64);
    rc = check_tables_present(db, names, n);
    if (rc) goto out;
    if (min_log) {
        /* The manifest's log is created (and its directory entry synced)
         * before any edit names it, and removed only after a later edit
         * names a newer one: if it is gone, the manifest lost edits. */
        int found = 0;
        for (size_t i = 0; i < nlogs && !found; i++) found = logs[i] == min_log;
        if (!found) {
            db_log(db, LSMER_LOG_ERROR,
                   "the manifest's WAL %06" PRIu64 ".log is missing from %s: the manifest "
                   "is damaged or out of date; run lsmer fsck",
                   min_log, db->dir);
            rc = -LSMER_ECORRUPT;
            goto out;
        }
    }
    for (size_t i = 0; i < nlogs; i++) {
        rc = replay_wal(db, logs[i], edit);
        if (rc) goto out;
    }
    if (db->opt.read_only) goto out; /* the replayed memtable serves reads */

    if (!memtable_empty(db->mem)) {
        rc = recovery_flush(db, edit);
        if (rc) goto out;
        memtable_unref(db->mem);
        db->mem = db_memtable_new(db);
        if (!db->mem) {
            rc = -ENOMEM;
            goto out;
        }
    }
    pthread_mutex_lock(&db->mu);
    rc = db_new_wal_locked(db, 1);
    if (!rc) {
        version_edit_set_log_number(edit, db->wal_number);
        rc = db_apply_locked(db, edit);
    }
    if (!rc) db_delete_obsolete_locked(db);
    pthread_mutex_unlock(&db->mu);
    if (!rc && nlogs)
        db_log(db, LSMER_LOG_INFO, "recovered %zu WAL file%s up to sequence %" PRIu64, nlogs,
               nlogs == 1 ? "" : "s", atomic_load(&db->last_seq));
    (void)created;
out:
    version_edit_free(edit);
    free(logs);
    env_free_list(names, n);
    return rc;
}

static void db_free(struct lsmer_db *db)
{
    if (!db) return;
    if (db->wal) wal_writer_close(db->wal);
    for (int i = 0; i < db->n_imm; i++) memtable_unref(db->imm[i].mem);
    if (db->mem) memtable_unref(db->mem);
    if (db->vs) version_set_free(db->vs);
    if (db->tcache) table_cache_free(db->tcache);
    if (db->bcache) block_cache_free(db->bcache);
    if (db->lock) env_unlock(db->env, db->lock);
    lsmer_batch_free(db->group_batch);
    free(db->pending_outputs);
    pthread_mutex_destroy(&db->mu);
    pthread_cond_destroy(&db->bg_cv);
    pthread_cond_destroy(&db->work_cv);
    pthread_cond_destroy(&db->sync_cv);
    free(db->dir);
    free(db);
}

int lsmer_open(const char *dir, const lsmer_options *opt, lsmer_db **out)
{
    *out = NULL;
    if (!dir || !*dir) return -EINVAL;
    lsmer_options defaults;
    if (!opt) {
        lsmer_options_init(&defaults);
        opt = &defaults;
    }
    int rc = validate_options(opt);
    if (rc) return rc;
    struct lsmer_db *db = calloc(1, sizeof(*db));
    if (!db) return -ENOMEM;
    db->opt = *opt;
    db->env = opt->env ? opt->env : env_posix_default();
    db->dir = strdup(dir);
    pthread_mutex_init(&db->mu, NULL);
    pthread_cond_init(&db->bg_cv, NULL);
    pthread_cond_init(&db->work_cv, NULL);
    pthread_cond_init(&db->sync_cv, NULL);
    db->snapshots.next = db->snapshots.prev = &db->snapshots;
    atomic_store(&db->compaction_threshold, opt->compaction_threshold);
    uint64_t t0 = env_now_micros(db->env);
    if (!db->dir) {
        rc = -ENOMEM;
        goto fail;
    }
    db->bcache = block_cache_new(opt->block_cache_size);
    db->group_batch = lsmer_batch_new();
    db->mem = db_memtable_new(db);
    if (!db->bcache || !db->group_batch || !db->mem) {
        rc = -ENOMEM;
        goto fail;
    }
    table_options_init(&db->topt);
    db->topt.block_size = opt->block_size;
    db->topt.zstd_level = opt->zstd_level;
    db->topt.bloom_bits_per_key = opt->bloom_bits_per_key;
    db->topt.verify_checksums = 1;
    db->topt.cache = db->bcache;
    db->topt.log = db_vs_log;
    db->topt.log_arg = db;
    db->topt.bloom_counters = &db->bloom;
    rc = table_cache_new(db->env, db->dir, &db->topt, opt->max_open_files, &db->tcache);
    if (rc) goto fail;

    struct vs_options vso;
    memset(&vso, 0, sizeof(vso));
    vso.num_levels = LSMER_MAX_LEVELS;
    vso.create_if_missing = opt->create_if_missing && !opt->read_only;
    vso.log = db_vs_log;
    vso.log_arg = db;
    vso.level1_size = opt->level1_size;
    vso.level_multiplier = opt->level_multiplier;
    vso.l0_compaction_trigger = opt->l0_compaction_trigger;
    vso.l0_by_depth = opt->table_partition != NULL;
    vso.target_file_size = opt->target_file_size;
    vso.manifest_max_size = opt->manifest_max_size;
    rc = version_set_new(db->env, db->dir, &vso, &db->vs);
    if (rc) goto fail;

    rc = recover(db);
    if (rc) goto fail;
    db->recovery_micros = env_now_micros(db->env) - t0;
    db_log(db, LSMER_LOG_INFO, "opened in %.3f s, last sequence %" PRIu64,
           db->recovery_micros / 1e6, atomic_load(&db->last_seq));

    if (!opt->read_only) {
        if (pthread_create(&db->flush_thread, NULL, db_flush_main, db)) {
            rc = -EAGAIN;
            goto fail;
        }
        if (pthread_create(&db->compact_thread, NULL, db_compact_main, db)) {
            atomic_store(&db->shutting_down, 1);
            pthread_mutex_lock(&db->mu);
            pthread_cond_broadcast(&db->work_cv);
            pthread_mutex_unlock(&db->mu);
            pthread_join(db->flush_thread, NULL);
            rc = -EAGAIN;
            goto fail;
        }
        db->threads_started = 1;
        pthread_mutex_lock(&db->mu);
        pthread_cond_broadcast(&db->work_cv); /* maybe compaction is due already */
        pthread_mutex_unlock(&db->mu);
    }
    *out = db;
    return 0;
fail:
    db_free(db);
    return rc;
}

void lsmer_close(lsmer_db *db)
{
    if (!db) return;
    if (!db->opt.read_only) lsmer_sync(db);
    atomic_store(&db->shutting_down, 1);
    pthread_mutex_lock(&db->mu);
    pthread_cond_broadcast(&db->work_cv);
    pthread_cond_broadcast(&db->bg_cv);
    pthread_mutex_unlock(&db->mu);
    if (db->threads_started) {
        pthread_join(db->flush_thread, NULL);
        pthread_join(db->compact_thread, NULL);
    }
    db_free(db);
}
