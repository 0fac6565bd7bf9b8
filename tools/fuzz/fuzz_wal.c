/*
 * fuzz_wal.c — fuzz target: the bytes are a WAL file; read every record
 * the reader will give (in both tail modes), as recovery does. Damage must
 * end in 0 (a torn tail) or an error, never a crash; what the reader gives
 * as a record must have passed its checksum.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buffer.h"
#include "env.h"
#include "fuzz.h"
#include "wal.h"

#define LOG_NUMBER 7

static char path[256];

static void read_all(int strict)
{
    struct wal_reader *r = NULL;
    if (wal_reader_open(env_posix_default(), path, LOG_NUMBER, &r)) return;
    wal_reader_set_strict_tail(r, strict);
    struct buffer rec = BUFFER_INIT;
    for (int i = 0; i < 100000 && wal_read_record(r, &rec) > 0; i++) {
    }
    (void)wal_reader_tail_dropped(r);
    (void)wal_reader_offset(r);
    (void)strlen(wal_reader_error_detail(r));
    wal_reader_close(r);
    buffer_free(&rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0] && fuzz_scratch_path("wal", path, sizeof(path))) abort();
    if (fuzz_write_file(path, data, size)) abort();
    read_all(0);
    read_all(1);
    unlink(path);
    return 0;
}

/* Logs written by the real writer: small and large records (one spans
 * blocks), an empty one, and one whose tail is preallocated zeros. */
void fuzz_seed_inputs(fuzz_add_fn add, void *arg)
{
    char p[256];
    if (fuzz_scratch_path("wal-seed", p, sizeof(p))) return;
    static const size_t sizes[][6] = {
        {10, 200, 0, 3000, 7, 1},
        {40000, 12, 32768 - 14, 5, 0, 100},
    };
    for (int s = 0; s < 3; s++) {
        struct wal_writer *w = NULL;
        if (wal_writer_open(env_posix_default(), p, LOG_NUMBER, &w)) return;
        if (s == 2) wal_writer_set_prealloc(w, 64 << 10, s & 1);
        for (int i = 0; i < 6; i++) {
            size_t n = sizes[s % 2][i];
            uint8_t *rec = malloc(n ? n : 1);
            if (!rec) break;
            for (size_t j = 0; j < n; j++) rec[j] = (uint8_t)(j * 31 + (size_t)i);
            wal_add_record(w, rec, n);
            free(rec);
        }
        wal_sync(w);
        wal_writer_close(w);
        fuzz_add_file(p, add, arg);
    }
    unlink(p);
}
