/*
 * bench_hist.h — a log-bucketed latency histogram.
 *
 * Values (nanoseconds) go into buckets whose width grows with the value:
 * 32 linear sub-buckets per power of two, so any percentile is reported
 * within about 3% of the true sample, in fixed memory (about 15 KiB),
 * without storing or sorting the samples. Not thread-safe: give each thread
 * its own histogram and merge them afterwards.
 */
#ifndef LSMER_BENCH_HIST_H
#define LSMER_BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct bench_hist {
    uint64_t count;
    uint64_t min, max;
    double sum;
    uint64_t bucket[HIST_BUCKETS];
};

void hist_init(struct bench_hist *h);
void hist_add(struct bench_hist *h, uint64_t v);
void hist_merge(struct bench_hist *dst, const struct bench_hist *src);
/* The value at quantile q in [0, 1] (midpoint of its bucket, clamped to the
 * observed min and max); 0 for an empty histogram. */
double hist_quantile(const struct bench_hist *h, double q);
/* Bucket index of v and the lowest value of a bucket (exposed for tests). */
unsigned hist_bucket_of(uint64_t v);
uint64_t hist_bucket_low(unsigned idx);

#endif /* LSMER_BENCH_HIST_H */
