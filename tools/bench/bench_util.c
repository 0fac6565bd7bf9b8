/*
 * bench_util.c — process and filesystem measurements for the benchmark:
 * monotonic time, du, rm -rf, peak RSS (VmHWM, resettable through
 * /proc/self/clear_refs) and bytes sent to the block layer (/proc/self/io).
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t du_total;

static int du_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)path;
    (void)type;
    (void)ftw;
    du_total += (uint64_t)st->st_blocks * 512u;
    return 0;
}

uint64_t bench_du(const char *path)
{
    du_total = 0;
    if (nftw(path, du_visit, 16, FTW_PHYS) != 0) return du_total;
    return du_total;
}

static int rm_visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = (type == FTW_DP) ? rmdir(path) : unlink(path);
    return rc == 0 || errno == ENOENT ? 0 : errno; /* nonzero stops the walk */
}

int bench_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -errno;
    int rc = nftw(path, rm_visit, 16, FTW_DEPTH | FTW_PHYS);
    if (rc == -1) return -errno;
    return -rc;
}

static uint64_t status_field_kb(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    uint64_t v = 0;
    size_t n = strlen(name);
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            v = strtoull(line + n + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

uint64_t bench_peak_rss_kb(void)
{
    return status_field_kb("VmHWM");
}

void bench_reset_peak_rss(void)
{
    /* "5" resets the peak RSS to the current RSS (Linux 4.0+); if it is not
     * supported the figure is the peak since the child started. */
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    if (write(fd, "5", 1) != 1) {
        /* Nothing to do: the peak simply is not reset. */
    }
    close(fd);
}

/* Not net of cancelled_write_bytes: a file deleted before writeback (an
 * obsolete WAL or table) would then subtract bytes counted in an earlier
 * workload from this one's. */
uint64_t bench_io_written(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    if (!f) return UINT64_MAX;
    char line[128];
    uint64_t wb = UINT64_MAX;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "write_bytes:", 12) == 0) wb = strtoull(line + 12, NULL, 10);
    fclose(f);
    return wb;
}
