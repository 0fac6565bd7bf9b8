/*
 * wal.c — log writer and reader; the format and its reasoning are in wal.h
 * and docs/format-wal.md.
 */
#include "wal.h"

#include <errno.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "lsmer.h"

#define WAL_MAX_TYPE WAL_LAST

/* crc32c of (log number as 8 LE bytes, type byte) for each type: a
 * fragment's checksum continues from here over its payload. */
static void wal_type_crcs(uint64_t log_number, uint32_t crcs[WAL_MAX_TYPE + 1])
{
    uint8_t num[8];
    put_fixed64(num, log_number);
    uint32_t seed = crc32c(num, sizeof(num));
    for (int t = 0; t <= WAL_MAX_TYPE; t++) {
        uint8_t b = (uint8_t)t;
        crcs[t] = crc32c_extend(seed, &b, 1);
    }
}

/* ----------------------------------------------------------------- writer */

/* Reserve by writing zeros while the log is synced at least once per this
 * many bytes appended, in chunks of at most WAL_ZEROS_CHUNK (the first
 * sync after a reservation writes the whole chunk). Measured on ext4: a
 * 2 KiB append + fdatasync 96-108 µs into written zeros, 130-170 µs into
 * fallocated blocks; bulk writes lose ~30% when zeros go ahead of them. */
#define WAL_ZEROS_SYNC_SPAN (64u << 10)
#define WAL_ZEROS_CHUNK (1u << 20)

struct wal_writer {
    struct env_file *f;
    uint32_t type_crc[WAL_MAX_TYPE + 1];
    size_t block_off; /* bytes used in the current block */
    uint64_t size;
    /* Sticky: the file's tail is unknown after a failed append. Atomic: the
     * appender and the syncer (db_write.c) run at once without a lock. */
    atomic_int err;
    struct buffer buf;
    uint64_t prealloc_chunk; /* 0: none (wal_writer_set_prealloc) */
    uint64_t prealloc_end;   /* the file is reserved up to here */
    uint64_t prealloc_from;  /* size when the last reservation was made */
    int prealloc_written;    /* reserve by writing zeros (see wal_add_record) */
    atomic_uint syncs;       /* wal_sync calls since the last reservation */
    uint64_t writeback_from; /* appended bytes before this were sent to disk */
};

/* Bulk appends are sent to disk behind the writer in steps of this many
 * bytes (sync_file_range, not waited for): the sync that ends a log at a
 * memtable switch, taken by a writer with the database lock held, then
 * finds little left to write. RocksDB's wal_bytes_per_sync. */
#define WAL_WRITEBACK_STEP (1u << 20)

void wal_writer_set_prealloc(struct wal_writer *w, uint64_t chunk, int written)
{
    w->prealloc_chunk = chunk;
    w->prealloc_written = written;
}

int wal_writer_prealloc_written(const struct wal_writer *w)
{
    return w->prealloc_written;
}

int wal_writer_open(struct lsmer_env *env, const char *path, uint64_t log_number,
                    struct wal_writer **out)
{
    struct wal_writer *w;
    int rc;

    *out = NULL;
    w = calloc(1, sizeof(*w));
    if (!w) return -ENOMEM;
    rc = env_open(env, path, ENV_WRITE, &w->f);
    if (rc < 0) {
        free(w);
        return rc;
    }
    wal_type_crcs(log_number, w->type_crc);
    *out = w;
    return 0;
}

