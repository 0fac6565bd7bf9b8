/*
 * bench_engines.c — the registry of engines compiled into this binary. The
 * peers are present only when CMake found their libraries
 * (BENCH_HAVE_ROCKSDB, BENCH_HAVE_LEVELDB, BENCH_HAVE_LMDB).
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

#ifdef BENCH_HAVE_ROCKSDB
#endif
#ifdef BENCH_HAVE_LEVELDB
#include <leveldb/c.h>
#endif
#ifdef BENCH_HAVE_LMDB
#include <lmdb.h>
#endif

extern const struct bench_engine_ops bench_engine_lsmer, bench_engine_lsmer_nocomp;
#ifdef BENCH_HAVE_ROCKSDB
extern const struct bench_engine_ops bench_engine_rocksdb;
#endif
#ifdef BENCH_HAVE_LEVELDB
extern const struct bench_engine_ops bench_engine_leveldb;
#endif
#ifdef BENCH_HAVE_LMDB
extern const struct bench_engine_ops bench_engine_lmdb;
#endif

const struct bench_engine_ops *const bench_engines[] = {
    &bench_engine_lsmer,
#ifdef BENCH_HAVE_ROCKSDB
    &bench_engine_rocksdb,
#endif
#ifdef BENCH_HAVE_LEVELDB
    &bench_engine_leveldb,
#endif
#ifdef BENCH_HAVE_LMDB
    &bench_engine_lmdb,
#endif
    &bench_engine_lsmer_nocomp, NULL,
};

const struct bench_engine_ops *bench_engine_find(const char *name)
{
    for (int i = 0; bench_engines[i]; i++)
        if (strcmp(bench_engines[i]->name, name) == 0) return bench_engines[i];
    return NULL;
}

void bench_describe_peers(char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = 0;
#ifdef BENCH_HAVE_ROCKSDB
    n += (size_t)snprintf(buf + n, len - n, "%srocksdb %s", n ? ", " : "", BENCH_ROCKSDB_VERSION);
#endif
#ifdef BENCH_HAVE_LEVELDB
    if (n < len)
        n += (size_t)snprintf(buf + n, len - n, "%sleveldb %d.%d", n ? ", " : "",
                              leveldb_major_version(), leveldb_minor_version());
#endif
#ifdef BENCH_HAVE_LMDB
    if (n < len) {
        int ma, mi, pa;
        mdb_version(&ma, &mi, &pa);
        n += (size_t)snprintf(buf + n, len - n, "%slmdb %d.%d.%d", n ? ", " : "", ma, mi, pa);
    }
#endif
    if (n == 0) snprintf(buf, len, "none");
}
