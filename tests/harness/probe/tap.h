/* tlsguard test harness: nbd-probe's TAP output (tap.c).
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 */

#ifndef TLSGUARD_PROBE_TAP_H
#define TLSGUARD_PROBE_TAP_H

#include <stdio.h>

/* Print text to fp with each line prefixed (for TAP diagnostics). */
extern void print_prefixed (FILE *fp, const char *prefix, const char *text);

#endif /* TLSGUARD_PROBE_TAP_H */
