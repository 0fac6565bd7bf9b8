/*
 * db_iter.h — the user's view of the database: turns a merged iterator over
 * internal keys (every version of every key, from memtables and tables)
 * into an iterator over user keys and their values as of one snapshot.
 *
 * For each user key it yields the newest version with sequence <= snapshot,
 * unless that version is a deletion (TYPE_DELETE) or a range tombstone
 * visible at the snapshot and newer than it covers the key: tombstone_seq
 * (arg, ukey, snapshot) returns the largest sequence <= snapshot of any
 * range tombstone covering ukey, across all sources (0 if none), and the
 * version is hidden when that is greater than its own sequence. Stray
 * TYPE_RANGE_DELETE entries in the point stream are ignored. An internal
 * key that does not parse stops the iterator with -LSMER_ECORRUPT.
 *
 * Bounds: [lower, upper) in user keys, either unbounded when its .p is
 * NULL. seek() below lower lands on lower; nothing at or above upper is
 * yielded; seek_last() starts just below upper.
 *
 * Movement follows LevelDB's DBIter: going forward the internal iterator
 * sits on the entry being yielded (key and value point into it); going
 * backward it sits before the current key's versions, so the current key
 * and value are copies held by the db iterator. key() and value() stay
 * valid until the iterator moves. Every value passes through one function
 * (entry_value() in db_iter.c), the place where a value stored outside the
 * tree will be fetched.
 *
 * Errors: the internal iterator's status, -LSMER_ECORRUPT, or -ENOMEM (a
 * copy failed); the iterator is then invalid. A new seek starts over.
 *
 * Ownership: db_iter_new() takes internal (destroyed with the db iterator,
 * also on failure) and copies the bounds. release(arg), if not NULL, runs
 * once at destruction after internal is destroyed: the caller unpins the
 * memtables, version and snapshot there. One thread at a time.
 */
#ifndef LSMER_DB_ITER_H
#define LSMER_DB_ITER_H

#include <stdint.h>

#include "coding.h"
#include "iterator.h"

typedef uint64_t (*db_iter_tombstone_fn)(void *arg, struct slice ukey, uint64_t snapshot);

/* Never NULL: on ENOMEM it destroys internal, calls release(arg) and
 * returns iter_new_empty(-ENOMEM). tombstone_seq may be NULL (no range
 * tombstones). */
struct iter *db_iter_new(struct iter *internal, uint64_t snapshot_seq, struct slice lower_ukey,
                         struct slice upper_ukey, db_iter_tombstone_fn tombstone_seq, void *arg,
                         void (*release)(void *arg));

/* Positions it on the last user key <= ukey (within the bounds). it must
 * come from db_iter_new(). */
void db_iter_seek_for_prev(struct iter *it, struct slice ukey);

#endif /* LSMER_DB_ITER_H */
