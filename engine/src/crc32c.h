/*
 * crc32c.h — CRC-32C (Castagnoli), the checksum on every record and block.
 * Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise;
 * both give identical results.
 *
 * Stored checksums are masked (rotated and offset, as LevelDB does) so that a
 * CRC computed over data that itself contains CRCs does not degenerate.
 */
#ifndef LSMER_CRC32C_H
#define LSMER_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) with n bytes. */
uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n);

static inline uint32_t crc32c(const void *data, size_t n)
{
    return crc32c_extend(0, data, n);
}

#define CRC32C_MASK_DELTA 0xa282ead8u

static inline uint32_t crc32c_mask(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + CRC32C_MASK_DELTA;
}
static inline uint32_t crc32c_unmask(uint32_t m)
{
    uint32_t r = m - CRC32C_MASK_DELTA;
    return (r >> 17) | (r << 15);
}

/* 1 if the hardware path is in use (for tests and stats). */
int crc32c_hw_available(void);

#endif /* LSMER_CRC32C_H */
