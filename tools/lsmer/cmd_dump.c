/*
 * cmd_dump.c — `lsmer dump`: the key space of a database (opened
 * read-only through the public API) with lsmerfs keys decoded, or one
 * engine file (--wal, --sst, --manifest; dump_files.c).
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dump.h"

#ifdef LSMER_WITH_FS
#include "keys.h"
#endif

static void dump_usage(FILE *f)
{
    fprintf(f, "Usage: lsmer dump [OPTIONS] DATA_DIR\n"
               "       lsmer dump [OPTIONS] --wal FILE | --sst FILE | --manifest FILE\n"
               "\n"
               "Print what a database holds, for a person to read.\n"
               "\n"
               "DATA_DIR: every live key in order, read through a read-only open of the\n"
               "database (it must not be mounted: unmount it, or dump its files with --sst\n"
               "and --wal). lsmerfs keys are decoded, one line each:\n"
               "  super    format, block size, inline limit, ino_limit, uuid\n"
               "  inode    INO type mode uid gid nlink size flags parent mtime [inline bytes]\n"
               "  dentry   PARENT/\"NAME\" -> INO (type)\n"
               "  block    INO/BLOCKNO LENGTH bytes\n"
               "  xattr    INO \"NAME\" = VALUE\n"
               "  orphan   INO\n"
               "and any other key as KEY = VALUE. Binary bytes are printed escaped inside\n"
               "double quotes (\\xNN, \\\\, \\\"); values are cut after 64 bytes.\n"
               "\n"
               "--wal FILE: each record of a write-ahead log (NNNNNN.log) with its offset,\n"
               "  batch sequence number and operations (put KEY = VALUE, del KEY,\n"
               "  delrange START .. END).\n"
               "--sst FILE: a table (NNNNNN.sst): footer, properties, filter statistics,\n"
               "  range tombstones, index entries (separator key -> block offset, size) and\n"
               "  one line per data block; with --keys every entry of every block.\n"
               "--manifest FILE: each version edit of a MANIFEST-NNNNNN (log number, next\n"
               "  file, last sequence, tables added and deleted per level, key ranges).\n"
               "Files must keep their original names: the number in the name seeds the\n"
               "record checksums of logs and manifests.\n"
               "\n"
               "Options:\n"
               "      --wal FILE       dump a write-ahead log file\n"
               "      --sst FILE       dump a table file\n"
               "      --manifest FILE  dump a manifest file\n"
               "  -k, --keys           --sst: print every entry of every data block\n"
               "  -r, --raw            keys and values in hex; no lsmerfs decoding\n"
               "  -p, --prefix BYTES   DATA_DIR: only keys starting with BYTES\n"
               "  -s, --start BYTES    DATA_DIR: only keys >= BYTES\n"
               "  -e, --end BYTES      DATA_DIR: only keys < BYTES\n"
               "      --full           print whole values (default: cut after 64 bytes)\n"
               "  -h, --help           show this help\n"
               "BYTES may use \\xNN escapes; lsmerfs tags are S i d b x o, so --prefix i\n"
               "lists the inodes and --prefix 'd\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x01' the\n"
               "root directory's entries.\n"
               "\n"
               "Exit status:\n"
               "  0  dumped\n"
               "  1  the database or file cannot be opened or read (the message says why)\n"
               "  2  usage error\n"
               "  4  damage met: what came before it was printed, then a line\n"
               "     'DAMAGE FILE: what' (run 'lsmer scrub' for the whole picture)\n"
               "\n"
               "Examples:\n"
               "  lsmer dump /srv/fs-data | less\n"
               "  lsmer dump --prefix i /srv/fs-data        # every inode\n"
               "  lsmer dump --sst /srv/fs-data/000012.sst --keys\n"
               "  lsmer dump --wal /srv/fs-data/000015.log\n");
}

#ifdef LSMER_WITH_FS
static const char *ftype(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG:
        return "file";
    case S_IFDIR:
        return "dir";
    case S_IFLNK:
        return "symlink";
    case S_IFCHR:
        return "chardev";
    case S_IFBLK:
        return "blockdev";
    case S_IFIFO:
        return "fifo";
    case S_IFSOCK:
        return "socket";
    default:
        return "?";
    }
}

static const char *dtype_name(uint8_t t)
{
    return ftype((uint32_t)t << 12);
}

static void print_time(int64_t ns)
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    char buf[32];
    if (gmtime_r(&s, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
        fputs(buf, stdout);
    else
        printf("%" PRId64 "ns", ns);
}

/* One lsmerfs key decoded; 0 if it is not of the schema. */
static int print_fs_key(const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen,
                        const struct dump_opts *o, struct fs_inode *in)
{
    uint64_t ino, bno, child;
    const char *name;
    size_t nlen;
    uint8_t type;
    if (klen == 0) return 0;
    switch (k[0]) {
    case KEY_SUPER: {
        struct fs_super s;
        if (klen != 1 || super_decode(v, vlen, &s) != 0) return 0;
        printf("super    format %u, block size %u, inline max %u, ino_limit %" PRIu64 ", uuid ",
               s.format, s.block_size, s.inline_max, s.ino_limit);
        for (int i = 0; i < 16; i++)
            printf("%02x%s", s.uuid[i], i == 3 || i == 5 || i == 7 || i == 9 ? "-" : "");
        printf("\n");
        return 1;
    }
    case KEY_INODE:
        if (key_parse_ino(k, klen, KEY_INODE, &ino) != 0 || inode_decode(v, vlen, in) != 0)
            return 0;
        printf("inode    %" PRIu64 " %s mode %o uid %u gid %u nlink %u size %" PRIu64
               " flags %s%s%s parent %" PRIu64 " mtime ",
               ino, ftype(in->mode), in->mode & 07777, in->uid, in->gid, in->nlink, in->size,
               in->flags & FS_IFLAG_INLINE ? "inline" : "",
               (in->flags & FS_IFLAG_INLINE) && (in->flags & FS_IFLAG_HAS_XATTR) ? "," : "",
               in->flags & FS_IFLAG_HAS_XATTR ? "xattr" : (in->flags ? "" : "-"), in->parent);
        print_time(in->mtime_ns);
        if (in->inline_len) {
            printf(" %s ", S_ISLNK(in->mode) ? "target" : "data");
            dump_bytes(stdout, in->inline_data, in->inline_len, 0, o->value_max);
        }
        printf("\n");
        return 1;
    case KEY_DENTRY:
        if (key_parse_named(k, klen, KEY_DENTRY, &ino, &name, &nlen) != 0 ||
            dentry_decode(v, vlen, &child, &type) != 0)
            return 0;
        printf("dentry   %" PRIu64 "/", ino);
        dump_bytes(stdout, name, nlen, 0, 0);
        printf(" -> %" PRIu64 " (%s)\n", child, dtype_name(type));
        return 1;
    case KEY_BLOCK:
        if (key_parse_block(k, klen, &ino, &bno) != 0) return 0;
        printf("block    %" PRIu64 "/%" PRIu64 " %zu bytes\n", ino, bno, vlen);
        return 1;
    case KEY_XATTR:
        if (key_parse_named(k, klen, KEY_XATTR, &ino, &name, &nlen) != 0) return 0;
        printf("xattr    %" PRIu64 " ", ino);
        dump_bytes(stdout, name, nlen, 0, 0);
        printf(" = ");
        dump_bytes(stdout, v, vlen, 0, o->value_max);
        printf("\n");
        return 1;
    case KEY_ORPHAN:
        if (key_parse_ino(k, klen, KEY_ORPHAN, &ino) != 0) return 0;
        printf("orphan   %" PRIu64 "\n", ino);
        return 1;
    default:
        return 0;
    }
}
#endif

