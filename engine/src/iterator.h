/*
 * iterator.h — the internal iterator interface every sorted source
 * implements: memtables, blocks, tables, levels, merged views.
 *
 * Keys are whatever the source sorts by (internal keys for memtables and
 * tables). key() and value() stay valid until the iterator moves. A source
 * that hits an error becomes invalid and reports it through status(); an
 * iterator that ran off either end is invalid with status 0.
 *
 * An iterator is used by one thread at a time. iter_destroy() frees it.
 */
#ifndef LSMER_ITERATOR_H
#define LSMER_ITERATOR_H

#include "coding.h"

struct iter;

struct iter_ops {
    int (*valid)(const struct iter *it);
    void (*seek_first)(struct iter *it);
    void (*seek_last)(struct iter *it);
    void (*seek)(struct iter *it, struct slice target); /* first key >= target */
    void (*next)(struct iter *it);
    void (*prev)(struct iter *it);
    struct slice (*key)(const struct iter *it);
    struct slice (*value)(const struct iter *it);
    int (*status)(const struct iter *it);
    void (*destroy)(struct iter *it);
};

struct iter {
    const struct iter_ops *ops;
};

static inline int iter_valid(const struct iter *it)
{
    return it->ops->valid(it);
}
static inline void iter_seek_first(struct iter *it)
{
    it->ops->seek_first(it);
}
static inline void iter_seek_last(struct iter *it)
{
    it->ops->seek_last(it);
}
static inline void iter_seek(struct iter *it, struct slice target)
{
    it->ops->seek(it, target);
}
static inline void iter_next(struct iter *it)
{
    it->ops->next(it);
}
static inline void iter_prev(struct iter *it)
{
    it->ops->prev(it);
}
static inline struct slice iter_key(const struct iter *it)
{
    return it->ops->key(it);
}
static inline struct slice iter_value(const struct iter *it)
{
    return it->ops->value(it);
}
static inline int iter_status(const struct iter *it)
{
    return it->ops->status(it);
}
static inline void iter_destroy(struct iter *it)
{
    if (it) it->ops->destroy(it);
}

/* An always-invalid iterator carrying status err (0 for plain empty). */
struct iter *iter_new_empty(int err);

#endif /* LSMER_ITERATOR_H */
