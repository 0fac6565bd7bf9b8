/*
 * bloom.h — the bloom filter each table carries over its user keys, so a
 * point lookup can skip a table that certainly lacks the key.
 *
 * Format: a bit array of m bits (m >= 64, rounded up to whole bytes) followed
 * by one byte k, the number of probes. Key hash h (bloom_hash) sets the bits
 * h, h + d, h + 2d, ... (32-bit arithmetic, then mod m) for k probes, with
 * d an odd remix of h (double hashing: two hash functions from one 32-bit
 * hash; see bloom_delta in bloom.c for why not LevelDB's rotation). k is
 * bits_per_key * ln 2, clamped to [1, 30]; about 1% false positives at 10
 * bits per key.
 *
 * A filter that does not parse (shorter than 2 bytes, or k > 30, which a
 * future format may use for another scheme) answers "may match": a damaged
 * or unknown filter costs a read, never a missed key.
 *
 * Pure functions; thread-safe.
 */
#ifndef LSMER_BLOOM_H
#define LSMER_BLOOM_H

#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "coding.h"

/* The key's hash for table filters: bloom_hash64 folded to 32 bits (the
 * table format stores filters built from these). */
uint32_t bloom_hash(struct slice key);
/* The full 64-bit hash (also used by the memtable's filter). */
uint64_t bloom_hash64(struct slice key);

/* Appends a filter for the n hashes to out. bits_per_key <= 0 is treated as
 * 1. Returns 0 or -ENOMEM. */
int bloom_build(const uint32_t *hashes, size_t n, int bits_per_key, struct buffer *out);

/* 0 only if the key whose hash is h was certainly not added. */
int bloom_may_match(struct slice filter, uint32_t hash);

#endif /* LSMER_BLOOM_H */
