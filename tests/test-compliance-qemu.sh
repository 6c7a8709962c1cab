#!/bin/bash -
# Compliance matrix, qemu-nbd column: nbd-probe's battery and the
# compliance scripts against qemu-nbd (7.2 or 10.0) with tls-creds-x509
# (FORCEDTLS), serving a qcow2 image with a dirty bitmap (-B bitmap0),
# once with base:allocation and once with qemu:dirty-bitmap:bitmap0 as
# the context.  Asserts every scenario's result (version-dependent ones
# from tests/expected/battery.tsv), the matrix verdicts,
# and the bytes of qemu-nbd's answer to STARTTLS with data.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh
. "$abs_top_srcdir/tests/compliance/peers.sh"

compl_requires qemu-base

tap_plan 8

# The seed scenario (and the rest) with each context.
for cfg in qemu-base qemu-bitmap; do
  compl_check "$cfg"
done

# On the wire: NBD_OPT_STARTTLS with 4 bytes of data gets
# NBD_REP_ERR_INVALID with a message, then the connection is closed.
compl_start qemu-base || tap_not_ok "qemu-base restarted"
out=$(compl_raw_starttls_data 5)
tap_is "STARTTLS with data: ERR_INVALID, then close (bytes)" \
"greeting 4e42444d4147494349484156454f50540003
rest 0003e889045565a9000000058000000300000027$(printf %s \
  "option 'starttls' has unexpected length" | od -An -tx1 | tr -d ' \n')
eof" "$out"
compl_stop qemu-base
tap_is "qemu-base: stopped cleanly after the raw client" 0 $?

tap_done
