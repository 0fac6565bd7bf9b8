/* test_table.c — tables end to end: 100k random entries written and read
 * back against a sorted model (with and without zstd, several block sizes,
 * with and without a cache): scans both ways, seeks, gets of present and
 * absent keys, bloom counters; range tombstones and the key extent; footer
 * versions; IO errors; and a sweep that damages every byte of a small table
 * in turn: open, scans and gets must fail with -LSMER_ECORRUPT, never return
 * other data.
 *
 * Tables live in an in-memory file (mem_file below) so the sweep is fast and
 * can count appends and inject read errors; one test goes through the POSIX
 * env. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "block_cache.h"
#include "crc32c.h"
#include "dbformat.h"
#include "env.h"
#include "range_del.h"
#include "table_builder.h"
#include "table_format.h"
#include "table_reader.h"
#include "testutil.h"

static struct rng rng;

/* ---- an in-memory file --------------------------------------------------- */

struct mem_file {
    struct env_file base;
    struct buffer *data;
    int appends;
    int fail_reads_after; /* < 0: never; else reads after this many fail */
    int fail_appends;
};

static int mem_pread(struct env_file *f, void *buf, size_t n, uint64_t off, size_t *got)
{
    struct mem_file *m = (struct mem_file *)f;
    if (m->fail_reads_after == 0) return -EIO;
    if (m->fail_reads_after > 0) m->fail_reads_after--;
    *got = 0;
    if (off >= m->data->n) return 0;
    size_t k = m->data->n - off < n ? m->data->n - (size_t)off : n;
    memcpy(buf, m->data->p + off, k);
    *got = k;
    return 0;
}

static int mem_append(struct env_file *f, const void *buf, size_t n)
{
    struct mem_file *m = (struct mem_file *)f;
    if (m->fail_appends) return -EIO;
    m->appends++;
    return buffer_append(m->data, buf, n);
}

static int mem_size(struct env_file *f, uint64_t *out)
{
    *out = ((struct mem_file *)f)->data->n;
    return 0;
}

static const struct env_ops mem_ops = {.pread = mem_pread, .append = mem_append, .size = mem_size};
static struct lsmer_env mem_env = {&mem_ops};

static void mem_init(struct mem_file *m, struct buffer *data)
{
    memset(m, 0, sizeof(*m));
    m->base.env = &mem_env;
    m->data = data;
    m->fail_reads_after = -1;
}

/* ---- the model --------------------------------------------------------- */

struct ent {
    struct buffer k, v; /* internal key, value */
};

static int ent_cmp(const void *a, const void *b)
{
    return ikey_compare(buffer_slice(&((const struct ent *)a)->k),
                        buffer_slice(&((const struct ent *)b)->k));
}

/* n entries: user keys with shared prefixes, 1-3 versions each, some
 * deletes, values partly compressible. */
static struct ent *make_entries(size_t n, size_t *out_n)
{
    struct ent *e = calloc(n, sizeof(*e));
    assert_non_null(e);
    size_t i = 0;
    while (i < n) {
        uint8_t uk[32];
        size_t ul = 1 + rng_uniform(&rng, 6);
        for (size_t j = 0; j < ul; j++) uk[j] = (uint8_t)('a' + rng_uniform(&rng, 26));
        ul += 8;
        put_be64(uk + ul - 8, rng_next(&rng) % 100000000);
        int versions = 1 + (int)rng_uniform(&rng, 3);
        uint64_t seq = 1 + rng_uniform(&rng, 1000000);
        for (int v = 0; v < versions && i < n; v++, i++) {
            int type = rng_one_in(&rng, 8) ? TYPE_DELETE : TYPE_VALUE;
            assert_int_equal(ikey_append(&e[i].k, uk, ul, seq + (uint64_t)v * 7, type), 0);
            size_t vl = type == TYPE_DELETE ? 0 : rng_uniform(&rng, 120);
            buffer_reserve(&e[i].v, vl + 1);
            if (rng_one_in(&rng, 2))
                memset(e[i].v.p, 'x', vl);
            else
                rng_bytes(&rng, e[i].v.p, vl);
            e[i].v.n = vl;
        }
    }
    qsort(e, n, sizeof(*e), ent_cmp);
    size_t w = 0;
    for (size_t r = 0; r < n; r++) {
        if (w && ent_cmp(&e[w - 1], &e[r]) == 0) {
            buffer_free(&e[r].k);
            buffer_free(&e[r].v);
            continue;
        }
        e[w++] = e[r];
    }
    *out_n = w;
    return e;
}

static void free_entries(struct ent *e, size_t n)
{
    for (size_t i = 0; i < n; i++) buffer_free(&e[i].k), buffer_free(&e[i].v);
    free(e);
}

struct tombstone {
    const char *start, *end;
    uint64_t seq;
};

