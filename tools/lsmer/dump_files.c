/*
 * dump_files.c — `lsmer dump --wal/--sst/--manifest FILE`: one engine file
 * in readable form, read with dbfiles.h (see dump.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "cli.h"
#include "dbfiles.h"
#include "dbformat.h"
#include "dump.h"
#include "filename.h"
#ifdef LSMER_WITH_FS
#include "keys.h"
#endif
#include "version_edit.h"

void dump_bytes(FILE *f, const void *p, size_t n, int raw, size_t max)
{
    const uint8_t *b = p;
    size_t shown = max && n > max ? max : n;
    if (raw) {
        for (size_t i = 0; i < shown; i++) fprintf(f, "%02x", b[i]);
        if (shown == 0) fputs("(empty)", f);
    } else {
        fputc('"', f);
        for (size_t i = 0; i < shown; i++) {
            uint8_t c = b[i];
            if (c == '"' || c == '\\')
                fprintf(f, "\\%c", c);
            else if (c >= 0x20 && c < 0x7f)
                fputc(c, f);
            else
                fprintf(f, "\\x%02x", c);
        }
        fputc('"', f);
    }
    if (shown < n) fprintf(f, "... (%zu bytes)", n);
}

void dump_key(FILE *f, const void *p, size_t n, int raw)
{
#ifdef LSMER_WITH_FS
    const uint8_t *k = p;
    uint64_t ino, bno;
    const char *name;
    size_t nlen;
    if (!raw && n > 0) {
        if (k[0] == KEY_SUPER && n == 1) {
            fputs("S", f);
            return;
        }
        if ((k[0] == KEY_INODE || k[0] == KEY_ORPHAN) && key_parse_ino(k, n, k[0], &ino) == 0) {
            fprintf(f, "%c:%" PRIu64, k[0], ino);
            return;
        }
        if (k[0] == KEY_BLOCK && key_parse_block(k, n, &ino, &bno) == 0) {
            fprintf(f, "b:%" PRIu64 "/%" PRIu64, ino, bno);
            return;
        }
        if ((k[0] == KEY_DENTRY || k[0] == KEY_XATTR) &&
            key_parse_named(k, n, k[0], &ino, &name, &nlen) == 0 && nlen > 0) {
            fprintf(f, "%c:%" PRIu64 "/", k[0], ino);
            dump_bytes(f, name, nlen, 0, 0);
            return;
        }
    }
#endif
    dump_bytes(f, p, n, raw, 0);
}

static const char *type_name(int t)
{
    switch (t) {
    case TYPE_VALUE:
        return "put";
    case TYPE_DELETE:
        return "del";
    case TYPE_RANGE_DELETE:
        return "delrange";
    default:
        return "?";
    }
}

void dump_ikey(FILE *f, const uint8_t *k, size_t n, int raw)
{
    struct slice s = slice_make(k, n);
    if (!ikey_valid(s)) {
        fputs("(bad internal key) ", f);
        dump_bytes(f, k, n, 1, 0);
        return;
    }
    dump_key(f, k, n - IKEY_TRAILER, raw);
    fprintf(f, " @%" PRIu64 " %s", ikey_seq(s), type_name(ikey_type(s)));
}

long dump_unescape(const char *s, uint8_t *out)
{
    long n = 0;
    while (*s) {
        if (*s != '\\') {
            out[n++] = (uint8_t)*s++;
            continue;
        }
        s++;
        if (*s == '\\') {
            out[n++] = '\\';
            s++;
        } else if (*s == 'n') {
            out[n++] = '\n';
            s++;
        } else if (*s == 't') {
            out[n++] = '\t';
            s++;
        } else if (*s == 'x') {
            unsigned v;
            if (sscanf(s + 1, "%2x", &v) != 1 || !s[1] || !s[2]) return -1;
            out[n++] = (uint8_t)v;
            s += 3;
        } else {
            return -1;
        }
    }
    return n;
}

static int damaged(const char *path, const char *what)
{
    fflush(stdout);
    printf("DAMAGE %s: %s\n", path, what);
    return DUMP_DAMAGE;
}

static int cannot(const char *path, int rc, const char *err)
{
    cli_error("dump", "cannot read %s: %s; %s", path, err && *err ? err : lsmer_strerror(rc),
              cli_hint(rc));
    return DUMP_FAIL;
}

/* The number that seeds a log's checksums is in its name. */
static int log_number_of(const char *path, int kind, uint64_t *number)
{
    if (dbf_number_of(path, kind, number) == 0) return 0;
    cli_error("dump",
              "%s: the name is not a %s name (%s): the checksums of its records are seeded "
              "with the number in the original name; dump the file under that name",
              path, kind == FILE_KIND_LOG ? "WAL" : "manifest",
              kind == FILE_KIND_LOG ? "NNNNNN.log" : "MANIFEST-NNNNNN");
    return -EINVAL;
}

