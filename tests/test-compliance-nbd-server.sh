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

. "$srcdir/functions.sh"
. "$srcdir/probe-functions.sh"
. "$top_srcdir/tests/compliance/peers.sh"
. "$srcdir/expected-functions.sh"

requires_x509
requires_probe
missing=$(compl_missing nbdserver-forced)
[ -z "$missing" ] || skip_all "$missing"

tap_plan 10

# The scenarios whose results differ between nbd-server 3.24 and 3.26
# (tests/expected/battery.tsv).
versioned="tls_positive meta_injection sr_injection meta_other_export
  meta_superseded meta_cleared double_starttls starttls_payload"

# results CFG MODE: nbd-probe's results in MODE.
results ()
{
  if [ "$2" = FORCEDTLS ]; then
    forced=ok selective=skip sel_script=skip
  else
    forced=skip selective=ok sel_script=ok
  fi
  echo "server mode: $2"
  for s in $versioned; do
    echo "$s $(expected_result "$1" "$s")"
  done
  echo "plaintext_buffering ok
list_after_starttls ok
forcedtls_refuses $forced"
  [ "$2" = SELECTIVETLS ] && echo "plaintext_blockstatus ok
observed plaintext_blockstatus: $(expected_result "$1" plaintext_blockstatus)"
  [ "$2" = FORCEDTLS ] && echo "plaintext_blockstatus skip"
  echo "extended_headers skip
tlsonly_export $sel_script
tlsonly_export_name $sel_script
server mode: $2
starttls_payload_reply $(expected_result "$1" starttls_payload_reply)
double_starttls_nosr ok
tlsonly_refused $sel_script
qemu_ctx_superseded not-ok"
}

# verdicts CFG MODE: the matrix verdicts in MODE.
verdicts ()
{
  if [ "$2" = FORCEDTLS ]; then
    forced=ok pbs="plaintext_blockstatus n/a" sel_script=n/a
  else
    forced=n/a pbs=$(expected_verdict_line "$1" plaintext_blockstatus)
    sel_script=ok
  fi
  echo "mode $2"
  for s in $versioned; do
    expected_verdict_line "$1" "$s"
  done
  echo "plaintext_buffering ok
list_after_starttls ok
forcedtls_refuses $forced
$pbs
extended_headers n/a
tlsonly_export $sel_script
tlsonly_export_name $sel_script
$(expected_verdict_line "$1" starttls_payload_reply)
double_starttls_nosr ok
tlsonly_refused $sel_script
qemu_ctx_superseded n/a X1"
}

compl_check nbdserver-forced "$(results nbdserver-forced FORCEDTLS)" \
  "$(verdicts nbdserver-forced FORCEDTLS)"
compl_check nbdserver-selective "$(results nbdserver-selective SELECTIVETLS)" \
  "$(verdicts nbdserver-selective SELECTIVETLS)"

# On the wire: after the greeting and the client flags, send
#   49484156454f5054 00000005 00000004 deadbeef
# (IHAVEOPT, NBD_OPT_STARTTLS, length 4, 4 bytes of data).  nbd-server
# sends nothing back; then a well-formed NBD_OPT_LIST
#   49484156454f5054 00000003 00000000
# is not answered either: it was swallowed as STARTTLS data.
compl_start nbdserver-selective || tap_not_ok "nbdserver-selective restarted"
out=$(perl "$srcdir/nbd-raw.pl" "$sock" 2 greeting hex:00000003 \
  hex:49484156454f50540000000500000004deadbeef \
  hex:49484156454f50540000000300000000)
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
probe_run "$tmp/sr_reset.tap" "${compl_probe_args[@]}" \
  --script "$compl_scenarios/sr_reset_nometa.scn"
tap_is "nbdserver-selective: sr_reset_nometa: $(expected_why nbdserver-selective sr_reset_nometa)" \
  "$(expected_result nbdserver-selective sr_reset_nometa)" \
  "$(probe_summary <"$tmp/sr_reset.tap" | sed -n 's/^sr_reset_nometa //p')"
compl_stop nbdserver-selective
tap_is "nbdserver-selective: stopped after the raw clients" 0 $?

tap_done
