/* compaction_pick.c — leveled compaction picking; see compaction_pick.h. */
#include "compaction_pick.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dbformat.h"

/* ---- helpers on file arrays ------------------------------------------ */

static int any_busy(const struct file_array *a)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i]->being_compacted) return 1;
    return 0;
}

/* User-key range [*lo, *hi] covered by the files of a and b (b may be
 * NULL). a must not be empty. */
static void ukey_range(const struct file_array *a, const struct file_array *b, struct slice *lo,
                       struct slice *hi)
{
    *lo = file_meta_smallest_ukey(a->v[0]);
    *hi = file_meta_largest_ukey(a->v[0]);
    for (int k = 0; k < 2; k++) {
        const struct file_array *x = k ? b : a;
        if (!x) continue;
        for (size_t i = 0; i < x->n; i++) {
            struct slice s = file_meta_smallest_ukey(x->v[i]), l = file_meta_largest_ukey(x->v[i]);
            if (slice_compare(s, *lo) < 0) *lo = s;
            if (slice_compare(l, *hi) > 0) *hi = l;
        }
    }
}

/* Level >= 1, a a non-empty run of its files: adds the neighbours that
 * share a boundary user key with the run, repeatedly, on both sides, so no
 * user key is split between files inside and outside the compaction. */
static int add_boundary_inputs(const struct version *v, int level, struct file_array *a)
{
    if (level == 0 || a->n == 0) return 0;
    struct file_meta **files = v->files[level];
    size_t n = v->nfiles[level], lo = n, hi = 0;
    for (size_t i = 0; i < a->n; i++) {
        size_t idx = version_find_file(v, level, file_meta_smallest(a->v[i]));
        if (idx < lo) lo = idx;
        if (idx > hi) hi = idx;
    }
    if (lo >= n) return 0;
    while (hi + 1 < n && slice_compare(file_meta_largest_ukey(files[hi]),
                                       file_meta_smallest_ukey(files[hi + 1])) == 0) {
        hi++;
        if (!file_array_contains(a, files[hi]) && file_array_push(a, files[hi])) return -ENOMEM;
    }
    while (lo > 0 && slice_compare(file_meta_smallest_ukey(files[lo]),
                                   file_meta_largest_ukey(files[lo - 1])) == 0) {
        lo--;
        if (!file_array_contains(a, files[lo]) && file_array_push(a, files[lo])) return -ENOMEM;
    }
    return 0;
}

/* The files of level meeting [lo, hi], closed under overlap (L0) or under
 * shared boundary keys (L1+). */
static int closed_overlap(const struct version *v, int level, struct slice lo, struct slice hi,
                          struct file_array *out)
{
    out->n = 0;
    int rc = version_files_overlapping(v, level, lo, hi, out);
    if (!rc) rc = add_boundary_inputs(v, level, out);
    return rc;
}

/* ---- building a compaction ------------------------------------------- */

static struct compaction *compaction_new(struct version_set *vs, int level)
{
    struct compaction *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    const struct vs_options *o = version_set_options(vs);
    c->vs = vs;
    c->input_version = version_set_current(vs);
    version_ref(c->input_version);
    c->level = level;
    c->output_level = level + 1;
    c->max_output_file_size = o->target_file_size;
    c->max_grandparent_overlap = COMPACTION_GRANDPARENT_OVERLAP_FACTOR * o->target_file_size;
    return c;
}

/* Frees c without touching being_compacted (never set yet). */
static void compaction_discard(struct compaction *c)
{
    file_array_free(&c->inputs[0]);
    file_array_free(&c->inputs[1]);
    file_array_free(&c->grandparents);
    buffer_free(&c->compact_pointer);
    version_unref(c->input_version);
    free(c);
}

/* Given inputs[0] (closed), chooses inputs[1], maybe widens inputs[0], and
 * finds the grandparents. 1 = ready, 0 = some needed file is busy, <0
 * error. */
