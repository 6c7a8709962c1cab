# Body of test-badserver-<defect>.sh: nbd-probe against nbd-badserver
# with one --defect switch must fail exactly the scenarios that check
# the broken rule (the rows of badserver-DEFECT in
# tests/expected/battery.tsv; the first in the battery's order is the
# target), and pass against the same server without it.
# Usage (sourced): defect=NAME
#                  [server_args=(ARGS...)]  more nbd-badserver arguments,
#                                           for both servers
#                  [probe_args=(ARGS...)]   more nbd-probe arguments
#                  [extra_tests=N; extra_check () { ...; }]
#                                           N more TAP lines from
#                                           extra_check, run against the
#                                           defect server ($bad_sock)
#                  . badserver-defect.sh
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh

requires_psk
requires_badserver
requires_probe

expect_fail=$(expected_failures "badserver-$defect" $battery_scenarios | tr '\n' ' ')
expect_fail=${expect_fail% }
[ -n "$expect_fail" ] || echo "no scenario fails for badserver-$defect in $expected_table" >&2
[ -n "${server_args+x}" ] || server_args=()
[ -n "${probe_args+x}" ] || probe_args=()

tap_plan $((9 + ${extra_tests:-0}))

# The same server with and without the defect: the probe must pass
# the compliant one, so every failure below is the defect's doing.
if start_badserver good --tls=on --tls-psk "$PSK_FILE" "${server_args[@]}"
then
  run_probe "$tmp/good" --unix "$bad_sock" --tls-psk "$PSK_FILE" \
    "${probe_args[@]}"
  tap_is "control: nbd-probe passes against the compliant server" 0 $?
  stop_server "$bad_pid"
  tap_is "control: compliant nbd-badserver exits cleanly" 0 $?
else
  tap_not_ok "control: compliant nbd-badserver started"
  tap_not_ok "control: compliant nbd-badserver exits cleanly"
fi

if ! start_badserver bad --tls=on --tls-psk "$PSK_FILE" "${server_args[@]}" \
     --defect "$defect"
then
  tap_not_ok "$defect: nbd-badserver started"
  tap_done
fi

run_probe "$tmp/bad" --unix "$bad_sock" --tls-psk "$PSK_FILE" "${probe_args[@]}"
st=$?
if [ "$st" -ne 0 ]; then
  tap_ok "$defect: nbd-probe exits non-zero (status $st)"
else
  tap_not_ok "$defect: nbd-probe exits non-zero"
  tap_probe_diag "$tmp/bad.tap"
fi

# The targeted scenario, by name.
target=${expect_fail%% *}
line=$(probe_line "$tmp/bad.tap" "$target")
case $line in
  "not ok "*) tap_ok "$defect: $line" ;;
  *) tap_not_ok "$defect: scenario $target fails"
     tap_diag "got: ${line:-no line for $target}"
     tap_probe_diag "$tmp/bad.tap" ;;
esac

# And nothing else, except what the same broken rule also breaks.
tap_is "$defect: the failing scenarios are exactly: $expect_fail" \
  "$(printf '%s\n' $expect_fail | sort)" "$(probe_not_ok "$tmp/bad.tap")"
for s in $expect_fail; do
  tap_diag "$s: $(expected_why "badserver-$defect" "$s")"
done

# The probe's diagnostic for the target comes with '# ' lines.
if sed -n "/^not ok [0-9]* - $target\\b/,/^\\(not \\)\\?ok /p" "$tmp/bad.tap" |
     grep -q '^#'; then
  tap_ok "$defect: $target failure has a diagnostic"
else
  tap_not_ok "$defect: $target failure has a diagnostic"
fi

# The defect code path really ran.
tap_grep "$defect: nbd-badserver logged the defect at work" \
  "defect $defect: " "$bad_log"

# Running the targeted scenario alone fails too.
run_probe "$tmp/one" --unix "$bad_sock" --tls-psk "$PSK_FILE" \
  "${probe_args[@]}" --scenario "$target"
st=$?
if [ "$st" -ne 0 ] && [ "$(probe_not_ok "$tmp/one.tap")" = "$target" ]; then
  tap_ok "$defect: --scenario $target alone fails"
else
  tap_not_ok "$defect: --scenario $target alone fails (status $st)"
  tap_probe_diag "$tmp/one.tap"
fi

[ "${extra_tests:-0}" -gt 0 ] && extra_check

stop_server "$bad_pid"
st=$?
tap_is "$defect: nbd-badserver exits cleanly on SIGTERM" 0 "$st"

tap_done
