/*
 * level_iter.h — one iterator over a whole level L1+ whose files are sorted
 * by key and do not overlap: the concatenation of the files' iterators.
 *
 * Only one file is open at a time, opened lazily through open_file when the
 * walk (or a seek) reaches it, and closed when the walk leaves it. seek()
 * finds its file by binary search on the files' largest keys (internal
 * keys, ikey order); files that turn out to hold no entry at the position
 * (a file whose key range comes only from range tombstones) are skipped in
 * the direction of travel. next() and prev() cross file boundaries.
 *
 * Errors: open_file reports one by returning an iterator whose status is
 * the error (iter_new_empty(err)); a NULL return counts as -ENOMEM. When the
 * current file's iterator fails, the level iterator is invalid with that
 * status; it does not skip to the next file. A new seek starts over.
 *
 * Ownership: the files array (and the file_metas) is borrowed and must stay
 * valid for the iterator's life — the caller pins the version that holds
 * them and unpins it in release(arg), which runs once when the iterator is
 * destroyed (release may be NULL). One thread at a time.
 */
#ifndef LSMER_LEVEL_ITER_H
#define LSMER_LEVEL_ITER_H

#include <stddef.h>

#include "filemeta.h"
#include "iterator.h"

typedef struct iter *(*level_open_fn)(void *arg, const struct file_meta *f);

/* Never NULL: on ENOMEM it calls release(arg) and returns
 * iter_new_empty(-ENOMEM). */
struct iter *level_iter_new(struct file_meta **files, size_t n, level_open_fn open_file, void *arg,
                            void (*release)(void *arg));

#endif /* LSMER_LEVEL_ITER_H */
