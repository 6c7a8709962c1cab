#!/bin/bash -
# The filter loads beside a plugin that takes most of glibc's static
# TLS reserve for dlopen'd modules (static-tls-plugin.c: initial-exec
# thread-locals, built in three sizes because the reserve left depends
# on glibc and nbdkit), and both modules' thread-locals work on a
# connection.  The filter's own record is in the default TLS model;
# with initial-exec, nbdkit would exit with "cannot allocate memory in
# static TLS block" here.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh
requires_nbdkit_version
requires "${NBDINFO:-nbdinfo}"
nbdinfo=${NBDINFO:-nbdinfo}

# The largest plugin that loads alone (they are built with the tests,
# and at least the 1,024-byte one must load: otherwise the check below
# would prove nothing, so that is a failure).
plugin=
for n in 1700 1536 1024; do
  p=$abs_top_builddir/tests/.libs/static-tls-$n.so
  [ -f "$p" ] || { echo "Bail out! $p not built"; exit 1; }
  if "$NBDKIT" -U - "$p" --run true >"$tmp/alone-$n.log" 2>&1; then
    plugin=$p
    break
  fi
done
[ -n "$plugin" ] ||
  { echo "Bail out! no static-tls plugin loads alone: $(cat "$tmp/alone-1024.log")"
    exit 1; }

tap_plan 4
tap_diag "plugin: $(basename "$plugin"), the largest of 1024, 1536 and 1700 bytes that loads alone"

# (If readelf fails, the check fails: "STATIC_TLS" stands in.)
dyn=$(readelf -d "$TLSGUARD_FILTER") || dyn="x (FLAGS) STATIC_TLS: readelf failed"
flags=$(printf '%s\n' "$dyn" | awk '$2 == "(FLAGS)"')
tap_is "the filter does not ask for static TLS (no DF_STATIC_TLS)" "" \
  "$(printf '%s\n' "$flags" | grep STATIC_TLS)"

"$NBDKIT" -U - --filter="$TLSGUARD_FILTER" "$plugin" \
  --run "'$nbdinfo' --size \"\$uri\"" >"$tmp/out" 2>"$tmp/err"
st=$?
tap_is "nbdkit with the filter beside the plugin exits 0" 0 "$st"
tap_nogrep "no static TLS error" "static TLS" "$tmp/err"
tap_is "a connection through the filter reaches the plugin's thread-local" \
  1048577 "$(cat "$tmp/out")"
tap_done
