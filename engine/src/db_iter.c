/* db_iter.c — user keys and values at a snapshot over a merged internal
 * iterator (see db_iter.h). */
#include "db_iter.h"

#include <errno.h>
#include <stdlib.h>

#include "lsmer.h"

#include "buffer.h"
#include "dbformat.h"

enum { DIR_FORWARD, DIR_REVERSE };
#define TYPE_NONE (-1)

struct db_iter {
    struct iter base;
    struct iter *in; /* merged internal keys, owned */
    uint64_t snap;
    struct buffer lower, upper; /* user-key bounds (copies) */
    int has_lower, has_upper;
    db_iter_tombstone_fn tombstone_seq;
    void *arg;
    void (*release)(void *arg);

    int dir;
    int valid;
    int err;
    /* Forward: the user key to skip (its newest visible version was
     * yielded or hidden). Reverse: the current key. */
    struct buffer saved_key;
    struct buffer saved_raw; /* reverse: the current key's stored value */
    struct buffer lookup;    /* internal keys built for seeks */
    struct slice key, value; /* what key() and value() return */
};

/* ---- helpers ------------------------------------------------------------- */

static void fail(struct db_iter *d, int err)
{
    d->err = err;
    d->valid = 0;
}

/* The one place a stored value becomes the user's value. Today only
 * TYPE_VALUE reaches here and its bytes are the value; a value kept outside
 * the tree (a blob reference type) will be fetched here. */
static int entry_value(struct db_iter *d, int type, struct slice stored, struct slice *out)
{
    (void)d;
    if (type != TYPE_VALUE) return -LSMER_ECORRUPT;
    *out = stored;
    return 0;
}

/* Whether a range tombstone newer than seq, visible at the snapshot,
 * covers ukey. */
static int covered(const struct db_iter *d, struct slice ukey, uint64_t seq)
{
    return d->tombstone_seq && d->tombstone_seq(d->arg, ukey, d->snap) > seq;
}

/* Splits the internal iterator's current key; on a malformed key the db
 * iterator fails with -LSMER_ECORRUPT and 0 is returned. */
static int parse(struct db_iter *d, struct slice *ukey, uint64_t *seq, int *type)
{
    struct slice k = iter_key(d->in);
    if (!ikey_valid(k)) {
        fail(d, -LSMER_ECORRUPT);
        return 0;
    }
    *ukey = ikey_user(k);
    *seq = ikey_seq(k);
    *type = ikey_type(k);
    return 1;
}

/* The internal iterator ran out: an error if it failed, else the end. */
static void hit_end(struct db_iter *d)
{
    d->valid = 0;
    int rc = iter_status(d->in);
    if (rc) d->err = rc;
}

static int below_lower(const struct db_iter *d, struct slice ukey)
{
    return d->has_lower && slice_compare(ukey, buffer_slice(&d->lower)) < 0;
}

static int at_or_above_upper(const struct db_iter *d, struct slice ukey)
{
    return d->has_upper && slice_compare(ukey, buffer_slice(&d->upper)) >= 0;
}

/* Seeks the internal iterator to the first entry of ukey + suffix (a
 * zero byte when successor is set: the smallest key after ukey). */
static int seek_internal(struct db_iter *d, struct slice ukey, int successor)
{
    buffer_clear(&d->lookup);
    int rc = buffer_append(&d->lookup, ukey.p, ukey.n);
    if (!rc && successor) rc = buffer_append_byte(&d->lookup, 0);
    if (!rc) rc = buffer_append_fixed64(&d->lookup, ikey_pack_trailer(SEQ_MAX, TYPE_SEEK));
    if (rc) {
        fail(d, rc);
        return rc;
    }
    iter_seek(d->in, buffer_slice(&d->lookup));
    return 0;
}

/* The same with the snapshot's sequence, so newer versions are passed. */
static int seek_internal_at_snapshot(struct db_iter *d, struct slice ukey)
{
    buffer_clear(&d->lookup);
    int rc = ikey_append(&d->lookup, ukey.p, ukey.n, d->snap, TYPE_SEEK);
    if (rc) {
        fail(d, rc);
        return rc;
    }
    iter_seek(d->in, buffer_slice(&d->lookup));
    return 0;
}

/* ---- forward ------------------------------------------------------------- */

/* From the internal iterator's position, finds the first user key whose
 * newest visible version is a live value. With skipping, every version of
 * a user key <= saved_key is passed first. */
