/*
 * db_read.c — point lookups, snapshots and user iterators.
 *
 * A read pins (refs) the memtables and the current version under db->mu and
 * then reads without the lock. Sources are consulted newest first: the
 * memtable, the immutable memtables, level 0 newest file first, then one
 * file per deeper level. Range tombstones seen so far are accumulated as
 * the highest covering sequence; a point entry older than that is deleted.
 * (A tombstone always lives in a source at least as new as any entry it
 * covers, because file key ranges include tombstone extents.)
 *
 * value_resolve() is the one place where a stored value becomes the user's
 * value; when large values move to blob files, only it changes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db_impl.h"
#include "db_iter.h"
#include "level_iter.h"
#include "merging_iter.h"
#include "range_del.h"
#include "table_reader.h"

static int buf_set(lsmer_buf *out, const void *p, size_t n)
{
    if (out->cap < n || !out->data) {
        size_t cap = n ? n : 1;
        void *d = realloc(out->data, cap);
        if (!d) return -ENOMEM;
        out->data = d;
        out->cap = cap;
    }
    if (n) memcpy(out->data, p, n);
    out->size = n;
    return 0;
}

/* The value seam: stored (in-tree) value to user value. */
static int value_resolve(struct lsmer_db *db, int type, struct slice stored, lsmer_buf *out)
{
    (void)db;
    if (type != TYPE_VALUE) return -LSMER_ECORRUPT;
    return buf_set(out, stored.p, stored.n);
}

struct read_view {
    struct memtable *mems[1 + DB_MAX_IMM]; /* newest first */
    int nmem;
    struct version *v;
};

static void view_pin_locked(struct lsmer_db *db, struct read_view *rv)
{
    rv->nmem = 0;
    memtable_ref(db->mem);
    rv->mems[rv->nmem++] = db->mem;
    for (int i = db->n_imm - 1; i >= 0; i--) {
        memtable_ref(db->imm[i].mem);
        rv->mems[rv->nmem++] = db->imm[i].mem;
    }
    rv->v = version_set_current(db->vs);
    version_ref(rv->v);
}

static void view_unpin(struct read_view *rv)
{
    for (int i = 0; i < rv->nmem; i++) memtable_unref(rv->mems[i]);
    rv->nmem = 0;
    if (rv->v) version_unref(rv->v);
    rv->v = NULL;
}

/* Looks ukey up in one table file. Returns 1 found (the entry in ikey and val),
 * 0 absent, <0 error; raises *tomb by the file's range tombstones. */
static int get_from_file(struct lsmer_db *db, const struct file_meta *f, struct slice lookup,
                         struct slice ukey, uint64_t seq, uint64_t *tomb, struct buffer *ikey,
                         struct buffer *val)
{
    struct table *t;
    struct tc_handle *h;
    int rc = table_cache_get(db->tcache, f, &t, &h);
    if (rc == -ENOENT) rc = -LSMER_ECORRUPT; /* a live table vanished: not "key absent" */
    if (rc) {
        db_log(db, LSMER_LOG_ERROR, "cannot read table %06llu.sst: %s",
               (unsigned long long)f->number, lsmer_strerror(rc));
        return rc;
    }
    if (f->num_range_deletions) {
        const struct rdel_set *rd = table_range_dels(t);
        if (rd) {
            uint64_t ts = rdel_max_covering(rd, ukey, seq);
            if (ts > *tomb) *tomb = ts;
        }
    }
    rc = table_get(t, lookup, ikey, val);
    if (rc < 0)
        db_log(db, LSMER_LOG_ERROR, "reading table %06llu.sst: %s", (unsigned long long)f->number,
               lsmer_strerror(rc));
    table_cache_release(db->tcache, h);
    return rc;
}

static int ukey_in_file(const struct file_meta *f, struct slice ukey)
{
    return slice_compare(ukey, ikey_user(buffer_slice(&f->smallest))) >= 0 &&
           slice_compare(ukey, ikey_user(buffer_slice(&f->largest))) <= 0;
}

