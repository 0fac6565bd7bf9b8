/* table_reader.c — opens tables, point lookups and two-level iterators (see
 * table_reader.h and docs/format-sstable.md). */
#include "table_reader.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "block.h"
#include "block_cache.h"
#include "bloom.h"
#include "crc32c.h"
#include "dbformat.h"
#include "range_del.h"

struct table {
    struct env_file *f;
    char *path;
    uint64_t size, number;
    struct table_options opt;
    uint64_t data_end; /* first byte after the data blocks */

    struct block *index;
    struct block *rdel_block; /* NULL when the table has no tombstones */
    struct block *props_block;
    uint8_t *filter; /* NULL when there is no filter */
    size_t filter_n;
    struct rdel_set *rdels;
    struct table_props props;

    _Atomic uint64_t bloom_checks, bloom_useful, bloom_fp;
    _Atomic int stored_plain; /* the last block read was stored uncompressed */
};

/* ======================================================================
 * private: errors, zstd contexts, block reads
 * ====================================================================== */

/* Every corruption is born here, so a breakpoint on this function stops
 * where the bad byte was found. */
static int table_fail(const struct table *t, int err, const char *fmt, ...)
{
    if (!t->opt.log) return err;
    char msg[512];
    int n = snprintf(msg, sizeof(msg), "table %s: ", t->path ? t->path : "?");
    if (n < 0 || (size_t)n >= sizeof(msg)) n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    t->opt.log(t->opt.log_arg, LSMER_LOG_ERROR, msg);
    return err;
}

/* zstd decompression contexts are not thread-safe and cost ~100 KiB each:
 * keep a few for the whole process instead of one per table or per call. */
#define DCTX_POOL 4
static pthread_mutex_t dctx_mu = PTHREAD_MUTEX_INITIALIZER;
static ZSTD_DCtx *dctx_pool[DCTX_POOL]; /* dctx_mu */
static int dctx_count;                  /* dctx_mu */

static ZSTD_DCtx *dctx_get(void)
{
    ZSTD_DCtx *d = NULL;
    pthread_mutex_lock(&dctx_mu);
    if (dctx_count) d = dctx_pool[--dctx_count];
    pthread_mutex_unlock(&dctx_mu);
    return d ? d : ZSTD_createDCtx();
}

static void dctx_put(ZSTD_DCtx *d)
{
    pthread_mutex_lock(&dctx_mu);
    if (dctx_count < DCTX_POOL) {
        dctx_pool[dctx_count++] = d;
        d = NULL;
    }
    pthread_mutex_unlock(&dctx_mu);
    ZSTD_freeDCtx(d);
}

/* Compressed bytes are read into a buffer of the calling thread's that is
 * kept for its next block read (freed when the thread exits), so a block
 * read allocates only what it keeps. Blocks above SCRATCH_MAX (a huge
 * value) get a buffer of their own. */
#define SCRATCH_MAX (256u << 10)
struct scratch {
    size_t cap;
    uint8_t data[];
};
static pthread_key_t scratch_key;
static int scratch_key_ok;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_init(void)
{
    scratch_key_ok = pthread_key_create(&scratch_key, free) == 0;
}

/* A buffer of n bytes: the thread's own (*owned = 0) or a fresh one the
 * caller frees (*owned = 1). NULL on ENOMEM. */
static uint8_t *scratch_get(size_t n, int *owned)
{
    *owned = 1;
    pthread_once(&scratch_once, scratch_init);
    if (n > SCRATCH_MAX || !scratch_key_ok) return malloc(n ? n : 1);
    struct scratch *sc = pthread_getspecific(scratch_key);
    if (!sc || sc->cap < n) {
        size_t cap = n < (16u << 10) ? 16u << 10 : n;
        struct scratch *bigger = malloc(sizeof(*bigger) + cap);
        if (!bigger) return NULL;
        if (pthread_setspecific(scratch_key, bigger)) {
            free(bigger);
            return malloc(n ? n : 1);
        }
        free(sc);
        bigger->cap = cap;
        sc = bigger;
    }
    *owned = 0;
    return sc->data;
}

/* Reads the block at h, checking its place in the file and its crc, into
 * one malloc'd allocation: lead bytes for the caller (a struct block's
 * header) and then the block's (decompressed) contents, which start at
 * *out + lead and are *n bytes long. */
