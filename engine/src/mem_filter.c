/* mem_filter.c — the memtable's blocked bloom filter (see mem_filter.h). */
#include "mem_filter.h"

#include <errno.h>
#include <stdlib.h>

#define MF_WORDS_PER_LINE 8 /* 64 bytes: one cache line */
#define MF_PROBES 6

int mem_filter_init(struct mem_filter *f, size_t bytes)
{
    f->words = NULL;
    f->lines = 0;
    size_t lines = bytes / (MF_WORDS_PER_LINE * sizeof(uint64_t));
    if (lines > UINT32_MAX) lines = UINT32_MAX;
    if (lines == 0) return 0;
    /* Zeroed: fresh pages from the kernel, or (once glibc raised its mmap
     * threshold) a memset of the heap block — tens of microseconds for a
     * MiB, once per memtable. */
    f->words = calloc(lines * MF_WORDS_PER_LINE, sizeof(*f->words));
    if (!f->words) return -ENOMEM;
    f->lines = (uint32_t)lines;
    return 0;
}

void mem_filter_destroy(struct mem_filter *f)
{
    free(f->words);
    f->words = NULL;
    f->lines = 0;
}

/* The line: the high 32 bits of the hash scaled to [0, lines) (a multiply,
 * not a modulo). The probes: 9-bit bit numbers within the line's 512 bits,
 * taken from a remix of the whole hash, so they do not repeat the bits that
 * chose the line. */
static inline _Atomic uint64_t *mf_line(const struct mem_filter *f, uint64_t hash)
{
    uint64_t line = ((hash >> 32) * (uint64_t)f->lines) >> 32;
    return f->words + line * MF_WORDS_PER_LINE;
}

static inline uint64_t mf_probe_bits(uint64_t hash)
{
    uint64_t g = hash * 0x9e3779b97f4a7c15ull;
    return g ^ (g >> 29);
}

void mem_filter_add(struct mem_filter *f, uint64_t hash)
{
    if (!f->words) return;
    _Atomic uint64_t *line = mf_line(f, hash);
    uint64_t g = mf_probe_bits(hash);
    for (int i = 0; i < MF_PROBES; i++, g >>= 9) {
        unsigned bit = (unsigned)(g & 511);
        /* One writer: a load and a store, no locked read-modify-write. */
        uint64_t w = atomic_load_explicit(&line[bit / 64], memory_order_relaxed);
        atomic_store_explicit(&line[bit / 64], w | (1ull << (bit % 64)), memory_order_relaxed);
    }
}

void mem_filter_prefetch(const struct mem_filter *f, uint64_t hash)
{
    if (f->words) __builtin_prefetch((const void *)mf_line(f, hash), 1);
}

int mem_filter_may_contain(const struct mem_filter *f, uint64_t hash)
{
    if (!f->words) return 1;
    _Atomic uint64_t *line = mf_line(f, hash);
    uint64_t g = mf_probe_bits(hash);
    for (int i = 0; i < MF_PROBES; i++, g >>= 9) {
        unsigned bit = (unsigned)(g & 511);
        uint64_t w = atomic_load_explicit(&line[bit / 64], memory_order_relaxed);
        if (!(w & (1ull << (bit % 64)))) return 0;
    }
    return 1;
}

size_t mem_filter_bytes(const struct mem_filter *f)
{
    return (size_t)f->lines * MF_WORDS_PER_LINE * sizeof(uint64_t);
}
