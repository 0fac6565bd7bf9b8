/* fuzz_util.c — scratch files for file-shaped fuzz inputs (see fuzz.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

int fuzz_scratch_path(const char *target, char *out, size_t cap)
{
    struct stat st;
    const char *dir = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    int n = snprintf(out, cap, "%s/lsmer-fuzz-%s-%ld", dir, target, (long)getpid());
    if (n < 0 || (size_t)n >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

void fuzz_add_file(const char *path, fuzz_add_fn add, void *arg)
{
    FILE *f = fopen(path, "rb");
    if (!f) return;
    uint8_t *buf = malloc(1u << 20);
    size_t n = buf ? fread(buf, 1, 1u << 20, f) : 0;
    fclose(f);
    if (buf) add(arg, buf, n);
    free(buf);
}

int fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t put = size ? fwrite(data, 1, size, f) : 0;
    int rc = fclose(f);
    return put == size && rc == 0 ? 0 : -1;
}
