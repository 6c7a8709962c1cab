/* tlsguard test harness: nbd-probe's TAP output (see tap.h).
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 */

#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"

void
tap_plan (unsigned long n)
{
  printf ("1..%lu\n", n);
}

void
tap_result (bool ok, unsigned long n, enum tap_directive dir,
            const char *reason, const char *fmt, ...)
{
  va_list ap;

  printf ("%s %lu - ", ok ? "ok" : "not ok", n);
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  switch (dir) {
  case TAP_NO_DIRECTIVE: break;
  case TAP_SKIP: printf (" # SKIP %s", reason); break;
  case TAP_TODO: printf (" # TODO %s", reason); break;
  }
  putchar ('\n');
}

void
tap_diag (const char *fmt, ...)
{
  va_list ap;

  fputs ("# ", stdout);
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  putchar ('\n');
}

static void
diag_text (FILE *fp, unsigned indent, const char *text)
{
  const char *p = text;

  while (p && *p) {
    const char *eol = strchr (p, '\n');
    int len = eol ? (int) (eol - p) : (int) strlen (p);

    fprintf (fp, "# %*s%.*s\n", (int) indent, "", len, p);
    p = eol ? eol + 1 : NULL;
  }
}

void
tap_diag_text (unsigned indent, const char *text)
{
  diag_text (stdout, indent, text);
}

void
tap_trace (unsigned indent, const char *text, const char *fmt, ...)
{
  va_list ap;

  fputs ("# ", stderr);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
  diag_text (stderr, indent, text);
}

void
tap_bail (const char *fmt, ...)
{
  va_list ap;

  fputs ("Bail out! ", stdout);
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  putchar ('\n');
}

void
tap_flush (void)
{
  fflush (stdout);
}
