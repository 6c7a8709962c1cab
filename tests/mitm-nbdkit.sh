# Body of test-mitm-nbdkit-{psk,x509}.sh: the three-party meta-context
# injection, nbd-probe / nbdinfo -> nbd-mitm -> nbdkit --tls=on, with and
# without tlsguard, with the client's own export and with another one
# injected.  nbdkit must refuse the client's BLOCK_STATUS every time.
# Usage (sourced): kind=psk|x509; . mitm-nbdkit.sh
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh

requires_nbdkit_version
requires_$kind
requires_mitm
requires_probe
[ -n "${NBDINFO:-}" ] && [ -x "$NBDINFO" ] || skip_all "nbdinfo not found"

case $kind in
  psk)
    server_tls=(--tls-psk="$PSK_FILE")
    client_tls=(--tls-psk "$PSK_FILE")
    uri_user=qemu@ uri_tls="tls-psk-file=$PSK_FILE" ;;
  x509)
    server_tls=(--tls-certificates="$PKI_DIR")
    client_tls=(--tls-certs "$PKI_DIR")
    uri_user= uri_tls="tls-certificates=$PKI_DIR" ;;
esac

plugin=(data "data=@65536 (0x55)*65536 @262144 (0xaa)*4096" size=1M)

tap_plan 34

# attack CFG NAME MITM-ARGS...: one nbd-mitm in front of nbdkit ($sock).
attack ()
{
  cfg=$1 what=$2; shift 2
  d="$cfg, $what"
  if ! start_mitm "mitm-$cfg-$what" "$sock" "${client_tls[@]}" "$@"; then
    for i in 1 2 3 4 5 6 7; do tap_not_ok "$d: nbd-mitm started"; done
    return
  fi

  run_probe "$tmp/p-$cfg-$what" --unix "$mitm_sock" "${client_tls[@]}" \
    --scenario tls_positive
  tap_is "$d: nbd-probe through the mitm exits 1" 1 $?
  tap_is "$d: tls_positive fails" "not ok 1 - tls_positive" \
    "$(probe_line "$tmp/p-$cfg-$what.tap" tls_positive)"
  tap_grep "$d: ... because BLOCK_STATUS got EINVAL and no extents" \
    '^# tls_positive.scn:[0-9]+: expect extents: NBD_CMD_BLOCK_STATUS failed with EINVAL' \
    "$tmp/p-$cfg-$what.tap"
  tap_grep "$d: the mitm answered the client's SET_META_CONTEXT with the injected id" \
    'mitm -> client: NBD_REP_META_CONTEXT id [0-9]+ "base:allocation" \(really base:allocation\)' \
    "$mitm_log"

  "$NBDINFO" --map "nbds+unix://$uri_user/?socket=$mitm_sock&$uri_tls" \
    >"$tmp/map-$cfg-$what.out" 2>"$tmp/map-$cfg-$what.err"
  st=$?
  cat "$tmp/map-$cfg-$what.out" "$tmp/map-$cfg-$what.err" >&2
  if [ "$st" -ne 0 ] && [ ! -s "$tmp/map-$cfg-$what.out" ]; then
    tap_ok "$d: nbdinfo --map through the mitm fails (status $st), no map"
  else
    tap_not_ok "$d: nbdinfo --map through the mitm fails, no map"
    tap_diag "status $st, output:" "$(cat "$tmp/map-$cfg-$what.out")"
  fi
  tap_grep "$d: nbdinfo reports Invalid argument" \
    'block-status: command failed: Invalid argument' "$tmp/map-$cfg-$what.err"

  stop_server "$mitm_pid"
  tap_is "$d: nbd-mitm exits cleanly" 0 $?
}

for cfg in tlsguard nofilter; do
  filter=()
  [ $cfg = tlsguard ] && filter=(--filter="$TLSGUARD_FILTER")
  if ! start_nbdkit "$cfg" --tls=on "${server_tls[@]}" "${filter[@]}" \
       "${plugin[@]}"; then
    tap_not_ok "$cfg: nbdkit started"
    continue
  fi
  nbdkit_log=$log

  # Control: without the mitm the same client gets its extents.
  run_probe "$tmp/direct-$cfg" --unix "$sock" "${client_tls[@]}" \
    --scenario tls_positive
  tap_is "$cfg: control: tls_positive passes without the mitm" 0 $?

  # The client's own export ("") injected, then another export.
  attack $cfg same-export
  attack $cfg other-export --inject-export other

  stop_server "$nbdkit_pid"
  tap_is "$cfg: nbdkit exit status" 0 $?
  tap_grep "$cfg: nbdkit's core refused: base:allocation was not negotiated after TLS" \
    'NBD_CMD_BLOCK_STATUS: base:allocation was not negotiated' "$nbdkit_log"
done

tap_done
