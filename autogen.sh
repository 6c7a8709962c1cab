#!/bin/sh -
# tlsguard: bootstrap the build.
#
# On Debian 12 or 13 this installs the build and test dependencies (as root,
# with apt-get) or prints the command that would (as any other user),
# then runs autoreconf and ./configure with the arguments given.
#
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

set -e

srcdir=$(dirname "$0")
test -n "$srcdir" || srcdir=.

# Debian packages needed to build tlsguard and run every test.
packages="
  autoconf automake libtool pkg-config make gcc
  nbdkit nbdkit-plugin-dev
  libgnutls28-dev gnutls-bin
  check
  libnbd-dev libnbd-bin python3-libnbd
  qemu-utils nbd-server fio valgrind
  clang
  perl
  spin
"

# clang's runtimes (libFuzzer, sanitizers; make fuzz-smoke) are packaged
# per clang major version: libclang-rt-14-dev on Debian 12, -19- on 13.
# Take the major version of the clang that is installed, or else of the
# one apt would install, and add its runtime package if the release has
# one.
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

missing=
if command -v dpkg-query >/dev/null 2>&1; then
  for p in $packages; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || :)
    case "$st" in
      *"install ok installed"*) ;;
      *) missing="$missing $p" ;;
    esac
  done
fi

if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "autogen.sh: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
  else
    echo "autogen.sh: these packages are missing:$missing"
    echo "autogen.sh: install them with:"
    echo "  sudo apt-get install$missing"
  fi
fi

(cd "$srcdir" && autoreconf -fi)
exec "$srcdir/configure" "$@"
