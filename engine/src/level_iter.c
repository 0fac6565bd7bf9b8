/* level_iter.c — concatenation of one level's file iterators (see
 * level_iter.h). */
#include "level_iter.h"

#include <errno.h>
#include <stdlib.h>

#include "dbformat.h"

struct level_iter {
    struct iter base;
    struct file_meta **files;
    size_t n;
    level_open_fn open_file;
    void *arg;
    void (*release)(void *arg);
    size_t idx;      /* the file fi reads; meaningful only when fi != NULL */
    struct iter *fi; /* the open file's iterator, or NULL */
    int err;         /* open_file returned NULL */
};

/* Makes file idx the open one (reusing it if it already is); idx >= n
 * closes everything. */
static void set_file(struct level_iter *l, size_t idx)
{
    if (l->fi && l->idx == idx) return;
    iter_destroy(l->fi);
    l->fi = NULL;
    l->err = 0;
    if (idx >= l->n) return;
    l->idx = idx;
    l->fi = l->open_file(l->arg, l->files[idx]);
    if (!l->fi) l->err = -ENOMEM;
}

/* The open file ran out going forward: move on to the next file holding
 * an entry, unless the file failed. */
static void skip_forward(struct level_iter *l)
{
    while (l->fi && !iter_valid(l->fi)) {
        if (iter_status(l->fi) != 0 || l->idx + 1 >= l->n) return;
        set_file(l, l->idx + 1);
        if (l->fi) iter_seek_first(l->fi);
    }
}

static void skip_backward(struct level_iter *l)
{
    while (l->fi && !iter_valid(l->fi)) {
        if (iter_status(l->fi) != 0 || l->idx == 0) return;
        set_file(l, l->idx - 1);
        if (l->fi) iter_seek_last(l->fi);
    }
}

static int l_valid(const struct iter *it)
{
    const struct level_iter *l = (const struct level_iter *)it;
    return l->fi && iter_valid(l->fi);
}

static void l_seek_first(struct iter *it)
{
    struct level_iter *l = (struct level_iter *)it;
    set_file(l, 0);
    if (!l->fi) return;
    iter_seek_first(l->fi);
    skip_forward(l);
}

static void l_seek_last(struct iter *it)
{
    struct level_iter *l = (struct level_iter *)it;
    set_file(l, l->n ? l->n - 1 : 0);
    if (!l->fi) return;
    iter_seek_last(l->fi);
    skip_backward(l);
}

static void l_seek(struct iter *it, struct slice target)
{
    struct level_iter *l = (struct level_iter *)it;
    /* first file whose largest key >= target: every earlier file holds
     * only keys < target */
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ikey_compare(file_meta_largest(l->files[mid]), target) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    set_file(l, lo);
    if (!l->fi) return;
    iter_seek(l->fi, target);
    skip_forward(l);
}

static void l_next(struct iter *it)
{
    struct level_iter *l = (struct level_iter *)it;
    if (!l_valid(it)) return;
    iter_next(l->fi);
    skip_forward(l);
}

static void l_prev(struct iter *it)
{
    struct level_iter *l = (struct level_iter *)it;
    if (!l_valid(it)) return;
    iter_prev(l->fi);
    skip_backward(l);
}

static struct slice l_key(const struct iter *it)
{
    return iter_key(((const struct level_iter *)it)->fi);
}

static struct slice l_value(const struct iter *it)
{
    return iter_value(((const struct level_iter *)it)->fi);
}

static int l_status(const struct iter *it)
{
    const struct level_iter *l = (const struct level_iter *)it;
    if (l->err) return l->err;
    return l->fi ? iter_status(l->fi) : 0;
}

static void l_destroy(struct iter *it)
{
    struct level_iter *l = (struct level_iter *)it;
    iter_destroy(l->fi);
    if (l->release) l->release(l->arg);
    free(l);
}

static const struct iter_ops level_ops = {l_valid, l_seek_first, l_seek_last, l_seek,   l_next,
                                          l_prev,  l_key,        l_value,     l_status, l_destroy};

struct iter *level_iter_new(struct file_meta **files, size_t n, level_open_fn open_file, void *arg,
                            void (*release)(void *arg))
{
    struct level_iter *l = calloc(1, sizeof(*l));
    if (!l) {
        if (release) release(arg);
        return iter_new_empty(-ENOMEM);
    }
    l->base.ops = &level_ops;
    l->files = files;
    l->n = n;
    l->open_file = open_file;
    l->arg = arg;
    l->release = release;
    return &l->base;
}
