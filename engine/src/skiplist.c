/*
 * skiplist.c — lock-free-read skiplist (see skiplist.h).
 *
 * Memory ordering: the writer fills a node (entry pointer, its next
 * pointers with relaxed stores) before publishing it with a release store
 * into its predecessor's next slot; readers follow next pointers with
 * acquire loads, which makes the node and the entry bytes behind it
 * visible. max_height is relaxed: a reader that sees the new height before
 * the head's new links just finds NULL at the top levels and drops down.
 */
#include "skiplist.h"

#include <errno.h>
#include <stddef.h>

struct skiplist_node {
    const uint8_t *entry;
    /* Level 0 is the full list; the array has height elements. */
    _Atomic(struct skiplist_node *) next[];
};

static struct skiplist_node *sl_next(const struct skiplist_node *n, int level)
{
    /* The cast drops const only to satisfy atomic_load's prototype. */
    return atomic_load_explicit((_Atomic(struct skiplist_node *) *)&n->next[level],
                                memory_order_acquire);
}

static void sl_set_next(struct skiplist_node *n, int level, struct skiplist_node *x)
{
    atomic_store_explicit(&n->next[level], x, memory_order_release);
}

/* A search at x, about to compare x's successor next at level: if next
 * proves too far, the search continues with x's successor one level down,
 * a node it has not touched. Start loading that one now, so that the two
 * cache misses overlap instead of following each other. */
static void sl_prefetch_down(const struct skiplist_node *x, int level,
                             const struct skiplist_node *next)
{
    if (level == 0 || !next) return;
    const struct skiplist_node *down = atomic_load_explicit(
        (_Atomic(struct skiplist_node *) *)&x->next[level - 1], memory_order_relaxed);
    if (down != next) __builtin_prefetch(down);
}

static struct skiplist_node *sl_new_node(struct skiplist *sl, const uint8_t *entry, int height)
{
    size_t sz = sizeof(struct skiplist_node) + sizeof(_Atomic(struct skiplist_node *)) * height;
    struct skiplist_node *n = arena_alloc_aligned(sl->arena, sz);
    if (!n) return NULL;
    n->entry = entry;
    for (int i = 0; i < height; i++) atomic_init(&n->next[i], NULL);
    return n;
}

int skiplist_init(struct skiplist *sl, struct arena *arena, skiplist_cmp_fn cmp, void *cmp_arg)
{
    sl->arena = arena;
    sl->cmp = cmp;
    sl->cmp_arg = cmp_arg;
    atomic_init(&sl->max_height, 1);
    sl->rnd = 0x2545f4914f6cdd1dull ^ (uint64_t)(uintptr_t)sl;
    sl->head = sl_new_node(sl, NULL, SKIPLIST_MAX_HEIGHT);
    for (int i = 0; i < SKIPLIST_MAX_HEIGHT; i++) {
        sl->splice_prev[i] = sl->head;
        sl->splice_next[i] = NULL;
    }
    sl->splice_in_order = 1;
    return sl->head ? 0 : -ENOMEM;
}

static int sl_height(const struct skiplist *sl)
{
    return atomic_load_explicit((_Atomic int *)&sl->max_height, memory_order_relaxed);
}

/* Branching factor 4, as LevelDB: each level holds about a quarter of the
 * nodes of the level below. */
static int sl_random_height(struct skiplist *sl)
{
    uint64_t x = sl->rnd; /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    sl->rnd = x;
    int h = 1;
    while (h < SKIPLIST_MAX_HEIGHT && (x & 3) == 0) {
        h++;
        x >>= 2;
    }
    return h;
}

/* The first node >= key; fills prev[level] with the last node < key at each
 * level when prev is not NULL. */
static struct skiplist_node *sl_find_ge(const struct skiplist *sl, const uint8_t *key,
                                        struct skiplist_node **prev)
{
    struct skiplist_node *x = sl->head;
    int level = sl_height(sl) - 1;
    for (;;) {
        struct skiplist_node *next = sl_next(x, level);
        sl_prefetch_down(x, level, next);
        if (next && sl->cmp(sl->cmp_arg, next->entry, key) < 0) {
            x = next;
            continue;
        }
        if (prev) prev[level] = x;
        if (level == 0) return next;
        level--;
    }
}

/* The last node < key, or head. */
static struct skiplist_node *sl_find_lt(const struct skiplist *sl, const uint8_t *key)
{
    struct skiplist_node *x = sl->head;
    int level = sl_height(sl) - 1;
    for (;;) {
        struct skiplist_node *next = sl_next(x, level);
        sl_prefetch_down(x, level, next);
        if (next && sl->cmp(sl->cmp_arg, next->entry, key) < 0) {
            x = next;
            continue;
        }
        if (level == 0) return x;
        level--;
    }
}

