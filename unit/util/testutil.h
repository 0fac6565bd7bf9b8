/*
 * testutil.h — helpers every unit test shares: a seeded random number
 * generator whose seed is printed (and can be forced with LSMER_SEED=n so a
 * failure reproduces), scratch directories under $LSMER_TEST_TMP (or /tmp)
 * that are removed afterwards, a recursive remove, and how much to run.
 */
#ifndef LSMER_TESTUTIL_H
#define LSMER_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

struct rng {
    uint64_t s;
};

/* Seed from $LSMER_SEED or the clock; prints "name: seed N" to stderr. */
uint64_t test_seed(const char *name);
void rng_init(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t rng_uniform(struct rng *r, uint64_t n);
/* 1 with probability 1/n. */
int rng_one_in(struct rng *r, uint64_t n);
void rng_bytes(struct rng *r, void *buf, size_t n);

/* A new empty directory; caller frees the string after test_rmdir(). */
char *test_tmpdir(const char *name);
/* rm -rf path. */
void test_rmtree(const char *path);
/* Scale for long randomized tests: $LSMER_TEST_SCALE (default 1.0). */
double test_scale(void);

/* 1 in a build with AddressSanitizer (gcc or clang), else 0: long
 * randomized tests run fewer trials there, where each costs several times
 * more. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#endif
