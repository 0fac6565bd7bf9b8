#!/usr/bin/env bash
# Installs every Debian package that lsmer's build, tests and benchmarks use.
# Usage: sudo scripts/install-deps.sh [--bench]
#   --bench  also install the peers the benchmarks compare against
#            (RocksDB, LevelDB, LMDB development packages, bindfs).
set -euo pipefail

want_bench=0
for arg in "$@"; do
  case "$arg" in
    --bench) want_bench=1 ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps.sh: run as root or install sudo" >&2; exit 1; }
  SUDO=sudo
fi

packages=(
  build-essential cmake pkg-config git
  libzstd-dev libcmocka-dev
  libfuse3-dev fuse3
  # programs the mount tests drive
  sqlite3 rsync attr acl libcap2-bin tar coreutils findutils util-linux procps psmisc python3 perl
  clang-format
  # tools/tests/t_install.sh: renders the man pages, reads the installed library
  man-db groff-base binutils
  # tools/tests/t_plot.sh: the benchmark charts
  gnuplot-nox
)
if [ "$want_bench" -eq 1 ]; then
  packages+=(librocksdb-dev libleveldb-dev liblmdb-dev libsnappy-dev bindfs)
fi

export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
