# Server configurations of the compliance matrix: how to start and stop
# each peer (qemu-nbd, nbd-server, nbdkit) on a Unix socket, and the
# nbd-probe arguments that go with it.  Used by run-matrix.sh ('make
# compliance') and by tests/test-compliance-*.sh ('make check').
# Source after functions.sh (it uses $tmp, start_server, start_nbdkit,
# stop_server, run_probe, probe_plugin and the table of expected
# results).
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
#
# Environment: PKI_DIR, NBDKIT, TLSGUARD_FILTER, QEMU_NBD, QEMU_IMG,
# QEMU_IO (default: qemu-io next to QEMU_IMG), NBD_SERVER.
# Every server listens on a Unix socket in $tmp, nothing else.

: "${QEMU_NBD:=}" "${QEMU_IMG:=}" "${QEMU_IO:=}" "${NBD_SERVER:=}"
: "${TLSGUARD_FILTER:=}"

# Column order of the matrix.
COMPL_CONFIGS="qemu-base qemu-bitmap nbdserver-forced nbdserver-selective
  nbdkit-on nbdkit-require nbdkit-on-tlsguard nbdkit-on-tlsguard-hide
  nbdkit-on-tlsguard-tlsonly nbdkit-require-tlsguard"

# Scripts (tests/compliance/scenarios/*.scn) run after the battery, in
# this order.
COMPL_SCRIPTS="starttls_payload_reply double_starttls_nosr tlsonly_refused
  qemu_ctx_superseded"

# The qcow2 image's bitmap and its maps (see compl_make_qcow2).
compl_bitmap=bitmap0

compl_peer ()
{
  case $1 in
    qemu-*) echo qemu-nbd ;;
    nbdserver-*) echo nbd-server ;;
    nbdkit-*) echo nbdkit ;;
  esac
}

# compl_title CFG: the configuration, as the matrix header shows it.
compl_title ()
{
  case $1 in
    qemu-base) echo "X.509 (tls-creds-x509), qcow2 with -B $compl_bitmap; context base:allocation" ;;
    qemu-bitmap) echo "X.509 (tls-creds-x509), qcow2 with -B $compl_bitmap; context qemu:dirty-bitmap:$compl_bitmap" ;;
    nbdserver-forced) echo "X.509; force_tls in [generic]" ;;
    nbdserver-selective) echo "X.509; force_tls on export 'disk' only ('plain' is not TLS-only)" ;;
    nbdkit-on) echo "X.509; --tls=on" ;;
    nbdkit-require) echo "X.509; --tls=require" ;;
    nbdkit-on-tlsguard) echo "X.509; --tls=on --filter=tlsguard (tlsguard-extents=deny)" ;;
    nbdkit-on-tlsguard-hide) echo "X.509; --tls=on --filter=tlsguard tlsguard-extents=hide" ;;
    nbdkit-on-tlsguard-tlsonly) echo "X.509; --tls=on --filter=tlsguard tlsguard-tls-only=sec*; file dir= with exports 'secret' (TLS-only) and 'public'" ;;
    nbdkit-require-tlsguard) echo "X.509; --tls=require --filter=tlsguard (tlsguard-extents=deny)" ;;
  esac
}

# compl_expected_mode CFG: the TLS mode the configuration should show
# (tests/expected/battery.tsv, the pseudo-scenario "mode").
compl_expected_mode ()
{
  expected_result "$1" mode
}

_compl_qemu_io ()
{
  if [ -n "$QEMU_IO" ]; then
    echo "$QEMU_IO"
  elif [ -n "$QEMU_IMG" ] && [ -x "$(dirname "$QEMU_IMG")/qemu-io" ]; then
    echo "$(dirname "$QEMU_IMG")/qemu-io"
  else
    command -v qemu-io || :
  fi
}

