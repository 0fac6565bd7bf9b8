/*
 * bench_int.h — functions shared between the files of the benchmark
 * (parent side bench_main.c, child side bench_run.c); not for the CLI.
 */
#ifndef LSMER_BENCH_INT_H
#define LSMER_BENCH_INT_H

#include "bench.h"

/* Runs every configured workload against one engine in dir, printing a
 * line per workload and writing a struct bench_result per workload to
 * out_fd. Returns 0, or 1 if any workload failed. */
int bench_child_run(const struct bench_config *cfg, const struct bench_engine_ops *ops,
                    const char *dir, int out_fd);

/* "12.3M"-style size: K, M, G with one decimal (powers of 1024). */
void bench_format_size(uint64_t bytes, char *buf, size_t len);
/* The per-second figure of a result: keys/s, or seeks/s for seekrandom. */
double bench_result_rate(const struct bench_result *res);
/* How well zstd (at the configured level, 1 if off) compresses table
 * blocks full of the values the workloads write: in / out. */
double bench_value_compression(const struct bench_config *cfg);
/* The column header printed above bench_run.c's result lines. */
void bench_print_header(void);

#endif /* LSMER_BENCH_INT_H */
