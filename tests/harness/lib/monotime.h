/* tlsguard test harness: the monotonic clock, for deadlines and rates.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 */

#ifndef TLSGUARD_MONOTIME_H
#define TLSGUARD_MONOTIME_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds and in seconds. */
extern int64_t monotime_ms (void);
extern double monotime_s (void);

#endif /* TLSGUARD_MONOTIME_H */
