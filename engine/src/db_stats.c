/* db_stats.c — lsmer_get_stats: counters plus a look at the current state. */
#include <errno.h>
#include <string.h>

#include "db_impl.h"

int lsmer_get_stats(lsmer_db *db, lsmer_stats *s)
{
    if (!db || !s) return -EINVAL;
    memset(s, 0, sizeof(*s));
    s->user_bytes_written = atomic_load(&db->st.user_bytes);
    s->wal_bytes_written = atomic_load(&db->st.wal_bytes);
    s->flush_bytes_written = atomic_load(&db->st.flush_bytes);
    s->compaction_bytes_read = atomic_load(&db->st.compact_read);
    s->compaction_bytes_written = atomic_load(&db->st.compact_written);
    s->wal_syncs = atomic_load(&db->st.wal_syncs);
    s->sync_requests = atomic_load(&db->st.sync_requests);
    s->flushes = atomic_load(&db->st.flushes);
    s->compactions = atomic_load(&db->st.compactions);
    s->stall_micros = atomic_load(&db->st.stall_micros);
    s->slowdowns = atomic_load(&db->st.slowdowns);
    s->stops = atomic_load(&db->st.stops);
    struct block_cache_stats cst;
    block_cache_get_stats(db->bcache, &cst);
    s->cache_hits = cst.hits;
    s->cache_misses = cst.misses;
    s->cache_bytes = cst.usage;
    s->cache_capacity = cst.capacity;
    s->recovery_micros = db->recovery_micros;
    s->levels = LSMER_MAX_LEVELS;

    pthread_mutex_lock(&db->mu);
    s->memtable_bytes = memtable_bytes(db->mem);
    for (int i = 0; i < db->n_imm; i++) s->memtable_bytes += memtable_bytes(db->imm[i].mem);
    s->immutable_memtables = (uint64_t)db->n_imm;
    s->wal_file_bytes = db->wal_appended; /* the leader appends without mu */
    s->live_snapshots = db->n_snapshots;
    s->last_sequence = atomic_load(&db->last_seq);
    s->background_error = db->bg_error;
    struct version *v = version_set_current(db->vs);
    version_ref(v);
    pthread_mutex_unlock(&db->mu);

    for (int l = 0; l < LSMER_MAX_LEVELS; l++) {
        size_t n = version_num_files(v, l);
        struct file_meta *const *files = v->files[l];
        s->level[l].files = n;
        for (size_t i = 0; i < n; i++) s->level[l].bytes += files[i]->file_size;
        s->table_bytes += s->level[l].bytes;
        s->level[l].score = version_level_score(v, l);
    }
    s->pending_compaction_bytes = version_pending_compaction_bytes(v);
    s->bloom_checks = atomic_load(&db->bloom.checks);
    s->bloom_useful = atomic_load(&db->bloom.useful);
    s->bloom_false_positives = atomic_load(&db->bloom.false_positives);
    version_unref(v);
    return 0;
}
