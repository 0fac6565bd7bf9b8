/*
 * fuzz_main.c — a plain mutation driver for a fuzz target (see fuzz.h),
 * for compilers without libFuzzer and for the test suite.
 *
 *   fuzz_T [--seconds N] [--runs N] [--seed S]   mutate the target's seed inputs
 *   fuzz_T FILE...                               run each file once (a saved crash)
 *   fuzz_T --write-seeds DIR                     the seed inputs as files (a corpus
 *                                                for the libFuzzer build)
 *
 * Inputs are the seed inputs mutated a few times each (bit flips, bytes set
 * to edge values, ranges inserted, deleted, copied or cut off, pieces of
 * two inputs joined); some mutants join the pool, so damage accumulates.
 * Everything follows from the seed, which is printed. A failing input
 * (a sanitizer report, an abort, a fault) is also written to
 * crash-T-SEED-RUN.bin in the current directory.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_SANITIZER 1
#endif
#endif
#ifdef FUZZ_SANITIZER
#include <sanitizer/common_interface_defs.h>
#endif

#define POOL_MAX 64
#define INPUT_MAX (4u << 20)

struct input {
    uint8_t *p;
    size_t n;
};

static struct input pool[POOL_MAX];
static size_t npool;
static const char *target = "target";
static uint64_t seed;
static uint64_t run;
static const uint8_t *cur;
static size_t cur_n;
static const char *replaying; /* the file being run, in FILE mode */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}
static size_t below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static void pool_add(void *arg, const uint8_t *bytes, size_t n)
{
    (void)arg;
    if (npool == POOL_MAX || n > INPUT_MAX) return;
    uint8_t *p = malloc(n ? n : 1);
    if (!p) return;
    if (n) memcpy(p, bytes, n);
    pool[npool++] = (struct input){p, n};
}

static void save_crash(void)
{
    if (replaying) {
        fprintf(stderr, "%s: %s fails\n", target, replaying);
        return;
    }
    char name[256];
    snprintf(name, sizeof(name), "crash-%s-%llu-%llu.bin", target, (unsigned long long)seed,
             (unsigned long long)run);
    fprintf(stderr, "%s: run %llu of seed %llu failed; its input is in %s\n", target,
            (unsigned long long)run, (unsigned long long)seed, name);
    if (cur) fuzz_write_file(name, cur, cur_n);
}

#ifndef FUZZ_SANITIZER
/* Without a sanitizer: the same on a fatal signal (a target's own check
 * aborts; a wild pointer faults), then the signal's default action. Not
 * async-signal-safe, but the process is dying and a lost input is the
 * worst outcome. */
static void on_fatal_signal(int sig)
{
    static volatile sig_atomic_t once;
    if (!once) {
        once = 1;
        save_crash();
    }
    signal(sig, SIG_DFL);
    raise(sig);
}
#endif

/* buf holds n bytes with room for cap; returns the new length. */
static size_t mutate_once(uint8_t *buf, size_t n, size_t cap)
{
    static const uint8_t edge[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe};
    switch (below(8)) {
    case 0: /* flip a bit */
        if (n) buf[below(n)] ^= (uint8_t)(1u << below(8));
        return n;
    case 1: /* an edge value */
        if (n) buf[below(n)] = edge[below(sizeof(edge))];
        return n;
    case 2: /* a random byte */
        if (n) buf[below(n)] = (uint8_t)rnd();
        return n;
    case 3: { /* cut off the tail */
        return n ? below(n + 1) : 0;
    }
    case 4: { /* delete a range */
        if (!n) return n;
        size_t at = below(n), len = 1 + below(n - at < 64 ? n - at : 64);
        memmove(buf + at, buf + at + len, n - at - len);
        return n - len;
    }
    case 5: { /* insert random bytes */
        size_t len = 1 + below(16);
        if (n + len > cap) return n;
        size_t at = below(n + 1);
        memmove(buf + at + len, buf + at, n - at);
        for (size_t i = 0; i < len; i++) buf[at + i] = (uint8_t)rnd();
        return n + len;
    }
    case 6: { /* copy a range over another place */
        if (n < 2) return n;
        size_t from = below(n), to = below(n), len = 1 + below(32);
        if (from + len > n) len = n - from;
        if (to + len > n) len = n - to;
        memmove(buf + to, buf + from, len);
        return n;
    }
    default: { /* the tail of another input after a prefix of this one */
        const struct input *o = &pool[below(npool)];
        size_t keep = below(n + 1), from = below(o->n + 1), len = o->n - from;
        if (keep + len > cap) len = cap - keep;
        memcpy(buf + keep, o->p + from, len);
        return keep + len;
    }
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open %s: %s\n", target, path, strerror(errno));
        return 1;
    }
    uint8_t *buf = malloc(INPUT_MAX);
    size_t n = buf ? fread(buf, 1, INPUT_MAX, f) : 0;
    fclose(f);
    if (!buf) return 1;
    cur = buf;
    cur_n = n;
    replaying = path;
    LLVMFuzzerTestOneInput(buf, n);
    replaying = NULL;
    free(buf);
    printf("%s: %s: ok (%zu bytes)\n", target, path, n);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: %s [--seconds N] [--runs N] [--seed S] [FILE...]\n"
            "Mutates the target's built-in seed inputs and runs each mutant, for N seconds\n"
            "(default 10) or N runs, from seed S (default: from the clock; printed). With\n"
            "FILE arguments, runs each file once instead (to reproduce a saved failure).\n"
            "--write-seeds DIR writes the seed inputs into DIR (a starting corpus for the\n"
            "libFuzzer build of the same target) and exits.\n",
            target);
}

