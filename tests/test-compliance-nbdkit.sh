#!/bin/bash -
# Compliance matrix, nbdkit columns: nbd-probe's battery and the
# compliance scripts against nbdkit 1.32 with X.509, --tls=on and
# --tls=require, without and with tlsguard (deny, and hide under
# --tls=on), and --tls=on with tlsguard-tls-only=sec* on file dir= with
# exports 'secret' and 'public' (the probe told --tls-only-export
# secret).  test-probe-x509.sh covers the battery for most of these
# already; this test adds --tls=require with tlsguard, the TLS-only
# column, the scripts and the matrix verdicts, so 'make compliance' and
# 'make check' agree.
#
# In the TLS-only column plaintext INFO and GO of 'secret' are refused
# with NBD_REP_ERR_UNKNOWN (nbdkit's core picks the code; the spec
# says NBD_REP_ERR_TLS_REQD): tlsonly_export is not ok and its cell is
# FAIL K5, while tlsonly_refused (any refusal) and tlsonly_export_name
# (EXPORT_NAME ends the session) are ok.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh
. "$abs_top_srcdir/tests/compliance/peers.sh"

requires_nbdkit_version
compl_requires nbdkit-on-tlsguard

tap_plan 20

for cfg in nbdkit-on nbdkit-require nbdkit-on-tlsguard nbdkit-on-tlsguard-hide \
           nbdkit-on-tlsguard-tlsonly nbdkit-require-tlsguard; do
  compl_check "$cfg"
done

# On the wire (K5): after the greeting and the client flags, a plaintext
#   49484156454f5054 00000006 0000000c 00000006 "secret" 0000
# (IHAVEOPT, NBD_OPT_INFO, length 12, name length 6, no info requests)
# gets NBD_REP_ERR_UNKNOWN (0x80000006) and no NBD_REP_INFO; nbdkit
# before 1.40 sends no message, 1.40 and later the filter's error text
# (tests/expected/battery.tsv, tlsonly-info-reply).  The same INFO of
# "public" on the same connection gets an NBD_REP_INFO (type 3) of 12
# bytes first; then NBD_OPT_ABORT.
compl_start nbdkit-on-tlsguard-tlsonly ||
  tap_not_ok "nbdkit-on-tlsguard-tlsonly restarted"
out=$(perl "$srcdir/nbd-raw.pl" "$sock" 3 greeting hex:00000003 \
  hex:49484156454f5054000000060000000c000000067365637265740000 \
  hex:49484156454f5054000000060000000c000000067075626c69630000 \
  hex:49484156454f50540000000200000000)
# Split what came back into the first reply (header and message as
# text) and the header of the next one.
replies=$(echo "$out" | sed -n 's/^rest //p' | perl -ne '
  chomp; my $b = pack "H*", $_;
  my ($magic, $opt, $type, $len) = unpack "a8 N N N", $b;
  my $msg = substr $b, 20, $len;
  printf "first %08x %08x %s\n", $opt, $type, $len ? "text: $msg" : "no message";
  printf "next %s\n", unpack "H*", substr $b, 20 + $len, 20;')
case $(expected_result nbdkit-on-tlsguard-tlsonly tlsonly-info-reply) in
  ERR_UNKNOWN) first="first 00000006 80000006 no message" ;;
  ERR_UNKNOWN+text)
    first="first 00000006 80000006 text: tlsguard: export \"secret\" requires TLS: use STARTTLS (plaintext open refused for unix socket (pid PID, uid UID), tlsguard-tls-only)" ;;
  *) first="no expectation for nbdkit $(peer_version nbdkit)" ;;
esac
tap_is "tlsguard-tls-only: plaintext INFO(secret) gets ERR_UNKNOWN (message as nbdkit $(peer_version nbdkit) sends it), INFO(public) an NBD_REP_INFO (bytes)" \
"greeting 4e42444d4147494349484156454f50540003
$first
next 0003e889045565a900000006000000030000000c" \
  "$(echo "$out" | head -n 1)
$(echo "$replies" | sed 's/(pid [0-9]*, uid [0-9]*)/(pid PID, uid UID)/')"
compl_stop nbdkit-on-tlsguard-tlsonly
tap_is "nbdkit-on-tlsguard-tlsonly: stopped after the raw client" 0 $?

tap_done