static int read_block(struct table *t, struct block_handle h, const char *what, size_t lead,
                      uint8_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    uint64_t limit = t->size - TABLE_FOOTER_SIZE;
    if (h.offset > limit || h.size > limit - h.offset ||
        BLOCK_TRAILER_SIZE > limit - h.offset - h.size || h.size > BLOCK_MAX_RAW) {
        return table_fail(t, -LSMER_ECORRUPT,
                          "%s block handle (offset %" PRIu64 ", size %" PRIu64 ") outside the file",
                          what, h.offset, h.size);
    }
    /* A block stored uncompressed is read straight into the allocation it
     * is kept in, a compressed one into the scratch buffer and decompressed
     * from there. Which it is shows only in its trailer: guess from the last
     * block read from this table (a table is written with one setting; zstd
     * leaves only blocks it cannot shrink uncompressed). A wrong guess costs
     * a copy, never a wrong result. */
    size_t len = (size_t)h.size + BLOCK_TRAILER_SIZE, got = 0;
    int scratch_owned = 0;
    uint8_t *mem = NULL, *buf;
    if (atomic_load_explicit(&t->stored_plain, memory_order_relaxed)) {
        mem = malloc(lead + len);
        buf = mem ? mem + lead : NULL;
    } else {
        buf = scratch_get(len, &scratch_owned);
    }
    if (!buf) return -ENOMEM;
    int rc = env_pread(t->f, buf, len, h.offset, &got);
    if (rc) {
        table_fail(t, rc, "%s block at %" PRIu64 ": read error %d", what, h.offset, rc);
        goto out;
    }
    if (got != len) {
        rc = table_fail(t, -LSMER_ECORRUPT, "%s block at %" PRIu64 ": file truncated", what,
                        h.offset);
        goto out;
    }
    uint8_t type = buf[h.size];
    atomic_store_explicit(&t->stored_plain, type == BLOCK_TYPE_NONE, memory_order_relaxed);
    if (t->opt.verify_checksums) {
        uint32_t want = crc32c_unmask(get_fixed32(buf + h.size + 1));
        if (crc32c(buf, (size_t)h.size + 1) != want) {
            rc = table_fail(t, -LSMER_ECORRUPT, "%s block at %" PRIu64 ": checksum mismatch", what,
                            h.offset);
            goto out;
        }
    }
    if (type == BLOCK_TYPE_NONE) {
        if (!mem) {
            /* read into the scratch buffer: copy it out */
            if (!(mem = malloc(lead + (size_t)h.size + 1))) {
                rc = -ENOMEM;
                goto out;
            }
            memcpy(mem + lead, buf, (size_t)h.size);
        }
        *out = mem;
        *n = (size_t)h.size;
        mem = NULL;
        goto out;
    }
    if (type != BLOCK_TYPE_ZSTD) {
        rc = table_fail(t, -LSMER_ECORRUPT, "%s block at %" PRIu64 ": unknown block type %u", what,
                        h.offset, type);
        goto out;
    }
    unsigned long long rawn = ZSTD_getFrameContentSize(buf, (size_t)h.size);
    if (rawn == ZSTD_CONTENTSIZE_UNKNOWN || rawn == ZSTD_CONTENTSIZE_ERROR ||
        rawn > BLOCK_MAX_RAW) {
        rc = table_fail(t, -LSMER_ECORRUPT, "%s block at %" PRIu64 ": bad zstd frame header", what,
                        h.offset);
        goto out;
    }
    uint8_t *raw = malloc(lead + (size_t)rawn + 1);
    ZSTD_DCtx *d = raw ? dctx_get() : NULL;
    if (!d) {
        free(raw);
        rc = -ENOMEM;
        goto out;
    }
    size_t r = ZSTD_decompressDCtx(d, raw + lead, (size_t)rawn, buf, (size_t)h.size);
    dctx_put(d);
    if (ZSTD_isError(r) || r != rawn) {
        free(raw);
        rc = table_fail(t, -LSMER_ECORRUPT, "%s block at %" PRIu64 ": zstd: %s", what, h.offset,
                        ZSTD_isError(r) ? ZSTD_getErrorName(r) : "short output");
        goto out;
    }
    *out = raw;
    *n = (size_t)rawn;
out:
    if (mem) {
        free(mem);
    } else if (scratch_owned) {
        free(buf);
    }
    return rc;
}

