#!/bin/bash -
# Random option sequences against nbd-badserver: none against the
# compliant server, and for each --defect a violation of the expected
# property, found within the run, shrunk to at most 6 steps, and a
# reproducer that --script replays: not ok against the defect, ok
# against the compliant server.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. "$srcdir/functions.sh"
. "$srcdir/harness-functions.sh"
. "$srcdir/probe-functions.sh"
. "$srcdir/random-functions.sh"

requires_psk
requires_badserver
requires_probe

# defect and the violation kind ("PROP [RULE]") it must produce.
defects=(
  "keep-meta|P1 [META-BS]"
  "keep-sr|P2 [SR-ONLY]"
  "buffered-plaintext|P3 [TLS-HANDSHAKE]"
  "ignore-export-mismatch|P1 [META-BS]"
  "double-starttls|P0 [TLS-AGAIN]"
  "starttls-payload|P0 [TLS-PAYLOAD]"
)
max_steps=6

tap_plan $((3 + 5 * ${#defects[@]}))

# The compliant server: no violation, and the replays below run
# against it too.
if start_badserver good --tls=on --tls-psk "$PSK_FILE"; then
  good_pid=$bad_pid good_sock=$bad_sock
  random_run "$tmp/good.tap" "$good_sock" --tls-psk "$PSK_FILE"
  v=$(random_violations "$tmp/good.tap")
  if [ "$random_status" -eq 0 ] && [ "${v:-x}" = 0 ]; then
    tap_ok "compliant: $random_n sequences, 0 violations"
  else
    tap_not_ok "compliant: $random_n sequences, 0 violations (exit $random_status)"
    grep -v '^ok ' "$tmp/good.tap" | head -n 100 | tap_probe_diag /dev/stdin
  fi
  tap_diag "compliant: $(random_summary "$tmp/good.tap")"
else
  good_pid=
  tap_not_ok "compliant: nbd-badserver started"
fi

# The same seed gives the same sequences.
# shellcheck disable=SC2046
"$PROBE" --random 50 $(random_seed_args) --print-sequences >"$tmp/seq1"
# shellcheck disable=SC2046
"$PROBE" --random 50 $(random_seed_args) --print-sequences >"$tmp/seq2"
if [ -s "$tmp/seq1" ] && cmp -s "$tmp/seq1" "$tmp/seq2"; then
  tap_ok "--print-sequences: the same seed gives the same sequences"
else
  tap_not_ok "--print-sequences: the same seed gives the same sequences"
fi

for d in "${defects[@]}"; do
  defect=${d%%|*} kind=${d#*|}
  if ! start_badserver "$defect" --tls=on --tls-psk "$PSK_FILE" \
       --defect "$defect"; then
    for i in 1 2 3 4 5; do tap_not_ok "$defect: nbd-badserver started"; done
    continue
  fi
  repro=$tmp/$defect.scn
  random_run "$tmp/$defect.tap" "$bad_sock" --tls-psk "$PSK_FILE" \
    --reproducer "$repro"
  first=$(random_first "$tmp/$defect.tap")
  kinds=$(random_kinds "$tmp/$defect.tap")
  if [ "$random_status" -eq 1 ] && printf '%s\n' "$kinds" | grep -qxF "$kind"
  then
    tap_ok "$defect: $kind found (first violation: sequence $first of $random_n)"
  else
    tap_not_ok "$defect: $kind found (exit $random_status; kinds: ${kinds:-none})"
  fi
  tap_diag "$defect: $(random_summary "$tmp/$defect.tap")"
  printf '%s\n' "$kinds" | while read -r k; do tap_diag "$defect: kind $k"; done

  if [ -s "$repro" ]; then
    steps=$(script_steps "$repro")
    if [ "$steps" -ge 1 ] && [ "$steps" -le "$max_steps" ]; then
      tap_ok "$defect: reproducer shrunk to $steps steps (at most $max_steps)"
    else
      tap_not_ok "$defect: reproducer shrunk to $steps steps (at most $max_steps)"
    fi
    tap_probe_diag "$repro"
  else
    tap_not_ok "$defect: --reproducer wrote $repro"
  fi

  # Replay: the defect fails the same way ...
  run_probe "$tmp/$defect-replay" --unix "$bad_sock" --tls-psk "$PSK_FILE" \
    --script "$repro"
  st=$?
  replayed=$(sed -n 's/.*: \(P[0-4]\) violation \[\([^]]*\)\].*/\1 [\2]/p' \
               "$tmp/$defect-replay.tap" | head -n 1)
  first_kind=$(printf '%s\n' "$kinds" | head -n 1)
  if [ "$st" -eq 1 ] && grep -q '^not ok 1 ' "$tmp/$defect-replay.tap" &&
       [ "$replayed" = "$first_kind" ]; then
    tap_ok "$defect: --script replay is not ok with $replayed"
  else
    tap_not_ok "$defect: --script replay is not ok with $first_kind (exit $st, got ${replayed:-nothing})"
  fi
  # ... and passes against the compliant server.
  if [ -n "$good_pid" ]; then
    run_probe "$tmp/$defect-good" --unix "$good_sock" --tls-psk "$PSK_FILE" \
      --script "$repro"
    st=$?
    if [ "$st" -eq 0 ] && grep -q '^ok 1 ' "$tmp/$defect-good.tap"; then
      tap_ok "$defect: --script replay is ok against the compliant server"
    else
      tap_not_ok "$defect: --script replay is ok against the compliant server (exit $st)"
    fi
  else
    tap_not_ok "$defect: --script replay against the compliant server"
  fi

  stop_server "$bad_pid"
  tap_is "$defect: nbd-badserver exits cleanly" 0 $?
done

if [ -n "$good_pid" ]; then
  stop_server "$good_pid"
  tap_is "compliant: nbd-badserver exits cleanly" 0 $?
else
  tap_not_ok "compliant: nbd-badserver exits cleanly"
fi

tap_done
