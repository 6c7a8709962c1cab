#!/bin/bash -
# Compliance matrix, nbdkit columns: nbd-probe's battery and the
# compliance scripts against nbdkit 1.32 with X.509, --tls=on and
# --tls=require, without and with tlsguard (deny, and hide under
# --tls=on).  test-probe-x509.sh covers the battery for most of these
# already; this test adds --tls=require with tlsguard, the scripts and
# the matrix verdicts, so 'make compliance' and 'make check' agree.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. "$srcdir/functions.sh"
. "$srcdir/probe-functions.sh"
. "$top_srcdir/tests/compliance/peers.sh"

requires_nbdkit_version
requires_x509
requires_probe
missing=$(compl_missing nbdkit-on-tlsguard)
[ -z "$missing" ] || skip_all "$missing"

tap_plan 15

# results MODE OBSERVED: nbd-probe's results (battery, then scripts).
results ()
{
  nbdkit_battery "$1" not-ok "${2:-}"
  echo "server mode: $1
starttls_payload_reply ok
double_starttls_nosr ok
tlsonly_refused skip
qemu_ctx_superseded not-ok"
}

# verdicts MODE NOTE: the matrix verdicts (NOTE: plaintext_blockstatus's).
verdicts ()
{
  if [ "$1" = FORCEDTLS ]; then
    forced=ok list=ok pbs=n/a sel=n/a
  else
    forced=n/a list="FAIL K1" pbs="note $2" sel="n/a K2"
  fi
  echo "mode $1
tls_positive ok
seed_injection ok
sr_injection ok
meta_other_export ok
meta_superseded ok
meta_cleared ok
double_starttls ok
starttls_payload ok
plaintext_buffering ok
list_after_starttls $list
forcedtls_refuses $forced
plaintext_blockstatus $pbs
extended_headers n/a
tlsonly_export $sel
tlsonly_export_name $sel
starttls_payload_reply ok
double_starttls_nosr ok
tlsonly_refused $sel
qemu_ctx_superseded n/a X1"
}

compl_check nbdkit-on "$(results SELECTIVETLS "extents $probe_real_map")" \
  "$(verdicts SELECTIVETLS K3)"
compl_check nbdkit-require "$(results FORCEDTLS)" "$(verdicts FORCEDTLS)"
compl_check nbdkit-on-tlsguard "$(results SELECTIVETLS "error EINVAL")" \
  "$(verdicts SELECTIVETLS K4)"
compl_check nbdkit-on-tlsguard-hide \
  "$(results SELECTIVETLS "extents $probe_all_data")" \
  "$(verdicts SELECTIVETLS K4)"
compl_check nbdkit-require-tlsguard "$(results FORCEDTLS)" \
  "$(verdicts FORCEDTLS)"

tap_done
