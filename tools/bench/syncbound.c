/*
 * syncbound.c — what group commit can reach on this machine's disk, with
 * no database in the way: the ceiling against which lsmer bench's fillsync4
 * (4 sync writers) is judged.
 *
 * Every write is a small record (140 bytes by default) written with pwrite
 * into a file reserved ahead with written zeros (as liblsmer's WAL is while
 * it is synced often), then made durable with fdatasync. Two schedules:
 *
 *   single   one thread: write, fdatasync, write, fdatasync, ...
 *   groups   N threads in perfect groups: each thread hands its record to
 *            the group (under a mutex) and waits; the one that completes
 *            the group writes all N records with one pwrite, syncs once and
 *            wakes the others, who then hand in their next record. No
 *            engine can batch better than that: N writes per sync, one
 *            system call per group, and nothing but the wakeups and the
 *            hand-ins between two syncs.
 *
 * It prints both rates and their ratio. A benchmark tool, not a test: it
 * asserts nothing about the figures.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RESERVE_BYTES (8u << 20)

struct group {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fd;
    size_t record;
    int members;
    long rounds_left;         /* mu */
    int arrived;              /* mu: records handed in for the current group */
    unsigned long generation; /* mu: groups completed */
    off_t offset;             /* mu: where the next group's bytes go */
    unsigned char *buf;       /* mu: the current group's records */
    int err;                  /* mu: first error, as an errno */
};

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A fresh file at path holding RESERVE_BYTES of written, synced zeros: a
 * later fdatasync then records no size or extent change. -1 on error (a
 * message is printed). */