static void build(struct buffer *file, const struct table_options *opt, const struct ent *e,
                  size_t n, const struct tombstone *t, size_t nt)
{
    struct mem_file f;
    mem_init(&f, file);
    struct table_builder *b;
    assert_int_equal(table_builder_new(&f.base, opt, &b), 0);
    assert_true(table_builder_empty(b));
    for (size_t i = 0; i < nt; i++)
        assert_int_equal(table_builder_add_range_del(b, slice_make(t[i].start, strlen(t[i].start)),
                                                     slice_make(t[i].end, strlen(t[i].end)),
                                                     t[i].seq),
                         0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(table_builder_add(b, buffer_slice(&e[i].k), buffer_slice(&e[i].v)), 0);
    assert_int_equal(table_builder_entries(b), n);
    if (n && !nt) {
        assert_int_equal(ikey_compare(table_builder_smallest(b), buffer_slice(&e[0].k)), 0);
        assert_int_equal(ikey_compare(table_builder_largest(b), buffer_slice(&e[n - 1].k)), 0);
    }
    assert_int_equal(table_builder_finish(b), 0);
    assert_int_equal(table_builder_file_size(b), file->n);
    /* written in large chunks, not block by block */
    assert_true((size_t)f.appends <= file->n / TABLE_WRITE_CHUNK + 2);
    table_builder_free(b);
}

static struct table *open_mem(struct mem_file *f, const struct table_options *opt, uint64_t number,
                              int *rc)
{
    struct table *t = NULL;
    *rc = table_open(&f->base, "mem.sst", f->data->n, number, opt, &t);
    return t;
}

static size_t lower_bound(const struct ent *e, size_t n, struct slice k)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ikey_compare(buffer_slice(&e[mid].k), k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void expect_at(struct iter *it, const struct ent *e, size_t n, size_t i)
{
    if (i >= n) {
        assert_false(iter_valid(it));
        assert_int_equal(iter_status(it), 0);
        return;
    }
    assert_true(iter_valid(it));
    struct slice k = iter_key(it), v = iter_value(it);
    assert_int_equal(k.n, e[i].k.n);
    assert_memory_equal(k.p, e[i].k.p, k.n);
    assert_int_equal(v.n, e[i].v.n);
    if (v.n) assert_memory_equal(v.p, e[i].v.p, v.n);
}

/* Everything a reader can do, checked against the model. */
static void check_table(struct table *t, const struct ent *e, size_t n, int full_gets)
{
    const struct table_props *p = table_props(t);
    assert_int_equal(p->entries, n);
    uint64_t dels = 0, kb = 0, vb = 0;
    for (size_t i = 0; i < n; i++) {
        dels += ikey_type(buffer_slice(&e[i].k)) == TYPE_DELETE;
        kb += e[i].k.n;
        vb += e[i].v.n;
    }
    assert_int_equal(p->deletions, dels);
    assert_int_equal(p->raw_key_bytes, kb);
    assert_int_equal(p->raw_value_bytes, vb);

    struct iter *it = table_iter(t);
    size_t i = 0;
    for (iter_seek_first(it); i < n; iter_next(it), i++) expect_at(it, e, n, i);
    expect_at(it, e, n, n);
    i = n;
    for (iter_seek_last(it); i-- > 0; iter_prev(it)) expect_at(it, e, n, i);
    expect_at(it, e, n, n);
    for (int r = 0; r < 2000; r++) {
        struct buffer target = BUFFER_INIT;
        size_t j = rng_uniform(&rng, n + 1);
        if (j < n && rng_one_in(&rng, 2)) {
            buffer_set(&target, e[j].k.p, e[j].k.n);
        } else {
            uint8_t uk[16];
            size_t ul = 1 + rng_uniform(&rng, sizeof(uk));
            for (size_t q = 0; q < ul; q++) uk[q] = (uint8_t)('a' + rng_uniform(&rng, 27));
            ikey_append(&target, uk, ul, rng_uniform(&rng, 2000000), TYPE_SEEK);
        }
        iter_seek(it, buffer_slice(&target));
        size_t pos = lower_bound(e, n, buffer_slice(&target));
        expect_at(it, e, n, pos);
        for (int s = 0; s < 6 && pos < n; s++) {
            if (rng_one_in(&rng, 2)) {
                iter_next(it);
                pos++;
            } else {
                iter_prev(it);
                pos = pos ? pos - 1 : n;
            }
            expect_at(it, e, n, pos);
        }
        buffer_free(&target);
    }
    iter_destroy(it);

    /* gets: a random snapshot of a present key finds what a seek finds */
    struct buffer k = BUFFER_INIT, v = BUFFER_INIT, lk = BUFFER_INIT;
    size_t gets = full_gets ? n : (n < 3000 ? n : 3000);
    for (size_t g = 0; g < gets; g++) {
        size_t j = full_gets ? g : rng_uniform(&rng, n);
        struct slice ik = buffer_slice(&e[j].k), uk = ikey_user(ik);
        uint64_t snap = rng_one_in(&rng, 2) ? ikey_seq(ik) : rng_uniform(&rng, 1100000);
        lk.n = 0;
        ikey_append(&lk, uk.p, uk.n, snap, TYPE_SEEK);
        size_t pos = lower_bound(e, n, buffer_slice(&lk));
        int want = pos < n && !slice_compare(ikey_user(buffer_slice(&e[pos].k)), uk);
        int rc = table_get(t, buffer_slice(&lk), &k, &v);
        assert_int_equal(rc, want);
        if (want) {
            assert_int_equal(k.n, e[pos].k.n);
            assert_memory_equal(k.p, e[pos].k.p, k.n);
            assert_int_equal(v.n, e[pos].v.n);
            if (v.n) assert_memory_equal(v.p, e[pos].v.p, v.n);
        }
    }
    buffer_free(&k);
    buffer_free(&v);
    buffer_free(&lk);
}

/* Opens the table built in file and checks all of it, every key a get. */
static void open_and_check(struct buffer *file, const struct table_options *opt,
                           const struct ent *e, size_t n)
{
    struct mem_file f;
    mem_init(&f, file);
    int rc;
    struct table *t = open_mem(&f, opt, 1, &rc);
    assert_int_equal(rc, 0);
    check_table(t, e, n, 1);
    table_close(t);
}

/* Absent keys: the filter rules most out, and never a present one. */
static void check_bloom(struct table *t, const struct ent *e, size_t n)
{
    struct table_bloom_stats before, after;
    table_bloom_stats(t, &before);
    struct buffer lk = BUFFER_INIT;
    size_t absent = 20000;
    for (size_t a = 0; a < absent; a++) {
        uint8_t uk[12] = {'#'}; /* '#' sorts before every model key */
        put_be64(uk + 1, a);
        lk.n = 0;
        ikey_append(&lk, uk, 9, SEQ_MAX, TYPE_SEEK);
        assert_int_equal(table_get(t, buffer_slice(&lk), NULL, NULL), 0);
    }
    table_bloom_stats(t, &after);
    uint64_t checks = after.checks - before.checks, useful = after.useful - before.useful;
    uint64_t fps = after.false_positives - before.false_positives;
    assert_int_equal(checks, absent);
    assert_int_equal(useful + fps, absent); /* each absent key is one or the other */
    assert_true(fps < absent / 50);         /* ~1% at 10 bits per key */
    /* present keys at their own sequence: never ruled out, never an fp */
    for (size_t i = 0; i < n; i += 5) {
        struct slice ik = buffer_slice(&e[i].k);
        assert_int_equal(table_get(t, ik, NULL, NULL), 1);
    }
    table_bloom_stats(t, &before);
    assert_int_equal(before.useful, after.useful);
    assert_int_equal(before.false_positives, after.false_positives);
    buffer_free(&lk);
}

static void roundtrip_100k(void **state)
{
    (void)state;
    size_t n;
    struct ent *e = make_entries((size_t)(100000 * test_scale()), &n);
    struct {
        size_t block;
        int zstd;
        int cache;
    } cfg[] = {{4096, 0, 0}, {4096, 1, 1}, {1024, 3, 0}, {65536, 1, 1}, {256, 0, 1}};
    for (size_t c = 0; c < sizeof(cfg) / sizeof(cfg[0]); c++) {
        struct table_options opt;
        table_options_init(&opt);
        opt.block_size = cfg[c].block;
        opt.zstd_level = cfg[c].zstd;
        opt.cache = cfg[c].cache ? block_cache_new(8 << 20) : NULL;
        struct buffer file = BUFFER_INIT;
        build(&file, &opt, e, n, NULL, 0);
        struct mem_file f;
        mem_init(&f, &file);
        int rc;
        struct table *t = open_mem(&f, &opt, 100 + c, &rc);
        assert_int_equal(rc, 0);
        const struct table_props *p = table_props(t);
        fprintf(stderr, "block %zu zstd %d: %zu entries, %zu bytes, %llu data blocks\n",
                cfg[c].block, cfg[c].zstd, n, file.n, (unsigned long long)p->data_blocks);
        assert_true(p->data_blocks >= p->raw_value_bytes / cfg[c].block / 2);
        assert_int_equal(p->compression, (uint64_t)cfg[c].zstd);
        assert_int_equal(ikey_compare(p->smallest_key, buffer_slice(&e[0].k)), 0);
        assert_int_equal(ikey_compare(p->largest_key, buffer_slice(&e[n - 1].k)), 0);
        check_table(t, e, n, c == 0);
        check_bloom(t, e, n);
        if (opt.cache) {
            struct block_cache_stats s;
            block_cache_get_stats(opt.cache, &s);
            assert_true(s.hits > 0);
            assert_int_equal(s.pinned, 0); /* iterators released their blocks */
        }
        table_close(t);
        block_cache_free(opt.cache);
        buffer_free(&file);
    }
    free_entries(e, n);
}

/* A long scan stops adding blocks to the cache after its first few (it
 * would evict what point reads come back to) but still uses cached ones;
 * a seek starts over, so short range reads keep filling the cache. */
static void long_scans_do_not_fill_cache(void **state)
{
    (void)state;
    size_t n;
    struct ent *e = make_entries(20000, &n);
    struct table_options opt;
    table_options_init(&opt);
    opt.block_size = 1024;
    opt.cache = block_cache_new(64 << 20); /* room for every block */
    struct buffer file = BUFFER_INIT;
    build(&file, &opt, e, n, NULL, 0);
    struct mem_file f;
    mem_init(&f, &file);
    int rc;
    struct table *t = open_mem(&f, &opt, 7, &rc);
    assert_int_equal(rc, 0);
    uint64_t blocks = table_props(t)->data_blocks;
    assert_true(blocks > 100);
    struct block_cache_stats s0, s1, s2, s3;
    block_cache_get_stats(opt.cache, &s0);

    /* a full scan: every entry, but only its first blocks are cached */
    struct iter *it = table_iter(t);
    size_t seen = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it)) expect_at(it, e, n, seen++);
    assert_int_equal(seen, n);
    assert_int_equal(iter_status(it), 0);
    block_cache_get_stats(opt.cache, &s1);
    uint64_t inserted = s1.inserts - s0.inserts;
    assert_true(inserted >= 1 && inserted <= 8 + 1);

    /* many short reads (a seek and a few nexts) fill it as before */
    for (size_t i = 0; i < n; i += 5) {
        iter_seek(it, buffer_slice(&e[i].k));
        for (int k = 0; k < 3 && iter_valid(it); k++, iter_next(it)) expect_at(it, e, n, i + k);
    }
    block_cache_get_stats(opt.cache, &s2);
    assert_true(s2.inserts - s1.inserts > blocks / 2);

    /* a second full scan reads the cached blocks rather than the file */
    seen = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it)) expect_at(it, e, n, seen++);
    assert_int_equal(seen, n);
    block_cache_get_stats(opt.cache, &s3);
    assert_true(s3.hits - s2.hits > blocks / 2);
    iter_destroy(it);

    table_close(t);
    block_cache_free(opt.cache);
    buffer_free(&file);
    free_entries(e, n);
}

