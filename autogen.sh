#!/bin/sh -
# tlsguard: regenerate the build system and run ./configure with the
# arguments given.  It installs nothing: scripts/install-deps.sh installs
# the Debian packages the build and the tests need.
#
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

set -e

srcdir=$(dirname "$0")
test -n "$srcdir" || srcdir=.

(cd "$srcdir" && autoreconf -fi)
exec "$srcdir/configure" "$@"
