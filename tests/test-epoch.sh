#!/bin/bash -
# tlsguard scopes each connection's record to the TLS epoch: a client
# negotiates in plaintext (LIST, INFO), upgrades, and negotiates again
# (INFO, GO).  The trace of -D tlsguard.verbose=1 must show the plaintext
# epoch's callbacks, exactly one upgrade that drops them (and logs what
# was dropped), a TLS epoch that starts from zero, a deny decision for
# the plaintext open and pass for the TLS opens; block status then
# works.  A second, plaintext-only connection starts from a fresh record.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh
requires_nbdkit_version
requires_psk
probe=$HARNESS/nbd-probe
requires_built "$probe"

tap_plan 10

start_nbdkit epoch --tls=on --tls-psk="$PSK_FILE" -D tlsguard.verbose=1 \
  --filter="$TLSGUARD_FILTER" memory 1M

"$probe" --unix "$sock" --tls-psk "$PSK_FILE" --script "$srcdir/epoch.scn" \
  >"$tmp/probe.out" 2>"$tmp/probe.err"
tap_is "probe: plaintext LIST/INFO, STARTTLS, INFO/GO, block status works" \
  "0:ok 1 - epoch_upgrade" "$?:$(grep '^ok\|^not ok' "$tmp/probe.out")"

# The second connection: plaintext INFO only.
"$probe" --unix "$sock" --script /dev/stdin >"$tmp/probe2.out" 2>&1 <<'EOT'
name plaintext_only
require selectivetls
info export=$EXPORT
EOT
tap_is "second connection: plaintext INFO" "0" "$?"

stop_server "$nbdkit_pid"
tap_is "nbdkit exit status" 0 "$?"

# The filter's trace, in order, without nbdkit's prefixes.
sed -n 's/^nbdkit: [^:]*: debug: \(tlsguard: .*\)$/\1/p' "$log" |
  grep -E 'is_tls=|upgraded|new connection' >"$tmp/trace"
sed 's/^/# /' "$tmp/trace"

# Group the trace by connection (one file each), leaving out nbd-probe's
# mode-detection connections, which end before any negotiation callback.
mkdir "$tmp/conn"
awk -v dir="$tmp/conn" '/new connection/ { n++ } { print > (dir "/" n) }' \
  "$tmp/trace"
groups=()
for f in $(ls "$tmp/conn" | sort -n); do
  grep -q 'is_tls=' "$tmp/conn/$f" && groups+=("$tmp/conn/$f")
done
first=$(cat "${groups[0]}")
second=$(cat "${groups[1]}")

tap_is "plaintext epoch records LIST, then INFO's default_export and open" \
'tlsguard: new connection, plaintext epoch
tlsguard: list_exports is_tls=0 export="": same epoch; plaintext epoch: 1 list_exports, 0 default_export, 0 open
tlsguard: default_export is_tls=0 export="": same epoch; plaintext epoch: 1 list_exports, 1 default_export, 0 open
tlsguard: open is_tls=0 export="": same epoch; plaintext epoch: 1 list_exports, 1 default_export, 1 open
tlsguard: open export="" is_tls=0: block status deny' \
  "$(printf '%s\n' "$first" | head -n 5)"

tap_is "exactly one upgrade, logging what the plaintext epoch had" \
  'tlsguard: connection upgraded to TLS; dropping the plaintext epoch: 1 list_exports, 1 default_export, 1 open (last export "")' \
  "$(printf '%s\n' "$first" | grep upgraded)"

tap_is "the TLS epoch starts from zero: nothing of the plaintext epoch is kept" \
  'tlsguard: default_export is_tls=1 export="": upgrade; TLS epoch: 0 list_exports, 1 default_export, 0 open' \
  "$(printf '%s\n' "$first" | grep 'default_export is_tls=1')"

tap_is "TLS opens (INFO, GO) are decided 'pass'" \
'tlsguard: open export="" is_tls=1: block status pass
tlsguard: open export="" is_tls=1: block status pass' \
  "$(printf '%s\n' "$first" | grep 'open export=.*is_tls=1')"

tap_is "no plaintext callback after the upgrade" "" \
  "$(printf '%s\n' "$first" | sed -n '/upgraded/,$p' | grep 'is_tls=0')"

tap_is "second connection starts a fresh plaintext record" \
'tlsguard: new connection, plaintext epoch
tlsguard: default_export is_tls=0 export="": same epoch; plaintext epoch: 0 list_exports, 1 default_export, 0 open
tlsguard: open is_tls=0 export="": same epoch; plaintext epoch: 0 list_exports, 1 default_export, 1 open
tlsguard: open export="" is_tls=0: block status deny' \
  "$second"

tap_grep "every handle freed" 'tlsguard: unload: 0 handles still allocated' "$log"

tap_done
