/*
 * dbformat.h — internal keys: how a user key, a sequence number and an entry
 * type are packed into the keys the memtable and the tables sort by.
 *
 *   internal key = user key | trailer (8 bytes, little-endian)
 *   trailer      = sequence << 8 | type
 *
 * Order: user key ascending (memcmp, shorter first), then sequence
 * descending, then type descending — so for one user key the newest version
 * comes first, and a lookup key (user key, snapshot seq, TYPE_SEEK) lands on
 * the newest version visible at that snapshot.
 *
 * Range tombstones live apart from point entries (in the memtable's and each
 * table's range-deletion list): internal key (start, seq, TYPE_RANGE_DELETE),
 * value = end user key (exclusive).
 *
 * The value of a TYPE_VALUE entry is the user's value. When large values move
 * out of the tree, a new type will mark a blob reference; readers resolve
 * values only through value_resolve() in the db layer, the one seam.
 */
#ifndef LSMER_DBFORMAT_H
#define LSMER_DBFORMAT_H

#include <stdint.h>

#include "buffer.h"
#include "coding.h"

enum entry_type {
    TYPE_DELETE = 0,
    TYPE_VALUE = 1,
    TYPE_RANGE_DELETE = 2,
};
/* Highest type: a lookup key built with it sorts before every real entry of
 * the same user key and sequence. */
#define TYPE_SEEK TYPE_RANGE_DELETE

#define SEQ_MAX ((UINT64_C(1) << 56) - 1)
#define IKEY_TRAILER 8

static inline uint64_t ikey_pack_trailer(uint64_t seq, int type)
{
    return seq << 8 | (uint64_t)type;
}

/* Appends user key + trailer. */
int ikey_append(struct buffer *b, const void *ukey, size_t n, uint64_t seq, int type);

/* Writes into dst (room for n + 8). */
static inline void ikey_write(uint8_t *dst, const void *ukey, size_t n, uint64_t seq, int type)
{
    if (n) memcpy(dst, ukey, n);
    put_fixed64(dst + n, ikey_pack_trailer(seq, type));
}

/* Callers must have checked k.n >= IKEY_TRAILER (ikey_valid). */
static inline struct slice ikey_user(struct slice k)
{
    return slice_make(k.p, k.n - IKEY_TRAILER);
}
static inline uint64_t ikey_trailer(struct slice k)
{
    return get_fixed64(k.p + k.n - IKEY_TRAILER);
}
static inline uint64_t ikey_seq(struct slice k)
{
    return ikey_trailer(k) >> 8;
}
static inline int ikey_type(struct slice k)
{
    return (int)(ikey_trailer(k) & 0xff);
}
static inline int ikey_valid(struct slice k)
{
    return k.n >= IKEY_TRAILER && (ikey_trailer(k) & 0xff) <= TYPE_RANGE_DELETE;
}

/* The internal key order described above (inline: it is the comparison of
 * every memtable and block search). */
static inline int ikey_compare(struct slice a, struct slice b)
{
    int c = slice_compare(ikey_user(a), ikey_user(b));
    if (c) return c;
    uint64_t ta = ikey_trailer(a), tb = ikey_trailer(b);
    return ta > tb ? -1 : ta < tb ? 1 : 0;
}

/* Same, as a plain function for generic code (blocks, skiplist). */
int ikey_compare_raw(const void *a, size_t an, const void *b, size_t bn);

/* memcmp order on plain byte strings (user keys, meta blocks). */
int bytewise_compare_raw(const void *a, size_t an, const void *b, size_t bn);

typedef int (*key_compare_fn)(const void *a, size_t an, const void *b, size_t bn);

/* Shortens *start to a key k with start <= k < limit (index separators);
 * both are internal keys. Leaves start unchanged if no shorter key exists. */
int ikey_shortest_separator(struct buffer *start, struct slice limit);
/* Shortens *key to a short internal key >= it (last index entry). */
int ikey_short_successor(struct buffer *key);

#endif /* LSMER_DBFORMAT_H */
