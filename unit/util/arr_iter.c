/* arr_iter.c — an iterator over a test's sorted array; see arr_iter.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "arr_iter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct arr_iter {
    struct iter base;
    const struct arr_iter_type *type;
    const uint8_t *entries;
    long n, pos; /* pos in [0, n) when valid, else -1 */
    long err_pos;
    int err;
    int *destroyed;
    uint8_t *kcopy, *vcopy; /* with type->copy: freed on every move */
};

static const void *entry_at(const struct arr_iter *a, long i)
{
    return a->entries + (size_t)i * a->type->entry_size;
}

static void *copy_of(struct slice s)
{
    void *p = malloc(s.n ? s.n : 1);
    assert_non_null(p);
    if (s.n) memcpy(p, s.p, s.n);
    return p;
}

/* Moves to entry p (out of range: not valid), failing on err_pos. */
static void a_land(struct arr_iter *a, long p)
{
    free(a->kcopy);
    free(a->vcopy);
    a->kcopy = a->vcopy = NULL;
    a->err = 0;
    if (p >= 0 && p < a->n && p == a->err_pos) {
        a->err = -EIO;
        p = -1;
    }
    a->pos = (p < 0 || p >= a->n) ? -1 : p;
    if (a->pos >= 0 && a->type->copy) {
        const void *e = entry_at(a, a->pos);
        a->kcopy = copy_of(a->type->key(e));
        a->vcopy = copy_of(a->type->value(e));
    }
}

static int a_valid(const struct iter *it)
{
    return ((const struct arr_iter *)it)->pos >= 0;
}

static void a_seek_first(struct iter *it)
{
    a_land((struct arr_iter *)it, 0);
}

static void a_seek_last(struct iter *it)
{
    struct arr_iter *a = (struct arr_iter *)it;
    a_land(a, a->n - 1);
}

static void a_seek(struct iter *it, struct slice target)
{
    struct arr_iter *a = (struct arr_iter *)it;
    long p = 0;
    while (p < a->n && a->type->cmp(a->type->key(entry_at(a, p)), target) < 0) p++;
    a_land(a, p);
}

static void a_next(struct iter *it)
{
    struct arr_iter *a = (struct arr_iter *)it;
    assert_true(a->pos >= 0);
    a_land(a, a->pos + 1);
}

static void a_prev(struct iter *it)
{
    struct arr_iter *a = (struct arr_iter *)it;
    assert_true(a->pos >= 0);
    a_land(a, a->pos - 1);
}

static struct slice a_key(const struct iter *it)
{
    const struct arr_iter *a = (const struct arr_iter *)it;
    assert_true(a->pos >= 0);
    struct slice k = a->type->key(entry_at(a, a->pos));
    return a->type->copy ? slice_make(a->kcopy, k.n) : k;
}

static struct slice a_value(const struct iter *it)
{
    const struct arr_iter *a = (const struct arr_iter *)it;
    assert_true(a->pos >= 0);
    struct slice v = a->type->value(entry_at(a, a->pos));
    return a->type->copy ? slice_make(a->vcopy, v.n) : v;
}

static int a_status(const struct iter *it)
{
    return ((const struct arr_iter *)it)->err;
}

static void a_destroy(struct iter *it)
{
    struct arr_iter *a = (struct arr_iter *)it;
    if (a->destroyed) (*a->destroyed)++;
    free(a->kcopy);
    free(a->vcopy);
    free(a);
}

static const struct iter_ops arr_ops = {a_valid, a_seek_first, a_seek_last, a_seek,   a_next,
                                        a_prev,  a_key,        a_value,     a_status, a_destroy};

struct iter *arr_iter_new(const struct arr_iter_type *type, const void *entries, long n,
                          long err_pos, int *destroyed)
{
    struct arr_iter *a = calloc(1, sizeof(*a));
    assert_non_null(a);
    a->base.ops = &arr_ops;
    a->type = type;
    a->entries = entries;
    a->n = n;
    a->pos = -1;
    a->err_pos = err_pos;
    a->destroyed = destroyed;
    return &a->base;
}
