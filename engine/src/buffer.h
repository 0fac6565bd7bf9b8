/*
 * buffer.h — a growable byte buffer (struct buffer) used to build records,
 * blocks and keys. Zero-initialise it (BUFFER_INIT); buffer_free() releases
 * it. Appends return 0 or -ENOMEM and leave the contents unchanged on
 * failure. Not thread-safe.
 */
#ifndef LSMER_BUFFER_H
#define LSMER_BUFFER_H

#include <stddef.h>
#include <stdint.h>

#include "coding.h"

struct buffer {
    uint8_t *p;
    size_t n;
    size_t cap;
};
#define BUFFER_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

int buffer_reserve(struct buffer *b, size_t extra); /* room for extra more bytes */
int buffer_append(struct buffer *b, const void *data, size_t n);
int buffer_append_byte(struct buffer *b, uint8_t c);
int buffer_append_varint(struct buffer *b, uint64_t v);
int buffer_append_fixed32(struct buffer *b, uint32_t v);
int buffer_append_fixed64(struct buffer *b, uint64_t v);
int buffer_append_length_prefixed(struct buffer *b, const void *data, size_t n);
int buffer_set(struct buffer *b, const void *data, size_t n);
static inline void buffer_clear(struct buffer *b)
{
    b->n = 0;
}
static inline struct slice buffer_slice(const struct buffer *b)
{
    return slice_make(b->p, b->n);
}
void buffer_free(struct buffer *b);

#endif /* LSMER_BUFFER_H */
