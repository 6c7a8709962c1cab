#!/bin/bash -
# The man pages pass podchecker and have the sections nbdkit requires
# in its order; the filter's documents every config key and debug flag,
# nbd-probe's every option and built-in scenario.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh
[ -n "${PODCHECKER:-}" ] || skip_all "podchecker not found"

pod=$TLSGUARD_POD
tap_plan 14

"$PODCHECKER" "$pod" >"$tmp/podcheck" 2>&1
tap_is "podchecker passes" 0 "$?"
tap_nogrep "podchecker: no warnings" "WARNING" "$tmp/podcheck"

# required_sections POD SECTION...: the page has each SECTION, once,
# in this order (other sections may stand between them).  Prints the
# first problem, or nothing.
required_sections ()
{
  _pod=$1; shift
  grep '^=head1 ' "$_pod" | sed 's/^=head1 //' | awk -v want="$*" '
    BEGIN { n = split(want, w, "|") }
    { seen[$0]++; pos[$0] = NR }
    END {
      for (i = 1; i <= n; i++) {
        if (!(w[i] in seen)) { print "missing: " w[i]; exit }
        if (seen[w[i]] > 1) { print "twice: " w[i]; exit }
        if (i > 1 && pos[w[i]] < pos[w[i - 1]]) {
          print w[i] " comes before " w[i - 1]; exit
        }
      }
    }'
}

# The sections nbdkit requires of a filter page, in its order.
tap_is "the sections nbdkit requires, in its order" "" \
  "$(required_sections "$pod" "NAME|SYNOPSIS|DESCRIPTION|PARAMETERS|FILES|VERSION|SEE ALSO|AUTHORS|COPYRIGHT")"

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
tap_is "nbd-probe(1): the sections of a tool's page, in order" "" \
  "$(required_sections "$probe_pod" "NAME|SYNOPSIS|DESCRIPTION|OPTIONS|EXIT STATUS|EXAMPLES|SEE ALSO|AUTHORS|COPYRIGHT")"
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
