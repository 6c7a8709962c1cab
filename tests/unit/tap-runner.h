/* Run a Check suite with TAP output for tap-driver.sh.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 */

#ifndef TLSGUARD_TAP_RUNNER_H
#define TLSGUARD_TAP_RUNNER_H

#include <stdlib.h>

#include <check.h>

/* Runs every test of s, prints TAP on stdout, and returns the exit
 * status for main: EXIT_SUCCESS only if every test passed.
 */
static inline int
run_suite_tap (Suite *s)
{
  SRunner *sr = srunner_create (s);
  int failed;

  srunner_set_tap (sr, "-");
  srunner_run_all (sr, CK_SILENT);
  failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* TLSGUARD_TAP_RUNNER_H */
