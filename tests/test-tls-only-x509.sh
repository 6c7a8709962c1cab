#!/bin/bash -
# TLS-only exports through tlsguard with x509 credentials.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
kind=x509 control=0
. "$srcdir/tls-only.sh"
