#!/bin/bash -
# nbdkit's own known issues, measured on the nbdkit under test (see
# docs/nbdkit-issues.md).  For each issue the expected outcome comes
# from tests/expected/battery.tsv, keyed by nbdkit's version: on a
# version that has the issue the test asserts that it is there and that
# the documented mitigation holds; on a version that fixed it, that it
# is gone.  Each run is bounded (200 clients, a few seconds).
#
#   tls-hangup    a TLS client hangs up during a READ reply (nbd-fault
#                 --step tls-read-partial) against -t 2; mitigations -t 1
#                 and --filter=noparallel serialize=requests
#   plain-hangup  a plaintext client pipelines 64 x 256 KiB READs and
#                 hangs up (nbd-fault --step plain-pipeline-hangup)
#                 against the default thread count; same mitigations
#   K1            LIST, STARTTLS, LIST: the second LIST is refused
#                 (nbd-probe --scenario list_after_starttls)
#   meta-leak     nbdkit leaks its copy of the export name on each
#                 repeated NBD_OPT_SET_META_CONTEXT (valgrind, 10
#                 SET_META_CONTEXT on one connection)
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh

requires "$NBDKIT"
requires_psk
requires_x509
requires_probe
requires_built "${NBD_FAULT:-}"
requires "${VALGRIND:-valgrind}"

ver=$(peer_version nbdkit)
echo "# nbdkit $ver"
clients=200

tap_plan 17

# hangup ISSUE CFG STEP ASSERTION NBDKIT-ARGS...: start nbdkit, run
# $clients nbd-fault clients that all drop at STEP, and assert whether
# nbdkit survived (two TAP lines: the outcome, and the log's assertion
# line present for a crash, absent otherwise).  Arguments after the
# first one that does not start with '-' go after the memory plugin.
hangup ()
{
  issue=$1 cfg=$2 step=$3 assertion=$4; shift 4
  want=$(expected_result "$cfg" "$issue")
  why=$(expected_why "$cfg" "$issue")
  args=() params=()
  for a in "$@"; do
    case $a in -*) args+=("$a") ;; *) params+=("$a") ;; esac
  done
  if ! start_nbdkit "$cfg-$issue" "${args[@]}" memory 16M "${params[@]}"; then
    tap_not_ok "$issue $cfg: nbdkit started"
    tap_not_ok "$issue $cfg: log # nbdkit did not start"
    return
  fi
  start=$(date +%s.%N)
  "$NBD_FAULT" --unix "$sock" --tls-psk "$PSK_FILE" --clients "$clients" \
    --step "$step" >"$tmp/$cfg-$issue.fault" 2>&1
  secs=$(echo "$start $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')
  dropped=$(sed -n "s/^step $step *dropped=\([0-9]*\) .*/\1/p" \
    "$tmp/$cfg-$issue.fault")
  sleep 0.5
  if kill -0 "$nbdkit_pid" 2>/dev/null; then
    stop_server "$nbdkit_pid"
    st=$?
    got=survives
    [ "$st" = 0 ] || got="survives, then exit status $st"
  else
    wait "$nbdkit_pid"
    st=$?
    cleanup_pids=$(echo "$cleanup_pids" | sed "s/\\b$nbdkit_pid\\b//")
    got=crash
  fi
  echo "# $issue $cfg: $got (status $st), $dropped of $clients clients" \
    "reached their drop point, ${secs} s"
  grep -E 'Assertion|Aborted' "$log" | head -n 2 | sed 's/^/#   /'
  desc="${args[*]} ${params[*]}"
  tap_is "$issue $cfg (nbdkit ${desc//$PSK_FILE/keys.psk}): $why" "$want" "$got"
  if [ "$want" = crash ]; then
    tap_grep "$issue $cfg: nbdkit's log shows the assertion" "$assertion" "$log"
  else
    tap_nogrep "$issue $cfg: no assertion in nbdkit's log" 'Assertion' "$log"
  fi
}

# --- the TLS hang-up abort ----------------------------------------------
psk=--tls-psk=$PSK_FILE
hangup tls-hangup nbdkit-t2 tls-read-partial 'Assertion .* failed' \
  --tls=on "$psk" --threads=2
hangup tls-hangup nbdkit-t1 tls-read-partial 'Assertion .* failed' \
  --tls=on "$psk" --threads=1
hangup tls-hangup nbdkit-noparallel tls-read-partial 'Assertion .* failed' \
  --tls=on "$psk" --threads=2 --filter=noparallel serialize=requests

