#!/bin/bash -
# The man page passes podchecker, has nbdkit's filter-page sections in
# order, and documents every config key and debug flag.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. "$srcdir/functions.sh"
[ -n "${PODCHECKER:-}" ] || skip_all "podchecker not found"

pod=$TLSGUARD_POD
tap_plan 14

"$PODCHECKER" "$pod" >"$tmp/podcheck" 2>&1
tap_is "podchecker passes" 0 "$?"
tap_nogrep "podchecker: no warnings" "WARNING" "$tmp/podcheck"

sections=$(grep '^=head1 ' "$pod" | sed 's/^=head1 //' | tr '\n' '|')
tap_is "sections in nbdkit's order" \
  "NAME|SYNOPSIS|DESCRIPTION|SECURITY MODEL|TLS-ONLY EXPORTS|WHERE TO PUT THE FILTER|EXAMPLES|PARAMETERS|DEBUG FLAGS|LOGGING|AUDIT|FILES|VERSION|SEE ALSO|AUTHORS|COPYRIGHT|" \
  "$sections"

tap_grep "documents tlsguard-extents" '^=item B<tlsguard-extents=(deny|hide|allow)>' "$pod"
tap_grep "documents tlsguard-tls-only" '^=item B<tlsguard-tls-only=>PATTERN$' "$pod"
tap_grep "documents tlsguard-audit" '^=item B<tlsguard-audit=>FILE$' "$pod"
tap_grep "documents -D tlsguard.verbose" 'tlsguard\.verbose=1' "$pod"
tap_nogrep "no trailing whitespace" '[[:space:]]$' "$pod"
tap_nogrep "no =encoding line" '^=encoding' "$pod"

# nbd-probe(1), as built (with the scenario language put in).
probe_pod=$HARNESS/nbd-probe-full.pod
"$PODCHECKER" "$probe_pod" >"$tmp/podcheck2" 2>&1
tap_is "nbd-probe(1): podchecker passes" 0 "$?"
tap_nogrep "nbd-probe(1): podchecker: no warnings" "WARNING" "$tmp/podcheck2"
sections=$(grep '^=head1 ' "$probe_pod" | sed 's/^=head1 //' | tr '\n' '|')
tap_is "nbd-probe(1): sections" \
  "NAME|SYNOPSIS|DESCRIPTION|OPTIONS|SCENARIOS, THE BATTERY AND THE MODEL|EXIT STATUS|EXAMPLES|SEE ALSO|AUTHORS|COPYRIGHT|" \
  "$sections"
# Every option that --help lists has an =item of its own.
missing=
for opt in $("$HARNESS/nbd-probe" --help 2>&1 | grep -oE '^ +(-v, )?--[a-z-]+' | grep -oE -- '--[a-z-]+' | sort -u); do
  grep -q "^=item \(B<-[a-z]>, \)\?B<$opt>" "$probe_pod" || missing="$missing $opt"
done
tap_is "nbd-probe(1): every --help option documented" "" "$missing"
# The language reference came in, and every built-in scenario is named.
missing=
for scn in $("$HARNESS/nbd-probe" --list 2>/dev/null | awk '{ print $1 }'); do
  grep -q "^  $scn " "$probe_pod" || missing="$missing $scn"
done
tap_is "nbd-probe(1): every built-in scenario described" "" "$missing"

tap_done
