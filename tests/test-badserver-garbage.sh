#!/bin/bash -
# nbd-badserver survives hostile input: random bytes, truncated and
# oversized options, malformed payloads, a broken TLS handshake, bad
# requests.  Every such connection ends with a clean error reply or a
# close (never a hang), a connection that stalls does not hold up
# others, and afterwards the nbd-probe battery still passes, several
# runs at once.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh

requires_psk
requires_badserver
requires_probe
requires perl

tap_plan 22

if ! start_badserver bad --tls=on --tls-psk "$PSK_FILE"; then
  tap_not_ok "nbd-badserver started"
  tap_done
fi

# raw DESC EXPECT_ERE STEP...: run nbd-raw.pl and check its output
# (all lines joined by spaces) against an extended regexp.
raw ()
{
  _d=$1 _re=$2; shift 2
  _out=$(perl "$srcdir/nbd-raw.pl" "$bad_sock" 10 greeting "$@" 2>&1 |
           tr '\n' ' ')
  echo "raw $_d: $_out" | cut -c1-400 >&2
  if echo "$_out" | grep -Eq -- "$_re"; then
    tap_ok "$_d"
  else
    tap_not_ok "$_d"
    tap_diag "expected /$_re/, got: $(echo "$_out" | cut -c1-300)"
  fi
}

ihaveopt=49484156454f5054
repmagic=0003e889045565a9
flags=hex:00000003

# opt NUM PAYLOAD_HEX: an option with the right length field.
opt ()
{
  printf '%s%08x%08x%s' $ihaveopt "$1" $((${#2} / 2)) "$2"
}
# req FLAGS TYPE COOKIE OFFSET LENGTH: a transmission request.
req ()
{
  printf '25609513%04x%04x%016x%016x%08x' "$@"
}
abort=hex:$(opt 2 '')
sr=hex:$(opt 8 '')
go=hex:$(opt 7 000000000000)

# A stalled client (greeting read, then silence) stays connected while
# everything below runs.
perl "$srcdir/nbd-raw.pl" "$bad_sock" 60 greeting read:1 >/dev/null 2>&1 &
stalled=$!
cleanup_pids="$cleanup_pids $stalled"

raw "random bytes instead of client flags: closed" \
  ' eof $' random:4096
raw "unknown client flags: closed" ' eof $' hex:ffffffff
raw "old (non-fixed) newstyle client: closed" ' eof $' hex:00000000
raw "connect and close at once" '^greeting 4e42444d41474943' end
raw "truncated option header then EOF: closed" \
  ' eof $' $flags hex:$ihaveopt shut
raw "truncated option payload then EOF: closed" \
  ' eof $' $flags hex:${ihaveopt}0000000700000100deadbeef shut
raw "option with bad magic: closed" \
  ' eof $' $flags hex:0123456789abcdef0000000300000000
raw "option length 0xffffffff: closed" \
  ' eof $' $flags hex:${ihaveopt}00000003ffffffff
raw "SET_META without SR: ERR_INVALID, then ABORT is answered" \
  "${repmagic}0000000a80000003.*${repmagic}0000000200000001.* eof \$" \
  $flags hex:$(opt 10 0000000000000000) $abort
raw "SET_META query length past the payload: ERR_INVALID" \
  "${repmagic}0000000a80000003.* eof \$" \
  $flags $sr hex:$(opt 10 0000000000000001ffffffff) $abort
raw "LIST_META with a million queries: ERR_TOO_BIG" \
  "${repmagic}0000000980000009.* eof \$" \
  $flags $sr hex:$(opt 9 00000000000f4240) $abort
raw "INFO with a name longer than the payload: ERR_INVALID" \
  "${repmagic}0000000680000003.* eof \$" \
  $flags hex:$(opt 6 000010000000) $abort
raw "LIST with a payload: ERR_INVALID" \
  "${repmagic}0000000380000003.* eof \$" \
  $flags hex:$(opt 3 deadbeef) $abort
raw "300 unknown options: ERR_UNSUP, then closed" \
  "${repmagic}00000fff80000001.* eof \$" \
  $flags "hex:$(for i in $(seq 300); do opt 4095 ''; done)"
# (Plaintext, not random bytes: a random TLS record header can announce
# a long record, and the server would wait for its handshake deadline.)
raw "STARTTLS then plaintext instead of a ClientHello: closed" \
  "read ${repmagic}0000000500000001[0-9a-f]* (rest [0-9a-f]* )?eof \$" \
  $flags hex:$(opt 5 '') read:20 hex:$(opt 3 '')$(opt 1 '')
# GO "" (52 bytes of replies) then transmission garbage.
raw "bad request magic: closed" ' eof $' \
  $flags $go read:52 hex:deadbeef$(req 0 0 1 0 512 | cut -c9-)
raw "WRITE of 4 GiB - 1: closed" ' eof $' \
  $flags $go read:52 hex:$(req 0 1 1 0 4294967295)
raw "READ past the end: EINVAL, then DISC" \
  "rest 6744669800000016000000000000002a eof \$" \
  $flags $go read:52 hex:$(req 0 0 42 $((0x7fffffffffff0000)) 65536) \
  hex:$(req 0 2 43 0 0)
raw "truncated request then EOF: closed" ' eof $' \
  $flags $go read:52 hex:2560951300000007 shut

# The server is still up, and serves several probes at once.
kill -0 "$bad_pid" 2>/dev/null
tap_is "nbd-badserver still running" 0 $?
for i in 1 2 3 4; do
  run_probe "$tmp/after$i" --unix "$bad_sock" --tls-psk "$PSK_FILE" &
done
st=0
for job in $(jobs -p); do
  [ "$job" = "$stalled" ] || [ "$job" = "$bad_pid" ] && continue
  wait "$job" || st=1
done
for i in 1 2 3 4; do
  [ -z "$(probe_not_ok "$tmp/after$i.tap")" ] || st=1
  grep -q '^ok 1 - tls_positive$' "$tmp/after$i.tap" || st=1
done
tap_is "4 concurrent nbd-probe batteries pass after the garbage" 0 "$st"

kill "$stalled" 2>/dev/null; wait "$stalled" 2>/dev/null
stop_server "$bad_pid"
tap_is "nbd-badserver exits cleanly on SIGTERM" 0 $?

tap_done
