/* table_builder.c — writes sorted tables (see table_builder.h and
 * docs/format-sstable.md). */
#include "table_builder.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "block.h"
#include "bloom.h"
#include "buffer.h"
#include "crc32c.h"
#include "dbformat.h"
#include "table_format.h"

/* A range tombstone waiting for finish(): ikey = (start, seq,
 * TYPE_RANGE_DELETE) followed by the end user key, in one allocation. */
struct tomb {
    uint8_t *ikey;
    size_t kn;
    const uint8_t *end;
    size_t en;
};

struct table_builder {
    struct env_file *f;
    struct table_options opt;
    int status; /* sticky error */
    int finished;

    struct buffer out; /* encoded bytes not yet handed to the env */
    uint64_t written;  /* bytes handed to the env */

    struct block_builder data, index;
    struct buffer first_key, last_key; /* point entries */
    int pending_index;                 /* a data block awaits its index entry */
    struct block_handle pending_handle;

    uint32_t *hashes; /* bloom hashes of distinct user keys */
    size_t nhashes, caphashes;

    struct tomb *tombs;
    size_t ntombs, captombs;
    size_t min_tomb;          /* index of the smallest tombstone key */
    struct buffer tomb_limit; /* largest sentinel (end, SEQ_MAX, TYPE_SEEK) */

    struct table_props props;
    ZSTD_CCtx *cctx;
    struct buffer zbuf;
};

/* ======================================================================
 * private
 * ====================================================================== */

static int flush_out(struct table_builder *b)
{
    if (!b->out.n) return 0;
    int rc = env_append(b->f, b->out.p, b->out.n);
    if (rc) return rc;
    b->written += b->out.n;
    b->out.n = 0;
    return 0;
}

/* Appends contents + trailer, compressing when allowed and worthwhile. */
static int write_block(struct table_builder *b, struct slice raw, int compress,
                       struct block_handle *h)
{
    struct slice contents = raw;
    uint8_t type = BLOCK_TYPE_NONE;
    if (compress && b->opt.zstd_level > 0 && raw.n >= 64) {
        if (!b->cctx && !(b->cctx = ZSTD_createCCtx())) return -ENOMEM;
        size_t bound = ZSTD_compressBound(raw.n);
        b->zbuf.n = 0;
        int rc = buffer_reserve(&b->zbuf, bound);
        if (rc) return rc;
        size_t r = ZSTD_compressCCtx(b->cctx, b->zbuf.p, bound, raw.p, raw.n, b->opt.zstd_level);
        /* Keep it raw unless zstd saves at least an eighth: decompressing
         * costs CPU on every cache miss. */
        if (!ZSTD_isError(r) && r < raw.n - raw.n / 8) {
            contents = slice_make(b->zbuf.p, r);
            type = BLOCK_TYPE_ZSTD;
        }
    }
    int rc = buffer_reserve(&b->out, contents.n + BLOCK_TRAILER_SIZE);
    if (rc) return rc;
    h->offset = b->written + b->out.n;
    h->size = contents.n;
    uint8_t trailer[BLOCK_TRAILER_SIZE];
    trailer[0] = type;
    uint32_t crc = crc32c_extend(crc32c(contents.p, contents.n), &type, 1);
    put_fixed32(trailer + 1, crc32c_mask(crc));
    buffer_append(&b->out, contents.p, contents.n);
    buffer_append(&b->out, trailer, sizeof(trailer));
    if (b->out.n >= TABLE_WRITE_CHUNK) return flush_out(b);
    return 0;
}

static int flush_data_block(struct table_builder *b)
{
    if (block_builder_empty(&b->data)) return 0;
    struct slice raw;
    int rc = block_builder_finish(&b->data, &raw);
    if (rc) return rc;
    uint64_t before = b->written + b->out.n;
    rc = write_block(b, raw, 1, &b->pending_handle);
    if (rc) return rc;
    b->pending_index = 1;
    b->props.data_blocks++;
    b->props.data_bytes += b->written + b->out.n - before;
    block_builder_reset(&b->data);
    return 0;
}

/* The index entry of the last finished block, keyed by a short key k with
 * last key of that block <= k < next (or any k >= last when next is NULL). */
static int add_index_entry(struct table_builder *b, const struct slice *next)
{
    struct buffer sep = BUFFER_INIT;
    int rc = buffer_set(&sep, b->last_key.p, b->last_key.n);
    if (rc) goto out;
    rc = next ? ikey_shortest_separator(&sep, *next) : ikey_short_successor(&sep);
    if (rc) goto out;
    uint8_t enc[BLOCK_HANDLE_MAX_ENCODED];
    uint8_t *e = block_handle_encode(enc, b->pending_handle);
    rc = block_builder_add(&b->index, buffer_slice(&sep), slice_make(enc, (size_t)(e - enc)));
    if (rc) goto out;
    b->pending_index = 0;
out:
    buffer_free(&sep);
    return rc;
}

