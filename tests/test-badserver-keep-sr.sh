#!/bin/bash -
# Negative control: nbd-badserver --defect keep-sr makes nbd-probe
# fail sr_injection.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
defect=keep-sr
. "$srcdir/badserver-defect.sh"