# compl_missing CFG: prints why CFG cannot run here (nothing if it can).
compl_missing ()
{
  [ -f "$PKI_DIR/ca-cert.pem" ] || { echo "no test PKI (certtool missing)"; return; }
  case $1 in
    qemu-*)
      [ -n "$QEMU_NBD" ] && [ -x "$QEMU_NBD" ] || { echo "qemu-nbd not found"; return; }
      [ -n "$QEMU_IMG" ] && [ -x "$QEMU_IMG" ] || { echo "qemu-img not found"; return; }
      [ -n "$(_compl_qemu_io)" ] || echo "qemu-io not found"
      ;;
    nbdserver-*)
      [ -n "$NBD_SERVER" ] && [ -x "$NBD_SERVER" ] || echo "nbd-server not found"
      ;;
    nbdkit-*tlsguard*)
      command -v "$NBDKIT" >/dev/null 2>&1 || { echo "nbdkit not found"; return; }
      [ -f "$TLSGUARD_FILTER" ] || echo "tlsguard filter not built"
      ;;
    nbdkit-*)
      command -v "$NBDKIT" >/dev/null 2>&1 || echo "nbdkit not found"
      ;;
  esac
}

# compl_requires CFG: skip the whole test unless CFG can run here.
compl_requires ()
{
  local missing
  requires_x509
  requires_probe
  missing=$(compl_missing "$1")
  [ -z "$missing" ] || skip_all "$missing"
}

# compl_raw_starttls_data SECONDS [STEP...]: nbd-raw.pl against $sock
# (waiting up to SECONDS for each reply): the greeting, the client
# flags, then NBD_OPT_STARTTLS with 4 bytes of data
#   49484156454f5054 00000005 00000004 deadbeef
# (IHAVEOPT, NBD_OPT_STARTTLS, length 4, the data), then STEP...
compl_raw_starttls_data ()
{
  local t=$1
  shift
  perl "$srcdir/nbd-raw.pl" "$sock" "$t" greeting hex:00000003 \
    hex:49484156454f50540000000500000004deadbeef "$@"
}

# compl_version PEER: the version line of the installed peer.
compl_version ()
{
  case $1 in
    qemu-nbd) "$QEMU_NBD" --version 2>/dev/null | head -n 1 | sed 's|^[^ ]*/||' ;;
    nbd-server) "$NBD_SERVER" -V 2>&1 | sed -n 's/^This is nbd-server version /nbd-server /p' | head -n 1 ;;
    nbdkit) "$NBDKIT" --version 2>/dev/null | head -n 1 ;;
  esac
}

# compl_make_qcow2 FILE: a 1 MiB qcow2 whose persistent bitmap differs
# from its allocation.  64 KiB of 0x55 at 64 KiB are written before
# bitmap0 is added, 4 KiB of 0xaa at 256 KiB after, so
#   base:allocation  data at 64K+64K and 256K+4K (the rest of that
#                    cluster reads as zero), holes elsewhere
#   bitmap0          dirty only in the 64 KiB granule at 256 KiB.
# The bitmap is disabled afterwards so that qemu-nbd may export it
# without -r.
compl_make_qcow2 ()
{
  _io=$(_compl_qemu_io)
  rm -f "$1"
  "$QEMU_IMG" create -q -f qcow2 "$1" 1M &&
  "$_io" -f qcow2 -c 'write -q -P 0x55 64k 64k' "$1" &&
  "$QEMU_IMG" bitmap --add "$1" "$compl_bitmap" &&
  "$_io" -f qcow2 -c 'write -q -P 0xaa 256k 4k' "$1" &&
  "$QEMU_IMG" bitmap --disable "$1" "$compl_bitmap"
}

