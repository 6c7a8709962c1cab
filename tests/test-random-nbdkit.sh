#!/bin/bash -
# Random option sequences checked against the spec model: nbdkit with
# and without tlsguard (deny) must show no violation (P0-P4).
# nbdkit --tls=on (SELECTIVETLS) and --tls=require (FORCEDTLS), psk.
# 'make check-random N=... SEED=...' is the long run of this test.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. "$srcdir/functions.sh"
. "$srcdir/harness-functions.sh"
. "$srcdir/probe-functions.sh"
. "$srcdir/random-functions.sh"

requires_nbdkit_version
requires_psk
requires_probe

read -r -a server_tls <<<"$(psk_server_args)"
read -r -a probe_tls <<<"$(psk_probe_args)"

tap_plan 6

# random_nbdkit NAME NBDKIT_ARGS...: start nbdkit with the probe plugin
# (key=value arguments go after it), run the sequences, and check
# there is no violation.  Two TAP lines.
random_nbdkit ()
{
  _cfg=$1; shift
  _args=(); _params=()
  for a in "$@"; do
    case $a in -*) _args+=("$a") ;; *) _params+=("$a") ;; esac
  done
  if ! start_nbdkit "$_cfg" "${_args[@]}" "${probe_plugin[@]}" \
       "${_params[@]}"; then
    tap_not_ok "$_cfg: nbdkit started"
    tap_not_ok "$_cfg: nbdkit exits cleanly"
    return
  fi
  random_run "$tmp/$_cfg.tap" "$sock" "${probe_tls[@]}"
  v=$(random_violations "$tmp/$_cfg.tap")
  if [ "$random_status" -eq 0 ] && [ "${v:-x}" = 0 ]; then
    tap_ok "$_cfg: $random_n sequences, 0 violations"
  else
    tap_not_ok "$_cfg: $random_n sequences, 0 violations (exit $random_status, ${v:-no} violations)"
    grep -v '^ok ' "$tmp/$_cfg.tap" | head -n 200 | tap_probe_diag /dev/stdin
  fi
  tap_diag "$_cfg: $(random_summary "$tmp/$_cfg.tap")"
  sed -n 's/^#   \([A-Z][-A-Z0-9]*\) *\([0-9]*\)$/note \1: \2/p' \
    "$tmp/$_cfg.tap" | sed "s/^/$_cfg: /" | while read -r l; do tap_diag "$l"; done
  stop_nbdkit "$nbdkit_pid"
  tap_is "$_cfg: nbdkit exits cleanly" 0 $?
}

random_nbdkit nofilter-on --tls=on "${server_tls[@]}"
random_nbdkit deny-on --tls=on "${server_tls[@]}" \
  --filter="$TLSGUARD_FILTER" tlsguard-extents=deny
random_nbdkit deny-require --tls=require "${server_tls[@]}" \
  --filter="$TLSGUARD_FILTER" tlsguard-extents=deny

tap_done
