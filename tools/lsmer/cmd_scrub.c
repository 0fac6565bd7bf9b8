/*
 * cmd_scrub.c — `lsmer scrub DATA_DIR|MOUNTPOINT`: reads every block of
 * every live table, the manifest and the write-ahead logs, verifies every
 * checksum and that every block and record parses, and names each damaged
 * file with the offset of the damage. It reads the files directly
 * (dbfiles.h) and never opens the database, so it works on a mounted
 * filesystem too: the tables it reads are the ones the manifest lists when
 * the scrub starts (immutable files; one that compaction deletes meanwhile
 * is skipped), and each log is read up to its size when opened.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "cli_target.h"
#include "dbfiles.h"
#include "filename.h"
#include "version_edit.h"

#define SCRUB_CLEAN 0
#define SCRUB_DAMAGE 4
#define SCRUB_OPERATIONAL 8

struct live_table {
    uint64_t number, size;
    int level;
};

struct scrub {
    const char *dir;
    int live;
    int quiet, verbose, progress, progress_shown;
    uint64_t total, done;
    uint64_t last_draw_ms;
    uint64_t damage_reports;
    uint64_t tables, blocks, logs, records, skipped;
    /* the file being read, and whether it was reported damaged yet */
    const char *cur_path;
    int cur_damaged;
    struct live_table *t;
    size_t nt, capt;
    uint64_t log_number;
    int have_log_number;
    uint64_t edits;
};

static void scrub_usage(FILE *f)
{
    fprintf(f, "Usage: lsmer scrub [OPTIONS] DATA_DIR|MOUNTPOINT\n"
               "\n"
               "Read every byte lsmer keeps and verify it: every block of every live table\n"
               "(data, index, filter, range-deletion and properties blocks, and the footer),\n"
               "every record of the manifest, and every record of the write-ahead logs. Each\n"
               "block and record must pass its CRC32C and parse (block entries, index\n"
               "handles, manifest edits, WAL batches). Nothing is written or repaired.\n"
               "\n"
               "A MOUNTPOINT of a mounted lsmerfs is scrubbed live, without unmounting: the\n"
               "tables are the ones the current manifest lists (table files never change once\n"
               "written; one that a compaction deletes during the scrub is skipped, not\n"
               "reported), and each log is checked up to its size when it was opened (a record\n"
               "being written is not judged). A DATA_DIR that a process holds open is\n"
               "scrubbed the same way.\n"
               "\n"
               "Each damaged place is printed as\n"
               "  DAMAGE FILE: what (block or record offset)\n"
               "and a summary ends the output. A torn tail at the end of a log (a write cut\n"
               "short by a crash; dropped at the next open) is a NOTE, not damage.\n"
               "What to do about damage: a table or manifest that fails can only be restored\n"
               "from a backup; 'lsmer fsck DATA_DIR' tells what the filesystem lost.\n"
               "\n"
               "Options:\n"
               "  -q, --quiet        print only damage and the summary\n"
               "  -v, --verbose      print one line per file checked\n"
               "  -P, --progress     show a progress bar on stderr even when it is not a terminal\n"
               "      --no-progress  never show progress (default: shown on a terminal)\n"
               "  -h, --help         show this help\n"
               "\n"
               "Exit status:\n"
               "  0  every file read back intact\n"
               "  4  damage found (the DAMAGE lines name each file)\n"
               "  8  operational error: not a database directory, CURRENT or a file cannot be\n"
               "     read for a reason other than damage (permissions, I/O error), no memory\n"
               "  2  usage error\n"
               "\n"
               "Examples:\n"
               "  lsmer scrub /srv/fs-data\n"
               "  lsmer scrub -q /mnt/fs || echo \"exit $?\"   # live, on the mount point\n");
}

/* ---- output ------------------------------------------------------------ */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void clear_progress(struct scrub *s)
{
    if (s->progress_shown) {
        fputs("\r\033[K", stderr);
        s->progress_shown = 0;
    }
}

