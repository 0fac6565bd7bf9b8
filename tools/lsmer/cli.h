/*
 * cli.h — what the subcommands of the `lsmer` admin CLI share.
 *
 * A subcommand is a function `int cmd_NAME(int argc, char **argv)` in
 * tools/lsmer/cmd_NAME.c, listed once in LSMER_COMMANDS below. argv[0] is
 * the command's name; the function parses its own options (getopt_long),
 * prints its usage on --help to stdout and returns an exit code. Errors go
 * to stderr as "lsmer NAME: what failed: why" and then what to do.
 *
 * Exit codes shared by every command (a command may add its own above 2,
 * e.g. fsck's "problems found", and documents them in its --help):
 */
#ifndef LSMER_CLI_H
#define LSMER_CLI_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "lsmer.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1  /* the command ran and failed */
#define CLI_EXIT_USAGE 2 /* bad command line */

/* name, one-line summary. Adding a command is one line here plus its
 * cmd_NAME.c; a listed command whose file is not in the build yet is hidden
 * from --help and reports that it is not available. */
#define LSMER_COMMANDS(X)                                                                          \
    X(stats, "print level sizes, write amplification, cache and bloom figures")                    \
    X(compact, "compact the whole database down to its last level")                                \
    X(fsck, "check a database (and the filesystem in it) for damage")                              \
    X(dump, "print the keys and values of a database")                                             \
    X(scrub, "read and verify every block of a database")                                          \
    X(backup, "copy a live or stopped filesystem from one consistent snapshot")                    \
    X(restore, "make a DATA_DIR from a backup")                                                    \
    X(bench, "compare lsmer with RocksDB, LevelDB and LMDB (db_bench-style)")

/* Prints "lsmer CMD: " and the formatted message and a newline to stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What a user can do about err from lsmer_open or a later call on dir. */
const char *cli_hint(int err);

/* Opens the database in dir (read_only: without writing anything and
 * without creating it). Prints a message naming dir, the error and what to
 * do, and returns the negative error, on failure. */
int cli_open_db(const char *cmd, const char *dir, int read_only, lsmer_db **out);

/* Parses a non-negative integer ("1000000"); 0 or -EINVAL. */
int cli_parse_u64(const char *s, uint64_t *out);
/* Parses a byte size with an optional K, M or G suffix (powers of 1024,
 * "KiB" etc. also accepted); 0 or -EINVAL. */
int cli_parse_size(const char *s, uint64_t *out);
/* "12.3 MiB" */
void cli_format_bytes(uint64_t v, char *buf, unsigned len);
/* Seconds on the monotonic clock since t0 (taken from CLOCK_MONOTONIC). */
double cli_seconds_since(const struct timespec *t0);

/* The command line of a command whose options are all flags (compact,
 * backup, restore): -q/--quiet, -h/--help and, where it takes it,
 * --no-verify; then a fixed number of operands. */
struct cli_flags_syntax {
    const char *cmd;        /* "restore" */
    const char *synopsis;   /* "lsmer restore [--quiet] BACKUP DATA_DIR" */
    void (*usage)(FILE *f); /* prints the --help text */
    int operands;           /* exactly this many follow the flags */
    const char *missing;    /* what to say when fewer do */
    int takes_no_verify;
};

struct cli_flags {
    int quiet;     /* -q, --quiet: no progress line and no summary */
    int no_verify; /* --no-verify */
};

/* Parses argv by syn (getopt_long; the operands start at argv[optind]).
 * Returns -1 with f filled when the command goes on, or the exit code it
 * returns at once: CLI_EXIT_OK after --help printed the usage to stdout,
 * CLI_EXIT_USAGE after an unknown option or a wrong number of operands was
 * reported ("... (usage: SYNOPSIS)"). */
int cli_parse_flags(const struct cli_flags_syntax *syn, int argc, char **argv, struct cli_flags *f);

#endif /* LSMER_CLI_H */
