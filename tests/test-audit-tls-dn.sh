#!/bin/bash -
# X.509 client identity in the audit file.  nbdkit 1.40 added
# nbdkit_peer_tls_dn; configure detects it.  On an nbdkit that has it,
# the open records of TLS opens by a client with a verified
# certificate carry "tls_dn" with the certificate's subject; on one
# that has not (1.32 on Debian 12), no record has the field and the man
# page says why.  Both branches assert something: this test never
# passes by doing nothing.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh
requires_nbdkit_version
requires_x509
requires_built "$NBD_BLOCKSTATUS"
py=/usr/bin/python3
[ -x "$py" ] || skip_all "no /usr/bin/python3"
names=("$py" "$srcdir/nbd-names.py")

tap_plan 6

version=$("$NBDKIT" --version | awk '{print $2}')
major=${version%%.*}; rest=${version#*.}; minor=${rest%%.*}
if [ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -ge 40 ]; }; then
  want_dn=yes
else
  want_dn=no
fi
tap_is "configure's nbdkit_peer_tls_dn result fits nbdkit $version" \
  "$want_dn" "${HAVE_TLS_DN:-unset}"

audit=$tmp/audit.jsonl
start_nbdkit dn --tls=on --tls-certificates="$PKI_DIR" --tls-verify-peer \
  --filter="$TLSGUARD_FILTER" memory 1M "tlsguard-audit=$audit"
"$NBD_BLOCKSTATUS" --unix "$sock" $(x509_client_args) >"$tmp/bs.out" 2>&1
tls_st=$?
"${names[@]}" --unix "$sock" sr meta: go: bs:1:4096 >"$tmp/plain.out" 2>&1
stop_server "$nbdkit_pid"
tap_is "a TLS client with a verified certificate and a plaintext client; exit status" \
  "0 0" "$tls_st $?"

tls_opens=$(grep -c '"event":"open",.*"tls":true,' "$audit")
tap_is "the TLS client's opens are recorded" yes \
  "$([ "$tls_opens" -ge 1 ] && echo yes || echo "no ($tls_opens)")"
tap_is "plaintext records never carry tls_dn" 0 \
  "$(grep '"tls":false' "$audit" | grep -c '"tls_dn"')"

if [ "$want_dn" = yes ]; then
  tap_is "every TLS open carries the client's subject as tls_dn" "$tls_opens" \
    "$(grep '"event":"open",.*"tls":true,' "$audit" |
       grep -c '"tls_dn":"[^"]*CN=tlsguard test client')"
else
  tap_is "nbdkit $version has no nbdkit_peer_tls_dn: no record has tls_dn" 0 \
    "$(grep -c '"tls_dn"' "$audit")"
fi
tap_grep "the man page says which nbdkit versions give tls_dn and why" \
  'On nbdkit 1\.40 and later, which have L<nbdkit_peer_tls_dn\(3\)>' \
  "$TLSGUARD_POD"

tap_done
