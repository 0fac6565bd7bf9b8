/*
 * dump.h — what `lsmer dump`'s parts share (cmd_dump.c: options and the
 * DATA_DIR key space with lsmerfs keys decoded; dump_files.c: one WAL,
 * table or manifest file). Output goes to stdout; binary bytes are printed
 * escaped ("ab\x00") or, with raw, as hex.
 *
 * The file dumpers return 0, DUMP_DAMAGE when the file is damaged (what
 * came before the damage was printed, and a "DAMAGE FILE: what" line
 * ends the dump), or DUMP_FAIL when it cannot be read (the message names
 * the file and what to do).
 */
#ifndef LSMER_DUMP_H
#define LSMER_DUMP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DUMP_OK 0
#define DUMP_FAIL 1
#define DUMP_DAMAGE 4

struct dump_opts {
    int raw;          /* keys and values in hex, nothing decoded */
    int keys;         /* --sst: print every entry */
    size_t value_max; /* values longer than this are cut (0: no limit) */
};

/* "escaped" bytes, or hex with raw; cut after max bytes (0: all). */
void dump_bytes(FILE *f, const void *p, size_t n, int raw, size_t max);
/* A key: lsmerfs keys as TAG:INO[/BLOCK or /"NAME"] ("i:12", "d:1/\"a\"",
 * "b:12/0"; when built with the fs core and not raw), else dump_bytes. */
void dump_key(FILE *f, const void *p, size_t n, int raw);
/* An internal key: user key, then "@seq type". */
void dump_ikey(FILE *f, const uint8_t *k, size_t n, int raw);
/* Parses an argument with \xNN, \\, \n, \t escapes into bytes; the length,
 * or -1 when an escape is malformed. out holds at least strlen(s) bytes. */
long dump_unescape(const char *s, uint8_t *out);

int dump_wal(const char *path, const struct dump_opts *o);
int dump_sst(const char *path, const struct dump_opts *o);
int dump_manifest(const char *path, const struct dump_opts *o);

#endif
