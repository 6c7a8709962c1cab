#!/bin/bash -
# nbd-probe against a hostile server (nbd-hostile.pl): for every kind
# of malformed or hostile answer it exits 1 within its timeout, never
# crashes, hangs or leaks, and prints a "not ok" (or "Bail out!") line
# with a diagnostic naming the problem.  The cases and what the user
# sees are listed in docs/harness.md, "Bad input the suite covers".  With $VALGRIND (and no sanitizers)
# every case runs again with nbd-probe under memcheck.  Negative
# controls: the same scripts pass (exit 0) against nbd-hostile.pl
# --case compliant and against nbd-badserver, and the per-case checks
# reject such a passing run.  Regressions: a reply for another option
# must not switch the probe's state (wrong-option), chunks without DONE
# are named as such (chunk-stall), and endless streams do not make the
# trace megabytes long.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh

requires_probe
requires_badserver
requires perl
requires timeout

HOSTILE=$srcdir/nbd-hostile.pl

# CASE|SCRIPT|TAP LINE|DIAGNOSTIC (an ERE for the line after the TAP
# line; the scripts' directory is removed from the output first).
cases='huge-length|list|not ok 1 - list|^# list\.scn:2: expect replies SERVER: bad option reply header \(WIRE_ETOOBIG\): 0003e889045565a90000000300000002ffffffff$
bad-magic|list|not ok 1 - list|^# list\.scn:2: expect replies SERVER: bad option reply header \(WIRE_EMAGIC\): 0003e889045565aa000000030000000100000000$
wrong-option|list|not ok 1 - list|^# list\.scn:2: expect replies SERVER: reply is for NBD_OPT_GO but NBD_OPT_LIST was asked$
silence|list|not ok 1 - list|^# list\.scn:2: expect replies SERVER: timeout: no option reply within 1000 ms$
garbage|list|not ok 1 - list|^# list\.scn:2: expect replies SERVER: bad option reply header \(WIRE_EMAGIC\): c67e816b4bfbe2fb54f6bddf7c1ce18701bf31de$
close-mid-header|list|not ok 1 - list|^# list\.scn:2: expect replies SERVER: server closed the connection while sending option reply \(10 of 20 bytes\)$
meta-truncated|meta|not ok 1 - meta|^# meta\.scn:4: expect replies META_CONTEXT min=1: malformed reply: NBD_REP_META_CONTEXT MALFORMED payload \(2 bytes\) 0001$
unknown-reply|list|not ok 1 - list|^# list\.scn:3: expect reply ACK: expected NBD_REP_ACK, got NBD_REP_0x00007fff \(unknown\)$
endless-replies|list|not ok 1 - list|^# list\.scn:2: expect replies SERVER: more than 100000 NBD_REP_SERVER replies$
greeting-oldstyle|list|Bail out! cannot talk to the server: oldstyle server: not supported|^$
chunk-huge|tx|not ok 1 - tx|^# tx\.scn:5: expect cmd-ok: bad reply header \(WIRE_ETOOBIG\): 668e33ef00010001000000000000000104000001$
chunk-bad-cookie|tx|not ok 1 - tx|^# tx\.scn:5: expect cmd-ok: reply cookie 3735928559 does not match request cookie 1$
chunk-no-done|tx|not ok 1 - tx|^# tx\.scn:5: expect cmd-ok: timeout: reply not complete within 1000 ms \([0-9]+ chunks without NBD_REPLY_FLAG_DONE\)$
chunk-stall|tx|not ok 1 - tx|^# tx\.scn:5: expect cmd-ok: timeout: reply not complete within 1000 ms \(3 chunks without NBD_REPLY_FLAG_DONE\)$'
ncases=$(echo "$cases" | wc -l)

# Each script passes against a compliant NOTLS server.
cat >"$tmp/list.scn" <<'EOF'
option LIST
expect replies SERVER
expect reply ACK
EOF
cat >"$tmp/meta.scn" <<'EOF'
option STRUCTURED_REPLY
expect reply ACK
option LIST_META_CONTEXT query=base:
expect replies META_CONTEXT min=1
expect reply ACK
EOF
cat >"$tmp/tx.scn" <<'EOF'
option STRUCTURED_REPLY
expect reply ACK
go
cmd READ offset=0 length=65536
expect cmd-ok
EOF

use_valgrind=
if [ -n "${VALGRIND:-}" ] && [ -z "${SANITIZER_PRELOAD:-}" ]; then
  use_valgrind=1
fi

# Per case: status, TAP and diagnostic, server stopped; 3 extra checks;
# one valgrind line per case; 6 compliant runs, 2 rejected controls.
tap_plan $((ncases * 3 + 3 + ncases + 6 + 2))

