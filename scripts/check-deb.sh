#!/bin/bash
# 'make check-deb': build the Debian packages for one Debian release,
# run lintian on them, and install and try them in a clean minimal root
# of that release.
#
# Usage: check-deb.sh SRCDIR OUTDIR [RELEASE]
#
# RELEASE is bookworm (Debian 12) or trixie (Debian 13); the default is
# the host's own release.
#
# - Build.  On a host of the same release the packages are built on the
#   host (scripts/build-deb.sh --nocheck: the test suite already ran).
#   For another release they are built inside a build root of that
#   release, ROOTS/RELEASE-build (debootstrap --variant=minbase, then
#   build-essential, debhelper, lintian and the build dependencies with
#   'apt-get build-dep -P nocheck'), so that the filter is compiled
#   against that release's nbdkit.  The packages land in OUTDIR.
# - lintian, from the building release, on the .changes; any error fails.
# - Install test.  ROOTS/RELEASE-min is a clean minimal root
#   (debootstrap --variant=minbase).  Each run mounts a throw-away
#   overlay over it, installs the .debs there with apt-get (so their
#   dependencies come from the mirror), and checks: the Depends pin
#   names exactly the nbdkit upstream version the release has, 'nbdkit
#   --filter=tlsguard null --version' loads the filter by name, 'man -w
#   nbdkit-tlsguard-filter' finds the man page (and 'man -w nbd-probe'
#   where the tree has nbd-probe.pod), 'nbd-probe --help' runs,
#   and over a real nbdkit with a generated PSK, 'nbdinfo --map' in
#   plaintext fails with EINVAL while the same over TLS gets the map.
#
# Roots are made from the Debian mirror this machine's apt already uses
# (read from /etc/apt/sources.list.d/*.sources and /etc/apt/sources.list
# at run time) and reused across runs; on reuse only their packages are
# refreshed.  ROOTS is $TLSGUARD_DEB_ROOTS, default /var/tmp/tlsguard-deb;
# it must be outside the source tree.  Needs root (debootstrap, mount,
# chroot).  Everything mounted is unmounted on every exit path; the
# only processes started are the commands run in the roots, and the
# test nbdkit runs captive (nbdkit --run), so it exits with its client.
#
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

set -euo pipefail

me=check-deb.sh
die () { echo "$me: error: $*" >&2; exit 1; }
say () { echo "$me: $*"; }

[ $# -ge 2 ] && [ $# -le 3 ] || die "usage: $me SRCDIR OUTDIR [bookworm|trixie]"
srcdir=$(cd "$1" && pwd) || die "no source directory $1"
outdir=$2
host_release=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
release=${3:-$host_release}
case $release in
  bookworm|trixie) ;;
  *) die "release must be bookworm or trixie, got '$release'" ;;
esac
roots=${TLSGUARD_DEB_ROOTS:-/var/tmp/tlsguard-deb}
jobs=${TLSGUARD_DEB_JOBS:-2}

if [ "$(id -u)" != 0 ]; then
  die "must run as root (debootstrap, mount and chroot need it); try: sudo make check-deb"
