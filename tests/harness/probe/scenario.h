/* tlsguard test harness: the scenario language (scenario-*.c).
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * A scenario is parsed once into steps and then run on a fresh
 * connection; the built-in battery is the .scn files in probe/scenarios/,
 * compiled into scenarios-builtin.c by gen-scenarios.sh.
 */

#ifndef TLSGUARD_PROBE_SCENARIO_H
#define TLSGUARD_PROBE_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "error.h"
#include "sbuf.h"
#include "probe-cfg.h"

struct scenario;

struct builtin_scenario {
  const char *name;
  const char *file;
  const char *text;
};
extern const struct builtin_scenario builtin_scenarios[];
extern const size_t n_builtin_scenarios;

/* Parse a scenario.  Returns NULL and writes "FILE:LINE: message" to
 * err on a syntax error.
 */
extern struct scenario *scenario_parse (const char *name, const char *file,
                                        const char *text,
                                        struct error *err);
extern void scenario_free (struct scenario *sc);
extern const char *scenario_name (const struct scenario *sc);
extern const char *scenario_description (const struct scenario *sc);

enum result { RES_OK, RES_NOT_OK, RES_SKIP };

struct scenario_result {
  enum result res;
  struct sbuf reason;           /* skip reason or failure diagnostic */
  struct sbuf trace;            /* the messages exchanged */
  struct sbuf observed;         /* "observe" output, "" if none */
  struct sbuf notes;            /* "note ..." and "deviation ..." lines,
                                 * printed even on success */
  /* A "judge" step that failed: the property ("P0".."P5", or "strict"
   * for a note or deviation under --strict) and the model rule; NULL
   * otherwise.
   */
  const char *prop;
  const char *rule;
  unsigned njudged;             /* "judge" steps run (not skipped) */
};
extern void scenario_run (const struct scenario *sc,
                          const struct probe_cfg *cfg,
                          struct scenario_result *r);
extern void scenario_result_free (struct scenario_result *r);

/* The language summary for --help, made from the keyword table
 * (scenario-keywords.c).
 */
extern void scenario_language_help (FILE *fp);

#endif /* TLSGUARD_PROBE_SCENARIO_H */
