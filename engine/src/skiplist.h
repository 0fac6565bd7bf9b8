/*
 * skiplist.h — an ordered set of encoded entries for the memtable, in the
 * shape of LevelDB's skiplist: nodes live in an arena and are never removed
 * until the arena is destroyed; an entry is an opaque pointer to bytes the
 * caller put in the same arena, ordered by a comparator the caller supplies.
 *
 * Thread safety. Inserts need external synchronization: one writer at a
 * time. Lookups and iterators need no lock and may run while the writer
 * inserts: a node is filled in completely, then linked bottom level first
 * with release stores that readers pair with acquire loads, so a reader
 * that reaches a node sees its entry bytes. A reader sees each insert
 * either wholly or (at a given level) not yet; the bottom level is the
 * truth. Readers must guarantee the skiplist (its arena) outlives them.
 *
 * Duplicates: inserting an entry that compares equal to one already
 * present is refused with -EEXIST (internal keys are unique).
 *
 * Ordered inserts: the writer remembers where its last insert went (the
 * node's neighbours at every level, a "splice" as RocksDB calls it). An
 * entry that falls right after the last one — a sequential fill, the
 * blocks of a file written in order — is linked there with two
 * comparisons instead of a search from the top. The splice is tried only
 * while inserts come in order (the last one landed right after the one
 * before), so random inserts cost what a plain search does.
 */
#ifndef LSMER_SKIPLIST_H
#define LSMER_SKIPLIST_H

#include <stdatomic.h>
#include <stdint.h>

#include "arena.h"

#define SKIPLIST_MAX_HEIGHT 12

/* <0, 0, >0 as entry a sorts before, with, after entry b. */
typedef int (*skiplist_cmp_fn)(void *arg, const uint8_t *a, const uint8_t *b);

struct skiplist_node;

struct skiplist {
    struct arena *arena;
    skiplist_cmp_fn cmp;
    void *cmp_arg;
    struct skiplist_node *head;
    _Atomic int max_height; /* relaxed: a stale value only costs time */
    uint64_t rnd;           /* writer only: height generator state */
    /* Writer only: the last insert's neighbours at every level, prev[i]
     * (the node, or head) before next[i] (NULL: the end) — always adjacent
     * at level i, as every insert goes through the writer. */
    struct skiplist_node *splice_prev[SKIPLIST_MAX_HEIGHT];
    struct skiplist_node *splice_next[SKIPLIST_MAX_HEIGHT];
    int splice_in_order; /* writer only: the last insert landed right after the one before */
};

/* Sets up an empty list whose nodes come from arena. 0 or -ENOMEM. */
int skiplist_init(struct skiplist *sl, struct arena *arena, skiplist_cmp_fn cmp, void *cmp_arg);

/* Links entry (bytes that must stay valid as long as the list: normally
 * in the same arena). Writer only. 0, -EEXIST (an equal entry is present;
 * nothing changes), or -ENOMEM. */
int skiplist_insert(struct skiplist *sl, const uint8_t *entry);

/* 1 if an entry equal to key is present. Any thread. */
int skiplist_contains(const struct skiplist *sl, const uint8_t *key);

/* An iterator: a plain struct, no allocation, no destroy. Any thread. */
struct skiplist_iter {
    const struct skiplist *list;
    const struct skiplist_node *node; /* NULL when not valid */
};

void skiplist_iter_init(struct skiplist_iter *it, const struct skiplist *sl);
static inline int skiplist_iter_valid(const struct skiplist_iter *it)
{
    return it->node != NULL;
}
/* The current entry; only when valid. */
const uint8_t *skiplist_iter_entry(const struct skiplist_iter *it);
void skiplist_iter_next(struct skiplist_iter *it);
/* O(log n): finds the last node before the current one. */
void skiplist_iter_prev(struct skiplist_iter *it);
/* First entry >= target (target is an encoded entry, or any bytes the
 * comparator accepts as one). */
void skiplist_iter_seek(struct skiplist_iter *it, const uint8_t *target);
/* Last entry <= target. */
void skiplist_iter_seek_for_prev(struct skiplist_iter *it, const uint8_t *target);
void skiplist_iter_seek_first(struct skiplist_iter *it);
void skiplist_iter_seek_last(struct skiplist_iter *it);

#endif /* LSMER_SKIPLIST_H */