int wal_add_record(struct wal_writer *w, const void *data, size_t n)
{
    static const uint8_t zeros[WAL_HEADER_SIZE];
    const uint8_t *p = data;
    size_t left = n, block_off = w->block_off;
    int begin = 1, rc;

    if (w->err) return w->err;
    /* Worst case: padding, plus one header per started block. */
    size_t frags = n / (WAL_BLOCK_SIZE - WAL_HEADER_SIZE) + 2;
    if (n > SIZE_MAX / 2 - frags * WAL_HEADER_SIZE) return -ENOMEM;
    buffer_clear(&w->buf);
    rc = buffer_reserve(&w->buf, n + frags * WAL_HEADER_SIZE + WAL_HEADER_SIZE);
    if (rc < 0) return rc;
    /* do-while: an empty record still gets one FULL fragment. */
    do {
        size_t room = WAL_BLOCK_SIZE - block_off;
        if (room < WAL_HEADER_SIZE) {
            buffer_append(&w->buf, zeros, room); /* cannot fail: reserved */
            block_off = 0;
            room = WAL_BLOCK_SIZE;
        }
        size_t frag = left < room - WAL_HEADER_SIZE ? left : room - WAL_HEADER_SIZE;
        int end = frag == left;
        uint8_t type = begin && end ? WAL_FULL : begin ? WAL_FIRST : end ? WAL_LAST : WAL_MIDDLE;
        uint8_t h[WAL_HEADER_SIZE];
        uint32_t crc = crc32c_extend(w->type_crc[type], p, frag);
        put_fixed32(h, crc32c_mask(crc));
        h[4] = (uint8_t)frag;
        h[5] = (uint8_t)(frag >> 8);
        h[6] = type;
        buffer_append(&w->buf, h, sizeof(h));
        if (frag) buffer_append(&w->buf, p, frag);
        p += frag;
        left -= frag;
        block_off += WAL_HEADER_SIZE + frag;
        begin = 0;
    } while (left > 0);

    if (w->prealloc_chunk && w->size + w->buf.n > w->prealloc_end) {
        /* Written zeros make every later sync cheaper but cost writing the
         * chunk once (the first sync flushes it); reserved blocks cost
         * nothing until used but each sync converts what it covers. So
         * zeros, in smaller chunks, while the log is synced at least once
         * per WAL_ZEROS_SYNC_SPAN bytes appended (fsync loops, config
         * updates); a reservation while it is written in bulk. */
        uint64_t appended = w->size - w->prealloc_from;
        unsigned syncs = atomic_exchange(&w->syncs, 0);
        if (appended) w->prealloc_written = (uint64_t)syncs * WAL_ZEROS_SYNC_SPAN >= appended;
        uint64_t chunk = w->prealloc_chunk;
        if (w->prealloc_written && chunk > WAL_ZEROS_CHUNK) chunk = WAL_ZEROS_CHUNK;
        uint64_t len = chunk > w->buf.n ? chunk : w->buf.n;
        /* Best effort: without it (no support, no space) appends still
         * work, each sync then also records the new size. */
        if (env_prealloc(w->f, len, w->prealloc_written) == 0) {
            w->prealloc_end = w->size + len;
            w->prealloc_from = w->size;
        } else {
            w->prealloc_chunk = 0;
        }
    }
    rc = env_append(w->f, w->buf.p, w->buf.n);
    if (rc < 0) {
        atomic_store(&w->err, rc);
        return rc;
    }
    w->block_off = block_off;
    w->size += w->buf.n;
    if (w->size - w->writeback_from >= WAL_WRITEBACK_STEP) {
        /* whole pages only: the next append dirties the last one again */
        uint64_t end = w->size & ~(uint64_t)4095;
        env_start_writeback(w->f, w->writeback_from, end - w->writeback_from);
        w->writeback_from = end;
    }
    /* Do not keep a huge buffer around after one big record. */
    if (w->buf.cap > 4 * WAL_BLOCK_SIZE) buffer_free(&w->buf);
    return 0;
}

int wal_sync(struct wal_writer *w)
{
    int err = atomic_load(&w->err);
    if (err) return err;
    atomic_fetch_add_explicit(&w->syncs, 1, memory_order_relaxed);
    return env_sync(w->f);
}

int wal_sync_prefix(struct wal_writer *w)
{
    atomic_fetch_add_explicit(&w->syncs, 1, memory_order_relaxed);
    return env_sync(w->f);
}

