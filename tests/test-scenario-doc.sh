#!/bin/bash -
# The scenario language is documented once: scenarios/README has one
# entry for every keyword of nbd-probe's keyword table
# (probe/scenario-keywords.c), under the synopsis the table gives, and
# none for a keyword the table lacks.  The table's synopses are read
# from nbd-probe --help, which prints them.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh

export LC_ALL=C
readme=$srcdir/harness/probe/scenarios/README
tap_plan 4

"$HARNESS/nbd-probe" --help >"$tmp/help" 2>&1
tap_is "nbd-probe --help exits 0" 0 "$?"

# --help: the lines of the language part that start with two blanks and
# a keyword (not "MODE:" or "variables:"), without the help column.
sed -n '/^Scenario language/,$p' "$tmp/help" |
  grep '^  [a-z]' | grep -v '^  variables:' |
  sed 's/^  //; s/  .*//' | sort >"$tmp/table"

# README: in "Directives" and "Steps", the lines that start in the
# first column, other than headings (one column ending in ':'),
# without the description column.
awk '
  { line[NR] = $0 }
  END {
    for (i = 1; i <= NR; i++) {
      if (line[i + 1] ~ /^-+$/ && line[i] != "") {
        in_ref = line[i] == "Directives" || line[i] == "Steps"
        i++
        continue
      }
      if (in_ref && line[i] ~ /^[^ ]/ && line[i] !~ /^[^ ]+( [^ ]+)*:$/) {
        s = line[i]
        sub(/  .*/, "", s)
        print s
      }
    }
  }' "$readme" | sort >"$tmp/readme"

tap_is "the keyword table has the language's keywords" yes \
  "$( [ "$(grep -c . "$tmp/table")" -ge 25 ] && grep -qx 'starttls' "$tmp/table" && echo yes)"
tap_is "every keyword in the table has a README entry with its synopsis" "" \
  "$(comm -23 "$tmp/table" "$tmp/readme")"
tap_is "every README entry is a keyword in the table, once" "" \
  "$(diff "$tmp/table" "$tmp/readme" | grep '^>')"
tap_done
