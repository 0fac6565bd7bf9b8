/*
 * bench.h — the db_bench-style benchmark behind `lsmer bench`.
 *
 * Contract. bench_main() runs a list of workloads against a list of engines
 * (lsmer and, where they were found at build time, RocksDB, LevelDB and LMDB
 * through their C APIs) and prints, per workload and engine, ops/s,
 * latency percentiles, MB/s and, after write workloads, write amplification,
 * space used, peak RSS and time stalled; then a side-by-side table with
 * ratios. Each engine runs in its own forked child process so that resident
 * memory, caches and background threads of one engine never touch another;
 * the child sends fixed-size struct bench_result records to the parent
 * through a pipe. All data lives under a scratch directory that is deleted
 * at the end (unless --keep).
 *
 * Engines. An engine is a table of operations (struct bench_engine_ops).
 * Every operation returns 0 or a negative errno and may be called from
 * several threads at once; per-thread state (read transactions, reusable
 * buffers) lives in the struct bench_thread handed to each call. Engines
 * that cannot honour a setting (LevelDB has no zstd, LMDB has no block
 * cache) say so in their note, which is printed before their first result.
 *
 * Nothing here aborts: a failing engine is reported and the run goes on
 * with the next one; the exit code says whether anything failed.
 */
#ifndef LSMER_BENCH_H
#define LSMER_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_KEY_SIZE 16
#define BENCH_MAX_ENGINES 8
#define BENCH_MAX_WORKLOADS 32
#define BENCH_BATCH 100 /* puts per batch in fillbatch */
#define BENCH_SEEK_NEXTS 100
#define BENCH_SYNC_THREADS 4 /* writers in fillsync4 */

/* Exit codes of `lsmer bench` (also documented in its --help). */
#define BENCH_EXIT_OK 0
#define BENCH_EXIT_FAILED 1 /* an engine failed or crashed in some workload */
#define BENCH_EXIT_USAGE 2

struct bench_config {
    uint64_t num;      /* keys in the key space and ops of write workloads */
    uint64_t reads;    /* ops of readrandom / readmissing */
    uint64_t seeks;    /* seeks of seekrandom */
    uint64_t sync_ops; /* writes of fillsync / fillsync4 */
    uint64_t big_num;  /* keys of fillbig */
    size_t value_size; /* bytes */
    size_t big_value_size;
    size_t cache_size;   /* block cache bytes */
    size_t write_buffer; /* memtable bytes */
    int bloom_bits;
    int zstd_level; /* 0 = no compression */
    int threads;    /* reader threads */
    uint64_t seed;
    int repeat;         /* rounds of every engine; tables report medians */
    int keep;           /* keep the scratch data */
    int progress;       /* \r progress line on stderr */
    const char *db_dir; /* NULL = a fresh directory under $TMPDIR */
    const char *csv_path;
    /* LSM shape shared by lsmer and RocksDB (lsmer's defaults). */
    uint64_t level1_size;
    int level_multiplier;
    size_t target_file_size;
    size_t block_size;
    int l0_trigger, l0_slowdown, l0_stop;
    int max_open_files;
    const char *engines[BENCH_MAX_ENGINES];
    int n_engines;
    const char *workloads[BENCH_MAX_WORKLOADS];
    int n_workloads;
};

/* Per-thread state handed to every engine call. */
struct bench_thread {
    void *engine_state; /* owned by the engine (thread_init/thread_fini) */
    int id;
};

/* Counters an engine can report; a field is UINT64_MAX when unknown. */
struct bench_engine_counters {
    uint64_t bytes_written; /* WAL + flush + compaction bytes */
    uint64_t stall_micros;
};

struct bench_kv {
    const void *key;
    size_t klen;
    const void *val;
    size_t vlen;
};

struct bench_iter; /* engine-defined */

struct bench_engine_ops {
    const char *name;
    /* Fills buf with a line of the settings this engine ran with. */
    void (*describe)(const struct bench_config *cfg, char *buf, size_t len);
    int (*open)(const struct bench_config *cfg, const char *dir, void **out);
    void (*close)(void *db);
    int (*thread_init)(void *db, struct bench_thread *t);
    void (*thread_fini)(void *db, struct bench_thread *t);
    int (*put)(void *db, struct bench_thread *t, const void *k, size_t kn, const void *v, size_t vn,
               int sync);
    int (*del)(void *db, struct bench_thread *t, const void *k, size_t kn, int sync);
    int (*write_batch)(void *db, struct bench_thread *t, const struct bench_kv *kv, size_t n,
                       int sync);
    /* 0 and *vlen when found, -ENOENT when not. */
    int (*get)(void *db, struct bench_thread *t, const void *k, size_t kn, size_t *vlen);
    int (*iter_open)(void *db, struct bench_thread *t, struct bench_iter **out);
    /* k == NULL seeks to the first key. */
    void (*iter_seek)(struct bench_iter *it, const void *k, size_t kn);
    void (*iter_next)(struct bench_iter *it);
    /* 1 and the entry's key + value sizes when positioned, 0 at the end. */
    int (*iter_entry)(struct bench_iter *it, size_t *klen, size_t *vlen);
    int (*iter_status)(struct bench_iter *it);
    void (*iter_close)(struct bench_iter *it);
    /* Optional (NULL): engine-reported counters. */
    int (*counters)(void *db, struct bench_engine_counters *out);
};

/* The engines compiled into this binary, NULL-terminated. */
extern const struct bench_engine_ops *const bench_engines[];
const struct bench_engine_ops *bench_engine_find(const char *name);
/* Appends "rocksdb 7.8.3, leveldb 1.23, ..." for --version. */
void bench_describe_peers(char *buf, size_t len);

/* One workload on one engine; what the child sends to the parent. */
struct bench_result {
    char engine[24];
    char workload[24];
    int status;       /* 0 or a negative errno */
    int is_write;     /* write workload: the write-side figures apply */
    uint64_t ops;     /* operations timed (a batch or a seek+nexts is one) */
    uint64_t entries; /* keys written or read */
    uint64_t found;   /* reads that found their key */
    uint64_t bytes;   /* key + value bytes moved */
    double seconds;
    double p50_us, p99_us, p999_us, max_us;
    double write_amp;      /* engine-reported; < 0 = n/a */
    double disk_write_amp; /* /proc/self/io write_bytes / user bytes; < 0 = n/a */
    double stall_sec;      /* < 0 = n/a */
    uint64_t space_bytes;  /* du of the database directory */
    uint64_t peak_rss_kb;  /* VmHWM during this workload */
    char note[80];
};

/* Fills cfg with the defaults documented in `lsmer bench --help`. */
void bench_config_init(struct bench_config *cfg);
/* The workload names, in default order, NULL-terminated. */
extern const char *const bench_workload_names[];
int bench_workload_known(const char *name);
/* Runs everything; returns a BENCH_EXIT_* code. */
int bench_main(const struct bench_config *cfg);

/* ---- shared helpers (bench_util.c) ----------------------------------- */
uint64_t bench_now_ns(void);
/* Sum of allocated bytes under path (like du -s); 0 if unreadable. */
uint64_t bench_du(const char *path);
/* rm -rf path; 0 or -errno. */
int bench_rmtree(const char *path);
/* Peak RSS since the last reset, in KiB (VmHWM), and its reset. */
uint64_t bench_peak_rss_kb(void);
void bench_reset_peak_rss(void);
/* write_bytes from /proc/self/io (bytes of page cache this process dirtied,
 * i.e. will send to the block layer); UINT64_MAX if unknown. */
uint64_t bench_io_written(void);

#endif /* LSMER_BENCH_H */