uint64_t wal_file_size(const struct wal_writer *w)
{
    return w->size;
}

int wal_writer_close(struct wal_writer *w)
{
    int rc;
    if (!w) return 0;
    rc = env_close(w->f);
    buffer_free(&w->buf);
    free(w);
    return rc;
}

/* ----------------------------------------------------------------- reader */

struct wal_reader {
    struct env_file *f;
    uint32_t type_crc[WAL_MAX_TYPE + 1];
    uint64_t file_size;
    uint8_t *block;       /* the block being parsed */
    uint8_t *scratch;     /* a later block, while looking past damage */
    uint64_t block_start; /* file offset of block[0] */
    size_t block_len;     /* valid bytes in block; < WAL_BLOCK_SIZE only at EOF */
    size_t pos;           /* next fragment in block */
    int loaded;
    uint64_t good_end; /* offset past the last record returned */
    uint64_t dropped;
    int eof;
    int strict_tail; /* a whole final fragment that fails its checksum is corruption */
    int err;
    char detail[200];
};

int wal_reader_open(struct lsmer_env *env, const char *path, uint64_t log_number,
                    struct wal_reader **out)
{
    struct wal_reader *r;
    int rc;

    *out = NULL;
    r = calloc(1, sizeof(*r));
    if (!r) return -ENOMEM;
    r->block = malloc(WAL_BLOCK_SIZE);
    if (!r->block) {
        rc = -ENOMEM;
        goto fail;
    }
    rc = env_open(env, path, ENV_READ, &r->f);
    if (rc < 0) goto fail;
    rc = env_size(r->f, &r->file_size);
    if (rc < 0) goto fail;
    wal_type_crcs(log_number, r->type_crc);
    *out = r;
    return 0;
fail:
    env_close(r->f);
    free(r->block);
    free(r);
    return rc;
}

/* Reads the block starting at off into buf; *len < WAL_BLOCK_SIZE at EOF. */
static int wal_load(struct wal_reader *r, uint64_t off, uint8_t *buf, size_t *len)
{
    uint64_t want = r->file_size - off;
    if (want > WAL_BLOCK_SIZE) want = WAL_BLOCK_SIZE;
    return env_pread(r->f, buf, (size_t)want, off, len);
}

/* 1 if a fragment may start at buf[p] as far as the writer's layout goes:
 * MIDDLE and LAST only begin a block, FIRST and MIDDLE always end one, and
 * the fragment fits in the len bytes at hand. */
static int wal_fragment_placed(const uint8_t *buf, size_t len, size_t p)
{
    if (p + WAL_HEADER_SIZE > len) return 0;
    const uint8_t *h = buf + p;
    unsigned type = h[6];
    size_t n = (size_t)h[4] | (size_t)h[5] << 8;
    size_t end = p + WAL_HEADER_SIZE + n;
    if (type < WAL_FULL || type > WAL_MAX_TYPE || end > len) return 0;
    if ((type == WAL_MIDDLE || type == WAL_LAST) && p != 0) return 0;
    if ((type == WAL_FIRST || type == WAL_MIDDLE) && end != WAL_BLOCK_SIZE) return 0;
    return 1;
}

/* 1 if a well-placed fragment that verifies starts at buf[p]. */
static int wal_fragment_ok(const struct wal_reader *r, const uint8_t *buf, size_t len, size_t p)
{
    if (!wal_fragment_placed(buf, len, p)) return 0;
    const uint8_t *h = buf + p;
    size_t n = (size_t)h[4] | (size_t)h[5] << 8;
    uint32_t crc = crc32c_extend(r->type_crc[h[6]], h + WAL_HEADER_SIZE, n);
    return crc32c_mask(crc) == get_fixed32(h);
}

/* Looks for any verifying fragment after the damaged one at block[pos].
 * First along the chain its length field gives (right when the damage is in
 * the payload or checksum); then at every byte offset in the rest of this
 * block (the length itself may be the damage); then at the start of each
 * later block (a writer always starts a block with a header). */
