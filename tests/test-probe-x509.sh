#!/bin/bash -
# nbd-probe's attack battery against nbdkit, with and without tlsguard,
# with x509 credentials.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
kind=x509
. "$srcdir/probe-battery.sh"
