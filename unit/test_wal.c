/* test_wal.c — the log format: round trips across block boundaries, a torn
 * tail cut at every byte of the last record, bit flips in a middle record
 * (corruption) and in the last one (torn tail or corruption by the
 * documented rule), stale fragments of another log, random garbage, the
 * writer's sticky error and power loss through the fault env. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "env_fault.h"
#include "lsmer.h"
#include "testutil.h"
#include "wal.h"

#define B WAL_BLOCK_SIZE
#define H WAL_HEADER_SIZE

/* ---- an in-memory env holding one file, for fast truncation sweeps ---- */

struct memenv {
    struct lsmer_env env;
    struct buffer data;
    size_t limit;     /* readers see at most this many bytes */
    uint64_t wb_next; /* start_writeback: where the next range must begin */
    int wb_calls;
    int wb_bad; /* a range that did not follow the last or went past the end */
};
struct memfile {
    struct env_file base;
};

static int mem_open(struct lsmer_env *e, const char *path, int mode, struct env_file **out)
{
    struct memenv *m = (struct memenv *)e;
    (void)path;
    struct memfile *f = calloc(1, sizeof(*f));
    if (!f) return -ENOMEM;
    if (mode == ENV_WRITE) {
        buffer_clear(&m->data);
        m->limit = SIZE_MAX;
    }
    f->base.env = e;
    *out = &f->base;
    return 0;
}
static size_t mem_len(struct memenv *m)
{
    return m->data.n < m->limit ? m->data.n : m->limit;
}
static int mem_pread(struct env_file *f, void *buf, size_t n, uint64_t off, size_t *got)
{
    struct memenv *m = (struct memenv *)f->env;
    size_t len = mem_len(m);
    *got = 0;
    if (off >= len) return 0;
    if (n > len - off) n = len - (size_t)off;
    memcpy(buf, m->data.p + off, n);
    *got = n;
    return 0;
}
static int mem_append(struct env_file *f, const void *buf, size_t n)
{
    return buffer_append(&((struct memenv *)f->env)->data, buf, n);
}
static void mem_start_writeback(struct env_file *f, uint64_t off, uint64_t len)
{
    struct memenv *m = (struct memenv *)f->env;
    if (off != m->wb_next || len == 0 || off + len > m->data.n) m->wb_bad = 1;
    m->wb_next = off + len;
    m->wb_calls++;
}
static int mem_sync(struct env_file *f)
{
    (void)f;
    return 0;
}
static int mem_size(struct env_file *f, uint64_t *out)
{
    *out = mem_len((struct memenv *)f->env);
    return 0;
}
static int mem_close(struct env_file *f)
{
    free(f);
    return 0;
}
static const struct env_ops mem_ops = {
    .open = mem_open,
    .pread = mem_pread,
    .append = mem_append,
    .sync = mem_sync,
    .size = mem_size,
    .start_writeback = mem_start_writeback,
    .close = mem_close,
};

static void mem_init(struct memenv *m)
{
    memset(m, 0, sizeof(*m));
    m->env.ops = &mem_ops;
    m->limit = SIZE_MAX;
}

/* ---- helpers ---- */

struct recs {
    size_t n;
    uint8_t **data;
    size_t *len;
    uint64_t *end; /* file offset after each record */
};

static void recs_add(struct recs *r, struct rng *rng, size_t len)
{
    r->data = realloc(r->data, (r->n + 1) * sizeof(*r->data));
    r->len = realloc(r->len, (r->n + 1) * sizeof(*r->len));
    r->end = realloc(r->end, (r->n + 1) * sizeof(*r->end));
    r->data[r->n] = malloc(len ? len : 1);
    rng_bytes(rng, r->data[r->n], len);
    r->len[r->n] = len;
    r->n++;
}

static void recs_free(struct recs *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->data[i]);
    free(r->data);
    free(r->len);
    free(r->end);
    memset(r, 0, sizeof(*r));
}

static void write_log(struct lsmer_env *env, const char *path, uint64_t num, struct recs *r)
{
    struct wal_writer *w;
    assert_int_equal(wal_writer_open(env, path, num, &w), 0);
    for (size_t i = 0; i < r->n; i++) {
        assert_int_equal(wal_add_record(w, r->data[i], r->len[i]), 0);
        r->end[i] = wal_file_size(w);
    }
    assert_int_equal(wal_sync(w), 0);
    assert_int_equal(wal_writer_close(w), 0);
}