static int wal_scan_after(struct wal_reader *r, uint64_t *found)
{
    const uint8_t *blk = r->block;
    size_t p = r->pos;
    int rc;

    *found = UINT64_MAX;
    for (;;) {
        size_t n = (size_t)blk[p + 4] | (size_t)blk[p + 5] << 8;
        p += WAL_HEADER_SIZE + n;
        if (p + WAL_HEADER_SIZE > r->block_len) break;
        if (wal_fragment_ok(r, blk, r->block_len, p)) {
            *found = r->block_start + p;
            return 0;
        }
    }
    /* Mid-block only FULL and FIRST can start (see wal_fragment_placed), so
     * hop between bytes that could be their type field with memchr. */
    for (int t = WAL_FULL; t <= WAL_FIRST; t++) {
        size_t q = r->pos + 1 + 6; /* type byte of a header at pos + 1 */
        while (q < r->block_len) {
            const uint8_t *hit = memchr(blk + q, t, r->block_len - q);
            if (!hit) break;
            q = (size_t)(hit - blk);
            if (wal_fragment_ok(r, blk, r->block_len, q - 6)) {
                *found = r->block_start + q - 6;
                return 0;
            }
            q++;
        }
    }
    if (!r->scratch) {
        r->scratch = malloc(WAL_BLOCK_SIZE);
        if (!r->scratch) return -ENOMEM;
    }
    for (uint64_t off = r->block_start + WAL_BLOCK_SIZE; off < r->file_size;
         off += WAL_BLOCK_SIZE) {
        size_t len = 0;
        rc = wal_load(r, off, r->scratch, &len);
        if (rc < 0) return rc;
        if (wal_fragment_ok(r, r->scratch, len, 0)) {
            *found = off;
            return 0;
        }
    }
    return 0;
}

/* 1 if every byte of [off, file_size) reads as zero (space the writer
 * reserved and never used), 0 if not, or a negative errno. */
static int wal_zeros_to_end(struct wal_reader *r, uint64_t off)
{
    if (off < r->file_size && !r->scratch) {
        r->scratch = malloc(WAL_BLOCK_SIZE);
        if (!r->scratch) return -ENOMEM;
    }
    while (off < r->file_size) {
        size_t got = 0;
        int rc = wal_load(r, off, r->scratch, &got);
        if (rc < 0) return rc;
        if (got == 0) return 1; /* the file shrank: nothing more to judge */
        for (size_t i = 0; i < got; i++)
            if (r->scratch[i]) return 0;
        off += got;
    }
    return 1;
}

static int wal_end(struct wal_reader *r)
{
    r->eof = 1;
    /* A preallocated tail (zeros) is the clean end of a log, not a torn
     * write. */
    int zeros = wal_zeros_to_end(r, r->good_end);
    if (zeros < 0) {
        snprintf(r->detail, sizeof(r->detail), "read error %d at offset %" PRIu64, zeros,
                 r->good_end);
        r->err = zeros;
        return zeros;
    }
    r->dropped = zeros ? 0 : r->file_size - r->good_end;
    return 0;
}

static int wal_corrupt(struct wal_reader *r)
{
    r->err = -LSMER_ECORRUPT;
    return r->err;
}

/* The fragment at block[pos] does not verify: corruption if anything valid
 * follows, else a torn tail (the end of the log). */
static int wal_damage(struct wal_reader *r, const char *what)
{
    uint64_t at = r->block_start + r->pos, found;
    int rc = wal_scan_after(r, &found);
    if (rc < 0) {
        snprintf(r->detail, sizeof(r->detail), "read error %d after %s at offset %" PRIu64, rc,
                 what, at);
        r->err = rc;
        return rc;
    }
    if (found == UINT64_MAX) return wal_end(r);
    snprintf(r->detail, sizeof(r->detail),
             "%s at offset %" PRIu64 " (valid data follows at offset %" PRIu64 ")", what, at,
             found);
    return wal_corrupt(r);
}

