/* tlsguard test harness: nbd-probe's TAP output (tap.c).
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * The plan, one "ok"/"not ok" line per test with its SKIP or TODO
 * directive, "# " diagnostics and "Bail out!" on stdout, and the -v
 * traces in the same form on stderr.  Errors (error.h): none; nothing
 * here fails.
 */

#ifndef TLSGUARD_PROBE_TAP_H
#define TLSGUARD_PROBE_TAP_H

#include <stdbool.h>

enum tap_directive {
  TAP_NO_DIRECTIVE,
  TAP_SKIP,                     /* "# SKIP reason" */
  TAP_TODO,                     /* "# TODO reason" */
};

/* "1..n" */
extern void tap_plan (unsigned long n);
/* "ok n - DESCRIPTION" or "not ok n - DESCRIPTION", then " # SKIP
 * reason" or " # TODO reason" unless dir is TAP_NO_DIRECTIVE.
 */
extern void tap_result (bool ok, unsigned long n, enum tap_directive dir,
                        const char *reason, const char *fmt, ...)
  __attribute__ ((format (printf, 5, 6)));
/* One diagnostic line: "# " and the message. */
extern void tap_diag (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));
/* Every line of text as a diagnostic, indented by indent spaces after
 * the "# ".
 */
extern void tap_diag_text (unsigned indent, const char *text);
/* A -v trace, on stderr in the form of diagnostics: the title line
 * ("# " and the formatted title), then text as tap_diag_text does.
 */
extern void tap_trace (unsigned indent, const char *text,
                       const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));
/* "Bail out! " and the message. */
extern void tap_bail (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));
/* Push what was printed so far to stdout (before a slow step, and
 * after each test, so that a reader sees progress).
 */
extern void tap_flush (void);

#endif /* TLSGUARD_PROBE_TAP_H */