static void find_next(struct db_iter *d, int skipping)
{
    struct slice ukey;
    uint64_t seq;
    int type;
    for (; iter_valid(d->in); iter_next(d->in)) {
        if (!parse(d, &ukey, &seq, &type)) return;
        if (at_or_above_upper(d, ukey)) {
            d->valid = 0;
            return;
        }
        if (seq > d->snap || type == TYPE_RANGE_DELETE) continue;
        if (skipping && slice_compare(ukey, buffer_slice(&d->saved_key)) <= 0) continue;
        if (type == TYPE_DELETE || covered(d, ukey, seq)) {
            /* the newest visible version hides the older ones */
            int rc = buffer_set(&d->saved_key, ukey.p, ukey.n);
            if (rc) {
                fail(d, rc);
                return;
            }
            skipping = 1;
            continue;
        }
        int rc = entry_value(d, type, iter_value(d->in), &d->value);
        if (rc) {
            fail(d, rc);
            return;
        }
        d->key = ukey;
        d->valid = 1;
        return;
    }
    hit_end(d);
}

/* ---- backward ------------------------------------------------------------ */

/* The internal iterator is at or before the last version of the user key
 * wanted (every entry after it belongs to keys already passed). Walks back
 * over whole user keys: within one key the versions come oldest first, so
 * the last visible version seen before the user key changes is the newest
 * one, and it decides. Leaves the internal iterator on an entry of an
 * earlier user key (or invalid), the current key and value copied. */
static void find_prev(struct db_iter *d)
{
    int have = TYPE_NONE;
    uint64_t cand_seq = 0;
    struct slice ukey;
    uint64_t seq;
    int type;
    for (;;) {
        if (!iter_valid(d->in)) {
            if (iter_status(d->in)) {
                hit_end(d);
                return;
            }
            break;
        }
        if (!parse(d, &ukey, &seq, &type)) return;
        if (below_lower(d, ukey)) break;
        if (seq <= d->snap && type != TYPE_RANGE_DELETE) {
            int same = have != TYPE_NONE && slice_compare(ukey, buffer_slice(&d->saved_key)) == 0;
            if (have != TYPE_NONE && !same) {
                /* the candidate's newest visible version is known */
                if (have == TYPE_VALUE && !covered(d, buffer_slice(&d->saved_key), cand_seq))
                    goto found;
                /* it is hidden: this earlier key becomes the candidate */
            }
            have = type;
            cand_seq = seq;
            int rc = same ? 0 : buffer_set(&d->saved_key, ukey.p, ukey.n);
            if (!rc && type == TYPE_VALUE) {
                struct slice v = iter_value(d->in);
                rc = buffer_set(&d->saved_raw, v.p, v.n);
            }
            if (rc) {
                fail(d, rc);
                return;
            }
        }
        iter_prev(d->in);
    }
    if (have != TYPE_VALUE || covered(d, buffer_slice(&d->saved_key), cand_seq)) {
        d->valid = 0;
        return;
    }
found:;
    int rc = entry_value(d, TYPE_VALUE, buffer_slice(&d->saved_raw), &d->value);
    if (rc) {
        fail(d, rc);
        return;
    }
    d->key = buffer_slice(&d->saved_key);
    d->valid = 1;
}

/* ---- iterator ops -------------------------------------------------------- */

static int d_valid(const struct iter *it)
{
    return ((const struct db_iter *)it)->valid;
}

static void d_seek(struct iter *it, struct slice target)
{
    struct db_iter *d = (struct db_iter *)it;
    d->err = 0;
    d->valid = 0;
    d->dir = DIR_FORWARD;
    if (below_lower(d, target)) target = buffer_slice(&d->lower);
    if (seek_internal_at_snapshot(d, target)) return;
    find_next(d, 0);
}

static void d_seek_first(struct iter *it)
{
    struct db_iter *d = (struct db_iter *)it;
    if (d->has_lower) {
        d_seek(it, buffer_slice(&d->lower));
        return;
    }
    d->err = 0;
    d->valid = 0;
    d->dir = DIR_FORWARD;
    iter_seek_first(d->in);
    find_next(d, 0);
}

static void d_seek_last(struct iter *it)
{
    struct db_iter *d = (struct db_iter *)it;
    d->err = 0;
    d->valid = 0;
    d->dir = DIR_REVERSE;
    if (d->has_upper) {
        if (seek_internal(d, buffer_slice(&d->upper), 0)) return;
        if (iter_valid(d->in))
            iter_prev(d->in);
        else if (iter_status(d->in) == 0)
            iter_seek_last(d->in);
    } else {
        iter_seek_last(d->in);
    }
    find_prev(d);
}