# compl_start CFG: start the server of CFG on $tmp/CFG.sock.  Sets
# sock, peer_pid, peer_log and compl_probe_args (array: export,
# context, timeout options for nbd-probe, without TLS options).
compl_start ()
{
  cfg=$1
  sock=$tmp/$cfg.sock
  peer_log=$tmp/$cfg.log
  _pidfile=$tmp/$cfg.pid
  # nbd-probe's default deadline per read (run_probe's is 20 s).
  compl_probe_args=(--tls-certs "$PKI_DIR" --timeout 5)
  echo "== $cfg: $(compl_title "$cfg")" >&2
  case $cfg in
    qemu-*)
      _img=$tmp/$cfg.qcow2
      compl_make_qcow2 "$_img" >>"$peer_log" 2>&1 || {
        echo "could not make $_img:" >&2; cat "$peer_log" >&2; return 1; }
      start_server --connect "$cfg" "$QEMU_NBD" \
        --object "tls-creds-x509,id=tls0,endpoint=server,dir=$PKI_DIR" \
        --tls-creds tls0 -k "$sock" --persistent --shared=8 \
        --pid-file "$_pidfile" -f qcow2 -B "$compl_bitmap" "$_img" ||
        return 1
      peer_pid=$server_pid
      # qemu-nbd serves one export, named "" by default.
      compl_probe_args+=(--export "")
      if [ "$cfg" = qemu-bitmap ]; then
        compl_probe_args+=(--context "qemu:dirty-bitmap:$compl_bitmap")
      fi
      ;;
    nbdserver-*)
      truncate -s 1M "$tmp/$cfg-disk.img" "$tmp/$cfg-plain.img" \
        "$tmp/$cfg-other.img"
      printf '\125%.0s' $(seq 1 4096) |
        dd of="$tmp/$cfg-disk.img" bs=4096 seek=16 conv=notrunc 2>/dev/null
      {
        echo "[generic]"
        echo "unixsock = $sock"
        echo "certfile = $PKI_DIR/server-cert.pem"
        echo "keyfile = $PKI_DIR/server-key.pem"
        echo "cacertfile = $PKI_DIR/ca-cert.pem"
        echo "allowlist = true"
        if [ "$cfg" = nbdserver-forced ]; then
          echo "force_tls = true"
          echo "[disk]"
          echo "exportname = $tmp/$cfg-disk.img"
          echo "[disk-other]"
          echo "exportname = $tmp/$cfg-other.img"
        else
          echo "[disk]"
          echo "exportname = $tmp/$cfg-disk.img"
          echo "force_tls = true"
          echo "[plain]"
          echo "exportname = $tmp/$cfg-plain.img"
        fi
      } >"$tmp/$cfg.conf"
      # nbd-server daemonizes; the daemon writes its PID to the pidfile
      # and logs to syslog.  It is stopped by that PID.
      start_server --daemon --connect "$cfg" "$NBD_SERVER" \
        -C "$tmp/$cfg.conf" -p "$_pidfile" || return 1
      peer_pid=$server_pid
      if [ "$cfg" = nbdserver-forced ]; then
        compl_probe_args+=(--export disk --export2 disk-other)
      else
        # 'disk' is the TLS-only export; the battery's plaintext steps
        # use 'plain'.
        compl_probe_args+=(--export plain --export2 disk
          --tls-only-export disk)
      fi
      # nbd-server 3.24 never answers NBD_OPT_STARTTLS with data (see
      # docs/compliance.md); a short deadline keeps the run quick.
      compl_probe_args+=(--timeout 2)
      ;;
    nbdkit-*)
      _args=(--tls-certificates="$PKI_DIR")
      case $cfg in
        nbdkit-on*) _args+=(--tls=on) ;;
        nbdkit-require*) _args+=(--tls=require) ;;
      esac
      case $cfg in
        *-tlsguard*) _args+=(--filter="$TLSGUARD_FILTER") ;;
      esac
      _plugin=("${probe_plugin[@]}")
      _params=()
      case $cfg in
        *-tlsguard-hide) _params+=(tlsguard-extents=hide) ;;
        *-tlsguard-tlsonly)
          # Two files: 'secret' matches the TLS-only pattern, 'public'
          # does not.  Each has 4 KiB of data at 64 KiB, holes elsewhere.
          _dir=$tmp/$cfg-dir
          rm -rf "$_dir"
          mkdir "$_dir" && truncate -s 1M "$_dir/public" "$_dir/secret" ||
            return 1
          printf '\125%.0s' $(seq 1 4096) |
            dd of="$_dir/public" bs=4096 seek=16 conv=notrunc 2>/dev/null
          printf '\252%.0s' $(seq 1 4096) |
            dd of="$_dir/secret" bs=4096 seek=16 conv=notrunc 2>/dev/null
          _plugin=(file "dir=$_dir")
          _params+=("tlsguard-tls-only=sec*")
          compl_probe_args+=(--export public --export2 secret
            --tls-only-export secret)
          ;;
      esac
      start_nbdkit "$cfg" "${_args[@]}" "${_plugin[@]}" "${_params[@]}" ||
        return 1
      peer_pid=$nbdkit_pid
      peer_log=$tmp/$cfg.log
      ;;
  esac
}

