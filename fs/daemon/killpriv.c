/*
 * killpriv.c — HANDLE_KILLPRIV_V2 behind libfuse 3.14's back (killpriv.h).
 *
 * The INIT request is the first the kernel sends and no other comes before
 * its reply, but workers read concurrently, so the state is atomic.
 */
#include "killpriv.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/uio.h>
#include <unistd.h>

static _Atomic uint64_t init_unique;  /* the INIT request's id, 0 when none pending */
static _Atomic uint32_t kernel_flags; /* what the kernel offered in INIT */
static atomic_int active;

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
    (void)userdata;
    ssize_t n = read(fd, buf, len);
    if (n >= (ssize_t)(sizeof(struct fuse_in_header) + sizeof(uint32_t) * 4)) {
        const struct fuse_in_header *h = buf;
        if (h->opcode == FUSE_INIT) {
            const struct fuse_init_in *in = (const void *)(h + 1);
            atomic_store(&kernel_flags, in->flags);
            atomic_store(&init_unique, h->unique);
        }
    }
    return n;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
    (void)userdata;
    uint64_t u = atomic_load(&init_unique);
    if (u && count >= 2 && iov[0].iov_len >= sizeof(struct fuse_out_header) &&
        iov[1].iov_len >= sizeof(uint32_t) * 4) {
        struct fuse_out_header *oh = iov[0].iov_base;
        if (oh->unique == u && oh->error == 0) {
            /* major, minor, max_readahead, then flags: present in every
             * version of fuse_init_out */
            struct fuse_init_out *o = iov[1].iov_base;
            if (atomic_load(&kernel_flags) & FUSE_HANDLE_KILLPRIV_V2) {
                o->flags |= FUSE_HANDLE_KILLPRIV_V2;
                atomic_store(&active, 1);
            }
            atomic_store(&init_unique, 0);
        }
    }
    return writev(fd, iov, count);
}

int lsmerfs_killpriv_v2_install(struct fuse_session *se)
{
    static const struct fuse_custom_io io = {.read = io_read, .writev = io_writev};
    /* The mount's own descriptor, now read and written through io. */
    return fuse_session_custom_io(se, &io, fuse_session_fd(se)) == 0 ? 0 : -EIO;
}

int lsmerfs_killpriv_v2_active(void)
{
    return atomic_load(&active);
}
