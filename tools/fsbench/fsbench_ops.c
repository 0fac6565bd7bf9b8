/*
 * fsbench_ops.c — the timed inner loops of tools/fsbench/fsbench.sh, so that
 * the figures measure the filesystem and not the cost of starting a process
 * per file. fsbench.sh compiles it on the fly (cc -O2); it is not part of the
 * CMake build.
 *
 *   fsbench_ops create  DIR N          N empty files f0..f(N-1)
 *   fsbench_ops stat    DIR N          stat each of them
 *   fsbench_ops readdir DIR            list DIR (prints the count on stderr)
 *   fsbench_ops unlink  DIR N          remove them
 *   fsbench_ops write   DIR N SIZE     N files of SIZE bytes (s0..)
 *   fsbench_ops read    DIR N SIZE     read them back, checking the size
 *   fsbench_ops seqwrite FILE MB       MB MiB in 1 MiB writes, then fsync
 *   fsbench_ops seqread  FILE          read the whole file in 1 MiB reads
 *   fsbench_ops randwrite FILE OPS SEED  random 4 KiB pwrites, fsync at the end
 *   fsbench_ops randread  FILE OPS SEED  random 4 KiB preads
 *   fsbench_ops config  DIR N          write tmp, fsync, rename over, fsync dir
 *   fsbench_ops fsync   FILE N         N times: append 4 KiB, fdatasync (a log)
 *
 * Each prints one line on stdout: the elapsed wall-clock seconds. Any failed
 * call prints the error and exits 1. Single-threaded; no state is shared.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *path)
{
    fprintf(stderr, "fsbench_ops: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

/* xorshift64*: cheap reproducible offsets and buffer contents. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void fill(char *buf, size_t n, uint64_t seed)
{
    uint64_t s = seed | 1;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t v = rng_next(&s);
        memcpy(buf + i, &v, 8);
    }
}

static void write_all(int fd, const char *buf, size_t n, off_t off, const char *path)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, buf, n, off);
        if (w < 0) die("write", path);
        buf += w;
        n -= (size_t)w;
        off += w;
    }
}

static void path_of(char *out, size_t size, const char *dir, char prefix, long i)
{
    snprintf(out, size, "%s/%c%ld", dir, prefix, i);
}

static void op_create(const char *dir, long n)
{
    char p[4096];
    for (long i = 0; i < n; i++) {
        path_of(p, sizeof(p), dir, 'f', i);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0) die("create", p);
        close(fd);
    }
}

static void op_stat(const char *dir, long n)
{
    char p[4096];
    struct stat st;
    for (long i = 0; i < n; i++) {
        path_of(p, sizeof(p), dir, 'f', i);
        if (stat(p, &st) != 0) die("stat", p);
    }
}

static void op_readdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) die("opendir", dir);
    long count = 0;
    errno = 0;
    while (readdir(d)) count++;
    if (errno) die("readdir", dir);
    closedir(d);
    fprintf(stderr, "%ld entries\n", count);
}

static void op_unlink(const char *dir, long n)
{
    char p[4096];
    for (long i = 0; i < n; i++) {
        path_of(p, sizeof(p), dir, 'f', i);
        if (unlink(p) != 0) die("unlink", p);
    }
}

static void op_write(const char *dir, long n, size_t size)
{
    char p[4096];
    char *buf = malloc(size + 8);
    if (!buf) die("malloc", "");
    for (long i = 0; i < n; i++) {
        fill(buf, size, (uint64_t)i + 1);
        path_of(p, sizeof(p), dir, 's', i);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) die("create", p);
        write_all(fd, buf, size, 0, p);
        if (close(fd) != 0) die("close", p);
    }
    free(buf);
}

static void op_read(const char *dir, long n, size_t size)
{
    char p[4096];
    char *buf = malloc(size + 4096);
    if (!buf) die("malloc", "");
    for (long i = 0; i < n; i++) {
        path_of(p, sizeof(p), dir, 's', i);
        int fd = open(p, O_RDONLY);
        if (fd < 0) die("open", p);
        size_t got = 0;
        for (;;) {
            ssize_t r = read(fd, buf, size + 4096);
            if (r < 0) die("read", p);
            if (r == 0) break;
            got += (size_t)r;
        }
        close(fd);
        if (got != size) {
            fprintf(stderr, "fsbench_ops: %s: %zu bytes, expected %zu\n", p, got, size);
            exit(1);
        }
    }
    free(buf);
}

static void op_seqwrite(const char *path, long mb)
{
    size_t chunk = 1 << 20;
    char *buf = malloc(chunk);
    if (!buf) die("malloc", "");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die("create", path);
    for (long i = 0; i < mb; i++) {
        fill(buf, chunk, (uint64_t)i + 7);
        write_all(fd, buf, chunk, (off_t)i * (off_t)chunk, path);
    }
    if (fsync(fd) != 0) die("fsync", path);
    close(fd);
    free(buf);
}

static void op_seqread(const char *path)
{
    size_t chunk = 1 << 20;
    char *buf = malloc(chunk);
    if (!buf) die("malloc", "");
    int fd = open(path, O_RDONLY);
    if (fd < 0) die("open", path);
    for (;;) {
        ssize_t r = read(fd, buf, chunk);
        if (r < 0) die("read", path);
        if (r == 0) break;
    }
    close(fd);
    free(buf);
}

static void op_rand(const char *path, long ops, uint64_t seed, int writing)
{
    char buf[4096];
    int fd = open(path, writing ? O_RDWR : O_RDONLY);
    if (fd < 0) die("open", path);
    struct stat st;
    if (fstat(fd, &st) != 0) die("fstat", path);
    uint64_t blocks = (uint64_t)st.st_size / 4096;
    if (blocks == 0) {
        fprintf(stderr, "fsbench_ops: %s is empty\n", path);
        exit(1);
    }
    uint64_t s = seed | 1;
    fill(buf, sizeof(buf), seed);
    for (long i = 0; i < ops; i++) {
        off_t off = (off_t)(rng_next(&s) % blocks) * 4096;
        if (writing) {
            buf[0] = (char)i;
            write_all(fd, buf, sizeof(buf), off, path);
        } else if (pread(fd, buf, sizeof(buf), off) != (ssize_t)sizeof(buf)) {
            die("pread", path);
        }
    }
    if (writing && fsync(fd) != 0) die("fsync", path);
    close(fd);
}

/* What an application log or a database journal does: small appends, each
 * made durable. On the plain directory this is a raw fdatasync loop, the
 * reference the "fsync costs at most 1.3x a raw fdatasync" is
 * measured against. */
