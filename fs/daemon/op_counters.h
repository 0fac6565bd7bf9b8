/*
 * op_counters.h — counts of the FUSE requests the daemon served, by
 * operation, and the bytes read and written: kept by the adapters in ops.c,
 * read by the control channel (control.c) for `lsmer stats`.
 *
 * Thread safety: relaxed atomic increments from every FUSE thread; a reader
 * sees each counter on its own (no snapshot across counters), which is all
 * a rate needs.
 */
#ifndef LSMERFS_OP_COUNTERS_H
#define LSMERFS_OP_COUNTERS_H

#include <stdatomic.h>
#include <stdint.h>

#include "control_proto.h"

enum lsmerfs_op {
#define X(name) LSMERFS_OP_##name,
    LSMERFS_OPS(X)
#undef X
        LSMERFS_OP_COUNT
};

extern _Atomic uint64_t lsmerfs_op_count[LSMERFS_OP_COUNT];
extern _Atomic uint64_t lsmerfs_read_bytes, lsmerfs_write_bytes;

#define LSMERFS_COUNT_OP(name)                                                                     \
    atomic_fetch_add_explicit(&lsmerfs_op_count[LSMERFS_OP_##name], 1, memory_order_relaxed)

#endif