/* lead: bytes before the contents, at least BLOCK_INLINE_LEAD (more leaves
 * room for a cache handle after the block header). */
static int read_block_parsed(struct table *t, struct block_handle h, const char *what, size_t lead,
                             struct block **out)
{
    uint8_t *p;
    size_t n;
    *out = NULL;
    int rc = read_block(t, h, what, lead, &p, &n);
    if (rc) return rc;
    struct block *b = block_new_inline(p, lead, n);
    if (b->err) {
        block_free(b);
        return table_fail(t, -LSMER_ECORRUPT, "%s block at %" PRIu64 ": bad restart array", what,
                          h.offset);
    }
    *out = b;
    return 0;
}

static void block_deleter(void *p)
{
    block_free(p);
}

/* A data block, through the cache when there is one: a cached copy is used
 * if present, and a block read from the file is added to the cache when
 * fill is set. *ch is the handle to release, or NULL when the caller owns
 * *out. */
static int data_block_get(struct table *t, struct block_handle h, int fill, struct block **out,
                          struct cache_handle **ch)
{
    *ch = NULL;
    struct block_cache *c = t->opt.cache;
    if (c && (*ch = block_cache_lookup(c, t->number, h.offset))) {
        *out = cache_handle_value(*ch);
        return 0;
    }
    if (!c || !fill) return read_block_parsed(t, h, "data", BLOCK_INLINE_LEAD, out);
    /* The cache's handle shares the block's allocation. */
    int rc = read_block_parsed(t, h, "data", BLOCK_INLINE_LEAD + BLOCK_CACHE_HANDLE_SIZE, out);
    if (rc) return rc;
    *ch = block_cache_insert_at(c, (uint8_t *)*out + BLOCK_INLINE_LEAD, t->number, h.offset, *out,
                                block_memory(*out) + BLOCK_CACHE_HANDLE_SIZE, block_deleter);
    return 0;
}

static void data_block_put(struct table *t, struct block *b, struct cache_handle *ch)
{
    if (ch)
        block_cache_release(t->opt.cache, ch);
    else
        block_free(b);
}

/* ======================================================================
 * private: the two-level iterator (index block -> data blocks)
 * ====================================================================== */

/* A scan adds the first this many data blocks of a run (the block it
 * sought included) to the cache and no more (it still uses cached ones): a
 * long scan reads each block once, and caching them would only evict the
 * blocks point reads and short range reads come back to (and cost an
 * insert and an eviction per block). A seek starts a new run; a seek that
 * lands in the block the iterator holds keeps it as it is, cached or not. */
#define TABLE_SCAN_CACHED_BLOCKS 8

struct table_iter {
    struct iter base;
    struct table *t;
    struct block_iter index;
    struct block_iter data; /* meaningful when blk != NULL */
    struct block *blk;
    struct cache_handle *ch;
    uint64_t blk_off;
    unsigned run; /* data blocks loaded by stepping since the last seek */
    int status;
    void (*on_destroy)(void *a, void *b); /* table_iter_owned */
    void *on_destroy_a, *on_destroy_b;
};

/* Keeps it->data's key buffer for the next block: a scan crosses blocks
 * often and need not reallocate it each time. */
static void ti_drop_block(struct table_iter *it)
{
    if (!it->blk) return;
    it->data.b = NULL;
    data_block_put(it->t, it->blk, it->ch);
    it->blk = NULL;
    it->ch = NULL;
}

/* Loads the data block the index iterator points at; stepping: reached
 * by next/prev from the block before, not by a seek. */
static int ti_load(struct table_iter *it, int stepping)
{
    it->run = stepping ? it->run + 1 : 0;
    struct slice v = block_iter_value(&it->index);
    struct block_handle h;
    if (block_handle_decode(v.p, v.p + v.n, &h) != v.p + v.n) {
        ti_drop_block(it);
        it->status = table_fail(it->t, -LSMER_ECORRUPT, "bad block handle in index");
        return it->status;
    }
    if (it->blk && it->blk_off == h.offset && !it->data.status) return 0;
    ti_drop_block(it);
    struct block *b;
    struct cache_handle *ch;
    int rc = data_block_get(it->t, h, it->run < TABLE_SCAN_CACHED_BLOCKS, &b, &ch);
    if (rc) {
        it->status = rc;
        return rc;
    }
    it->blk = b;
    it->ch = ch;
    it->blk_off = h.offset;
    struct buffer key = it->data.key;
    block_iter_init(&it->data, b, ikey_compare_raw);
    it->data.key = key;
    it->data.key.n = 0;
    return 0;
}