static void compression_saves(void **state)
{
    (void)state;
    size_t n;
    struct ent *e = make_entries(5000, &n);
    struct table_options opt;
    table_options_init(&opt);
    struct buffer raw = BUFFER_INIT, z = BUFFER_INIT;
    opt.zstd_level = 0;
    build(&raw, &opt, e, n, NULL, 0);
    opt.zstd_level = 1;
    build(&z, &opt, e, n, NULL, 0);
    assert_true(z.n < raw.n * 9 / 10);
    buffer_free(&raw);
    buffer_free(&z);
    free_entries(e, n);
}

static void range_dels_and_extent(void **state)
{
    (void)state;
    struct tombstone ts[] = {{"m", "p", 50}, {"a", "c", 40}, {"m", "z", 60}, {"q", "q", 1}};
    struct ent e[2] = {{BUFFER_INIT, BUFFER_INIT}, {BUFFER_INIT, BUFFER_INIT}};
    ikey_append(&e[0].k, "b", 1, 10, TYPE_VALUE);
    buffer_set(&e[0].v, "vb", 2);
    ikey_append(&e[1].k, "n", 1, 70, TYPE_VALUE);
    buffer_set(&e[1].v, "vn", 2);
    struct table_options opt;
    table_options_init(&opt);
    struct mem_file f;
    struct buffer file = BUFFER_INIT;
    mem_init(&f, &file);
    struct table_builder *b;
    assert_int_equal(table_builder_new(&f.base, &opt, &b), 0);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(table_builder_add_range_del(b, slice_make(ts[i].start, 1),
                                                     slice_make(ts[i].end, 1), ts[i].seq),
                         0);
    assert_int_equal(table_builder_range_dels(b), 3); /* the empty one is ignored */
    assert_false(table_builder_empty(b));
    for (int i = 0; i < 2; i++)
        assert_int_equal(table_builder_add(b, buffer_slice(&e[i].k), buffer_slice(&e[i].v)), 0);
    /* out of order and range-delete types are rejected */
    struct buffer bad = BUFFER_INIT;
    ikey_append(&bad, "c", 1, 5, TYPE_VALUE);
    assert_int_equal(table_builder_add(b, buffer_slice(&bad), slice_make("", 0)), -EINVAL);
    bad.n = 0;
    ikey_append(&bad, "zz", 2, 5, TYPE_RANGE_DELETE);
    assert_int_equal(table_builder_add(b, buffer_slice(&bad), slice_make("", 0)), -EINVAL);
    /* extent: smallest = (a, 40, RANGE_DELETE), largest = sentinel (z, SEQ_MAX, SEEK) */
    struct buffer want = BUFFER_INIT;
    ikey_append(&want, "a", 1, 40, TYPE_RANGE_DELETE);
    assert_int_equal(ikey_compare(table_builder_smallest(b), buffer_slice(&want)), 0);
    want.n = 0;
    ikey_append(&want, "z", 1, SEQ_MAX, TYPE_SEEK);
    assert_int_equal(ikey_compare(table_builder_largest(b), buffer_slice(&want)), 0);
    assert_true(table_key_is_sentinel(table_builder_largest(b)));
    assert_false(table_key_is_sentinel(buffer_slice(&e[1].k)));
    assert_int_equal(table_builder_smallest_seq(b), 10);
    assert_int_equal(table_builder_largest_seq(b), 70);
    assert_int_equal(table_builder_finish(b), 0);
    table_builder_free(b);

    int rc;
    struct table *t = open_mem(&f, &opt, 1, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(table_props(t)->range_deletions, 3);
    assert_int_equal(ikey_compare(table_props(t)->largest_key, buffer_slice(&want)), 0);
    /* the raw tombstones, in internal-key order */
    struct iter *it = table_range_del_iter(t);
    const char *order[][2] = {{"a", "c"}, {"m", "z"}, {"m", "p"}}; /* m@60 before m@50 */
    size_t i = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it), i++) {
        struct slice k = iter_key(it), v = iter_value(it);
        assert_int_equal(ikey_type(k), TYPE_RANGE_DELETE);
        assert_memory_equal(ikey_user(k).p, order[i][0], 1);
        assert_memory_equal(v.p, order[i][1], 1);
    }
    assert_int_equal(i, 3);
    iter_destroy(it);
    /* the fragmented set */
    const struct rdel_set *rs = table_range_dels(t);
    assert_int_equal(rdel_max_covering(rs, slice_make("b", 1), 100), 40);
    assert_int_equal(rdel_max_covering(rs, slice_make("c", 1), 100), 0);
    assert_int_equal(rdel_max_covering(rs, slice_make("n", 1), 100), 60);
    assert_int_equal(rdel_max_covering(rs, slice_make("n", 1), 55), 50);
    assert_int_equal(rdel_max_covering(rs, slice_make("y", 1), 100), 60);
    assert_int_equal(rdel_max_covering(rs, slice_make("z", 1), 100), 0);
    /* points are unaffected by tombstones at this layer */
    struct buffer lk = BUFFER_INIT, v = BUFFER_INIT;
    ikey_append(&lk, "b", 1, 100, TYPE_SEEK);
    assert_int_equal(table_get(t, buffer_slice(&lk), NULL, &v), 1);
    assert_memory_equal(v.p, "vb", 2);
    table_close(t);
    buffer_free(&file);

    /* tombstones only */
    mem_init(&f, &file);
    assert_int_equal(table_builder_new(&f.base, &opt, &b), 0);
    assert_int_equal(table_builder_add_range_del(b, slice_make("k", 1), slice_make("l", 1), 9), 0);
    assert_int_equal(table_builder_finish(b), 0);
    table_builder_free(b);
    t = open_mem(&f, &opt, 2, &rc);
    assert_int_equal(rc, 0);
    it = table_iter(t);
    iter_seek_first(it);
    assert_false(iter_valid(it));
    assert_int_equal(iter_status(it), 0);
    iter_destroy(it);
    lk.n = 0;
    ikey_append(&lk, "k", 1, 100, TYPE_SEEK);
    assert_int_equal(table_get(t, buffer_slice(&lk), NULL, NULL), 0);
    assert_int_equal(rdel_max_covering(table_range_dels(t), slice_make("k", 1), 100), 9);
    table_close(t);

    buffer_free(&file);
    buffer_free(&lk);
    buffer_free(&v);
    buffer_free(&want);
    buffer_free(&bad);
    for (int q = 0; q < 2; q++) buffer_free(&e[q].k), buffer_free(&e[q].v);
}

