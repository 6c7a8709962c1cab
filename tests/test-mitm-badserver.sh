#!/bin/bash -
# Negative control for the man-in-the-middle tests: nbd-mitm in front
# of nbd-badserver.  Against the compliant server the client's
# BLOCK_STATUS is refused, as with nbdkit; against --defect keep-meta
# the attack works: the client receives extents for contexts set in
# plaintext by the mitm (with --inject-context tlsguard:test, extents of
# a context it never asked for, which it takes for base:allocation).
# With another --inject-export, the server's own export-name check
# hides the defect; adding --defect ignore-export-mismatch shows that
# this check alone was what stopped it.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh

requires_psk
requires_badserver
requires_mitm
requires_probe
requires perl
[ -n "${NBDINFO:-}" ] && [ -x "$NBDINFO" ] || skip_all "nbdinfo not found"

tap_plan 29

alloc_map="         0       65536    0  data
     65536       65536    3  hole,zero
    131072       65536    0  data
    196608      851968    3  hole,zero"
test_map="         0      262144   16
    262144      262144   32
    524288      262144   48
    786432      262144   64"

# map NAME: nbdinfo --map through the current mitm; sets map_st and
# map_out, stderr in $tmp/NAME.err.
map ()
{
  map_out=$("$NBDINFO" --map \
    "nbds+unix://qemu@/?socket=$mitm_sock&tls-psk-file=$PSK_FILE" \
    2>"$tmp/$1.err")
  map_st=$?
  { echo "nbdinfo --map ($1): status $map_st"; echo "$map_out";
    cat "$tmp/$1.err"; } >&2
}

# refused NAME DESC: nbdinfo --map fails with Invalid argument, and
# nbd-probe's tls_positive fails with EINVAL.
refused ()
{
  map "$1"
  if [ "$map_st" -ne 0 ] && [ -z "$map_out" ] &&
       grep -q 'block-status: command failed: Invalid argument' "$tmp/$1.err"
  then
    tap_ok "$2: nbdinfo --map fails with Invalid argument"
  else
    tap_not_ok "$2: nbdinfo --map fails with Invalid argument"
    tap_diag "status $map_st" "$map_out" "$(cat "$tmp/$1.err")"
  fi
  run_probe "$tmp/$1" --unix "$mitm_sock" --tls-psk "$PSK_FILE" \
    --scenario tls_positive
  if [ $? -ne 0 ] &&
       grep -Eq '^# tls_positive.scn:[0-9]+: expect extents: NBD_CMD_BLOCK_STATUS failed with EINVAL' "$tmp/$1.tap"
  then
    tap_ok "$2: nbd-probe tls_positive fails with EINVAL"
  else
    tap_not_ok "$2: nbd-probe tls_positive fails with EINVAL"
    tap_probe_diag "$tmp/$1.tap"
  fi
}

# attacked NAME DESC EXPECTED-MAP: the attack works.
attacked ()
{
  map "$1"
  tap_is "$2: nbdinfo --map succeeds" 0 "$map_st"
  tap_is "$2: nbdinfo --map output" "$3" "$map_out"
  run_probe "$tmp/$1" --unix "$mitm_sock" --tls-psk "$PSK_FILE" \
    --scenario tls_positive
  tap_is "$2: nbd-probe tls_positive passes (the client got extents)" 0 $?
}

# 1. Compliant server: refused, like nbdkit.
start_badserver good --tls=on --tls-psk "$PSK_FILE"
good_sock=$bad_sock good_pid=$bad_pid
start_mitm m-good "$good_sock" --tls-psk "$PSK_FILE"
refused good "compliant server"
tap_grep "compliant server: badserver refused for lack of a context" \
  'error EINVAL: no metadata context was negotiated' "$bad_log"

# Hostile clients get a clean error or close from the mitm, which
# keeps serving.
rawm ()
{
  _out=$(perl "$srcdir/nbd-raw.pl" "$mitm_sock" 10 greeting "$@" 2>&1 |
           tr '\n' ' ')
  echo "raw: $_out" | cut -c1-300 >&2
  echo "$_out"
}
repmagic=0003e889045565a9
tap_is "mitm: random bytes instead of client flags: closed" \
  "greeting 4e42444d4147494349484156454f50540003 eof " \
  "$(rawm random:4096)"
