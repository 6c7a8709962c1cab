#!/bin/bash -
# nbd-probe's command-line contract: --help, --list, errors, --xfail,
# exit status, --script, timeouts.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. "$srcdir/functions.sh"
. "$srcdir/probe-functions.sh"

requires_nbdkit_version
requires_psk
requires_probe

read -r -a probe_tls <<<"$(psk_probe_args)"

tap_plan 25

# run_probe ARGS...: stdout to $tmp/out, stderr to $tmp/err, status in rc.
run_probe ()
{
  # shellcheck disable=SC2046
  $(probe_cmd) "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  { echo "\$ nbd-probe $*"; cat "$tmp/out" "$tmp/err"; } | sed 's/^/  | /' >&2
}

# --- no server needed ---------------------------------------------------

run_probe --help
tap_is "--help exits 0" 0 "$rc"
tap_grep "--help documents the options and the scenario language" \
  '^  expect reply TYPE' "$tmp/out"

run_probe --list
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
tlsonly_export_name" "$(cat "$tmp/out")"

run_probe --unix "$tmp/none.sock" --scenario no_such_scenario
tap_is "unknown --scenario: exit 2 and a clear message" \
  "2 nbd-probe: unknown scenario 'no_such_scenario' (nbd-probe --list shows them)" \
  "$rc $(cat "$tmp/err")"

run_probe --unix "$tmp/none.sock" --xfail no_such_scenario=why
tap_is "unknown --xfail name: exit 2" 2 "$rc"

run_probe --scenario tls_positive
tap_is "no --unix or --tcp: exit 2" 2 "$rc"

printf 'require tls\nexpect reply NO_SUCH_REPLY\n' >"$tmp/bad.scn"
run_probe --unix "$tmp/none.sock" --script "$tmp/bad.scn"
tap_is "a script with a syntax error: exit 2 with FILE:LINE" \
  "2 yes" "$rc $(grep -q "bad.scn:2: .*NO_SUCH_REPLY" "$tmp/err" && echo yes)"

run_probe --unix "$tmp/none.sock"
tap_is "no server: Bail out! and exit 1" "1 yes" \
  "$rc $(grep -q '^Bail out! ' "$tmp/out" && echo yes)"

# --- against nbdkit --tls=on (SELECTIVETLS) -------------------------------

start_nbdkit cli --tls=on "$(psk_server_args)" "${probe_plugin[@]}" ||
  tap_diag "nbdkit did not start"

run_probe --unix "$sock" "${probe_tls[@]}" --scenario list_after_starttls
tap_is "a failing scenario: not ok and exit 1" \
  "1..1|# server mode: SELECTIVETLS|not ok 1 - list_after_starttls|1" \
  "$(head -n 3 "$tmp/out" | sed 's/ (.*//' | tr '\n' '|')$rc"
tap_grep "the failure shows the option sent" \
  '^# C: NBD_OPT_LIST$' "$tmp/out"
tap_grep "the failure shows the reply received" \
  '^# S: NBD_REP_ERR_INVALID$' "$tmp/out"

run_probe --unix "$sock" "${probe_tls[@]}" --scenario list_after_starttls \
  --xfail "list_after_starttls=known nbdkit 1.32 bug"
tap_is "--xfail NAME=REASON on a failure: not ok, TODO directive with REASON, exit 0" \
  "not ok 1 - list_after_starttls # TODO known nbdkit 1.32 bug|0" \
  "$(grep '^not ok' "$tmp/out")|$rc"

run_probe --unix "$sock" "${probe_tls[@]}" --scenario tls_positive \
  --xfail tls_positive
tap_is "--xfail NAME on a pass: ok, TODO directive with the default reason, exit 0" \
  "ok 1 - tls_positive # TODO known deviation|0" \
  "$(grep '^ok' "$tmp/out")|$rc"

run_probe --unix "$sock" "${probe_tls[@]}" --scenario forcedtls_refuses \
  --scenario tls_positive
tap_is "a skip counts as ok: exit 0" \
  "ok 1 - tls_positive|ok 2 - forcedtls_refuses # SKIP server is SELECTIVETLS; the scenario applies to FORCEDTLS only|0" \
  "$(grep '^ok' "$tmp/out" | tr '\n' '|')$rc"

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
run_probe --unix "$sock" "${probe_tls[@]}" --script "$tmp/good.scn"
tap_is "--script runs a user file" "1..1|ok 1 - good|0" \
  "$(grep -v '^#' "$tmp/out" | tr '\n' '|')$rc"

sed 's/^expect extents 65536:4096:0$/expect extents 65536:4096:3/' \
  "$tmp/good.scn" >"$tmp/wrongmap.scn"
