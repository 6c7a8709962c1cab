#!/bin/bash -
# The shell library (functions.sh) itself: cleanup_fn runs each
# command with its arguments at exit, in order; one start/wait/stop
# mechanism for a server by pidfile (a child and a daemon); the
# lookups in the table of expected results (tests/expected.pl).
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh

requires perl

tap_plan 14

# child SCRIPT: run SCRIPT in a new bash that sources functions.sh;
# its stdout and stderr in $tmp/child.out, its exit status returned.
child ()
{
  bash -c ". ./functions.sh; $1" >"$tmp/child.out" 2>&1
}

# --- cleanup_fn ------------------------------------------------------------

: >"$tmp/victim"
mkdir "$tmp/dir"
child "cleanup_fn rm -f '$tmp/victim'
cleanup_fn touch '$tmp/dir/a file'
cleanup_fn sh -c 'printf \"%s|%s\\n\" \"\$1\" \"\$2\" >>\"\$3\"' sh one 'two words' '$tmp/order'
cleanup_fn sh -c 'echo last >>\"\$1\"' sh '$tmp/order'
exit 3"
st=$?
tap_is "cleanup_fn: the test's exit status is kept" 3 "$st"
if [ ! -e "$tmp/victim" ]; then
  tap_ok "cleanup_fn rm -f FILE runs rm -f FILE"
else
  tap_not_ok "cleanup_fn rm -f FILE runs rm -f FILE"
  tap_diag "$(cat "$tmp/child.out")"
fi
tap_is "cleanup_fn touch 'a file': one argument with a space" \
  "a file" "$(ls "$tmp/dir")"
tap_is "cleanup_fn: every argument passed, commands run in order" \
  "one|two words
last" "$(cat "$tmp/order" 2>/dev/null)"

# A failing command does not stop the others, nor the removal of $tmp.
child "echo \"\$tmp\" >'$tmp/childtmp'
cleanup_fn false
cleanup_fn touch '$tmp/after-false'
exit 0"
if [ -e "$tmp/after-false" ] && [ ! -d "$(cat "$tmp/childtmp")" ]; then
  tap_ok "cleanup_fn: a failing command, then the next one runs and \$tmp goes"
else
  tap_not_ok "cleanup_fn: a failing command, then the next one runs and \$tmp goes"
fi

# --- start_server / stop_server ------------------------------------------

# A Unix-socket server that writes its pidfile once it listens, and
# exits 0 on SIGTERM.  With --daemon it forks and the parent exits.
cat >"$tmp/server.pl" <<'EOF'
use strict; use IO::Socket::UNIX; use POSIX ();
my ($daemon, $sock, $pidfile) = @ARGV;
if ($daemon eq 'fork') { exit 0 if fork; POSIX::setsid (); }
if ($daemon eq 'fail') { print STDERR "server: cannot start\n"; exit 2; }
my $l = IO::Socket::UNIX->new (Type => SOCK_STREAM (), Local => $sock,
                               Listen => 5) or die "listen: $!";
$SIG{TERM} = sub { unlink $sock; exit 0 };
open my $fh, '>', $pidfile or die; print $fh "$$\n"; close $fh;
while (my $c = $l->accept) { close $c }
EOF

if start_server plain perl "$tmp/server.pl" - "$tmp/plain.sock" "$tmp/plain.pid"
then
  tap_is "start_server: the pidfile holds the PID, the socket is there" \
    "$server_pid yes" "$(cat "$tmp/plain.pid") $([ -S "$server_sock" ] && echo yes)"
  pid=$server_pid
  stop_server "$pid"
  tap_is "stop_server: exit status 0 on SIGTERM" 0 "$?"
  if kill -0 "$pid" 2>/dev/null; then
    tap_not_ok "stop_server: the server has gone"
  else
    tap_ok "stop_server: the server has gone"
  fi
else
  for i in 1 2 3; do tap_not_ok "start_server: a child server started"; done
fi

if start_server early perl "$tmp/server.pl" fail "$tmp/early.sock" \
     "$tmp/early.pid" 2>"$tmp/early.err"; then
  tap_not_ok "start_server: a server that exits at once is a failure"
else
  tap_grep "start_server: a server that exits at once is a failure, with its log" \
    'early exited early; log:|server: cannot start' "$tmp/early.err"
fi

if start_server --daemon --connect daemon perl "$tmp/server.pl" fork \
     "$tmp/daemon.sock" "$tmp/daemon.pid"; then
  pid=$server_pid
  tap_is "start_server --daemon: the PID is the daemon's, from its pidfile" \
    "$(cat "$tmp/daemon.pid")" "$pid"
  stop_server "$pid"
  st=$?
  if [ "$st" = 0 ] && ! kill -0 "$pid" 2>/dev/null; then
    tap_ok "stop_server: a daemon is stopped by its PID"
  else
    tap_not_ok "stop_server: a daemon is stopped by its PID (status $st)"
  fi
else
  for i in 1 2; do tap_not_ok "start_server --daemon: the daemon started"; done
fi

# --- the table of expected results --------------------------------------

printf '#!/bin/sh\necho "nbdkit 1.40.2"\n' >"$tmp/nbdkit-1.40"
chmod +x "$tmp/nbdkit-1.40"
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
  c-special scn nbdkit '*' special ok 'the first row that matches wins' \
  'c-*' scn nbdkit '<1.40' old 'FAIL K9' 'before 1.40' \
  'c-*' scn nbdkit '>=1.40' new - 'from 1.40' \
  'c-*' mode nbdkit '*' FORCEDTLS - - \
  'c-*' other nbdkit '*' not-ok 'n/a X' 'it fails' \
  'c-*' observed:other nbdkit '*' 'what it saw' - - >"$tmp/table.tsv"
expected_table=$tmp/table.tsv
tap_is "expected_result: config globs, the first match, versions compared as numbers" \
  "special|new|old" \
  "$(expected_result c-special scn)|$(NBDKIT=$tmp/nbdkit-1.40 expected_result c-x scn)|$(
     NBDKIT=$tmp/nbdkit-1.40 expected_result c-x scn >/dev/null
     printf '#!/bin/sh\necho "nbdkit 1.9.1"\n' >"$tmp/nbdkit-1.9"
     chmod +x "$tmp/nbdkit-1.9"; NBDKIT=$tmp/nbdkit-1.9 expected_result c-x scn)"
tap_is "expected_result: no row is no-expectation (and a line on stderr)" \
  "no-expectation|1" \
  "$(expected_result d-x scn 2>"$tmp/norow.err")|$(grep -c 'no row' "$tmp/norow.err")"
tap_is "expected_summary, expected_verdicts, expected_failures" \
  "server mode: FORCEDTLS
scn old
other not-ok
observed other: what it saw
mode FORCEDTLS
scn FAIL K9
other n/a X
other" \
  "$(export NBDKIT=$tmp/nbdkit-1.9
     expected_summary c-x scn other; expected_verdicts c-x scn other
     expected_failures c-x scn other)"

tap_done
