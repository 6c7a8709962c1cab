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

# The Debian archive this machine's apt uses: the first 'deb' source
# whose suites are not a security suite.  deb822 stanzas first, then
# one-line sources.list entries.
mirror () {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && suites !~ /security/ && uris != "") {
          split(uris, u, " "); print u[1]; found = 1; exit
        }
        types = suites = uris = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      tolower($1) == "types:"  { $1 = ""; types = $0 }
      tolower($1) == "uris:"   { $1 = ""; sub(/^ +/, ""); uris = $0 }
      tolower($1) == "suites:" { $1 = ""; suites = $0 }
      END { if (!found) flush() }
    ' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '
      $1 != "deb" { next }
      { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } }
      $(i + 1) !~ /security/ && $i ~ /^(https?|file):/ { print $i; exit }
    ' "$f"
  done
}

mounts=()
undo_mounts () {
  local i status=0
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" || status=1
  done
  mounts=()
  return $status
}
trap undo_mounts EXIT
trap 'undo_mounts; exit 130' INT
trap 'undo_mounts; exit 143' TERM HUP

mount_in () {   # mount_in DIR mount-args...
  local dir=$1; shift
  mkdir -p "$dir"
  mount "$@" "$dir"
  mounts+=("$dir")
}

mount_all () {   # mount_all ROOT
  mount_in "$1/proc" -t proc proc
  mount_in "$1/sys" -t sysfs sysfs
  mount_in "$1/dev" --bind /dev
  mount_in "$1/dev/pts" -t devpts -o newinstance,ptmxmode=0666 devpts
  mount_in "$1/dev/shm" -t tmpfs -o mode=1777 tmpfs
}

# remove_tree DIR: unmount whatever is still mounted below DIR (a
# debootstrap that failed half-way leaves its /proc and /sys), then
# remove it without crossing into another file system.
remove_tree () {
  local m
  [ -e "$1" ] || return 0
  findmnt -rn -o TARGET | awk -v d="$1/" 'index($0 "/", d) == 1' | sort -r |
    while read -r m; do umount "$m" || umount -l "$m"; done
  rm -rf --one-file-system "$1"
}

in_root () { chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  DEBIAN_FRONTEND=noninteractive "$@"; }

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