static int ti_valid(const struct iter *base)
{
    const struct table_iter *it = (const struct table_iter *)base;
    return !it->status && it->blk && block_iter_valid(&it->data);
}

/* Moves past exhausted data blocks towards the end. */
static void ti_skip_forward(struct table_iter *it)
{
    for (;;) {
        if (it->status) return;
        if (it->blk) {
            if (block_iter_valid(&it->data)) return;
            if (it->data.status) {
                it->status = it->data.status;
                return;
            }
        }
        if (!block_iter_valid(&it->index)) break;
        block_iter_next(&it->index);
        if (!block_iter_valid(&it->index)) break;
        if (ti_load(it, 1)) return;
        block_iter_seek_first(&it->data);
    }
    ti_drop_block(it);
}

static void ti_skip_backward(struct table_iter *it)
{
    for (;;) {
        if (it->status) return;
        if (it->blk) {
            if (block_iter_valid(&it->data)) return;
            if (it->data.status) {
                it->status = it->data.status;
                return;
            }
        }
        if (!block_iter_valid(&it->index)) break;
        block_iter_prev(&it->index);
        if (!block_iter_valid(&it->index)) break;
        if (ti_load(it, 1)) return;
        block_iter_seek_last(&it->data);
    }
    ti_drop_block(it);
}

static void ti_seek(struct iter *base, struct slice target)
{
    struct table_iter *it = (struct table_iter *)base;
    it->status = 0;
    block_iter_seek(&it->index, target);
    if (!block_iter_valid(&it->index)) {
        ti_drop_block(it);
        return;
    }
    if (ti_load(it, 0)) return;
    block_iter_seek(&it->data, target);
    ti_skip_forward(it);
}

static void ti_seek_first(struct iter *base)
{
    struct table_iter *it = (struct table_iter *)base;
    it->status = 0;
    block_iter_seek_first(&it->index);
    if (!block_iter_valid(&it->index)) {
        ti_drop_block(it);
        return;
    }
    if (ti_load(it, 0)) return;
    block_iter_seek_first(&it->data);
    ti_skip_forward(it);
}

static void ti_seek_last(struct iter *base)
{
    struct table_iter *it = (struct table_iter *)base;
    it->status = 0;
    block_iter_seek_last(&it->index);
    if (!block_iter_valid(&it->index)) {
        ti_drop_block(it);
        return;
    }
    if (ti_load(it, 0)) return;
    block_iter_seek_last(&it->data);
    ti_skip_backward(it);
}

static void ti_next(struct iter *base)
{
    struct table_iter *it = (struct table_iter *)base;
    if (!ti_valid(base)) return;
    block_iter_next(&it->data);
    ti_skip_forward(it);
}

static void ti_prev(struct iter *base)
{
    struct table_iter *it = (struct table_iter *)base;
    if (!ti_valid(base)) return;
    block_iter_prev(&it->data);
    ti_skip_backward(it);
}

static struct slice ti_key(const struct iter *base)
{
    return block_iter_key(&((const struct table_iter *)base)->data);
}

static struct slice ti_value(const struct iter *base)
{
    return block_iter_value(&((const struct table_iter *)base)->data);
}

static int ti_status(const struct iter *base)
{
    const struct table_iter *it = (const struct table_iter *)base;
    if (it->status) return it->status;
    if (it->index.status) return it->index.status;
    return it->blk ? it->data.status : 0;
}

static void ti_cleanup(struct table_iter *it)
{
    ti_drop_block(it);
    block_iter_cleanup(&it->data);
    block_iter_cleanup(&it->index);
}

static void ti_destroy(struct iter *base)
{
    struct table_iter *it = (struct table_iter *)base;
    ti_cleanup(it); /* lets go of the table before its owner may close it */
    if (it->on_destroy) it->on_destroy(it->on_destroy_a, it->on_destroy_b);
    free(it);
}

static const struct iter_ops table_iter_ops = {
    ti_valid, ti_seek_first, ti_seek_last, ti_seek,   ti_next,
    ti_prev,  ti_key,        ti_value,     ti_status, ti_destroy,
};