fi
command -v debootstrap >/dev/null || die "debootstrap not found (Debian package debootstrap)"
case $roots in /*) ;; *) die "TLSGUARD_DEB_ROOTS must be an absolute path, got '$roots'" ;; esac
case "$roots/" in
  "$srcdir"/*) die "TLSGUARD_DEB_ROOTS ($roots) must be outside the source tree" ;;
esac
mkdir -p "$outdir" "$roots"
outdir=$(cd "$outdir" && pwd)

# mirror, mount_in/undo_mounts, mount_all, has_mounts, chroot_run.
. "$(dirname "$0")/root-functions.sh"

cleanup () {
  undo_mounts || :
  # Never remove a tree that still has something (like /dev) mounted in it.
  if [ -n "${test_root:-}" ] && ! has_mounts "$test_root"; then
    rm -rf "$test_root" "$test_root.upper" "$test_root.work"
  fi
}
trap cleanup EXIT
trap 'cleanup; echo "$me: interrupted" >&2; exit 130' INT
trap 'cleanup; echo "$me: terminated" >&2; exit 143' TERM HUP

unmount_under () {   # unmount_under ROOT: undo the mounts made below ROOT
  local i keep=()
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    case ${mounts[i]} in
      "$1"|"$1"/*) umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" ;;
      *) keep=("${mounts[i]}" "${keep[@]}") ;;
    esac
  done
  mounts=("${keep[@]}")
}

in_root () { chroot_run "$@"; }   # in_root ROOT command...

apt_quiet () {   # apt_quiet ROOT apt-get-args...: apt-get, output only on failure
  local r=$1 log; shift
  log=$(mktemp)
  if ! in_root "$r" apt-get -q -o Dpkg::Use-Pty=0 "$@" >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"
    die "apt-get $* failed in $r"
  fi
  rm -f "$log"
}

# ensure_root ROOT: make ROOT with debootstrap, or refresh it.  Leaves
# its proc, sys and dev mounted.
ensure_root () {
  local r=$1 url
  ! has_mounts "$r" || die "$r still has file systems mounted in it (from an interrupted run?); unmount them first"
  if [ -f "$r/.tlsguard-deb-root" ]; then
    say "reusing $r (refreshing packages)"
    cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || :
    mount_all "$r"
    apt_quiet "$r" update
    apt_quiet "$r" upgrade -y
  else
    # Only ever remove what this script made.
    [ ! -e "$r" ] ||
      die "$r exists but was not made by $me (no .tlsguard-deb-root in it); remove it or set TLSGUARD_DEB_ROOTS"
    ! has_mounts "$r.new" || die "$r.new (an interrupted debootstrap) still has file systems mounted in it; unmount them first"
    url=$(mirror | head -n 1)
    [ -n "$url" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d/}"
    say "making $r: debootstrap --variant=minbase $release $url"
    rm -rf "$r.new"
    debootstrap --variant=minbase "$release" "$r.new" "$url" >"$roots/debootstrap.log" 2>&1 ||
      { tail -n 20 "$roots/debootstrap.log" >&2; die "debootstrap failed (log: $roots/debootstrap.log)"; }
    # Nothing installed in a root may start a service.
    printf '#!/bin/sh\nexit 101\n' >"$r.new/usr/sbin/policy-rc.d"
    chmod 755 "$r.new/usr/sbin/policy-rc.d"
    cp /etc/resolv.conf "$r.new/etc/resolv.conf" 2>/dev/null || :
    grep -q '^ID=debian' "$r.new/etc/os-release" || die "debootstrap made no Debian root"
    touch "$r.new/.tlsguard-deb-root"
    mv "$r.new" "$r"
    mount_all "$r"
    apt_quiet "$r" update
  fi
}

t0=$(date +%s)
elapsed () { echo "$(( $(date +%s) - t0 )) s"; }

# ---- Build and lintian ----------------------------------------------------
# lintian does not need root and says so; it runs as nobody.
as_nobody='--reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp'
rm -f "$outdir"/*.deb "$outdir"/*.changes "$outdir"/*.buildinfo "$outdir"/lintian.txt
if [ "$release" = "$host_release" ]; then
  say "building on the host ($host_release)"
  "$srcdir/scripts/build-deb.sh" --nocheck "$srcdir" "$outdir"
  say "built at $(elapsed)"
  command -v lintian >/dev/null || die "lintian not found (Debian package lintian)"
  lintian_ver=$(lintian --version)
  # nobody may not be able to read OUTDIR or the current directory (a
  # checkout in a private directory): lintian reads a copy, from there.
  lint_dir=$(mktemp -d "${TMPDIR:-/tmp}/tlsguard-lintian.XXXXXX")
  cp "$outdir"/tlsguard_*.changes "$outdir"/*.deb "$outdir"/*.buildinfo "$lint_dir"/
  chmod 755 "$lint_dir"; chmod 644 "$lint_dir"/*
  lintian_out=$(cd "$lint_dir" &&
    setpriv $as_nobody lintian --fail-on error "$lint_dir"/tlsguard_*.changes 2>&1) &&
    lint_status=0 || lint_status=$?
  rm -rf "$lint_dir"
else
  git -C "$srcdir" rev-parse --verify -q HEAD >/dev/null 2>&1 ||
    die "$srcdir is not a git checkout; the $release build root gets a git export of it"
  build_root=$roots/$release-build
  ensure_root "$build_root"
  if [ ! -f "$build_root/.tlsguard-deb-tools" ]; then
    say "installing build-essential, debhelper and lintian in $build_root"
    apt_quiet "$build_root" install -y --no-install-recommends \
      build-essential debhelper lintian
    touch "$build_root/.tlsguard-deb-tools"
  fi
  rm -rf "$build_root/build"
  mkdir -p "$build_root/build/tlsguard"
  # The tracked source as in the work tree (see build-deb.sh).
  git -C "$srcdir" update-index -q --refresh >/dev/null || :
  rev=$(git -C "$srcdir" stash create) || die "git stash create failed in $srcdir"
  [ -n "$rev" ] || rev=HEAD
  git -C "$srcdir" archive --format=tar "$rev" | tar -x -C "$build_root/build/tlsguard"
  say "installing the build dependencies in $build_root (apt-get build-dep -P nocheck)"
  apt_quiet "$build_root" build-dep -y -P nocheck /build/tlsguard
  say "build root ready at $(elapsed)"
  say "building in $build_root ($release, nbdkit $(in_root "$build_root" pkg-config --modversion nbdkit))"
  if ! in_root "$build_root" /bin/sh -c \
      "cd /build/tlsguard && DEB_BUILD_OPTIONS='nocheck parallel=$jobs' DEB_BUILD_PROFILES=nocheck \
       dpkg-buildpackage -us -uc -b" >"$outdir/build.log" 2>&1; then
    tail -n 60 "$outdir/build.log"
    die "dpkg-buildpackage failed in $build_root; the whole log is $outdir/build.log"
  fi
  mv "$build_root"/build/*.deb "$build_root"/build/*.changes "$build_root"/build/*.buildinfo "$outdir"/
  say "built at $(elapsed)"
  lintian_ver=$(in_root "$build_root" lintian --version)
  cp "$outdir"/tlsguard_*.changes "$outdir"/*.deb "$outdir"/*.buildinfo "$build_root/build/"
  lintian_out=$(in_root "$build_root" /bin/sh -c \
      "setpriv $as_nobody lintian --fail-on error /build/tlsguard_*.changes" 2>&1) &&
    lint_status=0 || lint_status=$?
  unmount_under "$build_root"
fi
printf '%s\n' "$lintian_out" >"$outdir/lintian.txt"
say "$lintian_ver on the $release packages:"
if [ -n "$lintian_out" ]; then printf '%s\n' "$lintian_out" | sed 's/^/  /'; else echo "  (no tags)"; fi
[ "$lint_status" = 0 ] || die "lintian reported errors (exit $lint_status)"
say "lintian done at $(elapsed)"

filter_deb=$(ls "$outdir"/nbdkit-tlsguard-filter_*.deb)
probe_deb=$(ls "$outdir"/nbd-probe_*.deb)

# ---- Install test in a clean minimal root ---------------------------------
min_root=$roots/$release-min
ensure_root "$min_root"
apt_quiet "$min_root" clean
unmount_under "$min_root"
say "clean root ready at $(elapsed)"

# A throw-away overlay over the clean root; downloaded packages are kept
# in ROOTS/RELEASE-archives so that reruns do not fetch them again.
test_root=$roots/$release-test
! has_mounts "$test_root" ||
  { t=$test_root; test_root=; die "$t still has file systems mounted in it (from an interrupted run?); unmount them first"; }
rm -rf "$test_root" "$test_root.upper" "$test_root.work"
mkdir -p "$test_root" "$test_root.upper" "$test_root.work" "$roots/$release-archives/partial"
mount_in "$test_root" -t overlay overlay \
  -o "lowerdir=$min_root,upperdir=$test_root.upper,workdir=$test_root.work"
mount_all "$test_root"
mount_in "$test_root/var/cache/apt/archives" --bind "$roots/$release-archives"
mkdir -p "$test_root/tmp/debs"
cp "$filter_deb" "$probe_deb" "$test_root/tmp/debs/"

for deb in "$filter_deb" "$probe_deb"; do
  say "apt-get install ./$(basename "$deb") in a clean $release root"
  apt_quiet "$test_root" install -y --no-install-recommends "/tmp/debs/$(basename "$deb")"
done
# Clients for the real check, and man for the man page check.
apt_quiet "$test_root" install -y --no-install-recommends libnbd-bin gnutls-bin man-db

fail=0
check () {   # check DESCRIPTION command...: run in the test root
  local desc=$1 out; shift
  if out=$(in_root "$test_root" "$@" 2>&1); then
    echo "ok - $desc"
  else
    echo "not ok - $desc"; fail=1
  fi
  [ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/    /'
}

nbdkit_ver=$(in_root "$test_root" dpkg-query -W -f '${Version}' nbdkit)
nbdkit_upstream=${nbdkit_ver%-*}
nbdkit_upstream=${nbdkit_upstream#*:}
depends=$(dpkg-deb -f "$filter_deb" Depends)
say "$release nbdkit package: $nbdkit_ver"
say "$(basename "$filter_deb") Depends: $depends"
case "$depends" in
  *"nbdkit (>= $nbdkit_upstream), nbdkit (<< "*) echo "ok - the filter package pins nbdkit $nbdkit_upstream" ;;
  *) echo "not ok - the filter package does not pin nbdkit $nbdkit_upstream"; fail=1 ;;
esac

check "nbdkit --filter=tlsguard null --version (the filter loads by name)" \
  nbdkit --filter=tlsguard null --version
check "man -w nbdkit-tlsguard-filter" man -w nbdkit-tlsguard-filter
if [ -f "$srcdir/tests/harness/probe/nbd-probe.pod" ]; then
  check "man -w nbd-probe" man -w nbd-probe
fi
check "nbd-probe --help" /bin/sh -c 'nbd-probe --help >/tmp/help.out && head -n 3 /tmp/help.out'

# nbdkit --run keeps the server captive: it exits when nbdinfo does, so
# there is nothing to stop.  In plaintext, block status must fail with
# EINVAL; over TLS the map must come back.
check "plaintext nbdinfo --map through tlsguard fails with EINVAL; over TLS it gets the map" \
  /bin/sh -c '
    set -e
    d=$(mktemp -d)
    psktool -u tlsguard -p "$d/keys.psk" >/dev/null
    nbdkit --tls=on --tls-psk="$d/keys.psk" -U - --filter=tlsguard memory 1M \
      --run "
        if nbdinfo --map \"nbd+unix:///?socket=\$unixsocket\" >$d/plain.out 2>$d/plain.err; then
          echo \"plaintext block status was served:\"; cat $d/plain.out; exit 1
        fi
        grep \"Invalid argument\" $d/plain.err || { cat $d/plain.err; exit 1; }
        nbdinfo --map \"nbds+unix://tlsguard@/?socket=\$unixsocket&tls-psk-file=$d/keys.psk\"
      "
    rm -rf "$d"'

say "install test in a clean $release root done; total $(elapsed)"
[ "$fail" = 0 ] || die "the $release packages failed the install test"
say "$release packages OK:"
ls -1 "$filter_deb" "$probe_deb"
