/*
 * table_cache.h — the open table readers, so a table's footer, index,
 * filter and tombstones are read once and not on every lookup.
 *
 * Tables are keyed by file number and opened on first use from
 * dir/NNNNNN.sst. Up to max_open tables that nobody is using are kept open,
 * the least recently used closed first. A table in use is never closed:
 * table_cache_get() hands out a reference (struct tc_handle) that keeps it
 * open until table_cache_release(), even if it is evicted meanwhile; in-use
 * tables may push the number open above max_open for as long as they are
 * held.
 *
 * table_cache_evict() drops a table that became obsolete (its file is about
 * to be removed): it is closed now if idle, else when its last user lets go.
 * A later get of the same number opens the file again.
 *
 * Errors are returned, not logged here (table_open logs through the table
 * options' log); nothing is cached for a table that failed to open, so the
 * next get tries again.
 *
 * Thread safety: every call may come from any thread; one mutex guards the
 * map and the LRU list, and opening and closing files happen outside it
 * (two threads missing on the same table may both open it; one copy wins,
 * the other is closed). All handles must be released before
 * table_cache_free().
 */
#ifndef LSMER_TABLE_CACHE_H
#define LSMER_TABLE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "filemeta.h"
#include "iterator.h"
#include "table_builder.h"

struct table;
struct table_cache;
struct tc_handle;

/* dir and topt are copied (topt->cache, the block cache, must outlive the
 * table cache). 0, -EINVAL (max_open < 1) or -ENOMEM. */
int table_cache_new(struct lsmer_env *env, const char *dir, const struct table_options *topt,
                    int max_open, struct table_cache **out);
/* Closes every table. NULL is a no-op. */
void table_cache_free(struct table_cache *tc);

/* The open table for f (opening it if needed) and a handle that keeps it
 * open. 0, or the error of opening it (-ENOENT, -EIO, -LSMER_ECORRUPT,
 * -ENOMEM, ...), then *t and *h are NULL. */
int table_cache_get(struct table_cache *tc, const struct file_meta *f, struct table **t,
                    struct tc_handle **h);
/* Gives back a handle from table_cache_get. NULL is a no-op. */
void table_cache_release(struct table_cache *tc, struct tc_handle *h);

/* An iterator over f's point entries that holds the table open until it is
 * destroyed. Never NULL: if the table cannot be opened, an empty iterator
 * whose status is the error. */
struct iter *table_cache_iter(struct table_cache *tc, const struct file_meta *f);

/* f's table will not be used again by new readers: stop caching it. */
void table_cache_evict(struct table_cache *tc, uint64_t file_number);

/* Tables open now (idle and in use). */
size_t table_cache_open_count(struct table_cache *tc);

#endif /* LSMER_TABLE_CACHE_H */
