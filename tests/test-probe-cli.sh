#!/bin/bash -
# nbd-probe's command-line contract: --help, --list, errors, --xfail,
# exit status, --script, timeouts.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh

tls_setup psk

tap_plan 25

# Each run: TAP in $tmp/r.tap, stderr in $tmp/r.err, status in
# probe_status.  The results the battery's scenarios give against
# nbdkit --tls=on come from tests/expected/battery.tsv (nbdkit-on).

# result_line N SCN [TODO [SKIP]]: the TAP line nbd-probe prints for
# scenario SCN as test N against nbdkit --tls=on, as the table expects
# (TODO: the --xfail reason; SKIP: the probe's reason for a skip).
result_line ()
{
  case $(expected_result nbdkit-on "$2") in
    ok) echo "ok $1 - $2${3:+ # TODO $3}" ;;
    not-ok) echo "not ok $1 - $2${3:+ # TODO $3}" ;;
    skip) echo "ok $1 - $2 # SKIP ${4:-}" ;;
    *) echo "no expectation for $2" ;;
  esac
}
# exit_status SCN...: 1 if the table expects one of SCN... to fail.
exit_status ()
{
  [ -n "$(expected_failures nbdkit-on "$@")" ] && echo 1 || echo 0
}

# --- no server needed ---------------------------------------------------

run_probe "$tmp/r" --help
tap_is "--help exits 0" 0 "$probe_status"
tap_grep "--help documents the options and the scenario language" \
  '^  expect reply TYPE' "$tmp/r.tap"

run_probe "$tmp/r" --list
tap_is "--list prints the scenario names" "tls_positive
meta_injection
sr_injection
meta_other_export
meta_superseded
meta_cleared
double_starttls
starttls_payload
plaintext_buffering
list_after_starttls
forcedtls_refuses
plaintext_blockstatus
extended_headers
tlsonly_export
tlsonly_export_name" "$(cat "$tmp/r.tap")"

run_probe "$tmp/r" --unix "$tmp/none.sock" --scenario no_such_scenario
tap_is "unknown --scenario: exit 2 and a clear message" \
  "2 nbd-probe: unknown scenario 'no_such_scenario' (nbd-probe --list shows them)" \
  "$probe_status $(cat "$tmp/r.err")"

run_probe "$tmp/r" --unix "$tmp/none.sock" --xfail no_such_scenario=why
tap_is "unknown --xfail name: exit 2" 2 "$probe_status"

run_probe "$tmp/r" --scenario tls_positive
tap_is "no --unix or --tcp: exit 2" 2 "$probe_status"

printf 'require tls\nexpect reply NO_SUCH_REPLY\n' >"$tmp/bad.scn"
run_probe "$tmp/r" --unix "$tmp/none.sock" --script "$tmp/bad.scn"
tap_is "a script with a syntax error: exit 2 with FILE:LINE" \
  "2 yes" "$probe_status $(grep -q "bad.scn:2: .*NO_SUCH_REPLY" "$tmp/r.err" && echo yes)"

run_probe "$tmp/r" --unix "$tmp/none.sock"
tap_is "no server: Bail out! and exit 1" "1 yes" \
  "$probe_status $(grep -q '^Bail out! ' "$tmp/r.tap" && echo yes)"

# --- against nbdkit --tls=on (SELECTIVETLS) -------------------------------

start_nbdkit cli --tls=on "$(psk_server_args)" "${probe_plugin[@]}" ||
  tap_diag "nbdkit did not start"

run_probe "$tmp/r" --unix "$sock" "${probe_tls[@]}" --scenario list_after_starttls
tap_is "a failing scenario: not ok and exit 1" \
  "1..1|# server mode: $(expected_result nbdkit-on mode)|$(result_line 1 list_after_starttls)|$(exit_status list_after_starttls)" \
  "$(head -n 3 "$tmp/r.tap" | sed 's/ (.*//' | tr '\n' '|')$probe_status"
tap_grep "the failure shows the option sent" \
  '^# C: NBD_OPT_LIST$' "$tmp/r.tap"
