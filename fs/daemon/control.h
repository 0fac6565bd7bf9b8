/*
 * control.h — the daemon's control channel: a unix socket through which the
 * owner of a mount (and root) asks the running daemon for statistics, a
 * full compaction, or a backup taken from one engine snapshot, without
 * unmounting (`lsmer stats|compact|backup MOUNTPOINT`). Protocol and socket
 * location: control_proto.h and docs/operations.md "Control channel".
 *
 * The socket lives in DATA_DIR/control/ (mode 0700, the daemon's user): it
 * belongs to the store, which one daemon at a time holds (the engine's
 * LOCK), so a client finds it from the mount's source and a stale socket
 * left by a crash is replaced safely. Peers are also checked with
 * SO_PEERCRED: only the daemon's uid and root are served.
 *
 * Threads. One control thread accepts and answers requests; a compaction or
 * a backup runs on one job thread (one job at a time, a second one is
 * refused with EBUSY) so that `stats` keeps answering meanwhile. Neither
 * ever runs on a FUSE thread, and FUSE threads never wait for them: they
 * share only the engine (thread safe) and the relaxed op counters.
 */
#ifndef LSMERFS_CONTROL_H
#define LSMERFS_CONTROL_H

#include "fs.h"

struct control;

struct control_config {
    const char *data_dir;   /* absolute */
    const char *mountpoint; /* absolute */
    struct lsmerfs *fs;
    kv_log_fn log; /* messages: level 0 error .. 3 debug */
    void *log_arg;
};

/* Creates the socket and starts the control thread. 0 or a negative errno
 * (the daemon then runs without a control channel). */
int control_start(const struct control_config *cfg, struct control **out);

/* Stops serving: cancels a running backup (its partial copy is removed),
 * waits for a running compaction to finish, removes the socket and its
 * directory. NULL is ignored. Call before fs_close(). */
void control_stop(struct control *c);

#endif