/* The last node, or head if empty. */
static struct skiplist_node *sl_find_last(const struct skiplist *sl)
{
    struct skiplist_node *x = sl->head;
    int level = sl_height(sl) - 1;
    for (;;) {
        struct skiplist_node *next = sl_next(x, level);
        if (next) {
            x = next;
            continue;
        }
        if (level == 0) return x;
        level--;
    }
}

/* Whether the splice's level-0 pair brackets entry (prev < entry < next).
 * Every level above then brackets it too: a node's predecessor at a higher
 * level is at or before its predecessor below, its successor at or after. */
static int splice_brackets(const struct skiplist *sl, const uint8_t *entry)
{
    const struct skiplist_node *p = sl->splice_prev[0], *n = sl->splice_next[0];
    if (p != sl->head && sl->cmp(sl->cmp_arg, p->entry, entry) >= 0) return 0;
    return !n || sl->cmp(sl->cmp_arg, n->entry, entry) > 0;
}

int skiplist_insert(struct skiplist *sl, const uint8_t *entry)
{
    struct skiplist_node **prev = sl->splice_prev, **succ = sl->splice_next;
    int cur = sl_height(sl);
    /* Only while inserts come in order: for a random one the check would
     * read the last insert's successor, a cache miss, for nothing. */
    if (!sl->splice_in_order || !splice_brackets(sl, entry)) {
        const struct skiplist_node *last = prev[0];
        struct skiplist_node *x = sl_find_ge(sl, entry, prev);
        /* prev[] holds this search's path: complete the splice (also
         * before refusing a duplicate, so it stays whole). */
        for (int i = 0; i < cur; i++) succ[i] = sl_next(prev[i], i);
        if (x && sl->cmp(sl->cmp_arg, x->entry, entry) == 0) return -EEXIST;
        /* Right after the previous insert: the splice would have found it
         * (free to tell: the search ended at that node). */
        sl->splice_in_order = prev[0] == last && last != sl->head;
    }
    /* Levels at or above the current height: head and the end, already
     * (nothing was ever linked there). */

    int height = sl_random_height(sl);
    struct skiplist_node *n = sl_new_node(sl, entry, height);
    if (!n) return -ENOMEM;
    if (height > cur) {
        /* Readers that see the new height early find head->next NULL at
         * the new levels and just move down. */
        atomic_store_explicit(&sl->max_height, height, memory_order_relaxed);
    }
    for (int i = 0; i < height; i++) {
        /* n is not yet reachable: a relaxed store suffices for its own
         * links; the release store into prev publishes it. */
        atomic_store_explicit(&n->next[i], succ[i], memory_order_relaxed);
        sl_set_next(prev[i], i, n);
        prev[i] = n; /* the splice now sits right after n */
    }
    return 0;
}

int skiplist_contains(const struct skiplist *sl, const uint8_t *key)
{
    struct skiplist_node *x = sl_find_ge(sl, key, NULL);
    return x && sl->cmp(sl->cmp_arg, x->entry, key) == 0;
}

void skiplist_iter_init(struct skiplist_iter *it, const struct skiplist *sl)
{
    it->list = sl;
    it->node = NULL;
}

const uint8_t *skiplist_iter_entry(const struct skiplist_iter *it)
{
    return it->node->entry;
}

/* Starts loading the node after n: an iterator that steps through the
 * list would otherwise wait for each node in turn. */
static void sl_prefetch_next(const struct skiplist_node *n)
{
    if (!n) return;
    const struct skiplist_node *x = sl_next(n, 0);
    if (!x) return;
    __builtin_prefetch(x->entry);
    const struct skiplist_node *y =
        atomic_load_explicit((_Atomic(struct skiplist_node *) *)&x->next[0], memory_order_relaxed);
    if (y) __builtin_prefetch(y);
}

void skiplist_iter_next(struct skiplist_iter *it)
{
    it->node = sl_next(it->node, 0);
    sl_prefetch_next(it->node);
}

void skiplist_iter_prev(struct skiplist_iter *it)
{
    /* No back links: search for the last node before this one. */
    const struct skiplist_node *x = sl_find_lt(it->list, it->node->entry);
    it->node = x == it->list->head ? NULL : x;
}

void skiplist_iter_seek(struct skiplist_iter *it, const uint8_t *target)
{
    it->node = sl_find_ge(it->list, target, NULL);
    sl_prefetch_next(it->node);
}

void skiplist_iter_seek_for_prev(struct skiplist_iter *it, const uint8_t *target)
{
    skiplist_iter_seek(it, target);
    if (!it->node) {
        skiplist_iter_seek_last(it);
    } else if (it->list->cmp(it->list->cmp_arg, it->node->entry, target) > 0) {
        skiplist_iter_prev(it);
    }
}

void skiplist_iter_seek_first(struct skiplist_iter *it)
{
    it->node = sl_next(it->list->head, 0);
    sl_prefetch_next(it->node);
}

void skiplist_iter_seek_last(struct skiplist_iter *it)
{
    const struct skiplist_node *x = sl_find_last(it->list);
    it->node = x == it->list->head ? NULL : x;
}
