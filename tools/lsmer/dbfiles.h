/*
 * dbfiles.h — reading the engine's files one by one, beside the engine, for
 * `lsmer scrub` and `lsmer dump`: CURRENT, a manifest or a WAL record by
 * record (with the offset of each), and a table block by block (each
 * block's checksum verified and its contents decompressed), so that damage
 * can be named by file and offset instead of "the database is corrupt".
 *
 * Nothing here writes, locks or caches. Files are read with pread; a table
 * file is immutable once the manifest lists it, so reading one while a
 * daemon runs is safe (a table removed by compaction under us is still
 * readable through our open descriptor). A log is read up to the size it
 * had when it was opened, so bytes being appended are never half seen.
 *
 * Errors: 0 or a negative errno; damage is -LSMER_ECORRUPT with a
 * one-line description in the caller's err buffer. Not thread safe per
 * handle.
 */
#ifndef LSMER_DBFILES_H
#define LSMER_DBFILES_H

#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "table_format.h"

#define DBF_ERR_LEN 256

/* The manifest CURRENT names: its bare name and number. */
int dbf_read_current(const char *dir, char *name, size_t cap, uint64_t *number);

/* The number in a bare database file name of kind (FILE_KIND_*), from the
 * last path component of path; -EINVAL if it is not one. */
int dbf_number_of(const char *path, int kind, uint64_t *number);

/* Reads the log at path (a WAL or a manifest, framed alike; log_number
 * seeds the checksums) and calls fn for each whole record with the file
 * offset just past it. strict: a whole last fragment that fails its
 * checksum is damage (the manifest's rule) rather than a torn tail. fn
 * returning non-zero stops the walk with that value. *dropped: bytes of a
 * torn tail (may be NULL). */
typedef int (*dbf_record_fn)(void *arg, uint64_t end_offset, const uint8_t *rec, size_t n);
int dbf_walk_log(const char *path, uint64_t log_number, int strict, dbf_record_fn fn, void *arg,
                 uint64_t *dropped, char *err, size_t errlen);

/* A table file opened for block reads. */
struct dbf_table {
    int fd;
    uint64_t size;
    uint32_t version;
    struct block_handle h[FOOTER_NSLOTS]; /* index, filter, range-del, props */
};

/* Opens path and verifies its footer (magic, crc, version). */
int dbf_table_open(const char *path, struct dbf_table *t, char *err, size_t errlen);
void dbf_table_close(struct dbf_table *t);

/* Reads the block at h, checks its place in the file and its crc, and
 * returns its contents (decompressed) in a malloc'd *out. *type: the
 * stored type (0 plain, 1 zstd). */
int dbf_table_block(const struct dbf_table *t, struct block_handle h, uint8_t **out, size_t *n,
                    int *type, char *err, size_t errlen);

/* Walks the entries of block contents (any block but the filter), calling
 * fn with each key and value; internal: keys are internal keys (data,
 * index, range-del blocks). 0, or -LSMER_ECORRUPT when the block does not
 * parse (err says where), or what fn returned. */
typedef int (*dbf_entry_fn)(void *arg, const uint8_t *k, size_t klen, const uint8_t *v,
                            size_t vlen);
int dbf_block_entries(const uint8_t *data, size_t n, int internal, dbf_entry_fn fn, void *arg,
                      char *err, size_t errlen);

#endif
