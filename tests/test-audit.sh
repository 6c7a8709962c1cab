#!/bin/bash -
# tlsguard-audit=FILE: every record parses with a real JSON parser;
# opens and closes join on (conn, handle); the unload totals match
# what the clients did; an upgrade is recorded with what the plaintext
# epoch held; a TLS-only refusal is an open record; 64 concurrent
# clients with long hostile names give no torn or interleaved line;
# hide and allow are counted like deny.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh
requires_nbdkit_version
requires_psk
py=/usr/bin/python3
[ -x "$py" ] || skip_all "no /usr/bin/python3"
probe=$HARNESS/nbd-probe
requires_built "$probe"
requires_built "$NBD_BLOCKSTATUS"
names=("$py" "$srcdir/nbd-names.py")
check=("$py" "$srcdir/audit-check.py")

tap_plan 15

hex () { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
disk=$(hex disk)
secret=$(hex secret)

# --- one server, a known workload --------------------------------------
audit=$tmp/audit.jsonl
start_nbdkit audit --tls=on --tls-psk="$PSK_FILE" \
  --filter="$TLSGUARD_FILTER" memory 1M tlsguard-tls-only=secret \
  "tlsguard-audit=$audit"

# 1: plaintext GO and 10 refused requests.
out1=$("${names[@]}" --unix "$sock" sr "meta:$disk" "go:$disk" bs:10:4096 2>&1)
# 2: three plaintext INFOs, then a refused TLS-only INFO.
out2=$("${names[@]}" --unix "$sock" "rep:3:$disk" "info:$secret" 2>&1)
# 3: plaintext LIST and INFO, STARTTLS, INFO and GO over TLS.
"$probe" --unix "$sock" --tls-psk "$PSK_FILE" --script "$srcdir/epoch.scn" \
  >"$tmp/probe.out" 2>&1
out3=$?
# 4: a TLS client (libnbd) with block status.
"$NBD_BLOCKSTATUS" --unix "$sock" $(psk_client_args) >"$tmp/bs.out" 2>&1
out4=$?
tap_is "clients: plaintext GO refused 10, INFO x3, TLS-only refused, upgrade, TLS" \
  "sr ok
meta ok 1
go ok
bs 10 ok=0 err=10 errno=22
rep 3 ok=3
info error 0x80000006
0 0" "$out1
$out2
$out3 $out4"

# 5: 64 concurrent clients, each 5 INFOs and a GO with 20 refused
# requests, with 2,000-byte names full of bytes that escape to six
# (a record of about 12 KiB, three times a pipe buffer).
"$py" - "$srcdir/nbd-names.py" "$sock" >"$tmp/conc.out" 2>&1 <<'EOF'
import importlib.util, sys, threading
spec = importlib.util.spec_from_file_location("nbdnames", sys.argv[1])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
results = []
def client(i):
    name = ('c%02d:' % i).encode() + bytes([1 + (i + k) % 30 for k in range(2000)])
    try:
        c = m.Conn.unix(sys.argv[2])
        ok = sum(c.info(name) == m.REP_ACK for _ in range(5))
        c.sr(); c.set_meta(name)
        ok += c.info(name, m.OPT_GO) == m.REP_ACK
        o, e, _, _ = c.block_status(20, 4096)
        c.close()
        results.append((ok, e))
    except Exception as ex:
        results.append(("error", str(ex)))
ts = [threading.Thread(target=client, args=(i,)) for i in range(64)]
for t in ts: t.start()
for t in ts: t.join()
print("clients %d all-ok %d" % (len(results), sum(r == (6, 20) for r in results)))
EOF
tap_is "64 concurrent clients: every INFO and GO answered, every request refused" \
  "clients 64 all-ok 64" "$(cat "$tmp/conc.out")"

stop_server "$nbdkit_pid"
tap_is "nbdkit exit status" 0 "$?"

"${check[@]}" "$audit" >"$tmp/check.out" 2>&1
sed 's/^/# /' "$tmp/check.out"
fact () { grep "^$1" "$tmp/check.out"; }

# Opens: 1 (GO) + 4 (INFO x3, TLS-only) + probe: 1 plaintext INFO and
# 2 TLS (INFO, GO) + nbd-blockstatus: TLS opens + 64 x 6.  Closes: every
# plaintext opened handle: 1 + 3 + 1 + 384.
tap_is "every line is one JSON record, none torn or interleaved" \
  "bad 0" "$(fact bad)"
tls_opens=$(grep -c '"event":"open".*"tls":true' "$audit")
tap_is "records: every open, every plaintext close, one upgrade, one unload" \
  "events open=$((1 + 4 + 1 + 384 + tls_opens)) close=389 upgrade=1 unload=1" \
  "$(fact events)"
tap_is "opens and closes join on conn and handle, with the same export and action" \
  "join ok" "$(fact join)"
tap_is "the unload totals match the open and close records" \
  "totals ok" "$(fact totals)"
tap_is "the unload totals match what the clients did" \
  "unload tls=$tls_opens plaintext=$((5 + 1 + 384)) refused=1 bs=$((10 + 64 * 20))/0/0" \
  "$(fact unload)"
tap_is "the upgrade record holds what the plaintext epoch had" \
  'upgrade dropped=1/1/1 last="" len=0 opens=1 plaintext then 2 TLS' \
  "$(fact upgrade)"

# The records themselves (counted, not printed: the file is large).
tap_is "a TLS-only refusal is an open record with its action" 1 \
  "$(grep -Ec '^\{"time":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z","event":"open","conn":2,"handle":4,"peer":"unix socket \(pid [0-9]+, uid [0-9]+\)","uid":[0-9]+,"tls":false,"export":"secret","action":"refuse-tls-only","opened":false\}$' "$audit")"
