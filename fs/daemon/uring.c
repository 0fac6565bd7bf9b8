/*
 * uring.c — FUSE over io_uring (uring.h), on raw io_uring system calls.
 *
 * Each worker owns one ring and one entry and has at most one command in
 * flight: REGISTER first, then COMMIT_AND_FETCH after each request. The
 * command completes when the kernel puts a request in the entry, so a
 * worker does one io_uring_enter per request: submit the reply, wait for
 * the next.
 *
 * The entry's payload buffer sits right behind room for the request's
 * headers, so the request is rebuilt in /dev/fuse layout (fuse_in_header,
 * the per-opcode struct, then the payload) without copying the payload.
 * The reply is copied into the same payload buffer; the adapters reply
 * last (daemon.h), so nothing reads the request after that.
 */
#include "uring.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The kernel's FUSE-over-io_uring ABI (protocol 7.42); the system's
 * linux/fuse.h predates it. */
#define URING_CMD_REGISTER 1u
#define URING_CMD_COMMIT_AND_FETCH 2u
#define URING_OP_IN_SIZE 128u

struct uring_ent_in_out {
    uint64_t flags;
    uint64_t commit_id; /* the request's unique: echoed in the commit */
    uint32_t payload_sz;
    uint32_t padding;
    uint64_t reserved;
};

struct uring_req_header {
    char in_out[128]; /* fuse_in_header in, fuse_out_header out */
    char op_in[URING_OP_IN_SIZE];
    struct uring_ent_in_out ent;
};

struct uring_cmd_req {
    uint64_t flags;
    uint64_t commit_id;
    uint16_t qid;
    uint8_t padding[6];
};

#define SQE_SIZE 128 /* IORING_SETUP_SQE128: the command lives in the 2nd half */
#define RING_ENTRIES 4
#define TAG_ENTRY 1
#define TAG_STOP 2
/* Unexpected errors after which a worker registers its entry again, before
 * it gives up (the kernel then has one entry fewer on that queue). */
#define MAX_REREGISTER 16

struct ring {
    int fd;
    void *sq_map, *cq_map, *sqe_map;
    size_t sq_map_len, cq_map_len, sqe_map_len;
    unsigned *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_cqe *cqes;
    unsigned char *sqes;
};

struct worker {
    struct lsmerfs_uring *u;
    struct ring ring;
    int qid;
    int started;
    pthread_t thread;
    struct uring_req_header *hdr;
    char *mem;           /* a page of room for the request's headers, then: */
    char *payload;       /* the payload buffer the kernel fills (page-aligned) */
    struct iovec iov[2]; /* hdr and payload, as REGISTER passes them */
    /* while serving a request */
    uint64_t commit_id; /* the request's unique id */
    int replied;
};

struct lsmerfs_uring {
    struct fuse_session *se;
    int fuse_fd;
    int nworkers, per_queue;
    struct worker *w;
    atomic_int *queue_served; /* per queue: has it served a request */
    /* Wakes the workers at stop with IORING_OP_MSG_RING: a CQE appears in
     * a worker's ring without another thread submitting on it. (Had this
     * thread submitted a worker's queued commit, the next request would be
     * copied in from this thread's context, into buffers about to be
     * freed.) */
    struct ring waker;
    size_t payload_size;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int go; /* 0 waiting, 1 registered may begin, -1 exit */
};

static _Thread_local struct worker *serving;
static _Atomic uint64_t ring_requests;
static atomic_int active_queues;

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
    return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned submit, unsigned wait, unsigned flags)
{
    return (int)syscall(__NR_io_uring_enter, fd, submit, wait, flags, NULL, 0);
}