/* Reads the log and checks it yields records [0, want) of r, then returns
 * what the next read returned (0 = end, or an error). */
static int read_expect(struct lsmer_env *env, const char *path, uint64_t num, const struct recs *r,
                       size_t want, struct wal_reader **keep)
{
    struct wal_reader *rd;
    struct buffer out = BUFFER_INIT;
    assert_int_equal(wal_reader_open(env, path, num, &rd), 0);
    for (size_t i = 0; i < want; i++) {
        int rc = wal_read_record(rd, &out);
        if (rc != 1)
            fprintf(stderr, "record %zu: rc %d (%s)\n", i, rc, wal_reader_error_detail(rd));
        assert_int_equal(rc, 1);
        assert_int_equal(out.n, r->len[i]);
        assert_true(out.n == 0 || memcmp(out.p, r->data[i], out.n) == 0);
        assert_int_equal(wal_reader_offset(rd), r->end[i]);
    }
    int rc = wal_read_record(rd, &out);
    assert_true(rc <= 0);
    assert_int_equal(wal_read_record(rd, &out), rc); /* the outcome sticks */
    buffer_free(&out);
    if (keep)
        *keep = rd;
    else
        wal_reader_close(rd);
    return rc;
}

static size_t random_size(struct rng *rng)
{
    switch (rng_uniform(rng, 6)) {
    case 0:
        return 0;
    case 1:
        return rng_uniform(rng, 100 * 1024 + 1); /* up to 100 KB */
    case 2:
        return B - H - rng_uniform(rng, 16); /* near a block */
    default:
        return rng_uniform(rng, 1000);
    }
}

/* ---- tests ---- */

static void roundtrip_posix(void **state)
{
    (void)state;
    struct rng rng;
    rng_init(&rng, test_seed("roundtrip_posix"));
    struct lsmer_env *env = env_posix_default();
    char *dir = test_tmpdir("wal");
    char path[600];
    snprintf(path, sizeof(path), "%s/000007.log", dir);
    struct recs r = {0};
    for (int i = 0; i < 300; i++) recs_add(&r, &rng, random_size(&rng));
    write_log(env, path, 7, &r);
    uint64_t sz;
    assert_int_equal(env_file_size(env, path, &sz), 0);
    assert_int_equal(sz, r.end[r.n - 1]);
    assert_true(sz > 4 * B);
    struct wal_reader *rd;
    assert_int_equal(read_expect(env, path, 7, &r, r.n, &rd), 0);
    assert_int_equal(wal_reader_tail_dropped(rd), 0);
    assert_int_equal(wal_reader_offset(rd), sz);
    assert_string_equal(wal_reader_error_detail(rd), "");
    wal_reader_close(rd);

    /* empty and missing files */
    struct wal_writer *w;
    assert_int_equal(wal_writer_open(env, path, 8, &w), 0);
    assert_int_equal(wal_file_size(w), 0);
    assert_int_equal(wal_writer_close(w), 0);
    assert_int_equal(read_expect(env, path, 8, &r, 0, NULL), 0);
    snprintf(path, sizeof(path), "%s/missing.log", dir);
    assert_int_equal(wal_reader_open(env, path, 1, &rd), -ENOENT);
    assert_null(rd);
    recs_free(&r);
    test_rmtree(dir);
    free(dir);
}

/* Every way a record can meet the end of a block: leftover 0..H+2 bytes,
 * records filling a block exactly, zero-length records at the edge. */
static void block_edges(void **state)
{
    (void)state;
    struct rng rng;
    rng_init(&rng, 1);
    struct memenv m;
    mem_init(&m);
    for (size_t left = 0; left <= H + 2; left++) {
        size_t follow[] = {0, 1, B - H, B - H + 1, 2 * (B - H), 3 * B};
        for (size_t k = 0; k < sizeof(follow) / sizeof(follow[0]); k++) {
            struct recs r = {0};
            recs_add(&r, &rng, B - H - left); /* leaves `left` bytes in block 0 */
            recs_add(&r, &rng, follow[k]);
            recs_add(&r, &rng, 0);
            recs_add(&r, &rng, 5);
            write_log(&m.env, "x", 3, &r);
            assert_int_equal(r.end[0], B - left);
            /* a tail shorter than a header is zero padding */
            if (left < H) {
                for (size_t i = B - left; i < B; i++) assert_int_equal(m.data.p[i], 0);
            }
            assert_int_equal(read_expect(&m.env, "x", 3, &r, r.n, NULL), 0);
            recs_free(&r);
        }
    }
    buffer_free(&m.data);
}

