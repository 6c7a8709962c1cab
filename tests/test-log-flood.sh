#!/bin/bash -
# Logs are bounded per handle: 1,000 block status requests on one
# plaintext handle make exactly two tlsguard lines under each policy,
# the first when the handle is first refused (hidden, allowed), the
# second at close with the count.  The requests in between make no
# syscall: under strace, 1,000 and 3,000 refused requests write the
# same number of times to stderr, and the peer is looked up once per
# connection.  Under hide the filter's all-data answer has the same
# bytes on the wire as nbdkit's core answer (noextents).
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh
requires_nbdkit_version
py=/usr/bin/python3
[ -x "$py" ] || skip_all "no /usr/bin/python3"
requires strace
names=("$py" "$srcdir/nbd-names.py")

tap_plan 20

filter="--filter=$TLSGUARD_FILTER"
peer_re='unix socket \(pid [0-9]+, uid [0-9]+\)'
nbdkit_v=                       # error lines only

declare -A answer first_re count_re
answer[deny]="bs 1000 ok=0 err=1000 errno=22"
answer[hide]="bs 1000 ok=1000 err=0 first=0:4096:0"
answer[allow]="bs 1000 ok=1000 err=0 first=0:32768:0"
first_re[deny]="^nbdkit: data\.[0-9]+: error: tlsguard: refused block status on export \"flood\" for $peer_re: export was negotiated without TLS \(tlsguard-extents=deny\)$"
count_re[deny]="^nbdkit: data\[[0-9]+\]: error: tlsguard: refused 1000 block status requests on export \"flood\" for $peer_re \(tlsguard-extents=deny\)$"
first_re[hide]="^nbdkit: data\.[0-9]+: error: tlsguard: answering block status on export \"flood\" for $peer_re with all data: export was negotiated without TLS \(tlsguard-extents=hide\)$"
count_re[hide]="^nbdkit: data\[[0-9]+\]: error: tlsguard: answered 1000 block status requests on export \"flood\" for $peer_re with all data \(tlsguard-extents=hide\)$"
first_re[allow]="^nbdkit: data\.[0-9]+: error: tlsguard: allowing block status on export \"flood\" for $peer_re although it was negotiated without TLS \(tlsguard-extents=allow\)$"
count_re[allow]="^nbdkit: data\[[0-9]+\]: error: tlsguard: allowed 1000 block status requests on export \"flood\" for $peer_re although it was negotiated without TLS \(tlsguard-extents=allow\)$"

flood=$(printf flood | od -An -tx1 | tr -d ' \n')

# wait_for_lines N LOG: the close line comes when nbdkit closes the
# handle, just after the client has gone.
wait_for_lines ()
{
  _i=0
  while [ "$(grep -c 'error: tlsguard:' "$2")" -lt "$1" ] && [ $_i -lt 100 ]; do
    sleep 0.1; _i=$((_i + 1))
  done
}

for policy in deny hide allow; do
  # A 1 MiB disk with 32 KiB of data at the start, so that allow
  # shows the plugin's map.
  start_nbdkit "$policy" "$filter" data "(0x55)*32768" size=1M \
    tlsguard-extents=$policy
  out=$("${names[@]}" --unix "$sock" sr "meta:$flood" "go:$flood" bs:1000:4096 2>&1)
  tap_is "$policy: 1,000 pipelined requests on one handle, answered per policy" \
    "sr ok
meta ok 1
go ok
${answer[$policy]}" "$out"
  wait_for_lines 2 "$log"
  stop_server "$nbdkit_pid"
  tap_is "$policy: nbdkit exit status" 0 "$?"
  grep 'tlsguard' "$log" >"$tmp/$policy.lines"
  sed 's/^/# /' "$tmp/$policy.lines"
  tap_is "$policy: exactly 2 tlsguard log lines" 2 "$(wc -l <"$tmp/$policy.lines")"
  tap_grep "$policy: the first says what the filter did, once" \
    "${first_re[$policy]}" "$tmp/$policy.lines"
  tap_grep "$policy: the second carries the count, 1000" \
    "${count_re[$policy]}" "$tmp/$policy.lines"
done

# No syscall per request after the first: the same number of writes
# to stderr for 1,000 and for 3,000 refused requests, and one peer
# lookup (getpeername) per connection, whatever the requests.
for n in 1000 3000; do
  NBDKIT="strace -f -qq -o $tmp/strace.$n -e trace=write,getpeername -e signal=none $NBDKIT" \
    start_nbdkit "strace$n" "$filter" memory 1M
  out=$("${names[@]}" --unix "$sock" sr "meta:$flood" "go:$flood" "bs:$n:4096" 2>&1)
  wait_for_lines 2 "$log"
  kill "$(cat "$pidfile")"
  wait "$nbdkit_pid"
  cleanup_pids=$(echo "$cleanup_pids" | sed "s/\\b$nbdkit_pid\\b//")
  writes[$n]=$(grep -Ec '^[0-9]+ +write\(2,' "$tmp/strace.$n")
  peername[$n]=$(grep -Ec '^[0-9]+ +getpeername\(' "$tmp/strace.$n")
  lines[$n]=$(grep -c 'error: tlsguard:' "$log")
done
tap_diag "writes to stderr: ${writes[1000]} (1,000 requests), ${writes[3000]} (3,000 requests)"
tap_is "deny: 2 lines each for 1,000 and 3,000 requests" "2 2" \
  "${lines[1000]} ${lines[3000]}"
tap_is "deny: as many writes to stderr for 3,000 requests as for 1,000" \
  "${writes[1000]}" "${writes[3000]}"
tap_is "deny: getpeername once per connection (1,000 and 3,000 requests)" \
  "1 1" "${peername[1000]} ${peername[3000]}"

# hide: the filter's all-data reply against nbdkit's core's (noextents
# makes the core answer), byte for byte, for ranges with and without
# NBD_CMD_FLAG_REQ_ONE, at the start, in the middle and at the end.
steps=(sr "meta:$flood" "go:$flood" raw:0:4096:0 raw:4096:65536:8
       raw:1048064:512:0 raw:0:1048576:0 raw:12345:1000:8)
start_nbdkit hidewire "$filter" memory 1M tlsguard-extents=hide
hide_raw=$("${names[@]}" --unix "$sock" "${steps[@]}" 2>&1)
stop_server "$nbdkit_pid"
start_nbdkit corewire --filter=noextents memory 1M
core_raw=$("${names[@]}" --unix "$sock" "${steps[@]}" 2>&1)
stop_server "$nbdkit_pid"
tap_diag "$hide_raw"
tap_is "hide: 5 block status replies byte for byte the same as nbdkit's core's" \
  "$core_raw" "$hide_raw"
tap_is "hide: the replies are block status chunks (not errors)" 5 \
  "$(printf '%s\n' "$hide_raw" | grep -c '^raw 668e33ef0001000500')"

tap_done
