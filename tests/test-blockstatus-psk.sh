#!/bin/bash -
# Block status and reads through tlsguard with psk credentials.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
kind=psk
. "$srcdir/blockstatus.sh"
