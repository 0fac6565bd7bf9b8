/*
 * arena.h — a bump allocator for the memtable: memory is carved from blocks
 * of ARENA_BLOCK_SIZE bytes; a request larger than a quarter block gets a
 * block of its own so the tail of the current block is not wasted. Nothing
 * is freed individually; arena_destroy() releases every block at once.
 *
 * Ownership: the arena owns every byte it hands out; pointers stay valid
 * until arena_destroy().
 *
 * Thread safety: one thread allocates at a time (the memtable's single
 * writer). arena_memory_usage() may be called from any thread at any time:
 * the counter is atomic. Memory handed out is published to other threads
 * by whatever structure links it (the skiplist's release stores).
 */
#ifndef LSMER_ARENA_H
#define LSMER_ARENA_H

#include <stdatomic.h>
#include <stddef.h>

#define ARENA_BLOCK_SIZE (64u * 1024u)

struct arena_block; /* private: a header followed by the block's bytes */

struct arena {
    char *ptr;                  /* next free byte of the current block */
    size_t left;                /* bytes left in the current block */
    struct arena_block *blocks; /* every block, newest first */
    _Atomic size_t usage;       /* bytes malloc'd for blocks and headers */
    _Atomic size_t used;        /* bytes handed out (written by the one writer) */
};

void arena_init(struct arena *a);
/* Frees every block; the arena may be arena_init()ed again. */
void arena_destroy(struct arena *a);

/* n bytes (n > 0) with no alignment promise; NULL on out-of-memory. */
void *arena_alloc(struct arena *a, size_t n);
/* n bytes aligned for any object (alignof(max_align_t)); NULL on ENOMEM. */
void *arena_alloc_aligned(struct arena *a, size_t n);

/* Bytes the arena holds from malloc; readable from any thread. */
size_t arena_memory_usage(const struct arena *a);
/* Bytes handed out by the allocation calls (what the data takes, without
 * the unused tail of the current block); readable from any thread. */
size_t arena_bytes_used(const struct arena *a);

#endif /* LSMER_ARENA_H */
