/*
 * channel.c — custom io on the /dev/fuse channel (channel.h).
 *
 * The INIT request is the first the kernel sends and no other comes before
 * its reply, but workers read concurrently, so the state is atomic.
 */
#include "channel.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <unistd.h>

#include "uring.h"

/* Protocol 7.42's flag; the system's linux/fuse.h predates it. */
#define OVER_IO_URING_FLAG2 (1u << (41 - 32))
#define KERNEL_MIN_READ_BUFFER 8192u
#define KERNEL_DEFAULT_MAX_PAGES 32u

static struct channel_config config;
static _Atomic uint64_t init_unique;   /* the INIT request's id, 0 when none pending */
static _Atomic uint32_t kernel_flags;  /* what the kernel offered in INIT */
static _Atomic uint32_t kernel_flags2; /* ... and in flags2, when it sent them */
static atomic_int killpriv_active, uring_active;

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
    (void)userdata;
    ssize_t n = read(fd, buf, len);
    if (n >= (ssize_t)(sizeof(struct fuse_in_header) + sizeof(uint32_t) * 4)) {
        const struct fuse_in_header *h = buf;
        if (h->opcode == FUSE_INIT) {
            const struct fuse_init_in *in = (const void *)(h + 1);
            atomic_store(&kernel_flags, in->flags);
            if ((in->flags & FUSE_INIT_EXT) &&
                (size_t)n >= sizeof(*h) + offsetof(struct fuse_init_in, flags2) + 4)
                atomic_store(&kernel_flags2, in->flags2);
            atomic_store(&init_unique, h->unique);
        }
    }
    return n;
}

/* The largest request or reply the kernel puts in one ring entry, as it
 * computes it from the INIT reply. */
static size_t ring_payload_size(const struct fuse_init_out *o)
{
    size_t pages =
        (o->flags & FUSE_MAX_PAGES) && o->max_pages ? o->max_pages : KERNEL_DEFAULT_MAX_PAGES;
    long page = sysconf(_SC_PAGESIZE); /* the kernel's PAGE_SIZE */
    size_t page_size = page > 0 ? (size_t)page : 4096;
    size_t size = KERNEL_MIN_READ_BUFFER;
    if (o->max_write > size) size = o->max_write;
    if (pages * page_size > size) size = pages * page_size;
    return size;
}

static ssize_t write_init_reply(int fd, struct iovec *iov, int count)
{
    struct fuse_out_header *oh = iov[0].iov_base;
    struct fuse_init_out *o = iov[1].iov_base;
    if (oh->error != 0) return writev(fd, iov, count);
    /* major, minor, max_readahead, then flags: present in every version of
     * fuse_init_out */
    if (config.killpriv_v2 && (atomic_load(&kernel_flags) & FUSE_HANDLE_KILLPRIV_V2)) {
        o->flags |= FUSE_HANDLE_KILLPRIV_V2;
        atomic_store(&killpriv_active, 1);
    }
    int ring = 0;
    if (config.uring && (atomic_load(&kernel_flags2) & OVER_IO_URING_FLAG2) &&
        iov[1].iov_len >= offsetof(struct fuse_init_out, flags2) + sizeof(o->flags2)) {
        /* The workers exist before the reply accepts the flag: from then
         * on every request waits for the rings (uring.h). */
        if (lsmerfs_uring_start(config.uring, ring_payload_size(o)) == 0) {
            o->flags |= FUSE_INIT_EXT;
            o->flags2 |= OVER_IO_URING_FLAG2;
            ring = 1;
        } else {
            fuse_log(FUSE_LOG_WARNING, "cannot start the io_uring workers: requests go through "
                                       "/dev/fuse\n");
        }
    }
    ssize_t n = writev(fd, iov, count);
    if (ring) {
        lsmerfs_uring_go(config.uring, n >= 0);
        atomic_store(&uring_active, n >= 0);
    }
    return n;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
    (void)userdata;
    ssize_t taken = lsmerfs_uring_take_reply(iov, count);
    if (taken > 0) return taken;
    if (taken < 0) {
        errno = (int)-taken;
        return -1;
    }
    uint64_t u = atomic_load(&init_unique);
    if (u && count >= 2 && iov[0].iov_len >= sizeof(struct fuse_out_header) &&
        iov[1].iov_len >= sizeof(uint32_t) * 4) {
        const struct fuse_out_header *oh = iov[0].iov_base;
        if (oh->unique == u) {
            atomic_store(&init_unique, 0);
            return write_init_reply(fd, iov, count);
        }
    }
    return writev(fd, iov, count);
}

int lsmerfs_channel_install(struct fuse_session *se, const struct channel_config *cfg)
{
    static const struct fuse_custom_io io = {.read = io_read, .writev = io_writev};
    config = *cfg;
    /* The mount's own descriptor, now read and written through io. */
    return fuse_session_custom_io(se, &io, fuse_session_fd(se)) == 0 ? 0 : -EIO;
}

int lsmerfs_channel_killpriv_v2_active(void)
{
    return atomic_load(&killpriv_active);
}

int lsmerfs_channel_uring_active(void)
{
    return atomic_load(&uring_active);
}