static int setup_other_inputs(struct compaction *c)
{
    const struct version *v = c->input_version;
    const struct vs_options *o = version_set_options(c->vs);
    struct file_array exp0 = FILE_ARRAY_INIT, exp1 = FILE_ARRAY_INIT;
    struct slice lo, hi, alo, ahi;
    int rc;

    ukey_range(&c->inputs[0], NULL, &lo, &hi);
    if ((rc = closed_overlap(v, c->output_level, lo, hi, &c->inputs[1])) != 0) goto out;
    if (any_busy(&c->inputs[1])) goto out; /* rc == 0: busy */
    ukey_range(&c->inputs[0], &c->inputs[1], &alo, &ahi);

    /* Widen the input level if that costs no extra output-level file. */
    if (c->inputs[1].n > 0) {
        if ((rc = closed_overlap(v, c->level, alo, ahi, &exp0)) != 0) goto out;
        uint64_t limit = COMPACTION_EXPAND_LIMIT_FACTOR * o->target_file_size;
        if (exp0.n > c->inputs[0].n && !any_busy(&exp0) &&
            file_array_bytes(&exp0) + file_array_bytes(&c->inputs[1]) < limit) {
            struct slice elo, ehi;
            ukey_range(&exp0, NULL, &elo, &ehi);
            if ((rc = closed_overlap(v, c->output_level, elo, ehi, &exp1)) != 0) goto out;
            if (exp1.n == c->inputs[1].n && !any_busy(&exp1)) {
                struct file_array t = c->inputs[0];
                c->inputs[0] = exp0;
                exp0 = t;
                t = c->inputs[1];
                c->inputs[1] = exp1;
                exp1 = t;
                ukey_range(&c->inputs[0], &c->inputs[1], &alo, &ahi);
            }
        }
    }
    if (c->output_level + 1 < v->num_levels) {
        c->grandparents.n = 0;
        if ((rc = version_files_overlapping(v, c->output_level + 1, alo, ahi, &c->grandparents)) !=
            0)
            goto out;
    }
    /* The compact pointer: the largest internal key of the input level. */
    struct slice largest = file_meta_largest(c->inputs[0].v[0]);
    for (size_t i = 1; i < c->inputs[0].n; i++)
        if (ikey_compare(file_meta_largest(c->inputs[0].v[i]), largest) > 0)
            largest = file_meta_largest(c->inputs[0].v[i]);
    if ((rc = buffer_set(&c->compact_pointer, largest.p, largest.n)) != 0) goto out;
    rc = 1;
out:
    file_array_free(&exp0);
    file_array_free(&exp1);
    return rc;
}

/* Marks inputs busy and takes references: the compaction now owns them. */
static void compaction_claim(struct compaction *c)
{
    for (int w = 0; w < 2; w++) {
        for (size_t i = 0; i < c->inputs[w].n; i++) {
            c->inputs[w].v[i]->being_compacted = 1;
            file_meta_ref(c->inputs[w].v[i]);
        }
    }
}

/* Tries inputs[0] = the closure of seed at c->level; 1 = ready. */
static int try_seed(struct compaction *c, struct file_meta *seed)
{
    const struct version *v = c->input_version;
    c->inputs[0].n = c->inputs[1].n = c->grandparents.n = 0;
    int rc = closed_overlap(v, c->level, file_meta_smallest_ukey(seed),
                            file_meta_largest_ukey(seed), &c->inputs[0]);
    if (rc) return rc;
    if (c->inputs[0].n == 0 || any_busy(&c->inputs[0])) return 0;
    return setup_other_inputs(c);
}

static struct compaction *pick_level(struct version_set *vs, int level)
{
    struct compaction *c = compaction_new(vs, level);
    if (!c) return NULL;
    const struct version *v = c->input_version;
    size_t n = v->nfiles[level];
    int rc = 0;
    if (level == 0) {
        /* Oldest first: older data should move down first. */
        for (size_t k = n; k-- > 0 && rc == 0;)
            if (!v->files[0][k]->being_compacted) rc = try_seed(c, v->files[0][k]);
    } else {
        struct slice ptr = version_set_compact_pointer(vs, level);
        size_t start = 0;
        if (ptr.n) {
            /* First file that starts after the pointer (largest > ptr). */
            start = version_find_file(v, level, ptr);
            while (start < n && ikey_compare(file_meta_largest(v->files[level][start]), ptr) <= 0)
                start++;
            if (start >= n) start = 0;
        }
        for (size_t k = 0; k < n && rc == 0; k++) {
            struct file_meta *f = v->files[level][(start + k) % n];
            if (!f->being_compacted) rc = try_seed(c, f);
        }
    }
    if (rc != 1) {
        compaction_discard(c);
        return NULL;
    }
    version_set_set_compact_pointer(vs, level, buffer_slice(&c->compact_pointer));
    compaction_claim(c);
    return c;
}

