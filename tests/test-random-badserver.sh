#!/bin/bash -
# Random option sequences against nbd-badserver: none against the
# compliant server (which has a TLS-only export, 'secret'), also with
# the probe told about it (--tls-only-export: P5 is checked), and for
# each --defect a violation of the expected property, found within the
# run, shrunk to at most 6 steps, and a reproducer that --script
# replays: not ok against the defect, ok against the compliant server.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh

requires_psk
requires_badserver
requires_probe

# defect, the violation kind ("PROP [RULE]") it must produce, and the
# nbd-probe arguments it needs.  serve-tls-only's first violation can
# be any of P5's three rules; TLS-ONLY-TRANSMIT (a plaintext GO of the
# TLS-only export acknowledged) must be among them.
tls_only=(--tls-only-export secret)
defects=(
  "keep-meta|P1 [META-BS]|"
  "keep-sr|P2 [SR-ONLY]|"
  "buffered-plaintext|P3 [TLS-HANDSHAKE]|"
  "ignore-export-mismatch|P1 [META-BS]|"
  "double-starttls|P0 [TLS-AGAIN]|"
  "starttls-payload|P0 [TLS-PAYLOAD]|"
  "serve-tls-only|P5 [TLS-ONLY-TRANSMIT]|${tls_only[*]}"
)
max_steps=6

tap_plan $((4 + 5 * ${#defects[@]}))

# The compliant server: no violation, and the replays below run
# against it too.  Every server here has the TLS-only export 'secret'
# (it changes nothing for sequences that never name it).
if start_badserver good --tls=on --tls-psk "$PSK_FILE" "${tls_only[@]}"; then
  good_pid=$bad_pid good_sock=$bad_sock
  random_run "$tmp/good" "$good_sock" --tls-psk "$PSK_FILE"
  random_clean compliant "$tmp/good"
  # The probe told about 'secret': P5 holds, with no deviation.
  random_run "$tmp/good-tlsonly" "$good_sock" --tls-psk "$PSK_FILE" \
    "${tls_only[@]}"
  v=$(random_violations "$tmp/good-tlsonly")
  # How many INFO, GO and EXPORT_NAME of it come before STARTTLS.
  # shellcheck disable=SC2046
  named=$("$PROBE" --random "$random_n" --seed "$random_seed" "${tls_only[@]}" \
            --print-sequences |
          awk '/^# sequence/ { pre = 1 } /^judge STARTTLS/ { pre = 0 }
               pre && /^judge (INFO|GO|EXPORT_NAME) export=\$TLSONLY/ { n++ }
               END { print n + 0 }')
  if [ "$probe_status" -eq 0 ] && [ "${v:-x}" = 0 ] &&
     random_summary "$tmp/good-tlsonly" | grep -q ' 0 deviations,' &&
     [ "$named" -ge $((random_n / 10)) ]; then
    tap_ok "compliant, --tls-only-export: $random_n sequences ($named plaintext INFO/GO/EXPORT_NAME of it), 0 violations, 0 deviations"
  else
    tap_not_ok "compliant, --tls-only-export: $random_n sequences ($named plaintext INFO/GO/EXPORT_NAME of it, want >= $((random_n / 10))), 0 violations, 0 deviations (exit $probe_status)"
    grep -v '^ok ' "$tmp/good-tlsonly.tap" | head -n 100 | tap_probe_diag /dev/stdin
  fi
  tap_diag "compliant, --tls-only-export: $(random_summary "$tmp/good-tlsonly")"
else
  good_pid=
  tap_not_ok "compliant: nbd-badserver started"
  tap_not_ok "compliant, --tls-only-export: nbd-badserver started"
fi

# The same seed gives the same sequences.
# shellcheck disable=SC2046
"$PROBE" --random 50 --seed "$random_seed" --print-sequences >"$tmp/seq1"
# shellcheck disable=SC2046
"$PROBE" --random 50 --seed "$random_seed" --print-sequences >"$tmp/seq2"
if [ -s "$tmp/seq1" ] && cmp -s "$tmp/seq1" "$tmp/seq2"; then
  tap_ok "--print-sequences: the same seed gives the same sequences"
else
  tap_not_ok "--print-sequences: the same seed gives the same sequences"
fi

for d in "${defects[@]}"; do
  IFS='|' read -r defect kind pargs <<<"$d"
  read -r -a pargs <<<"$pargs"
  if ! start_badserver "$defect" --tls=on --tls-psk "$PSK_FILE" \
       "${tls_only[@]}" --defect "$defect"; then
    for i in 1 2 3 4 5; do tap_not_ok "$defect: nbd-badserver started"; done
    continue
  fi
  repro=$tmp/$defect.scn
  random_run "$tmp/$defect" "$bad_sock" --tls-psk "$PSK_FILE" \
    "${pargs[@]}" --reproducer "$repro"
  first=$(random_first "$tmp/$defect")
  kinds=$(random_kinds "$tmp/$defect")
  if [ "$probe_status" -eq 1 ] && printf '%s\n' "$kinds" | grep -qxF "$kind"
  then
    tap_ok "$defect: $kind found (first violation: sequence $first of $random_n)"
  else
    tap_not_ok "$defect: $kind found (exit $probe_status; kinds: ${kinds:-none})"
  fi
  tap_diag "$defect: $(random_summary "$tmp/$defect")"
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
    "${pargs[@]}" --script "$repro"
  st=$?
  replayed=$(sed -n 's/.*: \(P[0-5]\) violation \[\([^]]*\)\].*/\1 [\2]/p' \
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
      "${pargs[@]}" --script "$repro"
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