static void op_fsync(const char *path, long n)
{
    char buf[4096];
    memset(buf, 'l', sizeof(buf));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (fd < 0) die("open", path);
    for (long i = 0; i < n; i++) {
        if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) die("write", path);
        if (fdatasync(fd) != 0) die("fdatasync", path);
    }
    if (close(fd) != 0) die("close", path);
}

static void op_config(const char *dir, long n)
{
    char tmp[4096], dst[4096], buf[2048];
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0) die("open", dir);
    snprintf(dst, sizeof(dst), "%s/app.conf", dir);
    for (long i = 0; i < n; i++) {
        size_t len = (size_t)snprintf(buf, sizeof(buf), "version=%ld\n", i);
        memset(buf + len, 'x', 1000);
        len += 1000;
        snprintf(tmp, sizeof(tmp), "%s/.app.conf.%ld", dir, i);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0) die("create", tmp);
        write_all(fd, buf, len, 0, tmp);
        if (fsync(fd) != 0) die("fsync", tmp);
        close(fd);
        if (rename(tmp, dst) != 0) die("rename", tmp);
        if (fsync(dfd) != 0) die("fsync", dir);
    }
    close(dfd);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fsbench_ops OP ARGS (see the source)\n");
        return 2;
    }
    const char *op = argv[1], *p = argv[2];
    long a = argc > 3 ? atol(argv[3]) : 0;
    long b = argc > 4 ? atol(argv[4]) : 0;
    double t0 = now();
    if (strcmp(op, "create") == 0)
        op_create(p, a);
    else if (strcmp(op, "stat") == 0)
        op_stat(p, a);
    else if (strcmp(op, "readdir") == 0)
        op_readdir(p);
    else if (strcmp(op, "unlink") == 0)
        op_unlink(p, a);
    else if (strcmp(op, "write") == 0)
        op_write(p, a, (size_t)b);
    else if (strcmp(op, "read") == 0)
        op_read(p, a, (size_t)b);
    else if (strcmp(op, "seqwrite") == 0)
        op_seqwrite(p, a);
    else if (strcmp(op, "seqread") == 0)
        op_seqread(p);
    else if (strcmp(op, "randwrite") == 0)
        op_rand(p, a, (uint64_t)b, 1);
    else if (strcmp(op, "randread") == 0)
        op_rand(p, a, (uint64_t)b, 0);
    else if (strcmp(op, "fsync") == 0)
        op_fsync(p, a);
    else if (strcmp(op, "config") == 0)
        op_config(p, a);
    else {
        fprintf(stderr, "fsbench_ops: unknown op %s\n", op);
        return 2;
    }
    printf("%.6f\n", now() - t0);
    return 0;
}
