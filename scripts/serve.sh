#!/bin/sh -
# 'make serve': run nbdkit in the foreground with tlsguard over a
# directory of two exports, in --tls=on mode with a freshly generated
# PSK: "public" (a 1 GiB sparse demo disk, open to plaintext clients)
# and "secret" (TLS-only, tlsguard-tls-only=secret).
# Usage: serve.sh NBDKIT PSKTOOL FILTER-SO DIR
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

set -e
nbdkit=$1 psktool=$2 filter=$3 dir=$4

if [ -z "$psktool" ]; then
  echo "serve: psktool not found (Debian package gnutls-bin)" >&2
  exit 1
fi
if [ ! -f "$filter" ]; then
  echo "serve: $filter not built; run make first" >&2
  exit 1
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
sock=$dir/nbd.sock
rm -f "$sock"
user=tlsguard

# A fresh PSK for every run (qemu wants the file called keys.psk).
rm -f "$dir/keys.psk"
"$psktool" -u "$user" -p "$dir/keys.psk" >/dev/null
chmod 0600 "$dir/keys.psk"

# A 1 GiB sparse disk with a few data runs, so the map shows something,
# and a small TLS-only one.
exports=$dir/exports
rm -rf "$exports"
mkdir "$exports"
disk=$exports/public
truncate -s 1G "$disk"
truncate -s 16M "$exports/secret"
for mib in 1 64 512; do
  dd if=/dev/urandom of="$disk" bs=1M count=1 seek=$mib conv=notrunc \
     status=none
done

cat <<EOT
tlsguard demo: nbdkit --tls=on with tlsguard (tlsguard-extents=deny,
tlsguard-tls-only=secret) over $exports:
"public", a 1 GiB sparse disk, and "secret", a 16 MiB TLS-only disk.

Plaintext URI (reads work; block status is refused with EINVAL):
  nbd+unix:///public?socket=$sock

TLS URI (PSK user "$user"; reads and block status work):
  nbds+unix://$user@/public?socket=$sock&tls-psk-file=$dir/keys.psk

The TLS-only export, over TLS (in plaintext it is not listed and
cannot be opened):
  nbds+unix://$user@/secret?socket=$sock&tls-psk-file=$dir/keys.psk

Try:
  nbdinfo --map 'nbds+unix://$user@/public?socket=$sock&tls-psk-file=$dir/keys.psk'
  nbdinfo --map 'nbd+unix:///public?socket=$sock'
  nbdinfo --list 'nbd+unix:///?socket=$sock'
  nbdinfo --list 'nbds+unix://$user@/?socket=$sock&tls-psk-file=$dir/keys.psk'
  nbdinfo 'nbd+unix:///secret?socket=$sock'
  nbdsh -c 'h.set_uri_allow_local_file(True)' \\
    -u 'nbds+unix://$user@/public?socket=$sock&tls-psk-file=$dir/keys.psk' \\
    -c 'print(h.get_size())'
  qemu-img info 'nbd+unix:///public?socket=$sock'
  qemu-img info --object tls-creds-psk,id=tls0,endpoint=client,dir=$dir,username=$user \\
    --image-opts driver=nbd,path=$sock,export=public,tls-creds=tls0
(libnbd 1.14 reads tls-psk-file from a URI only when local files are
allowed: nbdinfo and nbdcopy allow them, nbdsh needs the first -c above.
qemu-img 7.2 does not parse nbds URIs; the last command is its TLS form.)

Press ^C to stop.
EOT

exec "$nbdkit" -f --tls=on --tls-psk="$dir/keys.psk" -U "$sock" \
  --filter="$filter" file dir="$exports" tlsguard-tls-only=secret