static int push_hash(struct table_builder *b, uint32_t h)
{
    if (b->nhashes == b->caphashes) {
        size_t cap = b->caphashes ? b->caphashes * 2 : 1024;
        uint32_t *p = realloc(b->hashes, cap * sizeof(*p));
        if (!p) return -ENOMEM;
        b->hashes = p;
        b->caphashes = cap;
    }
    b->hashes[b->nhashes++] = h;
    return 0;
}

static void note_seq(struct table_builder *b, uint64_t seq)
{
    int first = b->props.entries == 0 && b->ntombs == 0;
    if (first || seq < b->props.smallest_seq) b->props.smallest_seq = seq;
    if (first || seq > b->props.largest_seq) b->props.largest_seq = seq;
}

static int tomb_cmp(const void *a, const void *b)
{
    const struct tomb *x = a, *y = b;
    int c = ikey_compare(slice_make(x->ikey, x->kn), slice_make(y->ikey, y->kn));
    if (c) return c;
    return slice_compare(slice_make(x->end, x->en), slice_make(y->end, y->en));
}

static int write_range_dels(struct table_builder *b, struct block_handle *h)
{
    if (!b->ntombs) {
        *h = (struct block_handle){0, 0};
        return 0;
    }
    qsort(b->tombs, b->ntombs, sizeof(*b->tombs), tomb_cmp);
    b->min_tomb = 0;
    struct block_builder bb;
    block_builder_init(&bb, BLOCK_RESTART_INTERVAL);
    int rc = 0;
    for (size_t i = 0; i < b->ntombs && !rc; i++)
        rc = block_builder_add(&bb, slice_make(b->tombs[i].ikey, b->tombs[i].kn),
                               slice_make(b->tombs[i].end, b->tombs[i].en));
    struct slice raw;
    if (!rc) rc = block_builder_finish(&bb, &raw);
    if (!rc) rc = write_block(b, raw, 1, h);
    block_builder_free(&bb);
    return rc;
}

struct prop {
    const char *name;
    uint64_t num;
    struct slice bytes; /* used when bytes.p != NULL */
};

static int prop_cmp(const void *a, const void *b)
{
    return strcmp(((const struct prop *)a)->name, ((const struct prop *)b)->name);
}

static int write_props(struct table_builder *b, struct block_handle *h)
{
    const struct table_props *p = &b->props;
    struct slice none = slice_make(NULL, 0);
    struct slice smallest = table_builder_smallest(b), largest = table_builder_largest(b);
    /* An empty key would look like "absent"; point at a static byte. */
    if (!smallest.p) smallest = slice_make("", 0);
    if (!largest.p) largest = slice_make("", 0);
    struct prop props[] = {
        {PROP_COMPRESSION, p->compression, none},
        {PROP_DATA_BLOCKS, p->data_blocks, none},
        {PROP_DATA_BYTES, p->data_bytes, none},
        {PROP_ENTRIES, p->entries, none},
        {PROP_DELETIONS, p->deletions, none},
        {PROP_RANGE_DELS, p->range_deletions, none},
        {PROP_FILTER_BITS, p->filter_bits_per_key, none},
        {PROP_LARGEST_KEY, 0, largest},
        {PROP_SMALLEST_KEY, 0, smallest},
        {PROP_RAW_KEY_BYTES, p->raw_key_bytes, none},
        {PROP_RAW_VALUE_BYTES, p->raw_value_bytes, none},
        {PROP_LARGEST_SEQ, p->largest_seq, none},
        {PROP_SMALLEST_SEQ, p->smallest_seq, none},
    };
    size_t n = sizeof(props) / sizeof(props[0]);
    qsort(props, n, sizeof(props[0]), prop_cmp);
    struct block_builder bb;
    block_builder_init(&bb, BLOCK_RESTART_INTERVAL);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        uint8_t num[VARINT64_MAX];
        struct slice v = props[i].bytes;
        if (!v.p) v = slice_make(num, (size_t)(put_varint64(num, props[i].num) - num));
        rc = block_builder_add(&bb, slice_make(props[i].name, strlen(props[i].name)), v);
    }
    struct slice raw;
    if (!rc) rc = block_builder_finish(&bb, &raw);
    if (!rc) rc = write_block(b, raw, 1, h);
    block_builder_free(&bb);
    return rc;
}

