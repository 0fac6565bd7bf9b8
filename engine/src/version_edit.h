/*
 * version_edit.h — one change to the set of live tables, as logged in the
 * manifest: files added to and removed from levels, the WAL number below
 * which logs are no longer needed, the next file number, the last sequence
 * number, and per-level compaction pointers.
 *
 * On-disk format (one edit per manifest record; docs/format-manifest.md):
 * a sequence of fields, each a varint32 tag followed by its payload.
 *
 *   1 FORMAT        varint32 format version (always first, exactly once)
 *   2 LOG_NUMBER    varint64
 *   3 NEXT_FILE     varint64
 *   4 LAST_SEQUENCE varint64
 *   5 COMPACT_PTR   varint32 level, length-prefixed internal key
 *   6 DELETED_FILE  varint32 level, varint64 number
 *   7 NEW_FILE      varint32 level, varint64 number, varint64 file size,
 *                   length-prefixed smallest and largest internal keys,
 *                   varint64 smallest seq, largest seq, entries,
 *                   deletions, range deletions
 *
 * Decoding is strict: tags appear in ascending order (5, 6 and 7 may
 * repeat, the others at most once), every varint is in its shortest form,
 * levels are < LSMER_MAX_LEVELS, keys are valid internal keys with
 * smallest <= largest, and nothing may follow the last field. Anything else
 * is -LSMER_ECORRUPT, so an input either is rejected or re-encodes to the
 * very same bytes. A format version newer than VERSION_EDIT_FORMAT is
 * -EPROTO (the database was written by a newer lsmer).
 *
 * Ownership: an edit owns its arrays and compact-pointer keys, and one
 * reference on each added file_meta. Not thread-safe.
 */
#ifndef LSMER_VERSION_EDIT_H
#define LSMER_VERSION_EDIT_H

#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "coding.h"
#include "filemeta.h"

#define VERSION_EDIT_FORMAT 1

enum edit_tag {
    EDIT_TAG_FORMAT = 1,
    EDIT_TAG_LOG_NUMBER = 2,
    EDIT_TAG_NEXT_FILE = 3,
    EDIT_TAG_LAST_SEQUENCE = 4,
    EDIT_TAG_COMPACT_PTR = 5,
    EDIT_TAG_DELETED_FILE = 6,
    EDIT_TAG_NEW_FILE = 7,
};

struct edit_compact_ptr {
    int level;
    struct buffer key; /* internal key */
};
struct edit_deleted_file {
    int level;
    uint64_t number;
};
struct edit_new_file {
    int level;
    struct file_meta *f; /* one reference owned by the edit */
};

struct version_edit {
    uint32_t format; /* set by decode; encode always writes ours */
    int has_log_number, has_next_file_number, has_last_sequence;
    uint64_t log_number, next_file_number, last_sequence;
    struct edit_compact_ptr *cps;
    size_t n_cps, cap_cps;
    struct edit_deleted_file *deleted;
    size_t n_deleted, cap_deleted;
    struct edit_new_file *added;
    size_t n_added, cap_added;
};

void version_edit_init(struct version_edit *e);
/* Releases everything e holds and leaves it empty (initialised). */
void version_edit_free(struct version_edit *e);

void version_edit_set_log_number(struct version_edit *e, uint64_t n);
void version_edit_set_next_file_number(struct version_edit *e, uint64_t n);
void version_edit_set_last_sequence(struct version_edit *e, uint64_t seq);
/* Each returns 0 or -ENOMEM (e unchanged) / -EINVAL (bad level). */
int version_edit_set_compact_pointer(struct version_edit *e, int level, struct slice ikey);
int version_edit_delete_file(struct version_edit *e, int level, uint64_t number);
/* Takes a new reference on f (the caller keeps its own). */
int version_edit_add_file(struct version_edit *e, int level, struct file_meta *f);

/* Appends the encoding of e to out. 0 or -ENOMEM. */
int version_edit_encode(const struct version_edit *e, struct buffer *out);
/* Replaces e's contents with the edit in [data, data + n). 0,
 * -LSMER_ECORRUPT, -EPROTO, or -ENOMEM; on error e is left empty. */
int version_edit_decode(struct version_edit *e, const void *data, size_t n);

#endif /* LSMER_VERSION_EDIT_H */
