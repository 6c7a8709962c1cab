#!/bin/bash -
# run-matrix.sh OUTDIR: 'make compliance'.  Runs nbd-probe's battery
# and the compliance scripts against every server configuration of
# peers.sh, keeps the TAP and the -v traces in OUTDIR/runs/, and
# writes OUTDIR/compliance.md and OUTDIR/compliance.html.
# A configuration whose server is not installed is shown as not run.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
#
# Environment (set by tests/Makefile.am): srcdir, top_srcdir, HARNESS,
# PKI_DIR, NBDKIT, TLSGUARD_FILTER, QEMU_NBD, QEMU_IMG, NBD_SERVER.

out=${1:?usage: run-matrix.sh OUTDIR}
mkdir -p "$out/runs" || exit 1
out=$(cd "$out" && pwd)

. ./functions.sh
. "$top_srcdir/tests/compliance/peers.sh"

[ -x "$PROBE" ] || { echo "run-matrix.sh: nbd-probe not built" >&2; exit 1; }

start=$(date +%s)
configs=$out/runs/configs.tsv
scenarios=$out/runs/scenarios.tsv
: >"$configs"

# Rows: the built-in battery in its order, then the scripts.
"$PROBE" --list -v |
  sed -E 's/^([^ ]+) +(.*)$/\1\tbattery\t\2/' >"$scenarios"
for s in $COMPL_SCRIPTS; do
  d=$(sed -n 's/^description //p' "$compl_scenarios/$s.scn" | head -n 1)
  printf '%s\tscript\t%s\n' "$s" "$d" >>"$scenarios"
done

for cfg in $COMPL_CONFIGS; do
  peer=$(compl_peer "$cfg")
  missing=$(compl_missing "$cfg")
  version=$peer
  [ -z "$missing" ] && version=$(compl_version "$peer")
  taps=
  if [ -z "$missing" ]; then
    echo "run-matrix.sh: $cfg ($version)" >&2
    if compl_start "$cfg" 2>>"$out/runs/$cfg.log"; then
      compl_probe "$out/runs/$cfg"
      taps="$out/runs/$cfg.battery.tap,$out/runs/$cfg.scripts.tap"
      compl_stop "$cfg" || echo "run-matrix.sh: $cfg: server exit status $?" >&2
      cp "$peer_log" "$out/runs/$cfg.server.log" 2>/dev/null || :
    else
      missing="the server did not start (see runs/$cfg.log)"
    fi
  else
    echo "run-matrix.sh: $cfg: not run: $missing" >&2
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$cfg" "$version" "$(compl_title "$cfg")" \
    "$(compl_expected_mode "$cfg")" "${missing:--}" "$taps" >>"$configs"
done

perl "$compl_matrix_pl" --rules "$compl_verdicts" --configs "$configs" \
  --scenarios "$scenarios" --md "$out/compliance.md" \
  --expected "$top_srcdir/tests/expected/battery.tsv" \
  --html "$out/compliance.html" || exit 1

echo "run-matrix.sh: wrote $out/compliance.md and $out/compliance.html" \
  "in $(( $(date +%s) - start )) s" >&2