/* ---- WAL --------------------------------------------------------------- */

struct wal_dump {
    const struct dump_opts *o;
    uint64_t records, ops, prev_end;
    int bad;
};

static int print_op(void *arg, int type, struct slice k, struct slice v)
{
    const struct dump_opts *o = arg;
    printf("  %-8s ", type_name(type));
    dump_key(stdout, k.p, k.n, o->raw);
    if (type == TYPE_VALUE) {
        printf(" = ");
        dump_bytes(stdout, v.p, v.n, o->raw, o->value_max);
    } else if (type == TYPE_RANGE_DELETE) {
        printf(" .. ");
        dump_key(stdout, v.p, v.n, o->raw);
    }
    printf("\n");
    return 0;
}

static int on_wal_record(void *arg, uint64_t end, const uint8_t *rec, size_t n)
{
    struct wal_dump *w = arg;
    struct slice s = slice_make(rec, n);
    w->records++;
    printf("record %" PRIu64 " at offset %" PRIu64 ", %zu bytes", w->records, w->prev_end, n);
    w->prev_end = end;
    if (n < BATCH_HEADER) {
        printf(": not a write batch\n");
        w->bad = 1;
        return 0;
    }
    printf(": batch seq %" PRIu64 ", %u op%s\n", batch_sequence(s), batch_count_rep(s),
           batch_count_rep(s) == 1 ? "" : "s");
    w->ops += batch_count_rep(s);
    if (batch_iterate(s, print_op, (void *)w->o) != 0) {
        printf("  (the batch does not parse)\n");
        w->bad = 1;
    }
    return 0;
}

int dump_wal(const char *path, const struct dump_opts *o)
{
    uint64_t number, dropped = 0;
    if (log_number_of(path, FILE_KIND_LOG, &number)) return DUMP_FAIL;
    printf("WAL %s (log number %" PRIu64 ")\n", path, number);
    struct wal_dump w = {o, 0, 0, 0, 0};
    char err[DBF_ERR_LEN] = "";
    int rc = dbf_walk_log(path, number, 0, on_wal_record, &w, &dropped, err, sizeof(err));
    if (rc == -LSMER_ECORRUPT) return damaged(path, err);
    if (rc) return cannot(path, rc, err);
    printf("%" PRIu64 " records, %" PRIu64 " ops", w.records, w.ops);
    if (dropped) printf("; a torn tail of %" PRIu64 " bytes (dropped at open)", dropped);
    printf("\n");
    return w.bad ? damaged(path, "a record that passes its checksum is no valid batch") : DUMP_OK;
}

/* ---- manifest ---------------------------------------------------------- */

struct manifest_dump {
    const struct dump_opts *o;
    uint64_t edits, prev_end;
    int bad;
};

static int on_manifest_record(void *arg, uint64_t end, const uint8_t *rec, size_t n)
{
    struct manifest_dump *m = arg;
    struct version_edit e;
    version_edit_init(&e);
    m->edits++;
    printf("edit %" PRIu64 " at offset %" PRIu64 ", %zu bytes", m->edits, m->prev_end, n);
    m->prev_end = end;
    int rc = version_edit_decode(&e, rec, n);
    if (rc == -ENOMEM) return rc;
    if (rc) {
        printf(": does not decode (%s)\n", rc == -EPROTO ? "newer format" : "corrupt");
        m->bad = 1;
        return 0;
    }
    printf(": format %u\n", e.format);
    if (e.has_log_number) printf("  log_number     %" PRIu64 "\n", e.log_number);
    if (e.has_next_file_number) printf("  next_file      %" PRIu64 "\n", e.next_file_number);
    if (e.has_last_sequence) printf("  last_sequence  %" PRIu64 "\n", e.last_sequence);
    for (size_t i = 0; i < e.n_cps; i++) {
        printf("  compact_ptr    L%d ", e.cps[i].level);
        dump_ikey(stdout, e.cps[i].key.p, e.cps[i].key.n, m->o->raw);
        printf("\n");
    }
    for (size_t i = 0; i < e.n_deleted; i++)
        printf("  delete_file    L%d %06" PRIu64 ".sst\n", e.deleted[i].level, e.deleted[i].number);
    for (size_t i = 0; i < e.n_added; i++) {
        const struct file_meta *f = e.added[i].f;
        printf("  add_file       L%d %06" PRIu64 ".sst %" PRIu64 " bytes, %" PRIu64
               " entries (%" PRIu64 " deletions, %" PRIu64 " range deletions), seq %" PRIu64
               "..%" PRIu64 "\n",
               e.added[i].level, f->number, f->file_size, f->num_entries, f->num_deletions,
               f->num_range_deletions, f->smallest_seq, f->largest_seq);
        printf("                 smallest ");
        dump_ikey(stdout, f->smallest.p, f->smallest.n, m->o->raw);
        printf("\n                 largest  ");
        dump_ikey(stdout, f->largest.p, f->largest.n, m->o->raw);
        printf("\n");
    }
    version_edit_free(&e);
    return 0;
}

