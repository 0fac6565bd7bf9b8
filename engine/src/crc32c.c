/* crc32c.c — CRC-32C with the SSE4.2 instruction when present (see crc32c.h). */
#include "crc32c.h"

#include <string.h>

static uint32_t table[8][256];
static int hw;

#if defined(__x86_64__)
#include <cpuid.h>

/* The crc32 instruction takes 3 cycles but can start one per cycle, so one
 * dependent chain uses a third of it. Long inputs are cut into three equal
 * streams that run interleaved, then joined: the CRC of A||B is the CRC of A
 * advanced over |B| zero bytes, xor the CRC of B from zero. Advancing a CRC
 * over L zero bytes is linear in the CRC, so it is a 32x32 bit matrix, kept
 * as four 256-entry tables (one per byte of the CRC) for each stream
 * length. */
#define CRC_LONG 2048 /* bytes per stream: 6 KiB per round */
#define CRC_SHORT 256 /* then 768-byte rounds for what is left */
_Static_assert(CRC_SHORT > 0 && CRC_SHORT % 8 == 0 && CRC_LONG % 8 == 0 && CRC_SHORT <= CRC_LONG,
               "stream lengths: whole 8-byte words, the zero buffer is CRC_LONG long");
static uint32_t crc_long_zeros[4][256], crc_short_zeros[4][256];

static inline uint32_t crc_advance(const uint32_t t[4][256], uint32_t c)
{
    return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff] ^ t[3][c >> 24];
}

__attribute__((target("sse4.2"))) static uint64_t crc_hw_one(uint64_t c, const uint8_t *p, size_t n)
{
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        n -= 8;
    }
    while (n--) c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return c;
}

/* Rounds of three interleaved streams of len bytes each, while they fit. */
__attribute__((target("sse4.2"))) static uint64_t
crc_hw_three(uint64_t c, const uint8_t **pp, size_t *np, size_t len, const uint32_t t[4][256])
{
    const uint8_t *p = *pp;
    size_t n = *np;
    while (n >= 3 * len) {
        uint64_t c1 = 0, c2 = 0;
        const uint8_t *end = p + len;
        do {
            uint64_t a, b, d;
            memcpy(&a, p, 8);
            memcpy(&b, p + len, 8);
            memcpy(&d, p + 2 * len, 8);
            c = __builtin_ia32_crc32di(c, a);
            c1 = __builtin_ia32_crc32di(c1, b);
            c2 = __builtin_ia32_crc32di(c2, d);
            p += 8;
        } while (p < end);
        c = crc_advance(t, (uint32_t)c) ^ (uint32_t)c1;
        c = crc_advance(t, (uint32_t)c) ^ (uint32_t)c2;
        p += 2 * len;
        n -= 3 * len;
    }
    *pp = p;
    *np = n;
    return c;
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t n)
{
    uint64_t c = crc;
    while (n && ((uintptr_t)p & 7)) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        n--;
    }
    c = crc_hw_three(c, &p, &n, CRC_LONG, crc_long_zeros);
    c = crc_hw_three(c, &p, &n, CRC_SHORT, crc_short_zeros);
    return (uint32_t)crc_hw_one(c, p, n);
}

/* The tables that advance a CRC over len zero bytes: the image of each of
 * the 32 unit vectors, combined per byte value by linearity. */
static void crc_zeros_tables(uint32_t t[4][256], size_t len)
{
    static const uint8_t zeros[CRC_LONG];
    uint32_t unit[32];
    for (int j = 0; j < 32; j++) unit[j] = (uint32_t)crc_hw_one(1u << j, zeros, len);
    for (int k = 0; k < 4; k++)
        for (unsigned b = 0; b < 256; b++) {
            uint32_t v = 0;
            for (int i = 0; i < 8; i++)
                if (b & (1u << i)) v ^= unit[8 * k + i];
            t[k][b] = v;
        }
}
#endif

/* Slicing-by-8 tables for the portable path. */
__attribute__((constructor)) static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d)) hw = (c & bit_SSE4_2) != 0;
    if (hw) {
        crc_zeros_tables(crc_long_zeros, CRC_LONG);
        crc_zeros_tables(crc_short_zeros, CRC_SHORT);
    }
#endif
}

static uint32_t crc_sw(uint32_t crc, const uint8_t *p, size_t n)
{
    while (n && ((uintptr_t)p & 7)) {
        crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        n--;
    }
    while (n >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
              table[4][lo >> 24] ^ table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^
              table[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--) crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = data;
    crc = ~crc;
#if defined(__x86_64__)
    if (hw) return ~crc_hw(crc, p, n);
#endif
    return ~crc_sw(crc, p, n);
}

int crc32c_hw_available(void)
{
    return hw;
}

/* Exposed for the unit test that checks both paths agree. */
uint32_t crc32c_portable(uint32_t crc, const void *data, size_t n);
uint32_t crc32c_portable(uint32_t crc, const void *data, size_t n)
{
    return ~crc_sw(~crc, data, n);
}