/* The bytes of the format, built by hand from docs/format-wal.md. */
static size_t hand_fragment(uint8_t *d, uint64_t num, uint8_t type, const void *p, size_t n)
{
    uint8_t pre[9];
    put_fixed64(pre, num);
    pre[8] = type;
    uint32_t crc = crc32c_extend(crc32c(pre, 9), p, n);
    put_fixed32(d, crc32c_mask(crc));
    d[4] = (uint8_t)n;
    d[5] = (uint8_t)(n >> 8);
    d[6] = type;
    memcpy(d + H, p, n);
    return H + n;
}

static void format_by_hand(void **state)
{
    (void)state;
    struct memenv m;
    mem_init(&m);
    struct wal_writer *w;
    assert_int_equal(wal_writer_open(&m.env, "x", 42, &w), 0);
    assert_int_equal(wal_add_record(w, "hello", 5), 0);
    assert_int_equal(wal_writer_close(w), 0);
    uint8_t want[64];
    size_t n = hand_fragment(want, 42, WAL_FULL, "hello", 5);
    assert_int_equal(m.data.n, n);
    assert_memory_equal(m.data.p, want, n);

    /* FIRST then FULL: the first record never ends, valid data follows */
    struct wal_reader *rd;
    struct buffer out = BUFFER_INIT;
    uint8_t *frag = malloc(B);
    uint8_t *zero = calloc(1, B);
    buffer_clear(&m.data);
    buffer_append(&m.data, frag, hand_fragment(frag, 42, WAL_FULL, "a", 1));
    buffer_append(&m.data, frag, hand_fragment(frag, 42, WAL_FIRST, zero, B - 2 * H - 1));
    buffer_append(&m.data, frag, hand_fragment(frag, 42, WAL_FULL, "c", 1));
    assert_int_equal(wal_reader_open(&m.env, "x", 42, &rd), 0);
    assert_int_equal(wal_read_record(rd, &out), 1);
    assert_int_equal(wal_read_record(rd, &out), -LSMER_ECORRUPT);
    assert_non_null(strstr(wal_reader_error_detail(rd), "offset"));
    assert_int_equal(wal_reader_offset(rd), H + 1);
    wal_reader_close(rd);
    /* a MIDDLE with no FIRST */
    buffer_clear(&m.data);
    buffer_append(&m.data, frag, hand_fragment(frag, 42, WAL_MIDDLE, zero, B - H));
    buffer_append(&m.data, frag, hand_fragment(frag, 42, WAL_LAST, "c", 1));
    assert_int_equal(wal_reader_open(&m.env, "x", 42, &rd), 0);
    assert_int_equal(wal_read_record(rd, &out), -LSMER_ECORRUPT);
    assert_non_null(strstr(wal_reader_error_detail(rd), "without a record start"));
    wal_reader_close(rd);
    /* a LAST in the middle of a block verifies but no writer puts it there */
    buffer_clear(&m.data);
    buffer_append(&m.data, frag, hand_fragment(frag, 42, WAL_FULL, "a", 1));
    buffer_append(&m.data, frag, hand_fragment(frag, 42, WAL_LAST, "b", 1));
    buffer_append(&m.data, zero, B - m.data.n);
    buffer_append(&m.data, frag, hand_fragment(frag, 42, WAL_FULL, "c", 1));
    assert_int_equal(wal_reader_open(&m.env, "x", 42, &rd), 0);
    assert_int_equal(wal_read_record(rd, &out), 1);
    assert_int_equal(wal_read_record(rd, &out), -LSMER_ECORRUPT);
    assert_non_null(strstr(wal_reader_error_detail(rd), "misplaced fragment at offset 8"));
    wal_reader_close(rd);
    /* FIRST then the end of the file: a torn tail */
    buffer_clear(&m.data);
    buffer_append(&m.data, frag, hand_fragment(frag, 42, WAL_FULL, "a", 1));
    buffer_append(&m.data, frag, hand_fragment(frag, 42, WAL_FIRST, "bb", 2));
    assert_int_equal(wal_reader_open(&m.env, "x", 42, &rd), 0);
    assert_int_equal(wal_read_record(rd, &out), 1);
    assert_int_equal(wal_read_record(rd, &out), 0); /* (misplaced too: torn either way) */
    assert_int_equal(wal_reader_tail_dropped(rd), H + 2);
    wal_reader_close(rd);
    free(frag);
    free(zero);
    buffer_free(&out);
    buffer_free(&m.data);
}

