#!/bin/bash -
# TLS-only exports through tlsguard with psk credentials.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
kind=psk control=0
. "$srcdir/tls-only.sh"
