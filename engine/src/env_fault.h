/*
 * env_fault.h — a test env that simulates power loss and injects errors.
 *
 * It wraps another env (normally the POSIX one on a scratch directory) and
 * tracks, for every file written through it, how many bytes have been synced
 * and whether its directory entry (creation or rename) has been made durable
 * by env_sync_dir(). env_sync() is recorded but not passed down (the real
 * disk's durability is irrelevant: the power loss is simulated).
 *
 * fault_env_crash() makes every later call fail with -EIO (so a database
 * being torn down cannot persist anything more), then fault_env_restore()
 * rolls the files back to what a power loss would have left: each file
 * truncated to its synced length, files whose creation was never made durable
 * removed, renames whose directory was never synced undone, removals whose
 * directory was never synced undone. After that the env works normally again.
 *
 * Error injection: fault_env_fail() makes the n-th later call of the chosen
 * kinds (0 = the next one) fail with err, once or for good.
 *
 * Thread-safe.
 */
#ifndef LSMER_ENV_FAULT_H
#define LSMER_ENV_FAULT_H

#include "env.h"

enum fault_op {
    FAULT_OPEN = 1u << 0,
    FAULT_READ = 1u << 1,
    FAULT_APPEND = 1u << 2,
    FAULT_SYNC = 1u << 3,
    FAULT_RENAME = 1u << 4,
    FAULT_REMOVE = 1u << 5,
    FAULT_SYNC_DIR = 1u << 6,
    FAULT_ALL = 0x7f,
};

struct lsmer_env *fault_env_new(struct lsmer_env *base);
void fault_env_free(struct lsmer_env *env);

/* Starts failing: every later call returns -EIO until fault_env_restore(). */
void fault_env_crash(struct lsmer_env *env);
/* Rolls files back to their durable state and resumes normal service. */
int fault_env_restore(struct lsmer_env *env);

/* After skip more calls whose kind is in ops, fail with err; sticky = keep
 * failing every such call until fault_env_clear(). */
void fault_env_fail(struct lsmer_env *env, unsigned ops, uint64_t skip, int err, int sticky);
void fault_env_clear(struct lsmer_env *env);

/* Number of env_sync() calls seen (for crash tests that stop at every sync). */
uint64_t fault_env_syncs(struct lsmer_env *env);
/* Calls fn(arg) from inside the env right after each successful sync (fn
 * may call fault_env_crash()). NULL to stop. */
void fault_env_on_sync(struct lsmer_env *env, void (*fn)(void *arg), void *arg);

#endif /* LSMER_ENV_FAULT_H */
