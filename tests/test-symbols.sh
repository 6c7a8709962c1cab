#!/bin/bash -
# The filter exports only filter_init and its debug flags.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh
requires nm

tap_plan 1
# (An ASan build adds an ODR indicator, __odr_asan.NAME, for each
# exported variable; it is the sanitizer's, not ours.)
syms=$(nm -D --defined-only "$TLSGUARD_FILTER" |
       awk '$2 ~ /^[A-Z]$/ && $2 != "A" && $3 !~ /^__odr_asan\./ {print $3}' |
       sort)
tap_is "exported symbols" "filter_init
tlsguard_debug_verbose" "$syms"
tap_done
