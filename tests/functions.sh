# Common shell functions for the tlsguard tests.  Source this file.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
#
# Every test prints TAP on stdout.  Diagnostics and server logs go to
# stderr, which the test driver keeps in the test's .log file.
#
# Environment (set by tests/Makefile.am):
#   NBDKIT, TLSGUARD_FILTER, PKI_DIR, PSK_FILE, NBD_BLOCKSTATUS, HARNESS,
#   TLSGUARD_VALGRIND=1 to run nbdkit under valgrind memcheck.

set -u

: "${NBDKIT:=nbdkit}"

tap_count=0
tap_failed=0

tap_plan ()
{
  echo "1..$1"
}

# skip_all REASON: the whole test is skipped (only for a missing peer).
skip_all ()
{
  echo "1..0 # SKIP $*"
  exit 0
}

tap_ok ()
{
  tap_count=$((tap_count + 1))
  echo "ok $tap_count - $*"
}

tap_not_ok ()
{
  tap_count=$((tap_count + 1))
  tap_failed=$((tap_failed + 1))
  echo "not ok $tap_count - $*"
}

# tap_diag TEXT...: a TAP comment, each line prefixed with '# '.
tap_diag ()
{
  printf '%s\n' "$@" | sed 's/^/# /'
}

# tap_is DESC EXPECTED ACTUAL: exact comparison of two (multi-line)
# strings.  On a mismatch, prints both.
tap_is ()
{
  if [ "$2" = "$3" ]; then
    tap_ok "$1"
  else
    tap_not_ok "$1"
    tap_diag "expected:" "$2" "got:" "$3"
  fi
}

# tap_grep DESC PATTERN FILE: FILE has a line matching the ERE.
tap_grep ()
{
  if grep -Eq -- "$2" "$3"; then
    tap_ok "$1"
  else
    tap_not_ok "$1"
    tap_diag "no line matching: $2" "in $3:"
    tail -n 20 "$3" | sed 's/^/#   /'
  fi
}

# tap_nogrep DESC PATTERN FILE: no line of FILE matches the ERE.
tap_nogrep ()
{
  if grep -Eq -- "$2" "$3"; then
    tap_not_ok "$1"
    tap_diag "unexpected line matching: $2" "in $3:"
    grep -E -- "$2" "$3" | head -n 5 | sed 's/^/#   /'
  else
    tap_ok "$1"
  fi
}

# tap_done: exit with the right status (the plan comes first).
tap_done ()
{
  [ "$tap_failed" -eq 0 ]
  exit $?
}

requires ()
{
  command -v "$1" >/dev/null 2>&1 || skip_all "$1 not found"
}

# The built filter must match the installed nbdkit exactly.
requires_nbdkit_version ()
{
  requires "$NBDKIT"
  if [ -n "${NBDKIT_PC_VERSION:-}" ]; then
    v=$("$NBDKIT" --version | awk '{print $2}')
    [ "$v" = "$NBDKIT_PC_VERSION" ] ||
      skip_all "nbdkit $v is not the $NBDKIT_PC_VERSION the filter was built for"
  fi
}

requires_psk ()
{
  [ -s "$PSK_FILE" ] || skip_all "no PSK file (psktool missing)"
}

requires_x509 ()
{
  [ -f "$PKI_DIR/ca-cert.pem" ] || skip_all "no test PKI (certtool missing)"
}

# A private temporary directory, removed at exit.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tlsguard.XXXXXX")

# With --enable-sanitizers the filter needs the ASan and UBSan runtimes,
# which nbdkit (not instrumented) does not link: every nbdkit these
# tests run goes through a wrapper that preloads them (programs nbdkit
# starts with --run inherit the preload, which is harmless).
if [ -n "${SANITIZER_PRELOAD:-}" ] && [ -z "${TLSGUARD_NBDKIT_WRAPPED:-}" ]; then
  cat >"$tmp/nbdkit" <<EOT
#!/bin/sh
export LD_PRELOAD="${SANITIZER_PRELOAD// /:}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:exitcode=119"
exec "$NBDKIT" "\$@"
EOT
  chmod +x "$tmp/nbdkit"
  NBDKIT=$tmp/nbdkit
  export TLSGUARD_NBDKIT_WRAPPED=1
fi
cleanup_pids=""
cleanup_fns=""

# cleanup_fn CMD [ARGS...]: run CMD with its arguments at exit (each
# registered command on a line of its own, run in order).
cleanup_fn ()
{
  cleanup_fns="$cleanup_fns$(printf '%q ' "$@")
"
}