int dump_manifest(const char *path, const struct dump_opts *o)
{
    uint64_t number, dropped = 0;
    if (log_number_of(path, FILE_KIND_MANIFEST, &number)) return DUMP_FAIL;
    printf("manifest %s (number %" PRIu64 ")\n", path, number);
    struct manifest_dump m = {o, 0, 0, 0};
    char err[DBF_ERR_LEN] = "";
    int rc = dbf_walk_log(path, number, 1, on_manifest_record, &m, &dropped, err, sizeof(err));
    if (rc == -LSMER_ECORRUPT) return damaged(path, err);
    if (rc) return cannot(path, rc, err);
    printf("%" PRIu64 " edits", m.edits);
    if (dropped) printf("; a torn tail of %" PRIu64 " bytes", dropped);
    printf("\n");
    return m.bad ? damaged(path, "an edit that passes its checksum does not decode") : DUMP_OK;
}

/* ---- table ------------------------------------------------------------- */

struct sst_dump {
    const struct dump_opts *o;
    struct block_handle *h;
    size_t n, cap;
    uint64_t entries;
};

static int on_prop(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
    (void)arg;
    printf("  %-32.*s ", (int)klen, (const char *)k);
    uint64_t num;
    const char *name = (const char *)k;
    int is_key = klen >= 9 && memcmp(name, "lsmer.key", 9) == 0;
    if (is_key)
        dump_ikey(stdout, v, vlen, 0);
    else if (get_varint64(v, v + vlen, &num) == v + vlen)
        printf("%" PRIu64, num);
    else
        dump_bytes(stdout, v, vlen, 0, 64);
    printf("\n");
    return 0;
}

static int on_index(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
    struct sst_dump *d = arg;
    struct block_handle h;
    printf("  ");
    dump_ikey(stdout, k, klen, d->o->raw);
    if (block_handle_decode(v, v + vlen, &h) != v + vlen) {
        printf(" -> (bad handle)\n");
        return 0;
    }
    printf(" -> block at %" PRIu64 ", %" PRIu64 " bytes\n", h.offset, h.size);
    if (d->n == d->cap) {
        size_t n = d->cap ? d->cap * 2 : 64;
        struct block_handle *nh = realloc(d->h, n * sizeof(*nh));
        if (!nh) return -ENOMEM;
        d->h = nh;
        d->cap = n;
    }
    d->h[d->n++] = h;
    return 0;
}

static int on_entry(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
    struct sst_dump *d = arg;
    d->entries++;
    if (!d->o->keys) return 0;
    printf("    ");
    dump_ikey(stdout, k, klen, d->o->raw);
    if (ikey_type(slice_make(k, klen)) == TYPE_VALUE) {
        printf(" = ");
        dump_bytes(stdout, v, vlen, d->o->raw, d->o->value_max);
    }
    printf("\n");
    return 0;
}

static int on_tombstone(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
    const struct dump_opts *o = arg;
    printf("  [");
    dump_ikey(stdout, k, klen, o->raw);
    printf(" .. ");
    dump_key(stdout, v, vlen, o->raw);
    printf(")\n");
    return 0;
}

/* Reads and prints one meta block; 0, or a dump status. */
static int sst_block(const char *path, const struct dbf_table *t, struct block_handle h,
                     const char *what, int internal, dbf_entry_fn fn, void *arg)
{
    uint8_t *data;
    size_t n;
    int type;
    char err[DBF_ERR_LEN], msg[DBF_ERR_LEN + 128];
    int rc = dbf_table_block(t, h, &data, &n, &type, err, sizeof(err));
    if (rc == -LSMER_ECORRUPT) {
        snprintf(msg, sizeof(msg), "%s block: %s", what, err);
        return damaged(path, msg);
    }
    if (rc) return cannot(path, rc, err);
    printf("%s block at %" PRIu64 ", %" PRIu64 " bytes on disk%s, %zu bytes:\n", what, h.offset,
           h.size, type == 1 ? " (zstd)" : "", n);
    rc = dbf_block_entries(data, n, internal, fn, arg, err, sizeof(err));
    free(data);
    if (rc == -LSMER_ECORRUPT) {
        snprintf(msg, sizeof(msg), "%s block at offset %" PRIu64 ": %s", what, h.offset, err);
        return damaged(path, msg);
    }
    return rc ? cannot(path, rc, err) : 0;
}

