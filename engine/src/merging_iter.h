/*
 * merging_iter.h — one sorted view over several sorted iterators (the
 * memtables, the L0 tables and one level iterator per deeper level).
 *
 * Order: the children's keys under cmp. Keys are expected to be unique
 * within one child; equal keys in different children are all yielded, the
 * lower child index first when moving forward (and, so that prev() is the
 * exact inverse of next(), the higher index first when moving backward).
 *
 * Direction switches reposition every child around the current key (seek,
 * then one step), so a switch costs one seek per child; runs in one
 * direction cost one step of one child plus O(log n) comparisons (a heap;
 * a linear scan for two children, where that measured no slower).
 *
 * Errors: when any child reports an error the merged iterator becomes
 * invalid (it does not go on with the other children, which would hide
 * entries); status() is the first non-zero status in child order. A new
 * seek starts over.
 *
 * Ownership: merging_iter_new() takes the children (and the array's
 * contents, not the array itself); they are destroyed with the merged
 * iterator, also when creation fails. key() and value() point into the
 * current child. One thread at a time, like every iterator.
 */
#ifndef LSMER_MERGING_ITER_H
#define LSMER_MERGING_ITER_H

#include <stddef.h>

#include "dbformat.h"
#include "iterator.h"

/* Never NULL: on ENOMEM it destroys the children and returns
 * iter_new_empty(-ENOMEM). n == 1 returns children[0] itself; n == 0 an
 * empty iterator. */
struct iter *merging_iter_new(struct iter **children, size_t n, key_compare_fn cmp);

#endif /* LSMER_MERGING_ITER_H */
