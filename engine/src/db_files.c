/*
 * db_files.c — which files the database still needs, and removal of the
 * rest. A file is live when a live version names it (tables), when it is
 * being written (pending outputs), when it is the current or an unflushed
 * memtable's WAL, or when it is the current manifest. Everything else of
 * ours in the directory is obsolete and removed promptly; foreign files are
 * left alone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db_impl.h"
#include "filename.h"

void db_add_pending_locked(struct lsmer_db *db, uint64_t number)
{
    if (db->n_pending == db->cap_pending) {
        size_t cap = db->cap_pending ? db->cap_pending * 2 : 16;
        uint64_t *p = realloc(db->pending_outputs, cap * sizeof(*p));
        if (!p) {
            /* Without the record the sweep could remove the file: stop
             * sweeping instead (see db_delete_obsolete_locked). */
            db->cap_pending = SIZE_MAX;
            return;
        }
        db->pending_outputs = p;
        db->cap_pending = cap;
    }
    db->pending_outputs[db->n_pending++] = number;
}

void db_remove_pending_locked(struct lsmer_db *db, uint64_t number)
{
    for (size_t i = 0; i < db->n_pending; i++)
        if (db->pending_outputs[i] == number) {
            db->pending_outputs[i] = db->pending_outputs[--db->n_pending];
            return;
        }
}

static int is_pending(const struct lsmer_db *db, uint64_t number)
{
    for (size_t i = 0; i < db->n_pending; i++)
        if (db->pending_outputs[i] == number) return 1;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void db_delete_obsolete_locked(struct lsmer_db *db)
{
    if (db->bg_error_hard || db->apply_failed || db->cap_pending == SIZE_MAX) return;
    uint64_t *live = NULL;
    size_t nlive = 0;
    if (version_set_live_files(db->vs, &live, &nlive)) return;
    if (nlive) qsort(live, nlive, sizeof(*live), cmp_u64);
    uint64_t min_log = db->n_imm ? db->imm[0].log_number : db->wal_number;
    uint64_t manifest = version_set_manifest_number(db->vs);

    char **names = NULL;
    size_t n = 0;
    /* Listing under mu is cheap next to the removals, which happen outside. */
    if (env_list(db->env, db->dir, &names, &n)) {
        free(live);
        return;
    }
    char **doomed = calloc(n ? n : 1, sizeof(*doomed));
    size_t ndoomed = 0;
    for (size_t i = 0; doomed && i < n; i++) {
        uint64_t num;
        enum file_kind kind;
        if (filename_parse(names[i], &num, &kind) != 0) continue;
        int keep = 1;
        switch (kind) {
        case FILE_KIND_LOG:
            keep = num >= min_log;
            break;
        case FILE_KIND_TABLE:
            keep = (nlive && bsearch(&num, live, nlive, sizeof(*live), cmp_u64)) ||
                   is_pending(db, num);
            break;
        case FILE_KIND_MANIFEST:
            keep = num >= manifest;
            break;
        case FILE_KIND_TEMP:
            keep = is_pending(db, num);
            break;
        default:
            keep = 1;
            break;
        }
        if (!keep) {
            doomed[ndoomed++] = names[i];
            names[i] = NULL;
            if (kind == FILE_KIND_TABLE) {
                table_cache_evict(db->tcache, num);
                block_cache_erase_file(db->bcache, num);
            }
        }
    }
    free(live);
    env_free_list(names, n);
    if (!doomed) return;
    pthread_mutex_unlock(&db->mu);
    for (size_t i = 0; i < ndoomed; i++) {
        char *p = db_path(db, doomed[i]);
        if (p) {
            int rc = env_remove(db->env, p);
            if (rc && rc != -ENOENT)
                db_log(db, LSMER_LOG_WARN, "cannot remove obsolete file %s: %s", p,
                       lsmer_strerror(rc));
        }
        free(p);
        free(doomed[i]);
    }
    free(doomed);
    pthread_mutex_lock(&db->mu);
}
