/* coding.c — varint encoders and decoders (see coding.h). */
#include "coding.h"

uint8_t *put_varint32(uint8_t *d, uint32_t v)
{
    return put_varint64(d, v);
}

uint8_t *put_varint64(uint8_t *d, uint64_t v)
{
    while (v >= 0x80) {
        *d++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *d++ = (uint8_t)v;
    return d;
}

int varint_length(uint64_t v)
{
    int n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

const uint8_t *get_varint64_slow(const uint8_t *p, const uint8_t *limit, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift <= 63 && p < limit; shift += 7) {
        uint64_t b = *p++;
        if (shift == 63 && b > 1) return NULL; /* would overflow 64 bits */
        r |= (b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return p;
        }
    }
    return NULL;
}

const uint8_t *get_varint32_slow(const uint8_t *p, const uint8_t *limit, uint32_t *v)
{
    uint64_t r;
    const uint8_t *q = get_varint64_slow(p, limit, &r);
    if (!q || r > UINT32_MAX) return NULL;
    *v = (uint32_t)r;
    return q;
}

const uint8_t *get_length_prefixed(const uint8_t *p, const uint8_t *limit, struct slice *out)
{
    uint32_t n;
    p = get_varint32(p, limit, &n);
    if (!p || (size_t)(limit - p) < n) return NULL;
    out->p = p;
    out->n = n;
    return p + n;
}