_cleanup ()
{
  status=$?
  while IFS= read -r _cmd; do
    [ -n "$_cmd" ] && { eval "$_cmd" || :; }
  done <<<"$cleanup_fns"
  for pid in $cleanup_pids; do
    kill "$pid" 2>/dev/null || :
  done
  for pid in $cleanup_pids; do
    wait "$pid" 2>/dev/null || :
  done
  rm -rf "$tmp"
  exit $status
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# nbdkit_cmd: the command prefix that runs nbdkit, under valgrind when
# TLSGUARD_VALGRIND=1 (make check-valgrind), and with the ASan/UBSan
# runtimes preloaded when the filter was built with --enable-sanitizers
# (nbdkit itself is not instrumented, so the runtimes must be loaded
# before it dlopens the filter).
nbdkit_cmd ()
{
  if [ "${TLSGUARD_VALGRIND:-0}" = 1 ]; then
    echo "env NBDKIT_VALGRIND=1 ${VALGRIND:-valgrind} --quiet --error-exitcode=119 \
      --leak-check=full --show-leak-kinds=definite,indirect \
      --errors-for-leak-kinds=definite,indirect \
      --suppressions=${top_srcdir:-..}/tests/valgrind.supp \
      --keep-debuginfo=yes --log-file=$tmp/valgrind.%p.log $NBDKIT"
  else
    echo "$NBDKIT"
  fi
}

# start_nbdkit NAME ARGS...: start nbdkit in the background on the
# Unix socket $tmp/NAME.sock, log to $tmp/NAME.log, and wait for its
# pidfile.  Sets nbdkit_pid and sock.  nbdkit runs with -v unless the
# caller sets nbdkit_v= (empty), for a log of error lines only.
start_nbdkit ()
{
  name=$1; shift
  sock=$tmp/$name.sock
  pidfile=$tmp/$name.pid
  log=$tmp/$name.log
  rm -f "$sock" "$pidfile"
  # shellcheck disable=SC2046
  $(nbdkit_cmd) -f ${nbdkit_v--v} -P "$pidfile" -U "$sock" "$@" 2>"$log" >&2 &
  nbdkit_pid=$!
  cleanup_pids="$cleanup_pids $nbdkit_pid"
  wait_for_server "nbdkit $name" "$nbdkit_pid" "$pidfile" "$sock" "$log" ||
    return 1
  nbdkit_threads[$nbdkit_pid]=$(ls "/proc/$nbdkit_pid/task" | wc -l)
}

# Threads of each nbdkit once it was ready, before any client.
declare -A nbdkit_threads

# wait_for_server WHAT PID PIDFILE SOCKET LOG: wait up to 60 s for a
# server we started to write its pidfile and create its socket.  If it
# exits first, print its log and fail.
wait_for_server ()
{
  _i=0
  while [ ! -s "$3" ] || [ ! -S "$4" ]; do
    if ! kill -0 "$2" 2>/dev/null; then
      echo "$1 exited early; log:" >&2
      cat "$5" >&2
      return 1
    fi
    _i=$((_i + 1))
    if [ $_i -ge 600 ]; then
      echo "$1 did not start within 60 s" >&2
      return 1
    fi
    sleep 0.1
  done
}

# stop_nbdkit PID: SIGTERM, wait, and return nbdkit's exit status.
# Under valgrind a memcheck error or leak shows as status 119.
stop_nbdkit ()
{
  # nbdkit does not wait for its (detached) connection threads when it
  # exits, so a SIGTERM right after a client disconnected can catch a
  # connection still tearing down, and memcheck/LeakSanitizer would
  # report nbdkit's half-freed connection.  Wait (up to 10 s) until the
  # thread count is back to what it was before any client connected.
  _i=0
  while [ -n "${nbdkit_threads[$1]:-}" ] && [ -d "/proc/$1/task" ] &&
        [ "$(ls "/proc/$1/task" 2>/dev/null | wc -l)" -gt "${nbdkit_threads[$1]}" ] &&
        [ $_i -lt 100 ]; do
    sleep 0.1
    _i=$((_i + 1))
  done
  kill "$1" 2>/dev/null || :
  wait "$1"
  st=$?
  cleanup_pids=$(echo "$cleanup_pids" | sed "s/\\b$1\\b//")
  if [ "${TLSGUARD_VALGRIND:-0}" = 1 ]; then
    for f in "$tmp"/valgrind.*.log; do
      [ -s "$f" ] && { echo "valgrind log $f:" >&2; cat "$f" >&2; }
    done
    rm -f "$tmp"/valgrind.*.log
  fi
  return $st
}

# Server TLS arguments.
psk_server_args ()  { echo "--tls-psk=$PSK_FILE"; }
x509_server_args () { echo "--tls-certificates=$PKI_DIR"; }
# Client (nbd-blockstatus) TLS arguments.
psk_client_args ()  { echo "--tls-psk $PSK_FILE --tls-username qemu"; }
x509_client_args () { echo "--tls-certs $PKI_DIR"; }
