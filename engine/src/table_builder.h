/*
 * table_builder.h — writes one sorted table (SSTable) to an env file.
 *
 * Layout (docs/format-sstable.md): data blocks | filter block | range-del
 * block | properties block | index block | footer. Every block is followed
 * by the 5-byte trailer of table_format.h and is zstd-compressed when
 * zstd_level > 0 and that saves at least 1/8.
 *
 * Use: table_builder_new(), then table_builder_add() with strictly
 * increasing internal keys and table_builder_add_range_del() (any order; the
 * builder sorts tombstones), then table_builder_finish(), which writes
 * everything through env_append but neither syncs nor closes the file: the
 * caller syncs it before publishing the table. Output is buffered and handed
 * to the env in chunks of TABLE_WRITE_CHUNK bytes.
 *
 * Errors are sticky: after a failed call every later call returns the same
 * error, and the file's contents are garbage to be removed.
 *
 * Key extent. The table's smallest key is the least of its first point key
 * and (start, seq, TYPE_RANGE_DELETE) of each tombstone. Its largest key is
 * the greatest of its last point key and, for each tombstone ending at `end`
 * (exclusive), the sentinel (end, SEQ_MAX, TYPE_SEEK): the first possible
 * internal key of user key `end`, before every real entry of `end`. So a
 * table whose largest key is a sentinel covers user keys < end, and
 * table_key_is_sentinel() tells the two cases apart.
 *
 * One builder is used by one thread.
 */
#ifndef LSMER_TABLE_BUILDER_H
#define LSMER_TABLE_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "coding.h"
#include "env.h"
#include "lsmer.h"

struct block_cache;

/* Filter effectiveness, shared by every table of a database. */
struct table_bloom_counters {
    _Atomic uint64_t checks, useful, false_positives;
};

struct table_options {
    size_t block_size;         /* uncompressed data block target; 0 = 4 KiB */
    int zstd_level;            /* 0 = no compression */
    int bloom_bits_per_key;    /* 0 = no filter */
    int verify_checksums;      /* readers: check every block's crc (default 1) */
    struct block_cache *cache; /* readers: data blocks go through it; NULL = none */
    lsmer_log_fn log;          /* readers: why a table failed to open/read; NULL = quiet */
    /* readers: database-wide filter counters, bumped along with the table's
     * own; NULL = none */
    struct table_bloom_counters *bloom_counters;
    void *log_arg;
};

/* Defaults: 4 KiB blocks, zstd level 1, 10 bloom bits per key, verify
 * checksums, no cache, no log. A zero-filled struct means no compression,
 * no filter and no checksum verification. */
void table_options_init(struct table_options *opt);

#define TABLE_WRITE_CHUNK (256u * 1024u)

struct table_builder;

/* f must be open for writing and empty; the builder does not own it. opt is
 * copied. 0, -ENOMEM or -EINVAL. */
int table_builder_new(struct env_file *f, const struct table_options *opt,
                      struct table_builder **out);
void table_builder_free(struct table_builder *b);

/* ikey must be a valid internal key greater than the previous one (else
 * -EINVAL); TYPE_RANGE_DELETE entries go through add_range_del instead. */
int table_builder_add(struct table_builder *b, struct slice ikey, struct slice value);

/* Adds the tombstone [start, end) at seq. An empty range is ignored. */
int table_builder_add_range_del(struct table_builder *b, struct slice start_ukey,
                                struct slice end_ukey, uint64_t seq);

/* Writes the remaining blocks and the footer. */
int table_builder_finish(struct table_builder *b);

/* Bytes of the file so far, counting buffered output and the open data
 * block: what the file would be if the table ended now (less the meta
 * blocks). After finish: the exact file size. */
uint64_t table_builder_file_size(const struct table_builder *b);
uint64_t table_builder_entries(const struct table_builder *b); /* point entries */
uint64_t table_builder_range_dels(const struct table_builder *b);
/* No point entries and no tombstones. */
int table_builder_empty(const struct table_builder *b);
/* The key extent described above; empty slices while the builder is empty.
 * Valid until the next add or free. */
struct slice table_builder_smallest(const struct table_builder *b);
struct slice table_builder_largest(const struct table_builder *b);
/* Over points and tombstones; 0 and 0 while empty. */
uint64_t table_builder_smallest_seq(const struct table_builder *b);
uint64_t table_builder_largest_seq(const struct table_builder *b);

/* 1 if ikey is the (end, SEQ_MAX, TYPE_SEEK) sentinel of a tombstone end
 * (an exclusive upper bound), not a real entry. */
int table_key_is_sentinel(struct slice ikey);

#endif /* LSMER_TABLE_BUILDER_H */
