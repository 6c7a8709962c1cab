#!/bin/bash -
# Negative control: nbd-badserver --defect serve-tls-only serves its
# TLS-only export in plaintext, so nbd-probe --tls-only-export fails
# tlsonly_export (plaintext INFO is acknowledged) and
# tlsonly_export_name (plaintext EXPORT_NAME is answered), and the
# plaintext NBD_OPT_LIST shows the export.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
defect=serve-tls-only
server_args=(--tls-only-export secret)
probe_args=(--tls-only-export secret)

# The plaintext LIST: compliant, it shows only "" (the export that
# stands for any name); with the defect, "secret" too.
extra_tests=2
extra_check ()
{
  printf '%s\n' 'require selectivetls' 'option LIST' \
    'expect reply SERVER name=' 'expect reply ACK' >"$tmp/list.scn"
  run_probe "$tmp/list-bad" --unix "$bad_sock" --tls-psk "$PSK_FILE" \
    --script "$tmp/list.scn"
  tap_grep "$defect: plaintext LIST shows the TLS-only export" \
    "expect reply ACK: expected NBD_REP_ACK, got NBD_REP_SERVER \"secret\"" \
    "$tmp/list-bad.tap"
  tap_grep "$defect: nbd-badserver logged the plaintext LIST" \
    'defect serve-tls-only: NBD_OPT_LIST of TLS-only export "secret"' \
    "$bad_log"
}

. "$srcdir/badserver-defect.sh"
