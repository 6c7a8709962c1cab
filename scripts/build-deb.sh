#!/bin/bash
# 'make deb': build the Debian packages nbdkit-tlsguard-filter and
# nbd-probe from a clean copy of the source tree.
#
# Usage: build-deb.sh [--nocheck] SRCDIR OUTDIR [BUILDDIR]
#
# The source is exported from git into a fresh temporary directory: the
# committed HEAD, plus uncommitted changes to tracked files if there are
# any (git stash create, which leaves the work tree and the stash list
# alone).  Untracked files and build products never reach the package.
# Without git, BUILDDIR's 'make dist' tarball is used instead.  Then
# 'dpkg-buildpackage -us -uc -b' builds the packages there (the full
# test suite runs as part of the build unless --nocheck is given or
# DEB_BUILD_OPTIONS contains nocheck), and the .deb, .changes and
# .buildinfo files are moved to OUTDIR, whose earlier tlsguard packages
# are removed first.  The paths of the .debs are printed last.
#
# Root is not needed.  The build dependencies must be installed
# (dpkg-buildpackage names any that are missing).
#
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

set -euo pipefail

me=build-deb.sh
die () { echo "$me: $*" >&2; exit 1; }

nocheck=
if [ "${1:-}" = --nocheck ]; then nocheck=1; shift; fi
[ $# -ge 2 ] && [ $# -le 3 ] || die "usage: $me [--nocheck] SRCDIR OUTDIR [BUILDDIR]"
srcdir=$(cd "$1" && pwd) || die "no source directory $1"
outdir=$2
builddir=${3:-}

command -v dpkg-buildpackage >/dev/null ||
  die "dpkg-buildpackage not found (Debian package dpkg-dev; also needs debhelper)"
[ -f "$srcdir/debian/control" ] || die "$srcdir has no debian/control"

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/tlsguard-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'rm -rf "$work"; exit 130' INT
trap 'rm -rf "$work"; exit 143' TERM HUP

src=$work/tlsguard
mkdir "$src"
if git -C "$srcdir" rev-parse --verify -q HEAD >/dev/null 2>&1; then
  # Refresh the index's stat data first ('git status' does the same):
  # with stale stat data (after autoreconf rewrote a tracked file with
  # the same content) git stash create fails without a word.
  git -C "$srcdir" update-index -q --refresh >/dev/null || :
  rev=$(git -C "$srcdir" stash create) || die "git stash create failed in $srcdir"
  if [ -n "$rev" ]; then
    echo "$me: source: $(git -C "$srcdir" rev-parse --short HEAD) plus uncommitted changes to tracked files"
  else
    rev=HEAD
    echo "$me: source: $(git -C "$srcdir" log -1 --format='%h %s')"
  fi
  git -C "$srcdir" archive --format=tar "$rev" | tar -x -C "$src"
elif [ -n "$builddir" ] && [ -f "$builddir/Makefile" ]; then
  echo "$me: source: 'make dist' in $builddir (not a git checkout)"
  make -C "$builddir" dist-gzip >"$work/dist.log" 2>&1 ||
    { tail -n 20 "$work/dist.log"; die "make dist failed"; }
  tarball=$(ls -t "$builddir"/tlsguard-*.tar.gz | head -n 1)
  tar -xzf "$tarball" -C "$src" --strip-components=1
else
  die "$srcdir is not a git checkout, and no configured BUILDDIR was given for 'make dist'"
fi

opts=${DEB_BUILD_OPTIONS:-}
profiles=${DEB_BUILD_PROFILES:-}
if [ -n "$nocheck" ]; then
  opts="$opts nocheck"
  profiles="$profiles nocheck"
fi
# Build in parallel (debhelper builds serially without parallel=N).
case " $opts " in
  *" parallel="*) ;;
  *) opts="$opts parallel=$(nproc 2>/dev/null || echo 1)" ;;
esac
export DEB_BUILD_OPTIONS="${opts# }" DEB_BUILD_PROFILES="${profiles# }"
echo "$me: dpkg-buildpackage -us -uc -b in $src (DEB_BUILD_OPTIONS='$DEB_BUILD_OPTIONS')"
log=$work/build.log
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$log" 2>&1; then
  tail -n 60 "$log"
  cp "$log" "$outdir/build.log"
  die "dpkg-buildpackage failed; the whole log is $outdir/build.log"
fi
cp "$log" "$outdir/build.log"

rm -f "$outdir"/nbdkit-tlsguard-filter_*.deb "$outdir"/nbdkit-tlsguard-filter-dbgsym_*.deb \
      "$outdir"/nbd-probe_*.deb "$outdir"/nbd-probe-dbgsym_*.deb \
      "$outdir"/tlsguard_*.changes "$outdir"/tlsguard_*.buildinfo
mv "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$outdir"/

echo "$me: built (build log: $outdir/build.log):"
ls -1 "$outdir"/*.deb
