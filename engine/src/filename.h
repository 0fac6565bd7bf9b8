/*
 * filename.h — the names of the files in a database directory, and parsing
 * them back.
 *
 *   CURRENT           text "MANIFEST-000123\n": names the live manifest
 *   MANIFEST-%06llu   log of version edits (see docs/format-manifest.md)
 *   %06llu.log        write-ahead log
 *   %06llu.sst        sorted table
 *   LOCK              held (flock) by the process that has the database open
 *   *.tmp             temporary (env_write_file_atomic's CURRENT.tmp, ...)
 *
 * Every database file except LOCK, CURRENT and temp files carries a number
 * from the version set's single counter, so numbers never repeat between
 * kinds. Numbers are printed with at least six digits; more when larger.
 *
 * The make functions write a NUL-terminated name into a caller buffer: with
 * dir == NULL the bare name, else "dir/name". They return 0, or
 * -ENAMETOOLONG when cap is too small (the buffer then holds a truncated
 * string that must not be used). FILENAME_MAX_BYTES is always enough for a
 * bare name. Stateless and thread-safe.
 */
#ifndef LSMER_FILENAME_H
#define LSMER_FILENAME_H

#include <stddef.h>
#include <stdint.h>

enum file_kind {
    FILE_KIND_CURRENT = 1,
    FILE_KIND_MANIFEST = 2,
    FILE_KIND_LOG = 3,
    FILE_KIND_TABLE = 4,
    FILE_KIND_LOCK = 5,
    FILE_KIND_TEMP = 6,
};

/* Longest bare name ("MANIFEST-" + 20 digits + ".tmp" + NUL fits). */
#define FILENAME_MAX_BYTES 40

int filename_make(char *buf, size_t cap, const char *dir, enum file_kind kind, uint64_t number);
int filename_current(char *buf, size_t cap, const char *dir);
int filename_lock(char *buf, size_t cap, const char *dir);
int filename_manifest(char *buf, size_t cap, const char *dir, uint64_t number);
int filename_log(char *buf, size_t cap, const char *dir, uint64_t number);
int filename_table(char *buf, size_t cap, const char *dir, uint64_t number);
/* "%06llu.tmp" — a numbered scratch file (e.g. a table being written). */
int filename_temp(char *buf, size_t cap, const char *dir, uint64_t number);

/* Parses a bare name (no directory). 0 and *number, *kind for a database
 * file (number is 0 for CURRENT, LOCK, and temp files without a number);
 * -EINVAL for anything else. Only the canonical spelling is accepted
 * ("7.log" and "0000007.log" are not ours; "000007.log" is), so a
 * directory holding other programs' files is recognised as such. */
int filename_parse(const char *name, uint64_t *number, enum file_kind *kind);

#endif /* LSMER_FILENAME_H */
