#!/bin/bash -
# The filter loads beside a plugin that takes most of glibc's static
# TLS reserve for dlopen'd modules (static-tls-plugin.c: 1,700 bytes
# of initial-exec thread-locals), and both modules' thread-locals work
# on a connection.  The filter's own record is in the default TLS
# model; with initial-exec, nbdkit would exit with "cannot allocate
# memory in static TLS block" here.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh
requires_nbdkit_version
requires "${NBDINFO:-nbdinfo}"
nbdinfo=${NBDINFO:-nbdinfo}
plugin=$abs_top_builddir/tests/.libs/static-tls-plugin.so
# The plugin is built with the tests, and alone it must load: if it
# does not, the check below would prove nothing, so that is a failure.
[ -f "$plugin" ] || { echo "Bail out! $plugin not built"; exit 1; }
"$NBDKIT" -U - "$plugin" --run true >"$tmp/alone.log" 2>&1 ||
  { echo "Bail out! the plugin alone does not load: $(cat "$tmp/alone.log")"
    exit 1; }

tap_plan 4

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
