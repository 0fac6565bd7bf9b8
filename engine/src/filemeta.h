/*
 * filemeta.h — what the version set knows about one table file: its number,
 * size, key range and a few counts, plus struct file_array, a growable array
 * of file pointers used by versions and compactions.
 *
 * Key range. smallest and largest are internal keys (owned copies) that
 * bound every entry of the table, range tombstones included: the table
 * builder widens them to cover each tombstone's extent, so overlap tests on
 * these keys are exact for point entries and conservative for tombstones.
 *
 * Ownership. A file_meta is shared by every version (and version edit, and
 * compaction) that lists it, through a reference count: file_meta_new()
 * returns one reference, file_meta_ref() adds one, file_meta_unref() drops
 * one and frees the struct at zero. The counter is atomic, so references
 * may be dropped from any thread. Every other field is immutable once the
 * file is in a version, except being_compacted, which is protected by the
 * db mutex (set by compaction_pick*, cleared by compaction_release).
 *
 * A file_array holds borrowed pointers unless its owner says otherwise.
 *
 * Implemented in version_edit.c.
 */
#ifndef LSMER_FILEMETA_H
#define LSMER_FILEMETA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buffer.h"
#include "coding.h"

struct file_meta {
    uint64_t number;
    uint64_t file_size;
    struct buffer smallest; /* internal key */
    struct buffer largest;  /* internal key */
    uint64_t smallest_seq;
    uint64_t largest_seq;
    uint64_t num_entries;         /* point entries, deletions included */
    uint64_t num_deletions;       /* point deletions */
    uint64_t num_range_deletions; /* range tombstones */
    int being_compacted;          /* db mutex */
    atomic_int refs;
};

/* A zeroed file_meta with one reference; NULL on ENOMEM. */
struct file_meta *file_meta_new(void);
void file_meta_ref(struct file_meta *f);
/* Drops one reference; frees at zero. NULL is a no-op. */
void file_meta_unref(struct file_meta *f);
/* Copies both keys in. 0 or -ENOMEM (then f is unchanged). */
int file_meta_set_keys(struct file_meta *f, struct slice smallest, struct slice largest);
/* A new file_meta (one reference) with the same contents as src, not
 * being compacted; NULL on ENOMEM. */
struct file_meta *file_meta_clone(const struct file_meta *src);

static inline struct slice file_meta_smallest(const struct file_meta *f)
{
    return buffer_slice(&f->smallest);
}
static inline struct slice file_meta_largest(const struct file_meta *f)
{
    return buffer_slice(&f->largest);
}
/* User-key bounds (the keys are validated when a file enters a version). */
static inline struct slice file_meta_smallest_ukey(const struct file_meta *f)
{
    return slice_make(f->smallest.p, f->smallest.n - 8);
}
static inline struct slice file_meta_largest_ukey(const struct file_meta *f)
{
    return slice_make(f->largest.p, f->largest.n - 8);
}

struct file_array {
    struct file_meta **v;
    size_t n;
    size_t cap;
};
#define FILE_ARRAY_INIT                                                                            \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* 0 or -ENOMEM; takes no reference. */
int file_array_push(struct file_array *a, struct file_meta *f);
/* Frees the array (not the files). */
void file_array_free(struct file_array *a);
/* Sum of file_size. */
uint64_t file_array_bytes(const struct file_array *a);
/* 1 if f (by number) is in a. */
int file_array_contains(const struct file_array *a, const struct file_meta *f);

#endif /* LSMER_FILEMETA_H */
