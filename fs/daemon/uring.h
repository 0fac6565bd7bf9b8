/*
 * uring.h — FUSE over io_uring: the kernel hands requests to per-CPU queues
 * of ring entries instead of one /dev/fuse queue, and the daemon answers a
 * request and fetches the next in one io_uring_enter.
 *
 * Why: through /dev/fuse a request written on one CPU is read by whichever
 * daemon thread wakes, usually on the other CPU, and the reply wakes the
 * application back across: two cross-CPU wakeups per request, most of a
 * metadata operation's cost here (docs/BENCHMARKS.md). Each ring queue
 * belongs to one CPU; its workers are pinned there, so the application,
 * the worker and the reply stay on one CPU.
 *
 * libfuse 3.14 knows nothing of this, so the transport is ours: each
 * worker thread owns one io_uring and one ring entry (a header buffer and a
 * payload buffer registered with the kernel), rebuilds the request in the
 * layout /dev/fuse would have delivered, passes it to
 * fuse_session_process_buf, and catches the reply in the channel's writev
 * callback (channel.c asks lsmerfs_uring_take_reply), which copies it into
 * the entry. Requests the kernel keeps on /dev/fuse (FORGET, INTERRUPT, and
 * all of them until every queue has an entry) go through libfuse's own loop.
 * Notifications are written to /dev/fuse (the ring cannot carry them).
 *
 * The kernel offers the flag FUSE_OVER_IO_URING in FUSE_INIT only when the
 * fuse module's parameter enable_uring is Y. Once the reply accepts it,
 * every request waits until all queues have an entry registered, or until
 * a registration fails (the kernel then falls back to /dev/fuse), so the
 * rings are set up before the reply (lsmerfs_uring_create) and the workers
 * created before it is written (lsmerfs_uring_start); they register as soon
 * as the reply is through (lsmerfs_uring_go).
 *
 * A reply the kernel refuses at commit (the request was aborted meanwhile)
 * is only logged: unlike a write to /dev/fuse, the adapter cannot see the
 * failure, so a handle or lookup reference in that reply is not given back
 * until the next mount reclaims it.
 *
 * Thread safety: create, start, go and stop are called by one thread at a
 * time (the INIT reply comes before any other request); take_reply only by
 * the worker serving the request, on its own entry.
 */
#ifndef LSMERFS_URING_H
#define LSMERFS_URING_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif
#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct lsmerfs_uring;

/* Rings for every possible CPU, workers_per_queue threads each (the fd is
 * the session's /dev/fuse descriptor). 0 or -errno; *out NULL on error. */
int lsmerfs_uring_create(struct fuse_session *se, int fuse_fd, int workers_per_queue,
                         struct lsmerfs_uring **out);

/* Allocates the entries (payload_size: the largest request or reply the
 * kernel will put in one, from the INIT reply) and starts the workers,
 * which wait for lsmerfs_uring_go. 0 or -errno (then nothing runs). */
int lsmerfs_uring_start(struct lsmerfs_uring *u, size_t payload_size);

/* The INIT reply is through (ok) or failed (!ok: the workers just exit). */
void lsmerfs_uring_go(struct lsmerfs_uring *u, int ok);

/* If the calling thread is serving a ring request and iov is its reply,
 * copies it into the entry and returns its length (or -errno); returns 0
 * when the reply is not the ring's (the caller writes it to /dev/fuse). */
ssize_t lsmerfs_uring_take_reply(const struct iovec *iov, int count);

/* Stops and joins the workers (a worker serving a request finishes it
 * first), then frees everything. NULL is fine. */
void lsmerfs_uring_destroy(struct lsmerfs_uring *u);

/* Requests served through the rings since start (for `lsmer stats`). */
uint64_t lsmerfs_uring_requests(void);

/* Number of ring queues that have served a request (0: none yet). */
int lsmerfs_uring_queues(void);

#endif
