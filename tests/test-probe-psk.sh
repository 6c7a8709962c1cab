#!/bin/bash -
# nbd-probe's attack battery against nbdkit, with and without tlsguard,
# with psk credentials.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
kind=psk
. "$srcdir/probe-battery.sh"