tap_grep "the failure shows the reply received" \
  '^# S: NBD_REP_ERR_INVALID$' "$tmp/r.tap"

run_probe "$tmp/r" --unix "$sock" "${probe_tls[@]}" --scenario list_after_starttls \
  --xfail "list_after_starttls=known nbdkit 1.32 bug"
tap_is "--xfail NAME=REASON on a failure: not ok, TODO directive with REASON, exit 0" \
  "$(result_line 1 list_after_starttls "known nbdkit 1.32 bug")|0" \
  "$(grep '^not ok' "$tmp/r.tap")|$probe_status"

run_probe "$tmp/r" --unix "$sock" "${probe_tls[@]}" --scenario tls_positive \
  --xfail tls_positive
tap_is "--xfail NAME on a pass: ok, TODO directive with the default reason, exit 0" \
  "$(result_line 1 tls_positive "known deviation")|0" \
  "$(grep '^ok' "$tmp/r.tap")|$probe_status"

run_probe "$tmp/r" --unix "$sock" "${probe_tls[@]}" --scenario forcedtls_refuses \
  --scenario tls_positive
tap_is "a skip counts as ok: exit 0" \
  "$(result_line 1 tls_positive)|$(result_line 2 forcedtls_refuses "" \
     "server is SELECTIVETLS; the scenario applies to FORCEDTLS only")|$(
     exit_status tls_positive forcedtls_refuses)" \
  "$(grep '^ok' "$tmp/r.tap" | tr '\n' '|')$probe_status"

cat >"$tmp/good.scn" <<'SCN'
# A user scenario: LIST_META_CONTEXT and the exact map over TLS.
require tls
starttls
option STRUCTURED_REPLY
expect reply ACK
option LIST_META_CONTEXT export=$EXPORT query=base:
expect reply META_CONTEXT name=base:allocation
expect reply ACK
option SET_META_CONTEXT export="" query=$CONTEXT
expect replies META_CONTEXT min=1 max=1
expect reply ACK
go export="" info=EXPORT info=BLOCK_SIZE
cmd BLOCK_STATUS offset=0 length=$SIZE
expect extents 0:65536:3,65536:65536:0,131072:131072:3,262144:32768:0,294912:753664:3
cmd BLOCK_STATUS offset=65536 length=4096 flags=REQ_ONE
expect extents 65536:4096:0
cmd READ offset=65536 length=65536
expect structured-reply
expect cmd-ok
SCN
run_probe "$tmp/r" --unix "$sock" "${probe_tls[@]}" --script "$tmp/good.scn"
tap_is "--script runs a user file" "1..1|ok 1 - good|0" \
  "$(grep -v '^#' "$tmp/r.tap" | tr '\n' '|')$probe_status"

sed 's/^expect extents 65536:4096:0$/expect extents 65536:4096:3/' \
  "$tmp/good.scn" >"$tmp/wrongmap.scn"
run_probe "$tmp/r" --unix "$sock" "${probe_tls[@]}" --script "$tmp/wrongmap.scn"
tap_is "--script: a failing expectation is not ok with the reason" \
  "not ok 1 - wrongmap|# wrongmap.scn:16: expect extents 65536:4096:3: extents 65536:4096:0, expected 65536:4096:3|1" \
  "$(grep -E '^(not )?ok|^# /.*wrongmap.scn' "$tmp/r.tap" | sed "s|$tmp/||" | tr '\n' '|')$probe_status"

run_probe "$tmp/r" --unix "$sock" "${probe_tls[@]}" --script "$tmp/good.scn" \
  --scenario meta_cleared
tap_is "--script with --scenario runs both" \
  "1..2|$(result_line 1 meta_cleared)|ok 2 - good|$(exit_status meta_cleared)" \
  "$(grep -v '^#' "$tmp/r.tap" | tr '\n' '|')$probe_status"