/* Cuts the file at every byte of the last record (every stride-th byte away
 * from block edges when stride > 1): every earlier record reads back and the
 * reader reports a clean end with the rest dropped. */
static void torn_tail_sweep(struct rng *rng, size_t nprev, size_t prev_max, size_t last_len,
                            uint64_t stride)
{
    struct memenv m;
    mem_init(&m);
    struct recs r = {0};
    size_t used = 0;
    for (size_t i = 0; i < nprev; i++) {
        recs_add(&r, rng, rng_uniform(rng, prev_max + 1));
        used += H + r.len[i];
    }
    /* when it all fits in block 0, start the last record 2000 bytes before
     * the block edge so it crosses it */
    int aimed = nprev && last_len > 2000 && used + 2000 + H < B;
    if (aimed) recs_add(&r, rng, B - 2000 - used - H);
    recs_add(&r, rng, last_len);
    write_log(&m.env, "x", 9, &r);
    uint64_t from = r.n > 1 ? r.end[r.n - 2] : 0, to = r.end[r.n - 1];
    for (uint64_t len = from; len < to; len++) {
        struct wal_reader *rd;
        uint64_t in = len % B;
        if (stride > 1 && in > 64 && in < B - 64 && len - from > 64 && len % stride) continue;
        m.limit = len;
        assert_int_equal(read_expect(&m.env, "x", 9, &r, r.n - 1, &rd), 0);
        assert_int_equal(wal_reader_offset(rd), from);
        /* A cut whose bytes are all zero (the first bytes of a CRC can be)
         * looks like the preallocated, never written end of a log: a clean
         * end with nothing dropped. */
        int zeros = 1;
        for (uint64_t i = from; i < len && zeros; i++) zeros = m.data.p[i] == 0;
        assert_int_equal(wal_reader_tail_dropped(rd), zeros ? 0 : len - from);
        wal_reader_close(rd);
    }
    /* it did cross (when the earlier records left room to aim it; past
     * block 0 they may end anywhere) */
    if (aimed) assert_true(from / B < (to - 1) / B);
    m.limit = SIZE_MAX;
    assert_int_equal(read_expect(&m.env, "x", 9, &r, r.n, NULL), 0);
    recs_free(&r);
    buffer_free(&m.data);
}

static void torn_tail_every_offset(void **state)
{
    (void)state;
    struct rng rng;
    rng_init(&rng, test_seed("torn_tail_every_offset"));
    torn_tail_sweep(&rng, 40, 1500, 300, 1);      /* small last record */
    torn_tail_sweep(&rng, 25, 1000, 6000, 1);     /* crossing a block edge */
    torn_tail_sweep(&rng, 0, 0, 100, 1);          /* the only record */
    torn_tail_sweep(&rng, 0, 0, B - H, 1);        /* exactly one block */
    torn_tail_sweep(&rng, 5, 900, 2 * B + 77, 5); /* over three blocks: sampled */
}

/* Whether a fragment follows the one holding file byte off, from a walk of
 * the intact framing. */
static int fragment_has_successor(const uint8_t *d, size_t n, size_t off)
{
    size_t p = 0;
    while (p < n) {
        if (B - p % B < H) {
            p += B - p % B;
            continue;
        }
        size_t len = (size_t)d[p + 4] | (size_t)d[p + 5] << 8;
        size_t end = p + H + len;
        if (off >= p && off < end) return end < n;
        p = end;
    }
    return 0;
}

/* A bit flipped in a record: in a middle record it is always corruption;
 * in the last record it is a torn tail unless a valid fragment follows the
 * damaged one (a multi-block last record damaged before its last block). */
