#!/bin/sh -
# Install the Debian packages tlsguard needs, on Debian 12 or 13.
#
# Usage: scripts/install-deps.sh [--filter-only] [--dry-run]
#
#   (default)      everything: the filter, the harness, the tests and
#                  every peer the tests drive (qemu-nbd, nbd-server, ...)
#   --filter-only  only what building and installing the filter needs:
#                  a C toolchain, autotools, nbdkit and its plugin
#                  headers, and pod2man (perl) for the man page
#   --dry-run      print what would be installed and exit
#
# It prints the packages it is going to install before it installs them.
# As root it runs apt-get; as another user it prints the apt-get command
# and exits 1 if anything is missing.  Exits 0 when everything is there.
#
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

set -e
me=install-deps.sh

filter_only=no
dry_run=no
for a in "$@"; do
  case $a in
    --filter-only) filter_only=yes ;;
    --dry-run|-n) dry_run=yes ;;
    -h|--help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "$me: unknown option '$a' (try --help)" >&2; exit 2 ;;
  esac
done

# The filter: build system, compiler, nbdkit's headers, pod2man.
packages="
  autoconf automake libtool pkg-config make gcc
  nbdkit nbdkit-plugin-dev
  perl
"

if [ $filter_only = no ]; then
  # The harness, unit tests, benchmarks and the peers the tests drive.
  packages="$packages
    git
    libgnutls28-dev gnutls-bin
    check
    libnbd-dev libnbd-bin python3-libnbd
    qemu-utils nbd-server fio valgrind
    spin strace python3
    clang
  "
  # clang's runtimes (libFuzzer, sanitizers; make fuzz-smoke) are
  # packaged per clang major version: libclang-rt-14-dev on Debian 12,
  # -19- on 13.  Take the major version of the clang that is installed,
  # or else of the one apt would install, and add its runtime package if
  # the release has one.
  clang_major=
  if command -v dpkg-query >/dev/null 2>&1; then
    clang_major=$(dpkg-query -W -f='${Depends}' clang 2>/dev/null |
      sed -n 's/^clang-\([0-9][0-9]*\).*/\1/p')
  fi
  if [ -z "$clang_major" ] && command -v apt-cache >/dev/null 2>&1; then
    clang_major=$(apt-cache depends clang 2>/dev/null |
      sed -n 's/^ *Depends: clang-\([0-9][0-9]*\)$/\1/p' | head -n 1)
  fi
  if [ -n "$clang_major" ] &&
     apt-cache show "libclang-rt-$clang_major-dev" >/dev/null 2>&1; then
    packages="$packages libclang-rt-$clang_major-dev"
  fi
fi

command -v dpkg-query >/dev/null 2>&1 || {
  echo "$me: dpkg-query not found: this script is for Debian 12 and 13" >&2
  exit 1
}
missing=
for p in $packages; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || :)
  case "$st" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
  esac
done

if [ -z "$missing" ]; then
  echo "$me: all $(echo $packages | wc -w) packages are installed"
  exit 0
fi
echo "$me: to install:$missing"
if [ $dry_run = yes ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "$me: not root; install them with:" >&2
  echo "  sudo apt-get install --no-install-recommends$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
