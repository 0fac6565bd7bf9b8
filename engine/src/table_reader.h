/*
 * table_reader.h — reads a table written by table_builder.
 *
 * table_open() reads the footer and keeps the index, filter, range-deletion
 * and properties blocks in memory; data blocks are read on demand and go
 * through the block cache (opt->cache, keyed by file_number) or, without
 * one, are owned by the iterator that read them. With verify_checksums every
 * block's crc is checked on read, so a flipped bit anywhere in the file gives
 * -LSMER_ECORRUPT from open, get or an iterator's status, never wrong data.
 * A table of a newer format version gives -EPROTO. Why a table failed is
 * logged through opt->log, naming path_for_errors.
 *
 * Ownership: the table does not own f (close it after table_close); it
 * copies opt; the cache must outlive the table. Iterators hold no reference
 * on the table: destroy them before table_close.
 *
 * Thread safety: an open table is immutable; table_get, table_iter and the
 * getters may be called from many threads at once (env_pread is thread-safe,
 * the cache locks, the bloom counters are atomic). Each iterator belongs to
 * one thread.
 */
#ifndef LSMER_TABLE_READER_H
#define LSMER_TABLE_READER_H

#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "coding.h"
#include "env.h"
#include "iterator.h"
#include "table_builder.h"
#include "table_format.h"

struct table;
struct rdel_set;

int table_open(struct env_file *f, const char *path_for_errors, uint64_t file_size,
               uint64_t file_number, const struct table_options *opt, struct table **out);
void table_close(struct table *t); /* NULL is a no-op */

/* Finds the first entry >= lookup_ikey (normally (ukey, snapshot,
 * TYPE_SEEK)). Returns 1 and copies its key and value (either out may be
 * NULL) if it has lookup's user key; 0 if the filter rules the key out or
 * there is no such entry; a negative errno on error. Range tombstones are
 * not applied here: see table_range_dels(). */
int table_get(struct table *t, struct slice lookup_ikey, struct buffer *ikey_out,
              struct buffer *value_out);

/* An iterator over the point entries (internal keys). Never NULL; on
 * -ENOMEM an empty iterator with that status. */
struct iter *table_iter(struct table *t);
/* The same, calling on_destroy(a, b) once it is destroyed and no longer
 * uses the table (the table cache releases the table's handle there: no
 * wrapper iterator between the merge and the table). On -ENOMEM
 * on_destroy is called at once. */
struct iter *table_iter_owned(struct table *t, void (*on_destroy)(void *a, void *b), void *a,
                              void *b);

/* The tombstones: keys (start, seq, TYPE_RANGE_DELETE), values end user
 * keys, in internal-key order. Never NULL. */
struct iter *table_range_del_iter(struct table *t);

/* The tombstones as a fragmented set, built at open; read-only, shared by
 * every thread; valid until table_close. Empty (never NULL) when the table
 * has none. */
const struct rdel_set *table_range_dels(const struct table *t);

const struct table_props *table_props(const struct table *t);
uint64_t table_file_number(const struct table *t);
uint64_t table_file_size(const struct table *t);
/* Bytes of memory the open table holds (not counting cached data blocks). */
size_t table_memory(const struct table *t);
/* Roughly where in the file ikey's entries are: the offset of the data
 * block that would hold it, or the end of the data blocks. */
uint64_t table_approximate_offset(struct table *t, struct slice ikey);

struct table_bloom_stats {
    uint64_t checks;          /* lookups that consulted the filter */
    uint64_t useful;          /* ... and were ruled out by it */
    uint64_t false_positives; /* filter said maybe, the key had no entry */
};
void table_bloom_stats(const struct table *t, struct table_bloom_stats *out);

#endif /* LSMER_TABLE_READER_H */
