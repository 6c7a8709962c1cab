#!/bin/sh -
# Make a throwaway X.509 PKI for the tests: a CA, a server certificate
# for localhost/127.0.0.1/::1 and a client certificate, with the file
# names nbdkit, libnbd and qemu use.  Usage: make-pki.sh CERTTOOL DIR
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

set -e
certtool="$1"
dir="$2"
[ -n "$dir" ] || { echo "usage: $0 CERTTOOL DIR" >&2; exit 1; }

rm -rf "$dir" "$dir-t"
mkdir -p "$dir-t"
if [ -z "$certtool" ]; then
  # Leave an empty directory: the X.509 tests skip.
  mv "$dir-t" "$dir"
  exit 0
fi
cd "$dir-t"

"$certtool" --generate-privkey --outfile ca-key.pem 2>/dev/null
cat > ca.info <<EOT
cn = tlsguard test CA
ca
cert_signing_key
expiration_days = 3650
EOT
"$certtool" --generate-self-signed --load-privkey ca-key.pem \
  --template ca.info --outfile ca-cert.pem 2>/dev/null

# signed NAME TEMPLATE-LINES: NAME-key.pem and NAME-cert.pem, signed by
# the CA, valid for ten years, for TLS (encryption and signing).
signed ()
{
  name=$1; shift
  "$certtool" --generate-privkey --outfile "$name-key.pem" 2>/dev/null
  {
    printf '%s\n' "$@"
    printf '%s\n' encryption_key signing_key "expiration_days = 3650"
  } > "$name.info"
  "$certtool" --generate-certificate --load-ca-certificate ca-cert.pem \
    --load-ca-privkey ca-key.pem --load-privkey "$name-key.pem" \
    --template "$name.info" --outfile "$name-cert.pem" 2>/dev/null
}

signed server "organization = tlsguard tests" "cn = localhost" \
  "dns_name = localhost" "ip_address = 127.0.0.1" "ip_address = ::1" \
  tls_www_server
signed client "country = GB" "organization = tlsguard tests" \
  "cn = tlsguard test client" tls_www_client

rm -f ./*.info
chmod 0600 ./*-key.pem
cd ..
mv "$dir-t" "$dir"
