/* tlsguard test harness: a growable text buffer.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 */

#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "sbuf.h"

static void
sbuf_reserve (struct sbuf *b, size_t more)
{
  size_t want = b->len + more + 1;
  char *p;

  if (want <= b->cap)
    return;
  if (want < 256)
    want = 256;
  if (want < b->cap * 2)
    want = b->cap * 2;
  p = xrealloc (b->s, want);
  b->s = p;
  b->cap = want;
}

void
sbuf_free (struct sbuf *b)
{
  free (b->s);
  b->s = NULL;
  b->len = b->cap = 0;
}

void
sbuf_add (struct sbuf *b, const char *str)
{
  size_t n = strlen (str);

  sbuf_reserve (b, n);
  memcpy (b->s + b->len, str, n + 1);
  b->len += n;
}

void
sbuf_vprintf (struct sbuf *b, const char *fmt, va_list ap)
{
  va_list ap2;
  int n;

  va_copy (ap2, ap);
  n = vsnprintf (NULL, 0, fmt, ap2);
  va_end (ap2);
  if (n < 0)
    return;
  sbuf_reserve (b, n);
  vsnprintf (b->s + b->len, n + 1, fmt, ap);
  b->len += n;
}

void
sbuf_printf (struct sbuf *b, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  sbuf_vprintf (b, fmt, ap);
  va_end (ap);
}

void
sbuf_quote (struct sbuf *b, const void *p, size_t len, size_t max)
{
  const unsigned char *c = p;
  size_t i, n = len < max ? len : max;

  sbuf_add (b, "\"");
  for (i = 0; i < n; ++i) {
    if (c[i] == '"' || c[i] == '\\')
      sbuf_printf (b, "\\%c", c[i]);
    else if (c[i] >= 0x20 && c[i] < 0x7f)
      sbuf_printf (b, "%c", c[i]);
    else
      sbuf_printf (b, "\\x%02x", c[i]);
  }
  sbuf_add (b, "\"");
  if (n < len)
    sbuf_printf (b, "...(%zu bytes)", len);
}

void
sbuf_hex (struct sbuf *b, const void *p, size_t len, size_t max)
{
  const unsigned char *c = p;
  size_t i, n = len < max ? len : max;

  for (i = 0; i < n; ++i)
    sbuf_printf (b, "%02x", c[i]);
  if (n < len)
    sbuf_printf (b, "...(%zu bytes)", len);
}

