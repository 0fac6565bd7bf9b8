/*
 * block_cache.h — a sharded LRU cache of decompressed blocks, bounded by the
 * bytes it holds.
 *
 * Keys are (file, offset): the table's file number and the block's offset in
 * it. Values are opaque pointers with a charge (their size in bytes) and a
 * deleter. Each lookup or insert returns a handle that pins the value until
 * block_cache_release(); an entry evicted or replaced while pinned stays
 * alive until its last handle is released, and then its deleter runs (in the
 * releasing thread, outside any cache lock).
 *
 * The key space is split over 16 shards by hash, each with its own mutex,
 * hash table and LRU list of unpinned entries, and a 1/16 share of the
 * capacity. Pinned entries are not on the LRU list, so a shard may exceed its
 * share while its blocks are in use; it shrinks back as they are released.
 * Capacity 0 disables caching: lookups miss, and insert returns a handle
 * that owns the value until release.
 *
 * Thread-safe. Statistics are atomic counters, read without locks.
 */
#ifndef LSMER_BLOCK_CACHE_H
#define LSMER_BLOCK_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct block_cache;
struct cache_handle;

struct block_cache_stats {
    uint64_t hits, misses, inserts, evictions;
    uint64_t usage;  /* bytes charged by entries in the cache */
    uint64_t pinned; /* bytes charged by entries held by handles (cached or not) */
    uint64_t capacity;
};

/* NULL on -ENOMEM. */
struct block_cache *block_cache_new(size_t capacity);
/* Every handle must have been released. Runs the deleters. NULL is a no-op. */
void block_cache_free(struct block_cache *c);

/* A pinned handle, or NULL on a miss. */
struct cache_handle *block_cache_lookup(struct block_cache *c, uint64_t file, uint64_t offset);

/* Inserts data (replacing any entry with the same key) and returns a pinned
 * handle. The cache owns data from now on, even on failure: NULL means
 * -ENOMEM, and deleter(data) has already run. */
struct cache_handle *block_cache_insert(struct block_cache *c, uint64_t file, uint64_t offset,
                                        void *data, size_t charge, void (*deleter)(void *data));

/* Bytes a handle takes, for block_cache_insert_at. */
#define BLOCK_CACHE_HANDLE_SIZE 96
/* As block_cache_insert, but the handle is built in handle_mem
 * (BLOCK_CACHE_HANDLE_SIZE bytes, aligned for pointers) that the caller
 * allocated together with data: the deleter frees both, and the cache
 * allocates nothing. Cannot fail. */
struct cache_handle *block_cache_insert_at(struct block_cache *c, void *handle_mem, uint64_t file,
                                           uint64_t offset, void *data, size_t charge,
                                           void (*deleter)(void *data));

void *cache_handle_value(const struct cache_handle *h);
/* NULL is a no-op. */
void block_cache_release(struct block_cache *c, struct cache_handle *h);

/* Drops every entry of file from the cache (pinned ones live on until
 * released). For a table file that was deleted. */
void block_cache_erase_file(struct block_cache *c, uint64_t file);

void block_cache_get_stats(const struct block_cache *c, struct block_cache_stats *out);

#endif /* LSMER_BLOCK_CACHE_H */
