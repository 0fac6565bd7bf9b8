/*
 * block.h — sorted key/value blocks: the unit a table is made of (data,
 * index, range-deletion and properties blocks all use this layout).
 *
 * Format (docs/format-sstable.md):
 *   entry    = varint32 shared | varint32 unshared | varint32 value_len |
 *              key[shared..] (unshared bytes) | value
 *   block    = entry* | restart offset (fixed32)* | restart count (fixed32)
 * "shared" is how many leading bytes the key has in common with the previous
 * key; every restart_interval entries it is 0 (a restart point) and the
 * entry's offset is listed in the restart array, so a seek can binary-search
 * the restarts and then scan at most one interval.
 *
 * Builder: keys must be added in increasing order of the comparator the
 * block will be read with (not checked here; the table builder checks).
 * block_builder_finish() returns a slice into the builder, valid until the
 * next reset/free.
 *
 * Reader: a struct block wraps contents (optionally owning them) and checks
 * the restart array once; every entry is bounds-checked as it is decoded, so
 * a malformed block yields an iterator with status -LSMER_ECORRUPT and never
 * an out-of-bounds read. With ikey_compare_raw as comparator, keys shorter
 * than the 8-byte internal-key trailer are corruption too (so comparisons
 * never underflow). A struct block is immutable and may be read by many
 * iterators in many threads; each iterator belongs to one thread.
 */
#ifndef LSMER_BLOCK_H
#define LSMER_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "dbformat.h"
#include "iterator.h"

/* ---- builder ----------------------------------------------------------- */

struct block_builder {
    struct buffer buf;      /* entries, then the restart array at finish */
    struct buffer restarts; /* fixed32 offsets */
    struct buffer last_key;
    int interval;
    int counter; /* entries since the last restart */
    size_t entries;
    int finished;
};

void block_builder_init(struct block_builder *b, int restart_interval);
void block_builder_free(struct block_builder *b);
void block_builder_reset(struct block_builder *b);
/* 0, -ENOMEM, or -EINVAL if the block would exceed 4 GiB. */
int block_builder_add(struct block_builder *b, struct slice key, struct slice value);
/* Size the block would have if finished now. */
size_t block_builder_estimate(const struct block_builder *b);
static inline int block_builder_empty(const struct block_builder *b)
{
    return b->entries == 0;
}
/* Appends the restart array; *out points into the builder. */
int block_builder_finish(struct block_builder *b, struct slice *out);

/* ---- reader ------------------------------------------------------------ */

struct block {
    const uint8_t *data;
    size_t size;
    uint32_t restarts_off; /* entries live in [0, restarts_off) */
    uint32_t nrestarts;
    int err;     /* 0 or -LSMER_ECORRUPT: the restart array is malformed */
    void *owned; /* freed by block_free() */
};

/* A block over contents. owned (may be NULL) is a malloc'd pointer freed by
 * block_free(), normally contents.p itself. Returns NULL only on -ENOMEM
 * (owned is then NOT freed); a malformed block is returned with err set. */
struct block *block_new(struct slice contents, void *owned);
/* A block whose header and contents share one allocation (one malloc per
 * block read): mem, from malloc, holds the header in its first
 * BLOCK_INLINE_LEAD bytes and the n bytes of contents from mem + lead
 * (lead >= BLOCK_INLINE_LEAD; the bytes between are the caller's, e.g. for
 * a cache handle). Cannot fail (the memory is given); a malformed block
 * comes back with err set. block_free frees mem. */
#define BLOCK_INLINE_LEAD ((sizeof(struct block) + 15) & ~(size_t)15)
struct block *block_new_inline(uint8_t *mem, size_t lead, size_t n);
void block_free(struct block *b);
/* Bytes held (for cache charges). */
size_t block_memory(const struct block *b);

/* The iterator, exposed so callers can embed it (tables keep two per
 * iterator) instead of allocating. */
struct block_iter {
    struct iter base;
    const struct block *b;
    key_compare_fn cmp;
    size_t min_key;     /* shortest key that is not corruption */
    uint32_t cur;       /* offset of the current entry; restarts_off = invalid */
    uint32_t next;      /* offset just past the current entry */
    uint32_t restart;   /* index of the restart interval holding cur */
    struct buffer key;  /* the current key, rebuilt from prefix + suffix */
    struct slice value; /* points into the block */
    int status;
};

/* b may be NULL (an empty, valid-less iterator). */
void block_iter_init(struct block_iter *it, const struct block *b, key_compare_fn cmp);
void block_iter_cleanup(struct block_iter *it);

/* The same operations as iter_*(&it->base), called directly: an embedder
 * (the table iterator) steps its blocks without an indirect call, and the
 * checks it makes on every entry (valid, key) are inlined. */
static inline int block_iter_valid(const struct block_iter *it)
{
    return it->b && !it->status && it->cur < it->b->restarts_off;
}
static inline struct slice block_iter_key(const struct block_iter *it)
{
    return buffer_slice(&it->key);
}
static inline struct slice block_iter_value(const struct block_iter *it)
{
    return it->value;
}
void block_iter_seek_first(struct block_iter *it);
void block_iter_seek_last(struct block_iter *it);
void block_iter_seek(struct block_iter *it, struct slice target);
void block_iter_next(struct block_iter *it);
void block_iter_prev(struct block_iter *it);
/* A malloc'd iterator (iter_destroy frees it; the block must outlive it). On
 * -ENOMEM an empty iterator with that status. */
struct iter *block_iter_new(const struct block *b, key_compare_fn cmp);

#endif /* LSMER_BLOCK_H */
