/*
 * batch.h — the write batch (lsmer_batch of lsmer.h) and its byte
 * representation, which is exactly what a WAL record carries:
 *
 *   header  fixed64 sequence | fixed32 count          (12 bytes)
 *   records count times, each
 *     TYPE_VALUE        (1) | varint32 klen | key | varint32 vlen | value
 *     TYPE_DELETE       (0) | varint32 klen | key
 *     TYPE_RANGE_DELETE (2) | varint32 slen | start | varint32 elen | end
 *
 * A rep read back (WAL replay) is parsed strictly: the count must match
 * the records, nothing may follow them, every length must fit in the
 * input and within LSMER_MAX_KEY / LSMER_MAX_VALUE, and varints must be
 * canonical enough for get_varint32. Anything else is -LSMER_ECORRUPT.
 *
 * A range delete whose end <= start is recorded as given (it takes a
 * sequence number) and deletes nothing.
 *
 * Ownership: a batch owns its rep; slices returned by batch_rep() point
 * into it and are valid until the batch changes. Not thread-safe: one
 * thread uses a batch at a time (lsmer_write only reads it).
 */
#ifndef LSMER_BATCH_H
#define LSMER_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "lsmer.h"

#include "coding.h"

#define BATCH_HEADER 12

/* The whole representation, header included. */
struct slice batch_rep(const lsmer_batch *b);
void batch_set_sequence(lsmer_batch *b, uint64_t seq);
/* Header fields of a rep; the rep must be at least BATCH_HEADER bytes
 * (0 otherwise). */
uint64_t batch_sequence(struct slice rep);
uint32_t batch_count_rep(struct slice rep);

/* Sum of key and value lengths written by the records (stats). */
size_t batch_user_bytes(const lsmer_batch *b);

/* One operation outside any batch (lsmer_put and friends go to the write
 * queue this way, and the group's leader copies them into its batch once):
 * type TYPE_VALUE (k, v), TYPE_DELETE (k), TYPE_RANGE_DELETE ([k, v)).
 * batch_op_check: -EINVAL for what lsmer_batch_put/delete/delete_range
 * refuse, else 0. batch_add_op: checks, then appends the record to b (0,
 * -EINVAL or -ENOMEM). batch_op_user_bytes: what the record adds to
 * batch_user_bytes. */
int batch_op_check(int type, const void *k, size_t kn, const void *v, size_t vn);
int batch_add_op(lsmer_batch *b, int type, const void *k, size_t kn, const void *v, size_t vn);
size_t batch_op_user_bytes(int type, size_t kn, size_t vn);

/* Appends the records of src_rep to dst and adds the counts (group
 * commit). src_rep is validated; dst is unchanged on failure. 0,
 * -LSMER_ECORRUPT, -EINVAL (count would overflow) or -ENOMEM. */
int batch_append_rep(lsmer_batch *dst, struct slice src_rep);

/* Replaces b's contents by a copy of rep after validating it. 0,
 * -LSMER_ECORRUPT (b unchanged) or -ENOMEM. */
int batch_from_rep(lsmer_batch *b, struct slice rep);

/* Validates the whole rep, then calls fn for each record in order with its
 * type (TYPE_VALUE: key, value; TYPE_DELETE: key, empty value;
 * TYPE_RANGE_DELETE: start, end). fn is never called on a malformed rep.
 * Returns 0, -LSMER_ECORRUPT, or the first non-zero value fn returns
 * (which stops the walk). Slices point into rep. */
int batch_iterate(struct slice rep,
                  int (*fn)(void *arg, int type, struct slice key, struct slice value), void *arg);

#endif /* LSMER_BATCH_H */