tap_is "mitm: STARTTLS with a payload: ERR_INVALID, ABORT relayed" \
  "greeting 4e42444d4147494349484156454f50540003 read ${repmagic}000000058000000300000000 rest ${repmagic}000000020000000100000000 eof " \
  "$(rawm hex:00000003 hex:49484156454f50540000000500000004deadbeef read:20 \
       hex:49484156454f50540000000200000000)"
tap_is "mitm: truncated option then EOF: closed" \
  "greeting 4e42444d4147494349484156454f50540003 eof " \
  "$(rawm hex:00000003 hex:49484156454f5054000000 shut)"
kill -0 "$mitm_pid"
tap_is "mitm: still running" 0 $?
stop_server "$mitm_pid"
tap_is "compliant server: nbd-mitm exits cleanly" 0 $?
stop_server "$good_pid"

# An unreachable server: the client is disconnected at once.
start_mitm m-none "$tmp/nonexistent.sock" --tls-psk "$PSK_FILE"
tap_is "mitm: unreachable server: client disconnected" "greeting  eof " \
  "$(rawm)"
tap_grep "mitm: unreachable server: logged" \
  'cannot connect to the server .*nonexistent.sock' "$mitm_log"
stop_server "$mitm_pid"

# 2. keep-meta, the client's own export: the attack works.
start_badserver keep --tls=on --tls-psk "$PSK_FILE" --defect keep-meta
keep_sock=$bad_sock keep_pid=$bad_pid keep_log=$bad_log
start_mitm m-same "$keep_sock" --tls-psk "$PSK_FILE"
attacked same "keep-meta, same export, base:allocation injected" "$alloc_map"
tap_grep "keep-meta: the server kept the plaintext context" \
  'defect keep-meta: keeping 1 metadata context\(s\) for export "" across STARTTLS' \
  "$keep_log"
stop_server "$mitm_pid"

# 3. keep-meta, another context injected: the client asked for
# base:allocation and gets tlsguard:test's extents under that name.
start_mitm m-ctx "$keep_sock" --tls-psk "$PSK_FILE" \
  --inject-context tlsguard:test
attacked ctx "keep-meta, same export, tlsguard:test injected" "$test_map"
tap_grep "keep-meta, tlsguard:test injected: the mitm relabelled the context" \
  'NBD_REP_META_CONTEXT id [0-9]+ "base:allocation" \(really tlsguard:test\)' \
  "$mitm_log"
tap_grep "keep-meta, tlsguard:test injected: the server sent tlsguard:test extents" \
  'block status: context [0-9]+ \(tlsguard:test\)' "$keep_log"
stop_server "$mitm_pid"

# 4. keep-meta, another export injected: the server's export-name check
# (SET_META_CONTEXT "other", GO "") refuses.
start_mitm m-other "$keep_sock" --tls-psk "$PSK_FILE" --inject-export other
refused other "keep-meta, other export"
tap_grep "keep-meta, other export: refused by the export-name check" \
  'error EINVAL: metadata contexts were negotiated for another export' \
  "$keep_log"
stop_server "$mitm_pid"
stop_server "$keep_pid"
tap_is "keep-meta server exits cleanly" 0 $?

# 5. keep-meta + ignore-export-mismatch, another export: works again.
start_badserver both --tls=on --tls-psk "$PSK_FILE" --defect keep-meta \
  --defect ignore-export-mismatch
start_mitm m-both "$bad_sock" --tls-psk "$PSK_FILE" --inject-export other
attacked both "keep-meta + ignore-export-mismatch, other export" "$alloc_map"
tap_grep "keep-meta + ignore-export-mismatch: served across exports" \
  'defect ignore-export-mismatch: serving block status for export "" with contexts set for export "other"' \
  "$bad_log"
stop_server "$mitm_pid"
tap_is "nbd-mitm exits cleanly" 0 $?
stop_server "$bad_pid"
tap_is "keep-meta + ignore-export-mismatch server exits cleanly" 0 $?

tap_done
