#!/bin/bash -
# A hostile export name (a newline and a forged "nbdkit: memory.0:
# error: tlsguard: allowing ... for 10.0.0.1" line, ESC and OSC
# sequences, a quote, a backslash, invalid UTF-8, valid UTF-8, CR, TAB,
# DEL, padded to 4096 bytes, nbdkit's maximum) forges no log line,
# leaves no raw control byte in the log, is cut at 256 bytes with its
# length, and comes back byte for byte from the audit file.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh
requires_nbdkit_version
py=/usr/bin/python3
[ -x "$py" ] || skip_all "no /usr/bin/python3"
names=("$py" "$srcdir/nbd-names.py")

tap_plan 14

# The name, and what its log form must be (computed here, not by the
# filter's code).
"$py" - "$tmp" <<'EOF'
import sys
d = sys.argv[1]
name = (b'x\nnbdkit: memory.0: error: tlsguard: allowing block status on '
        b'export "" for 10.0.0.1 although it was negotiated without TLS '
        b'(tlsguard-extents=allow)\n'
        b'\x1b[2J\x1b]0;owned\x07"\\' b'\xff\xfe\xc0\xaf\xed\xa0\x80' +
        'é€😀'.encode() + b'\r\t\x7f')
name += b'A' * (4096 - len(name))
open(d + '/hostile.name', 'wb').write(name)
open(d + '/toolong.name', 'wb').write(b'B' * 4097)
def esc(b):
    return ''.join(chr(c) if 0x20 <= c <= 0x7e and c not in b'"\\'
                   else '\\x%02x' % c for c in b)
open(d + '/hostile.log', 'w').write('"' + esc(name[:256]) + '"... (4096 bytes)')
EOF
quoted=$(cat "$tmp/hostile.log")
tap_diag "log form: $quoted"

nbdkit_v=                       # error lines only: nbdkit's own -v
                                # debug lines print names raw
audit=$tmp/audit.jsonl
start_nbdkit inj --filter="$TLSGUARD_FILTER" memory 1M "tlsguard-audit=$audit"
out=$("${names[@]}" --unix "$sock" "info:@$tmp/hostile.name" sr \
        "meta:@$tmp/hostile.name" "go:@$tmp/hostile.name" bs:3:4096 2>&1)
tap_is "the hostile name is accepted (INFO, SET_META, GO) and block status refused" \
  "info ok
sr ok
meta ok 1
go ok
bs 3 ok=0 err=3 errno=22" "$out"
out=$("${names[@]}" --unix "$sock" "info:@$tmp/toolong.name" 2>&1)
tap_is "4097 bytes: nbdkit's core refuses the name (NBD_REP_ERR_INVALID)" \
  "info error 0x80000003" "$out"
_i=0
while [ "$(grep -c 'error: tlsguard:' "$log")" -lt 2 ] && [ $_i -lt 100 ]; do
  sleep 0.1; _i=$((_i + 1))
done
stop_server "$nbdkit_pid"
tap_is "nbdkit exit status" 0 "$?"
sed 's/^/# /' "$log" | cut -c1-300

# The log.
tap_is "no byte outside printable ASCII in the log (but newlines)" 0 \
  "$(LC_ALL=C grep -c '[^ -~]' "$log")"
tap_is "every log line is nbdkit's" 0 "$(grep -vc '^nbdkit: ' "$log")"
tap_nogrep "no forged tlsguard line" \
  '^nbdkit: memory\.0: error: tlsguard: allowing' "$log"
# The log form has no raw quote inside, so the name ends at the first
# quote after 'export "'; outside it, no forged text.
tap_is "the forged text stays inside the quoted name" 0 \
  "$(sed 's/export "[^"]*"//' "$log" | grep -c '10\.0\.0\.1')"
tap_is "exactly 2 tlsguard lines (the GO handle's refusal and count)" 2 \
  "$(grep -c 'error: tlsguard:' "$log")"
tap_is "the refusal shows the name escaped and cut, with its length" 1 \
  "$(grep -cF "error: tlsguard: refused block status on export $quoted for unix socket (pid " "$log")"
tap_is "the count line too" 1 \
  "$(grep -cF "error: tlsguard: refused 3 block status requests on export $quoted for unix socket (pid " "$log")"
tap_is "nbdkit's own error for the 4097-byte name names no bytes of it" 0 \
  "$(grep -c 'BBBB' "$log")"

# The audit file: a real JSON parser, and the client's bytes back.
"$py" - "$audit" "$tmp/hostile.name" >"$tmp/audit.out" 2>&1 <<'EOF'
import json, sys
lines = open(sys.argv[1], 'rb').read().split(b'\n')
name = open(sys.argv[2], 'rb').read()
assert lines[-1] == b'', "no final newline"
recs = []
for l in lines[:-1]:
    assert all(0x20 <= c <= 0x7e for c in l), "non-ASCII byte in a record"
    recs.append(json.loads(l.decode('ascii')))
hostile = [r for r in recs if 'export' in r and
           r['export'].encode('utf-8', 'surrogateescape') == name]
print("records %d" % len(recs))
print("hostile %s" % " ".join("%s/%d" % (r['event'], r['handle'])
                              for r in hostile))
u = [r for r in recs if r['event'] == 'unload']
print("unload refused %d" % u[0]['block_status']['refused'])
EOF
tap_is "the audit file parses, and the name comes back exactly (open and close of INFO and GO)" \
  "records 5
hostile open/1 close/1 open/2 close/2
unload refused 3" "$(cat "$tmp/audit.out")"
tap_is "the audit file is pure printable ASCII (but newlines)" 0 \
  "$(LC_ALL=C grep -c '[^ -~]' "$audit")"
tap_grep "the audit file holds the invalid bytes as \\udcXX" \
  '\\"\\\\\\udcff\\udcfe\\udcc0\\udcaf\\udced\\udca0\\udc80\\u00e9\\u20ac\\ud83d\\ude00\\u000d\\u0009\\u007fAAA' \
  "$audit"

tap_done