tap_is "the GO handle's close carries its 10 refusals" 1 \
  "$(grep -Ec '^\{"time":"[^"]+","event":"close","conn":1,"handle":1,"peer":"unix socket \(pid [0-9]+, uid [0-9]+\)","uid":[0-9]+,"tls":false,"export":"disk","action":"deny","block_status":\{"refused":10,"hidden":0,"allowed":0\}\}$' "$audit")"
tap_is "TLS opens are recorded as pass (and have no close: join ok)" "$tls_opens" \
  "$(grep -Ec '"event":"open",.*"tls":true,"export":"","action":"pass","opened":true\}$' "$audit")"
tap_is "on nbdkit without nbdkit_peer_tls_dn, no record has tls_dn (PSK has none anyway)" \
  0 "$(grep -c '"tls_dn"' "$audit")"

# --- hide and allow are counted the same way ------------------------------
for policy in hide allow; do
  a=$tmp/$policy.jsonl
  start_nbdkit "$policy" --filter="$TLSGUARD_FILTER" memory 1M \
    tlsguard-extents=$policy "tlsguard-audit=$a"
  "${names[@]}" --unix "$sock" sr "meta:$disk" "go:$disk" bs:7:4096 >/dev/null 2>&1
  "${names[@]}" --unix "$sock" sr "meta:$disk" "go:$disk" bs:5:4096 >/dev/null 2>&1
  stop_server "$nbdkit_pid"
  "${check[@]}" "$a" >"$tmp/$policy.out" 2>&1
  case $policy in
    hide) want="unload tls=0 plaintext=2 refused=0 bs=0/12/0" ;;
    allow) want="unload tls=0 plaintext=2 refused=0 bs=0/0/12" ;;
  esac
  tap_is "$policy: 7 + 5 requests counted in the closes and the unload totals" \
    "bad 0
join ok
totals ok
$want" "$(grep -E '^(bad|join|totals|unload)' "$tmp/$policy.out")"
done

tap_done
