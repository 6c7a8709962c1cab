#!/bin/bash -
# nbdkit -s: the connection is stdin/stdout.  On pipes the peer is
# "stdin/stdout" and nbdkit logs no "peername: Socket operation on
# non-socket" error (nbdkit_peer_name would); on a socketpair
# (libnbd's nbd_connect_command) the peer is the socket's.  Either
# way, 1,000 refused requests make one refusal line and one count.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh
requires_nbdkit_version
py=/usr/bin/python3
[ -x "$py" ] || skip_all "no /usr/bin/python3"
"$py" -c 'import nbd' 2>/dev/null || skip_all "no python3-libnbd"
names=("$py" "$srcdir/nbd-names.py")

tap_plan 11

nbdkit=$(nbdkit_cmd)
filter="--filter=$TLSGUARD_FILTER"

# Pipes.
out=$("${names[@]}" --cmd "$nbdkit -s $filter memory 1M tlsguard-audit=$tmp/pipes.jsonl 2>$tmp/pipes.err" \
        sr meta: go: bs:1000:4096 2>&1)
tap_is "pipes: 1,000 requests refused" \
  "sr ok
meta ok 1
go ok
bs 1000 ok=0 err=1000 errno=22" "$out"
sed 's/^/# /' "$tmp/pipes.err"
tap_nogrep "pipes: no peername error" 'peername' "$tmp/pipes.err"
tap_is "pipes: exactly 2 error lines, both tlsguard's" "2 2" \
  "$(grep -c 'error:' "$tmp/pipes.err") $(grep -c 'error: tlsguard:' "$tmp/pipes.err")"
tap_grep "pipes: the refusal names stdin/stdout" \
  '^nbdkit: memory\.[0-9]+: error: tlsguard: refused block status on export "" for stdin/stdout: export was negotiated without TLS \(tlsguard-extents=deny\)$' \
  "$tmp/pipes.err"
tap_grep "pipes: the count line names stdin/stdout" \
  '^nbdkit: memory: error: tlsguard: refused 1000 block status requests on export "" for stdin/stdout \(tlsguard-extents=deny\)$' \
  "$tmp/pipes.err"
tap_is "pipes: audit records (open, close) say stdin/stdout, with no uid" "2 0" \
  "$(grep -c '"peer":"stdin/stdout",' "$tmp/pipes.jsonl") $(grep -c '"uid"' "$tmp/pipes.jsonl")"

# A socketpair, from libnbd.
"$py" -c "
import nbd
h = nbd.NBD()
h.add_meta_context('base:allocation')
h.connect_command(['sh', '-c', 'exec $nbdkit -s $filter memory 1M 2>$tmp/pair.err'])
n = 0
for i in range(1000):
    try:
        h.block_status(4096, 0, lambda *a: 0)
    except nbd.Error as e:
        n += e.errnum == 22
print('refused', n)
" >"$tmp/pair.out" 2>&1
tap_is "socketpair: 1,000 requests refused (EINVAL)" "refused 1000" "$(cat "$tmp/pair.out")"
# nbdkit exits when libnbd closes the socket; its close line follows.
_i=0
while [ "$(grep -c 'error: tlsguard:' "$tmp/pair.err")" -lt 2 ] && [ $_i -lt 50 ]; do
  sleep 0.1; _i=$((_i + 1))
done
sed 's/^/# /' "$tmp/pair.err"
tap_nogrep "socketpair: no peername error" 'peername' "$tmp/pair.err"
tap_is "socketpair: exactly 2 error lines, both tlsguard's" "2 2" \
  "$(grep -c 'error:' "$tmp/pair.err") $(grep -c 'error: tlsguard:' "$tmp/pair.err")"
tap_grep "socketpair: the refusal names the socket's peer" \
  '^nbdkit: memory\.[0-9]+: error: tlsguard: refused block status on export "" for stdin/stdout: unix socket \(pid [0-9]+, uid [0-9]+\): export' \
  "$tmp/pair.err"
tap_grep "socketpair: the count line too" \
  'error: tlsguard: refused 1000 block status requests on export "" for stdin/stdout: unix socket \(pid [0-9]+, uid [0-9]+\) \(tlsguard-extents=deny\)$' \
  "$tmp/pair.err"

tap_done
