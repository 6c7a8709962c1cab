#!/bin/bash -
# Negative control: nbd-badserver --defect ignore-export-mismatch makes
# nbd-probe fail meta_other_export.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
defect=ignore-export-mismatch
# meta_superseded checks the same rule (its last SET_META_CONTEXT
# names another export than GO), so it must fail too.
expect_fail="meta_other_export meta_superseded"
why="meta_superseded fails as well: its last SET_META_CONTEXT names \$EXPORT2 and GO names \$EXPORT, the same export-match rule"
. "$srcdir/badserver-defect.sh"
