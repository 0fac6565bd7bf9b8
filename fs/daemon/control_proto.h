/*
 * control_proto.h — the wire protocol of the lsmerfs control channel,
 * shared by the daemon (control.c) and the admin CLI (tools/lsmer/ctl.c),
 * which includes this file by its path in the source tree. Header only:
 * names and lists, no code. docs/operations.md "Control channel" describes
 * the protocol for people.
 *
 * The socket is DATA_DIR/control/sock: a unix stream socket in a directory
 * of mode 0700 owned by the daemon's user. One request per connection: a
 * line "COMMAND[ ARG]\n" (ARG runs to the end of the line; at most
 * CTL_LINE_MAX bytes in all). The reply is lines, each "WORD ...\n", ending
 * with one line "ok[ TEXT]" or "error ERRNO TEXT" (ERRNO a positive errno
 * number); the daemon then closes the connection.
 *
 *   stats          lines "engine NAME VALUE" (CTL_ENGINE_FIELDS), "level N
 *                  FILES BYTES SCORE", "fs NAME VALUE" (CTL_FS_FIELDS), "op
 *                  NAME COUNT" (LSMERFS_OPS), "job KIND TEXT" while a
 *                  compaction or backup runs; then "ok".
 *   compact        "progress READ WRITTEN TOTAL JOBS" lines every half
 *                  second while lsmer_compact_range runs, then "ok" or
 *                  "error".
 *   backup DEST    "progress KEYS BYTES TOTAL_ESTIMATE" lines, then
 *                  "ok SEQUENCE KEYS BYTES INODES DIRS FILES SYMLINKS OTHERS
 *                  FILE_BYTES" or "error". DEST is an absolute path.
 *
 * Unknown lines are ignored by the client, so fields can be added.
 */
#ifndef LSMERFS_CONTROL_PROTO_H
#define LSMERFS_CONTROL_PROTO_H

#define CTL_DIR_NAME "control"
#define CTL_SOCK_NAME "sock"
#define CTL_LINE_MAX 8192

/* Every FUSE operation the daemon counts (ops.c), in table order. */
#define LSMERFS_OPS(X)                                                                             \
    X(lookup)                                                                                      \
    X(forget)                                                                                      \
    X(getattr)                                                                                     \
    X(setattr)                                                                                     \
    X(readlink)                                                                                    \
    X(mknod)                                                                                       \
    X(mkdir)                                                                                       \
    X(symlink)                                                                                     \
    X(link)                                                                                        \
    X(unlink)                                                                                      \
    X(rmdir)                                                                                       \
    X(rename)                                                                                      \
    X(open)                                                                                        \
    X(create)                                                                                      \
    X(read)                                                                                        \
    X(write)                                                                                       \
    X(release)                                                                                     \
    X(fsync)                                                                                       \
    X(opendir)                                                                                     \
    X(readdir)                                                                                     \
    X(readdirplus)                                                                                 \
    X(releasedir)                                                                                  \
    X(fsyncdir)                                                                                    \
    X(statfs)                                                                                      \
    X(setxattr)                                                                                    \
    X(getxattr)                                                                                    \
    X(listxattr)                                                                                   \
    X(removexattr)                                                                                 \
    X(fallocate)                                                                                   \
    X(lseek)

/* The uint64_t fields of lsmer_stats sent as "engine NAME VALUE". */
#define CTL_ENGINE_FIELDS(X)                                                                       \
    X(user_bytes_written)                                                                          \
    X(wal_bytes_written)                                                                           \
    X(flush_bytes_written)                                                                         \
    X(compaction_bytes_read)                                                                       \
    X(compaction_bytes_written)                                                                    \
    X(wal_syncs)                                                                                   \
    X(sync_requests)                                                                               \
    X(flushes)                                                                                     \
    X(compactions)                                                                                 \
    X(stall_micros)                                                                                \
    X(slowdowns)                                                                                   \
    X(stops)                                                                                       \
    X(cache_hits)                                                                                  \
    X(cache_misses)                                                                                \
    X(cache_bytes)                                                                                 \
    X(cache_capacity)                                                                              \
    X(bloom_checks)                                                                                \
    X(bloom_useful)                                                                                \
    X(bloom_false_positives)                                                                       \
    X(memtable_bytes)                                                                              \
    X(immutable_memtables)                                                                         \
    X(wal_file_bytes)                                                                              \
    X(table_bytes)                                                                                 \
    X(live_snapshots)                                                                              \
    X(last_sequence)                                                                               \
    X(pending_compaction_bytes)                                                                    \
    X(recovery_micros)

/* Filesystem figures sent as "fs NAME VALUE" (background_error of the
 * engine rides here too, as a signed number). */
#define CTL_FS_FIELDS(X)                                                                           \
    X(uptime_ms)          /* since the mount */                                                    \
    X(referenced_inodes)  /* inodes the kernel holds */                                            \
    X(inos_handed_out)    /* inode numbers handed out, freed ones included */                      \
    X(read_bytes)         /* bytes returned by read */                                             \
    X(write_bytes)        /* bytes accepted by write */                                            \
    X(volume_total_bytes) /* the volume under DATA_DIR */                                          \
    X(volume_avail_bytes)                                                                          \
    X(uring_queues)   /* io_uring queues that have served a request (0: /dev/fuse only) */         \
    X(uring_requests) /* requests served through them */

#endif
