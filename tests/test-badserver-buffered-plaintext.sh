#!/bin/bash -
# Negative control: nbd-badserver --defect buffered-plaintext makes nbd-probe
# fail plaintext_buffering.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
defect=buffered-plaintext
. "$srcdir/badserver-defect.sh"
