#!/bin/bash -
# The seed's man-in-the-middle attack against nbdkit, x509 credentials.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
kind=x509
. "$srcdir/mitm-nbdkit.sh"
