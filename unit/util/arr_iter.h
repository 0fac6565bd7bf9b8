/*
 * arr_iter.h — a test double for the engine's iterator (iterator.h): an
 * iterator over an array the test owns and has sorted, so that what is
 * built on iterators (merging_iter, level_iter, db_iter) can be checked
 * against a model made from the same array.
 *
 * The entries may be of any type: the test describes them once (struct
 * arr_iter_type: their size, how to read a key and a value, the order of
 * the keys), and seeks compare with that order. Two things make the
 * double stricter than a real child:
 *   - err_pos: landing on that entry (by a seek or a step) fails: the
 *     iterator is not valid and its status is -EIO, as after a read error;
 *     a later positioning that avoids the entry works again.
 *   - type->copy: keys and values are handed out in memory of the
 *     iterator's own, freed on every move, so a caller that keeps using
 *     them after moving the iterator fails under AddressSanitizer (and, in
 *     the plain build, reads garbage that its checks catch).
 *
 * Ownership: the array and its type must outlive the iterator;
 * iter_destroy() frees the iterator and its copies. next, prev, key and
 * value on an iterator that is not valid fail the test (cmocka), as does
 * running out of memory.
 *
 * Thread safety: none; one thread uses an iterator.
 */
#ifndef LSMER_TEST_ARR_ITER_H
#define LSMER_TEST_ARR_ITER_H

#include <stddef.h>

#include "iterator.h"

/* How to read a test's entries. */
struct arr_iter_type {
    size_t entry_size;
    struct slice (*key)(const void *entry);
    struct slice (*value)(const void *entry);
    int (*cmp)(struct slice a, struct slice b); /* the order of the keys */
    int copy;                                   /* hand out copies, freed on every move */
};

/* A new iterator, not yet positioned, over the n entries at entries (in
 * type->cmp order of their keys). Landing on entry err_pos fails (-1: on
 * none); destroying it counts up *destroyed (if not NULL). */
struct iter *arr_iter_new(const struct arr_iter_type *type, const void *entries, long n,
                          long err_pos, int *destroyed);

#endif