int wal_read_record(struct wal_reader *r, struct buffer *out)
{
    uint64_t rec_start = 0;
    int in_rec = 0, rc;

    if (r->err) return r->err;
    if (r->eof) return 0;
    buffer_clear(out);
    for (;;) {
        if (!r->loaded || r->pos + WAL_HEADER_SIZE > r->block_len) {
            /* The rest of this block is padding (or a cut header at EOF). */
            uint64_t next = r->loaded ? r->block_start + WAL_BLOCK_SIZE : 0;
            if (next >= r->file_size) return wal_end(r); /* an open record is torn */
            rc = wal_load(r, next, r->block, &r->block_len);
            if (rc < 0) {
                snprintf(r->detail, sizeof(r->detail), "read error %d at offset %" PRIu64, rc,
                         next);
                r->err = rc;
                return rc;
            }
            r->block_start = next;
            r->pos = 0;
            r->loaded = 1;
            if (r->block_len == 0) return wal_end(r); /* file shrank under us */
            continue;
        }
        const uint8_t *h = r->block + r->pos;
        unsigned type = h[6];
        size_t n = (size_t)h[4] | (size_t)h[5] << 8;
        uint64_t frag_off = r->block_start + r->pos;

        if (type < WAL_FULL || type > WAL_MAX_TYPE) return wal_damage(r, "bad fragment type");
        if (r->pos + WAL_HEADER_SIZE + n > r->block_len) {
            int cut =
                r->block_len < WAL_BLOCK_SIZE && r->pos + WAL_HEADER_SIZE + n <= WAL_BLOCK_SIZE;
            return wal_damage(r, cut ? "truncated fragment" : "bad fragment length");
        }
        if (!wal_fragment_ok(r, r->block, r->block_len, r->pos)) {
            int placed = wal_fragment_placed(r->block, r->block_len, r->pos);
            if (placed && r->strict_tail) {
                snprintf(r->detail, sizeof(r->detail),
                         "bad checksum in a complete fragment at offset %" PRIu64, frag_off);
                return wal_corrupt(r);
            }
            return wal_damage(r, placed ? "bad checksum" : "misplaced fragment");
        }
        /* The fragment verifies, so anything wrong now is damage followed by
         * valid data: corruption. */
        if ((type == WAL_FULL || type == WAL_FIRST) && in_rec) {
            snprintf(r->detail, sizeof(r->detail),
                     "record at offset %" PRIu64 " lacks its last fragment (new record at offset "
                     "%" PRIu64 ")",
                     rec_start, frag_off);
            return wal_corrupt(r);
        }
        if ((type == WAL_MIDDLE || type == WAL_LAST) && !in_rec) {
            snprintf(r->detail, sizeof(r->detail),
                     "fragment without a record start at offset %" PRIu64, frag_off);
            return wal_corrupt(r);
        }
        rc = buffer_append(out, h + WAL_HEADER_SIZE, n);
        if (rc < 0) {
            r->err = rc;
            return rc;
        }
        r->pos += WAL_HEADER_SIZE + n;
        if (type == WAL_FULL || type == WAL_LAST) {
            r->good_end = r->block_start + r->pos;
            return 1;
        }
        if (type == WAL_FIRST) {
            in_rec = 1;
            rec_start = frag_off;
        }
    }
}

void wal_reader_set_strict_tail(struct wal_reader *r, int strict)
{
    r->strict_tail = strict;
}

uint64_t wal_reader_tail_dropped(const struct wal_reader *r)
{
    return r->dropped;
}

uint64_t wal_reader_offset(const struct wal_reader *r)
{
    return r->good_end;
}

const char *wal_reader_error_detail(const struct wal_reader *r)
{
    return r->detail;
}

void wal_reader_close(struct wal_reader *r)
{
    if (!r) return;
    env_close(r->f);
    free(r->block);
    free(r->scratch);
    free(r);
}
