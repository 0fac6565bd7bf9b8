/*
 * compaction_pick.h — leveled compaction: which files to merge next, and the
 * questions the compaction loop asks while it writes the output.
 *
 * Policy. L1 holds level1_size bytes, each deeper level level_multiplier
 * times more. Score of L0 = runs / l0_compaction_trigger (runs: files, or
 * with a table partition the overlap depth, see struct version); of Ln =
 * bytes / capacity. Every level but the last whose score is >= the threshold (a
 * fraction, lsmer_set_compaction_threshold; 1.0 by default) wants
 * compaction; the highest score goes first. Within a level, successive
 * compactions rotate through the key space via the level's compact pointer.
 *
 * A compaction merges inputs[0] (files of level) with inputs[1] (the files
 * of output_level = level + 1 whose user-key ranges meet them) into new
 * files of output_level. Rules that keep reads correct:
 *  - L0 inputs are closed under overlap: no L0 file left behind overlaps
 *    the compacted range (else an older L0 entry would shadow a newer one
 *    pushed down).
 *  - One user key is never split across the boundary of a compaction: every
 *    file of the input or output level whose user-key range touches a
 *    boundary key of the inputs is an input too.
 *  - Files marked being_compacted (inputs of a running compaction) are
 *    never picked, so concurrent compactions cover disjoint key intervals.
 * Inputs may be widened at the input level when that pulls in no more
 * output-level files and stays under 25 x target_file_size.
 *
 * Ownership and locking: compaction_pick*() and compaction_release() run
 * under the db mutex (they read the current version and flip
 * being_compacted). A struct compaction pins its input version and holds a
 * reference on each input file; the query functions only read it and may
 * run without the mutex from the one thread doing the compaction.
 */
#ifndef LSMER_COMPACTION_PICK_H
#define LSMER_COMPACTION_PICK_H

#include <stdint.h>

#include "coding.h"
#include "filemeta.h"
#include "version.h"
#include "version_edit.h"

#define COMPACTION_GRANDPARENT_OVERLAP_FACTOR 10 /* x target_file_size */
#define COMPACTION_EXPAND_LIMIT_FACTOR 25        /* x target_file_size */

struct compaction {
    struct version_set *vs;
    struct version *input_version; /* one reference */
    int level, output_level;
    int manual;                     /* from compaction_pick_range */
    struct file_array inputs[2];    /* [0]: level, [1]: output_level; refs */
    struct file_array grandparents; /* output_level + 1 overlap; borrowed */
    uint64_t max_output_file_size;
    uint64_t max_grandparent_overlap;
    struct buffer compact_pointer; /* largest key of inputs[0] */

    /* compaction_should_stop_before() state */
    size_t gp_index;
    int seen_key;
    uint64_t overlapped_bytes;
    /* compaction_key_not_in_deeper_levels() cursors, per level */
    size_t level_ptrs[LSMER_MAX_LEVELS];
};

/* The most needed compaction whose score is >= threshold, or NULL (nothing
 * to do, everything eligible busy, or ENOMEM). Marks the inputs
 * being_compacted and advances the level's compact pointer. */
struct compaction *compaction_pick(struct version_set *vs, double threshold);

/* A manual compaction of the files of level meeting [begin, end] (user
 * keys; .p == NULL = unbounded) into level + 1. NULL when no file of level
 * meets the range, when level is the last one, when some needed file is
 * being compacted (retry once version_overlap_in_level() still says there
 * is work and the running compaction has finished), or on ENOMEM. */
struct compaction *compaction_pick_range(struct version_set *vs, int level, struct slice begin_ukey,
                                         struct slice end_ukey);

/* A rewrite in place of file f of level (>= 1): output_level == level, the
 * inputs are f and the neighbours sharing a boundary user key with it (a
 * point deletion must not be dropped while an older version of its key sits
 * in the next file). Used to drop data that tombstones of other files delete
 * (db_reclaim.c). NULL when level is 0, a needed file is being compacted,
 * or on ENOMEM. */
struct compaction *compaction_new_rewrite(struct version_set *vs, int level, struct file_meta *f);

/* Clears being_compacted on the inputs, drops every reference, frees c.
 * Db mutex held. NULL is a no-op. */
void compaction_release(struct compaction *c);

/* Call with each output key (internal key, ascending) before adding it: 1
 * when the current output file should be finished first because it already
 * overlaps more than max_grandparent_overlap bytes of grandparent files. */
int compaction_should_stop_before(struct compaction *c, struct slice ikey);

/* 1 if no level below output_level holds data in the compaction's key
 * range: deletions can be dropped outright. */
int compaction_is_bottommost(const struct compaction *c);

/* 1 if no level below output_level has a file whose range holds ukey, so a
 * deletion of ukey (older than every snapshot) can be dropped. Call with
 * ascending user keys: a cursor per level moves forward. */
int compaction_key_not_in_deeper_levels(struct compaction *c, struct slice ukey);

/* 1 if the compaction can just move its single input file down a level:
 * nothing to merge with, little grandparent overlap, not manual. */
int compaction_is_trivial_move(const struct compaction *c);

/* Adds to e the deletion of every input file and the level's new compact
 * pointer. 0 or -ENOMEM. */
int compaction_add_input_deletions(const struct compaction *c, struct version_edit *e);

static inline uint64_t compaction_max_output_file_size(const struct compaction *c)
{
    return c->max_output_file_size;
}
/* Total bytes of both input levels. */
uint64_t compaction_input_bytes(const struct compaction *c);

#endif /* LSMER_COMPACTION_PICK_H */
