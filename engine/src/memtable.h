/*
 * memtable.h — the in-memory write buffer: point entries (puts and deletes)
 * in an arena-backed skiplist keyed by internal key, range tombstones in a
 * fragmented rdel_set.
 *
 * Entry encoding in the arena (what the skiplist orders):
 *   varint32 ikey_len | internal key (user key + 8-byte trailer)
 *   | varint32 value_len | value
 * A delete has an empty value.
 *
 * Lifetime: reference counted (atomic). memtable_new() returns one
 * reference; memtable_unref() of the last one frees everything. Iterators
 * hold a reference of their own until destroyed.
 *
 * Thread safety: one writer at a time (memtable_add, memtable_apply_batch;
 * the caller serialises them). Readers (memtable_get, iterators,
 * memtable_max_covering, the counters) run at the same time without
 * locks on the point entries (skiplist contract); the tombstone set is
 * guarded by a rwlock. memtable_range_dels() hands out the set without the
 * lock and is only for a memtable that no longer takes writes (flush).
 */
#ifndef LSMER_MEMTABLE_H
#define LSMER_MEMTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "coding.h"
#include "iterator.h"
#include "range_del.h"

struct memtable;

enum memtable_get_result {
    MEMTABLE_MISSING = 0, /* no point entry of the key at or below snapshot */
    MEMTABLE_FOUND = 1,   /* a put: value copied, found_seq set */
    MEMTABLE_DELETED = 2, /* a point delete: found_seq set */
};

/* NULL on out-of-memory. One reference. filter_bytes sizes the bloom
 * filter over the point entries' user keys that lets memtable_get skip the
 * skiplist for absent keys (mem_filter.h; 0: no filter). */
struct memtable *memtable_new(size_t filter_bytes);
void memtable_ref(struct memtable *m);
/* Drops a reference; frees the memtable at zero. NULL is a no-op. */
void memtable_unref(struct memtable *m);

/* Adds one entry at seq (<= SEQ_MAX). type TYPE_VALUE or TYPE_DELETE
 * (value ignored for deletes), or TYPE_RANGE_DELETE with ukey = start and
 * value = end (exclusive; an empty range is accepted and stores nothing).
 * Writer only. 0, -EINVAL (bad type or seq; or the same key, seq and type
 * twice), or -ENOMEM. */
int memtable_add(struct memtable *m, uint64_t seq, int type, struct slice ukey, struct slice value);

/* Applies the records of a write batch's representation (batch.h) with
 * sequence numbers batch_sequence(rep), +1, ... in order. The rep is
 * validated whole first: -LSMER_ECORRUPT and nothing applied if it does not
 * parse. -ENOMEM mid-way leaves a prefix applied (the caller must treat the
 * memtable as failed). Writer only. */
int memtable_apply_batch(struct memtable *m, struct slice batch_rep);

/* Looks up the newest point entry of ukey with seq <= snapshot (see the
 * enum), and raises *tombstone_seq to the newest range tombstone seq
 * <= snapshot covering ukey, if larger. Does not weigh one against the
 * other: the caller compares found_seq with the tombstone seq accumulated
 * over all sources. snapshot must be a sequence the caller learned after
 * the memtable_add of every entry at or below it returned (the key filter
 * is filled after an entry is linked); entries being added meanwhile may
 * or may not be seen. Returns an enum value, or -ENOMEM (copying the value).
 * Any thread. */
int memtable_get(struct memtable *m, struct slice ukey, uint64_t snapshot, struct buffer *value,
                 uint64_t *found_seq, uint64_t *tombstone_seq);

/* The newest range tombstone seq <= snapshot covering ukey; 0 if none.
 * Any thread (takes the read lock). */
uint64_t memtable_max_covering(struct memtable *m, struct slice ukey, uint64_t snapshot);

/* An iterator over the point entries: key = internal key, value = value.
 * Holds a reference on m until destroyed. Never NULL (an empty iterator
 * with status -ENOMEM on out-of-memory). Sees writes that land while it
 * exists (it is pinned to a snapshot only by the caller's seq filter). */
struct iter *memtable_iter(struct memtable *m);

/* The tombstones, for flush: only once the memtable takes no more writes. */
const struct rdel_set *memtable_range_dels(struct memtable *m);

/* Approximate bytes held (arena + tombstones), what the memtable budget
 * counts. Any thread. */
size_t memtable_bytes(const struct memtable *m);
/* The filter's fixed size, allocated at memtable_new (not in memtable_bytes). */
size_t memtable_filter_bytes(const struct memtable *m);
/* Point entries plus stored range tombstones added. Any thread. */
uint64_t memtable_entries(const struct memtable *m);
/* 1 if nothing was stored (no point entry, no non-empty tombstone). */
int memtable_empty(const struct memtable *m);
/* Number of range tombstones added (non-empty ones). Any thread. */
uint64_t memtable_range_del_count(const struct memtable *m);

#endif /* LSMER_MEMTABLE_H */