static void empty_table(void **state)
{
    (void)state;
    struct table_options opt;
    table_options_init(&opt);
    struct buffer file = BUFFER_INIT;
    build(&file, &opt, NULL, 0, NULL, 0);
    struct mem_file f;
    mem_init(&f, &file);
    int rc;
    struct table *t = open_mem(&f, &opt, 1, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(table_props(t)->entries, 0);
    assert_int_equal(table_props(t)->smallest_key.n, 0);
    struct iter *it = table_iter(t);
    iter_seek_last(it);
    assert_false(iter_valid(it));
    iter_destroy(it);
    struct buffer lk = BUFFER_INIT;
    ikey_append(&lk, "x", 1, 1, TYPE_SEEK);
    assert_int_equal(table_get(t, buffer_slice(&lk), NULL, NULL), 0);
    assert_int_equal(table_get(t, slice_make("x", 1), NULL, NULL), -EINVAL);
    table_close(t);
    buffer_free(&lk);
    buffer_free(&file);
}

/* Blocks of one table stored both ways (zstd on, but a block of random
 * bytes does not shrink by an eighth and stays raw), in runs and one by
 * one: the reader guesses each block's kind from the last one it read (to
 * read a raw block straight into the memory it keeps), and a wrong guess
 * must still give the right bytes, through the cache and without it. */
static void mixed_stored_blocks(void **state)
{
    (void)state;
    size_t n = 240;
    struct ent *e = calloc(n, sizeof(*e));
    assert_non_null(e);
    for (size_t i = 0; i < n; i++) {
        char k[16];
        int kl = snprintf(k, sizeof(k), "k%05zu", i);
        ikey_append(&e[i].k, k, (size_t)kl, 1, TYPE_VALUE);
        size_t vl = 3000;
        buffer_reserve(&e[i].v, vl);
        /* one entry per 4 KiB block; kinds in runs of 1, 2 and 3 */
        int random = (i % 12) < 6 ? (int)(i % 2) : (i % 12) < 9;
        if (random)
            rng_bytes(&rng, e[i].v.p, vl);
        else
            memset(e[i].v.p, (int)('a' + i % 26), vl);
        e[i].v.n = vl;
    }
    for (int cached = 0; cached < 2; cached++) {
        struct table_options opt;
        table_options_init(&opt);
        opt.block_size = 4096;
        opt.zstd_level = 1;
        opt.cache = cached ? block_cache_new(64 << 10) : NULL; /* smaller than the table */
        struct buffer file = BUFFER_INIT;
        build(&file, &opt, e, n, NULL, 0);
        /* both kinds are there: half the values shrink to almost nothing */
        assert_true(file.n < n * 3000 * 3 / 4);
        assert_true(file.n > n * 3000 / 3);
        open_and_check(&file, &opt, e, n);
        block_cache_free(opt.cache);
        buffer_free(&file);
    }
    free_entries(e, n);
}

static void big_values(void **state)
{
    (void)state;
    size_t n = 6;
    struct ent *e = calloc(n, sizeof(*e));
    for (size_t i = 0; i < n; i++) {
        char k[8] = {'k', (char)('0' + i)};
        ikey_append(&e[i].k, k, 2, 1, TYPE_VALUE);
        size_t vl = i % 2 ? (1u << 20) + i : 10;
        buffer_reserve(&e[i].v, vl);
        rng_bytes(&rng, e[i].v.p, vl);
        e[i].v.n = vl;
    }
    struct table_options opt;
    table_options_init(&opt);
    struct buffer file = BUFFER_INIT;
    build(&file, &opt, e, n, NULL, 0);
    open_and_check(&file, &opt, e, n);
    buffer_free(&file);
    free_entries(e, n);
}

static void rewrite_footer_crc(uint8_t *f)
{
    uint32_t crc = crc32c(f, FOOTER_CRC_OFF);
    crc = crc32c_extend(crc, f + FOOTER_MAGIC_OFF, TABLE_FOOTER_SIZE - FOOTER_MAGIC_OFF);
    put_fixed32(f + FOOTER_CRC_OFF, crc32c_mask(crc));
}

static int log_lines;
static void count_log(void *arg, int level, const char *msg)
{
    (void)arg;
    (void)level;
    assert_non_null(strstr(msg, "mem.sst"));
    log_lines++;
}

static void footer_versions(void **state)
{
    (void)state;
    size_t n;
    struct ent *e = make_entries(100, &n);
    struct table_options opt;
    table_options_init(&opt);
    opt.log = count_log;
    struct buffer file = BUFFER_INIT;
    build(&file, &opt, e, n, NULL, 0);
    uint8_t *foot = file.p + file.n - TABLE_FOOTER_SIZE;
    struct mem_file f;
    mem_init(&f, &file);
    int rc;
    put_fixed32(foot + FOOTER_VERSION_OFF, 2); /* a newer format, intact */
    rewrite_footer_crc(foot);
    log_lines = 0;
    assert_null(open_mem(&f, &opt, 1, &rc));
    assert_int_equal(rc, -EPROTO);
    assert_int_equal(log_lines, 1);
    put_fixed32(foot + FOOTER_VERSION_OFF, 0);
    rewrite_footer_crc(foot);
    assert_null(open_mem(&f, &opt, 1, &rc));
    assert_int_equal(rc, -LSMER_ECORRUPT);
    put_fixed32(foot + FOOTER_VERSION_OFF, 1);
    rewrite_footer_crc(foot);
    struct table *t = open_mem(&f, &opt, 1, &rc);
    assert_int_equal(rc, 0);
    table_close(t);
    put_fixed64(foot + FOOTER_MAGIC_OFF, 12345); /* not a table */
    rewrite_footer_crc(foot);
    assert_null(open_mem(&f, &opt, 1, &rc));
    assert_int_equal(rc, -LSMER_ECORRUPT);
    /* too short to hold a footer */
    file.n = 10;
    assert_null(open_mem(&f, &opt, 1, &rc));
    assert_int_equal(rc, -LSMER_ECORRUPT);
    buffer_free(&file);
    free_entries(e, n);
}

static void io_errors(void **state)
{
    (void)state;
    size_t n;
    struct ent *e = make_entries(3000, &n);
    struct table_options opt;
    table_options_init(&opt);
    struct buffer file = BUFFER_INIT;
    build(&file, &opt, e, n, NULL, 0);
    struct mem_file f;
    mem_init(&f, &file);
    int rc;
    /* open reads footer, index, props, filter: any failing read fails it */
    for (int k = 0; k < 4; k++) {
        f.fail_reads_after = k;
        assert_null(open_mem(&f, &opt, 1, &rc));
        assert_int_equal(rc, -EIO);
    }
    f.fail_reads_after = -1;
    struct table *t = open_mem(&f, &opt, 1, &rc);
    assert_int_equal(rc, 0);
    f.fail_reads_after = 3; /* a scan dies on the 4th data block */
    struct iter *it = table_iter(t);
    size_t seen = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it)) seen++;
    assert_int_equal(iter_status(it), -EIO);
    assert_true(seen > 0 && seen < n);
    assert_int_equal(table_get(t, buffer_slice(&e[n / 2].k), NULL, NULL), -EIO);
    f.fail_reads_after = -1;
    /* a re-seek after the error recovers */
    iter_seek(it, buffer_slice(&e[n / 2].k));
    expect_at(it, e, n, n / 2);
    iter_destroy(it);
    table_close(t);

    /* a failing append is sticky in the builder */
    struct buffer out = BUFFER_INIT;
    mem_init(&f, &out);
    f.fail_appends = 1;
    struct table_builder *b;
    assert_int_equal(table_builder_new(&f.base, &opt, &b), 0);
    int err = 0;
    for (size_t i = 0; i < n && !err; i++)
        err = table_builder_add(b, buffer_slice(&e[i].k), buffer_slice(&e[i].v));
    if (!err) err = table_builder_finish(b);
    assert_int_equal(err, -EIO);
    f.fail_appends = 0;
    assert_int_equal(table_builder_finish(b), -EIO);
    table_builder_free(b);
    buffer_free(&out);
    buffer_free(&file);
    free_entries(e, n);
}

