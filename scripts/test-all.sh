#!/usr/bin/env bash
# Installs what the build needs, builds lsmer three ways and runs every test:
#   1. RelWithDebInfo: the whole ctest suite (unit + mount tests)
#   2. Asan (AddressSanitizer + UBSan): the whole suite again
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

run_suite RelWithDebInfo build/ci-release
if [ "$quick" -eq 0 ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_suite Asan build/ci-asan
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    run_suite Tsan build/ci-tsan -L concurrency
fi
step "all tests passed"
