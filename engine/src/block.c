/* block.c — block builder and reader (see block.h). */
#include "block.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lsmer.h"

/* ======================================================================
 * builder
 * ====================================================================== */

void block_builder_init(struct block_builder *b, int restart_interval)
{
    memset(b, 0, sizeof(*b));
    b->interval = restart_interval > 0 ? restart_interval : 1;
}

void block_builder_free(struct block_builder *b)
{
    buffer_free(&b->buf);
    buffer_free(&b->restarts);
    buffer_free(&b->last_key);
}

void block_builder_reset(struct block_builder *b)
{
    buffer_clear(&b->buf);
    buffer_clear(&b->restarts);
    buffer_clear(&b->last_key);
    b->counter = 0;
    b->entries = 0;
    b->finished = 0;
}

size_t block_builder_estimate(const struct block_builder *b)
{
    if (b->finished) return b->buf.n;
    return b->buf.n + b->restarts.n + 4;
}

int block_builder_add(struct block_builder *b, struct slice key, struct slice value)
{
    if (b->finished) return -EINVAL;
    size_t shared = 0;
    int restart = b->counter == 0 || b->counter >= b->interval;
    if (!restart) {
        size_t m = key.n < b->last_key.n ? key.n : b->last_key.n;
        while (shared < m && key.p[shared] == b->last_key.p[shared]) shared++;
    }
    size_t unshared = key.n - shared;
    /* Offsets are fixed32: refuse to grow past what they can address. */
    uint64_t grow = 15 + (uint64_t)unshared + value.n + 4;
    if (key.n > UINT32_MAX || value.n > UINT32_MAX ||
        (uint64_t)block_builder_estimate(b) + grow > UINT32_MAX)
        return -EINVAL;

    size_t old_buf = b->buf.n, old_restarts = b->restarts.n;
    int rc = 0;
    if (restart) {
        rc = buffer_append_fixed32(&b->restarts, (uint32_t)b->buf.n);
        if (rc) goto out;
    }
    uint8_t hdr[15], *h = hdr;
    h = put_varint32(h, (uint32_t)shared);
    h = put_varint32(h, (uint32_t)unshared);
    h = put_varint32(h, (uint32_t)value.n);
    rc = buffer_reserve(&b->buf, (size_t)(h - hdr) + unshared + value.n);
    if (rc) goto out;
    rc = buffer_set(&b->last_key, key.p, key.n);
    if (rc) goto out;
    buffer_append(&b->buf, hdr, (size_t)(h - hdr)); /* reserved: cannot fail */
    buffer_append(&b->buf, key.p + shared, unshared);
    buffer_append(&b->buf, value.p, value.n);
    b->counter = restart ? 1 : b->counter + 1;
    b->entries++;
out:
    if (rc) {
        b->buf.n = old_buf;
        b->restarts.n = old_restarts;
        /* last_key may be stale, but the next add will differ from it only
         * in its compression ratio: correctness does not depend on it
         * because a failed add forces the next entry to be a restart. */
        b->counter = 0;
    }
    return rc;
}

int block_builder_finish(struct block_builder *b, struct slice *out)
{
    if (!b->finished) {
        int rc = buffer_reserve(&b->buf, b->restarts.n + 4);
        if (rc) return rc;
        buffer_append(&b->buf, b->restarts.p, b->restarts.n);
        buffer_append_fixed32(&b->buf, (uint32_t)(b->restarts.n / 4));
        b->finished = 1;
    }
    *out = buffer_slice(&b->buf);
    return 0;
}

/* ======================================================================
 * reader
 * ====================================================================== */

static inline uint32_t restart_at(const struct block *b, uint32_t i)
{
    return get_fixed32(b->data + b->restarts_off + 4 * (size_t)i);
}

/* Checks the trailer: count fits, offsets start at 0, strictly increase and
 * stay inside the entry area; an empty block has no restarts. */
static int block_check(struct block *b)
{
    if (b->size < 4 || b->size > UINT32_MAX) return -LSMER_ECORRUPT;
    uint32_t n = get_fixed32(b->data + b->size - 4);
    if (n > (b->size - 4) / 4) return -LSMER_ECORRUPT;
    b->nrestarts = n;
    b->restarts_off = (uint32_t)(b->size - 4 - 4 * (size_t)n);
    if (n == 0) return b->restarts_off == 0 ? 0 : -LSMER_ECORRUPT;
    if (restart_at(b, 0) != 0) return -LSMER_ECORRUPT;
    for (uint32_t i = 1; i < n; i++)
        if (restart_at(b, i) <= restart_at(b, i - 1)) return -LSMER_ECORRUPT;
    if (restart_at(b, n - 1) >= b->restarts_off) return -LSMER_ECORRUPT;
    return 0;
}