/* Opens the damaged copy, scans both ways, gets every key and reads the
 * tombstones. Returns 0 if everything matched the original exactly, or the
 * first error; fails the test on any other data. */
static int damaged_roundtrip(struct buffer *file, const struct table_options *opt,
                             const struct ent *e, size_t n, uint64_t number)
{
    struct mem_file f;
    mem_init(&f, file);
    int rc;
    struct table *t = open_mem(&f, opt, number, &rc);
    if (rc) return rc;
    struct iter *it = table_iter(t);
    size_t i = 0;
    for (iter_seek_first(it); iter_valid(it); iter_next(it), i++) expect_at(it, e, n, i);
    if (!(rc = iter_status(it))) assert_int_equal(i, n);
    for (iter_seek_last(it); !rc && iter_valid(it); iter_prev(it)) expect_at(it, e, n, --i);
    if (!rc && !(rc = iter_status(it))) assert_int_equal(i, 0);
    iter_destroy(it);
    struct buffer k = BUFFER_INIT, v = BUFFER_INIT;
    for (size_t j = 0; j < n && !rc; j++) {
        int g = table_get(t, buffer_slice(&e[j].k), &k, &v);
        if (g < 0) {
            rc = g;
            break;
        }
        assert_int_equal(g, 1);
        assert_int_equal(k.n, e[j].k.n);
        assert_memory_equal(k.p, e[j].k.p, k.n);
        assert_int_equal(v.n, e[j].v.n);
        if (v.n) assert_memory_equal(v.p, e[j].v.p, v.n);
    }
    if (!rc) {
        assert_int_equal(rdel_max_covering(table_range_dels(t), slice_make("c", 1), 1000), 77);
        assert_int_equal(table_props(t)->entries, n);
    }
    buffer_free(&k);
    buffer_free(&v);
    table_close(t);
    return rc;
}

