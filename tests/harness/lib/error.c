/* tlsguard test harness: the one error convention, and allocation.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

const char *error_progname = "nbd-harness";

int
error_setv (struct error *err, const char *fmt, va_list ap)
{
  if (err != NULL)
    vsnprintf (err->msg, sizeof err->msg, fmt, ap);
  return -1;
}

int
error_set (struct error *err, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  error_setv (err, fmt, ap);
  va_end (ap);
  return -1;
}

void
xalloc_die (void)
{
  fprintf (stderr, "%s: out of memory\n", error_progname);
  exit (2);
}

void *
xmalloc (size_t n)
{
  void *p = malloc (n ? n : 1);

  if (p == NULL)
    xalloc_die ();
  return p;
}

void *
xcalloc (size_t nmemb, size_t size)
{
  void *p = calloc (nmemb ? nmemb : 1, size ? size : 1);

  if (p == NULL)
    xalloc_die ();
  return p;
}

void *
xrealloc (void *p, size_t n)
{
  p = realloc (p, n ? n : 1);
  if (p == NULL)
    xalloc_die ();
  return p;
}

char *
xstrdup (const char *s)
{
  char *p = strdup (s);

  if (p == NULL)
    xalloc_die ();
  return p;
}

void *
xmemdup (const void *p, size_t n)
{
  void *q = xmalloc (n);

  memcpy (q, p, n);
  return q;
}