# A hostile server started by a background run is killed by its PID
# (recorded in NAME.hpid until it is stopped) if the test is cut short.
kill_hostiles ()
{
  for f in "$tmp"/*.hpid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
  done
  return 0
}
cleanup_fn kill_hostiles

# start_hostile NAME CASE: nbd-hostile.pl on $tmp/NAME.sock, log in
# $tmp/NAME.log.  Sets hs_pid, hs_sock.
start_hostile ()
{
  start_server "$1" perl "$HOSTILE" --unix "$tmp/$1.sock" \
    --pidfile "$tmp/$1.pid" --case "$2" -v
  _st=$?
  hs_pid=$server_pid hs_sock=$server_sock
  echo "$hs_pid" >"$tmp/$1.hpid"
  return $_st
}

# stop_hostile NAME: stop_server; its exit status.
stop_hostile ()
{
  stop_server "$hs_pid"
  _st=$?
  rm -f "$tmp/$1.hpid"
  return $_st
}

# run_case MODE CASE SCRIPT [NAME]: run nbd-probe (MODE plain or
# valgrind) against nbd-hostile.pl --case CASE.  Leaves in $tmp/NAME.*
# (NAME defaults to MODE-CASE):
# .out (stdout and stderr, script directory removed), .st (exit status
# of timeout 20 (60 under valgrind) nbd-probe), .srvst (the server's exit status on
# SIGTERM, or "start" if it did not start), .log and .vg (valgrind).
run_case ()
{
  _n=${4:-$1-$2}
  if ! start_hostile "$_n" "$2"; then
    stop_hostile "$_n"
    echo start >"$tmp/$_n.srvst"
    echo none >"$tmp/$_n.st"
    : >"$tmp/$_n.out"
    return
  fi
  _vg=()
  if [ "$1" = valgrind ]; then
    _vg=("$VALGRIND" --quiet --leak-check=full --error-exitcode=99
         --errors-for-leak-kinds=definite,indirect
         --log-file="$tmp/$_n.vg")
  fi
  # valgrind's endless-replies run takes 9 s of CPU; on a loaded
  # 2-CPU machine it needs more than 20 s of wall time.
  _deadline=20
  [ "$1" = valgrind ] && _deadline=60
  timeout "$_deadline" ${_vg[@]+"${_vg[@]}"} "$PROBE" --timeout 1 --unix "$hs_sock" \
    --script "$tmp/$3.scn" </dev/null >"$tmp/$_n.raw" 2>&1
  echo $? >"$tmp/$_n.st"
  sed "s|$tmp/||g" "$tmp/$_n.raw" >"$tmp/$_n.out"
  stop_hostile "$_n"
  echo $? >"$tmp/$_n.srvst"
  {
    echo "--- $1 nbd-probe --case $2 --script $3.scn: exit $(cat "$tmp/$_n.st")"
    head -n 40 "$tmp/$_n.out"
    echo "--- nbd-hostile.pl log:"
    cat "$tmp/$_n.log"
  } >&2
}

# check_status N: nbd-probe run N exited with status 1.  Sets why.
check_status ()
{
  _st=$(cat "$tmp/$1.st")
  case $_st in
    1) why=; return 0 ;;
    124) why="timed out (timeout killed it: a hang)" ;;
    99) why="valgrind found a memory error or a leak (status 99)" ;;
    none) why="the hostile server did not start" ;;
    *) if [ "$_st" -ge 128 ]; then why="killed by signal $((_st - 128))"
       else why="exit status $_st, expected 1"; fi ;;
  esac
  return 1
}

# check_output N TAPLINE ERE: the output of run N has the TAP line
# TAPLINE and (unless ERE is ^$) the next line matches ERE.  Sets why.
check_output ()
{
  why=
  if ! grep -qxF -- "$2" "$tmp/$1.out"; then
    why="no line '$2'"
    return 1
  fi
  if [ "$3" != '^$' ] &&
     ! grep -A1 -xF -- "$2" "$tmp/$1.out" | sed -n 2p | grep -Eq -- "$3"; then
    why="the line after '$2' does not match /$3/"
    return 1
  fi
  return 0
}

# judge N TAPLINE ERE: both.
judge ()
{
  check_status "$1" && check_output "$@"
}

tap_run_diag ()
{
  tap_diag "$why"
  head -n 30 "$tmp/$1.out" | sed 's/^/#   /'
}

# --- every case, plain ----------------------------------------------------

# The slowest valgrind run goes in the background, beside the others.
if [ -n "$use_valgrind" ]; then
  run_case valgrind endless-replies list &
  bg_lane=$!
  cleanup_pids="$cleanup_pids $bg_lane"
fi

while IFS='|' read -r c scn line ere; do
  run_case plain "$c" "$scn"
  n=plain-$c
  if check_status "$n"; then
    tap_ok "$c: nbd-probe exits 1 within its timeout"
  else
    tap_not_ok "$c: nbd-probe exits 1 within its timeout"
    tap_run_diag "$n"
  fi
  if check_output "$n" "$line" "$ere"; then
    tap_ok "$c: '$line' and its diagnostic"
  else
    tap_not_ok "$c: '$line' and its diagnostic"
    tap_run_diag "$n"
  fi
  tap_is "$c: nbd-hostile.pl stopped by PID, exit 0" 0 \
    "$(cat "$tmp/$n.srvst")"
done <<<"$cases"

# The probe answers a reply for another option with NBD_OPT_ABORT: the
# forged "ACK for NBD_OPT_GO" did not put it into transmission (it used
# to send NBD_CMD_DISC here).
tap_grep "wrong-option: the probe then sends NBD_OPT_ABORT, not NBD_CMD_DISC" \
  'client closed \(sent 16 more bytes: 49484156454f50540000000200000000\)$' \
  "$tmp/plain-wrong-option.log"
# Endless streams: the trace is cut at 64 KiB (it used to print every
# one of the 100000 replies).
for c in endless-replies chunk-no-done; do
  sz=$(wc -c <"$tmp/plain-$c.out")
  if grep -qxF '# -- trace truncated: more than 64 KiB, later messages not recorded' \
       "$tmp/plain-$c.out" && [ "$sz" -lt 100000 ]; then
    tap_ok "$c: the trace is truncated (output $sz bytes)"
  else
    tap_not_ok "$c: the trace is truncated (output $sz bytes)"
  fi
done

# --- every case, nbd-probe under valgrind ---------------------------------

if [ -n "$use_valgrind" ]; then
  while IFS='|' read -r c scn line ere; do
    [ "$c" = endless-replies ] && continue
    run_case valgrind "$c" "$scn"
  done <<<"$cases"
  wait "$bg_lane"
  cleanup_pids=$(echo "$cleanup_pids" | sed "s/\\b$bg_lane\\b//")
  while IFS='|' read -r c scn line ere; do
    n=valgrind-$c
    if judge "$n" "$line" "$ere"; then
      tap_ok "valgrind: $c: exit 1 (not 99: no memory error or leak), same diagnostic"
    else
      tap_not_ok "valgrind: $c: exit 1 (not 99: no memory error or leak), same diagnostic"
      tap_run_diag "$n"
      [ -s "$tmp/$n.vg" ] && sed 's/^/#   valgrind: /' "$tmp/$n.vg"
    fi
  done <<<"$cases"
else
  reason="VALGRIND not set"
  [ -n "${SANITIZER_PRELOAD:-}" ] && reason="sanitizer build (SANITIZER_PRELOAD)"
  while IFS='|' read -r c scn line ere; do
    tap_ok "valgrind: $c # SKIP $reason"
  done <<<"$cases"
fi

# --- negative controls ----------------------------------------------------

# The same scripts pass against well-formed servers: nbd-hostile.pl
# without a hostile answer, and nbd-badserver (NOTLS) without a defect.
for scn in list meta tx; do
  run_case plain compliant "$scn" ok-$scn
done

if start_badserver bad --tls=off; then
  for scn in list meta tx; do
    run_probe "$tmp/bad-$scn" --timeout 1 --unix "$bad_sock" \
      --script "$tmp/$scn.scn"
    echo $? >"$tmp/bad-$scn.st"
  done
  stop_server "$bad_pid"
else
  for scn in list meta tx; do echo none >"$tmp/bad-$scn.st"; done
fi
for scn in list meta tx; do
  tap_is "control: $scn.scn passes against nbd-hostile.pl --case compliant" \
    "0 ok 1 - $scn" \
    "$(cat "$tmp/ok-$scn.st") $(grep -x "ok 1 - $scn" "$tmp/ok-$scn.out")"
  tap_is "control: $scn.scn passes against nbd-badserver --tls=off" \
    "0 ok 1 - $scn" \
    "$(cat "$tmp/bad-$scn.st") $(grep -x "ok 1 - $scn" "$tmp/bad-$scn.tap" 2>/dev/null)"
done

# The per-case check rejects a passing run: it distinguishes.
cp "$tmp/ok-list.out" "$tmp/ctl.out"
cp "$tmp/ok-list.st" "$tmp/ctl.st"
line=$(echo "$cases" | sed -n 1p | cut -d'|' -f3)
ere=$(echo "$cases" | sed -n 1p | cut -d'|' -f4)
if judge ctl "$line" "$ere"; then
  tap_not_ok "control: the huge-length check rejects a compliant run"
else
  tap_ok "control: the huge-length check rejects a compliant run ($why)"
fi
# ... and a run with the right status but another diagnostic.
cp "$tmp/plain-bad-magic.out" "$tmp/ctl.out"
cp "$tmp/plain-bad-magic.st" "$tmp/ctl.st"
if judge ctl "$line" "$ere"; then
  tap_not_ok "control: the huge-length check rejects the bad-magic run"
else
  tap_ok "control: the huge-length check rejects the bad-magic run ($why)"
fi

tap_done