static struct block *block_init(struct block *b, const uint8_t *data, size_t n, void *owned)
{
    memset(b, 0, sizeof(*b));
    b->data = data;
    b->size = n;
    b->owned = owned;
    b->err = block_check(b);
    if (b->err) b->nrestarts = 0, b->restarts_off = 0;
    return b;
}

struct block *block_new(struct slice contents, void *owned)
{
    struct block *b = malloc(sizeof(*b));
    return b ? block_init(b, contents.p, contents.n, owned) : NULL;
}

struct block *block_new_inline(uint8_t *mem, size_t lead, size_t n)
{
    return block_init((struct block *)(void *)mem, mem + lead, n, NULL);
}

void block_free(struct block *b)
{
    if (!b) return;
    free(b->owned);
    free(b);
}

size_t block_memory(const struct block *b)
{
    return sizeof(*b) + b->size;
}

/* Decodes the entry header at off; *suffix and *value point at the key suffix and the
 * value. Returns the offset past the entry, 0 if malformed (no entry ends
 * at 0, so 0 is free as the error value). */
static uint32_t decode_entry(const struct block *b, uint32_t off, uint32_t *shared,
                             uint32_t *unshared, struct slice *suffix, struct slice *value)
{
    const uint8_t *p = b->data + off, *limit = b->data + b->restarts_off;
    uint32_t vlen;
    if (!(p = get_varint32(p, limit, shared))) return 0;
    if (!(p = get_varint32(p, limit, unshared))) return 0;
    if (!(p = get_varint32(p, limit, &vlen))) return 0;
    if ((uint64_t)(limit - p) < (uint64_t)*unshared + vlen) return 0;
    *suffix = slice_make(p, *unshared);
    *value = slice_make(p + *unshared, vlen);
    return (uint32_t)(p + *unshared + vlen - b->data);
}

static void bi_fail(struct block_iter *it, int err)
{
    if (!it->status) it->status = err;
    it->cur = it->next = it->b ? it->b->restarts_off : 0;
    it->key.n = 0;
    it->value = slice_make(NULL, 0);
}

static inline void bi_invalidate(struct block_iter *it)
{
    it->cur = it->next = it->b->restarts_off;
}

/* Decodes the entry at it->next, rebuilding the key from the previous one.
 * Returns 1 if positioned on it, 0 at the end or on error. */
static int bi_parse_next(struct block_iter *it)
{
    const struct block *b = it->b;
    if (it->next >= b->restarts_off) {
        bi_invalidate(it);
        return 0;
    }
    uint32_t shared, unshared;
    struct slice suffix, value;
    uint32_t end = decode_entry(b, it->next, &shared, &unshared, &suffix, &value);
    if (!end || shared > it->key.n) {
        bi_fail(it, -LSMER_ECORRUPT);
        return 0;
    }
    it->key.n = shared;
    if (buffer_append(&it->key, suffix.p, suffix.n)) {
        bi_fail(it, -ENOMEM);
        return 0;
    }
    if (it->key.n < it->min_key) {
        bi_fail(it, -LSMER_ECORRUPT);
        return 0;
    }
    it->cur = it->next;
    it->next = end;
    it->value = value;
    while (it->restart + 1 < b->nrestarts && restart_at(b, it->restart + 1) <= it->cur)
        it->restart++;
    return 1;
}

static void bi_to_restart(struct block_iter *it, uint32_t i)
{
    it->key.n = 0;
    it->restart = i;
    it->next = restart_at(it->b, i);
}

static int bi_valid(const struct iter *base)
{
    return block_iter_valid((const struct block_iter *)base);
}

void block_iter_seek_first(struct block_iter *it)
{
    if (!it->b || it->status) return;
    if (it->b->nrestarts == 0) {
        bi_invalidate(it);
        return;
    }
    bi_to_restart(it, 0);
    bi_parse_next(it);
}

void block_iter_seek_last(struct block_iter *it)
{
    if (!it->b || it->status) return;
    if (it->b->nrestarts == 0) {
        bi_invalidate(it);
        return;
    }
    bi_to_restart(it, it->b->nrestarts - 1);
    while (bi_parse_next(it) && it->next < it->b->restarts_off) {
    }
}