static void ring_close(struct ring *r)
{
    if (r->sqe_map) munmap(r->sqe_map, r->sqe_map_len);
    if (r->cq_map && r->cq_map != r->sq_map) munmap(r->cq_map, r->cq_map_len);
    if (r->sq_map) munmap(r->sq_map, r->sq_map_len);
    if (r->fd >= 0) close(r->fd);
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

static int ring_open(struct ring *r, unsigned entries)
{
    memset(r, 0, sizeof(*r));
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    /* COOP_TASKRUN: the kernel hands a request to the worker when the
     * worker enters the kernel anyway (it waits there), not by
     * interrupting it. Older kernels refuse the flag: retry without. */
    p.flags = IORING_SETUP_SQE128 | IORING_SETUP_COOP_TASKRUN;
    r->fd = sys_setup(entries, &p);
    if (r->fd < 0 && errno == EINVAL) {
        memset(&p, 0, sizeof(p));
        p.flags = IORING_SETUP_SQE128;
        r->fd = sys_setup(entries, &p);
    }
    if (r->fd < 0) {
        int e = -errno;
        r->fd = -1;
        ring_close(r);
        return e;
    }
    r->sq_map_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cq_map_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (p.features & IORING_FEAT_SINGLE_MMAP) {
        if (r->cq_map_len > r->sq_map_len) r->sq_map_len = r->cq_map_len;
        r->cq_map_len = r->sq_map_len;
    }
    r->sq_map = mmap(NULL, r->sq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                     IORING_OFF_SQ_RING);
    if (r->sq_map == MAP_FAILED) goto fail;
    if (p.features & IORING_FEAT_SINGLE_MMAP) {
        r->cq_map = r->sq_map;
    } else {
        r->cq_map = mmap(NULL, r->cq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                         r->fd, IORING_OFF_CQ_RING);
        if (r->cq_map == MAP_FAILED) goto fail;
    }
    r->sqe_map_len = (size_t)p.sq_entries * SQE_SIZE;
    r->sqe_map = mmap(NULL, r->sqe_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                      r->fd, IORING_OFF_SQES);
    if (r->sqe_map == MAP_FAILED) goto fail;
    char *sq = r->sq_map, *cq = r->cq_map;
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    r->sqes = r->sqe_map;
    return 0;
fail:;
    int e = -errno;
    if (r->sq_map == MAP_FAILED) r->sq_map = NULL;
    if (r->cq_map == MAP_FAILED) r->cq_map = NULL;
    if (r->sqe_map == MAP_FAILED) r->sqe_map = NULL;
    ring_close(r);
    return e;
}

/* Queues one SQE (the kernel takes it at the next io_uring_enter that
 * submits). Only a ring's owner submits on it, one SQE at a time. */
static void ring_push(struct ring *r, const unsigned char sqe[SQE_SIZE])
{
    unsigned tail = *r->sq_tail;
    unsigned idx = tail & *r->sq_mask;
    memcpy(r->sqes + (size_t)idx * SQE_SIZE, sqe, SQE_SIZE);
    r->sq_array[idx] = idx;
    __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
}

/* Submits what is queued and, if out, waits for the next completion: one
 * system call for a reply and the wait for the next request. 0 or -errno. */
static int ring_enter(struct ring *r, struct io_uring_cqe *out)
{
    unsigned submit = RING_ENTRIES;
    for (;;) {
        if (out) {
            unsigned head = *r->cq_head;
            if (head != __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE) && !submit) {
                *out = r->cqes[head & *r->cq_mask];
                __atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
                return 0;
            }
        }
        int rc = sys_enter(r->fd, submit, out ? 1 : 0, out ? IORING_ENTER_GETEVENTS : 0);
        if (rc < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY) return -errno;
        if (rc >= 0) submit = 0;
        if (!out && rc >= 0) return 0;
    }
}

static void submit_entry(struct worker *w, unsigned cmd_op)
{
    unsigned char raw[SQE_SIZE];
    memset(raw, 0, sizeof(raw));
    struct io_uring_sqe *sqe = (struct io_uring_sqe *)raw;
    /* The kernel reads the iovecs when it handles a REGISTER, which may be
     * after the submit returns: they live as long as the worker. */
    struct iovec *iov = w->iov;
    iov[0].iov_base = w->hdr;
    iov[0].iov_len = sizeof(*w->hdr);
    iov[1].iov_base = w->payload;
    iov[1].iov_len = w->u->payload_size;
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = w->u->fuse_fd;
    sqe->cmd_op = cmd_op;
    sqe->addr = (uint64_t)(uintptr_t)iov;
    sqe->len = 2;
    sqe->user_data = TAG_ENTRY;
    struct uring_cmd_req req = {.commit_id = w->commit_id, .qid = (uint16_t)w->qid};
    memcpy(sqe->cmd, &req, sizeof(req));
    ring_push(&w->ring, raw);
}