int dump_sst(const char *path, const struct dump_opts *o)
{
    struct dbf_table t;
    char err[DBF_ERR_LEN] = "";
    int rc = dbf_table_open(path, &t, err, sizeof(err));
    if (rc) {
        dbf_table_close(&t);
        return rc == -LSMER_ECORRUPT ? damaged(path, err) : cannot(path, rc, err);
    }
    static const char *const slot[FOOTER_NSLOTS] = {"index", "filter", "range-del", "properties"};
    printf("table %s: %" PRIu64 " bytes, format version %u\n", path, t.size, t.version);
    printf("footer at %" PRIu64 ":\n", t.size - TABLE_FOOTER_SIZE);
    for (int i = 0; i < FOOTER_NSLOTS; i++) {
        if (t.h[i].offset == 0 && t.h[i].size == 0)
            printf("  %-10s (none)\n", slot[i]);
        else
            printf("  %-10s block at %" PRIu64 ", %" PRIu64 " bytes\n", slot[i], t.h[i].offset,
                   t.h[i].size);
    }
    struct sst_dump d = {o, NULL, 0, 0, 0};
    rc = sst_block(path, &t, t.h[FOOTER_PROPS], "properties", 0, on_prop, NULL);
    if (rc == 0 && (t.h[FOOTER_FILTER].offset || t.h[FOOTER_FILTER].size)) {
        uint8_t *data;
        size_t n;
        int type;
        rc = dbf_table_block(&t, t.h[FOOTER_FILTER], &data, &n, &type, err, sizeof(err));
        if (rc == -LSMER_ECORRUPT) {
            char msg[DBF_ERR_LEN + 16];
            snprintf(msg, sizeof(msg), "filter block: %s", err);
            rc = damaged(path, msg);
        } else if (rc) {
            rc = cannot(path, rc, err);
        } else {
            uint64_t bits = n >= 1 ? (uint64_t)(n - 1) * 8 : 0;
            uint64_t set = 0;
            for (size_t i = 0; i + 1 < n; i++) set += (uint64_t)__builtin_popcount(data[i]);
            printf("filter block at %" PRIu64 ": bloom, %" PRIu64 " bits, %u probes, %.1f%% of "
                   "bits set\n",
                   t.h[FOOTER_FILTER].offset, bits, n ? data[n - 1] : 0,
                   bits ? 100.0 * (double)set / (double)bits : 0.0);
            free(data);
        }
    }
    if (rc == 0 && (t.h[FOOTER_RANGE_DEL].offset || t.h[FOOTER_RANGE_DEL].size))
        rc = sst_block(path, &t, t.h[FOOTER_RANGE_DEL], "range-del (tombstones)", 1, on_tombstone,
                       (void *)o);
    if (rc == 0) rc = sst_block(path, &t, t.h[FOOTER_INDEX], "index", 1, on_index, &d);
    for (size_t i = 0; rc == 0 && i < d.n; i++) {
        char what[64];
        snprintf(what, sizeof(what), "data %zu", i);
        uint64_t before = d.entries;
        if (!o->keys) {
            /* one line per block without its entries */
            uint8_t *data;
            size_t n;
            int type;
            rc = dbf_table_block(&t, d.h[i], &data, &n, &type, err, sizeof(err));
            if (rc == -LSMER_ECORRUPT) {
                char msg[DBF_ERR_LEN + 128];
                snprintf(msg, sizeof(msg), "%s block: %s", what, err);
                rc = damaged(path, msg);
                break;
            }
            if (rc) {
                rc = cannot(path, rc, err);
                break;
            }
            rc = dbf_block_entries(data, n, 1, on_entry, &d, err, sizeof(err));
            free(data);
            if (rc == -LSMER_ECORRUPT) {
                rc = damaged(path, err);
                break;
            }
            printf("%s block at %" PRIu64 ", %" PRIu64 " bytes on disk%s, %zu bytes: %" PRIu64
                   " entries\n",
                   what, d.h[i].offset, d.h[i].size, type == 1 ? " (zstd)" : "", n,
                   d.entries - before);
        } else {
            rc = sst_block(path, &t, d.h[i], what, 1, on_entry, &d);
        }
    }
    if (rc == 0) printf("%zu data blocks, %" PRIu64 " entries\n", d.n, d.entries);
    free(d.h);
    dbf_table_close(&t);
    return rc;
}
