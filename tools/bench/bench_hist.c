/*
 * bench_hist.c — log-bucketed histogram (see bench_hist.h).
 *
 * Bucket layout: values below HIST_SUB are their own bucket. A larger value
 * with its highest set bit at position m (m >= HIST_SUB_BITS) falls into
 * octave m - HIST_SUB_BITS + 1, and within it into one of HIST_SUB equal
 * slices chosen by the HIST_SUB_BITS bits below the highest one.
 */
#include "bench_hist.h"

#include <string.h>

void hist_init(struct bench_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

unsigned hist_bucket_of(uint64_t v)
{
    if (v < HIST_SUB) return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - HIST_SUB_BITS;
    return (shift + 1) * HIST_SUB + (unsigned)((v >> shift) & (HIST_SUB - 1));
}

uint64_t hist_bucket_low(unsigned idx)
{
    if (idx < HIST_SUB) return idx;
    unsigned shift = idx / HIST_SUB - 1;
    uint64_t sub = idx % HIST_SUB;
    return (HIST_SUB + sub) << shift;
}

static uint64_t bucket_width(unsigned idx)
{
    return idx < HIST_SUB ? 1 : (uint64_t)1 << (idx / HIST_SUB - 1);
}

void hist_add(struct bench_hist *h, uint64_t v)
{
    h->bucket[hist_bucket_of(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v < h->min) h->min = v;
    if (v > h->max) h->max = v;
}

void hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++) dst->bucket[i] += src->bucket[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min) dst->min = src->min;
    if (src->max > dst->max) dst->max = src->max;
}

double hist_quantile(const struct bench_hist *h, double q)
{
    if (h->count == 0) return 0;
    if (q < 0) q = 0;
    if (q > 1) q = 1;
    /* The sample of rank ceil(q * count), counting from 1. */
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
    if (rank < 1) rank = 1;
    /* The extremes are known exactly. */
    if (rank >= h->count) return (double)h->max;
    if (rank == 1) return (double)h->min;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            double mid = (double)hist_bucket_low(i) + (double)(bucket_width(i) - 1) / 2.0;
            if (mid < (double)h->min) mid = (double)h->min;
            if (mid > (double)h->max) mid = (double)h->max;
            return mid;
        }
    }
    return (double)h->max;
}
