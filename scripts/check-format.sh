#!/usr/bin/env bash
# Fails when a tracked C file differs from what clang-format (with the
# repo's .clang-format) would make of it. Fix with:
#   git ls-files '*.c' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format is not installed (scripts/install-deps.sh)"; exit 1; }
bad=$(git ls-files '*.c' '*.h' | while read -r f; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || echo "$f"
done)
if [ -n "$bad" ]; then
  echo "check-format: these files are not clang-formatted:"
  echo "$bad" | sed 's/^/  /'
  echo "fix: git ls-files '*.c' '*.h' | xargs clang-format -i"
  exit 1
fi
echo "check-format: all C files are formatted"