# compl_stop CFG: stop the server started by compl_start (by its PID)
# and return its exit status (stop_server).
compl_stop ()
{
  stop_server "$peer_pid"
}

# compl_probe OUT [ARGS...]: run nbd-probe with the configuration's
# arguments against $sock: the battery to OUT.battery.tap, the
# scripts to OUT.scripts.tap, every trace (-v) to OUT.trace.
compl_probe ()
{
  local out=$1 s scripts=()
  shift
  for s in $COMPL_SCRIPTS; do
    scripts+=(--script "$compl_scenarios/$s.scn")
  done
  run_probe "$out.battery" --unix "$sock" -v "${compl_probe_args[@]}" "$@"
  run_probe "$out.scripts" --unix "$sock" -v "${compl_probe_args[@]}" "$@" \
    "${scripts[@]}"
  cat "$out.battery.err" "$out.scripts.err" >"$out.trace"
}

compl_scenarios=$abs_top_srcdir/tests/compliance/scenarios
compl_matrix_pl=$abs_top_srcdir/tests/compliance/matrix.pl
compl_verdicts=$abs_top_srcdir/tests/compliance/verdicts.tsv

# compl_check CFG: start CFG, run the battery and the scripts, and
# assert (three TAP lines):
#  - nbd-probe's per-scenario results (probe_summary of both runs) are
#    CFG's in tests/expected/battery.tsv;
#  - so are the matrix verdicts (matrix.pl --verdicts);
#  - the server stopped cleanly.
compl_check ()
{
  local cfg=$1 actual verdicts st
  if ! compl_start "$cfg"; then
    tap_not_ok "$cfg: server started"
    tap_not_ok "$cfg: matrix verdicts # server did not start"
    tap_not_ok "$cfg: server stopped # server did not start"
    return
  fi
  compl_probe "$tmp/$cfg"
  actual="$(cat "$tmp/$cfg.battery.tap" "$tmp/$cfg.scripts.tap" | probe_summary)"
  tap_is "$cfg: nbd-probe results" \
    "$(expected_summary "$cfg" $battery_scenarios)
$(expected_summary "$cfg" $COMPL_SCRIPTS)" "$actual"
  verdicts=$(perl "$compl_matrix_pl" --rules "$compl_verdicts" \
    --verdicts "$cfg" --version "$(compl_version "$(compl_peer "$cfg")")" \
    "$tmp/$cfg.battery.tap" "$tmp/$cfg.scripts.tap")
  tap_is "$cfg: matrix verdicts" \
    "$(expected_verdicts "$cfg" $battery_scenarios $COMPL_SCRIPTS)" "$verdicts"
  compl_stop "$cfg"
  st=$?
  echo "== $cfg: server log" >&2
  cat "$peer_log" >&2 2>/dev/null
  tap_is "$cfg: server stopped cleanly" 0 "$st"
}