struct compaction *compaction_pick(struct version_set *vs, double threshold)
{
    struct version *v = version_set_current(vs);
    int order[LSMER_MAX_LEVELS], n = 0;
    for (int l = 0; l + 1 < v->num_levels; l++)
        if (v->nfiles[l] > 0 && v->score[l] >= threshold) order[n++] = l;
    /* Highest score first (insertion sort; at most 6 levels). */
    for (int i = 1; i < n; i++) {
        int x = order[i], j = i;
        while (j > 0 && v->score[order[j - 1]] < v->score[x]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = x;
    }
    for (int i = 0; i < n; i++) {
        struct compaction *c = pick_level(vs, order[i]);
        if (c) return c;
    }
    return NULL;
}

struct compaction *compaction_pick_range(struct version_set *vs, int level, struct slice begin_ukey,
                                         struct slice end_ukey)
{
    if (level < 0 || level + 1 >= version_set_num_levels(vs)) return NULL;
    struct compaction *c = compaction_new(vs, level);
    if (!c) return NULL;
    c->manual = 1;
    int rc =
        version_files_overlapping(c->input_version, level, begin_ukey, end_ukey, &c->inputs[0]);
    if (!rc) rc = add_boundary_inputs(c->input_version, level, &c->inputs[0]);
    if (!rc && c->inputs[0].n > 0 && !any_busy(&c->inputs[0])) rc = setup_other_inputs(c);
    if (rc != 1) {
        compaction_discard(c);
        return NULL;
    }
    version_set_set_compact_pointer(vs, level, buffer_slice(&c->compact_pointer));
    compaction_claim(c);
    return c;
}

struct compaction *compaction_new_rewrite(struct version_set *vs, int level, struct file_meta *f)
{
    if (level < 1 || level >= version_set_num_levels(vs) || f->being_compacted) return NULL;
    struct compaction *c = compaction_new(vs, level);
    if (!c) return NULL;
    c->output_level = level;
    c->manual = 1;
    int rc = file_array_push(&c->inputs[0], f);
    if (!rc) rc = add_boundary_inputs(c->input_version, level, &c->inputs[0]);
    if (rc || any_busy(&c->inputs[0])) {
        compaction_discard(c);
        return NULL;
    }
    compaction_claim(c);
    return c;
}

void compaction_release(struct compaction *c)
{
    if (!c) return;
    for (int w = 0; w < 2; w++) {
        for (size_t i = 0; i < c->inputs[w].n; i++) {
            c->inputs[w].v[i]->being_compacted = 0;
            file_meta_unref(c->inputs[w].v[i]);
        }
    }
    compaction_discard(c);
}

/* ---- questions asked while compacting -------------------------------- */

int compaction_should_stop_before(struct compaction *c, struct slice ikey)
{
    const struct file_array *gp = &c->grandparents;
    while (c->gp_index < gp->n && ikey_compare(ikey, file_meta_largest(gp->v[c->gp_index])) > 0) {
        if (c->seen_key) c->overlapped_bytes += gp->v[c->gp_index]->file_size;
        c->gp_index++;
    }
    c->seen_key = 1;
    if (c->overlapped_bytes > c->max_grandparent_overlap) {
        c->overlapped_bytes = 0;
        return 1;
    }
    return 0;
}

int compaction_is_bottommost(const struct compaction *c)
{
    const struct version *v = c->input_version;
    struct slice lo, hi;
    const struct file_array *first = c->inputs[0].n ? &c->inputs[0] : &c->inputs[1];
    if (first->n == 0) return 1;
    ukey_range(first, &c->inputs[1], &lo, &hi);
    for (int l = c->output_level + 1; l < v->num_levels; l++)
        if (version_overlap_in_level(v, l, lo, hi)) return 0;
    return 1;
}

int compaction_key_not_in_deeper_levels(struct compaction *c, struct slice ukey)
{
    const struct version *v = c->input_version;
    for (int l = c->output_level + 1; l < v->num_levels; l++) {
        struct file_meta **files = v->files[l];
        while (c->level_ptrs[l] < v->nfiles[l]) {
            struct file_meta *f = files[c->level_ptrs[l]];
            if (slice_compare(ukey, file_meta_largest_ukey(f)) <= 0) {
                if (slice_compare(ukey, file_meta_smallest_ukey(f)) >= 0) return 0;
                break;
            }
            c->level_ptrs[l]++;
        }
    }
    return 1;
}

int compaction_is_trivial_move(const struct compaction *c)
{
    return !c->manual && c->inputs[0].n == 1 && c->inputs[1].n == 0 &&
           file_array_bytes(&c->grandparents) <= c->max_grandparent_overlap;
}

int compaction_add_input_deletions(const struct compaction *c, struct version_edit *e)
{
    int rc;
    for (int w = 0; w < 2; w++)
        for (size_t i = 0; i < c->inputs[w].n; i++)
            if ((rc = version_edit_delete_file(e, c->level + w, c->inputs[w].v[i]->number)) != 0)
                return rc;
    if (c->compact_pointer.n)
        return version_edit_set_compact_pointer(e, c->level, buffer_slice(&c->compact_pointer));
    return 0;
}

uint64_t compaction_input_bytes(const struct compaction *c)
{
    return file_array_bytes(&c->inputs[0]) + file_array_bytes(&c->inputs[1]);
}
