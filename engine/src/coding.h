/*
 * coding.h — byte-level encodings shared by every on-disk format: fixed-width
 * little-endian integers (record headers, trailers), big-endian integers
 * (keys that must sort numerically), LEB128 varints, and length-prefixed
 * byte strings; plus the slice type (pointer + length, not owned).
 *
 * Decoders take a [p, limit) window and return NULL when the input is
 * truncated or malformed, never reading past limit.
 */
#ifndef LSMER_CODING_H
#define LSMER_CODING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct slice {
    const uint8_t *p;
    size_t n;
};

static inline struct slice slice_make(const void *p, size_t n)
{
    struct slice s = {(const uint8_t *)p, n};
    return s;
}

/* memcmp order, shorter first on a tie. */
static inline int slice_compare(struct slice a, struct slice b)
{
    size_t m = a.n < b.n ? a.n : b.n;
    int c = m ? memcmp(a.p, b.p, m) : 0;
    if (c) return c;
    return a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
}

static inline void put_fixed32(uint8_t *d, uint32_t v)
{
    d[0] = (uint8_t)v;
    d[1] = (uint8_t)(v >> 8);
    d[2] = (uint8_t)(v >> 16);
    d[3] = (uint8_t)(v >> 24);
}
static inline void put_fixed64(uint8_t *d, uint64_t v)
{
    put_fixed32(d, (uint32_t)v);
    put_fixed32(d + 4, (uint32_t)(v >> 32));
}
static inline uint32_t get_fixed32(const uint8_t *s)
{
    return (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
}
static inline uint64_t get_fixed64(const uint8_t *s)
{
    return (uint64_t)get_fixed32(s) | (uint64_t)get_fixed32(s + 4) << 32;
}
static inline void put_be32(uint8_t *d, uint32_t v)
{
    d[0] = (uint8_t)(v >> 24);
    d[1] = (uint8_t)(v >> 16);
    d[2] = (uint8_t)(v >> 8);
    d[3] = (uint8_t)v;
}
static inline void put_be64(uint8_t *d, uint64_t v)
{
    put_be32(d, (uint32_t)(v >> 32));
    put_be32(d + 4, (uint32_t)v);
}
static inline uint32_t get_be32(const uint8_t *s)
{
    return (uint32_t)s[0] << 24 | (uint32_t)s[1] << 16 | (uint32_t)s[2] << 8 | (uint32_t)s[3];
}
static inline uint64_t get_be64(const uint8_t *s)
{
    return (uint64_t)get_be32(s) << 32 | get_be32(s + 4);
}

#define VARINT64_MAX 10

/* Writes v at d, returns the byte after it (at most 5 / 10 bytes). */
uint8_t *put_varint32(uint8_t *d, uint32_t v);
uint8_t *put_varint64(uint8_t *d, uint64_t v);
int varint_length(uint64_t v);
/* NULL if truncated or too long. Inline for the one-byte case (lengths in
 * blocks, memtable entries and records are mostly < 128): decoding them is
 * on every key comparison of a memtable or block search. */
const uint8_t *get_varint32_slow(const uint8_t *p, const uint8_t *limit, uint32_t *v);
const uint8_t *get_varint64_slow(const uint8_t *p, const uint8_t *limit, uint64_t *v);
static inline const uint8_t *get_varint32(const uint8_t *p, const uint8_t *limit, uint32_t *v)
{
    if (p < limit && *p < 0x80) {
        *v = *p;
        return p + 1;
    }
    return get_varint32_slow(p, limit, v);
}
static inline const uint8_t *get_varint64(const uint8_t *p, const uint8_t *limit, uint64_t *v)
{
    if (p < limit && *p < 0x80) {
        *v = *p;
        return p + 1;
    }
    return get_varint64_slow(p, limit, v);
}
/* varint32 length then bytes; *out points into the input. */
const uint8_t *get_length_prefixed(const uint8_t *p, const uint8_t *limit, struct slice *out);

#endif /* LSMER_CODING_H */