/* The first key after every key starting with p: p with its last byte
 * that is not 0xff incremented and the rest cut; 0 when there is none. */
static size_t prefix_end(const uint8_t *p, size_t n, uint8_t *out)
{
    while (n > 0 && p[n - 1] == 0xff) n--;
    if (n == 0) return 0;
    memcpy(out, p, n);
    out[n - 1]++;
    return n;
}

static int dump_dir(const char *dir, const struct dump_opts *o, const uint8_t *start, size_t slen,
                    int has_start, const uint8_t *end, size_t elen, int has_end)
{
    lsmer_db *db;
    int rc = cli_open_db("dump", dir, 1, &db);
    if (rc) return DUMP_FAIL;
    lsmer_range range = {has_start ? start : NULL, slen, has_end ? end : NULL, elen};
    lsmer_iter *it = NULL;
    rc = lsmer_iter_open(db, NULL, &range, &it);
    if (rc) {
        cli_error("dump", "cannot read %s: %s; %s", dir, lsmer_strerror(rc), cli_hint(rc));
        lsmer_close(db);
        return DUMP_FAIL;
    }
#ifdef LSMER_WITH_FS
    struct fs_inode *in = malloc(sizeof(*in));
    if (!in) {
        lsmer_iter_close(it);
        lsmer_close(db);
        return DUMP_FAIL;
    }
#endif
    uint64_t n = 0;
    int status = DUMP_OK;
    for (lsmer_iter_seek_first(it); lsmer_iter_valid(it); lsmer_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = lsmer_iter_key(it, &klen);
        const void *v;
        rc = lsmer_iter_value(it, &v, &vlen);
        if (rc) break;
        n++;
#ifdef LSMER_WITH_FS
        if (!o->raw && print_fs_key(k, klen, v, vlen, o, in)) continue;
#endif
        dump_bytes(stdout, k, klen, o->raw, 0);
        printf(" = ");
        dump_bytes(stdout, v, vlen, o->raw, o->value_max);
        printf("\n");
    }
    if (rc == 0) rc = lsmer_iter_status(it);
    if (rc == -LSMER_ECORRUPT) {
        fflush(stdout);
        printf("DAMAGE %s: %s after %" PRIu64 " keys; run 'lsmer scrub %s' to find the file\n", dir,
               lsmer_strerror(rc), n, dir);
        status = DUMP_DAMAGE;
    } else if (rc) {
        cli_error("dump", "reading %s failed after %" PRIu64 " keys: %s; %s", dir, n,
                  lsmer_strerror(rc), cli_hint(rc));
        status = DUMP_FAIL;
    } else {
        printf("%" PRIu64 " keys\n", n);
    }
#ifdef LSMER_WITH_FS
    free(in);
#endif
    lsmer_iter_close(it);
    lsmer_close(db);
    return status;
}