static void damage_sweep(void **state)
{
    (void)state;
    size_t n;
    struct ent *e = make_entries(120, &n);
    struct tombstone ts[] = {{"b", "d", 77}};
    for (int zstd = 0; zstd <= 1; zstd++) {
        struct table_options opt;
        table_options_init(&opt);
        opt.block_size = 300;
        opt.zstd_level = zstd;
        opt.cache = block_cache_new(1 << 20);
        struct buffer file = BUFFER_INIT, copy = BUFFER_INIT;
        build(&file, &opt, e, n, ts, 1);
        assert_int_equal(damaged_roundtrip(&file, &opt, e, n, 1), 0);
        /* every byte, each with a random non-zero change; a fresh cache id
         * per case so no block is served from an earlier good copy */
        for (size_t pos = 0; pos < file.n; pos++) {
            buffer_set(&copy, file.p, file.n);
            copy.p[pos] ^= (uint8_t)(1 + rng_uniform(&rng, 255));
            int rc = damaged_roundtrip(&copy, &opt, e, n, 1000 + pos);
            if (rc != -LSMER_ECORRUPT)
                fprintf(stderr, "zstd %d: byte %zu of %zu: rc %d\n", zstd, pos, file.n, rc);
            assert_int_equal(rc, -LSMER_ECORRUPT);
        }
        /* without checksums damage may go unnoticed, but never crashes */
        struct table_options loose = opt;
        loose.verify_checksums = 0;
        for (size_t pos = 0; pos < file.n; pos += 3) {
            buffer_set(&copy, file.p, file.n);
            copy.p[pos] ^= (uint8_t)(1 + rng_uniform(&rng, 255));
            struct mem_file f;
            mem_init(&f, &copy);
            int rc;
            struct table *t = open_mem(&f, &loose, 100000 + pos, &rc);
            if (!t) continue;
            struct iter *it = table_iter(t);
            for (iter_seek_first(it); iter_valid(it); iter_next(it)) {
            }
            for (iter_seek_last(it); iter_valid(it); iter_prev(it)) {
            }
            iter_destroy(it);
            for (size_t j = 0; j < n; j++) table_get(t, buffer_slice(&e[j].k), NULL, NULL);
            table_close(t);
        }
        /* every truncation */
        for (size_t len = 0; len < file.n; len++) {
            buffer_set(&copy, file.p, len);
            assert_int_equal(damaged_roundtrip(&copy, &opt, e, n, 200000 + len), -LSMER_ECORRUPT);
        }
        block_cache_free(opt.cache);
        buffer_free(&file);
        buffer_free(&copy);
    }
    free_entries(e, n);
}