static void set_reply_error(struct worker *w, uint64_t unique, int err)
{
    struct fuse_out_header oh = {.len = sizeof(oh), .error = -err, .unique = unique};
    memcpy(w->hdr->in_out, &oh, sizeof(oh));
    w->hdr->ent.payload_sz = 0;
}

/* One request: rebuild, process (the reply lands in take_reply), and make
 * sure there is a reply to commit. */
static void serve(struct worker *w)
{
    struct fuse_in_header in;
    memcpy(&in, w->hdr->in_out, sizeof(in));
    uint32_t payload = w->hdr->ent.payload_sz;
    w->commit_id = w->hdr->ent.commit_id;
    size_t head = sizeof(in);
    if (in.len < head + payload || in.len - head - payload > URING_OP_IN_SIZE ||
        payload > w->u->payload_size) {
        set_reply_error(w, in.unique, EIO);
        return;
    }
    size_t op = in.len - head - payload;
    char *start = w->payload - op - head;
    memcpy(start, &in, head);
    memcpy(start + head, w->hdr->op_in, op);
    struct fuse_buf fb;
    memset(&fb, 0, sizeof(fb));
    fb.mem = start;
    fb.size = in.len;
    w->replied = 0;
    serving = w;
    fuse_session_process_buf(w->u->se, &fb);
    serving = NULL;
    if (!w->replied) set_reply_error(w, in.unique, EIO);
}

ssize_t lsmerfs_uring_take_reply(const struct iovec *iov, int count)
{
    struct worker *w = serving;
    if (!w || count < 1 || iov[0].iov_len < sizeof(struct fuse_out_header)) return 0;
    struct fuse_out_header oh;
    memcpy(&oh, iov[0].iov_base, sizeof(oh));
    /* Only the reply to the request being served. Notifications (unique
     * 0) go to /dev/fuse; so does the EAGAIN that libfuse sends, from
     * whichever thread next dispatches a request, for an INTERRUPT whose
     * request it has already answered (INTERRUPTs come via /dev/fuse). */
    if (oh.unique != w->commit_id) return 0;
    if (w->replied) return -EINVAL;
    size_t total = 0, data = 0;
    for (int i = 0; i < count; i++) total += iov[i].iov_len;
    data = total - sizeof(oh);
    w->replied = 1;
    if (data > w->u->payload_size) {
        set_reply_error(w, oh.unique, EIO);
        return (ssize_t)total;
    }
    char *dst = w->payload;
    size_t skip = sizeof(oh);
    for (int i = 0; i < count; i++) {
        const char *src = iov[i].iov_base;
        size_t n = iov[i].iov_len;
        if (skip >= n) {
            skip -= n;
            continue;
        }
        memcpy(dst, src + skip, n - skip);
        dst += n - skip;
        skip = 0;
    }
    memcpy(w->hdr->in_out, &oh, sizeof(oh));
    w->hdr->ent.payload_sz = (uint32_t)data;
    atomic_fetch_add_explicit(&ring_requests, 1, memory_order_relaxed);
    return (ssize_t)total;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct lsmerfs_uring *u = w->u;
    /* On the queue's CPU: that is the point (uring.h). A CPU that is
     * offline still needs its queue registered; the worker then runs
     * wherever it may. */
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(w->qid, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);

    pthread_mutex_lock(&u->lock);
    while (u->go == 0) pthread_cond_wait(&u->cond, &u->lock);
    int go = u->go;
    pthread_mutex_unlock(&u->lock);
    if (go < 0) return NULL;

    int tries = 0, errors = 0;
    w->commit_id = 0;
    submit_entry(w, URING_CMD_REGISTER);
    for (;;) {
        struct io_uring_cqe cqe;
        if (ring_enter(&w->ring, &cqe) != 0) break;
        if (cqe.user_data == TAG_STOP) break;
        if (cqe.res == -EAGAIN && ++tries < 5000) {
            /* the connection is not initialised yet */
            usleep(1000);
            w->commit_id = 0;
            submit_entry(w, URING_CMD_REGISTER);
            continue;
        }
        if (cqe.res == -ENOTCONN || cqe.res == -ECONNABORTED || cqe.res == -ECANCELED)
            break; /* unmounted or aborted */
        if (cqe.res < 0) {
            /* The entry is lost to the kernel's queue; a new one keeps
             * the queue served. */
            int give_up = ++errors > MAX_REREGISTER;
            fuse_log(FUSE_LOG_WARNING, "io_uring queue %d: %s; %s\n", w->qid, strerror(-cqe.res),
                     give_up ? "this worker stops" : "registering its entry again");
            if (give_up) break;
            w->commit_id = 0;
            submit_entry(w, URING_CMD_REGISTER);
            continue;
        }
        if (!atomic_load_explicit(&u->queue_served[w->qid], memory_order_relaxed) &&
            !atomic_exchange(&u->queue_served[w->qid], 1))
            atomic_fetch_add_explicit(&active_queues, 1, memory_order_relaxed);
        serve(w);
        submit_entry(w, URING_CMD_COMMIT_AND_FETCH);
    }
    return NULL;
}