int main(int argc, char **argv)
{
    const char *slash = strrchr(argv[0], '/');
    target = slash ? slash + 1 : argv[0];
    double seconds = 10;
    uint64_t runs = 0;
    seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    int first_file = argc;
    const char *seeds_dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strncmp(a, "--seconds=", 10)) {
            seconds = atof(a + 10);
        } else if (!strcmp(a, "--seconds") && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else if (!strncmp(a, "--runs=", 7)) {
            runs = strtoull(a + 7, NULL, 10);
        } else if (!strcmp(a, "--runs") && i + 1 < argc) {
            runs = strtoull(argv[++i], NULL, 10);
        } else if (!strncmp(a, "--seed=", 7)) {
            seed = strtoull(a + 7, NULL, 10);
        } else if (!strcmp(a, "--seed") && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(a, "--write-seeds") && i + 1 < argc) {
            seeds_dir = argv[++i];
        } else if (a[0] == '-') {
            fprintf(stderr, "%s: unknown option %s\n", target, a);
            usage(stderr);
            return 2;
        } else {
            first_file = i;
            break;
        }
    }
#ifdef FUZZ_SANITIZER
    __sanitizer_set_death_callback(save_crash);
#else
    static const int fatal[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) signal(fatal[i], on_fatal_signal);
#endif
    if (first_file < argc) {
        int rc = 0;
        for (int i = first_file; i < argc; i++) rc |= run_file(argv[i]);
        return rc;
    }

    rng_state = seed ? seed : 1;
    fuzz_seed_inputs(pool_add, NULL);
    if (seeds_dir) {
        for (size_t i = 0; i < npool; i++) {
            char name[4096];
            snprintf(name, sizeof(name), "%s/seed-%zu", seeds_dir, i);
            if (fuzz_write_file(name, pool[i].p, pool[i].n)) {
                fprintf(stderr, "%s: cannot write %s: %s (does the directory exist?)\n", target,
                        name, strerror(errno));
                return 1;
            }
        }
        printf("%s: %zu seed inputs written to %s\n", target, npool, seeds_dir);
        return 0;
    }
    if (!npool) {
        fprintf(stderr, "%s: the target gave no seed inputs\n", target);
        return 1;
    }
    size_t nseeds = npool;
    printf("%s: seed %llu, %zu seed inputs, %s\n", target, (unsigned long long)seed, npool,
           runs ? "fixed runs" : "timed");
    fflush(stdout);
    uint8_t *buf = malloc(INPUT_MAX);
    if (!buf) return 1;
    for (size_t i = 0; i < nseeds; i++) { /* the seed inputs as they are (run 0) */
        cur = pool[i].p;
        cur_n = pool[i].n;
        LLVMFuzzerTestOneInput(cur, cur_n);
    }
    double t0 = now_s();
    for (run = 0; runs ? run < runs : now_s() - t0 < seconds; run++) {
        const struct input *base = &pool[below(npool)];
        size_t n = base->n;
        memcpy(buf, base->p, n);
        int steps = 1 + (int)below(rnd() % 4 == 0 ? 16 : 3);
        for (int s = 0; s < steps; s++) n = mutate_once(buf, n, INPUT_MAX);
        cur = buf;
        cur_n = n;
        LLVMFuzzerTestOneInput(buf, n);
        if (below(32) == 0) {
            if (npool < POOL_MAX)
                pool_add(NULL, buf, n);
            else if (n <= INPUT_MAX) { /* replace a mutant, never a seed */
                struct input *victim = &pool[nseeds + below(POOL_MAX - nseeds)];
                uint8_t *p = realloc(victim->p, n ? n : 1);
                if (p) {
                    memcpy(p, buf, n);
                    *victim = (struct input){p, n};
                }
            }
        }
    }
    cur = NULL;
    printf("%s: %llu runs in %.1f s, no failure (seed %llu)\n", target, (unsigned long long)run,
           now_s() - t0, (unsigned long long)seed);
    free(buf);
    for (size_t i = 0; i < npool; i++) free(pool[i].p);
    return 0;
}
