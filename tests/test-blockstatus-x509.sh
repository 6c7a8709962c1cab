#!/bin/bash -
# Block status and reads through tlsguard with x509 credentials.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
kind=x509
. "$srcdir/blockstatus.sh"