static void draw_progress(struct scrub *s, int force)
{
    if (!s->progress) return;
    uint64_t t = now_ms();
    if (!force && t - s->last_draw_ms < 100) return;
    s->last_draw_ms = t;
    char done[32], total[32], bar[31];
    cli_format_bytes(s->done, done, sizeof(done));
    cli_format_bytes(s->total, total, sizeof(total));
    unsigned pct = s->total ? (unsigned)(s->done * 100 / s->total) : 100;
    if (pct > 100) pct = 100;
    unsigned fill = pct * 30 / 100;
    for (unsigned i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
    bar[30] = 0;
    const char *name = s->cur_path ? strrchr(s->cur_path, '/') : NULL;
    fprintf(stderr, "\rlsmer scrub: [%s] %3u%% %s / %s %s\033[K", bar, pct, done, total,
            name ? name + 1 : "");
    s->progress_shown = 1;
    fflush(stderr);
}

static void damage(struct scrub *s, const char *path, const char *what)
{
    clear_progress(s);
    printf("DAMAGE %s: %s\n", path, what);
    fflush(stdout);
    s->damage_reports++;
    s->cur_damaged = 1;
}

static void note(struct scrub *s, const char *path, const char *what)
{
    if (s->quiet) return;
    clear_progress(s);
    printf("NOTE %s: %s\n", path, what);
    fflush(stdout);
}

static void begin_file(struct scrub *s, const char *path)
{
    s->cur_path = path;
    s->cur_damaged = 0;
    draw_progress(s, 1);
}

static void end_file(struct scrub *s, const char *path, const char *what)
{
    if (s->verbose && !s->cur_damaged) {
        clear_progress(s);
        printf("ok %s: %s\n", path, what);
    }
}

/* ---- the manifest ------------------------------------------------------ */

static int add_table(struct scrub *s, int level, uint64_t number, uint64_t size)
{
    if (s->nt == s->capt) {
        size_t n = s->capt ? s->capt * 2 : 64;
        struct live_table *nt = realloc(s->t, n * sizeof(*nt));
        if (!nt) return -ENOMEM;
        s->t = nt;
        s->capt = n;
    }
    s->t[s->nt++] = (struct live_table){number, size, level};
    return 0;
}

struct manifest_walk {
    struct scrub *s;
    const char *path;
    uint64_t last_end;
    int bad;
};

static int on_edit(void *arg, uint64_t end, const uint8_t *rec, size_t n)
{
    struct manifest_walk *m = arg;
    struct scrub *s = m->s;
    struct version_edit e;
    char msg[256];
    version_edit_init(&e);
    s->edits++;
    int rc = version_edit_decode(&e, rec, n);
    if (rc == -ENOMEM) return rc;
    if (rc) {
        snprintf(msg, sizeof(msg), "record %" PRIu64 " (offset %" PRIu64 ") is %s", s->edits,
                 m->last_end, rc == -EPROTO ? "of a newer format" : "not a valid version edit");
        damage(s, m->path, msg);
        m->bad = 1;
        m->last_end = end;
        return 0;
    }
    m->last_end = end;
    if (e.has_log_number) {
        s->log_number = e.log_number;
        s->have_log_number = 1;
    }
    for (size_t i = 0; i < e.n_deleted; i++) {
        size_t j = 0;
        while (j < s->nt &&
               !(s->t[j].number == e.deleted[i].number && s->t[j].level == e.deleted[i].level))
            j++;
        if (j == s->nt) {
            snprintf(msg, sizeof(msg),
                     "record %" PRIu64 " deletes table %06" PRIu64 " from level %d, which "
                     "does not hold it",
                     s->edits, e.deleted[i].number, e.deleted[i].level);
            damage(s, m->path, msg);
            m->bad = 1;
            continue;
        }
        s->t[j] = s->t[--s->nt];
    }
    for (size_t i = 0; i < e.n_added && rc == 0; i++)
        rc = add_table(s, e.added[i].level, e.added[i].f->number, e.added[i].f->file_size);
    version_edit_free(&e);
    return rc;
}

/* Reads CURRENT and the manifest it names into s->t. Live, the manifest
 * may be replaced between reading CURRENT and opening it: then again. */
static int scrub_manifest(struct scrub *s)
{
    static char path[PATH_MAX + 80];
    char name[64], err[DBF_ERR_LEN], cur[PATH_MAX + 16];
    uint64_t number;
    snprintf(cur, sizeof(cur), "%s/CURRENT", s->dir);
    for (int attempt = 0;; attempt++) {
        int rc = dbf_read_current(s->dir, name, sizeof(name), &number);
        if (rc == -ENOENT) {
            cli_error("scrub",
                      "%s has no CURRENT file: not an lsmer database; give the DATA_DIR "
                      "of an lsmerfs (or its mount point)",
                      s->dir);
            return -ENOENT;
        }
        if (rc == -LSMER_ECORRUPT) {
            damage(s, cur, "does not name a manifest (damaged); restore it from a backup");
            return 0;
        }
        if (rc) {
            cli_error("scrub", "cannot read %s: %s; %s", cur, strerror(-rc), cli_hint(rc));
            return rc;
        }
        snprintf(path, sizeof(path), "%s/%s", s->dir, name);
        struct stat st;
        if (stat(path, &st) == 0) s->total += (uint64_t)st.st_size;
        begin_file(s, path);
        s->nt = 0;
        s->edits = 0;
        s->have_log_number = 0;
        struct manifest_walk m = {s, path, 0, 0};
        uint64_t dropped = 0;
        rc = dbf_walk_log(path, number, 1, on_edit, &m, &dropped, err, sizeof(err));
        if (rc == -ENOENT && s->live && attempt < 20) {
            usleep(50000);
            continue;
        }
        if (rc == -ENOENT) {
            damage(s, path, "CURRENT names it, but it is missing");
            return 0;
        }
        if (rc == -ENOMEM) return rc;
        if (rc == -LSMER_ECORRUPT || rc == -EPROTO) {
            char msg[DBF_ERR_LEN + 128];
            snprintf(msg, sizeof(msg),
                     "%s (after record %" PRIu64 "); tables it lists later are "
                     "not scrubbed",
                     err, s->edits);
            damage(s, path, msg);
        } else if (rc) {
            cli_error("scrub", "cannot read %s: %s; %s", path, err, cli_hint(rc));
            return rc;
        }
        if (rc == 0 && !s->have_log_number)
            damage(s, path, "no record sets the log number (an incomplete manifest)");
        if (dropped && !s->live) {
            char msg[128];
            snprintf(msg, sizeof(msg), "torn tail of %" PRIu64 " bytes after the last record",
                     dropped);
            note(s, path, msg);
        }
        s->done += (uint64_t)st.st_size;
        char what[64];
        snprintf(what, sizeof(what), "%" PRIu64 " edits, %zu live tables", s->edits, s->nt);
        end_file(s, path, what);
        return 0;
    }
}

/* ---- tables ------------------------------------------------------------ */

struct index_walk {
    struct scrub *s;
    const char *path;
    const struct dbf_table *t;
    uint64_t n;
};

static void block_damage(struct scrub *s, const char *path, const char *what, const char *err)
{
    char msg[DBF_ERR_LEN + 160];
    snprintf(msg, sizeof(msg), "%s %s", what, err);
    damage(s, path, msg);
}

/* Reads, verifies and parses one block; 1 if it is good. */
static int check_block(struct scrub *s, const char *path, const struct dbf_table *t,
                       struct block_handle h, const char *what, int entries, int internal,
                       dbf_entry_fn fn, void *arg, int *oom)
{
    uint8_t *data;
    size_t n;
    int type;
    char err[DBF_ERR_LEN];
    int rc = dbf_table_block(t, h, &data, &n, &type, err, sizeof(err));
    s->done += h.size + BLOCK_TRAILER_SIZE;
    s->blocks++;
    draw_progress(s, 0);
    if (rc == -ENOMEM) *oom = 1;
    if (rc) {
        block_damage(s, path, what, err);
        return 0;
    }
    if (entries) {
        rc = dbf_block_entries(data, n, internal, fn, arg, err, sizeof(err));
        if (rc == -ENOMEM) *oom = 1;
        if (rc) {
            char e2[DBF_ERR_LEN + 80];
            snprintf(e2, sizeof(e2), "block at offset %" PRIu64 ": %s", h.offset, err);
            block_damage(s, path, what, e2);
        }
    }
    free(data);
    return rc == 0;
}

struct handles {
    struct block_handle *h;
    size_t n, cap;
    int bad;
};

static int on_index_entry(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
    (void)k;
    (void)klen;
    struct handles *hs = arg;
    struct block_handle h;
    if (block_handle_decode(v, v + vlen, &h) != v + vlen) {
        hs->bad = 1;
        return 0;
    }
    if (hs->n == hs->cap) {
        size_t n = hs->cap ? hs->cap * 2 : 256;
        struct block_handle *nh = realloc(hs->h, n * sizeof(*nh));
        if (!nh) return -ENOMEM;
        hs->h = nh;
        hs->cap = n;
    }
    hs->h[hs->n++] = h;
    return 0;
}

static int scrub_table(struct scrub *s, const struct live_table *lt)
{
    char path[PATH_MAX], err[DBF_ERR_LEN], msg[DBF_ERR_LEN + 80];
    if (filename_table(path, sizeof(path), s->dir, lt->number) != 0) return -ENAMETOOLONG;
    begin_file(s, path);
    struct dbf_table t;
    int rc = dbf_table_open(path, &t, err, sizeof(err));
    if (rc == -ENOENT) {
        dbf_table_close(&t);
        s->done += lt->size;
        if (s->live) {
            s->skipped++; /* compacted away since the manifest was read */
            return 0;
        }
        damage(s, path, "missing: the manifest lists it as a live table");
        return 0;
    }
    if (rc == -LSMER_ECORRUPT || rc == -EPROTO) {
        dbf_table_close(&t);
        s->done += lt->size;
        damage(s, path, err);
        return 0;
    }
    if (rc) {
        dbf_table_close(&t);
        cli_error("scrub", "cannot read %s: %s; %s", path, err, cli_hint(rc));
        return rc;
    }
    s->tables++;
    if (t.size != lt->size) {
        snprintf(msg, sizeof(msg), "%" PRIu64 " bytes, but the manifest says %" PRIu64, t.size,
                 lt->size);
        damage(s, path, msg);
    }
    s->done += TABLE_FOOTER_SIZE;
    int oom = 0;
    static const char *const what[FOOTER_NSLOTS] = {"index", "filter", "range-deletion",
                                                    "properties"};
    for (int i = FOOTER_FILTER; i < FOOTER_NSLOTS; i++) {
        if (i != FOOTER_PROPS && t.h[i].offset == 0 && t.h[i].size == 0) continue;
        check_block(s, path, &t, t.h[i], what[i], i != FOOTER_FILTER, i == FOOTER_RANGE_DEL, NULL,
                    NULL, &oom);
    }
    struct handles hs = {0};
    check_block(s, path, &t, t.h[FOOTER_INDEX], "index", 1, 1, on_index_entry, &hs, &oom);
    if (hs.bad) damage(s, path, "an index entry does not hold a block handle");
    uint64_t data_blocks = 0;
    for (size_t i = 0; i < hs.n && !oom; i++) {
        check_block(s, path, &t, hs.h[i], "data", 1, 1, NULL, NULL, &oom);
        data_blocks++;
    }
    free(hs.h);
    dbf_table_close(&t);
    if (oom) {
        cli_error("scrub", "out of memory reading %s", path);
        return -ENOMEM;
    }
    snprintf(msg, sizeof(msg), "level %d, %" PRIu64 " data blocks", lt->level, data_blocks);
    end_file(s, path, msg);
    return 0;
}

/* ---- logs -------------------------------------------------------------- */

struct log_walk {
    struct scrub *s;
    const char *path;
    uint64_t prev_end;
    uint64_t n;
};

static int noop_op(void *arg, int type, struct slice k, struct slice v)
{
    (void)arg;
    (void)type;
    (void)k;
    (void)v;
    return 0;
}

static int on_log_record(void *arg, uint64_t end, const uint8_t *rec, size_t n)
{
    struct log_walk *w = arg;
    w->n++;
    w->s->records++;
    w->s->done += end - w->prev_end;
    draw_progress(w->s, 0);
    if (n < BATCH_HEADER || batch_iterate(slice_make(rec, n), noop_op, NULL) != 0) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "record %" PRIu64 " (offset %" PRIu64 ", %zu bytes) passes its checksum but is "
                 "not a valid write batch",
                 w->n, w->prev_end, n);
        damage(w->s, w->path, msg);
    }
    w->prev_end = end;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The numbers of the logs at or above the manifest's log number. */