static int write_footer(struct table_builder *b, const struct block_handle *hs)
{
    uint8_t f[TABLE_FOOTER_SIZE];
    for (int i = 0; i < FOOTER_NSLOTS; i++) {
        put_fixed64(f + 16 * i, hs[i].offset);
        put_fixed64(f + 16 * i + 8, hs[i].size);
    }
    put_fixed32(f + FOOTER_VERSION_OFF, TABLE_FORMAT_VERSION);
    put_fixed64(f + FOOTER_MAGIC_OFF, TABLE_MAGIC);
    uint32_t crc = crc32c(f, FOOTER_CRC_OFF);
    crc = crc32c_extend(crc, f + FOOTER_MAGIC_OFF, TABLE_FOOTER_SIZE - FOOTER_MAGIC_OFF);
    put_fixed32(f + FOOTER_CRC_OFF, crc32c_mask(crc));
    return buffer_append(&b->out, f, sizeof(f));
}

/* ======================================================================
 * API
 * ====================================================================== */

void table_options_init(struct table_options *opt)
{
    memset(opt, 0, sizeof(*opt));
    opt->block_size = 4096;
    opt->zstd_level = 1;
    opt->bloom_bits_per_key = 10;
    opt->verify_checksums = 1;
}

int table_builder_new(struct env_file *f, const struct table_options *opt,
                      struct table_builder **out)
{
    *out = NULL;
    if (!f || !opt || opt->zstd_level < 0 || opt->zstd_level > ZSTD_maxCLevel() ||
        opt->bloom_bits_per_key < 0)
        return -EINVAL;
    struct table_builder *b = calloc(1, sizeof(*b));
    if (!b) return -ENOMEM;
    b->f = f;
    b->opt = *opt;
    if (!b->opt.block_size) b->opt.block_size = 4096;
    block_builder_init(&b->data, BLOCK_RESTART_INTERVAL);
    block_builder_init(&b->index, INDEX_RESTART_INTERVAL);
    b->props.format_version = TABLE_FORMAT_VERSION;
    b->props.compression = (uint64_t)b->opt.zstd_level;
    b->props.filter_bits_per_key = (uint64_t)b->opt.bloom_bits_per_key;
    *out = b;
    return 0;
}

void table_builder_free(struct table_builder *b)
{
    if (!b) return;
    buffer_free(&b->out);
    block_builder_free(&b->data);
    block_builder_free(&b->index);
    buffer_free(&b->first_key);
    buffer_free(&b->last_key);
    free(b->hashes);
    for (size_t i = 0; i < b->ntombs; i++) free(b->tombs[i].ikey);
    free(b->tombs);
    buffer_free(&b->tomb_limit);
    ZSTD_freeCCtx(b->cctx);
    buffer_free(&b->zbuf);
    free(b);
}

int table_builder_add(struct table_builder *b, struct slice ikey, struct slice value)
{
    if (b->status) return b->status;
    if (b->finished || !ikey_valid(ikey) || ikey_type(ikey) == TYPE_RANGE_DELETE) return -EINVAL;
    int have = b->props.entries > 0;
    if (have && ikey_compare(ikey, buffer_slice(&b->last_key)) <= 0) return -EINVAL;

    int rc = 0;
    if (b->pending_index && (rc = add_index_entry(b, &ikey))) goto out;
    if (b->opt.bloom_bits_per_key > 0 &&
        (!have || slice_compare(ikey_user(ikey), ikey_user(buffer_slice(&b->last_key))) != 0) &&
        (rc = push_hash(b, bloom_hash(ikey_user(ikey)))))
        goto out;
    if (!have && (rc = buffer_set(&b->first_key, ikey.p, ikey.n))) goto out;
    if ((rc = buffer_set(&b->last_key, ikey.p, ikey.n))) goto out;
    if ((rc = block_builder_add(&b->data, ikey, value))) goto out;

    note_seq(b, ikey_seq(ikey));
    b->props.entries++;
    if (ikey_type(ikey) == TYPE_DELETE) b->props.deletions++;
    b->props.raw_key_bytes += ikey.n;
    b->props.raw_value_bytes += value.n;
    if (block_builder_estimate(&b->data) >= b->opt.block_size) rc = flush_data_block(b);
out:
    if (rc) b->status = rc;
    return rc;
}

int table_builder_add_range_del(struct table_builder *b, struct slice start_ukey,
                                struct slice end_ukey, uint64_t seq)
{
    if (b->status) return b->status;
    if (b->finished || seq > SEQ_MAX) return -EINVAL;
    if (slice_compare(start_ukey, end_ukey) >= 0) return 0;
    int rc = 0;
    if (b->ntombs == b->captombs) {
        size_t cap = b->captombs ? b->captombs * 2 : 16;
        struct tomb *t = realloc(b->tombs, cap * sizeof(*t));
        if (!t) {
            rc = -ENOMEM;
            goto out;
        }
        b->tombs = t;
        b->captombs = cap;
    }
    struct tomb t;
    t.kn = start_ukey.n + IKEY_TRAILER;
    t.en = end_ukey.n;
    t.ikey = malloc(t.kn + t.en);
    if (!t.ikey) {
        rc = -ENOMEM;
        goto out;
    }
    ikey_write(t.ikey, start_ukey.p, start_ukey.n, seq, TYPE_RANGE_DELETE);
    if (t.en) memcpy(t.ikey + t.kn, end_ukey.p, t.en);
    t.end = t.ikey + t.kn;