static int open_reserved(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        fprintf(stderr, "syncbound: cannot create %s: %s (is the directory writable?)\n", path,
                strerror(errno));
        return -1;
    }
    static unsigned char zeros[1 << 20];
    for (off_t off = 0; off < (off_t)RESERVE_BYTES; off += (off_t)sizeof(zeros)) {
        if (pwrite(fd, zeros, sizeof(zeros), off) != (ssize_t)sizeof(zeros)) {
            fprintf(stderr, "syncbound: cannot write %s: %s (disk full?)\n", path, strerror(errno));
            close(fd);
            return -1;
        }
    }
    if (fsync(fd) != 0) {
        fprintf(stderr, "syncbound: cannot sync %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Where a record of n bytes goes: the reserved area is reused from the start
 * once it is full, so the file never grows. */
static off_t next_offset(off_t off, size_t n)
{
    return off + (off_t)n > (off_t)RESERVE_BYTES ? 0 : off;
}

static int run_single(int fd, size_t record, long ops, double *rate)
{
    unsigned char *rec = malloc(record);
    if (!rec) return ENOMEM;
    memset(rec, 'r', record);
    off_t off = 0;
    double t0 = now_seconds();
    for (long i = 0; i < ops; i++) {
        off = next_offset(off, record);
        if (pwrite(fd, rec, record, off) != (ssize_t)record || fdatasync(fd) != 0) {
            int e = errno ? errno : EIO;
            free(rec);
            return e;
        }
        off += (off_t)record;
    }
    *rate = (double)ops / (now_seconds() - t0);
    free(rec);
    return 0;
}

static void *group_writer(void *arg)
{
    struct group *g = arg;
    pthread_mutex_lock(&g->mu);
    while (g->rounds_left > 0 && !g->err) {
        /* Hand in this thread's record. */
        memset(g->buf + (size_t)g->arrived * g->record, 'a' + g->arrived, g->record);
        if (++g->arrived < g->members) {
            unsigned long gen = g->generation;
            while (g->generation == gen && !g->err) pthread_cond_wait(&g->cv, &g->mu);
            continue;
        }
        /* The last arrival writes and syncs the whole group. The others
         * wait on the generation, so the lock may stay held: nobody can
         * hand in a record for the next group before this one is done. */
        size_t n = (size_t)g->members * g->record;
        g->offset = next_offset(g->offset, n);
        if (pwrite(g->fd, g->buf, n, g->offset) != (ssize_t)n || fdatasync(g->fd) != 0)
            g->err = errno ? errno : EIO;
        g->offset += (off_t)n;
        g->arrived = 0;
        g->rounds_left--;
        g->generation++;
        pthread_cond_broadcast(&g->cv);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

static int run_groups(int fd, size_t record, int members, long ops, double *rate)
{
    struct group g;
    memset(&g, 0, sizeof(g));
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    g.fd = fd;
    g.record = record;
    g.members = members;
    g.rounds_left = ops / members;
    g.buf = malloc((size_t)members * record);
    pthread_t *t = calloc((size_t)members, sizeof(*t));
    int rc = 0, started = 0;
    if (!g.buf || !t) {
        rc = ENOMEM;
        goto out;
    }
    double t0 = now_seconds();
    for (; started < members; started++) {
        if ((rc = pthread_create(&t[started], NULL, group_writer, &g)) != 0) {
            pthread_mutex_lock(&g.mu);
            g.err = rc;
            pthread_cond_broadcast(&g.cv);
            pthread_mutex_unlock(&g.mu);
            break;
        }
    }
    for (int i = 0; i < started; i++) pthread_join(t[i], NULL);
    double secs = now_seconds() - t0;
    if (!rc) rc = g.err;
    if (!rc) *rate = (double)(ops / members * members) / secs;
out:
    free(t);
    free(g.buf);
    pthread_cond_destroy(&g.cv);
    pthread_mutex_destroy(&g.mu);
    return rc;
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: lsmer-syncbound [--dir=DIR] [--ops=N] [--threads=N] [--record=BYTES] "
                 "[--rounds=N]\n"
                 "\n"
                 "Measures what group commit can reach on the disk holding DIR: small records\n"
                 "written with pwrite into a file reserved with zeros and made durable with\n"
                 "fdatasync, by one writer, and by N writers in perfect groups (the last\n"
                 "arrival writes all N records with one pwrite and syncs once). Prints both\n"
                 "rates and the ratio, the ceiling for lsmer bench's fillsync4 / fillsync.\n"
                 "\n"
                 "  --dir=DIR       where the scratch file goes (default: .); it is removed\n"
                 "  --ops=N         writes per measurement (default 4000)\n"
                 "  --threads=N     writers in a group (default 4)\n"
                 "  --record=BYTES  bytes per write (default 140: a 100-byte put in the WAL)\n"
                 "  --rounds=N      measure each schedule N times, interleaved; the median\n"
                 "                  is reported (default 3)\n"
                 "  -h, --help      this text\n"
                 "\n"
                 "Exit status: 0 measured, 1 an IO error (the message names the file),\n"
                 "2 bad arguments.\n");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = ".";
    long ops = 4000, threads = 4, record = 140, rounds = 3;
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"ops", required_argument, NULL, 'o'},
        {"threads", required_argument, NULL, 't'},
        {"record", required_argument, NULL, 'r'},
        {"rounds", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, which = 0;
    while ((c = getopt_long(argc, argv, "h", opts, &which)) != -1) {
        int bad = 0;
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'o':
            bad = parse_long(optarg, 1, 100000000, &ops);
            break;
        case 't':
            bad = parse_long(optarg, 2, 64, &threads);
            break;
        case 'r':
            bad = parse_long(optarg, 1, 1 << 16, &record);
            break;
        case 'n':
            bad = parse_long(optarg, 1, 99, &rounds);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "lsmer-syncbound: bad value '%s' for --%s (see --help)\n", optarg,
                    opts[which].name);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "lsmer-syncbound: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if ((size_t)threads * (size_t)record > RESERVE_BYTES) {
        fprintf(stderr, "lsmer-syncbound: --threads x --record exceeds the %u-byte file\n",
                RESERVE_BYTES);
        return 2;
    }
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/syncbound.%ld.tmp", dir, (long)getpid()) >=
        (int)sizeof(path)) {
        fprintf(stderr, "lsmer-syncbound: --dir is too long\n");
        return 2;
    }
    int fd = open_reserved(path);
    if (fd < 0) return 1;
    double *single = calloc((size_t)rounds, sizeof(double));
    double *grouped = calloc((size_t)rounds, sizeof(double));
    int rc = single && grouped ? 0 : ENOMEM;
    for (long r = 0; r < rounds && !rc; r++) {
        rc = run_single(fd, (size_t)record, ops, &single[r]);
        if (!rc) rc = run_groups(fd, (size_t)record, (int)threads, ops, &grouped[r]);
        if (!rc)
            fprintf(stderr, "round %ld: single %.0f writes/s, groups of %ld %.0f writes/s\n", r + 1,
                    single[r], threads, grouped[r]);
    }
    close(fd);
    unlink(path);
    if (rc) {
        fprintf(stderr, "lsmer-syncbound: %s: %s\n", path, strerror(rc));
        free(single);
        free(grouped);
        return 1;
    }
    qsort(single, (size_t)rounds, sizeof(double), cmp_double);
    qsort(grouped, (size_t)rounds, sizeof(double), cmp_double);
    double s = single[rounds / 2], g = grouped[rounds / 2];
    printf("single writer:        %10.0f writes/s (%.1f us per write + fdatasync)\n", s, 1e6 / s);
    printf("perfect groups of %-2ld: %10.0f writes/s (%.2fx the single writer)\n", threads, g,
           g / s);
    printf("medians of %ld rounds of %ld writes, %ld-byte records, file in %s\n", rounds, ops,
           record, dir);
    free(single);
    free(grouped);
    return 0;
}