static int list_logs(struct scrub *s, uint64_t **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    DIR *d = opendir(s->dir);
    if (!d) return -errno;
    struct dirent *e;
    size_t cap = 0;
    int rc = 0;
    while ((e = readdir(d))) {
        uint64_t number;
        enum file_kind kind;
        if (filename_parse(e->d_name, &number, &kind) != 0 || kind != FILE_KIND_LOG) continue;
        if (s->have_log_number && number < s->log_number) continue; /* obsolete */
        if (*nout == cap) {
            cap = cap ? cap * 2 : 8;
            uint64_t *n = realloc(*out, cap * sizeof(*n));
            if (!n) {
                rc = -ENOMEM;
                break;
            }
            *out = n;
        }
        (*out)[(*nout)++] = number;
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", s->dir, e->d_name);
        if (stat(path, &st) == 0) s->total += (uint64_t)st.st_size;
    }
    closedir(d);
    if (*nout) qsort(*out, *nout, sizeof(**out), cmp_u64);
    return rc;
}

static int scrub_log(struct scrub *s, uint64_t number, int newest)
{
    char path[PATH_MAX], err[DBF_ERR_LEN];
    if (filename_log(path, sizeof(path), s->dir, number) != 0) return -ENAMETOOLONG;
    begin_file(s, path);
    struct stat st;
    uint64_t size = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    struct log_walk w = {s, path, 0, 0};
    uint64_t dropped = 0;
    int rc = dbf_walk_log(path, number, 0, on_log_record, &w, &dropped, err, sizeof(err));
    if (rc == -ENOENT && s->live) {
        s->done += size;
        return 0; /* flushed and removed since the listing */
    }
    if (rc == -LSMER_ECORRUPT) {
        char msg[DBF_ERR_LEN + 128];
        snprintf(msg, sizeof(msg), "%s (after record %" PRIu64 ")", err, w.n);
        damage(s, path, msg);
        rc = 0;
    } else if (rc == -ENOMEM) {
        cli_error("scrub", "out of memory reading %s", path);
        return rc;
    } else if (rc) {
        cli_error("scrub", "cannot read %s: %s; %s", path, err, cli_hint(rc));
        return rc;
    }
    s->logs++;
    if (size > w.prev_end) s->done += size - w.prev_end;
    if (dropped && !(s->live && newest)) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "torn tail of %" PRIu64 " bytes after offset %" PRIu64
                 " (a write cut short by a crash: dropped when the database opens)",
                 dropped, w.prev_end);
        note(s, path, msg);
    }
    char what[64];
    snprintf(what, sizeof(what), "%" PRIu64 " records", w.n);
    end_file(s, path, what);
    return 0;
}

