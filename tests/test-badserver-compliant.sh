#!/bin/bash -
# nbd-badserver without --defect follows the spec: the whole nbd-probe
# battery passes against it in SELECTIVETLS (PSK and X.509) and
# FORCEDTLS mode, and libnbd's nbdinfo reads it as expected.  This is
# the baseline that makes the test-badserver-<defect>.sh failures mean
# something.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh

requires_psk
requires_x509
requires_badserver
requires_probe

tap_plan 22

alloc_map="         0       65536    0  data
     65536       65536    3  hole,zero
    131072       65536    0  data
    196608      851968    3  hole,zero"

# probe_all NAME DESC ARGS...: the whole battery passes.
probe_all ()
{
  _n=$1 _d=$2; shift 2
  run_probe "$tmp/$_n" --unix "$bad_sock" "$@"
  _st=$?
  if [ "$_st" -eq 0 ] && [ -z "$(probe_not_ok "$tmp/$_n.tap")" ]; then
    tap_ok "$_d: nbd-probe battery passes"
  else
    tap_not_ok "$_d: nbd-probe battery passes (status $_st)"
    tap_probe_diag "$tmp/$_n.tap"
  fi
}

# SELECTIVETLS with PSK.
start_badserver psk --tls=on --tls-psk "$PSK_FILE" || tap_not_ok "psk: started"
probe_all psk "SELECTIVETLS, PSK" --tls-psk "$PSK_FILE"
tap_is "SELECTIVETLS, PSK: forcedtls_refuses is skipped" \
  "ok 11 - forcedtls_refuses # SKIP server is SELECTIVETLS; the scenario applies to FORCEDTLS only" \
  "$(probe_line "$tmp/psk.tap" forcedtls_refuses)"
tap_is "SELECTIVETLS, PSK: tlsonly_export is skipped without --tls-only-export" \
  "ok 14 - tlsonly_export # SKIP no TLS-only export named (give --tls-only-export NAME)" \
  "$(probe_line "$tmp/psk.tap" tlsonly_export)"
tap_nogrep "SELECTIVETLS, PSK: no defect at work" "defect" "$bad_log"

if [ -n "${NBDINFO:-}" ] && [ -x "$NBDINFO" ]; then
  out=$("$NBDINFO" --map \
    "nbds+unix://qemu@/?socket=$bad_sock&tls-psk-file=$PSK_FILE" \
    2>>"$tmp/nbdinfo.err")
  tap_is "nbdinfo --map over TLS: base:allocation" "$alloc_map" "$out"
  out=$("$NBDINFO" --map=tlsguard:test \
    "nbds+unix://qemu@/any?socket=$bad_sock&tls-psk-file=$PSK_FILE" \
    2>>"$tmp/nbdinfo.err")
  tap_is "nbdinfo --map=tlsguard:test over TLS" \
"         0      262144   16
    262144      262144   32
    524288      262144   48
    786432      262144   64" "$out"
  out=$("$NBDINFO" --map "nbd+unix:///?socket=$bad_sock" 2>>"$tmp/nbdinfo.err")
  tap_is "nbdinfo --map in plaintext (SELECTIVETLS allows it)" \
    "$alloc_map" "$out"
else
  tap_ok "nbdinfo --map over TLS # SKIP nbdinfo not found"
  tap_ok "nbdinfo --map=tlsguard:test over TLS # SKIP nbdinfo not found"
  tap_ok "nbdinfo --map in plaintext # SKIP nbdinfo not found"
fi
stop_server "$bad_pid"
tap_is "SELECTIVETLS, PSK: clean exit on SIGTERM" 0 $?

# SELECTIVETLS with X.509.
start_badserver x509 --tls=on --tls-certs "$PKI_DIR" || tap_not_ok "x509: started"
probe_all x509 "SELECTIVETLS, X.509" --tls-certs "$PKI_DIR"
stop_server "$bad_pid"
tap_is "SELECTIVETLS, X.509: clean exit on SIGTERM" 0 $?

