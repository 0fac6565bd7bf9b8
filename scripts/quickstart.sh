#!/usr/bin/env bash
# Installs the dependencies, builds lsmer, and mounts an lsmerfs with its
# data in ./data at ./mnt (both under the checkout unless given).
# Usage: sudo scripts/quickstart.sh [DATA_DIR [MOUNTPOINT]] [-- lsmerfs options]
#   e.g. scripts/quickstart.sh -- -o nowriteback
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

data=""
mnt=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) if [ -z "$data" ]; then data=$1; elif [ -z "$mnt" ]; then mnt=$1;
       else echo "quickstart: unexpected argument '$1'" >&2; exit 2; fi ;;
  esac
  shift
done
data=${data:-$root/data}
mnt=${mnt:-$root/mnt}

bash scripts/install-deps.sh

echo "==> building (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target lsmerfs lsmer
bin=$root/build/fs/lsmerfs

# FUSE over io_uring (Linux 6.14+): per-CPU request queues, about twice
# the metadata speed. Off unless the fuse module's parameter is set; it
# affects only FUSE daemons that ask for it. lsmerfs -o nouring opts out.
uring_param=/sys/module/fuse/parameters/enable_uring
if [ -e "$uring_param" ] && [ "$(cat "$uring_param")" = N ]; then
  if { echo Y >"$uring_param"; } 2>/dev/null; then
    echo "==> turned on FUSE over io_uring ($uring_param = Y; see docs/operations.md)"
  fi
fi

mkdir -p "$data" "$mnt"
if mountpoint -q "$mnt"; then
  echo "quickstart: $mnt is already mounted; unmount it first: fusermount3 -u $mnt" >&2
  exit 1
fi
echo "==> mounting $data at $mnt"
"$bin" "$data" "$mnt" ${extra[@]+"${extra[@]}"}

cat <<MSG

lsmerfs is mounted:
  data:        $data
  mount point: $mnt
Use it like any directory (ls, cp, git, sqlite3 ...). Try: df -h $mnt

To unmount:  fusermount3 -u $mnt      (or: umount $mnt as root)
To remount:  $bin $data $mnt
Options:     $bin --help
Admin tool:  $root/build/tools/lsmer stats $mnt   (lsmer --help for the rest)
MSG
