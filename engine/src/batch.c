/* batch.c — write batches and their representation (see batch.h). */
#include "batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "dbformat.h"

struct lsmer_batch {
    struct buffer rep; /* always at least BATCH_HEADER bytes */
    size_t user_bytes;
};

static const uint8_t zero_header[BATCH_HEADER];

lsmer_batch *lsmer_batch_new(void)
{
    lsmer_batch *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    if (buffer_append(&b->rep, zero_header, BATCH_HEADER)) {
        free(b);
        return NULL;
    }
    return b;
}

void lsmer_batch_free(lsmer_batch *b)
{
    if (!b) return;
    buffer_free(&b->rep);
    free(b);
}

void lsmer_batch_clear(lsmer_batch *b)
{
    /* The header's room is always there: rep.n >= BATCH_HEADER. */
    memset(b->rep.p, 0, BATCH_HEADER);
    b->rep.n = BATCH_HEADER;
    b->user_bytes = 0;
}

size_t lsmer_batch_count(const lsmer_batch *b)
{
    return get_fixed32(b->rep.p + 8);
}

size_t lsmer_batch_bytes(const lsmer_batch *b)
{
    return b->rep.n;
}

/* Appends one record (b unchanged on failure). */
static int batch_add(lsmer_batch *b, int type, const void *k, size_t kn, const void *v, size_t vn)
{
    uint32_t count = get_fixed32(b->rep.p + 8);
    if (count == UINT32_MAX) return -EINVAL;
    size_t need = 1 + 5 + kn + (type == TYPE_DELETE ? 0 : 5 + vn);
    int rc = buffer_reserve(&b->rep, need);
    if (rc) return rc;
    uint8_t *p = b->rep.p + b->rep.n;
    *p++ = (uint8_t)type;
    p = put_varint32(p, (uint32_t)kn);
    if (kn) memcpy(p, k, kn);
    p += kn;
    if (type != TYPE_DELETE) {
        p = put_varint32(p, (uint32_t)vn);
        if (vn) memcpy(p, v, vn);
        p += vn;
    }
    b->rep.n = (size_t)(p - b->rep.p);
    put_fixed32(b->rep.p + 8, count + 1);
    b->user_bytes += batch_op_user_bytes(type, kn, vn);
    return 0;
}

int batch_op_check(int type, const void *k, size_t kn, const void *v, size_t vn)
{
    if ((!k && kn) || kn > LSMER_MAX_KEY) return -EINVAL;
    if (type == TYPE_DELETE) return 0;
    if (!v && vn) return -EINVAL;
    if (type == TYPE_VALUE) return vn > LSMER_MAX_VALUE ? -EINVAL : 0;
    if (type == TYPE_RANGE_DELETE) return vn > LSMER_MAX_KEY ? -EINVAL : 0;
    return -EINVAL;
}

int batch_add_op(lsmer_batch *b, int type, const void *k, size_t kn, const void *v, size_t vn)
{
    int rc = batch_op_check(type, k, kn, v, vn);
    return rc ? rc : batch_add(b, type, k, kn, v, vn);
}

size_t batch_op_user_bytes(int type, size_t kn, size_t vn)
{
    return kn + (type == TYPE_DELETE ? 0 : vn);
}

int lsmer_batch_put(lsmer_batch *b, const void *key, size_t klen, const void *val, size_t vlen)
{
    if (!b) return -EINVAL;
    return batch_add_op(b, TYPE_VALUE, key, klen, val, vlen);
}

int lsmer_batch_delete(lsmer_batch *b, const void *key, size_t klen)
{
    if (!b) return -EINVAL;
    return batch_add_op(b, TYPE_DELETE, key, klen, NULL, 0);
}

int lsmer_batch_delete_range(lsmer_batch *b, const void *start, size_t slen, const void *end,
                             size_t elen)
{
    if (!b) return -EINVAL;
    return batch_add_op(b, TYPE_RANGE_DELETE, start, slen, end, elen);
}

struct slice batch_rep(const lsmer_batch *b)
{
    return buffer_slice(&b->rep);
}

void batch_set_sequence(lsmer_batch *b, uint64_t seq)
{
    put_fixed64(b->rep.p, seq);
}

uint64_t batch_sequence(struct slice rep)
{
    return rep.n >= BATCH_HEADER ? get_fixed64(rep.p) : 0;
}

uint32_t batch_count_rep(struct slice rep)
{
    return rep.n >= BATCH_HEADER ? get_fixed32(rep.p + 8) : 0;
}

size_t batch_user_bytes(const lsmer_batch *b)
{
    return b->user_bytes;
}