int lsmer_get(lsmer_db *db, const lsmer_snapshot *snap, const void *key, size_t klen,
              lsmer_buf *out)
{
    if (!db || !out || (klen && !key) || klen > LSMER_MAX_KEY) return -EINVAL;
    struct read_view rv;
    struct buffer val = BUFFER_INIT, ikey = BUFFER_INIT, lookup = BUFFER_INIT;
    struct slice ukey = slice_make(key, klen);
    pthread_mutex_lock(&db->mu);
    uint64_t seq = snap ? snap->seq : atomic_load(&db->last_seq);
    view_pin_locked(db, &rv);
    pthread_mutex_unlock(&db->mu);

    uint64_t tomb = 0, fseq = 0;
    int rc = -ENOENT;
    for (int i = 0; i < rv.nmem; i++) {
        int r = memtable_get(rv.mems[i], ukey, seq, &val, &fseq, &tomb);
        if (r < 0) {
            rc = r;
            goto out;
        }
        if (r == MEMTABLE_FOUND) {
            rc = fseq < tomb ? -ENOENT : value_resolve(db, TYPE_VALUE, buffer_slice(&val), out);
            goto out;
        }
        if (r == MEMTABLE_DELETED) {
            rc = -ENOENT;
            goto out;
        }
    }
    rc = ikey_append(&lookup, key, klen, seq, TYPE_SEEK);
    if (rc) goto out;
    rc = -ENOENT;
    for (int level = 0; level < LSMER_MAX_LEVELS; level++) {
        size_t n = version_num_files(rv.v, level);
        struct file_meta *const *files = rv.v->files[level];
        if (!n) continue;
        size_t lo = 0, hi = n;
        if (level > 0) {
            /* first file whose largest key >= lookup */
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (ikey_compare(buffer_slice(&files[mid]->largest), buffer_slice(&lookup)) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo == n) continue;
            hi = lo + 1;
        }
        for (size_t i = lo; i < hi; i++) {
            const struct file_meta *f = files[i];
            if (!ukey_in_file(f, ukey)) continue;
            int r = get_from_file(db, f, buffer_slice(&lookup), ukey, seq, &tomb, &ikey, &val);
            if (r < 0) {
                rc = r;
                goto out;
            }
            if (r == 0) continue;
            struct slice k = buffer_slice(&ikey);
            if (!ikey_valid(k) || slice_compare(ikey_user(k), ukey) != 0) continue;
            if (ikey_seq(k) < tomb || ikey_type(k) == TYPE_DELETE)
                rc = -ENOENT;
            else
                rc = value_resolve(db, ikey_type(k), buffer_slice(&val), out);
            goto out;
        }
    }
out:
    view_unpin(&rv);
    buffer_free(&val);
    buffer_free(&ikey);
    buffer_free(&lookup);
    return rc;
}

/* ---- snapshots -------------------------------------------------------- */

const lsmer_snapshot *lsmer_snapshot_new(lsmer_db *db)
{
    struct lsmer_snapshot *s = malloc(sizeof(*s));
    if (!s) return NULL;
    pthread_mutex_lock(&db->mu);
    s->seq = atomic_load(&db->last_seq);
    /* append at the tail: sequences only grow */
    s->next = &db->snapshots;
    s->prev = db->snapshots.prev;
    s->prev->next = s;
    db->snapshots.prev = s;
    db->n_snapshots++;
    pthread_mutex_unlock(&db->mu);
    return s;
}

void lsmer_snapshot_release(lsmer_db *db, const lsmer_snapshot *snap)
{
    if (!snap) return;
    struct lsmer_snapshot *s = (struct lsmer_snapshot *)snap;
    pthread_mutex_lock(&db->mu);
    s->prev->next = s->next;
    s->next->prev = s->prev;
    db->n_snapshots--;
    pthread_mutex_unlock(&db->mu);
    free(s);
}

uint64_t lsmer_snapshot_sequence(const lsmer_snapshot *snap)
{
    return snap ? snap->seq : 0;
}

uint64_t db_oldest_snapshot_locked(struct lsmer_db *db)
{
    if (db->snapshots.next != &db->snapshots) return db->snapshots.next->seq;
    return atomic_load(&db->last_seq);
}

/* ---- iterators -------------------------------------------------------- */

struct tomb_table {
    struct tc_handle *h;
    const struct rdel_set *rd;
};

struct lsmer_iter {
    struct lsmer_db *db;
    struct iter *it; /* db_iter: user keys */
    const lsmer_snapshot *own_snap;
    struct read_view rv;
    struct tomb_table *tt;
    size_t ntt;
    lsmer_buf value;
    int err;
};

static uint64_t iter_tombstone_seq(void *arg, struct slice ukey, uint64_t snapshot)
{
    struct lsmer_iter *li = arg;
    uint64_t best = 0;
    for (int i = 0; i < li->rv.nmem; i++) {
        uint64_t s = memtable_max_covering(li->rv.mems[i], ukey, snapshot);
        if (s > best) best = s;
    }
    for (size_t i = 0; i < li->ntt; i++) {
        uint64_t s = rdel_max_covering(li->tt[i].rd, ukey, snapshot);
        if (s > best) best = s;
    }
    return best;
}

static struct iter *open_file_iter(void *arg, const struct file_meta *f)
{
    struct lsmer_iter *li = arg;
    return table_cache_iter(li->db->tcache, f);
}