static void flip_sweep(struct rng *rng, size_t mid_len, size_t last_len, int flip_last)
{
    struct memenv m;
    mem_init(&m);
    struct recs r = {0};
    for (int i = 0; i < 20; i++) recs_add(&r, rng, rng_uniform(rng, 1200));
    recs_add(&r, rng, mid_len);
    recs_add(&r, rng, last_len);
    write_log(&m.env, "x", 11, &r);
    size_t target = flip_last ? r.n - 1 : r.n - 2;
    uint64_t start = r.end[target - 1], end = r.end[target];
    if (B - start % B < H) start += B - start % B; /* skip padding: not a record */
    uint64_t span = end - start;
    /* every byte of headers and of the bytes around block edges, and a
     * sample of the payload, to keep the Asan build fast */
    for (uint64_t off = start; off < end; off++) {
        uint64_t in = off % B;
        int near_edge = in < 64 || in > B - 64 || off - start < 64 || end - off < 64;
        if (!near_edge && span > 4096 && !rng_one_in(rng, 8)) continue;
        uint8_t bit = (uint8_t)(1u << rng_uniform(rng, 8));
        int corrupt = !flip_last || fragment_has_successor(m.data.p, m.data.n, off);
        m.data.p[off] ^= bit;
        struct wal_reader *rd;
        int rc = read_expect(&m.env, "x", 11, &r, target, &rd);
        if (corrupt) {
            assert_int_equal(rc, -LSMER_ECORRUPT);
            assert_non_null(strstr(wal_reader_error_detail(rd), "at offset"));
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(wal_reader_tail_dropped(rd), m.data.n - r.end[target - 1]);
        }
        assert_int_equal(wal_reader_offset(rd), r.end[target - 1]);
        wal_reader_close(rd);
        m.data.p[off] ^= bit;
    }
    recs_free(&r);
    buffer_free(&m.data);
}

static void bitflip_middle_and_last(void **state)
{
    (void)state;
    struct rng rng;
    rng_init(&rng, test_seed("bitflip_middle_and_last"));
    flip_sweep(&rng, 700, 50, 0);         /* middle and last share a block */
    flip_sweep(&rng, B + 1000, 300, 0);   /* middle record crosses a block edge */
    flip_sweep(&rng, 20, 700, 1);         /* small last record: torn tail */
    flip_sweep(&rng, 20, 2 * B + 500, 1); /* last record over three blocks */
}

static void detail_names_the_offset(void **state)
{
    (void)state;
    struct rng rng;
    rng_init(&rng, 5);
    struct memenv m;
    mem_init(&m);
    struct recs r = {0};
    recs_add(&r, &rng, 100);
    recs_add(&r, &rng, 100);
    recs_add(&r, &rng, 100);
    write_log(&m.env, "x", 1, &r);
    m.data.p[r.end[0] + H + 10] ^= 1; /* payload of record 1 */
    struct wal_reader *rd;
    assert_int_equal(read_expect(&m.env, "x", 1, &r, 1, &rd), -LSMER_ECORRUPT);
    char want[64];
    snprintf(want, sizeof(want), "bad checksum at offset %llu", (unsigned long long)r.end[0]);
    assert_non_null(strstr(wal_reader_error_detail(rd), want));
    wal_reader_close(rd);
    recs_free(&r);
    buffer_free(&m.data);
}

/* Fragments of another log (a reused file, stale disk blocks after a crash)
 * never verify: reading them as this log finds only a torn tail. */
static void other_log_never_replayed(void **state)
{
    (void)state;
    struct rng rng;
    rng_init(&rng, test_seed("other_log_never_replayed"));
    struct memenv m;
    mem_init(&m);
    struct recs old = {0}, cur = {0};
    for (int i = 0; i < 100; i++) recs_add(&old, &rng, rng_uniform(&rng, 3000));
    write_log(&m.env, "x", 7, &old);
    assert_int_equal(read_expect(&m.env, "x", 8, &old, 0, NULL), 0);

    /* the new log overwrites the start of the old file */
    struct buffer stale = BUFFER_INIT;
    buffer_set(&stale, m.data.p, m.data.n);
    for (int i = 0; i < 10; i++) recs_add(&cur, &rng, rng_uniform(&rng, 3000));
    recs_add(&cur, &rng, B); /* reach into block 1 so later blocks are stale */
    write_log(&m.env, "x", 8, &cur);
    size_t newlen = m.data.n;
    assert_true(newlen < stale.n);
    buffer_append(&m.data, stale.p + newlen, stale.n - newlen);
    struct wal_reader *rd;
    assert_int_equal(read_expect(&m.env, "x", 8, &cur, cur.n, &rd), 0);
    assert_int_equal(wal_reader_tail_dropped(rd), stale.n - newlen);
    wal_reader_close(rd);
    buffer_free(&stale);
    recs_free(&old);
    recs_free(&cur);
    buffer_free(&m.data);
}

/* Random garbage, and valid logs with bytes overwritten: the reader never
 * crashes (Asan) and never returns anything but a prefix of the records. */
