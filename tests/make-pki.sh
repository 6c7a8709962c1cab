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

"$certtool" --generate-privkey --outfile server-key.pem 2>/dev/null
cat > server.info <<EOT
organization = tlsguard tests
cn = localhost
dns_name = localhost
ip_address = 127.0.0.1
ip_address = ::1
tls_www_server
encryption_key
signing_key
expiration_days = 3650
EOT
"$certtool" --generate-certificate --load-ca-certificate ca-cert.pem \
  --load-ca-privkey ca-key.pem --load-privkey server-key.pem \
  --template server.info --outfile server-cert.pem 2>/dev/null

"$certtool" --generate-privkey --outfile client-key.pem 2>/dev/null
cat > client.info <<EOT
country = GB
organization = tlsguard tests
cn = tlsguard test client
tls_www_client
encryption_key
signing_key
expiration_days = 3650
EOT
"$certtool" --generate-certificate --load-ca-certificate ca-cert.pem \
  --load-ca-privkey ca-key.pem --load-privkey client-key.pem \
  --template client.info --outfile client-cert.pem 2>/dev/null

rm -f ./*.info
chmod 0600 ./*-key.pem
cd ..
mv "$dir-t" "$dir"
