/* version.c — versions, the version builder, the version set and its
 * manifest; see version.h and docs/format-manifest.md. */
#include "version.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbformat.h"
#include "filename.h"
#include "wal.h"

struct version_set {
    struct lsmer_env *env;
    char *dir;
    struct vs_options opt;

    pthread_mutex_t list_mu; /* guards the list of live versions */
    struct version list;     /* sentinel of a circular list */

    struct version *current; /* db mutex; one reference held by the set */
    uint64_t next_file_number, last_sequence, log_number, manifest_number; /* db mutex */
    struct buffer compact_ptr[LSMER_MAX_LEVELS];                           /* db mutex */

    /* The open manifest, NULL when the next apply must start a new one.
     * Only touched by the one running apply (or recover/create/free). */
    struct wal_writer *manifest;
    int applying;            /* db mutex: an apply is in progress */
    pthread_cond_t apply_cv; /* waits on the db mutex */
};

#define PATH_BYTES 4096

static void vs_log(struct version_set *vs, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void vs_log(struct version_set *vs, int level, const char *fmt, ...)
{
    if (!vs->opt.log) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vs->opt.log(vs->opt.log_arg, level, msg);
}

/* ---- versions -------------------------------------------------------- */

void version_ref(struct version *v)
{
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
}

static void version_destroy(struct version *v)
{
    for (int l = 0; l < LSMER_MAX_LEVELS; l++) {
        for (size_t i = 0; i < v->nfiles[l]; i++) file_meta_unref(v->files[l][i]);
        free(v->files[l]);
    }
    free(v);
}

void version_unref(struct version *v)
{
    if (!v) return;
    if (atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1) return;
    struct version_set *vs = v->vs;
    pthread_mutex_lock(&vs->list_mu);
    v->prev->next = v->next;
    v->next->prev = v->prev;
    pthread_mutex_unlock(&vs->list_mu);
    version_destroy(v);
}

double version_level_score(const struct version *v, int level)
{
    return level >= 0 && level < v->num_levels ? v->score[level] : 0.0;
}

uint64_t version_set_level_capacity(const struct version_set *vs, int level)
{
    uint64_t cap = vs->opt.level1_size;
    for (int l = 1; l < level; l++) {
        if (cap > UINT64_MAX / (uint64_t)vs->opt.level_multiplier) return UINT64_MAX;
        cap *= (uint64_t)vs->opt.level_multiplier;
    }
    return cap;
}

uint64_t version_pending_compaction_bytes(const struct version *v)
{
    const struct version_set *vs = v->vs;
    uint64_t sum = 0;
    if (v->l0_runs >= vs->opt.l0_compaction_trigger) sum += v->level_bytes[0];
    for (int l = 1; l + 1 < v->num_levels; l++) {
        uint64_t cap = version_set_level_capacity(vs, l);
        if (v->level_bytes[l] > cap) sum += v->level_bytes[l] - cap;
    }
    return sum;
}

/* a <= b for user keys where an unbounded (.p == NULL) lower bound a or
 * upper bound b always passes. */
static int ukey_le_lo(struct slice lo, struct slice k)
{
    return !lo.p || slice_compare(lo, k) <= 0;
}
static int ukey_le_hi(struct slice k, struct slice hi)
{
    return !hi.p || slice_compare(k, hi) <= 0;
}

/* Level >= 1: first file whose largest user key >= ukey. */
static size_t find_by_ukey(const struct version *v, int level, struct slice ukey)
{
    size_t lo = 0, hi = v->nfiles[level];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (slice_compare(file_meta_largest_ukey(v->files[level][mid]), ukey) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t version_find_file(const struct version *v, int level, struct slice ikey)
{
    size_t lo = 0, hi = v->nfiles[level];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ikey_compare(file_meta_largest(v->files[level][mid]), ikey) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int file_meets(const struct file_meta *f, struct slice lo, struct slice hi)
{
    return ukey_le_lo(lo, file_meta_largest_ukey(f)) && ukey_le_hi(file_meta_smallest_ukey(f), hi);
}

int version_overlap_in_level(const struct version *v, int level, struct slice smallest_ukey,
                             struct slice largest_ukey)
{
    if (level < 0 || level >= v->num_levels) return 0;
    if (level == 0) {
        for (size_t i = 0; i < v->nfiles[0]; i++)
            if (file_meets(v->files[0][i], smallest_ukey, largest_ukey)) return 1;
        return 0;
    }
    size_t i = smallest_ukey.p ? find_by_ukey(v, level, smallest_ukey) : 0;
    return i < v->nfiles[level] && file_meets(v->files[level][i], smallest_ukey, largest_ukey);
}

int version_files_overlapping(const struct version *v, int level, struct slice begin_ukey,
                              struct slice end_ukey, struct file_array *out)
{
    if (level < 0 || level >= v->num_levels) return 0;
    size_t mark = out->n;
    if (level > 0) {
        size_t i = begin_ukey.p ? find_by_ukey(v, level, begin_ukey) : 0;
        for (; i < v->nfiles[level]; i++) {
            struct file_meta *f = v->files[level][i];
            if (!ukey_le_hi(file_meta_smallest_ukey(f), end_ukey)) break;
            if (file_array_push(out, f)) goto nomem;
        }
        return 0;
    }
    /* L0: a file that reaches past the range widens it, and the scan
     * restarts so files overlapping the wider range are taken too. */
    for (size_t i = 0; i < v->nfiles[0];) {
        struct file_meta *f = v->files[0][i++];
        if (!file_meets(f, begin_ukey, end_ukey)) continue;
        struct slice fs = file_meta_smallest_ukey(f), fl = file_meta_largest_ukey(f);
        if (begin_ukey.p && slice_compare(fs, begin_ukey) < 0) {
            begin_ukey = fs;
            out->n = mark;
            i = 0;
        } else if (end_ukey.p && slice_compare(fl, end_ukey) > 0) {
            end_ukey = fl;
            out->n = mark;
            i = 0;
        } else if (file_array_push(out, f)) {
            goto nomem;
        }
    }
    return 0;
nomem:
    out->n = mark;
    return -ENOMEM;
}

/* ---- the builder: a version under construction ------------------------
 * An open-addressing hash of file number -> (level, file), so replaying a
 * long manifest costs O(1) per added or deleted file. */

struct bslot {
    uint64_t number; /* 0 = empty */
    int level;
    struct file_meta *f; /* one reference */
};

struct builder {
    struct bslot *slots;
    size_t cap, n; /* cap is a power of two */
    int num_levels;
};

static size_t bhash(uint64_t n, size_t cap)
{
    return (size_t)((n * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
}

static void builder_free(struct builder *b)
{
    for (size_t i = 0; i < b->cap; i++)
        if (b->slots[i].number) file_meta_unref(b->slots[i].f);
    free(b->slots);
    b->slots = NULL;
    b->cap = b->n = 0;
}

static size_t builder_find(const struct builder *b, uint64_t number)
{
    size_t i = bhash(number, b->cap);
    while (b->slots[i].number && b->slots[i].number != number) i = (i + 1) & (b->cap - 1);
    return i;
}

static int builder_grow(struct builder *b)
{
    size_t cap = b->cap ? b->cap * 2 : 64;
    struct bslot *old = b->slots;
    size_t oldcap = b->cap;
    b->slots = calloc(cap, sizeof(*b->slots));
    if (!b->slots) {
        b->slots = old;
        return -ENOMEM;
    }
    b->cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].number) b->slots[builder_find(b, old[i].number)] = old[i];
    free(old);
    return 0;
}

/* -EINVAL: a malformed file, a bad level, or a number already present. */
static int builder_add(struct builder *b, int level, struct file_meta *f)
{
    if (level < 0 || level >= b->num_levels || f->number == 0) return -EINVAL;
    struct slice s = file_meta_smallest(f), l = file_meta_largest(f);
    if (!ikey_valid(s) || !ikey_valid(l) || ikey_compare(s, l) > 0) return -EINVAL;
    if ((b->n + 1) * 2 > b->cap && builder_grow(b)) return -ENOMEM;
    size_t i = builder_find(b, f->number);
    if (b->slots[i].number) return -EINVAL;
    file_meta_ref(f);
    b->slots[i] = (struct bslot){f->number, level, f};
    b->n++;
    return 0;
}

/* -EINVAL unless number is present in level. */
static int builder_delete(struct builder *b, int level, uint64_t number)
{
    if (!b->cap) return -EINVAL;
    size_t i = builder_find(b, number);
    if (!b->slots[i].number || b->slots[i].level != level) return -EINVAL;
    file_meta_unref(b->slots[i].f);
    b->slots[i].number = 0;
    b->n--;
    /* Backward-shift deletion keeps every probe chain unbroken. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & (b->cap - 1);
        if (!b->slots[j].number) break;
        size_t home = bhash(b->slots[j].number, b->cap);
        /* Move j into the hole i unless home lies cyclically in (i, j]. */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            b->slots[i] = b->slots[j];
            b->slots[j].number = 0;
            i = j;
        }
    }
    return 0;
}

/* Deletions first, then additions, so a file may move between levels. */
static int builder_apply(struct builder *b, const struct version_edit *e)
{
    int rc;
    for (size_t i = 0; i < e->n_deleted; i++)
        if ((rc = builder_delete(b, e->deleted[i].level, e->deleted[i].number)) != 0) return rc;
    for (size_t i = 0; i < e->n_added; i++)
        if ((rc = builder_add(b, e->added[i].level, e->added[i].f)) != 0) return rc;
    return 0;
}

static int builder_load(struct builder *b, const struct version *v)
{
    int rc;
    for (int l = 0; l < v->num_levels; l++)
        for (size_t i = 0; i < v->nfiles[l]; i++)
            if ((rc = builder_add(b, l, v->files[l][i])) != 0) return rc;
    return 0;
}

static int cmp_l0(const void *a, const void *b)
{
    const struct file_meta *x = *(struct file_meta *const *)a, *y = *(struct file_meta *const *)b;
    if (x->largest_seq != y->largest_seq) return x->largest_seq > y->largest_seq ? -1 : 1;
    return x->number > y->number ? -1 : x->number < y->number;
}

static int cmp_sorted(const void *a, const void *b)
{
    const struct file_meta *x = *(struct file_meta *const *)a, *y = *(struct file_meta *const *)b;
    int c = ikey_compare(file_meta_smallest(x), file_meta_smallest(y));
    if (c) return c;
    return x->number < y->number ? -1 : x->number > y->number;
}

static struct version *version_alloc(struct version_set *vs)
{
    struct version *v = calloc(1, sizeof(*v));
    if (!v) return NULL;
    v->vs = vs;
    v->num_levels = vs->opt.num_levels;
    atomic_init(&v->refs, 1);
    pthread_mutex_lock(&vs->list_mu);
    v->next = &vs->list;
    v->prev = vs->list.prev;
    vs->list.prev->next = v;
    vs->list.prev = v;
    pthread_mutex_unlock(&vs->list_mu);
    return v;
}

/* The most level-0 files whose user-key ranges share one key: a point
 * read looks into at most this many. The deepest point of closed ranges is
 * at some range's start, so counting the ranges holding each start is
 * enough (a few dozen files: quadratic is fine). */
static size_t l0_depth(const struct version *v)
{
    size_t n = v->nfiles[0], best = 0;
    for (size_t i = 0; i < n; i++) {
        struct slice k = file_meta_smallest_ukey(v->files[0][i]);
        size_t d = 0;
        for (size_t j = 0; j < n; j++) {
            const struct file_meta *f = v->files[0][j];
            if (slice_compare(file_meta_smallest_ukey(f), k) <= 0 &&
                slice_compare(k, file_meta_largest_ukey(f)) <= 0)
                d++;
        }
        if (d > best) best = d;
    }
    return best;
}

/* Files one counted L0 run may stand for, when runs count depth: level 0
 * still cannot grow without bound in files (every file is one more child
 * of every iterator). */
#define L0_FILES_PER_RUN 3

static void version_finalize(struct version *v)
{
    const struct version_set *vs = v->vs;
    size_t runs = v->nfiles[0];
    if (vs->opt.l0_by_depth) {
        size_t floor_runs = (v->nfiles[0] + L0_FILES_PER_RUN - 1) / L0_FILES_PER_RUN;
        runs = l0_depth(v);
        if (runs < floor_runs) runs = floor_runs;
    }
    v->l0_runs = runs > INT_MAX ? INT_MAX : (int)runs;
    for (int l = 0; l < v->num_levels; l++) {
        uint64_t bytes = 0;
        for (size_t i = 0; i < v->nfiles[l]; i++) bytes += v->files[l][i]->file_size;
        v->level_bytes[l] = bytes;
        if (l == 0)
            v->score[l] = (double)v->l0_runs / (double)vs->opt.l0_compaction_trigger;
        else
            v->score[l] = (double)bytes / (double)version_set_level_capacity(vs, l);
    }
}

/* Makes a version of b's files (each gets a new reference); -EINVAL when
 * L1+ would be unsorted or overlapping (the file numbers are named in the
 * log). */
static int builder_finish(struct builder *b, struct version_set *vs, struct version **out)
{
    struct version *v = version_alloc(vs);
    int rc = 0;
    if (!v) return -ENOMEM;
    size_t count[LSMER_MAX_LEVELS] = {0};
    for (size_t i = 0; i < b->cap; i++)
        if (b->slots[i].number) count[b->slots[i].level]++;
    for (int l = 0; l < v->num_levels; l++) {
        if (!count[l]) continue;
        v->files[l] = malloc(count[l] * sizeof(*v->files[l]));
        if (!v->files[l]) {
            rc = -ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < b->cap; i++) {
        if (!b->slots[i].number) continue;
        int l = b->slots[i].level;
        file_meta_ref(b->slots[i].f);
        v->files[l][v->nfiles[l]++] = b->slots[i].f;
    }
    for (int l = 0; l < v->num_levels; l++) {
        if (v->nfiles[l] < 2) continue;
        qsort(v->files[l], v->nfiles[l], sizeof(*v->files[l]), l == 0 ? cmp_l0 : cmp_sorted);
        if (l == 0) continue;
        for (size_t i = 0; i + 1 < v->nfiles[l]; i++) {
            const struct file_meta *f = v->files[l][i], *g = v->files[l][i + 1];
            if (ikey_compare(file_meta_largest(f), file_meta_smallest(g)) >= 0) {
                vs_log(vs, LSMER_LOG_ERROR, "level %d: tables %llu and %llu overlap", l,
                       (unsigned long long)f->number, (unsigned long long)g->number);
                rc = -EINVAL;
                goto out;
            }
        }
    }
    version_finalize(v);
out:
    if (rc) {
        version_unref(v);
        v = NULL;
    }
    *out = v;
    return rc;
}

/* ---- the version set: basics ----------------------------------------- */

int version_set_new(struct lsmer_env *env, const char *dir, const struct vs_options *opt,
                    struct version_set **out)
{
    struct vs_options o = *opt;
    if (o.num_levels == 0) o.num_levels = LSMER_MAX_LEVELS;
    if (!env || !dir || o.num_levels < 2 || o.num_levels > LSMER_MAX_LEVELS || o.level1_size == 0 ||
        o.level_multiplier < 1 || o.l0_compaction_trigger < 1 || o.target_file_size == 0)
        return -EINVAL;
    struct version_set *vs = calloc(1, sizeof(*vs));
    if (!vs) return -ENOMEM;
    vs->env = env;
    vs->opt = o;
    vs->dir = strdup(dir);
    vs->list.next = vs->list.prev = &vs->list;
    vs->next_file_number = 2;
    pthread_mutex_init(&vs->list_mu, NULL);
    pthread_cond_init(&vs->apply_cv, NULL);
    if (!vs->dir || !(vs->current = version_alloc(vs))) {
        version_set_free(vs);
        return -ENOMEM;
    }
    version_finalize(vs->current);
    *out = vs;
    return 0;
}

void version_set_free(struct version_set *vs)
{
    if (!vs) return;
    version_unref(vs->current);
    wal_writer_close(vs->manifest);
    for (int l = 0; l < LSMER_MAX_LEVELS; l++) buffer_free(&vs->compact_ptr[l]);
    pthread_mutex_destroy(&vs->list_mu);
    pthread_cond_destroy(&vs->apply_cv);
    free(vs->dir);
    free(vs);
}

struct version *version_set_current(struct version_set *vs)
{
    return vs->current;
}
uint64_t version_set_new_file_number(struct version_set *vs)
{
    return vs->next_file_number++;
}
void version_set_mark_file_number_used(struct version_set *vs, uint64_t n)
{
    if (vs->next_file_number <= n) vs->next_file_number = n + 1;
}
uint64_t version_set_next_file_number(const struct version_set *vs)
{
    return vs->next_file_number;
}
uint64_t version_set_last_sequence(const struct version_set *vs)
{
    return vs->last_sequence;
}
void version_set_set_last_sequence(struct version_set *vs, uint64_t seq)
{
    vs->last_sequence = seq;
}
uint64_t version_set_log_number(const struct version_set *vs)
{
    return vs->log_number;
}
uint64_t version_set_manifest_number(const struct version_set *vs)
{
    return vs->manifest_number;
}
int version_set_num_levels(const struct version_set *vs)
{
    return vs->opt.num_levels;
}
const struct vs_options *version_set_options(const struct version_set *vs)
{
    return &vs->opt;
}
struct slice version_set_compact_pointer(const struct version_set *vs, int level)
{
    return buffer_slice(&vs->compact_ptr[level]);
}
int version_set_set_compact_pointer(struct version_set *vs, int level, struct slice ikey)
{
    if (level < 0 || level >= LSMER_MAX_LEVELS) return -EINVAL;
    return buffer_set(&vs->compact_ptr[level], ikey.p, ikey.n);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int version_set_live_files(struct version_set *vs, uint64_t **numbers, size_t *count)
{
    size_t n = 0, cap = 0;
    uint64_t *v = NULL;
    int rc = 0;
    pthread_mutex_lock(&vs->list_mu);
    for (struct version *x = vs->list.next; x != &vs->list; x = x->next) {
        for (int l = 0; l < x->num_levels; l++) {
            for (size_t i = 0; i < x->nfiles[l]; i++) {
                if (n == cap) {
                    size_t c = cap ? cap * 2 : 64;
                    uint64_t *p = realloc(v, c * sizeof(*p));
                    if (!p) {
                        rc = -ENOMEM;
                        goto out;
                    }
                    v = p;
                    cap = c;
                }
                v[n++] = x->files[l][i]->number;
            }
        }
    }
out:
    pthread_mutex_unlock(&vs->list_mu);
    if (rc) {
        free(v);
        return rc;
    }
    if (n) qsort(v, n, sizeof(*v), cmp_u64);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || v[m - 1] != v[i]) v[m++] = v[i];
    if (!m) {
        free(v);
        v = NULL;
    }
    *numbers = v;
    *count = m;
    return 0;
}

/* Makes v current (the set takes over its reference). */
static void vs_install(struct version_set *vs, struct version *v)
{
    struct version *old = vs->current;
    vs->current = v;
    version_unref(old);
}

/* ---- manifest IO ----------------------------------------------------- */

/* An edit recreating the whole state: every file, counters, pointers. */
static int vs_snapshot_edit(struct version_set *vs, struct version_edit *e)
{
    int rc = 0;
    version_edit_set_log_number(e, vs->log_number);
    version_edit_set_next_file_number(e, vs->next_file_number);
    version_edit_set_last_sequence(e, vs->last_sequence);
    for (int l = 0; l < vs->opt.num_levels && !rc; l++)
        if (vs->compact_ptr[l].n)
            rc = version_edit_set_compact_pointer(e, l, buffer_slice(&vs->compact_ptr[l]));
    struct version *v = vs->current;
    for (int l = 0; l < v->num_levels && !rc; l++)
        for (size_t i = 0; i < v->nfiles[l] && !rc; i++)
            rc = version_edit_add_file(e, l, v->files[l][i]);
    return rc;
}

static int vs_write_current(struct version_set *vs, uint64_t manifest_number)
{
    char path[PATH_BYTES], text[FILENAME_MAX_BYTES + 2];
    int rc = filename_current(path, sizeof(path), vs->dir);
    if (rc) return rc;
    if ((rc = filename_manifest(text, sizeof(text) - 1, NULL, manifest_number)) != 0) return rc;
    strcat(text, "\n");
    return env_write_file_atomic(vs->env, vs->dir, path, text, strlen(text));
}

/* Writes a new manifest holding records recs[0..n), syncs it and switches
 * CURRENT to it. On success *out is its open writer. A manifest that never
 * got named by CURRENT is removed on failure; after a failed switch of
 * CURRENT it is kept, since CURRENT may name it. */
static int vs_new_manifest(struct version_set *vs, uint64_t number, const struct buffer *recs,
                           int n, struct wal_writer **out)
{
    char path[PATH_BYTES];
    struct wal_writer *w = NULL;
    int rc = filename_manifest(path, sizeof(path), vs->dir, number);
    if (rc) return rc;
    if ((rc = wal_writer_open(vs->env, path, number, &w)) != 0) goto fail;
    for (int i = 0; i < n && !rc; i++) rc = wal_add_record(w, recs[i].p, recs[i].n);
    if (!rc) rc = wal_sync(w);
    if (rc) goto fail;
    if ((rc = vs_write_current(vs, number)) != 0) {
        vs_log(vs, LSMER_LOG_ERROR, "%s: switching CURRENT to %s failed (%d)", vs->dir, path, rc);
        wal_writer_close(w);
        return rc;
    }
    *out = w;
    return 0;
fail:
    vs_log(vs, LSMER_LOG_ERROR, "%s: writing failed (%d)", path, rc);
    wal_writer_close(w);
    env_remove(vs->env, path);
    return rc;
}

int version_set_create(struct version_set *vs)
{
    struct version_edit e;
    struct buffer rec = BUFFER_INIT;
    struct wal_writer *w = NULL;
    if (vs->manifest_number) return 0; /* recover() already created it */
    version_edit_init(&e);
    vs->log_number = 0;
    vs->last_sequence = 0;
    vs->next_file_number = 2;
    version_edit_set_log_number(&e, 0);
    version_edit_set_next_file_number(&e, 2);
    version_edit_set_last_sequence(&e, 0);
    int rc = version_edit_encode(&e, &rec);
    if (!rc) rc = vs_new_manifest(vs, 1, &rec, 1, &w);
    if (!rc) {
        wal_writer_close(vs->manifest);
        vs->manifest = w;
        vs->manifest_number = 1;
        vs_log(vs, LSMER_LOG_INFO, "%s: created a new database", vs->dir);
    }
    buffer_free(&rec);
    version_edit_free(&e);
    return rc;
}

/* ---- log and apply --------------------------------------------------- */

/* The IO half of log_and_apply, run without the db mutex. */
static int vs_write_edit(struct version_set *vs, int need_new, uint64_t new_number,
                         const struct buffer recs[2])
{
    int rc;
    if (!need_new) {
        rc = wal_add_record(vs->manifest, recs[1].p, recs[1].n);
        if (!rc) rc = wal_sync(vs->manifest);
        if (rc) {
            vs_log(vs, LSMER_LOG_ERROR, "%s: manifest %llu write failed (%d); abandoning it",
                   vs->dir, (unsigned long long)vs->manifest_number, rc);
            wal_writer_close(vs->manifest);
            vs->manifest = NULL;
        }
        return rc;
    }
    struct wal_writer *w;
    if ((rc = vs_new_manifest(vs, new_number, recs, 2, &w)) != 0) return rc;
    wal_writer_close(vs->manifest);
    vs->manifest = w;
    if (vs->manifest_number && vs->manifest_number != new_number) {
        char path[PATH_BYTES];
        if (!filename_manifest(path, sizeof(path), vs->dir, vs->manifest_number))
            env_remove(vs->env, path); /* best effort: the sweep retries */
    }
    return 0;
}

int version_set_log_and_apply(struct version_set *vs, struct version_edit *e, pthread_mutex_t *mu)
{
    struct version *v = NULL;
    struct builder b = {NULL, 0, 0, vs->opt.num_levels};
    struct version_edit snap;
    struct buffer recs[2] = {BUFFER_INIT, BUFFER_INIT};
    uint64_t new_number = 0;
    int rc, need_new;

    version_edit_init(&snap);
    while (vs->applying) pthread_cond_wait(&vs->apply_cv, mu);
    vs->applying = 1;

    if (!e->has_log_number) {
        version_edit_set_log_number(e, vs->log_number);
    } else if (e->log_number < vs->log_number || e->log_number >= vs->next_file_number) {
        rc = -EINVAL;
        goto out;
    }
    need_new = !vs->manifest || wal_file_size(vs->manifest) >= vs->opt.manifest_max_size;
    if (need_new) new_number = vs->next_file_number++;
    version_edit_set_next_file_number(e, vs->next_file_number);
    version_edit_set_last_sequence(e, vs->last_sequence);

    if ((rc = builder_load(&b, vs->current)) != 0 || (rc = builder_apply(&b, e)) != 0 ||
        (rc = builder_finish(&b, vs, &v)) != 0)
        goto out;
    if ((rc = version_edit_encode(e, &recs[1])) != 0) goto out;
    if (need_new && ((rc = vs_snapshot_edit(vs, &snap)) != 0 ||
                     (rc = version_edit_encode(&snap, &recs[0])) != 0))
        goto out;

    pthread_mutex_unlock(mu);
    rc = vs_write_edit(vs, need_new, new_number, recs);
    pthread_mutex_lock(mu);
    if (rc) goto out;

    if (need_new) vs->manifest_number = new_number;
    vs->log_number = e->log_number;
    for (size_t i = 0; i < e->n_cps; i++)
        if (e->cps[i].level < vs->opt.num_levels)
            buffer_set(&vs->compact_ptr[e->cps[i].level], e->cps[i].key.p, e->cps[i].key.n);
    vs_install(vs, v);
    v = NULL;
out:
    version_unref(v);
    builder_free(&b);
    version_edit_free(&snap);
    buffer_free(&recs[0]);
    buffer_free(&recs[1]);
    vs->applying = 0;
    pthread_cond_broadcast(&vs->apply_cv);
    return rc;
}

/* ---- recovery -------------------------------------------------------- */

/* No CURRENT: a new database, an interrupted creation, or not ours. */
static int vs_recover_missing(struct version_set *vs, int *created_new)
{
    char **names = NULL;
    size_t count = 0;
    int rc = env_list(vs->env, vs->dir, &names, &count);
    if (rc) return rc;
    const char *data_file = NULL;
    for (size_t i = 0; i < count; i++) {
        uint64_t number;
        enum file_kind kind;
        if (filename_parse(names[i], &number, &kind)) {
            vs_log(vs, LSMER_LOG_ERROR, "%s holds \"%s\", which is not a database file", vs->dir,
                   names[i]);
            rc = -EINVAL;
            goto out;
        }
        if (kind == FILE_KIND_TABLE || kind == FILE_KIND_LOG) data_file = names[i];
    }
    if (data_file) {
        vs_log(vs, LSMER_LOG_ERROR, "%s has no CURRENT file but holds %s", vs->dir, data_file);
        rc = -LSMER_ECORRUPT;
        goto out;
    }
    if (!vs->opt.create_if_missing) {
        rc = -ENOENT;
        goto out;
    }
    /* Manifests without CURRENT (and without any table or log) are left by
     * a creation that crashed before CURRENT was made durable: no data. */
    for (size_t i = 0; i < count; i++) {
        uint64_t number;
        enum file_kind kind;
        if (!filename_parse(names[i], &number, &kind) && kind == FILE_KIND_MANIFEST &&
            number != 1) {
            char path[PATH_BYTES];
            if (!filename_manifest(path, sizeof(path), vs->dir, number)) env_remove(vs->env, path);
        }
    }
    if ((rc = version_set_create(vs)) == 0) *created_new = 1;
out:
    env_free_list(names, count);
    return rc;
}

/* Reads CURRENT into *number. */
static int vs_read_current(struct version_set *vs, const char *path, uint64_t *number)
{
    void *data = NULL;
    size_t len = 0;
    enum file_kind kind;
    char name[FILENAME_MAX_BYTES];
    int rc = env_read_file(vs->env, path, &data, &len);
    if (rc) {
        vs_log(vs, LSMER_LOG_ERROR, "%s: cannot read (%d)", path, rc);
        return rc;
    }
    const char *s = data;
    if (len < 2 || len >= sizeof(name) || s[len - 1] != '\n' || memchr(s, '\0', len)) goto bad;
    memcpy(name, s, len - 1);
    name[len - 1] = '\0';
    if (filename_parse(name, number, &kind) || kind != FILE_KIND_MANIFEST) goto bad;
    free(data);
    return 0;
bad:
    vs_log(vs, LSMER_LOG_ERROR, "%s: does not name a manifest", path);
    free(data);
    return -LSMER_ECORRUPT;
}

int version_set_recover(struct version_set *vs, int *created_new)
{
    char path[PATH_BYTES];
    struct wal_reader *r = NULL;
    struct buffer rec = BUFFER_INIT;
    struct builder b = {NULL, 0, 0, vs->opt.num_levels};
    struct version_edit e;
    struct version *v = NULL;
    struct buffer cps[LSMER_MAX_LEVELS];
    int have_log = 0, have_next = 0, have_last = 0;
    uint64_t log_number = 0, next_file = 0, last_seq = 0, number = 0, nrec = 0;
    int rc;

    *created_new = 0;
    version_edit_init(&e);
    memset(cps, 0, sizeof(cps));
    if ((rc = filename_current(path, sizeof(path), vs->dir)) != 0) return rc;
    rc = env_exists(vs->env, path);
    if (rc < 0) return rc;
    if (rc == 0) return vs_recover_missing(vs, created_new);
    if ((rc = vs_read_current(vs, path, &number)) != 0) return rc;

    if ((rc = filename_manifest(path, sizeof(path), vs->dir, number)) != 0) return rc;
    if ((rc = env_exists(vs->env, path)) <= 0) {
        if (rc == 0) {
            vs_log(vs, LSMER_LOG_ERROR, "CURRENT names %s, which is missing", path);
            rc = -LSMER_ECORRUPT;
        }
        return rc;
    }
    if ((rc = wal_reader_open(vs->env, path, number, &r)) != 0) {
        vs_log(vs, LSMER_LOG_ERROR, "%s: cannot open (%d)", path, rc);
        return rc == -ENOENT ? -LSMER_ECORRUPT : rc;
    }
    wal_reader_set_strict_tail(r, 1);
    for (;;) {
        rc = wal_read_record(r, &rec);
        if (rc == 0) break;
        if (rc < 0) {
            vs_log(vs, LSMER_LOG_ERROR, "%s: corrupt after record %llu: %s", path,
                   (unsigned long long)nrec, wal_reader_error_detail(r));
            goto out;
        }
        nrec++;
        if ((rc = version_edit_decode(&e, rec.p, rec.n)) != 0) {
            if (rc == -EPROTO)
                vs_log(vs, LSMER_LOG_ERROR, "%s: written by a newer lsmer (format > %d)", path,
                       VERSION_EDIT_FORMAT);
            else
                vs_log(vs, LSMER_LOG_ERROR, "%s: record %llu does not parse", path,
                       (unsigned long long)nrec);
            goto out;
        }
        if ((rc = builder_apply(&b, &e)) != 0) {
            vs_log(vs, LSMER_LOG_ERROR, "%s: record %llu does not apply", path,
                   (unsigned long long)nrec);
            goto corrupt_or_nomem;
        }
        if (e.has_log_number) have_log = 1, log_number = e.log_number;
        if (e.has_next_file_number) have_next = 1, next_file = e.next_file_number;
        if (e.has_last_sequence) have_last = 1, last_seq = e.last_sequence;
        for (size_t i = 0; i < e.n_cps; i++)
            if ((rc = buffer_set(&cps[e.cps[i].level], e.cps[i].key.p, e.cps[i].key.n)) != 0)
                goto out;
        version_edit_free(&e);
    }
    if (wal_reader_tail_dropped(r))
        vs_log(vs, LSMER_LOG_WARN, "%s: ignored a torn tail of %llu bytes", path,
               (unsigned long long)wal_reader_tail_dropped(r));
    if (!have_log || !have_next || !have_last) {
        vs_log(vs, LSMER_LOG_ERROR, "%s: lacks %s", path,
               !have_log    ? "a log number"
               : !have_next ? "a next file number"
                            : "a last sequence");
        rc = -LSMER_ECORRUPT;
        goto out;
    }
    if ((rc = builder_finish(&b, vs, &v)) != 0) {
        vs_log(vs, LSMER_LOG_ERROR, "%s: describes an invalid level layout", path);
        goto corrupt_or_nomem;
    }

    vs_install(vs, v);
    vs->log_number = log_number;
    vs->last_sequence = last_seq;
    vs->next_file_number = next_file;
    vs->manifest_number = number;
    version_set_mark_file_number_used(vs, number);
    version_set_mark_file_number_used(vs, log_number);
    for (int l = 0; l < v->num_levels; l++)
        for (size_t i = 0; i < v->nfiles[l]; i++)
            version_set_mark_file_number_used(vs, v->files[l][i]->number);
    for (int l = 0; l < LSMER_MAX_LEVELS; l++) {
        buffer_free(&vs->compact_ptr[l]);
        vs->compact_ptr[l] = cps[l];
        cps[l] = (struct buffer)BUFFER_INIT;
    }
    /* The next apply writes a fresh manifest rather than appending after a
     * tail that may be torn. */
    wal_writer_close(vs->manifest);
    vs->manifest = NULL;
    rc = 0;
    goto out;
corrupt_or_nomem:
    if (rc != -ENOMEM) rc = -LSMER_ECORRUPT;
out:
    for (int l = 0; l < LSMER_MAX_LEVELS; l++) buffer_free(&cps[l]);
    version_edit_free(&e);
    builder_free(&b);
    buffer_free(&rec);
    wal_reader_close(r);
    return rc;
}
