#!/bin/bash -
# Negative control: nbd-badserver --defect starttls-payload makes nbd-probe
# fail starttls_payload.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
defect=starttls-payload
. "$srcdir/badserver-defect.sh"