static void garbage_never_crashes(void **state)
{
    (void)state;
    struct rng rng;
    rng_init(&rng, test_seed("garbage_never_crashes"));
    struct memenv m;
    mem_init(&m);
    struct buffer out = BUFFER_INIT;
    int rounds = (int)(300 * test_scale());
    for (int round = 0; round < rounds; round++) {
        struct recs r = {0};
        int pure = round % 3 == 0;
        if (pure) {
            size_t n = rng_uniform(&rng, 3 * B);
            buffer_clear(&m.data);
            buffer_reserve(&m.data, n);
            rng_bytes(&rng, m.data.p, n);
            m.data.n = n;
            /* sometimes plausible headers: small lengths, valid types */
            if (rng_one_in(&rng, 2))
                for (size_t i = 0; i + H <= n; i += 1 + rng_uniform(&rng, 200)) {
                    m.data.p[i + 5] = 0;
                    m.data.p[i + 6] = (uint8_t)(1 + rng_uniform(&rng, 4));
                }
        } else {
            int k = (int)rng_uniform(&rng, 30);
            for (int i = 0; i < k; i++) recs_add(&r, &rng, random_size(&rng) % 40000);
            write_log(&m.env, "x", 2, &r);
            int hits = (int)rng_uniform(&rng, 4);
            for (int i = 0; i < hits && m.data.n; i++) {
                size_t off = rng_uniform(&rng, m.data.n);
                size_t len = 1 + rng_uniform(&rng, 100);
                for (size_t j = off; j < off + len && j < m.data.n; j++)
                    m.data.p[j] = (uint8_t)rng_next(&rng);
            }
            if (rng_one_in(&rng, 2) && m.data.n) m.data.n = rng_uniform(&rng, m.data.n);
        }
        m.limit = SIZE_MAX;
        struct wal_reader *rd;
        assert_int_equal(wal_reader_open(&m.env, "x", 2, &rd), 0);
        size_t i = 0;
        int rc;
        while ((rc = wal_read_record(rd, &out)) == 1) {
            assert_true(i < r.n);
            assert_int_equal(out.n, r.len[i]);
            assert_true(out.n == 0 || memcmp(out.p, r.data[i], out.n) == 0);
            i++;
        }
        assert_true(rc == 0 || rc == -LSMER_ECORRUPT);
        if (pure) assert_int_equal(rc, 0); /* nothing verifies: all torn tail */
        assert_true(wal_reader_offset(rd) <= m.data.n);
        if (rc == 0)
            assert_int_equal(wal_reader_offset(rd) + wal_reader_tail_dropped(rd), m.data.n);
        wal_reader_close(rd);
        recs_free(&r);
    }
    buffer_free(&out);
    buffer_free(&m.data);
}

static void writer_sticky_error_and_power_loss(void **state)
{
    (void)state;
    struct rng rng;
    rng_init(&rng, test_seed("writer_sticky_error_and_power_loss"));
    char *dir = test_tmpdir("wal");
    char path[600];
    snprintf(path, sizeof(path), "%s/000003.log", dir);
    struct lsmer_env *fe = fault_env_new(env_posix_default());
    struct recs r = {0};
    for (int i = 0; i < 60; i++) recs_add(&r, &rng, random_size(&rng) % 20000);

    /* power loss keeps exactly the records synced */
    struct wal_writer *w;
    assert_int_equal(wal_writer_open(fe, path, 3, &w), 0);
    assert_int_equal(env_sync_dir(fe, dir), 0);
    size_t synced = 0;
    for (size_t i = 0; i < r.n; i++) {
        assert_int_equal(wal_add_record(w, r.data[i], r.len[i]), 0);
        r.end[i] = wal_file_size(w);
        if (i < 40 && rng_one_in(&rng, 4)) {
            assert_int_equal(wal_sync(w), 0);
            synced = i + 1;
        }
    }
    fault_env_crash(fe);
    assert_int_equal(wal_add_record(w, "x", 1), -EIO);
    assert_int_equal(wal_add_record(w, "x", 1), -EIO);
    wal_writer_close(w);
    assert_int_equal(fault_env_restore(fe), 0);
    struct wal_reader *rd;
    assert_int_equal(read_expect(fe, path, 3, &r, synced, &rd), 0);
    assert_int_equal(wal_reader_tail_dropped(rd), 0);
    wal_reader_close(rd);

    /* an append error sticks: the file's tail is unknown */
    assert_int_equal(wal_writer_open(fe, path, 4, &w), 0);
    assert_int_equal(wal_add_record(w, "a", 1), 0);
    uint64_t size = wal_file_size(w);
    fault_env_fail(fe, FAULT_APPEND, 0, -ENOSPC, 0);
    assert_int_equal(wal_add_record(w, "b", 1), -ENOSPC);
    assert_int_equal(wal_add_record(w, "c", 1), -ENOSPC); /* injection was once */
    assert_int_equal(wal_sync(w), -ENOSPC);
    assert_int_equal(wal_file_size(w), size);
    assert_int_equal(wal_writer_close(w), 0);
    r.end[0] = size;
    memcpy(r.data[0], "a", 1);
    r.len[0] = 1;
    assert_int_equal(read_expect(fe, path, 4, &r, 1, NULL), 0);
    /* a failed open */
    fault_env_fail(fe, FAULT_OPEN, 0, -EIO, 0);
    assert_int_equal(wal_writer_open(fe, path, 5, &w), -EIO);
    assert_null(w);
    fault_env_fail(fe, FAULT_READ, 0, -EIO, 0);
    assert_int_equal(wal_reader_open(fe, path, 4, &rd), 0);
    struct buffer out = BUFFER_INIT;
    assert_int_equal(wal_read_record(rd, &out), -EIO);
    assert_int_equal(wal_read_record(rd, &out), -EIO);
    wal_reader_close(rd);
    buffer_free(&out);

    fault_env_free(fe);
    recs_free(&r);
    test_rmtree(dir);
    free(dir);
}