# --- the plaintext hang-up assertion -------------------------------------
hangup plain-hangup nbdkit-default plain-pipeline-hangup \
  "raw_send_socket: Assertion .sock >= 0. failed"
hangup plain-hangup nbdkit-t1 plain-pipeline-hangup \
  "raw_send_socket: Assertion .sock >= 0. failed" --threads=1
hangup plain-hangup nbdkit-noparallel plain-pipeline-hangup \
  "raw_send_socket: Assertion .sock >= 0. failed" \
  --filter=noparallel serialize=requests

# --- K1: LIST seen survives STARTTLS ---------------------------------------
start_nbdkit k1 --tls=on --tls-certificates="$PKI_DIR" "${probe_plugin[@]}" ||
  tap_not_ok "K1: nbdkit started"
# shellcheck disable=SC2046
run_probe "$tmp/k1" --unix "$sock" $(x509_client_args) --scenario list_after_starttls
got=$(probe_summary <"$tmp/k1.tap" | sed -n 's/^list_after_starttls //p')
tap_is "K1 nbdkit-on: $(expected_why nbdkit-on list_after_starttls)" \
  "$(expected_result nbdkit-on list_after_starttls)" "$got"
stop_server "$nbdkit_pid"
tap_is "K1: nbdkit exit status" 0 "$?"

# --- the export-name leak on repeated SET_META_CONTEXT --------------------
# 10 SET_META_CONTEXT naming the export on one connection, then GO; the
# leak is each replaced copy of the name: strndup called straight from
# the nbdkit binary, definitely lost.  Without tests/valgrind.supp.
if [ -n "${SANITIZER_PRELOAD:-}" ]; then
  # nbdkit is a wrapper script that preloads ASan here, and valgrind
  # cannot run under ASan; LeakSanitizer's suppressions name this leak.
  for i in 1 2 3; do tap_ok "meta-leak # SKIP not under valgrind in a sanitizer build"; done
else
  {
    echo "description SET_META_CONTEXT 10 times on one connection, then GO"
    echo "option STRUCTURED_REPLY"
    echo "expect reply ACK"
    for i in 1 2 3 4 5 6 7 8 9 10; do
      echo "option SET_META_CONTEXT export=\$EXPORT query=base:allocation"
      echo "expect replies META_CONTEXT min=1"
      echo "expect reply ACK"
    done
    echo "go export=\$EXPORT"
    echo "cmd BLOCK_STATUS offset=0 length=\$SIZE"
    echo "expect cmd-ok"
  } >"$tmp/meta10.scn"
  vglog=$tmp/meta-leak.vg
  start_server meta-leak "${VALGRIND:-valgrind}" --leak-check=full \
    --show-leak-kinds=definite --log-file="$vglog" "$NBDKIT" -f \
    -P "$tmp/meta-leak.pid" -U "$tmp/meta-leak.sock" "${probe_plugin[@]}" ||
    tap_not_ok "meta-leak: nbdkit started under valgrind"
  nbdkit_pid=$server_pid sock=$server_sock
  run_probe "$tmp/meta10" --unix "$sock" --export "" --script "$tmp/meta10.scn"
  tap_is "meta-leak: 10 SET_META_CONTEXT, GO and BLOCK_STATUS work" 0 "$probe_status"
  stop_server "$nbdkit_pid"
  tap_is "meta-leak: nbdkit under valgrind exit status" 0 "$?"
  # Blocks of records whose stack is malloc <- strndup <- the nbdkit binary.
  blocks=$(awk '
    / are definitely lost in loss record / {
      n = $0; sub(/ blocks? are definitely.*/, "", n); sub(/.* in /, "", n)
      rec = n; depth = 0; next
    }
    rec != "" && /^==[0-9]+==    (at|by) / {
      depth++
      if (depth == 2 && $0 !~ /: strndup /) rec = ""
      else if (depth == 3) {
        if ($0 ~ /\(in [^)]*\/nbdkit\)|\/server\//) total += rec
        rec = ""
      }
    }
    END { print total + 0 }' "$vglog")
  echo "# meta-leak: $blocks export-name copies definitely lost" \
    "(10 SET_META_CONTEXT on one connection)"
  grep 'definitely lost:' "$vglog" | sed 's/^/#   /'
  tap_is "meta-leak: $(expected_why nbdkit-valgrind meta-leak)" \
    "$(expected_result nbdkit-valgrind meta-leak)" "$blocks"
fi

tap_done
