/* tlsguard test harness: what nbd-probe was asked to do (see probe-cfg.h).
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 */

#include <config.h>

#include "probe-cfg.h"

const char *
mode_name (enum probe_mode m)
{
  switch (m) {
  case MODE_NOTLS: return "NOTLS";
  case MODE_SELECTIVETLS: return "SELECTIVETLS";
  case MODE_FORCEDTLS: return "FORCEDTLS";
  default: return "unknown";
  }
}