int lsmer_iter_open(lsmer_db *db, const lsmer_snapshot *snap, const lsmer_range *r,
                    lsmer_iter **out)
{
    *out = NULL;
    if (!db) return -EINVAL;
    struct lsmer_iter *li = calloc(1, sizeof(*li));
    if (!li) return -ENOMEM;
    li->db = db;
    if (!snap) {
        snap = li->own_snap = lsmer_snapshot_new(db);
        if (!snap) {
            free(li);
            return -ENOMEM;
        }
    }
    pthread_mutex_lock(&db->mu);
    view_pin_locked(db, &li->rv);
    pthread_mutex_unlock(&db->mu);

    int rc = 0;
    size_t nchildren = 0,
           cap = (size_t)li->rv.nmem + LSMER_MAX_LEVELS + version_num_files(li->rv.v, 0);
    struct iter **children = calloc(cap, sizeof(*children));
    size_t ntomb = 0;
    for (int level = 0; level < LSMER_MAX_LEVELS; level++) {
        size_t n = version_num_files(li->rv.v, level);
        struct file_meta *const *files = li->rv.v->files[level];
        for (size_t i = 0; i < n; i++) ntomb += files[i]->num_range_deletions ? 1 : 0;
    }
    li->tt = calloc(ntomb ? ntomb : 1, sizeof(*li->tt));
    if (!children || !li->tt) {
        rc = -ENOMEM;
        goto fail;
    }
    for (int i = 0; i < li->rv.nmem; i++) {
        children[nchildren] = memtable_iter(li->rv.mems[i]);
        if (!children[nchildren]) {
            rc = -ENOMEM;
            goto fail;
        }
        nchildren++;
    }
    for (int level = 0; level < LSMER_MAX_LEVELS; level++) {
        size_t n = version_num_files(li->rv.v, level);
        struct file_meta *const *files = li->rv.v->files[level];
        for (size_t i = 0; i < n; i++) {
            if (!files[i]->num_range_deletions) continue;
            struct table *t;
            rc = table_cache_get(db->tcache, files[i], &t, &li->tt[li->ntt].h);
            if (rc) goto fail;
            li->tt[li->ntt].rd = table_range_dels(t);
            if (li->tt[li->ntt].rd)
                li->ntt++;
            else
                table_cache_release(db->tcache, li->tt[li->ntt].h);
        }
        if (!n) continue;
        if (level == 0) {
            for (size_t i = 0; i < n; i++) {
                children[nchildren] = table_cache_iter(db->tcache, files[i]);
                if (!children[nchildren]) {
                    rc = -ENOMEM;
                    goto fail;
                }
                nchildren++;
            }
        } else {
            children[nchildren++] =
                level_iter_new((struct file_meta **)files, n, open_file_iter, li, NULL);
        }
    }
    /* merged owns the children (not the array), even on failure */
    struct iter *merged = merging_iter_new(children, nchildren, ikey_compare_raw);
    free(children);
    children = NULL;
    struct slice lo = {NULL, 0}, hi = {NULL, 0};
    if (r && r->start) lo = slice_make(r->start, r->start_len);
    if (r && r->end) hi = slice_make(r->end, r->end_len);
    li->it = db_iter_new(merged, snap->seq, lo, hi, iter_tombstone_seq, li, NULL);
    rc = iter_status(li->it);
    if (rc) goto fail;
    *out = li;
    return 0;
fail:
    if (children) {
        for (size_t i = 0; i < nchildren; i++) iter_destroy(children[i]);
        free(children);
    }
    lsmer_iter_close(li);
    return rc;
}

void lsmer_iter_close(lsmer_iter *li)
{
    if (!li) return;
    iter_destroy(li->it);
    for (size_t i = 0; i < li->ntt; i++) table_cache_release(li->db->tcache, li->tt[i].h);
    free(li->tt);
    view_unpin(&li->rv);
    if (li->own_snap) lsmer_snapshot_release(li->db, li->own_snap);
    lsmer_buf_free(&li->value);
    free(li);
}

void lsmer_iter_seek_first(lsmer_iter *li)
{
    iter_seek_first(li->it);
}
void lsmer_iter_seek_last(lsmer_iter *li)
{
    iter_seek_last(li->it);
}
void lsmer_iter_seek(lsmer_iter *li, const void *key, size_t klen)
{
    iter_seek(li->it, slice_make(key, klen));
}
void lsmer_iter_seek_for_prev(lsmer_iter *li, const void *key, size_t klen)
{
    db_iter_seek_for_prev(li->it, slice_make(key, klen));
}
int lsmer_iter_valid(const lsmer_iter *li)
{
    return iter_valid(li->it);
}
void lsmer_iter_next(lsmer_iter *li)
{
    if (iter_valid(li->it)) iter_next(li->it);
}
void lsmer_iter_prev(lsmer_iter *li)
{
    if (iter_valid(li->it)) iter_prev(li->it);
}
const void *lsmer_iter_key(const lsmer_iter *li, size_t *klen)
{
    struct slice k = iter_key(li->it);
    *klen = k.n;
    return k.p;
}
int lsmer_iter_value(lsmer_iter *li, const void **val, size_t *vlen)
{
    struct slice v = iter_value(li->it);
    /* In-tree values need no copy; the seam would fill li->value. */
    *val = v.p;
    *vlen = v.n;
    return 0;
}
int lsmer_iter_status(const lsmer_iter *li)
{
    int rc = iter_status(li->it);
    if (rc) return rc;
    return li->err;
}
