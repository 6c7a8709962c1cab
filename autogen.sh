#!/bin/sh -
# tlsguard: bootstrap the build.
#
# On Debian 12 this installs the build and test dependencies (as root,
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
  clang libclang-rt-14-dev
  perl
  spin
"

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
