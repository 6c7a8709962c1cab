/* Run a Check suite with TAP output for tap-driver.sh.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * A suite is a table of rows: TAP_CASE starts a test case (with its
 * options), TAP_TEST adds a test to the case above it.  Each test
 * file ends with its table and
 *
 *   TAP_MAIN ("name", table)
 *
 * or, if main must do more first, calls TAP_RUN ("name", table).
 */

#ifndef TLSGUARD_TAP_RUNNER_H
#define TLSGUARD_TAP_RUNNER_H

#include <stdlib.h>

#include <check.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))
#endif

struct tap_row {
  const char *tcase;            /* TAP_CASE: the test case's name */
  const TTest *const *test;     /* TAP_TEST: &name from START_TEST (name) */
  const char *tag;              /* free for the suite (test-model.c:
                                   the rule the test is about) */
  /* Options of a TAP_CASE. */
  int timeout;                  /* seconds; 0: Check's default */
  void (*setup) (void);         /* fixture, run in the test's process */
  void (*teardown) (void);
  void (*setup_once) (void);    /* fixture, run once for the case */
  void (*teardown_once) (void);
};

/* TAP_CASE ("name", .timeout = 60, .setup = f, ...) */
#define TAP_CASE(name, ...) { .tcase = (name), __VA_ARGS__ }
#define TAP_TEST(t) { .test = &(t) }

/* Builds the suite NAME from the n rows, runs every test, prints TAP
 * on stdout, and returns the exit status for main: EXIT_SUCCESS only
 * if every test passed.
 */
static inline int
tap_run (const char *name, const struct tap_row *rows, size_t n)
{
  Suite *s = suite_create (name);
  TCase *tc = NULL;
  SRunner *sr;
  size_t i;
  int failed;

  for (i = 0; i < n; ++i) {
    const struct tap_row *row = &rows[i];

    if (row->tcase) {
      tc = tcase_create (row->tcase);
      if (row->timeout)
        tcase_set_timeout (tc, row->timeout);
      if (row->setup || row->teardown)
        tcase_add_checked_fixture (tc, row->setup, row->teardown);
      if (row->setup_once || row->teardown_once)
        tcase_add_unchecked_fixture (tc, row->setup_once,
                                     row->teardown_once);
      suite_add_tcase (s, tc);
    }
    if (row->test) {
      if (tc == NULL)
        abort ();               /* a TAP_TEST before any TAP_CASE */
      tcase_add_test (tc, *row->test);
    }
  }

  sr = srunner_create (s);
  srunner_set_tap (sr, "-");
  srunner_run_all (sr, CK_SILENT);
  failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#define TAP_RUN(name, rows) tap_run ((name), (rows), ARRAY_SIZE (rows))

#define TAP_MAIN(name, rows)                    \
  int main (void) { return TAP_RUN ((name), (rows)); }

#endif /* TLSGUARD_TAP_RUNNER_H */