# FORCEDTLS: forcedtls_refuses runs and passes.
start_badserver forced --tls=require --tls-psk "$PSK_FILE" ||
  tap_not_ok "forced: started"
probe_all forced "FORCEDTLS, PSK" --tls-psk "$PSK_FILE"
tap_is "FORCEDTLS: forcedtls_refuses ran and passed" \
  "ok 11 - forcedtls_refuses" "$(probe_line "$tmp/forced.tap" forcedtls_refuses)"
stop_server "$bad_pid"
tap_is "FORCEDTLS: clean exit on SIGTERM" 0 $?

# A TLS-only export: the tlsonly_* scenarios run and pass.
start_badserver tlsonly --tls=on --tls-psk "$PSK_FILE" \
  --tls-only-export secret || tap_not_ok "tlsonly: started"
probe_all tlsonly "--tls-only-export secret" --tls-psk "$PSK_FILE" \
  --tls-only-export secret
tap_is "--tls-only-export secret: tlsonly_export and tlsonly_export_name ran and passed" \
  "ok 14 - tlsonly_export|ok 15 - tlsonly_export_name" \
  "$(probe_line "$tmp/tlsonly.tap" tlsonly_export)|$(probe_line "$tmp/tlsonly.tap" tlsonly_export_name)"
# LIST leaves it out before TLS and shows it after.
cat >"$tmp/list.scn" <<'SCN'
require selectivetls
option LIST
expect reply SERVER name=
expect reply ACK
starttls
option LIST
expect reply SERVER name=
expect reply SERVER name=secret
expect reply ACK
SCN
run_probe "$tmp/list" --unix "$bad_sock" --tls-psk "$PSK_FILE" \
  --script "$tmp/list.scn"
tap_is "--tls-only-export secret: LIST shows it over TLS only" \
  "0 ok 1 - list" "$? $(probe_line "$tmp/list.tap" list)"
tap_nogrep "--tls-only-export secret: no defect at work" "defect" "$bad_log"
stop_server "$bad_pid"
tap_is "--tls-only-export secret: clean exit on SIGTERM" 0 $?

# A TLS-only export needs TLS; the defect needs a TLS-only export.
"$BADSERVER" --unix "$tmp/x.sock" --tls=off --tls-only-export secret \
  >/dev/null 2>"$tmp/x.err"
tap_is "--tls-only-export with --tls=off: exit 2 and why" \
  "2 nbd-badserver: --tls-only-export needs --tls=on or --tls=require" \
  "$? $(head -n 1 "$tmp/x.err")"
"$BADSERVER" --unix "$tmp/x.sock" --tls-psk "$PSK_FILE" \
  --defect serve-tls-only >/dev/null 2>"$tmp/x.err"
tap_is "--defect serve-tls-only without --tls-only-export: exit 2 and why" \
  "2 nbd-badserver: --defect serve-tls-only needs --tls-only-export" \
  "$? $(head -n 1 "$tmp/x.err")"

# --export limits the names: a third export is refused.
start_badserver named --tls=on --tls-psk "$PSK_FILE" --export a --export b ||
  tap_not_ok "named: started"
probe_all named "--export a --export b" --tls-psk "$PSK_FILE" \
  --export a --export2 b
if [ -n "${NBDINFO:-}" ] && [ -x "$NBDINFO" ]; then
  if "$NBDINFO" "nbds+unix://qemu@/c?socket=$bad_sock&tls-psk-file=$PSK_FILE" \
       >/dev/null 2>"$tmp/nbdinfo-c.err"; then
    tap_not_ok "--export a --export b: export c is refused"
  else
    tap_ok "--export a --export b: export c is refused"
  fi
else
  tap_ok "--export a --export b: export c is refused # SKIP nbdinfo not found"
fi
stop_server "$bad_pid"

tap_done
