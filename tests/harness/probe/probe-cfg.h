/* tlsguard test harness: what nbd-probe was asked to do, and the server mode.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Filled by nbd-probe.c from the command line (and the detected mode);
 * read by every other part of the probe.  Errors (error.h): none;
 * nothing here fails.
 */

#ifndef TLSGUARD_PROBE_CONFIG_H
#define TLSGUARD_PROBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "transport.h"

enum probe_mode {
  MODE_UNKNOWN = 0,
  MODE_NOTLS = 1,
  MODE_SELECTIVETLS = 2,
  MODE_FORCEDTLS = 4,
};
#define MODE_TLS (MODE_SELECTIVETLS | MODE_FORCEDTLS)
extern const char *mode_name (enum probe_mode m);

#define PROBE_MAX_CONTEXTS 16

struct probe_cfg {
  const char *unix_path;        /* --unix, or NULL */
  const char *tcp;              /* --tcp, or NULL */
  struct tport_creds *creds;    /* NULL: no TLS credentials */
  const char *export;           /* --export (default "") */
  const char *export2;          /* --export2 */
  const char *tls_only_export;  /* --tls-only-export, or NULL */
  const char *contexts[PROBE_MAX_CONTEXTS];
  size_t ncontexts;             /* at least 1 */
  int timeout_ms;
  int verbose;
  bool strict;                  /* --strict: model notes fail too */
  enum probe_mode mode;         /* detected */
};

#endif /* TLSGUARD_PROBE_CONFIG_H */