run_probe --unix "$sock" "${probe_tls[@]}" --script "$tmp/wrongmap.scn"
tap_is "--script: a failing expectation is not ok with the reason" \
  "not ok 1 - wrongmap|# wrongmap.scn:16: expect extents 65536:4096:3: extents 65536:4096:0, expected 65536:4096:3|1" \
  "$(grep -E '^(not )?ok|^# /.*wrongmap.scn' "$tmp/out" | sed "s|$tmp/||" | tr '\n' '|')$rc"

run_probe --unix "$sock" "${probe_tls[@]}" --script "$tmp/good.scn" \
  --scenario meta_cleared
tap_is "--script with --scenario runs both" \
  "1..2|ok 1 - meta_cleared|ok 2 - good|0" \
  "$(grep -v '^#' "$tmp/out" | tr '\n' '|')$rc"

run_probe --unix "$sock" "${probe_tls[@]}" -v --scenario tls_positive
tap_grep "-v prints the trace of passing scenarios to stderr" \
  '^# S: NBD_REP_META_CONTEXT id=[0-9]+ "base:allocation"$' "$tmp/err"

run_probe --unix "$sock" "${probe_tls[@]}" --context base:allocation \
  --context qemu:dirty-bitmap:x --scenario tls_positive -v
tap_grep "--context is repeatable: one SET_META_CONTEXT with every query" \
  '^# C: NBD_OPT_SET_META_CONTEXT export="" queries=\[base:allocation,qemu:dirty-bitmap:x\]$' \
  "$tmp/err"

printf 'starttls\ninfo export=$TLSONLY\n' >"$tmp/tlsonly.scn"
run_probe --unix "$sock" "${probe_tls[@]}" --script "$tmp/tlsonly.scn"
tap_is "\$TLSONLY without --tls-only-export: not ok, and why" \
  "not ok 1 - tlsonly|# tlsonly.scn:2: info export=\$TLSONLY: \$TLSONLY needs --tls-only-export NAME|1" \
  "$(grep -E '^(not )?ok|^# /.*tlsonly.scn' "$tmp/out" | sed "s|$tmp/||" | tr '\n' '|')$rc"

stop_nbdkit "$nbdkit_pid" || tap_diag "nbdkit exited with $st"

# --- a server that hangs ---------------------------------------------------

start_nbdkit slow --tls=on "$(psk_server_args)" --filter=delay \
  "${probe_plugin[@]}" delay-read=30 || tap_diag "nbdkit did not start"
printf 'starttls\ngo\ncmd READ offset=0 length=512\nexpect cmd-ok\n' \
  >"$tmp/hang.scn"
start=$SECONDS
run_probe --unix "$sock" "${probe_tls[@]}" --timeout 1 --script "$tmp/hang.scn"
tap_is "a hang is a failure with a clear diagnostic, within the timeout" \
  "not ok 1 - hang|# hang.scn:4: expect cmd-ok: timeout: no transmission reply within 1000 ms|1|fast" \
  "$(grep -E '^(not )?ok|^# /.*hang.scn' "$tmp/out" | sed "s|$tmp/||" | tr '\n' '|')$rc|$(
     [ $((SECONDS - start)) -lt 10 ] && echo fast)"
stop_nbdkit "$nbdkit_pid" || tap_diag "slow nbdkit exited with $st"

run_probe --unix "$tmp/none.sock" --timeout 0
tap_is "--timeout 0 is a usage error" 2 "$rc"

run_probe --unix "$tmp/none.sock" --export a --tls-only-export a
tap_is "--tls-only-export equal to --export: exit 2 and why" \
  "2 nbd-probe: --tls-only-export must differ from --export" \
  "$rc $(cat "$tmp/err")"

# The same seed with and without --tls-only-export: only the second
# names $TLSONLY.
run_probe --random 40 --seed 1 --print-sequences
plain=$(grep -c 'TLSONLY' "$tmp/out")
run_probe --random 40 --seed 1 --print-sequences --tls-only-export s
tap_is "--print-sequences names \$TLSONLY only with --tls-only-export" \
  "0 yes" "$plain $([ "$(grep -c '^judge [A-Z_]* export=\$TLSONLY' "$tmp/out")" -ge 10 ] && echo yes)"

tap_is "--list-rules lists the TLS-only rules with their sentences" \
  "TLS-ONLY-REQD|TLS-ONLY-TRANSMIT|TLS-ONLY-EN|MUST reply with NBD_REP_ERR_TLS_REQD if that export is TLS-only" \
  "$("$PROBE" --list-rules | grep -o '^TLS-ONLY-[A-Z]*' | tr '\n' '|')$("$PROBE" --list-rules | grep -o 'MUST reply with NBD_REP_ERR_TLS_REQD if that export is TLS-only' | sort -u)"

tap_done