static void d_next(struct iter *it)
{
    struct db_iter *d = (struct db_iter *)it;
    if (!d->valid) return;
    if (d->dir == DIR_REVERSE) {
        /* saved_key is the current key; the internal iterator is before
         * its versions: step onto them, then past them */
        d->dir = DIR_FORWARD;
        if (iter_valid(d->in)) {
            iter_next(d->in);
        } else if (seek_internal(d, buffer_slice(&d->saved_key), 0)) {
            return;
        }
    } else {
        int rc = buffer_set(&d->saved_key, d->key.p, d->key.n);
        if (rc) {
            fail(d, rc);
            return;
        }
        iter_next(d->in);
    }
    find_next(d, 1);
}

static void d_prev(struct iter *it)
{
    struct db_iter *d = (struct db_iter *)it;
    if (!d->valid) return;
    if (d->dir == DIR_FORWARD) {
        /* The internal iterator is on the current key's newest visible
         * version; what precedes it of the same key is newer, so invisible,
         * and find_prev passes over it. */
        d->dir = DIR_REVERSE;
        iter_prev(d->in);
    }
    find_prev(d);
}

static struct slice d_key(const struct iter *it)
{
    return ((const struct db_iter *)it)->key;
}

static struct slice d_value(const struct iter *it)
{
    return ((const struct db_iter *)it)->value;
}

static int d_status(const struct iter *it)
{
    const struct db_iter *d = (const struct db_iter *)it;
    return d->err ? d->err : iter_status(d->in);
}

static void d_destroy(struct iter *it)
{
    struct db_iter *d = (struct db_iter *)it;
    iter_destroy(d->in);
    if (d->release) d->release(d->arg);
    buffer_free(&d->lower);
    buffer_free(&d->upper);
    buffer_free(&d->saved_key);
    buffer_free(&d->saved_raw);
    buffer_free(&d->lookup);
    free(d);
}

static const struct iter_ops db_iter_ops = {d_valid,  d_seek_first, d_seek_last, d_seek,
                                            d_next,   d_prev,       d_key,       d_value,
                                            d_status, d_destroy};

void db_iter_seek_for_prev(struct iter *it, struct slice ukey)
{
    if (it->ops != &db_iter_ops) return; /* the empty iterator of a failed create */
    struct db_iter *d = (struct db_iter *)it;
    if (at_or_above_upper(d, ukey)) {
        d_seek_last(it);
        return;
    }
    d->err = 0;
    d->valid = 0;
    d->dir = DIR_REVERSE;
    /* onto the last entry of a user key <= ukey */
    if (seek_internal(d, ukey, 1)) return;
    if (iter_valid(d->in))
        iter_prev(d->in);
    else if (iter_status(d->in) == 0)
        iter_seek_last(d->in);
    find_prev(d);
}

struct iter *db_iter_new(struct iter *internal, uint64_t snapshot_seq, struct slice lower_ukey,
                         struct slice upper_ukey, db_iter_tombstone_fn tombstone_seq, void *arg,
                         void (*release)(void *arg))
{
    struct db_iter *d = calloc(1, sizeof(*d));
    if (!d) goto oom;
    d->base.ops = &db_iter_ops;
    d->in = internal;
    d->snap = snapshot_seq;
    d->tombstone_seq = tombstone_seq;
    d->arg = arg;
    d->release = release;
    d->dir = DIR_FORWARD;
    d->has_lower = lower_ukey.p != NULL;
    d->has_upper = upper_ukey.p != NULL;
    /* an empty bound still allocates, so buffer_slice() never gives NULL */
    if (d->has_lower &&
        (buffer_reserve(&d->lower, 1) || buffer_append(&d->lower, lower_ukey.p, lower_ukey.n)))
        goto oom;
    if (d->has_upper &&
        (buffer_reserve(&d->upper, 1) || buffer_append(&d->upper, upper_ukey.p, upper_ukey.n)))
        goto oom;
    return &d->base;
oom:
    if (d) {
        buffer_free(&d->lower);
        buffer_free(&d->upper);
        free(d);
    }
    iter_destroy(internal);
    if (release) release(arg);
    return iter_new_empty(-ENOMEM);
}
