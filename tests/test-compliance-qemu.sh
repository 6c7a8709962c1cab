#!/bin/bash -
# Compliance matrix, qemu-nbd column: nbd-probe's battery and the
# compliance scripts against qemu-nbd (7.2 or 10.0) with tls-creds-x509
# (FORCEDTLS), serving a qcow2 image with a dirty bitmap (-B bitmap0),
# once with base:allocation and once with qemu:dirty-bitmap:bitmap0 as
# the context.  Asserts every scenario's result (version-dependent ones
# from tests/expected/battery.tsv), the matrix verdicts,
# and the bytes of qemu-nbd's answer to STARTTLS with data.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. "$srcdir/functions.sh"
. "$srcdir/probe-functions.sh"
. "$top_srcdir/tests/compliance/peers.sh"
. "$srcdir/expected-functions.sh"

requires_x509
requires_probe
missing=$(compl_missing qemu-base)
[ -z "$missing" ] || skip_all "$missing"

tap_plan 8

results="server mode: FORCEDTLS
tls_positive ok
meta_injection ok
sr_injection ok
meta_other_export not-ok
meta_superseded not-ok
meta_cleared ok
double_starttls ok
starttls_payload not-ok
plaintext_buffering ok
list_after_starttls ok
forcedtls_refuses ok
plaintext_blockstatus skip
extended_headers $(expected_result qemu-base extended_headers)
tlsonly_export skip
tlsonly_export_name skip
server mode: FORCEDTLS
starttls_payload_reply ok
double_starttls_nosr ok
tlsonly_refused skip
qemu_ctx_superseded ok"

verdicts="mode FORCEDTLS
tls_positive ok
meta_injection ok
sr_injection ok
meta_other_export n/a Q1
meta_superseded n/a Q1
meta_cleared ok
double_starttls ok
starttls_payload note Q2
plaintext_buffering ok
list_after_starttls ok
forcedtls_refuses ok
plaintext_blockstatus n/a
$(expected_verdict_line qemu-base extended_headers)
tlsonly_export n/a
tlsonly_export_name n/a
starttls_payload_reply ok
double_starttls_nosr ok
tlsonly_refused n/a
qemu_ctx_superseded ok"

# The seed scenario (and the rest) with each context.
compl_check qemu-base "$results" "$verdicts"
compl_check qemu-bitmap "$results" "$verdicts"

# On the wire: NBD_OPT_STARTTLS with 4 bytes of data gets
# NBD_REP_ERR_INVALID with a message, then the connection is closed.
compl_start qemu-base || tap_not_ok "qemu-base restarted"
out=$(perl "$srcdir/nbd-raw.pl" "$sock" 5 greeting hex:00000003 \
  hex:49484156454f50540000000500000004deadbeef)
tap_is "STARTTLS with data: ERR_INVALID, then close (bytes)" \
"greeting 4e42444d4147494349484156454f50540003
rest 0003e889045565a9000000058000000300000027$(printf %s \
  "option 'starttls' has unexpected length" | od -An -tx1 | tr -d ' \n')
eof" "$out"
compl_stop qemu-base
tap_is "qemu-base: stopped cleanly after the raw client" 0 $?

tap_done
