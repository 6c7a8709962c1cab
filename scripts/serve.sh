#!/bin/sh -
# 'make serve': run nbdkit in the foreground with tlsguard over a 1 GiB
# sparse demo disk, in --tls=on mode with a freshly generated PSK.
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

# A 1 GiB sparse disk with a few data runs, so the map shows something.
disk=$dir/demo.img
rm -f "$disk"
truncate -s 1G "$disk"
for mib in 1 64 512; do
  dd if=/dev/urandom of="$disk" bs=1M count=1 seek=$mib conv=notrunc \
     status=none
done

cat <<EOT
tlsguard demo: nbdkit --tls=on with tlsguard (tlsguard-extents=deny)
over a 1 GiB sparse disk ($disk).

Plaintext URI (reads work; block status is refused with EINVAL):
  nbd+unix:///?socket=$sock

TLS URI (PSK user "$user"; reads and block status work):
  nbds+unix://$user@/?socket=$sock&tls-psk-file=$dir/keys.psk

Try:
  nbdinfo --map 'nbds+unix://$user@/?socket=$sock&tls-psk-file=$dir/keys.psk'
  nbdinfo --map 'nbd+unix:///?socket=$sock'
  nbdsh -c 'h.set_uri_allow_local_file(True)' \\
    -u 'nbds+unix://$user@/?socket=$sock&tls-psk-file=$dir/keys.psk' \\
    -c 'print(h.get_size())'
  qemu-img info 'nbd+unix:///?socket=$sock'
  qemu-img info --object tls-creds-psk,id=tls0,endpoint=client,dir=$dir,username=$user \\
    --image-opts driver=nbd,path=$sock,tls-creds=tls0
(libnbd 1.14 reads tls-psk-file from a URI only when local files are
allowed: nbdinfo and nbdcopy allow them, nbdsh needs the first -c above.
qemu-img 7.2 does not parse nbds URIs; the last command is its TLS form.)

Press ^C to stop.
EOT

exec "$nbdkit" -f --tls=on --tls-psk="$dir/keys.psk" -U "$sock" \
  --filter="$filter" file "$disk"
