#!/bin/bash -
# Compliance matrix, nbd-server columns: nbd-probe's battery and the
# compliance scripts against nbd-server 3.24 with X.509, once with
# force_tls in [generic] (FORCEDTLS) and once with force_tls on one
# export only (SELECTIVETLS, per-export TLS).  nbd-server has no
# structured replies and no metadata contexts, so those scenarios are
# n/a.  Asserts every scenario's result, the matrix verdicts, and on
# the wire that NBD_OPT_STARTTLS with data is never answered (a server
# defect, see README.md, "What the matrix shows").
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. "$srcdir/functions.sh"
. "$srcdir/probe-functions.sh"
. "$top_srcdir/tests/compliance/peers.sh"

requires_x509
requires_probe
missing=$(compl_missing nbdserver-forced)
[ -z "$missing" ] || skip_all "$missing"

tap_plan 9

# results MODE: nbd-probe's results in MODE.
results ()
{
  if [ "$1" = FORCEDTLS ]; then
    forced=ok selective=skip sel_script=skip
  else
    forced=skip selective=ok sel_script=ok
  fi
  echo "server mode: $1
tls_positive not-ok
seed_injection not-ok
sr_injection not-ok
meta_other_export not-ok
meta_superseded not-ok
meta_cleared not-ok
double_starttls not-ok
starttls_payload not-ok
plaintext_buffering ok
list_after_starttls ok
forcedtls_refuses $forced"
  [ "$1" = SELECTIVETLS ] && echo "plaintext_blockstatus ok
observed plaintext_blockstatus: failed: plaintext_blockstatus.scn:9: expect reply ACK: expected NBD_REP_ACK, got NBD_REP_ERR_UNSUP \"The given option is unknown to this server implementation\""
  [ "$1" = FORCEDTLS ] && echo "plaintext_blockstatus skip"
  echo "extended_headers skip
server mode: $1
starttls_payload_reply not-ok
double_starttls_nosr ok
tlsonly_export $sel_script
tlsonly_export_name $sel_script
qemu_ctx_superseded not-ok"
}

# verdicts MODE: the matrix verdicts in MODE.
verdicts ()
{
  if [ "$1" = FORCEDTLS ]; then
    forced=ok pbs=n/a sel_script=n/a
  else
    forced=n/a pbs="n/a S1" sel_script=ok
  fi
  echo "mode $1
tls_positive n/a S1
seed_injection n/a S1
sr_injection n/a S1
meta_other_export n/a S1
meta_superseded n/a S1
meta_cleared n/a S1
double_starttls note S1
starttls_payload FAIL S2
plaintext_buffering ok
list_after_starttls ok
forcedtls_refuses $forced
plaintext_blockstatus $pbs
extended_headers n/a
starttls_payload_reply FAIL S2
double_starttls_nosr ok
tlsonly_export $sel_script
tlsonly_export_name $sel_script
qemu_ctx_superseded n/a X1"
}

compl_check nbdserver-forced "$(results FORCEDTLS)" "$(verdicts FORCEDTLS)"
compl_check nbdserver-selective "$(results SELECTIVETLS)" "$(verdicts SELECTIVETLS)"

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
compl_stop nbdserver-selective
tap_is "nbdserver-selective: stopped after the raw clients" 0 $?

tap_done
