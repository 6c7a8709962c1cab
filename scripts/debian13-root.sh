#!/bin/bash
# 'make check-debian13': run the whole test suite in a Debian 13 (trixie)
# root, beside the host's own run.
#
# Usage: debian13-root.sh SRCDIR [ROOT]
#
# Builds ROOT with 'debootstrap --variant=minbase trixie' from the
# Debian mirror this machine's apt already uses (read from
# /etc/apt/sources.list.d/*.sources and /etc/apt/sources.list at run
# time), or reuses it and only refreshes its packages.  Clones SRCDIR's
# committed HEAD into ROOT/build/tlsguard and runs the README's test
# command there through chroot: 'scripts/install-deps.sh && ./autogen.sh
# --enable-werror && make check' (the build with -j2, DEBIAN13_JOBS; the
# tests one at a time, as on the host, since several have wall-clock
# deadlines).  The tree's own install-deps.sh installs the packages the
# suite needs, so the list lives in one place.
# Exits with make check's status.
#
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

set -euo pipefail

me=debian13-root.sh
srcdir=${1:?usage: $me SRCDIR [ROOT]}
root=${2:-${DEBIAN13_ROOT:-/var/tmp/tlsguard-debian13}}
jobs=${DEBIAN13_JOBS:-2}
suite=trixie

die () { echo "$me: $*" >&2; exit 1; }

if [ "$(id -u)" != 0 ]; then
  die "must run as root (debootstrap, mount and chroot need it); try: sudo make check-debian13"
fi
command -v debootstrap >/dev/null || die "debootstrap not found (Debian package debootstrap)"
command -v git >/dev/null || die "git not found"
srcdir=$(cd "$srcdir" && pwd)
git -C "$srcdir" rev-parse --verify -q HEAD >/dev/null ||
  die "$srcdir is not a git work tree; the root gets a clone of its HEAD"
case $root in /*) ;; *) die "ROOT must be an absolute path, got '$root'" ;; esac
case "$root/" in
  "$srcdir"/*) die "ROOT ($root) must be outside the source tree" ;;
esac

# mirror, mount_in/undo_mounts, mount_all, remove_tree, chroot_run.
. "$(dirname "$0")/root-functions.sh"
trap undo_mounts EXIT
trap 'undo_mounts; exit 130' INT
trap 'undo_mounts; exit 143' TERM HUP

in_root () { chroot_run "$root" "$@"; }

if [ -f "$root/.tlsguard-debian13" ]; then
  echo "$me: reusing $root (refreshing packages)"
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || :
  mount_all "$root"
  in_root apt-get update -q
  in_root apt-get upgrade -y -q
else
  url=$(mirror | head -n 1)
  [ -n "$url" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d/}"
  echo "$me: building $root: debootstrap --variant=minbase $suite from $url"
  remove_tree "$root.new"
  mkdir -p "$(dirname "$root")"
  debootstrap --variant=minbase "$suite" "$root.new" "$url"
  # Services installed in the root (nbd-server) must not start.
  printf '#!/bin/sh\nexit 101\n' >"$root.new/usr/sbin/policy-rc.d"
  chmod 755 "$root.new/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$root.new/etc/resolv.conf" 2>/dev/null || :
  grep -q "^ID=debian" "$root.new/etc/os-release" || die "debootstrap made no Debian root"
  touch "$root.new/.tlsguard-debian13"
  remove_tree "$root"
  mv "$root.new" "$root"
  mount_all "$root"
  in_root apt-get update -q
fi

# A fresh clone of the committed tree, built and tested inside.
rm -rf --one-file-system "$root/build/tlsguard"
mkdir -p "$root/build"
git clone -q "$srcdir" "$root/build/tlsguard"
echo "$me: testing $(git -C "$root/build/tlsguard" log -1 --format='%h %s')"

status=0
in_root /bin/sh -c "cd /build/tlsguard &&
  { scripts/install-deps.sh >install-deps.log 2>&1 ||
    { tail -n 40 install-deps.log; exit 1; }; } &&
  ./autogen.sh --enable-werror >autogen.log 2>&1 ||
  { tail -n 40 autogen.log; exit 1; }
  make -j$jobs >build.log 2>&1 || { tail -n 40 build.log; exit 1; }
  make check" || status=$?

echo "$me: Debian 13 versions tested:"
in_root dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Version}\n' \
  nbdkit 'libnbd0*' qemu-utils nbd-server 'libgnutls30*' 2>/dev/null |
  sed -n 's/^ii  */  /p' || :
log=$root/build/tlsguard/tests/test-suite.log
if [ -f "$log" ]; then
  echo "$me: Debian 13 test summary:"
  sed -n '/^# TOTAL/,/^# ERROR/p' "$log" | sed 's/^/  /'
fi
if [ $status != 0 ] && [ -f "$log" ]; then
  cat "$log"
fi
echo "$me: make check in Debian 13 exited with status $status"
undo_mounts
exit $status
