/*
 * fuzz_table.c — fuzz target: the bytes are an SSTable file; open it, scan
 * it both ways, seek and get, with checksums verified (damage is found at
 * the first block read) and, the harder case, not verified (every parser
 * behind the checksums — footer, index, restart arrays, varints, zstd
 * frames, the filter, tombstones — sees the damage). Errors are fine; a
 * crash, a leak or a read out of bounds is not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block_cache.h"
#include "buffer.h"
#include "dbformat.h"
#include "env.h"
#include "fuzz.h"
#include "iterator.h"
#include "table_builder.h"
#include "table_reader.h"

static char path[256];

static void probe(struct iter *it, struct table *t, const uint8_t *data, size_t size)
{
    int steps = 0;
    for (iter_seek_first(it); iter_valid(it) && steps < 20000; iter_next(it), steps++)
        (void)iter_value(it);
    for (iter_seek_last(it); iter_valid(it) && steps < 40000; iter_prev(it), steps++)
        (void)iter_key(it);
    /* keys made of the input's own bytes: seeks land everywhere */
    struct buffer k = BUFFER_INIT, v = BUFFER_INIT, lk = BUFFER_INIT;
    for (size_t i = 0; i + 1 < size && i < 64 * 16; i += 16) {
        size_t kn = data[i] % 24;
        if (i + 1 + kn > size) kn = size - i - 1;
        lk.n = 0;
        ikey_append(&lk, data + i + 1, kn, SEQ_MAX >> (data[i] & 7), TYPE_SEEK);
        iter_seek(it, buffer_slice(&lk));
        for (int s = 0; s < 3 && iter_valid(it); s++) iter_next(it);
        if (iter_valid(it)) iter_prev(it);
        (void)table_get(t, buffer_slice(&lk), &k, &v);
    }
    buffer_free(&k);
    buffer_free(&v);
    buffer_free(&lk);
    (void)iter_status(it);
}

static void read_table(size_t size, int verify, int cached, const uint8_t *data)
{
    struct env_file *f = NULL;
    if (env_open(env_posix_default(), path, ENV_READ, &f)) return;
    struct table_options opt;
    table_options_init(&opt);
    opt.verify_checksums = verify;
    opt.cache = cached ? block_cache_new(16 << 10) : NULL;
    struct table *t = NULL;
    if (table_open(f, path, size, 1, &opt, &t) == 0) {
        struct iter *it = table_iter(t);
        probe(it, t, data, size);
        iter_destroy(it);
        struct iter *rd = table_range_del_iter(t);
        for (iter_seek_first(rd); iter_valid(rd); iter_next(rd)) (void)iter_value(rd);
        iter_destroy(rd);
        (void)table_props(t);
        table_close(t);
    }
    block_cache_free(opt.cache);
    env_close(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0] && fuzz_scratch_path("table", path, sizeof(path))) abort();
    if (fuzz_write_file(path, data, size)) abort();
    read_table(size, 1, 1, data);
    read_table(size, 0, size & 1, data);
    unlink(path);
    return 0;
}

/* Tables written by the real builder: compressed and not, small blocks,
 * several versions and deletions of a key, range tombstones, a value that
 * does not compress, and an empty table. */
void fuzz_seed_inputs(fuzz_add_fn add, void *arg)
{
    char p[256];
    if (fuzz_scratch_path("table-seed", p, sizeof(p))) return;
    for (int s = 0; s < 3; s++) {
        struct env_file *f = NULL;
        if (env_open(env_posix_default(), p, ENV_WRITE, &f)) return;
        struct table_options opt;
        table_options_init(&opt);
        opt.block_size = s == 1 ? 256 : 1024;
        opt.zstd_level = s == 0 ? 0 : 1;
        struct table_builder *b = NULL;
        if (table_builder_new(f, &opt, &b)) {
            env_close(f);
            return;
        }
        struct buffer k = BUFFER_INIT;
        int n = s == 2 ? 0 : 300;
        if (s == 1)
            table_builder_add_range_del(b, slice_make("k0010", 5), slice_make("k0020", 5), 50);
        for (int i = 0; i < n; i++) {
            char uk[16], val[200];
            int un = snprintf(uk, sizeof(uk), "k%04d", i);
            for (int v = 0; v < (i % 7 == 0 ? 3 : 1); v++) {
                k.n = 0;
                int type = v == 1 ? TYPE_DELETE : TYPE_VALUE;
                ikey_append(&k, uk, (size_t)un, (uint64_t)(1000 - v * 10 + i), type);
                size_t vn = type == TYPE_DELETE ? 0 : (size_t)(i % 5) * 37;
                for (size_t j = 0; j < vn; j++)
                    val[j] = (char)(i % 3 ? (size_t)'a' + j % 3 : j * 131 + (size_t)i * 7);
                table_builder_add(b, buffer_slice(&k), slice_make(val, vn));
            }
        }
        table_builder_finish(b);
        table_builder_free(b);
        env_close(f);
        buffer_free(&k);
        fuzz_add_file(p, add, arg);
    }
    unlink(p);
}
