/* version_edit.c — file_meta, file_array and version edit encoding; see
 * filemeta.h and version_edit.h. */
#include "version_edit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lsmer.h"

#include "dbformat.h"

/* ---- file_meta ------------------------------------------------------- */

struct file_meta *file_meta_new(void)
{
    struct file_meta *f = calloc(1, sizeof(*f));
    if (f) atomic_init(&f->refs, 1);
    return f;
}

void file_meta_ref(struct file_meta *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}

void file_meta_unref(struct file_meta *f)
{
    if (!f) return;
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1) return;
    buffer_free(&f->smallest);
    buffer_free(&f->largest);
    free(f);
}

int file_meta_set_keys(struct file_meta *f, struct slice smallest, struct slice largest)
{
    struct buffer s = BUFFER_INIT, l = BUFFER_INIT;
    if (buffer_set(&s, smallest.p, smallest.n) || buffer_set(&l, largest.p, largest.n)) {
        buffer_free(&s);
        buffer_free(&l);
        return -ENOMEM;
    }
    buffer_free(&f->smallest);
    buffer_free(&f->largest);
    f->smallest = s;
    f->largest = l;
    return 0;
}

struct file_meta *file_meta_clone(const struct file_meta *src)
{
    struct file_meta *f = file_meta_new();
    if (!f) return NULL;
    f->number = src->number;
    f->file_size = src->file_size;
    f->smallest_seq = src->smallest_seq;
    f->largest_seq = src->largest_seq;
    f->num_entries = src->num_entries;
    f->num_deletions = src->num_deletions;
    f->num_range_deletions = src->num_range_deletions;
    if (file_meta_set_keys(f, file_meta_smallest(src), file_meta_largest(src))) {
        file_meta_unref(f);
        return NULL;
    }
    return f;
}

/* ---- file_array ------------------------------------------------------ */

int file_array_push(struct file_array *a, struct file_meta *f)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        struct file_meta **v = realloc(a->v, cap * sizeof(*v));
        if (!v) return -ENOMEM;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = f;
    return 0;
}

void file_array_free(struct file_array *a)
{
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

uint64_t file_array_bytes(const struct file_array *a)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < a->n; i++) sum += a->v[i]->file_size;
    return sum;
}

int file_array_contains(const struct file_array *a, const struct file_meta *f)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i]->number == f->number) return 1;
    return 0;
}

/* ---- edit building --------------------------------------------------- */

void version_edit_init(struct version_edit *e)
{
    memset(e, 0, sizeof(*e));
    e->format = VERSION_EDIT_FORMAT;
}

void version_edit_free(struct version_edit *e)
{
    for (size_t i = 0; i < e->n_cps; i++) buffer_free(&e->cps[i].key);
    for (size_t i = 0; i < e->n_added; i++) file_meta_unref(e->added[i].f);
    free(e->cps);
    free(e->deleted);
    free(e->added);
    version_edit_init(e);
}

void version_edit_set_log_number(struct version_edit *e, uint64_t n)
{
    e->has_log_number = 1;
    e->log_number = n;
}
void version_edit_set_next_file_number(struct version_edit *e, uint64_t n)
{
    e->has_next_file_number = 1;
    e->next_file_number = n;
}
void version_edit_set_last_sequence(struct version_edit *e, uint64_t seq)
{
    e->has_last_sequence = 1;
    e->last_sequence = seq;
}

/* Makes room for one more element of size sz in *arr. */
static int grow(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap) return 0;
    size_t c = *cap ? *cap * 2 : 4;
    void *p = realloc(*arr, c * sz);
    if (!p) return -ENOMEM;
    *arr = p;
    *cap = c;
    return 0;
}

int version_edit_set_compact_pointer(struct version_edit *e, int level, struct slice ikey)
{
    if (level < 0 || level >= LSMER_MAX_LEVELS) return -EINVAL;
    if (grow((void **)&e->cps, &e->cap_cps, e->n_cps, sizeof(*e->cps))) return -ENOMEM;
    struct edit_compact_ptr *cp = &e->cps[e->n_cps];
    cp->level = level;
    cp->key = (struct buffer)BUFFER_INIT;
    if (buffer_set(&cp->key, ikey.p, ikey.n)) return -ENOMEM;
    e->n_cps++;
    return 0;
}

