/*
 * fuzz.h — the contract between a fuzz target and its drivers.
 *
 * A target is one file that defines LLVMFuzzerTestOneInput() — feed it any
 * bytes; it must return 0 without crashing, leaking or reading out of
 * bounds, whatever the bytes (errors are fine, wrong memory use is not) —
 * and fuzz_seed_inputs(), which hands the driver a few valid inputs to
 * start mutating from (a real log, a real table...), since random bytes
 * rarely get past the first checksum.
 *
 * Two drivers run a target: libFuzzer (clang, -DLSMER_LIBFUZZER=ON), which
 * is coverage-guided, and fuzz_main.c, a plain mutation loop that needs
 * no special compiler, prints its seed and runs in the test suite under
 * AddressSanitizer.
 */
#ifndef LSMER_FUZZ_H
#define LSMER_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_seed_inputs calls add(arg, bytes, n) once per seed input. */
typedef void (*fuzz_add_fn)(void *arg, const uint8_t *bytes, size_t n);
void fuzz_seed_inputs(fuzz_add_fn add, void *arg);

/* A scratch file path for this process and target (in /dev/shm when it
 * exists), for targets whose input is a file; fuzz_write_file replaces its
 * contents. Both return 0 or -1 with errno. */
int fuzz_scratch_path(const char *target, char *out, size_t cap);
int fuzz_write_file(const char *path, const uint8_t *data, size_t size);
/* Hands the contents of the file at path (up to 1 MiB) to add, as a seed
 * input written by one of the engine's real writers. */
void fuzz_add_file(const char *path, fuzz_add_fn add, void *arg);

#endif /* LSMER_FUZZ_H */