static void ti_init(struct table_iter *it, struct table *t)
{
    memset(it, 0, sizeof(*it));
    it->base.ops = &table_iter_ops;
    it->t = t;
    block_iter_init(&it->index, t->index, ikey_compare_raw);
}

/* ======================================================================
 * private: open
 * ====================================================================== */

static int parse_footer(struct table *t, struct block_handle *hs)
{
    uint8_t f[TABLE_FOOTER_SIZE];
    size_t got = 0;
    if (t->size < TABLE_FOOTER_SIZE)
        return table_fail(t, -LSMER_ECORRUPT, "file of %" PRIu64 " bytes is too short", t->size);
    int rc = env_pread(t->f, f, sizeof(f), t->size - TABLE_FOOTER_SIZE, &got);
    if (rc) return table_fail(t, rc, "footer: read error %d", rc);
    if (got != sizeof(f)) return table_fail(t, -LSMER_ECORRUPT, "footer: file truncated");
    if (get_fixed64(f + FOOTER_MAGIC_OFF) != TABLE_MAGIC)
        return table_fail(t, -LSMER_ECORRUPT, "bad magic number (not a table)");
    uint32_t crc = crc32c(f, FOOTER_CRC_OFF);
    crc = crc32c_extend(crc, f + FOOTER_MAGIC_OFF, TABLE_FOOTER_SIZE - FOOTER_MAGIC_OFF);
    if (crc != crc32c_unmask(get_fixed32(f + FOOTER_CRC_OFF)))
        return table_fail(t, -LSMER_ECORRUPT, "footer checksum mismatch");
    uint32_t version = get_fixed32(f + FOOTER_VERSION_OFF);
    if (version > TABLE_FORMAT_VERSION)
        return table_fail(t, -EPROTO, "format version %u is newer than this build reads (%u)",
                          version, TABLE_FORMAT_VERSION);
    if (version == 0) return table_fail(t, -LSMER_ECORRUPT, "format version 0");
    for (int i = 0; i < FOOTER_NSLOTS; i++) {
        hs[i].offset = get_fixed64(f + 16 * i);
        hs[i].size = get_fixed64(f + 16 * i + 8);
    }
    return 0;
}

static int prop_number(struct slice v, uint64_t *out)
{
    return get_varint64(v.p, v.p + v.n, out) == v.p + v.n ? 0 : -LSMER_ECORRUPT;
}

static int parse_props(struct table *t)
{
    struct table_props *p = &t->props;
    static const struct {
        const char *name;
        size_t off;
    } nums[] = {
        {PROP_COMPRESSION, offsetof(struct table_props, compression)},
        {PROP_DATA_BLOCKS, offsetof(struct table_props, data_blocks)},
        {PROP_DATA_BYTES, offsetof(struct table_props, data_bytes)},
        {PROP_ENTRIES, offsetof(struct table_props, entries)},
        {PROP_DELETIONS, offsetof(struct table_props, deletions)},
        {PROP_RANGE_DELS, offsetof(struct table_props, range_deletions)},
        {PROP_FILTER_BITS, offsetof(struct table_props, filter_bits_per_key)},
        {PROP_RAW_KEY_BYTES, offsetof(struct table_props, raw_key_bytes)},
        {PROP_RAW_VALUE_BYTES, offsetof(struct table_props, raw_value_bytes)},
        {PROP_LARGEST_SEQ, offsetof(struct table_props, largest_seq)},
        {PROP_SMALLEST_SEQ, offsetof(struct table_props, smallest_seq)},
    };
    struct block_iter it;
    int rc = 0;
    block_iter_init(&it, t->props_block, bytewise_compare_raw);
    for (block_iter_seek_first(&it); block_iter_valid(&it); block_iter_next(&it)) {
        struct slice k = block_iter_key(&it), v = block_iter_value(&it);
        struct slice *key = NULL;
        if (!slice_compare(k, slice_make(PROP_SMALLEST_KEY, strlen(PROP_SMALLEST_KEY))))
            key = &p->smallest_key;
        else if (!slice_compare(k, slice_make(PROP_LARGEST_KEY, strlen(PROP_LARGEST_KEY))))
            key = &p->largest_key;
        if (key) {
            if (v.n && !ikey_valid(v)) rc = -LSMER_ECORRUPT;
            *key = v;
        }
        for (size_t i = 0; !key && i < sizeof(nums) / sizeof(nums[0]); i++) {
            if (slice_compare(k, slice_make(nums[i].name, strlen(nums[i].name)))) continue;
            rc = prop_number(v, (uint64_t *)((char *)p + nums[i].off));
            break;
        }
        if (rc) break;
    }
    if (!rc) rc = iter_status(&it.base);
    block_iter_cleanup(&it);
    if (rc) return table_fail(t, rc, "properties block does not parse");
    return 0;
}