int version_edit_delete_file(struct version_edit *e, int level, uint64_t number)
{
    if (level < 0 || level >= LSMER_MAX_LEVELS) return -EINVAL;
    if (grow((void **)&e->deleted, &e->cap_deleted, e->n_deleted, sizeof(*e->deleted)))
        return -ENOMEM;
    e->deleted[e->n_deleted].level = level;
    e->deleted[e->n_deleted].number = number;
    e->n_deleted++;
    return 0;
}

int version_edit_add_file(struct version_edit *e, int level, struct file_meta *f)
{
    if (level < 0 || level >= LSMER_MAX_LEVELS || !f) return -EINVAL;
    if (grow((void **)&e->added, &e->cap_added, e->n_added, sizeof(*e->added))) return -ENOMEM;
    file_meta_ref(f);
    e->added[e->n_added].level = level;
    e->added[e->n_added].f = f;
    e->n_added++;
    return 0;
}

/* ---- encoding -------------------------------------------------------- */

int version_edit_encode(const struct version_edit *e, struct buffer *out)
{
    size_t mark = out->n;
    int rc = 0;
#define PUT(x)                                                                                     \
    do {                                                                                           \
        if ((rc = (x)) != 0) goto out;                                                             \
    } while (0)
    PUT(buffer_append_varint(out, EDIT_TAG_FORMAT));
    PUT(buffer_append_varint(out, VERSION_EDIT_FORMAT));
    if (e->has_log_number) {
        PUT(buffer_append_varint(out, EDIT_TAG_LOG_NUMBER));
        PUT(buffer_append_varint(out, e->log_number));
    }
    if (e->has_next_file_number) {
        PUT(buffer_append_varint(out, EDIT_TAG_NEXT_FILE));
        PUT(buffer_append_varint(out, e->next_file_number));
    }
    if (e->has_last_sequence) {
        PUT(buffer_append_varint(out, EDIT_TAG_LAST_SEQUENCE));
        PUT(buffer_append_varint(out, e->last_sequence));
    }
    for (size_t i = 0; i < e->n_cps; i++) {
        PUT(buffer_append_varint(out, EDIT_TAG_COMPACT_PTR));
        PUT(buffer_append_varint(out, (uint64_t)e->cps[i].level));
        PUT(buffer_append_length_prefixed(out, e->cps[i].key.p, e->cps[i].key.n));
    }
    for (size_t i = 0; i < e->n_deleted; i++) {
        PUT(buffer_append_varint(out, EDIT_TAG_DELETED_FILE));
        PUT(buffer_append_varint(out, (uint64_t)e->deleted[i].level));
        PUT(buffer_append_varint(out, e->deleted[i].number));
    }
    for (size_t i = 0; i < e->n_added; i++) {
        const struct file_meta *f = e->added[i].f;
        PUT(buffer_append_varint(out, EDIT_TAG_NEW_FILE));
        PUT(buffer_append_varint(out, (uint64_t)e->added[i].level));
        PUT(buffer_append_varint(out, f->number));
        PUT(buffer_append_varint(out, f->file_size));
        PUT(buffer_append_length_prefixed(out, f->smallest.p, f->smallest.n));
        PUT(buffer_append_length_prefixed(out, f->largest.p, f->largest.n));
        PUT(buffer_append_varint(out, f->smallest_seq));
        PUT(buffer_append_varint(out, f->largest_seq));
        PUT(buffer_append_varint(out, f->num_entries));
        PUT(buffer_append_varint(out, f->num_deletions));
        PUT(buffer_append_varint(out, f->num_range_deletions));
    }
#undef PUT
out:
    if (rc) out->n = mark;
    return rc;
}

/* ---- strict decoding ------------------------------------------------- */

struct reader {
    const uint8_t *p, *limit;
};

/* A varint in its shortest form. */
static int rd_varint(struct reader *r, uint64_t *v)
{
    const uint8_t *q = get_varint64(r->p, r->limit, v);
    if (!q || q - r->p != varint_length(*v)) return -LSMER_ECORRUPT;
    r->p = q;
    return 0;
}

