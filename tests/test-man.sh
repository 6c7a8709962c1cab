#!/bin/bash -
# The man page passes podchecker, has nbdkit's filter-page sections in
# order, and documents every config key and debug flag.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. "$srcdir/functions.sh"
[ -n "${PODCHECKER:-}" ] || skip_all "podchecker not found"

pod=$TLSGUARD_POD
tap_plan 8

"$PODCHECKER" "$pod" >"$tmp/podcheck" 2>&1
tap_is "podchecker passes" 0 "$?"
tap_nogrep "podchecker: no warnings" "WARNING" "$tmp/podcheck"

sections=$(grep '^=head1 ' "$pod" | sed 's/^=head1 //' | tr '\n' '|')
tap_is "sections in nbdkit's order" \
  "NAME|SYNOPSIS|DESCRIPTION|SECURITY MODEL|TLS-ONLY EXPORTS|WHERE TO PUT THE FILTER|EXAMPLES|PARAMETERS|DEBUG FLAGS|LOGGING|FILES|VERSION|SEE ALSO|AUTHORS|COPYRIGHT|" \
  "$sections"

tap_grep "documents tlsguard-extents" '^=item B<tlsguard-extents=(deny|hide|allow)>' "$pod"
tap_grep "documents tlsguard-tls-only" '^=item B<tlsguard-tls-only=>PATTERN$' "$pod"
tap_grep "documents -D tlsguard.verbose" 'tlsguard\.verbose=1' "$pod"
tap_nogrep "no trailing whitespace" '[[:space:]]$' "$pod"
tap_nogrep "no =encoding line" '^=encoding' "$pod"

tap_done
