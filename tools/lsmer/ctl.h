/*
 * ctl.h — the client side of the lsmerfs control channel (protocol in
 * fs/daemon/control_proto.h, docs/operations.md "Control channel"): how
 * `lsmer stats|compact|backup` reach a mounted filesystem's daemon.
 *
 * ctl_target() decides where a DATA_DIR|MOUNTPOINT argument is served: a
 * mount point, or the DATA_DIR of a mounted filesystem (whose store the
 * daemon holds locked), is live and goes through the channel; anything else
 * is opened offline by the command itself. Every function that fails prints
 * "lsmer CMD: what failed: why" and what to do, then returns a negative
 * errno.
 *
 * Thread safety: a ctl_conn is used by one thread.
 */
#ifndef LSMER_CTL_H
#define LSMER_CTL_H

#include <stdint.h>

#include "../../fs/daemon/control_proto.h"
#include "cli_target.h"
#include "lsmer.h"

/* 0 and t filled; prints a note when a mounted DATA_DIR is taken live
 * (unless quiet). */
int ctl_target(const char *cmd, const char *arg, struct cli_target *t, int quiet);

struct ctl_conn {
    int fd;
    char buf[CTL_LINE_MAX];
    size_t len; /* bytes in buf not yet returned */
};

/* Connects to the daemon serving data_dir and sends the request line. */
int ctl_request(const char *cmd, const char *data_dir, const char *request, struct ctl_conn *c);
/* The next reply line (NUL-terminated, no newline): 1, 0 at the end of the
 * reply (connection closed), or a negative errno. */
int ctl_read_line(struct ctl_conn *c, char *line, size_t size);
void ctl_close(struct ctl_conn *c);
/* For a line "error N TEXT": 1 with *err = -N and *text; else 0. */
int ctl_parse_error(const char *line, int *err, const char **text);

enum {
#define X(name) CTL_OP_##name,
    LSMERFS_OPS(X)
#undef X
        CTL_OP_COUNT
};
enum {
#define X(name) CTL_FS_##name,
    CTL_FS_FIELDS(X)
#undef X
        CTL_FS_COUNT
};
extern const char *const ctl_op_names[CTL_OP_COUNT];
extern const char *const ctl_fs_names[CTL_FS_COUNT];

/* Everything a `stats` request returns. */
struct ctl_stats {
    lsmer_stats engine;
    uint64_t fs[CTL_FS_COUNT];
    uint64_t ops[CTL_OP_COUNT];
    char job[256]; /* "backup ..." / "compact ..." while one runs, else "" */
};

/* Asks the daemon for its statistics. */
int ctl_get_stats(const char *cmd, const char *data_dir, struct ctl_stats *out);

#endif
