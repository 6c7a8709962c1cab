#!/bin/bash -
# Negative control: nbd-badserver --defect ignore-export-mismatch makes
# nbd-probe fail meta_other_export.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
defect=ignore-export-mismatch
. "$srcdir/badserver-defect.sh"
