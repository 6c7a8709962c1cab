/* tlsguard test harness: generated option sequences judged by the spec
 * model (random.c).
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Errors (error.h): nothing here returns one; a sequence the harness
 * cannot run is a "not ok" line that says it is not a verdict.
 */

#ifndef TLSGUARD_PROBE_RANDOM_H
#define TLSGUARD_PROBE_RANDOM_H

#include <stdbool.h>
#include <stdint.h>

#include "probe-cfg.h"

struct random_opts {
  unsigned long n;              /* --random N */
  uint64_t seed;                /* --seed S */
  unsigned max_steps;           /* --max-steps K */
  const char *reproducer;       /* --reproducer FILE, or NULL */
  bool shrink;                  /* delta-debug the first violation of
                                 * each kind (default true) */
};
#define RANDOM_DEFAULT_MAX_STEPS 12

/* A seed for when --seed is not given: from the clock and the pid,
 * at most 12 digits.
 */
extern uint64_t random_clock_seed (void);
/* --print-sequences: print the opts->n sequences of opts->seed as
 * scenario scripts.  tls_only: the sequences may name $TLSONLY
 * (--tls-only-export); without it they are the same as before that
 * option existed.
 */
extern void random_print_sequences (const struct random_opts *opts,
                                    bool tls_only);
/* Run opts->n sequences against the server (cfg->mode detected),
 * printing TAP.  Returns the exit status: 0, or 1 on a violation or
 * a sequence that could not be run.
 */
extern int random_run (const struct probe_cfg *cfg,
                       const struct random_opts *opts);

#endif /* TLSGUARD_PROBE_RANDOM_H */
