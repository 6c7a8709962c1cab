/* tlsguard test harness: nbd-probe's TAP output.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 */

#include <config.h>

#include <stdio.h>
#include <string.h>

#include "tap.h"

/* Print text with each line prefixed (to fp). */
void
print_prefixed (FILE *fp, const char *prefix, const char *text)
{
  const char *p = text;

  while (p && *p) {
    const char *eol = strchr (p, '\n');
    int len = eol ? (int) (eol - p) : (int) strlen (p);

    fprintf (fp, "%s%.*s\n", prefix, len, p);
    p = eol ? eol + 1 : NULL;
  }
}
