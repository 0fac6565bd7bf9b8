/*
 * mem_filter.h — a bloom filter over the user keys of one memtable, so a
 * point lookup of a key the memtable lacks skips the skiplist search: in a
 * full memtable that search is a dozen and more dependent cache misses, and
 * it was the largest item in a profile of random gets (a fifth of the time).
 *
 * Blocked: all probes of a key fall in one 64-byte line, so a check costs
 * one cache miss; 6 probes per key. The filter is sized once, when the
 * memtable is made (a fraction of the memtable budget), and never grows: a
 * memtable that holds more keys than planned gets more false positives,
 * never a false negative. A filter of size 0 is off and answers "may
 * contain" for every key.
 *
 * Thread safety: one writer (mem_filter_add) at a time, any number of
 * readers at once. The writer sets bits with a relaxed load and store (no
 * locked read-modify-write: it is the only one writing, and successive
 * writers — write-group leaders — are ordered by the database mutex).
 * What keeps a reader from missing a key it should see: the memtable adds
 * a key to the filter (just after linking its entry, which readers may
 * meet earlier: they skip it, it is above their snapshot) before the write
 * group that holds it publishes its sequence number (stored under the database mutex), and a reader
 * takes its snapshot's sequence under that mutex, so every bit of every entry at or below its
 * snapshot happens before its check. Keys of later writes may or may not be seen; the reader's
 * sequence filter skips them anyway.
 */
#ifndef LSMER_MEM_FILTER_H
#define LSMER_MEM_FILTER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct mem_filter {
    _Atomic uint64_t *words; /* lines * 8 words; NULL when off */
    uint32_t lines;
};

/* Sizes the filter to bytes rounded down to whole 64-byte lines (0 lines:
 * off). 0 or -ENOMEM. */
int mem_filter_init(struct mem_filter *f, size_t bytes);
void mem_filter_destroy(struct mem_filter *f);

/* Adds a key by its bloom_hash64. Writer only. */
void mem_filter_add(struct mem_filter *f, uint64_t hash);

/* Starts loading the cache line of this hash (no effect on the bits). */
void mem_filter_prefetch(const struct mem_filter *f, uint64_t hash);

/* 0 only if no key with this hash was added. Any thread. */
int mem_filter_may_contain(const struct mem_filter *f, uint64_t hash);

/* The bytes the bit array takes. */
size_t mem_filter_bytes(const struct mem_filter *f);

#endif /* LSMER_MEM_FILTER_H */