/* The kernel makes one queue per possible CPU (num_possible_cpus) and
 * waits for an entry in every one before it uses any: count them the same
 * way, from the list in /sys ("0-1", "0-3,8-11"). CPUs that are merely
 * not present yet count too, which sysconf's figure would miss. */
static long possible_cpus(void)
{
    char list[4096];
    int fd = open("/sys/devices/system/cpu/possible", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, list, sizeof(list) - 1) : -1;
    if (fd >= 0) close(fd);
    if (n <= 0) return -1; /* a guess too low would hang the mount */
    list[n] = '\0';
    long count = 0;
    for (char *p = list; *p && *p != '\n';) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p) return -1;
        if (*end == '-') {
            p = end + 1;
            b = strtol(p, &end, 10);
            if (end == p || b < a) return -1;
        }
        count += b - a + 1;
        p = *end == ',' ? end + 1 : end;
    }
    return count;
}

int lsmerfs_uring_create(struct fuse_session *se, int fuse_fd, int workers_per_queue,
                         struct lsmerfs_uring **out)
{
    *out = NULL;
    long cpus = possible_cpus();
    if (cpus < 1 || cpus > 4096) return -ENOTSUP;
    if (workers_per_queue < 1 || workers_per_queue > 64) return -EINVAL;
    struct lsmerfs_uring *u = calloc(1, sizeof(*u));
    if (!u) return -ENOMEM;
    u->se = se;
    u->fuse_fd = fuse_fd;
    u->per_queue = workers_per_queue;
    u->nworkers = (int)cpus * workers_per_queue;
    pthread_mutex_init(&u->lock, NULL);
    pthread_cond_init(&u->cond, NULL);
    u->waker.fd = -1;
    u->w = calloc((size_t)u->nworkers, sizeof(*u->w));
    u->queue_served = calloc((size_t)cpus, sizeof(*u->queue_served));
    if (!u->w || !u->queue_served) {
        lsmerfs_uring_destroy(u);
        return -ENOMEM;
    }
    for (int i = 0; i < u->nworkers; i++) u->w[i].ring.fd = -1;
    int rc = ring_open(&u->waker, RING_ENTRIES);
    if (rc) {
        lsmerfs_uring_destroy(u);
        return rc;
    }
    for (int i = 0; i < u->nworkers; i++) {
        struct worker *w = &u->w[i];
        w->u = u;
        w->qid = i / workers_per_queue;
        rc = ring_open(&w->ring, RING_ENTRIES);
        if (rc) {
            lsmerfs_uring_destroy(u);
            return rc;
        }
    }
    *out = u;
    return 0;
}

