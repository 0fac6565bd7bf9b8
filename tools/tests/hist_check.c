/*
 * hist_check.c — checks the benchmark's log-bucketed histogram against
 * exact quantiles of the same samples (sorted), plus edge cases: empty,
 * one value, small values that are exact, the largest uint64, merging.
 * Seeded; LSMER_SEED reproduces a run. Prints "N passed, M failed".
 */
#include "bench_hist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void check_buckets(void)
{
    /* Every value falls in a bucket whose range contains it, and bucket
     * indexes never decrease as values grow. */
    unsigned prev = 0;
    for (uint64_t v = 0; v < 100000; v++) {
        unsigned b = hist_bucket_of(v);
        if (b < prev || hist_bucket_low(b) > v || b >= HIST_BUCKETS ||
            (b + 1 < HIST_BUCKETS && hist_bucket_low(b + 1) <= v)) {
            CHECK(0, "value %llu in bucket %u [%llu, %llu)", (unsigned long long)v, b,
                  (unsigned long long)hist_bucket_low(b),
                  (unsigned long long)hist_bucket_low(b + 1));
            return;
        }
        prev = b;
    }
    passed++;
    CHECK(hist_bucket_of(UINT64_MAX) == HIST_BUCKETS - 1, "UINT64_MAX goes to the last bucket");
    for (uint64_t v = 0; v < HIST_SUB; v++) CHECK(hist_bucket_of(v) == v, "small values exact");
}

static void check_quantiles(uint64_t seed)
{
    enum { N = 200000 };
    uint64_t *xs = malloc(N * sizeof(*xs));
    struct bench_hist *h = malloc(sizeof(*h)), *h2 = malloc(sizeof(*h2));
    if (!xs || !h || !h2) {
        CHECK(0, "out of memory");
        goto out;
    }
    hist_init(h);
    hist_init(h2);
    for (int i = 0; i < N; i++) {
        /* Log-uniform from 1 ns to about 1 s, like latencies. */
        double e = (double)(rng(&seed) >> 11) / 9007199254740992.0 * 30.0;
        xs[i] = (uint64_t)pow(2.0, e);
        /* Half into each histogram, to check merging too. */
        hist_add(i % 2 ? h : h2, xs[i]);
    }
    hist_merge(h, h2);
    qsort(xs, N, sizeof(*xs), cmp_u64);
    CHECK(h->count == N, "count %llu", (unsigned long long)h->count);
    CHECK(h->min == xs[0] && h->max == xs[N - 1], "min/max");
    static const double qs[] = {0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0};
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        size_t rank = (size_t)ceil(qs[i] * N);
        if (rank < 1) rank = 1;
        double exact = (double)xs[rank - 1], got = hist_quantile(h, qs[i]);
        double err = fabs(got - exact) / (exact > 0 ? exact : 1);
        /* Bucket width is 1/32 of the value: half of that from the midpoint,
         * plus an absolute 1 for the tiny exact buckets. */
        CHECK(err <= 1.0 / 32 || fabs(got - exact) <= 1, "q=%g: got %.1f, exact %.1f (%.2f%%)",
              qs[i], got, exact, 100 * err);
    }
out:
    free(xs);
    free(h);
    free(h2);
}

static void check_edges(void)
{
    struct bench_hist h;
    hist_init(&h);
    CHECK(hist_quantile(&h, 0.5) == 0, "empty histogram gives 0");
    hist_add(&h, 12345);
    CHECK(hist_quantile(&h, 0.0) == 12345 && hist_quantile(&h, 0.999) == 12345,
          "one sample is every quantile (clamped to min/max): %f", hist_quantile(&h, 0.5));
    hist_init(&h);
    hist_add(&h, UINT64_MAX);
    hist_add(&h, 0);
    CHECK(hist_quantile(&h, 1.0) == (double)UINT64_MAX, "largest value");
    CHECK(hist_quantile(&h, 0.5) == 0, "p50 of {0, max} is 0");
    CHECK(hist_quantile(&h, -1) == 0 && hist_quantile(&h, 2) == (double)UINT64_MAX,
          "quantiles outside [0,1] are clamped");
}

int main(void)
{
    const char *env = getenv("LSMER_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0) : 0x1234abcdull;
    printf("hist_check: seed %llu (LSMER_SEED reproduces)\n", (unsigned long long)seed);
    check_buckets();
    check_quantiles(seed);
    check_edges();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
