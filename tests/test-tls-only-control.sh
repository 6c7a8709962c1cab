#!/bin/bash -
# Negative control: the TLS-only checks against tlsguard without
# tlsguard-tls-only=; every TLS-only assertion must fail.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
kind=psk control=1
. "$srcdir/tls-only.sh"
