#!/bin/sh -
# Make a PSK file with user "qemu" (nbdkit's and qemu's default user).
# Usage: make-psk.sh PSKTOOL FILE
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

set -e
psktool="$1"
file="$2"
[ -n "$file" ] || { echo "usage: $0 PSKTOOL FILE" >&2; exit 1; }
rm -f "$file" "$file-t"
if [ -z "$psktool" ]; then
  : > "$file"           # empty: the PSK tests skip
  exit 0
fi
"$psktool" -u qemu -p "$file-t" >/dev/null
chmod 0600 "$file-t"
mv "$file-t" "$file"