void block_iter_seek(struct block_iter *it, struct slice target)
{
    const struct block *b = it->b;
    if (!b || it->status) return;
    if (b->nrestarts == 0) {
        bi_invalidate(it);
        return;
    }
    /* Last restart whose key is < target (or restart 0). */
    uint32_t lo = 0, hi = b->nrestarts - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        uint32_t shared, unshared;
        struct slice k, v;
        if (!decode_entry(b, restart_at(b, mid), &shared, &unshared, &k, &v) || shared != 0 ||
            k.n < it->min_key) {
            bi_fail(it, -LSMER_ECORRUPT);
            return;
        }
        if (it->cmp(k.p, k.n, target.p, target.n) < 0)
            lo = mid;
        else
            hi = mid - 1;
    }
    bi_to_restart(it, lo);
    while (bi_parse_next(it)) {
        if (it->cmp(it->key.p, it->key.n, target.p, target.n) >= 0) return;
    }
}

void block_iter_next(struct block_iter *it)
{
    if (!block_iter_valid(it)) return;
    bi_parse_next(it);
}

/* Entries only link forward: go back to the restart before the current
 * entry and scan up to the entry that ends where the current one starts. */
void block_iter_prev(struct block_iter *it)
{
    if (!block_iter_valid(it)) return;
    const struct block *b = it->b;
    uint32_t orig = it->cur, r = it->restart;
    while (restart_at(b, r) >= orig) {
        if (r == 0) {
            bi_invalidate(it);
            return;
        }
        r--;
    }
    bi_to_restart(it, r);
    while (bi_parse_next(it)) {
        if (it->next >= orig) {
            if (it->next != orig) bi_fail(it, -LSMER_ECORRUPT);
            return;
        }
    }
}

static void bi_seek_first(struct iter *base)
{
    block_iter_seek_first((struct block_iter *)base);
}

static void bi_seek_last(struct iter *base)
{
    block_iter_seek_last((struct block_iter *)base);
}

static void bi_seek(struct iter *base, struct slice target)
{
    block_iter_seek((struct block_iter *)base, target);
}

static void bi_next(struct iter *base)
{
    block_iter_next((struct block_iter *)base);
}

static void bi_prev(struct iter *base)
{
    block_iter_prev((struct block_iter *)base);
}

static struct slice bi_key(const struct iter *base)
{
    return block_iter_key((const struct block_iter *)base);
}

static struct slice bi_value(const struct iter *base)
{
    return block_iter_value((const struct block_iter *)base);
}

static int bi_status(const struct iter *base)
{
    return ((const struct block_iter *)base)->status;
}

static void bi_destroy_embedded(struct iter *base)
{
    block_iter_cleanup((struct block_iter *)base);
}

static void bi_destroy_heap(struct iter *base)
{
    block_iter_cleanup((struct block_iter *)base);
    free(base);
}

static const struct iter_ops block_iter_ops = {
    bi_valid, bi_seek_first, bi_seek_last, bi_seek,   bi_next,
    bi_prev,  bi_key,        bi_value,     bi_status, bi_destroy_embedded,
};
static const struct iter_ops block_iter_heap_ops = {
    bi_valid, bi_seek_first, bi_seek_last, bi_seek,   bi_next,
    bi_prev,  bi_key,        bi_value,     bi_status, bi_destroy_heap,
};

void block_iter_init(struct block_iter *it, const struct block *b, key_compare_fn cmp)
{
    memset(it, 0, sizeof(*it));
    it->base.ops = &block_iter_ops;
    it->b = b;
    it->cmp = cmp;
    /* Internal keys end in an 8-byte trailer; a shorter one would make the
     * comparator read before the key. */
    it->min_key = cmp == ikey_compare_raw ? IKEY_TRAILER : 0;
    if (b) {
        it->status = b->err;
        bi_invalidate(it);
    }
}

void block_iter_cleanup(struct block_iter *it)
{
    buffer_free(&it->key);
    it->b = NULL;
}

struct iter *block_iter_new(const struct block *b, key_compare_fn cmp)
{
    struct block_iter *it = malloc(sizeof(*it));
    if (!it) return iter_new_empty(-ENOMEM);
    block_iter_init(it, b, cmp);
    it->base.ops = &block_iter_heap_ops;
    return &it->base;
}
