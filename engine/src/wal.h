/*
 * wal.h — the write-ahead log (also the manifest's log): a file of records,
 * each an opaque byte string, framed so that a reader can tell a torn tail
 * from corruption in the middle.
 *
 * Format (docs/format-wal.md): the file is a sequence of 32 KiB blocks. A
 * record is cut into fragments that never cross a block boundary; each
 * fragment has a 7-byte header
 *
 *     masked crc32c (4, LE) | length (2, LE) | type (1: FULL FIRST MIDDLE LAST)
 *
 * followed by length payload bytes. A block tail shorter than a header is
 * zero-filled. The checksum covers the log number (8 bytes LE, not stored),
 * the type byte and the payload, so fragments left in a reused file or in
 * stale disk blocks by another log never verify.
 *
 * Writer: wal_add_record() frames the whole record in memory and hands it to
 * the env in one env_append(), so a crash of the process never leaves part of
 * a record written by us (a power loss still can). After an append error the
 * file's tail is unknown and every later call returns that error.
 *
 * Reader: wal_read_record() returns 1 and a record, 0 at the end, or a
 * negative errno. A damaged fragment followed anywhere by a fragment that
 * verifies is corruption (-LSMER_ECORRUPT, sticky; never skipped); damage
 * with nothing valid after it is a torn write: the end of the log, and its
 * bytes are counted in wal_reader_tail_dropped(). Hence a bit flip inside the
 * very last record reads as a torn tail. The reader uses buffered preads.
 *
 * Ownership and threads: a writer or reader belongs to one thread at a time;
 * it owns its env file and closes it. Nothing is shared between handles.
 */
#ifndef LSMER_WAL_H
#define LSMER_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "env.h"

#define WAL_BLOCK_SIZE 32768
#define WAL_HEADER_SIZE 7

enum wal_fragment_type {
    WAL_ZERO = 0, /* reserved: zero-filled space is never a fragment */
    WAL_FULL = 1,
    WAL_FIRST = 2,
    WAL_MIDDLE = 3,
    WAL_LAST = 4,
};

struct wal_writer;
struct wal_reader;

/* Creates (or truncates) path and returns a writer on it. */
int wal_writer_open(struct lsmer_env *env, const char *path, uint64_t log_number,
                    struct wal_writer **out);
/* Appends one record (n may be 0) with a single env_append(). */
int wal_add_record(struct wal_writer *w, const void *data, size_t n);
/* env_sync() of the file: every record added so far survives a power loss. */
/* Reserves the file chunk bytes at a time ahead of the appends
 * (env_prealloc), so that a sync after an append need not record a new file
 * size: a cheaper fdatasync. The reserved tail reads as zeros, which the
 * reader takes as the clean end of the log. 0 = off (the default; the
 * manifest does not use it). written: how to reserve the first chunk
 * (zeros written, or fallocate); later chunks follow how often the log was
 * synced during the previous one (wal.c). */
void wal_writer_set_prealloc(struct wal_writer *w, uint64_t chunk, int written);
/* How the writer reserves now: a hint for the next log's first chunk. */
int wal_writer_prealloc_written(const struct wal_writer *w);
int wal_sync(struct wal_writer *w);
/* Like wal_sync(), but also after an append error: makes the records
 * before the failed one durable (the torn one after them is dropped by a
 * reader as a torn tail). Used before abandoning a log for a new one. */
int wal_sync_prefix(struct wal_writer *w);
/* Bytes written to the file so far (framing included). */
uint64_t wal_file_size(const struct wal_writer *w);
/* Closes without syncing and frees w (NULL is a no-op). */
int wal_writer_close(struct wal_writer *w);

/* Opens path for reading records written with the same log_number. */
int wal_reader_open(struct lsmer_env *env, const char *path, uint64_t log_number,
                    struct wal_reader **out);
/* 1: *out holds the next record; 0: end of log; <0: error (sticky). */
int wal_read_record(struct wal_reader *r, struct buffer *out);
/* Strict tail: a final fragment that is whole (its length fits in the
 * file) but fails its checksum is corruption, not a torn write. For logs
 * whose records are synced one by one before anything depends on them (the
 * manifest): losing such a record silently would forget live tables. An
 * incomplete final fragment is still a torn tail. */
void wal_reader_set_strict_tail(struct wal_reader *r, int strict);
/* Bytes after the last good record that were dropped as a torn tail (an
 * all-zero end is the preallocated, unwritten part of the log, not a torn
 * write, and counts 0). */
uint64_t wal_reader_tail_dropped(const struct wal_reader *r);
/* File offset just past the last record returned (a safe truncation point). */
uint64_t wal_reader_offset(const struct wal_reader *r);
/* Human description of the last error, e.g. "bad checksum at offset 123456";
 * "" when there was none. */
const char *wal_reader_error_detail(const struct wal_reader *r);
void wal_reader_close(struct wal_reader *r);

#endif /* LSMER_WAL_H */
