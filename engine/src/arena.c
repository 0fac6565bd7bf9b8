/* arena.c — block bump allocator (see arena.h). */
#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

struct arena_block {
    struct arena_block *next;
    /* The bytes follow, starting at an address aligned for max_align_t. */
    alignas(max_align_t) char data[];
};

#define ARENA_ALIGN (alignof(max_align_t))

void arena_init(struct arena *a)
{
    a->ptr = NULL;
    a->left = 0;
    a->blocks = NULL;
    atomic_init(&a->usage, 0);
    atomic_init(&a->used, 0);
}

void arena_destroy(struct arena *a)
{
    struct arena_block *b = a->blocks;
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    arena_init(a);
}

static char *arena_new_block(struct arena *a, size_t n)
{
    if (n > SIZE_MAX - sizeof(struct arena_block)) return NULL;
    struct arena_block *b = malloc(sizeof(*b) + n);
    if (!b) return NULL;
    b->next = a->blocks;
    a->blocks = b;
    atomic_fetch_add_explicit(&a->usage, sizeof(*b) + n, memory_order_relaxed);
    return b->data;
}

/* The slow path: the current block cannot hold n bytes. */
static void *arena_alloc_fallback(struct arena *a, size_t n)
{
    if (n > ARENA_BLOCK_SIZE / 4) {
        /* Its own block: keeps the rest of the current block usable. */
        return arena_new_block(a, n);
    }
    char *p = arena_new_block(a, ARENA_BLOCK_SIZE);
    if (!p) return NULL;
    a->ptr = p + n;
    a->left = ARENA_BLOCK_SIZE - n;
    return p;
}

/* One writer: a plain load and store, no locked instruction. */
static inline void count_used(struct arena *a, size_t n)
{
    atomic_store_explicit(&a->used, atomic_load_explicit(&a->used, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

void *arena_alloc(struct arena *a, size_t n)
{
    if (n == 0) n = 1; /* distinct non-NULL pointers, like malloc */
    count_used(a, n);
    if (n <= a->left) {
        char *p = a->ptr;
        a->ptr += n;
        a->left -= n;
        return p;
    }
    return arena_alloc_fallback(a, n);
}

void *arena_alloc_aligned(struct arena *a, size_t n)
{
    if (n == 0) n = 1;
    count_used(a, n);
    size_t mod = (uintptr_t)a->ptr & (ARENA_ALIGN - 1);
    size_t pad = mod ? ARENA_ALIGN - mod : 0;
    if (a->ptr && n <= a->left && pad <= a->left - n) {
        char *p = a->ptr + pad;
        a->ptr += pad + n;
        a->left -= pad + n;
        return p;
    }
    /* Fresh blocks start aligned (the data member is aligned). */
    return arena_alloc_fallback(a, n);
}

size_t arena_bytes_used(const struct arena *a)
{
    return atomic_load_explicit(&a->used, memory_order_relaxed);
}

size_t arena_memory_usage(const struct arena *a)
{
    return atomic_load_explicit(&a->usage, memory_order_relaxed);
}
