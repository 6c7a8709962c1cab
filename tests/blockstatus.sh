# Body of test-blockstatus-{psk,x509}.sh: block status and reads over
# TLS and plaintext, for each tlsguard-extents policy, and for nbdkit
# without the filter (which shows what the filter adds).
# Usage (sourced): kind=psk|x509; . blockstatus.sh
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh

requires_nbdkit_version
requires_$kind
requires_built "$NBD_BLOCKSTATUS"

read -r -a server_tls <<<"$(${kind}_server_args)"
read -r -a client_tls <<<"$(${kind}_client_args)"

# A 1 MiB disk with two data runs; the data plugin reports exact
# extents in 32 KiB pages.
plugin=(data "data=@65536 (0x55)*65536 @262144 (0xaa)*4096" size=1M)
real_map="extent 0 65536 3
extent 65536 65536 0
extent 131072 131072 3
extent 262144 32768 0
extent 294912 753664 3"
all_data="extent 0 1048576 0"

# Checksum of the disk contents, computed from the same description.
read_line="read 0 1048576 fnv1a=$(
  "$NBDKIT" -U - "${plugin[@]}" --run "'$NBD_BLOCKSTATUS' --unix \"\$unixsocket\" --no-meta --read" |
  sed -n 's/^read 0 1048576 fnv1a=//p')"

tap_plan 27

run_client ()
{
  "$NBD_BLOCKSTATUS" --unix "$sock" "$@" --read 2>>"$tmp/client.err"
}

# check_config NAME PLAIN_EXPECT [--filter=...] [PARAMS...]
check_config ()
{
  cfg=$1; plain_expect=$2; shift 2
  if ! start_nbdkit "$cfg" --tls=on "${server_tls[@]}" "$@" "${plugin[@]}"; then
    tap_not_ok "$cfg: nbdkit started"
    return
  fi

  out=$(run_client "${client_tls[@]}")
  tap_is "$cfg: TLS client gets the real map and reads" \
    "tls yes
meta base:allocation yes
$real_map
$read_line" "$out"

  out=$(run_client)
  tap_is "$cfg: plaintext client: $plain_expect" \
    "tls no
meta base:allocation yes
$(eval echo "\"\$$plain_expect\"")
$read_line" "$out"

  stop_server "$nbdkit_pid"
  st=$?
  tap_is "$cfg: nbdkit exit status" 0 "$st"
  plain_log=$log
}

filter="--filter=$TLSGUARD_FILTER"
deny_out="block-status error EINVAL"
peer_re='unix socket \(pid [0-9]+, uid [0-9]+\)'
refusal="error: tlsguard: refused block status on export \"\" for $peer_re: export was negotiated without TLS \\(tlsguard-extents=deny\\)"
refusal_count="error: tlsguard: refused 1 block status request on export \"\" for $peer_re \\(tlsguard-extents=deny\\)"


check_config default deny_out "$filter"
tap_grep "default: refusal logged with filter, export, peer and reason" \
  "$refusal" "$plain_log"
tap_is "default: the handle's refusal logged once, then counted at close" "1 1 2" \
  "$(grep -Ec "$refusal" "$plain_log") $(grep -Ec "$refusal_count" "$plain_log") $(grep -c 'error: tlsguard:' "$plain_log")"

plugin+=(tlsguard-extents=deny)
check_config deny deny_out "$filter"
tap_grep "deny: refusal logged" "$refusal" "$plain_log"

plugin[3]=tlsguard-extents=hide
check_config hide all_data "$filter"
tap_nogrep "hide: no refusal logged" "tlsguard: refused" "$plain_log"
tap_grep "hide: the handle's all-data answer logged" \
  "error: tlsguard: answering block status on export \"\" for $peer_re with all data: export was negotiated without TLS \\(tlsguard-extents=hide\\)" \
  "$plain_log"

plugin[3]=tlsguard-extents=allow
check_config allow real_map "$filter"
tap_grep "allow: audit line logged" \
  "tlsguard: allowing block status on export \"\" for $peer_re although it was negotiated without TLS \\(tlsguard-extents=allow\\)" \
  "$plain_log"
tap_is "allow: one audit line per handle" 1 \
  "$(grep -c 'tlsguard: allowing block status' "$plain_log")"

# Without tlsguard, nbdkit serves plaintext block status: this is the
# gap the filter closes.
unset 'plugin[3]'
check_config nofilter real_map

# The TLS client must not have triggered a refusal anywhere: the only
# refusals in the deny logs come from the plaintext client.
for cfg in default deny; do
  tap_is "$cfg: TLS handle never refused (one plaintext refusal and its count only)" 2 \
    "$(grep -c 'tlsguard: refused' "$tmp/$cfg.log")"
done

# Several block status requests, each refused: one line each.
start_nbdkit chunks --tls=on "${server_tls[@]}" "$filter" "${plugin[@]}"
out=$("$NBD_BLOCKSTATUS" --unix "$sock" --chunk 65536 2>>"$tmp/client.err")
tap_is "chunks: plaintext block status refused at the first request" \
  "tls no
meta base:allocation yes
$deny_out" "$out"
out=$("$NBD_BLOCKSTATUS" --unix "$sock" "${client_tls[@]}" --chunk 65536 2>>"$tmp/client.err")
tap_is "chunks: TLS client walks the whole map in 64 KiB requests" \
  "tls yes
meta base:allocation yes
extent 0 65536 3
extent 65536 65536 0
extent 131072 65536 3
extent 196608 65536 3
extent 262144 32768 0
extent 294912 32768 3
$(i=327680; while [ $i -lt 1048576 ]; do echo "extent $i 65536 3"; i=$((i+65536)); done)" \
  "$out"
stop_server "$nbdkit_pid"
tap_is "chunks: nbdkit exit status" 0 "$?"

tap_done
