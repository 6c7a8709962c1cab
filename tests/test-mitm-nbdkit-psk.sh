#!/bin/bash -
# The seed's man-in-the-middle attack against nbdkit, psk credentials.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
kind=psk
. "$srcdir/mitm-nbdkit.sh"
