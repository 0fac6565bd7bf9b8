#!/usr/bin/env bash
# Installs what the build needs, builds lsmer three ways and runs every test:
#   1. RelWithDebInfo: the whole ctest suite (unit + mount tests), FUSE
#      requests through /dev/fuse
#   2. Asan (AddressSanitizer + UBSan): the whole suite again, requests
#      through io_uring where the kernel has it (fuse enable_uring)
#   3. Tsan (ThreadSanitizer): the concurrency tests
# plus a clang-format check. Build trees go to build/ci-*.
# Usage: sudo scripts/test-all.sh [--quick]   (--quick: skip the sanitizer builds)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1
[ "${1:-}" = "--help" ] && { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }

bash scripts/install-deps.sh
jobs=$(nproc)
start=$(date +%s)
step() { printf '\n==== %s (%ds elapsed)\n' "$*" $(( $(date +%s) - start )); }

step "clang-format check"
bash scripts/check-format.sh

run_suite() { # build-type dir ctest-args...
  local type=$1 dir=$2; shift 2
  step "configure + build $type"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" >/dev/null
  cmake --build "$dir" -j "$jobs"
  step "ctest $type $*"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" "$@")
}

# FUSE over io_uring is a kernel switch (a fuse module parameter, read at
# each mount): off for the first pass, on for the second, so every mount
# test runs through both transports. Put back as found at exit.
uring_param=/sys/module/fuse/parameters/enable_uring
uring() {
  if [ -w "$uring_param" ] && { echo "$1" >"$uring_param"; } 2>/dev/null; then
    echo "fuse enable_uring=$1"
  else
    echo "fuse enable_uring: not settable here (requests through /dev/fuse)"
  fi
}
if [ -r "$uring_param" ]; then
  uring_was=$(cat "$uring_param")
  trap 'echo "$uring_was" >"$uring_param" 2>/dev/null || true' EXIT
fi

uring N
run_suite RelWithDebInfo build/ci-release
if [ "$quick" -eq 0 ]; then
  uring Y
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 LSMER_SCALE=small \
    run_suite Asan build/ci-asan
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    run_suite Tsan build/ci-tsan -L concurrency
fi
step "all tests passed"