run_probe "$tmp/r" --unix "$sock" "${probe_tls[@]}" -v --scenario tls_positive
tap_grep "-v prints the trace of passing scenarios to stderr" \
  '^# S: NBD_REP_META_CONTEXT id=[0-9]+ "base:allocation"$' "$tmp/r.err"

run_probe "$tmp/r" --unix "$sock" "${probe_tls[@]}" --context base:allocation \
  --context qemu:dirty-bitmap:x --scenario tls_positive -v
tap_grep "--context is repeatable: one SET_META_CONTEXT with every query" \
  '^# C: NBD_OPT_SET_META_CONTEXT export="" queries=\[base:allocation,qemu:dirty-bitmap:x\]$' \
  "$tmp/r.err"

printf 'starttls\ninfo export=$TLSONLY\n' >"$tmp/tlsonly.scn"
run_probe "$tmp/r" --unix "$sock" "${probe_tls[@]}" --script "$tmp/tlsonly.scn"
tap_is "\$TLSONLY without --tls-only-export: not ok, and why" \
  "not ok 1 - tlsonly|# tlsonly.scn:2: info export=\$TLSONLY: \$TLSONLY needs --tls-only-export NAME|1" \
  "$(grep -E '^(not )?ok|^# /.*tlsonly.scn' "$tmp/r.tap" | sed "s|$tmp/||" | tr '\n' '|')$probe_status"

stop_server "$nbdkit_pid" || tap_diag "nbdkit exited with $?"

# --- a server that hangs ---------------------------------------------------

start_nbdkit slow --tls=on "$(psk_server_args)" --filter=delay \
  "${probe_plugin[@]}" delay-read=30 || tap_diag "nbdkit did not start"
printf 'starttls\ngo\ncmd READ offset=0 length=512\nexpect cmd-ok\n' \
  >"$tmp/hang.scn"
start=$SECONDS
run_probe "$tmp/r" --unix "$sock" "${probe_tls[@]}" --timeout 1 --script "$tmp/hang.scn"
tap_is "a hang is a failure with a clear diagnostic, within the timeout" \
  "not ok 1 - hang|# hang.scn:4: expect cmd-ok: timeout: no transmission reply within 1000 ms|1|fast" \
  "$(grep -E '^(not )?ok|^# /.*hang.scn' "$tmp/r.tap" | sed "s|$tmp/||" | tr '\n' '|')$probe_status|$(
     [ $((SECONDS - start)) -lt 10 ] && echo fast)"
stop_server "$nbdkit_pid" || tap_diag "slow nbdkit exited with $?"

run_probe "$tmp/r" --unix "$tmp/none.sock" --timeout 0
tap_is "--timeout 0 is a usage error" 2 "$probe_status"

run_probe "$tmp/r" --unix "$tmp/none.sock" --export a --tls-only-export a
tap_is "--tls-only-export equal to --export: exit 2 and why" \
  "2 nbd-probe: --tls-only-export must differ from --export" \
  "$probe_status $(cat "$tmp/r.err")"

# The same seed with and without --tls-only-export: only the second
# names $TLSONLY.
run_probe "$tmp/r" --random 40 --seed 1 --print-sequences
plain=$(grep -c 'TLSONLY' "$tmp/r.tap")
run_probe "$tmp/r" --random 40 --seed 1 --print-sequences --tls-only-export s
tap_is "--print-sequences names \$TLSONLY only with --tls-only-export" \
  "0 yes" "$plain $([ "$(grep -c '^judge [A-Z_]* export=\$TLSONLY' "$tmp/r.tap")" -ge 10 ] && echo yes)"

tap_is "--list-rules lists the TLS-only rules with their sentences" \
  "TLS-ONLY-REQD|TLS-ONLY-TRANSMIT|TLS-ONLY-EN|MUST reply with NBD_REP_ERR_TLS_REQD if that export is TLS-only" \
  "$("$PROBE" --list-rules | grep -o '^TLS-ONLY-[A-Z]*' | tr '\n' '|')$("$PROBE" --list-rules | grep -o 'MUST reply with NBD_REP_ERR_TLS_REQD if that export is TLS-only' | sort -u)"

tap_done
