/* tlsguard test harness: the command line the tools share: loading
 * the credentials it names (in libtransport, which has gnutls).
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "error.h"
#include "transport.h"

struct tport_creds *
cli_creds (const struct cli_tool *tool, const struct tport_creds_cfg *tls,
           enum tport_role role)
{
  struct error err = { "" };
  struct tport_creds *c = tport_creds_new (role, tls, &err);

  if (c == NULL) {
    fprintf (stderr, "%s: cannot load TLS credentials for the %s role: %s\n",
             tool->name, role == TPORT_CLIENT ? "client" : "server", err.msg);
    exit (CLI_EXIT_USAGE);
  }
  return c;
}
