/* buffer.c — growable byte buffer (see buffer.h). */
#include "buffer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int buffer_reserve(struct buffer *b, size_t extra)
{
    if (b->cap - b->n >= extra) return 0;
    if (extra > SIZE_MAX / 2 - b->n) return -ENOMEM;
    size_t want = b->n + extra, cap = b->cap ? b->cap : 64;
    while (cap < want) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int buffer_append(struct buffer *b, const void *data, size_t n)
{
    int rc = buffer_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
    return 0;
}

int buffer_append_byte(struct buffer *b, uint8_t c)
{
    return buffer_append(b, &c, 1);
}

int buffer_append_varint(struct buffer *b, uint64_t v)
{
    uint8_t tmp[VARINT64_MAX];
    return buffer_append(b, tmp, (size_t)(put_varint64(tmp, v) - tmp));
}

int buffer_append_fixed32(struct buffer *b, uint32_t v)
{
    uint8_t tmp[4];
    put_fixed32(tmp, v);
    return buffer_append(b, tmp, 4);
}

int buffer_append_fixed64(struct buffer *b, uint64_t v)
{
    uint8_t tmp[8];
    put_fixed64(tmp, v);
    return buffer_append(b, tmp, 8);
}

int buffer_append_length_prefixed(struct buffer *b, const void *data, size_t n)
{
    if (n > UINT32_MAX) return -EINVAL;
    size_t old = b->n;
    int rc = buffer_append_varint(b, n);
    if (!rc) rc = buffer_append(b, data, n);
    if (rc) b->n = old;
    return rc;
}

int buffer_set(struct buffer *b, const void *data, size_t n)
{
    b->n = 0;
    return buffer_append(b, data, n);
}

void buffer_free(struct buffer *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}