/* Parses one record at *pp; NULL-safe bounds. 0 or -LSMER_ECORRUPT. */
static int batch_parse_record(const uint8_t **pp, const uint8_t *limit, int *type,
                              struct slice *key, struct slice *value)
{
    const uint8_t *p = *pp;
    if (p >= limit) return -LSMER_ECORRUPT;
    int t = *p++;
    if (t != TYPE_VALUE && t != TYPE_DELETE && t != TYPE_RANGE_DELETE) return -LSMER_ECORRUPT;
    p = get_length_prefixed(p, limit, key);
    if (!p || key->n > LSMER_MAX_KEY) return -LSMER_ECORRUPT;
    *value = slice_make(NULL, 0);
    if (t != TYPE_DELETE) {
        p = get_length_prefixed(p, limit, value);
        size_t max = t == TYPE_VALUE ? LSMER_MAX_VALUE : LSMER_MAX_KEY;
        if (!p || value->n > max) return -LSMER_ECORRUPT;
    }
    *type = t;
    *pp = p;
    return 0;
}

/* Walks the records; fn may be NULL (validation only). */
static int batch_walk(struct slice rep, int (*fn)(void *, int, struct slice, struct slice),
                      void *arg, size_t *user_bytes)
{
    if (rep.n < BATCH_HEADER) return -LSMER_ECORRUPT;
    uint32_t count = get_fixed32(rep.p + 8);
    const uint8_t *p = rep.p + BATCH_HEADER, *limit = rep.p + rep.n;
    size_t ub = 0;
    for (uint32_t i = 0; i < count; i++) {
        int type;
        struct slice k, v;
        int rc = batch_parse_record(&p, limit, &type, &k, &v);
        if (rc) return rc;
        ub += k.n + v.n;
        if (fn) {
            rc = fn(arg, type, k, v);
            if (rc) return rc;
        }
    }
    if (p != limit) return -LSMER_ECORRUPT; /* trailing bytes */
    if (user_bytes) *user_bytes = ub;
    return 0;
}

int batch_iterate(struct slice rep,
                  int (*fn)(void *arg, int type, struct slice key, struct slice value), void *arg)
{
    /* Validate everything before the first callback so a consumer (the
     * memtable) never applies half of a malformed batch. */
    int rc = batch_walk(rep, NULL, NULL, NULL);
    if (rc) return rc;
    /* Its records take the sequences seq, seq + 1, ...: all must fit in an
     * internal key's 56 bits (a record past the end could only come from
     * damage that kept its checksum). Found by fuzz_batch. */
    uint64_t seq = batch_sequence(rep);
    uint32_t n = batch_count_rep(rep);
    if (n && (seq > SEQ_MAX || n - 1 > SEQ_MAX - seq)) return -LSMER_ECORRUPT;
    return batch_walk(rep, fn, arg, NULL);
}

int batch_append_rep(lsmer_batch *dst, struct slice src_rep)
{
    size_t ub;
    int rc = batch_walk(src_rep, NULL, NULL, &ub);
    if (rc) return rc;
    uint32_t have = get_fixed32(dst->rep.p + 8), add = get_fixed32(src_rep.p + 8);
    if (add > UINT32_MAX - have) return -EINVAL;
    /* src may be dst's own rep (appending a batch to itself): reserve
     * first, then find it again after a possible move. */
    size_t off = 0;
    int self = src_rep.p >= dst->rep.p && src_rep.p < dst->rep.p + dst->rep.n;
    if (self) off = (size_t)(src_rep.p - dst->rep.p);
    rc = buffer_reserve(&dst->rep, src_rep.n - BATCH_HEADER);
    if (rc) return rc;
    if (self) src_rep.p = dst->rep.p + off;
    memcpy(dst->rep.p + dst->rep.n, src_rep.p + BATCH_HEADER, src_rep.n - BATCH_HEADER);
    dst->rep.n += src_rep.n - BATCH_HEADER;
    put_fixed32(dst->rep.p + 8, have + add);
    dst->user_bytes += ub;
    return 0;
}

int batch_from_rep(lsmer_batch *b, struct slice rep)
{
    size_t ub;
    int rc = batch_walk(rep, NULL, NULL, &ub);
    if (rc) return rc;
    rc = buffer_reserve(&b->rep, rep.n > b->rep.n ? rep.n - b->rep.n : 0);
    if (rc) return rc;
    memmove(b->rep.p, rep.p, rep.n);
    b->rep.n = rep.n;
    b->user_bytes = ub;
    return 0;
}