/* A preallocated log (wal_writer_set_prealloc), reserved by fallocate or
 * by written zeros: the file reads longer than the records, the reserved
 * tail is zeros, and the reader takes it as the clean end: every record,
 * nothing dropped, no error. A zeroed hole with a record after it is still
 * corruption. Then the same through a simulated power loss, which keeps
 * the synced records and the synced reservation. */
static void preallocated_tail_mode(int written)
{
    struct rng rng;
    rng_init(&rng, test_seed(written ? "preallocated_tail_written" : "preallocated_tail"));
    struct lsmer_env *env = env_posix_default();
    char *dir = test_tmpdir("wal");
    char path[600];
    snprintf(path, sizeof(path), "%s/000009.log", dir);
    struct recs r = {0};
    /* over 1 MiB in all, so the writer also starts writeback behind
     * itself (sync_file_range) into the reserved file */
    for (int i = 0; i < 1000; i++) recs_add(&r, &rng, random_size(&rng) % 3000);
    struct wal_writer *w;
    assert_int_equal(wal_writer_open(env, path, 9, &w), 0);
    wal_writer_set_prealloc(w, 256 << 10, written);
    for (size_t i = 0; i < r.n; i++) {
        assert_int_equal(wal_add_record(w, r.data[i], r.len[i]), 0);
        r.end[i] = wal_file_size(w);
    }
    assert_int_equal(wal_sync(w), 0);
    assert_int_equal(wal_writer_close(w), 0);
    uint64_t sz;
    assert_int_equal(env_file_size(env, path, &sz), 0);
    assert_true(sz > r.end[r.n - 1]); /* the reservation is there */
    struct wal_reader *rd;
    assert_int_equal(read_expect(env, path, 9, &r, r.n, &rd), 0);
    assert_int_equal(wal_reader_tail_dropped(rd), 0);
    assert_string_equal(wal_reader_error_detail(rd), "");
    wal_reader_close(rd);

    /* a record after a zeroed hole: the hole is damage, not an end */
    struct memenv m;
    mem_init(&m);
    struct recs two = {0};
    recs_add(&two, &rng, 100);
    recs_add(&two, &rng, 100);
    write_log(&m.env, "x", 3, &two);
    memset(m.data.p, 0, (size_t)two.end[0]); /* the first record's pages were lost */
    assert_int_equal(wal_reader_open(&m.env, "x", 3, &rd), 0);
    struct buffer out = BUFFER_INIT;
    assert_int_equal(wal_read_record(rd, &out), -LSMER_ECORRUPT);
    wal_reader_close(rd);
    buffer_free(&out);
    buffer_free(&m.data);
    recs_free(&two);

    /* power loss: synced records and the synced reservation survive */
    struct lsmer_env *fe = fault_env_new(env_posix_default());
    snprintf(path, sizeof(path), "%s/000010.log", dir);
    assert_int_equal(wal_writer_open(fe, path, 10, &w), 0);
    wal_writer_set_prealloc(w, 64 << 10, written);
    assert_int_equal(env_sync_dir(fe, dir), 0);
    size_t synced = 0;
    for (size_t i = 0; i < r.n; i++) {
        assert_int_equal(wal_add_record(w, r.data[i], r.len[i]), 0);
        r.end[i] = wal_file_size(w);
        if (i < 150 && rng_one_in(&rng, 5)) {
            assert_int_equal(wal_sync(w), 0);
            synced = i + 1;
        }
    }
    fault_env_crash(fe);
    wal_writer_close(w);
    assert_int_equal(fault_env_restore(fe), 0);
    assert_int_equal(read_expect(fe, path, 10, &r, synced, &rd), 0);
    assert_int_equal(wal_reader_tail_dropped(rd), 0);
    wal_reader_close(rd);
    fault_env_free(fe);
    recs_free(&r);
    test_rmtree(dir);
    free(dir);
}