    /* Track the extent: the least tombstone key and the greatest end. */
    struct slice limit = buffer_slice(&b->tomb_limit);
    if (!b->ntombs || slice_compare(end_ukey, ikey_user(limit)) > 0) {
        b->tomb_limit.n = 0;
        rc = ikey_append(&b->tomb_limit, end_ukey.p, end_ukey.n, SEQ_MAX, TYPE_SEEK);
        if (rc) {
            free(t.ikey);
            goto out;
        }
    }
    if (b->ntombs &&
        ikey_compare(slice_make(t.ikey, t.kn),
                     slice_make(b->tombs[b->min_tomb].ikey, b->tombs[b->min_tomb].kn)) < 0)
        b->min_tomb = b->ntombs;
    note_seq(b, seq);
    b->tombs[b->ntombs++] = t;
    b->props.range_deletions++;
out:
    if (rc) b->status = rc;
    return rc;
}

int table_builder_finish(struct table_builder *b)
{
    if (b->status) return b->status;
    if (b->finished) return -EINVAL;
    struct block_handle hs[FOOTER_NSLOTS] = {{0, 0}};
    struct buffer filter = BUFFER_INIT;
    struct slice raw;
    int rc = flush_data_block(b);
    if (rc) goto out;

    if (b->opt.bloom_bits_per_key > 0 && b->nhashes > 0) {
        if ((rc = bloom_build(b->hashes, b->nhashes, b->opt.bloom_bits_per_key, &filter))) goto out;
        /* bloom bits are random: zstd would only waste time on them */
        if ((rc = write_block(b, buffer_slice(&filter), 0, &hs[FOOTER_FILTER]))) goto out;
    } else {
        b->props.filter_bits_per_key = 0;
    }
    if ((rc = write_range_dels(b, &hs[FOOTER_RANGE_DEL]))) goto out;
    if ((rc = write_props(b, &hs[FOOTER_PROPS]))) goto out;
    if (b->pending_index && (rc = add_index_entry(b, NULL))) goto out;
    if ((rc = block_builder_finish(&b->index, &raw))) goto out;
    if ((rc = write_block(b, raw, 1, &hs[FOOTER_INDEX]))) goto out;
    if ((rc = write_footer(b, hs))) goto out;
    rc = flush_out(b);
out:
    buffer_free(&filter);
    if (rc) b->status = rc;
    b->finished = 1;
    return rc;
}

uint64_t table_builder_file_size(const struct table_builder *b)
{
    uint64_t n = b->written + b->out.n;
    if (!b->finished && !block_builder_empty(&b->data)) n += block_builder_estimate(&b->data);
    return n;
}

uint64_t table_builder_entries(const struct table_builder *b)
{
    return b->props.entries;
}

uint64_t table_builder_range_dels(const struct table_builder *b)
{
    return b->ntombs;
}

int table_builder_empty(const struct table_builder *b)
{
    return b->props.entries == 0 && b->ntombs == 0;
}

struct slice table_builder_smallest(const struct table_builder *b)
{
    struct slice p = buffer_slice(&b->first_key);
    if (!b->ntombs) return b->props.entries ? p : slice_make(NULL, 0);
    struct slice t = slice_make(b->tombs[b->min_tomb].ikey, b->tombs[b->min_tomb].kn);
    if (!b->props.entries) return t;
    return ikey_compare(t, p) < 0 ? t : p;
}

struct slice table_builder_largest(const struct table_builder *b)
{
    struct slice p = buffer_slice(&b->last_key);
    if (!b->ntombs) return b->props.entries ? p : slice_make(NULL, 0);
    struct slice t = buffer_slice(&b->tomb_limit);
    if (!b->props.entries) return t;
    return ikey_compare(t, p) > 0 ? t : p;
}

uint64_t table_builder_smallest_seq(const struct table_builder *b)
{
    return b->props.smallest_seq;
}

uint64_t table_builder_largest_seq(const struct table_builder *b)
{
    return b->props.largest_seq;
}

int table_key_is_sentinel(struct slice ikey)
{
    return ikey.n >= IKEY_TRAILER && ikey_trailer(ikey) == ikey_pack_trailer(SEQ_MAX, TYPE_SEEK);
}
