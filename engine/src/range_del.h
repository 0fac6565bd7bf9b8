/*
 * range_del.h — a set of range tombstones ("delete every key k with
 * start <= k < end, as of sequence seq"), kept fragmented: the stored pieces
 * never overlap, each piece [start, end) carries the sequence numbers of
 * every tombstone that covers it, newest first. A lookup is a binary search.
 *
 * Used three ways: the memtable's live set (rdel_add as writes arrive), each
 * table's set (built once from its range-deletion block when the table is
 * opened, then read-only), and compaction (inputs' sets merged, then written
 * out piece by piece).
 *
 * A version of a key with sequence s is deleted, as seen from a snapshot with
 * sequence S, when some tombstone with s < seq <= S covers the key.
 *
 * Thread safety: none inside. The memtable wraps its set in a rwlock;
 * read-only sets (tables) may be read from many threads at once.
 */
#ifndef LSMER_RANGE_DEL_H
#define LSMER_RANGE_DEL_H

#include <stddef.h>
#include <stdint.h>

#include "coding.h"

struct rdel_set;

struct rdel_set *rdel_new(void); /* NULL on ENOMEM */
void rdel_free(struct rdel_set *s);

/* Adds [start, end) at seq. An empty range (end <= start) is ignored.
 * 0 or -ENOMEM (the set is unchanged on failure). */
int rdel_add(struct rdel_set *s, struct slice start, struct slice end, uint64_t seq);

/* Adds every (piece, seq) of src. */
int rdel_add_all(struct rdel_set *s, const struct rdel_set *src);

/* The largest seq <= snapshot of a tombstone covering ukey; 0 if none. */
uint64_t rdel_max_covering(const struct rdel_set *s, struct slice ukey, uint64_t snapshot);

int rdel_empty(const struct rdel_set *s);
size_t rdel_count(const struct rdel_set *s);  /* number of pieces */
size_t rdel_memory(const struct rdel_set *s); /* bytes held */

/* Smallest start and largest end over all pieces (the key extent); only when
 * not empty. The slices point into the set. */
struct slice rdel_smallest(const struct rdel_set *s);
struct slice rdel_largest_end(const struct rdel_set *s);

/* Walks the pieces in key order: for each, fn(arg, start, end, seqs, nseqs)
 * with seqs newest first. Stops early and returns fn's value if non-zero. */
typedef int (*rdel_piece_fn)(void *arg, struct slice start, struct slice end, const uint64_t *seqs,
                             size_t nseqs);
int rdel_for_each(const struct rdel_set *s, rdel_piece_fn fn, void *arg);

/* Like rdel_for_each, restricted to the parts of pieces inside [lo, hi)
 * (NULL slice.p = unbounded); pieces are clipped to that window. */
int rdel_for_each_in(const struct rdel_set *s, struct slice lo, struct slice hi, rdel_piece_fn fn,
                     void *arg);

#endif /* LSMER_RANGE_DEL_H */