static int rd_level(struct reader *r, int *level)
{
    uint64_t v;
    if (rd_varint(r, &v) || v >= LSMER_MAX_LEVELS) return -LSMER_ECORRUPT;
    *level = (int)v;
    return 0;
}

/* A length-prefixed valid internal key; *out points into the input. */
static int rd_ikey(struct reader *r, struct slice *out)
{
    uint64_t len;
    if (rd_varint(r, &len) || len > (uint64_t)(r->limit - r->p)) return -LSMER_ECORRUPT;
    if (len > UINT32_MAX) return -LSMER_ECORRUPT;
    *out = slice_make(r->p, (size_t)len);
    if (!ikey_valid(*out) || ikey_seq(*out) > SEQ_MAX) return -LSMER_ECORRUPT;
    r->p += len;
    return 0;
}

static int decode_new_file(struct reader *r, struct version_edit *e)
{
    int level, rc = -LSMER_ECORRUPT;
    struct slice smallest, largest;
    struct file_meta *f = file_meta_new();
    if (!f) return -ENOMEM;
    if (rd_level(r, &level) || rd_varint(r, &f->number) || rd_varint(r, &f->file_size) ||
        rd_ikey(r, &smallest) || rd_ikey(r, &largest) || rd_varint(r, &f->smallest_seq) ||
        rd_varint(r, &f->largest_seq) || rd_varint(r, &f->num_entries) ||
        rd_varint(r, &f->num_deletions) || rd_varint(r, &f->num_range_deletions))
        goto out;
    if (f->number == 0 || ikey_compare(smallest, largest) > 0 || f->smallest_seq > f->largest_seq ||
        f->largest_seq > SEQ_MAX)
        goto out;
    if ((rc = file_meta_set_keys(f, smallest, largest)) != 0) goto out;
    rc = version_edit_add_file(e, level, f);
out:
    file_meta_unref(f);
    return rc;
}

int version_edit_decode(struct version_edit *e, const void *data, size_t n)
{
    struct reader r = {data, (const uint8_t *)data + n};
    uint64_t tag, v, last_tag = 0;
    int rc = 0, level;
    struct slice key;

    version_edit_init(e);
    e->format = 0;
    while (r.p < r.limit) {
        if (rd_varint(&r, &tag)) goto corrupt;
        /* Ascending tags; only the list fields may repeat. FORMAT first. */
        if (tag < last_tag || (tag == last_tag && tag < EDIT_TAG_COMPACT_PTR)) goto corrupt;
        if (last_tag == 0 && tag != EDIT_TAG_FORMAT) goto corrupt;
        last_tag = tag;
        switch (tag) {
        case EDIT_TAG_FORMAT:
            if (rd_varint(&r, &v) || v == 0) goto corrupt;
            if (v > VERSION_EDIT_FORMAT) {
                rc = -EPROTO;
                goto out;
            }
            e->format = (uint32_t)v;
            break;
        case EDIT_TAG_LOG_NUMBER:
            if (rd_varint(&r, &v)) goto corrupt;
            version_edit_set_log_number(e, v);
            break;
        case EDIT_TAG_NEXT_FILE:
            if (rd_varint(&r, &v)) goto corrupt;
            version_edit_set_next_file_number(e, v);
            break;
        case EDIT_TAG_LAST_SEQUENCE:
            if (rd_varint(&r, &v) || v > SEQ_MAX) goto corrupt;
            version_edit_set_last_sequence(e, v);
            break;
        case EDIT_TAG_COMPACT_PTR:
            if (rd_level(&r, &level) || rd_ikey(&r, &key)) goto corrupt;
            if ((rc = version_edit_set_compact_pointer(e, level, key)) != 0) goto out;
            break;
        case EDIT_TAG_DELETED_FILE:
            if (rd_level(&r, &level) || rd_varint(&r, &v) || v == 0) goto corrupt;
            if ((rc = version_edit_delete_file(e, level, v)) != 0) goto out;
            break;
        case EDIT_TAG_NEW_FILE:
            if ((rc = decode_new_file(&r, e)) != 0) goto out;
            break;
        default:
            goto corrupt;
        }
    }
    if (last_tag == 0) goto corrupt; /* empty: not even a format field */
    return 0;
corrupt:
    rc = -LSMER_ECORRUPT;
out:
    version_edit_free(e);
    return rc;
}
