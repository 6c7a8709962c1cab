#!/bin/bash -
# Concurrent plaintext and TLS (PSK) clients against nbdkit -t 16 with
# tlsguard (deny), each looping over block status and reads.  Every
# decision is counted: plaintext must never get extents, TLS must always
# get them, and nothing else may fail.  The negative control runs the
# same load against tlsguard-extents=allow and must see wrong decisions.
# 'make check' runs a short version; 'make check-stress' runs 256
# clients for 30 s (STRESS_CLIENTS, STRESS_SECONDS).
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh
requires_nbdkit_version
requires_psk
requires_built "${NBD_STRESS:-}"

clients=${STRESS_CLIENTS:-32}
seconds=${STRESS_SECONDS:-3}

tap_plan 8

start_nbdkit deny --tls=on --tls-psk="$PSK_FILE" -t 16 \
  --filter="$TLSGUARD_FILTER" memory 16M
"$NBD_STRESS" --unix "$sock" --tls-psk "$PSK_FILE" --clients "$clients" \
  --seconds "$seconds" --seed 1 >"$tmp/deny.out" 2>"$tmp/deny.err"
st=$?
sed 's/^/# deny: /' "$tmp/deny.out"
tap_is "deny: $clients clients for ${seconds}s: 0 wrong, 0 unexpected" 0 "$st"
tap_grep "deny: no wrong decision" '^wrong: tls-refused=0 plaintext-extents=0$' \
  "$tmp/deny.out"
tap_grep "deny: no unexpected error" ' unexpected=0$' "$tmp/deny.out"
# "No wrong decision" holds trivially if nothing was decided: both kinds
# of right decision must have been counted, and nbdkit must be alive.
right=$(sed -n 's/^right: tls-extents=\([0-9]*\) plaintext-einval=\([0-9]*\)$/\1 \2/p' "$tmp/deny.out")
if [ -n "$right" ] && [ "${right% *}" -gt 0 ] && [ "${right#* }" -gt 0 ]; then
  tap_ok "deny: decisions were counted (TLS extents and plaintext EINVAL: $right)"
else
  tap_not_ok "deny: decisions were counted (TLS extents and plaintext EINVAL)"
  tap_diag "right: '$right'"
fi
if kill -0 "$nbdkit_pid" 2>/dev/null; then
  tap_ok "deny: nbdkit still running after the load"
else
  tap_not_ok "deny: nbdkit still running after the load"
fi
stop_server "$nbdkit_pid"
tap_is "deny: nbdkit exit status" 0 "$?"

# Negative control: with the policy switched off the counters must
# catch plaintext clients receiving extents.
start_nbdkit allow --tls=on --tls-psk="$PSK_FILE" -t 16 \
  --filter="$TLSGUARD_FILTER" memory 16M tlsguard-extents=allow
"$NBD_STRESS" --unix "$sock" --tls-psk "$PSK_FILE" --clients 8 --seconds 1 \
  --seed 2 --expect-wrong >"$tmp/allow.out" 2>"$tmp/allow.err"
st=$?
sed 's/^/# allow: /' "$tmp/allow.out"
tap_is "allow (negative control): wrong decisions detected" 0 "$st"
stop_server "$nbdkit_pid"
tap_is "allow: nbdkit exit status" 0 "$?"

tap_done
