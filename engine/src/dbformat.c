/* dbformat.c — internal key order and index-key shortening (see dbformat.h). */
#include "dbformat.h"

int ikey_append(struct buffer *b, const void *ukey, size_t n, uint64_t seq, int type)
{
    int rc = buffer_reserve(b, n + IKEY_TRAILER);
    if (rc) return rc;
    ikey_write(b->p + b->n, ukey, n, seq, type);
    b->n += n + IKEY_TRAILER;
    return 0;
}

int ikey_compare_raw(const void *a, size_t an, const void *b, size_t bn)
{
    return ikey_compare(slice_make(a, an), slice_make(b, bn));
}

int bytewise_compare_raw(const void *a, size_t an, const void *b, size_t bn)
{
    return slice_compare(slice_make(a, an), slice_make(b, bn));
}

/* Both shortenings keep the key an internal key: the new user key is
 * followed by the largest trailer, so it sorts first among its versions. */
int ikey_shortest_separator(struct buffer *start, struct slice limit)
{
    struct slice us = ikey_user(buffer_slice(start)), ul = ikey_user(limit);
    size_t m = us.n < ul.n ? us.n : ul.n, i = 0;
    while (i < m && us.p[i] == ul.p[i]) i++;
    if (i >= m) return 0; /* one is a prefix of the other */
    uint8_t c = us.p[i];
    if (c == 0xff || c + 1 >= ul.p[i]) return 0;
    /* user key = us[0..i] with byte i incremented: us < it < ul */
    start->p[i] = (uint8_t)(c + 1);
    put_fixed64(start->p + i + 1, ikey_pack_trailer(SEQ_MAX, TYPE_SEEK));
    start->n = i + 1 + IKEY_TRAILER;
    return 0;
}

int ikey_short_successor(struct buffer *key)
{
    struct slice u = ikey_user(buffer_slice(key));
    for (size_t i = 0; i < u.n; i++) {
        if (u.p[i] != 0xff) {
            key->p[i] = (uint8_t)(u.p[i] + 1);
            put_fixed64(key->p + i + 1, ikey_pack_trailer(SEQ_MAX, TYPE_SEEK));
            key->n = i + 1 + IKEY_TRAILER;
            return 0;
        }
    }
    return 0;
}
