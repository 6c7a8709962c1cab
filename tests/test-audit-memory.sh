#!/bin/bash -
# Memory per connection stays bounded whatever names a client sends:
# 100 plaintext connections held open, each after 30 NBD_OPT_INFO
# with distinct 4096-byte names, must not grow nbdkit's RSS by more
# than 2 MiB over what the same clients grow nbdkit without the filter
# (tlsguard alone, and with tlsguard-audit=FILE).  Interning every
# name until disconnect, as the filter once did, grew it by 25 MiB.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh
requires_nbdkit_version
py=/usr/bin/python3
[ -x "$py" ] || skip_all "no /usr/bin/python3"
[ "${TLSGUARD_VALGRIND:-0}" = 1 ] && skip_all "RSS is not meaningful under valgrind"
[ -n "${SANITIZER_PRELOAD:-}" ] && skip_all "RSS is not meaningful with sanitizers"

tap_plan 8

: "${MEM_CONNS:=100}" "${MEM_INFOS:=30}"
limit_kib=2048

# held NAME: connect MEM_CONNS clients, each doing MEM_INFOS INFOs,
# hold them all, and print "before-KiB held-KiB ok-count".
held ()
{
  "$py" - "$srcdir/nbd-names.py" "$sock" "$(cat "$pidfile")" \
    "$MEM_CONNS" "$MEM_INFOS" <<'EOF'
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("nbdnames", sys.argv[1])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
sock, pid, nconn, ninfo = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def rss():
    for l in open('/proc/%s/status' % pid):
        if l.startswith('VmRSS:'):
            return int(l.split()[1])
before = rss()
conns = []
ok = 0
for i in range(nconn):
    c = m.Conn.unix(sock)
    for k in range(ninfo):
        name = (b'%04d-%04d-' % (i, k)).ljust(4096, b'n')
        ok += c.info(name) == m.REP_ACK
    conns.append(c)
time.sleep(0.5)
held = rss()
for c in conns:
    c.close()
print(before, held, ok)
EOF
}

declare -A growth
for cfg in nofilter tlsguard audit; do
  case $cfg in
    nofilter) args=() ;;
    tlsguard) args=(--filter="$TLSGUARD_FILTER") ;;
    audit) args=(--filter="$TLSGUARD_FILTER") ;;
  esac
  extra=()
  [ $cfg = audit ] && extra=("tlsguard-audit=$tmp/audit.jsonl")
  start_nbdkit "$cfg" "${args[@]}" memory 1M "${extra[@]}"
  read -r before after ok <<<"$(held)"
  stop_server "$nbdkit_pid"
  tap_is "$cfg: $MEM_CONNS x $MEM_INFOS INFOs answered, nbdkit exit status" \
    "$((MEM_CONNS * MEM_INFOS)) 0" "$ok $?"
  growth[$cfg]=$((after - before))
  tap_diag "$cfg: VmRSS $before KiB before, $after KiB with $MEM_CONNS connections held: +${growth[$cfg]} KiB"
done

for cfg in tlsguard audit; do
  d=$((growth[$cfg] - growth[nofilter]))
  if [ "$d" -le "$limit_kib" ]; then
    tap_ok "$cfg: RSS grows $d KiB more than without the filter (limit $limit_kib KiB)"
  else
    tap_not_ok "$cfg: RSS grows $d KiB more than without the filter (limit $limit_kib KiB)"
  fi
done
tap_is "audit: one open and one close record per INFO, and unload" \
  $((2 * MEM_CONNS * MEM_INFOS + 1)) "$(wc -l <"$tmp/audit.jsonl")"
tap_is "tlsguard: every handle freed" 1 \
  "$(grep -c 'tlsguard: unload: 0 handles still allocated' "$tmp/tlsguard.log")"
tap_is "audit: every handle freed" 1 \
  "$(grep -c 'tlsguard: unload: 0 handles still allocated' "$tmp/audit.log")"

tap_done
