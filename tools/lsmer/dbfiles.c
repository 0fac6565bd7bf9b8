/*
 * dbfiles.c — reading CURRENT, logs and tables file by file (dbfiles.h).
 * Logs go through the engine's own WAL reader (wal.h) so that the framing
 * rules are the engine's; tables are read here block by block because the
 * engine's table reader hides where in the file a failure was.
 */
#include "dbfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "block.h"
#include "crc32c.h"
#include "dbformat.h"
#include "env.h"
#include "filename.h"
#include "lsmer.h"
#include "wal.h"

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

int dbf_read_current(const char *dir, char *name, size_t cap, uint64_t *number)
{
    char path[4096];
    if (filename_current(path, sizeof(path), dir) != 0) return -ENAMETOOLONG;
    void *data = NULL;
    size_t len = 0;
    int rc = env_read_file(env_posix_default(), path, &data, &len);
    if (rc) return rc;
    const char *s = data;
    size_t n = len;
    if (n && s[n - 1] == '\n') n--;
    rc = -LSMER_ECORRUPT;
    if (n > 0 && n < cap && n < FILENAME_MAX_BYTES) {
        memcpy(name, s, n);
        name[n] = 0;
        enum file_kind kind;
        if (filename_parse(name, number, &kind) == 0 && kind == FILE_KIND_MANIFEST) rc = 0;
    }
    free(data);
    return rc;
}

int dbf_number_of(const char *path, int kind, uint64_t *number)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    enum file_kind k;
    if (filename_parse(base, number, &k) != 0 || (int)k != kind) return -EINVAL;
    return 0;
}

int dbf_walk_log(const char *path, uint64_t log_number, int strict, dbf_record_fn fn, void *arg,
                 uint64_t *dropped, char *err, size_t errlen)
{
    struct wal_reader *r = NULL;
    struct buffer rec = BUFFER_INIT;
    if (dropped) *dropped = 0;
    int rc = wal_reader_open(env_posix_default(), path, log_number, &r);
    if (rc) return fail(err, errlen, rc, "cannot open: %s", strerror(-rc));
    wal_reader_set_strict_tail(r, strict);
    for (;;) {
        rc = wal_read_record(r, &rec);
        if (rc == 0) break;
        if (rc < 0) {
            const char *d = wal_reader_error_detail(r);
            fail(err, errlen, rc, "%s", d && *d ? d : lsmer_strerror(rc));
            break;
        }
        rc = fn(arg, wal_reader_offset(r), rec.p, rec.n);
        if (rc) break;
    }
    if (rc == 0 && dropped) *dropped = wal_reader_tail_dropped(r);
    buffer_free(&rec);
    wal_reader_close(r);
    return rc;
}

int dbf_table_open(const char *path, struct dbf_table *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    t->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (t->fd < 0) return fail(err, errlen, -errno, "cannot open: %s", strerror(errno));
    off_t end = lseek(t->fd, 0, SEEK_END);
    if (end < 0) return fail(err, errlen, -errno, "cannot size: %s", strerror(errno));
    t->size = (uint64_t)end;
    uint8_t f[TABLE_FOOTER_SIZE];
    if (t->size < TABLE_FOOTER_SIZE)
        return fail(err, errlen, -LSMER_ECORRUPT, "file of %" PRIu64 " bytes is too short",
                    t->size);
    uint64_t at = t->size - TABLE_FOOTER_SIZE;
    ssize_t got = pread(t->fd, f, sizeof(f), (off_t)at);
    if (got < 0) return fail(err, errlen, -errno, "footer: read error: %s", strerror(errno));
    if ((size_t)got != sizeof(f))
        return fail(err, errlen, -LSMER_ECORRUPT, "footer at offset %" PRIu64 ": short read", at);
    if (get_fixed64(f + FOOTER_MAGIC_OFF) != TABLE_MAGIC)
        return fail(err, errlen, -LSMER_ECORRUPT,
                    "footer at offset %" PRIu64 ": bad magic number (not a table, or damaged)", at);
    uint32_t crc = crc32c(f, FOOTER_CRC_OFF);
    crc = crc32c_extend(crc, f + FOOTER_MAGIC_OFF, TABLE_FOOTER_SIZE - FOOTER_MAGIC_OFF);
    if (crc != crc32c_unmask(get_fixed32(f + FOOTER_CRC_OFF)))
        return fail(err, errlen, -LSMER_ECORRUPT, "footer at offset %" PRIu64 ": checksum mismatch",
                    at);
    t->version = get_fixed32(f + FOOTER_VERSION_OFF);
    if (t->version > TABLE_FORMAT_VERSION)
        return fail(err, errlen, -EPROTO, "format version %u is newer than this lsmer reads",
                    t->version);
    if (t->version == 0)
        return fail(err, errlen, -LSMER_ECORRUPT, "footer at offset %" PRIu64 ": version 0", at);
    for (int i = 0; i < FOOTER_NSLOTS; i++) {
        t->h[i].offset = get_fixed64(f + 16 * i);
        t->h[i].size = get_fixed64(f + 16 * i + 8);
    }
    return 0;
}