/* ---- the command ------------------------------------------------------- */

/* 1 if another process holds the LOCK of dir (a store in use). */
static int dir_in_use(const char *dir)
{
    char path[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s/LOCK", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    int busy = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd); /* drops the lock if we got it */
    return busy;
}

int cmd_scrub(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"quiet", no_argument, NULL, 'q'},    {"verbose", no_argument, NULL, 'v'},
        {"progress", no_argument, NULL, 'P'}, {"no-progress", no_argument, NULL, 1},
        {"help", no_argument, NULL, 'h'},     {NULL, 0, NULL, 0},
    };
    struct scrub s;
    memset(&s, 0, sizeof(s));
    s.progress = isatty(STDERR_FILENO);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qvPh", longopts, NULL)) != -1) {
        switch (c) {
        case 'q':
            s.quiet = 1;
            break;
        case 'v':
            s.verbose = 1;
            break;
        case 'P':
            s.progress = 1;
            break;
        case 1:
            s.progress = 0;
            break;
        case 'h':
            scrub_usage(stdout);
            return CLI_EXIT_OK;
        default:
            fprintf(stderr, "Run 'lsmer scrub --help' for usage.\n");
            return CLI_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cli_error("scrub",
                  optind >= argc ? "missing DATA_DIR or MOUNTPOINT" : "too many arguments");
        fprintf(stderr, "Run 'lsmer scrub --help' for usage.\n");
        return CLI_EXIT_USAGE;
    }
    struct cli_target target;
    int rc = cli_resolve_target(argv[optind], &target);
    if (rc) {
        cli_error("scrub", "cannot use %s: %s; %s", argv[optind], strerror(-rc), cli_hint(rc));
        return SCRUB_OPERATIONAL;
    }
    if (!target.data_dir[0]) {
        cli_error("scrub",
                  "%s is an lsmerfs mount whose DATA_DIR cannot be told from the mount table; "
                  "run 'lsmer scrub DATA_DIR' with the directory given to lsmerfs",
                  argv[optind]);
        return SCRUB_OPERATIONAL;
    }
    s.dir = target.data_dir;
    s.live = target.live || dir_in_use(s.dir);

    rc = scrub_manifest(&s);
    uint64_t *logs = NULL;
    size_t nlogs = 0;
    if (rc == 0) {
        for (size_t i = 0; i < s.nt; i++) s.total += s.t[i].size;
        rc = list_logs(&s, &logs, &nlogs);
        if (rc) cli_error("scrub", "cannot list %s: %s; %s", s.dir, strerror(-rc), cli_hint(rc));
    }
    for (size_t i = 0; rc == 0 && i < s.nt; i++) rc = scrub_table(&s, &s.t[i]);
    for (size_t i = 0; rc == 0 && i < nlogs; i++) rc = scrub_log(&s, logs[i], i + 1 == nlogs);
    if (s.progress_shown) {
        s.done = s.total;
        draw_progress(&s, 1);
        clear_progress(&s);
    }
    free(logs);
    free(s.t);
    if (rc) return SCRUB_OPERATIONAL;
    char bytes[32];
    cli_format_bytes(s.total, bytes, sizeof(bytes));
    printf("%s%s: %" PRIu64 " tables (%" PRIu64 " blocks), manifest (%" PRIu64 " edits), %" PRIu64
           " logs (%" PRIu64 " records), %s: ",
           s.dir, s.live ? " (live)" : "", s.tables, s.blocks, s.edits, s.logs, s.records, bytes);
    if (s.damage_reports)
        printf("DAMAGE in %" PRIu64 " place%s", s.damage_reports, s.damage_reports == 1 ? "" : "s");
    else
        printf("clean");
    if (s.skipped)
        printf("; %" PRIu64 " table%s removed by compaction meanwhile (skipped)", s.skipped,
               s.skipped == 1 ? "" : "s");
    printf("\n");
    return s.damage_reports ? SCRUB_DAMAGE : SCRUB_CLEAN;
}
