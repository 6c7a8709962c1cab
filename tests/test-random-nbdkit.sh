#!/bin/bash -
# Random option sequences checked against the spec model: nbdkit with
# and without tlsguard (deny) must show no violation (P0-P5).
# nbdkit --tls=on (SELECTIVETLS) and --tls=require (FORCEDTLS), psk.
# With tlsguard-tls-only=secret and the probe told --tls-only-export
# secret, P5 holds too, and every plaintext INFO or GO of 'secret' is a
# TLS-ONLY-REQD deviation: nbdkit's core answers NBD_REP_ERR_UNKNOWN
# where the spec requires NBD_REP_ERR_TLS_REQD.  The test requires the
# deviations to be reported, and --strict to fail on them.
# 'make check-random N=... SEED=...' is the long run of this test.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh

requires_nbdkit_version
requires_psk
requires_probe

read -r -a server_tls <<<"$(psk_server_args)"
read -r -a probe_tls <<<"$(psk_client_args)"

tap_plan 11

# random_nbdkit NAME NBDKIT_ARGS... [-- PROBE_ARGS...]: start nbdkit
# with the probe plugin (key=value arguments go after it), run the
# sequences, and check there is no violation.  Two TAP lines; the
# server stays up for more checks when keep_server=1.
random_nbdkit ()
{
  _cfg=$1; shift
  _args=(); _params=(); _pargs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    case $1 in -*) _args+=("$1") ;; *) _params+=("$1") ;; esac
    shift
  done
  [ $# -gt 0 ] && shift
  _pargs=("$@")
  if ! start_nbdkit "$_cfg" "${_args[@]}" "${probe_plugin[@]}" \
       "${_params[@]}"; then
    tap_not_ok "$_cfg: nbdkit started"
    tap_not_ok "$_cfg: nbdkit exits cleanly"
    return
  fi
  random_run "$tmp/$_cfg" "$sock" "${probe_tls[@]}" "${_pargs[@]}"
  random_clean "$_cfg" "$tmp/$_cfg"
  sed -n -e '/^# deviations/{s/.*/deviations:/p;d}' -e '/^# notes/{s/.*/notes:/p;d}' \
    -e 's/^#   \([A-Z][-A-Z0-9]*\) *\([0-9]*\)$/  \1: \2/p' \
    "$tmp/$_cfg.tap" | sed "s/^/$_cfg: /" | while read -r l; do tap_diag "$l"; done
  [ "${keep_server:-0}" = 1 ] && return
  stop_server "$nbdkit_pid"
  tap_is "$_cfg: nbdkit exits cleanly" 0 $?
}

random_nbdkit nofilter-on --tls=on "${server_tls[@]}"
random_nbdkit deny-on --tls=on "${server_tls[@]}" \
  --filter="$TLSGUARD_FILTER" tlsguard-extents=deny
random_nbdkit deny-require --tls=require "${server_tls[@]}" \
  --filter="$TLSGUARD_FILTER" tlsguard-extents=deny

# TLS-only: P5 holds, and the wrong reply code is shown as a deviation.
keep_server=1 random_nbdkit tlsonly-on --tls=on "${server_tls[@]}" \
  --filter="$TLSGUARD_FILTER" tlsguard-tls-only=secret \
  -- --tls-only-export secret
dev=$(sed -n 's/^#   TLS-ONLY-REQD *\([0-9][0-9]*\)$/\1/p' "$tmp/tlsonly-on.tap" | head -n 1)
if random_summary "$tmp/tlsonly-on" | grep -q " ${dev:-x} deviations," &&
   [ "${dev:-0}" -ge $((random_n / 10)) ]; then
  tap_ok "tlsonly-on: $dev TLS-ONLY-REQD deviations reported, and no other kind"
else
  tap_not_ok "tlsonly-on: TLS-ONLY-REQD deviations reported (got ${dev:-none}, want >= $((random_n / 10)), and no other kind)"
fi
tap_grep "tlsonly-on: a deviation names nbdkit's reply, NBD_REP_ERR_UNKNOWN" \
  '^# sequence [0-9]+: deviation TLS-ONLY-REQD: .* answered NBD_REP_ERR_UNKNOWN' \
  "$tmp/tlsonly-on.tap"
# --strict: a deviation fails, as its own kind.
random_n=50 random_run "$tmp/tlsonly-strict" "$sock" "${probe_tls[@]}" \
  --tls-only-export secret --strict
if [ "$probe_status" -eq 1 ] &&
   random_kinds "$tmp/tlsonly-strict" | grep -qxF 'strict [TLS-ONLY-REQD]' &&
   ! random_kinds "$tmp/tlsonly-strict" | grep -q '^P'; then
  tap_ok "tlsonly-on --strict: the deviation fails as strict [TLS-ONLY-REQD], no P0-P5 violation"
else
  tap_not_ok "tlsonly-on --strict: the deviation fails as strict [TLS-ONLY-REQD] (exit $probe_status; kinds: $(random_kinds "$tmp/tlsonly-strict" | tr '\n' ' '))"
fi
stop_server "$nbdkit_pid"
tap_is "tlsonly-on: nbdkit exits cleanly" 0 $?

tap_done
