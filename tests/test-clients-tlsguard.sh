#!/bin/bash -
# Real clients through tlsguard: over TLS, nbdinfo --map, nbdcopy,
# qemu-img info, qemu-img map and qemu-img convert work and see the
# real data and map; in plaintext, nbdinfo --map and qemu-img get the
# documented refusal (tlsguard-extents=deny: EINVAL, so copies that
# use extents stop too) or one all-data extent (hide), and with hide
# plaintext copies still work.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh

requires_nbdkit_version
requires_x509
requires_psk
[ -f "$TLSGUARD_FILTER" ] || { echo "Bail out! $TLSGUARD_FILTER was not built"; exit 1; }
for v in NBDINFO NBDCOPY QEMU_IMG; do
  p=${!v:-}
  [ -n "$p" ] && [ -x "$p" ] || skip_all "$v (${v,,}) not found"
done

tap_plan 20

# Every client gets a deadline, so that a hang fails instead of
# blocking make check.
run () { timeout 60 "$@"; }

# The plugin's disk (probe_plugin), byte for byte.
expected=$tmp/expected.raw
perl -e 'print "\0" x 65536, "\x55" x 65536, "\0" x 131072,
         "\xaa" x 4096, "\0" x (1048576 - 266240)' >"$expected"

map_real="         0       65536    3  hole,zero
     65536       65536    0  data
    131072      131072    3  hole,zero
    262144       32768    0  data
    294912      753664    3  hole,zero"
map_all="         0     1048576    0  data"
# qemu-img's JSON map; qemu-img 10 adds "compressed": false to each
# extent (tests/expected/battery.tsv).
case $(expected_result clients qemu-img-map-json) in
  with-compressed) c='"compressed": false, ' ;;
  without-compressed) c= ;;
  *) c='(no expectation for this qemu-img) ' ;;