static void posix_file(void **state)
{
    (void)state;
    size_t n;
    struct ent *e = make_entries(20000, &n);
    char *dir = test_tmpdir("test_table");
    char path[4096];
    snprintf(path, sizeof(path), "%s/000007.sst", dir);
    struct lsmer_env *env = env_posix_default();
    struct table_options opt;
    table_options_init(&opt);
    opt.cache = block_cache_new(1 << 20);
    struct env_file *f;
    assert_int_equal(env_open(env, path, ENV_WRITE, &f), 0);
    struct table_builder *b;
    assert_int_equal(table_builder_new(f, &opt, &b), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(table_builder_add(b, buffer_slice(&e[i].k), buffer_slice(&e[i].v)), 0);
    assert_int_equal(table_builder_finish(b), 0);
    uint64_t size = table_builder_file_size(b);
    table_builder_free(b);
    assert_int_equal(env_sync(f), 0);
    assert_int_equal(env_close(f), 0);
    uint64_t on_disk;
    assert_int_equal(env_file_size(env, path, &on_disk), 0);
    assert_int_equal(on_disk, size);
    assert_int_equal(env_open(env, path, ENV_READ, &f), 0);
    struct table *t;
    assert_int_equal(table_open(f, path, size, 7, &opt, &t), 0);
    assert_int_equal(table_file_number(t), 7);
    assert_int_equal(table_file_size(t), size);
    assert_true(table_memory(t) > 0);
    assert_true(table_approximate_offset(t, buffer_slice(&e[n - 1].k)) >
                table_approximate_offset(t, buffer_slice(&e[0].k)));
    check_table(t, e, n, 0);
    table_close(t);
    env_close(f);
    block_cache_free(opt.cache);
    test_rmtree(dir);
    free(dir);
    free_entries(e, n);
}

int main(void)
{
    rng_init(&rng, test_seed("test_table"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip_100k),      cmocka_unit_test(long_scans_do_not_fill_cache),
        cmocka_unit_test(compression_saves),   cmocka_unit_test(range_dels_and_extent),
        cmocka_unit_test(empty_table),         cmocka_unit_test(big_values),
        cmocka_unit_test(mixed_stored_blocks), cmocka_unit_test(footer_versions),
        cmocka_unit_test(io_errors),           cmocka_unit_test(damage_sweep),
        cmocka_unit_test(posix_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