static void preallocated_tail(void **state)
{
    (void)state;
    preallocated_tail_mode(0);
    preallocated_tail_mode(1);
}

/* The way of reserving follows the syncs: a log synced after every small
 * record switches to written zeros at its next reservation, and back to
 * fallocate once it is written in bulk; every record reads back. */
static void prealloc_follows_syncs(void **state)
{
    (void)state;
    struct rng rng;
    rng_init(&rng, test_seed("prealloc_follows_syncs"));
    struct lsmer_env *env = env_posix_default();
    char *dir = test_tmpdir("wal");
    char path[600];
    snprintf(path, sizeof(path), "%s/000011.log", dir);
    struct recs r = {0};
    for (int i = 0; i < 600; i++) recs_add(&r, &rng, 1000);
    struct wal_writer *w;
    assert_int_equal(wal_writer_open(env, path, 11, &w), 0);
    wal_writer_set_prealloc(w, 64 << 10, 0);
    assert_int_equal(wal_writer_prealloc_written(w), 0);
    size_t i = 0;
    for (; i < 200; i++) { /* 200 KiB, a sync per record */
        assert_int_equal(wal_add_record(w, r.data[i], r.len[i]), 0);
        r.end[i] = wal_file_size(w);
        assert_int_equal(wal_sync(w), 0);
    }
    assert_int_equal(wal_writer_prealloc_written(w), 1);
    for (; i < r.n; i++) { /* 400 KiB, no sync */
        assert_int_equal(wal_add_record(w, r.data[i], r.len[i]), 0);
        r.end[i] = wal_file_size(w);
    }
    assert_int_equal(wal_writer_prealloc_written(w), 0);
    assert_int_equal(wal_sync(w), 0);
    assert_int_equal(wal_writer_close(w), 0);
    struct wal_reader *rd;
    assert_int_equal(read_expect(env, path, 11, &r, r.n, &rd), 0);
    assert_int_equal(wal_reader_tail_dropped(rd), 0);
    wal_reader_close(rd);
    recs_free(&r);
    test_rmtree(dir);
    free(dir);
}

/* Bulk appends are sent to disk behind the writer in 1 MiB steps (so the
 * sync that ends a log has little left to write): ranges follow one
 * another, never reach past what was appended, and the whole log but its
 * last step has been sent. */
static void writeback_behind_appends(void **state)
{
    (void)state;
    struct memenv m;
    mem_init(&m);
    struct wal_writer *w = NULL;
    assert_int_equal(wal_writer_open(&m.env, "log", 7, &w), 0);
    uint8_t *rec = malloc(100000);
    assert_non_null(rec);
    memset(rec, 'r', 100000);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(wal_add_record(w, rec, 1000 + (size_t)i * 1999), 0);
        assert_false(m.wb_bad);
        assert_true(m.data.n - m.wb_next < (1u << 20) + 100000);
    }
    for (int i = 0; i < 60; i++) assert_int_equal(wal_add_record(w, rec, 100000), 0);
    assert_false(m.wb_bad);
    assert_true(m.wb_calls >= (int)(m.data.n >> 20) - 1);
    assert_true(m.data.n - m.wb_next < (1u << 20) + 100000);
    assert_int_equal(wal_writer_close(w), 0);
    free(rec);
    buffer_free(&m.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip_posix),
        cmocka_unit_test(block_edges),
        cmocka_unit_test(format_by_hand),
        cmocka_unit_test(torn_tail_every_offset),
        cmocka_unit_test(bitflip_middle_and_last),
        cmocka_unit_test(detail_names_the_offset),
        cmocka_unit_test(other_log_never_replayed),
        cmocka_unit_test(garbage_never_crashes),
        cmocka_unit_test(writer_sticky_error_and_power_loss),
        cmocka_unit_test(preallocated_tail),
        cmocka_unit_test(prealloc_follows_syncs),
        cmocka_unit_test(writeback_behind_appends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
