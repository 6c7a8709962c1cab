# Shell helpers for the tests that drive nbd-badserver, nbd-mitm and
# nbd-probe.  Source after functions.sh.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
#
# Environment: HARNESS (build dir of tests/harness), and
# HARNESS_VALGRIND=1 to run nbd-badserver and nbd-mitm under valgrind
# memcheck (children included); their exit status is then 119 on a
# memcheck error or a definite leak, which stop_server reports.

BADSERVER=$HARNESS/nbd-badserver
MITM=$HARNESS/nbd-mitm
PROBE=$HARNESS/nbd-probe

requires_badserver ()
{
  [ -x "$BADSERVER" ] || skip_all "nbd-badserver not built"
}

requires_mitm ()
{
  [ -x "$MITM" ] || skip_all "nbd-mitm not built"
}

requires_probe ()
{
  [ -x "$PROBE" ] || skip_all "nbd-probe not built"
}

# harness_cmd NAME: the command prefix that runs a harness server,
# under valgrind when HARNESS_VALGRIND=1.
harness_cmd ()
{
  if [ "${HARNESS_VALGRIND:-0}" = 1 ]; then
    echo "${VALGRIND:-valgrind} --quiet --error-exitcode=119 \
      --trace-children=yes --child-silent-after-fork=no \
      --leak-check=full --show-leak-kinds=definite,indirect \
      --errors-for-leak-kinds=definite,indirect \
      --log-file=$tmp/valgrind-$1.%p.log"
  fi
}

# _start_harness_server NAME PROGRAM ARGS...: start PROGRAM in the
# background with --pidfile $tmp/NAME.pid, stderr to $tmp/NAME.log,
# and wait (up to 60 s) until the pidfile and socket $tmp/NAME.sock
# exist.  Sets server_pid, server_sock and server_log.
_start_harness_server ()
{
  name=$1; prog=$2; shift 2
  server_sock=$tmp/$name.sock
  server_log=$tmp/$name.log
  _pidfile=$tmp/$name.pid
  rm -f "$server_sock" "$_pidfile"
  # shellcheck disable=SC2046
  $(harness_cmd "$name") "$prog" --pidfile "$_pidfile" -v "$@" \
    2>"$server_log" >&2 &
  server_pid=$!
  cleanup_pids="$cleanup_pids $server_pid"
  wait_for_server "$name" "$server_pid" "$_pidfile" "$server_sock" "$server_log"
}

# start_badserver NAME ARGS...: nbd-badserver on $tmp/NAME.sock.
# Sets bad_pid, bad_sock, bad_log.
start_badserver ()
{
  _name=$1; shift
  _start_harness_server "$_name" "$BADSERVER" --unix "$tmp/$_name.sock" "$@" ||
    return 1
  bad_pid=$server_pid bad_sock=$server_sock bad_log=$server_log
}

# start_mitm NAME UPSTREAM_SOCK ARGS...: nbd-mitm listening on
# $tmp/NAME.sock, relaying to UPSTREAM_SOCK.  Sets mitm_pid, mitm_sock,
# mitm_log.
start_mitm ()
{
  _name=$1; _up=$2; shift 2
  _start_harness_server "$_name" "$MITM" --listen-unix "$tmp/$_name.sock" \
    --upstream-unix "$_up" "$@" || return 1
  mitm_pid=$server_pid mitm_sock=$server_sock mitm_log=$server_log
}

# stop_server PID: SIGTERM, wait, and return its exit status (0 for a
# clean shutdown).  Under valgrind, prints any valgrind log to stderr.
stop_server ()
{
  kill "$1" 2>/dev/null || :
  wait "$1"
  _st=$?
  cleanup_pids=$(echo "$cleanup_pids" | sed "s/\\b$1\\b//")
  if [ "${HARNESS_VALGRIND:-0}" = 1 ]; then
    for f in "$tmp"/valgrind-*.log; do
      [ -s "$f" ] && { echo "valgrind log $f:" >&2; cat "$f" >&2; _st=119; }
    done
    rm -f "$tmp"/valgrind-*.log
  fi
  return $_st
}

# run_probe OUT ARGS...: run nbd-probe with ARGS, its TAP in OUT.tap
# and stderr in OUT.err (both also copied to our stderr, i.e. the
# test's .log).  Returns nbd-probe's exit status.
run_probe ()
{
  _out=$1; shift
  "$PROBE" --timeout 20 "$@" >"$_out.tap" 2>"$_out.err"
  _st=$?
  {
    echo "--- nbd-probe $* (exit $_st)"
    cat "$_out.tap" "$_out.err"
  } >&2
  return $_st
}

# probe_not_ok FILE: the names of the scenarios FILE reports "not ok",
# one per line, sorted.
probe_not_ok ()
{
  sed -n 's/^not ok [0-9][0-9]* - \([^ ]*\).*/\1/p' "$1" | sort
}

# probe_line FILE NAME: the TAP result line for scenario NAME.
probe_line ()
{
  grep -E "^(not )?ok [0-9]+ - $2( |\$)" "$1" | head -n 1
}

# tap_probe_diag FILE: copy nbd-probe's output into our TAP as comments.
tap_probe_diag ()
{
  sed 's/^/#   /' "$1"
}