void dbf_table_close(struct dbf_table *t)
{
    if (t->fd >= 0) close(t->fd);
    t->fd = -1;
}

int dbf_table_block(const struct dbf_table *t, struct block_handle h, uint8_t **out, size_t *n,
                    int *type, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    uint64_t limit = t->size - TABLE_FOOTER_SIZE;
    if (h.offset > limit || h.size > limit - h.offset ||
        BLOCK_TRAILER_SIZE > limit - h.offset - h.size || h.size > BLOCK_MAX_RAW)
        return fail(err, errlen, -LSMER_ECORRUPT,
                    "block handle (offset %" PRIu64 ", size %" PRIu64 ") outside the file",
                    h.offset, h.size);
    size_t len = (size_t)h.size + BLOCK_TRAILER_SIZE;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) return -ENOMEM;
    size_t done = 0;
    while (done < len) {
        ssize_t got = pread(t->fd, buf + done, len - done, (off_t)(h.offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int e = errno;
            free(buf);
            return fail(err, errlen, -e, "block at offset %" PRIu64 ": read error: %s", h.offset,
                        strerror(e));
        }
        if (got == 0) break;
        done += (size_t)got;
    }
    if (done != len) {
        free(buf);
        return fail(err, errlen, -LSMER_ECORRUPT, "block at offset %" PRIu64 ": file truncated",
                    h.offset);
    }
    uint8_t ty = buf[h.size];
    *type = ty;
    uint32_t want = crc32c_unmask(get_fixed32(buf + h.size + 1));
    if (crc32c(buf, (size_t)h.size + 1) != want) {
        free(buf);
        return fail(err, errlen, -LSMER_ECORRUPT,
                    "block at offset %" PRIu64 " (%" PRIu64 " bytes): checksum mismatch", h.offset,
                    h.size);
    }
    if (ty == BLOCK_TYPE_NONE) {
        *out = buf;
        *n = (size_t)h.size;
        return 0;
    }
    if (ty != BLOCK_TYPE_ZSTD) {
        free(buf);
        return fail(err, errlen, -LSMER_ECORRUPT, "block at offset %" PRIu64 ": unknown type %u",
                    h.offset, ty);
    }
    unsigned long long rawn = ZSTD_getFrameContentSize(buf, (size_t)h.size);
    if (rawn == ZSTD_CONTENTSIZE_UNKNOWN || rawn == ZSTD_CONTENTSIZE_ERROR ||
        rawn > BLOCK_MAX_RAW) {
        free(buf);
        return fail(err, errlen, -LSMER_ECORRUPT,
                    "block at offset %" PRIu64 ": bad zstd frame header", h.offset);
    }
    uint8_t *raw = malloc(rawn ? (size_t)rawn : 1);
    if (!raw) {
        free(buf);
        return -ENOMEM;
    }
    size_t r = ZSTD_decompress(raw, (size_t)rawn, buf, (size_t)h.size);
    free(buf);
    if (ZSTD_isError(r) || r != rawn) {
        free(raw);
        return fail(err, errlen, -LSMER_ECORRUPT, "block at offset %" PRIu64 ": zstd: %s", h.offset,
                    ZSTD_isError(r) ? ZSTD_getErrorName(r) : "short output");
    }
    *out = raw;
    *n = (size_t)rawn;
    return 0;
}

int dbf_block_entries(const uint8_t *data, size_t n, int internal, dbf_entry_fn fn, void *arg,
                      char *err, size_t errlen)
{
    struct block *b = block_new(slice_make(data, n), NULL);
    if (!b) return -ENOMEM;
    if (b->err) {
        block_free(b);
        return fail(err, errlen, -LSMER_ECORRUPT, "bad restart array");
    }
    struct block_iter it;
    block_iter_init(&it, b, internal ? ikey_compare_raw : bytewise_compare_raw);
    int rc = 0;
    uint64_t i = 0;
    for (iter_seek_first(&it.base); iter_valid(&it.base); iter_next(&it.base), i++) {
        struct slice k = iter_key(&it.base), v = iter_value(&it.base);
        if (internal && !ikey_valid(k)) {
            rc = fail(err, errlen, -LSMER_ECORRUPT, "entry %" PRIu64 ": bad internal key", i);
            break;
        }
        if (fn && (rc = fn(arg, k.p, k.n, v.p, v.n)) != 0) break;
    }
    if (rc == 0 && iter_status(&it.base) != 0)
        rc = fail(err, errlen, -LSMER_ECORRUPT, "entry %" PRIu64 " does not decode", i);
    block_iter_cleanup(&it);
    block_free(b);
    return rc;
}