esac
qmap_real="[{ \"start\": 0, \"length\": 65536, \"depth\": 0, \"present\": true, \"zero\": true, \"data\": false, $c\"offset\": 0},
{ \"start\": 65536, \"length\": 65536, \"depth\": 0, \"present\": true, \"zero\": false, \"data\": true, $c\"offset\": 65536},
{ \"start\": 131072, \"length\": 131072, \"depth\": 0, \"present\": true, \"zero\": true, \"data\": false, $c\"offset\": 131072},
{ \"start\": 262144, \"length\": 32768, \"depth\": 0, \"present\": true, \"zero\": false, \"data\": true, $c\"offset\": 262144},
{ \"start\": 294912, \"length\": 753664, \"depth\": 0, \"present\": true, \"zero\": true, \"data\": false, $c\"offset\": 294912}]"

# tap_same DESC FILE: FILE is the plugin's disk.
tap_same ()
{
  if cmp "$expected" "$2" >&2; then tap_ok "$1"; else tap_not_ok "$1"; fi
}

x509_obj="tls-creds-x509,id=tls0,endpoint=client,dir=$PKI_DIR"
psk_obj="tls-creds-psk,id=tls0,endpoint=client,dir=$(dirname "$PSK_FILE"),username=qemu"

# --- tlsguard-extents=deny (the default), X.509 -------------------------
start_nbdkit deny --tls=on --tls-certificates="$PKI_DIR" \
  --filter="$TLSGUARD_FILTER" "${probe_plugin[@]}" ||
  tap_not_ok "deny: nbdkit started"
tls_uri="nbds+unix:///?socket=$sock&tls-certificates=$PKI_DIR"
plain_uri="nbd+unix:///?socket=$sock"
qemu_tls="driver=nbd,path=$sock,tls-creds=tls0,tls-hostname=localhost"

tap_is "TLS: nbdinfo --map shows the real map" "$map_real" \
  "$(run "$NBDINFO" --map "$tls_uri" 2>>"$tmp/clients.err")"
run "$NBDCOPY" "$tls_uri" "$tmp/nbdcopy.raw" 2>>"$tmp/clients.err"
tap_same "TLS: nbdcopy copies the disk" "$tmp/nbdcopy.raw"
out=$(run "$QEMU_IMG" info --object "$x509_obj" --image-opts "$qemu_tls" \
  2>>"$tmp/clients.err")
tap_is "TLS: qemu-img info reads the size" \
  "virtual size: 1 MiB (1048576 bytes)" "$(echo "$out" | grep '^virtual size')"
tap_is "TLS: qemu-img map shows the real map" "$qmap_real" \
  "$(run "$QEMU_IMG" map --output=json --object "$x509_obj" \
       --image-opts "$qemu_tls" 2>>"$tmp/clients.err")"
run "$QEMU_IMG" convert -O raw --object "$x509_obj" --image-opts "$qemu_tls" \
  "$tmp/qemu-img.raw" 2>>"$tmp/clients.err"
tap_same "TLS: qemu-img convert copies the disk" "$tmp/qemu-img.raw"

# Plaintext: the documented refusal, EINVAL and no extents.
if run "$NBDINFO" --map "$plain_uri" >"$tmp/plain-map.out" 2>"$tmp/plain-map.err"; then
  tap_not_ok "plaintext: nbdinfo --map is refused"
  tap_diag "$(cat "$tmp/plain-map.out")"
else
  tap_grep "plaintext: nbdinfo --map is refused (EINVAL)" \
    "block-status: command failed: Invalid argument" "$tmp/plain-map.err"
fi
tap_is "plaintext: nbdinfo --map prints no extents" "" "$(cat "$tmp/plain-map.out")"
if run "$QEMU_IMG" map --output=json --image-opts "driver=nbd,path=$sock" \
     >"$tmp/plain-qmap.out" 2>"$tmp/plain-qmap.err"; then
  tap_not_ok "plaintext: qemu-img map is refused"
else
  tap_grep "plaintext: qemu-img map is refused (EINVAL)" \
    "Invalid argument" "$tmp/plain-qmap.err"
fi
# Clients that copy by extents stop at the refusal too: under deny a
# plaintext copy fails rather than guess (use hide to keep them working).
if run "$NBDCOPY" "$plain_uri" "$tmp/deny-nbdcopy.raw" 2>"$tmp/deny-copy.err"; then
  tap_not_ok "plaintext: nbdcopy stops at the refusal"
else
  tap_grep "plaintext: nbdcopy stops at the refusal (EINVAL)" \
    "Invalid argument" "$tmp/deny-copy.err"
fi
if run "$QEMU_IMG" convert -O raw --image-opts "driver=nbd,path=$sock" \
     "$tmp/deny-qemu-img.raw" 2>"$tmp/deny-convert.err"; then
  tap_not_ok "plaintext: qemu-img convert stops at the refusal"
else
  tap_grep "plaintext: qemu-img convert stops at the refusal (EINVAL)" \
    "block status.*Invalid argument" "$tmp/deny-convert.err"
fi
tap_grep "deny: nbdkit logs the refusal" \
  'error: tlsguard: refused block status on export "".*export was negotiated without TLS \(tlsguard-extents=deny\)' \
  "$tmp/deny.log"
stop_server "$nbdkit_pid"
tap_is "deny: nbdkit exits cleanly" 0 $?
cat "$tmp/clients.err" >&2

# --- tlsguard-extents=hide, X.509 ----------------------------------------
start_nbdkit hide --tls=on --tls-certificates="$PKI_DIR" \
  --filter="$TLSGUARD_FILTER" "${probe_plugin[@]}" tlsguard-extents=hide ||
  tap_not_ok "hide: nbdkit started"
tls_uri="nbds+unix:///?socket=$sock&tls-certificates=$PKI_DIR"
plain_uri="nbd+unix:///?socket=$sock"

tap_is "hide, TLS: nbdinfo --map shows the real map" "$map_real" \
  "$(run "$NBDINFO" --map "$tls_uri" 2>>"$tmp/clients.err")"
tap_is "hide, plaintext: nbdinfo --map shows one data extent" "$map_all" \
  "$(run "$NBDINFO" --map "$plain_uri" 2>>"$tmp/clients.err")"
run "$NBDCOPY" "$plain_uri" "$tmp/plain-nbdcopy.raw" 2>>"$tmp/clients.err"
tap_same "hide, plaintext: nbdcopy still copies the disk" "$tmp/plain-nbdcopy.raw"
run "$QEMU_IMG" convert -O raw --image-opts "driver=nbd,path=$sock" \
  "$tmp/plain-qemu-img.raw" 2>>"$tmp/clients.err"
tap_same "hide, plaintext: qemu-img convert still copies the disk" \
  "$tmp/plain-qemu-img.raw"
stop_server "$nbdkit_pid"
tap_is "hide: nbdkit exits cleanly" 0 $?

# --- deny with PSK: the same clients with tls-creds-psk ------------------
start_nbdkit psk --tls=on --tls-psk="$PSK_FILE" \
  --filter="$TLSGUARD_FILTER" "${probe_plugin[@]}" ||
  tap_not_ok "psk: nbdkit started"
tap_is "PSK: nbdinfo --map shows the real map" "$map_real" \
  "$(run "$NBDINFO" --map \
       "nbds+unix://qemu@/?socket=$sock&tls-psk-file=$PSK_FILE" \
       2>>"$tmp/clients.err")"
run "$QEMU_IMG" convert -O raw --object "$psk_obj" \
  --image-opts "driver=nbd,path=$sock,tls-creds=tls0" \
  "$tmp/psk-qemu-img.raw" 2>>"$tmp/clients.err"
tap_same "PSK: qemu-img convert copies the disk" "$tmp/psk-qemu-img.raw"
stop_server "$nbdkit_pid"
tap_is "psk: nbdkit exits cleanly" 0 $?
cat "$tmp/clients.err" >&2

tap_done
