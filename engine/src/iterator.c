/* iterator.c — the empty iterator (see iterator.h). */
#include "iterator.h"

#include <errno.h>
#include <stdlib.h>

struct empty_iter {
    struct iter base;
    int err;
};

static int e_valid(const struct iter *it)
{
    (void)it;
    return 0;
}
static void e_noop(struct iter *it)
{
    (void)it;
}
static void e_seek(struct iter *it, struct slice t)
{
    (void)it;
    (void)t;
}
static struct slice e_key(const struct iter *it)
{
    (void)it;
    return slice_make(NULL, 0);
}
static int e_status(const struct iter *it)
{
    return ((const struct empty_iter *)it)->err;
}
static void e_destroy(struct iter *it)
{
    free(it);
}

static const struct iter_ops empty_ops = {e_valid, e_noop, e_noop, e_seek,   e_noop,
                                          e_noop,  e_key,  e_key,  e_status, e_destroy};
/* For the one returned when even the empty iterator cannot be allocated. */
static const struct iter_ops static_ops = {e_valid, e_noop, e_noop, e_seek,   e_noop,
                                           e_noop,  e_key,  e_key,  e_status, e_noop};

struct iter *iter_new_empty(int err)
{
    static struct empty_iter oom = {{&static_ops}, -ENOMEM};
    struct empty_iter *e = malloc(sizeof(*e));
    if (!e) return &oom.base;
    e->base.ops = &empty_ops;
    e->err = err;
    return &e->base;
}
