#!/bin/bash -
# Replay the fuzz corpora (seed inputs and every crash ever found) through
# the fuzz targets, built without libFuzzer: a regression test that runs
# in every 'make check'.  'make fuzz-smoke' runs the real fuzzers.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh

tap_plan 2
for t in policy wire; do
  dir=$srcdir/fuzz/corpus/$t
  n=$(find "$dir" -type f | wc -l)
  out=$("./fuzz/replay-$t" "$dir" 2>&1)
  st=$?
  if [ $st -eq 0 ] && [ "$(printf '%s\n' "$out" | grep -c '^ok ')" = "$n" ] &&
     [ "$n" -gt 0 ]; then
    tap_ok "$t: $n corpus inputs replayed"
  else
    tap_not_ok "$t: $n corpus inputs replayed"
    tap_diag "exit status $st" "$out"
  fi
done
tap_done