/* Checks every tombstone and builds the fragmented set. */
static int load_range_dels(struct table *t)
{
    if (!(t->rdels = rdel_new())) return -ENOMEM;
    if (!t->rdel_block) return 0;
    struct block_iter it;
    int rc = 0;
    struct buffer prev = BUFFER_INIT;
    block_iter_init(&it, t->rdel_block, ikey_compare_raw);
    for (block_iter_seek_first(&it); block_iter_valid(&it) && !rc; block_iter_next(&it)) {
        struct slice k = block_iter_key(&it);
        if (!ikey_valid(k) || ikey_type(k) != TYPE_RANGE_DELETE ||
            (prev.n && ikey_compare(buffer_slice(&prev), k) > 0)) {
            rc = table_fail(t, -LSMER_ECORRUPT, "range-deletion block: bad key");
            break;
        }
        if ((rc = buffer_set(&prev, k.p, k.n))) break;
        rc = rdel_add(t->rdels, ikey_user(k), block_iter_value(&it), ikey_seq(k));
    }
    if (!rc && (rc = iter_status(&it.base)))
        table_fail(t, rc, "range-deletion block does not parse");
    block_iter_cleanup(&it);
    buffer_free(&prev);
    return rc;
}

/* ======================================================================
 * API
 * ====================================================================== */

int table_open(struct env_file *f, const char *path_for_errors, uint64_t file_size,
               uint64_t file_number, const struct table_options *opt, struct table **out)
{
    *out = NULL;
    struct table *t = calloc(1, sizeof(*t));
    if (!t) return -ENOMEM;
    t->f = f;
    t->size = file_size;
    t->number = file_number;
    t->opt = *opt;
    t->path = strdup(path_for_errors ? path_for_errors : "?");
    struct block_handle hs[FOOTER_NSLOTS];
    int rc = -ENOMEM;
    if (!t->path) goto out;
    if ((rc = parse_footer(t, hs))) goto out;
    if ((rc = read_block_parsed(t, hs[FOOTER_INDEX], "index", BLOCK_INLINE_LEAD, &t->index)))
        goto out;
    if ((rc = read_block_parsed(t, hs[FOOTER_PROPS], "properties", BLOCK_INLINE_LEAD,
                                &t->props_block)))
        goto out;
    if ((rc = parse_props(t))) goto out;
    t->props.format_version = TABLE_FORMAT_VERSION;
    t->data_end = hs[FOOTER_PROPS].offset;
    if (hs[FOOTER_RANGE_DEL].size || hs[FOOTER_RANGE_DEL].offset) {
        rc = read_block_parsed(t, hs[FOOTER_RANGE_DEL], "range-deletion", BLOCK_INLINE_LEAD,
                               &t->rdel_block);
        if (rc) goto out;
        t->data_end = hs[FOOTER_RANGE_DEL].offset;
    }
    if (hs[FOOTER_FILTER].size || hs[FOOTER_FILTER].offset) {
        rc = read_block(t, hs[FOOTER_FILTER], "filter", 0, &t->filter, &t->filter_n);
        if (rc) goto out;
        t->data_end = hs[FOOTER_FILTER].offset;
    }
    if ((rc = load_range_dels(t))) goto out;
    *out = t;
out:
    if (rc) table_close(t);
    return rc;
}

void table_close(struct table *t)
{
    if (!t) return;
    block_free(t->index);
    block_free(t->rdel_block);
    block_free(t->props_block);
    free(t->filter);
    if (t->rdels) rdel_free(t->rdels);
    free(t->path);
    free(t);
}

