#!/bin/sh -
# Make nbd-probe's full POD page: nbd-probe.pod with the scenario
# language reference (scenarios/README, from "A scenario runs" on)
# put in place of the @SCENARIO_LANGUAGE@ line, so that the language is
# written once.  Underlined titles become =head2, text becomes verbatim.
# Usage: gen-man.sh nbd-probe.pod scenarios/README > nbd-probe-full.pod
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

set -e
pod=$1 readme=$2

awk -v readme="$readme" '
  $0 != "@SCENARIO_LANGUAGE@" { print; next }
  {
    started = 0; n = 0
    while ((getline line < readme) > 0) {
      if (!started && line ~ /^A scenario runs on a fresh connection/)
        started = 1
      if (started)
        l[++n] = line
    }
    if (!started) {
      print "gen-man.sh: no scenario reference in " readme > "/dev/stderr"
      exit 1
    }
    for (i = 1; i <= n; i++) {
      if (i < n && l[i] != "" && l[i + 1] ~ /^-+$/) {
        printf "=head2 %s\n\n", l[i]
        i++
        # Skip the blank lines after a title.
        while (i < n && l[i + 1] == "") i++
        continue
      }
      if (l[i] == "")
        print ""
      else
        print "  " l[i]
    }
  }
' "$pod"