static void free_buffers(struct worker *w)
{
    free(w->hdr);
    free(w->mem);
    w->hdr = NULL;
    w->mem = w->payload = NULL;
}

int lsmerfs_uring_start(struct lsmerfs_uring *u, size_t payload_size)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) page = 4096;
    u->payload_size = (payload_size + (size_t)page - 1) / (size_t)page * (size_t)page;
    for (int i = 0; i < u->nworkers; i++) {
        struct worker *w = &u->w[i];
        if (posix_memalign((void **)&w->hdr, (size_t)page, sizeof(*w->hdr)) != 0) goto fail;
        memset(w->hdr, 0, sizeof(*w->hdr));
        /* the payload page-aligned: the kernel copies whole pages best */
        if (posix_memalign((void **)&w->mem, (size_t)page, (size_t)page + u->payload_size) != 0)
            goto fail;
        w->payload = w->mem + page;
    }
    for (int i = 0; i < u->nworkers; i++) {
        if (pthread_create(&u->w[i].thread, NULL, worker_main, &u->w[i]) != 0) {
            lsmerfs_uring_go(u, 0);
            for (int j = 0; j < i; j++) {
                pthread_join(u->w[j].thread, NULL);
                u->w[j].started = 0;
            }
            u->go = 0;
            goto fail;
        }
        u->w[i].started = 1;
    }
    return 0;
fail:
    for (int i = 0; i < u->nworkers; i++) free_buffers(&u->w[i]);
    return -ENOMEM;
}

void lsmerfs_uring_go(struct lsmerfs_uring *u, int ok)
{
    pthread_mutex_lock(&u->lock);
    u->go = ok ? 1 : -1;
    pthread_cond_broadcast(&u->cond);
    pthread_mutex_unlock(&u->lock);
}

/* Posts a TAG_STOP completion into the worker's ring, from the waker's. */
static void wake_to_stop(struct lsmerfs_uring *u, struct worker *w)
{
    unsigned char raw[SQE_SIZE];
    memset(raw, 0, sizeof(raw));
    struct io_uring_sqe *sqe = (struct io_uring_sqe *)raw;
    sqe->opcode = IORING_OP_MSG_RING;
    sqe->fd = w->ring.fd;
    sqe->off = TAG_STOP; /* the user_data of the completion it posts */
    ring_push(&u->waker, raw);
    struct io_uring_cqe cqe; /* the waker's own completion */
    ring_enter(&u->waker, &cqe);
}

void lsmerfs_uring_destroy(struct lsmerfs_uring *u)
{
    if (!u) return;
    lsmerfs_uring_go(u, 0); /* workers still waiting to begin: exit */
    for (int i = 0; u->w && i < u->nworkers; i++) {
        struct worker *w = &u->w[i];
        if (!w->started) continue;
        /* One serving a request finishes it first; one that has left
         * already (unmounted: its entry failed with ENOTCONN) never reads
         * the completion. */
        wake_to_stop(u, w);
        pthread_join(w->thread, NULL);
    }
    /* The workers were the only tasks the kernel copies requests in for,
     * and they are gone: the buffers can go. */
    for (int i = 0; u->w && i < u->nworkers; i++) {
        struct worker *w = &u->w[i];
        ring_close(&w->ring);
        free_buffers(w);
    }
    if (u->waker.fd >= 0) ring_close(&u->waker);
    free(u->w);
    free(u->queue_served);
    pthread_mutex_destroy(&u->lock);
    pthread_cond_destroy(&u->cond);
    free(u);
    atomic_store(&active_queues, 0);
}

uint64_t lsmerfs_uring_requests(void)
{
    return atomic_load_explicit(&ring_requests, memory_order_relaxed);
}

int lsmerfs_uring_queues(void)
{
    return atomic_load(&active_queues);
}
