#!/bin/bash -
# Negative control: nbd-badserver --defect double-starttls makes nbd-probe
# fail double_starttls.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
defect=double-starttls
. "$srcdir/badserver-defect.sh"