int table_get(struct table *t, struct slice lookup, struct buffer *ikey_out,
              struct buffer *value_out)
{
    if (lookup.n < IKEY_TRAILER) return -EINVAL;
    struct slice uk = ikey_user(lookup);
    int consulted = 0;
    if (t->filter) {
        struct table_bloom_counters *db = t->opt.bloom_counters;
        atomic_fetch_add_explicit(&t->bloom_checks, 1, memory_order_relaxed);
        if (db) atomic_fetch_add_explicit(&db->checks, 1, memory_order_relaxed);
        if (!bloom_may_match(slice_make(t->filter, t->filter_n), bloom_hash(uk))) {
            atomic_fetch_add_explicit(&t->bloom_useful, 1, memory_order_relaxed);
            if (db) atomic_fetch_add_explicit(&db->useful, 1, memory_order_relaxed);
            return 0;
        }
        consulted = 1;
    }
    struct table_iter it;
    ti_init(&it, t);
    ti_seek(&it.base, lookup);
    int rc = 0;
    if (ti_valid(&it.base)) {
        struct slice k = ti_key(&it.base), v = ti_value(&it.base);
        if (!slice_compare(ikey_user(k), uk)) {
            rc = 1;
            if (ikey_out && (rc = buffer_set(ikey_out, k.p, k.n))) goto out;
            if (value_out && (rc = buffer_set(value_out, v.p, v.n))) goto out;
            rc = 1;
        }
    } else {
        rc = ti_status(&it.base);
    }
    if (rc == 0 && consulted) {
        /* A miss may still be a key whose versions are all newer than the
         * lookup's snapshot: that is not the filter's fault. */
        struct buffer first = BUFFER_INIT;
        if (ikey_append(&first, uk.p, uk.n, SEQ_MAX, TYPE_SEEK) == 0) {
            ti_seek(&it.base, buffer_slice(&first));
            int exists = ti_valid(&it.base) && !slice_compare(ikey_user(ti_key(&it.base)), uk);
            if (!exists && !ti_status(&it.base)) {
                atomic_fetch_add_explicit(&t->bloom_fp, 1, memory_order_relaxed);
                if (t->opt.bloom_counters)
                    atomic_fetch_add_explicit(&t->opt.bloom_counters->false_positives, 1,
                                              memory_order_relaxed);
            }
        }
        buffer_free(&first);
    }
out:
    ti_cleanup(&it);
    return rc;
}

struct iter *table_iter(struct table *t)
{
    return table_iter_owned(t, NULL, NULL, NULL);
}

struct iter *table_iter_owned(struct table *t, void (*on_destroy)(void *a, void *b), void *a,
                              void *b)
{
    struct table_iter *it = malloc(sizeof(*it));
    if (!it) {
        if (on_destroy) on_destroy(a, b);
        return iter_new_empty(-ENOMEM);
    }
    ti_init(it, t);
    it->on_destroy = on_destroy;
    it->on_destroy_a = a;
    it->on_destroy_b = b;
    return &it->base;
}

struct iter *table_range_del_iter(struct table *t)
{
    if (!t->rdel_block) return iter_new_empty(0);
    return block_iter_new(t->rdel_block, ikey_compare_raw);
}

const struct rdel_set *table_range_dels(const struct table *t)
{
    return t->rdels;
}

const struct table_props *table_props(const struct table *t)
{
    return &t->props;
}

uint64_t table_file_number(const struct table *t)
{
    return t->number;
}

uint64_t table_file_size(const struct table *t)
{
    return t->size;
}

size_t table_memory(const struct table *t)
{
    size_t n = sizeof(*t) + block_memory(t->index) + block_memory(t->props_block) + t->filter_n;
    if (t->rdel_block) n += block_memory(t->rdel_block);
    if (t->rdels) n += rdel_memory(t->rdels);
    return n;
}

uint64_t table_approximate_offset(struct table *t, struct slice ikey)
{
    struct block_iter it;
    uint64_t off = t->data_end;
    block_iter_init(&it, t->index, ikey_compare_raw);
    block_iter_seek(&it, ikey);
    if (block_iter_valid(&it)) {
        struct slice v = block_iter_value(&it);
        struct block_handle h;
        if (block_handle_decode(v.p, v.p + v.n, &h) && h.offset < off) off = h.offset;
    }
    block_iter_cleanup(&it);
    return off;
}

void table_bloom_stats(const struct table *t, struct table_bloom_stats *out)
{
    struct table *m = (struct table *)t; /* atomics are only read */
    out->checks = atomic_load_explicit(&m->bloom_checks, memory_order_relaxed);
    out->useful = atomic_load_explicit(&m->bloom_useful, memory_order_relaxed);
    out->false_positives = atomic_load_explicit(&m->bloom_fp, memory_order_relaxed);
}