int cmd_dump(int argc, char **argv)
{
    enum { OPT_WAL = 256, OPT_SST, OPT_MANIFEST, OPT_FULL };
    static const struct option longopts[] = {
        {"wal", required_argument, NULL, OPT_WAL},
        {"sst", required_argument, NULL, OPT_SST},
        {"manifest", required_argument, NULL, OPT_MANIFEST},
        {"keys", no_argument, NULL, 'k'},
        {"raw", no_argument, NULL, 'r'},
        {"prefix", required_argument, NULL, 'p'},
        {"start", required_argument, NULL, 's'},
        {"end", required_argument, NULL, 'e'},
        {"full", no_argument, NULL, OPT_FULL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct dump_opts o = {.value_max = 64};
    const char *file = NULL, *prefix = NULL, *start = NULL, *end = NULL;
    int kind = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "krp:s:e:h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_WAL:
        case OPT_SST:
        case OPT_MANIFEST:
            if (file) {
                cli_error("dump", "give one of --wal, --sst and --manifest");
                return CLI_EXIT_USAGE;
            }
            file = optarg;
            kind = c;
            break;
        case 'k':
            o.keys = 1;
            break;
        case 'r':
            o.raw = 1;
            break;
        case 'p':
            prefix = optarg;
            break;
        case 's':
            start = optarg;
            break;
        case 'e':
            end = optarg;
            break;
        case OPT_FULL:
            o.value_max = 0;
            break;
        case 'h':
            dump_usage(stdout);
            return CLI_EXIT_OK;
        default:
            fprintf(stderr, "Run 'lsmer dump --help' for usage.\n");
            return CLI_EXIT_USAGE;
        }
    }
    if (file) {
        if (optind != argc || prefix || start || end) {
            cli_error("dump", "--wal, --sst and --manifest take no DATA_DIR and no "
                              "--prefix/--start/--end");
            fprintf(stderr, "Run 'lsmer dump --help' for usage.\n");
            return CLI_EXIT_USAGE;
        }
        if (kind == OPT_WAL) return dump_wal(file, &o);
        if (kind == OPT_SST) return dump_sst(file, &o);
        return dump_manifest(file, &o);
    }
    if (optind + 1 != argc) {
        cli_error("dump", optind >= argc ? "missing DATA_DIR (or --wal/--sst/--manifest FILE)"
                                         : "too many arguments");
        fprintf(stderr, "Run 'lsmer dump --help' for usage.\n");
        return CLI_EXIT_USAGE;
    }
    if (prefix && (start || end)) {
        cli_error("dump", "--prefix cannot be combined with --start or --end");
        return CLI_EXIT_USAGE;
    }
    size_t maxlen = 1;
    if (prefix) maxlen += strlen(prefix);
    if (start) maxlen += strlen(start);
    if (end) maxlen += strlen(end);
    uint8_t *sb = malloc(maxlen), *eb = malloc(maxlen);
    long sl = 0, el = 0;
    int has_start = 0, has_end = 0, status = CLI_EXIT_USAGE;
    if (!sb || !eb) goto out;
    if (prefix) {
        sl = dump_unescape(prefix, sb);
        if (sl < 0) {
            cli_error("dump", "bad escape in --prefix %s (use \\xNN)", prefix);
            goto out;
        }
        has_start = sl > 0;
        el = (long)prefix_end(sb, (size_t)sl, eb);
        has_end = el > 0;
    } else {
        if (start && (sl = dump_unescape(start, sb)) < 0) {
            cli_error("dump", "bad escape in --start %s (use \\xNN)", start);
            goto out;
        }
        if (end && (el = dump_unescape(end, eb)) < 0) {
            cli_error("dump", "bad escape in --end %s (use \\xNN)", end);
            goto out;
        }
        has_start = start != NULL;
        has_end = end != NULL;
    }
    status = dump_dir(argv[optind], &o, sb, (size_t)sl, has_start, eb, (size_t)el, has_end);
out:
    free(sb);
    free(eb);
    return status;
}
