#!/bin/bash -
# Negative control: nbd-badserver --defect keep-meta makes nbd-probe
# fail meta_injection.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
defect=keep-meta
. "$srcdir/badserver-defect.sh"
