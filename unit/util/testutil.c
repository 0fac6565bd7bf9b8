/* testutil.c — seeds, rng and scratch directories for unit tests. */
#include "testutil.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t test_seed(const char *name)
{
    const char *e = getenv("LSMER_SEED");
    uint64_t seed;
    if (e && *e) {
        seed = strtoull(e, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 20;
    }
    fprintf(stderr, "%s: seed %llu (rerun with LSMER_SEED=%llu)\n", name, (unsigned long long)seed,
            (unsigned long long)seed);
    return seed;
}

void rng_init(struct rng *r, uint64_t seed)
{
    r->s = seed ^ 0x9e3779b97f4a7c15ull;
}

uint64_t rng_next(struct rng *r)
{
    /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t rng_uniform(struct rng *r, uint64_t n)
{
    return rng_next(r) % n;
}

int rng_one_in(struct rng *r, uint64_t n)
{
    return rng_uniform(r, n) == 0;
}

void rng_bytes(struct rng *r, void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n) {
        uint64_t v = rng_next(r);
        size_t k = n < 8 ? n : 8;
        memcpy(p, &v, k);
        p += k;
        n -= k;
    }
}

char *test_tmpdir(const char *name)
{
    const char *base = getenv("LSMER_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    mkdir(base, 0755);
    size_t n = strlen(base) + strlen(name) + 32;
    char *p = malloc(n);
    if (!p) abort();
    snprintf(p, n, "%s/%s.XXXXXX", base, name);
    if (!mkdtemp(p)) {
        fprintf(stderr, "mkdtemp %s: %s\n", p, strerror(errno));
        abort();
    }
    return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void test_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

double test_scale(void)
{
    const char *e = getenv("LSMER_TEST_SCALE");
    double s = e ? atof(e) : 1.0;
    return s > 0 ? s : 1.0;
}
