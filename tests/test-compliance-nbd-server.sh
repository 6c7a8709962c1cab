#!/bin/bash -
# Compliance matrix, nbd-server columns: nbd-probe's battery and the
# compliance scripts against nbd-server (3.24 or 3.26) with X.509, once with
# force_tls in [generic] (FORCEDTLS) and once with force_tls on one
# export only (SELECTIVETLS, per-export TLS).  nbd-server has no
# metadata contexts (3.24 no structured replies either), so those
# scenarios are n/a; what differs by version comes from
# tests/expected/battery.tsv.  Asserts every scenario's result, the matrix verdicts, and on
# the wire that NBD_OPT_STARTTLS with data is never answered (a server
# defect, see docs/compliance.md).
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh
. "$abs_top_srcdir/tests/compliance/peers.sh"

compl_requires nbdserver-forced

tap_plan 10

compl_check nbdserver-forced
compl_check nbdserver-selective

# On the wire: STARTTLS with 4 bytes of data; nbd-server sends nothing
# back, and a well-formed NBD_OPT_LIST after it
#   49484156454f5054 00000003 00000000
# is not answered either: it was swallowed as STARTTLS data.
compl_start nbdserver-selective || tap_not_ok "nbdserver-selective restarted"
out=$(compl_raw_starttls_data 2 hex:49484156454f50540000000300000000)
tap_is "STARTTLS with data, then LIST: no reply at all (bytes)" \
"greeting 4e42444d4147494349484156454f50540003
timeout" "$out"
# The control: a STARTTLS without data is ACKed at once.
out=$(perl "$srcdir/nbd-raw.pl" "$sock" 2 greeting hex:00000003 \
  hex:49484156454f50540000000500000000 read:20 end)
tap_is "STARTTLS without data: NBD_REP_ACK (bytes)" \
"greeting 4e42444d4147494349484156454f50540003
read 0003e889045565a9000000050000000100000000" "$out"
# Structured replies do not survive STARTTLS either (nbd-server 3.26
# has them; 3.24 does not, and the script skips).
run_probe "$tmp/sr_reset" --unix "$sock" "${compl_probe_args[@]}" \
  --script "$compl_scenarios/sr_reset_nometa.scn"
tap_is "nbdserver-selective: sr_reset_nometa: $(expected_why nbdserver-selective sr_reset_nometa)" \
  "$(expected_result nbdserver-selective sr_reset_nometa)" \
  "$(probe_summary <"$tmp/sr_reset.tap" | sed -n 's/^sr_reset_nometa //p')"
compl_stop nbdserver-selective
tap_is "nbdserver-selective: stopped after the raw clients" 0 $?

tap_done
