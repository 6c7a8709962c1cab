/* tlsguard: escaping of client-controlled strings for logs and JSON.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 */

#include <config.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"

static const char hexdigits[] = "0123456789abcdef";

size_t
tg_log_quote (char *dst, size_t dstsize, const char *s, size_t n,
              size_t full)
{
  struct tg_buf b;
  size_t shown = n, i;
  bool cut = false;
  char marker[sizeof "... (18446744073709551615 bytes)"];

  if (dstsize == 0)
    return 0;
  if (s == NULL)
    shown = n = 0;
  if (full < n)
    full = n;
  if (shown > TG_LOG_CUT)
    shown = TG_LOG_CUT;
  if (full > shown)
    cut = true;

  tg_buf_init (&b, dst, dstsize - 1);   /* room for the NUL */
  tg_buf_add (&b, "\"", 1);
  for (i = 0; i < shown; ++i) {
    unsigned char c = s[i];

    if (c >= 0x20 && c <= 0x7e && c != '"' && c != '\\')
      tg_buf_add (&b, (const char *) &c, 1);
    else {
      char e[4] = { '\\', 'x', hexdigits[c >> 4], hexdigits[c & 15] };
      tg_buf_add (&b, e, 4);
    }
  }
  tg_buf_add (&b, "\"", 1);
  if (cut) {
    snprintf (marker, sizeof marker, "... (%zu bytes)", full);
    tg_buf_str (&b, marker);
  }
  dst[b.len] = '\0';
  return b.len;
}

void
tg_buf_init (struct tg_buf *b, char *p, size_t cap)
{
  b->p = p;
  b->len = 0;
  b->cap = cap;
  b->overflow = false;
}

void
tg_buf_add (struct tg_buf *b, const char *s, size_t n)
{
  if (b->overflow)
    return;
  if (n > b->cap - b->len) {
    /* All or nothing for what does not fit: a record is either whole
     * or marked as overflowed, never silently short.
     */
    b->overflow = true;
    return;
  }
  memcpy (b->p + b->len, s, n);
  b->len += n;
}

void
tg_buf_str (struct tg_buf *b, const char *s)
{
  tg_buf_add (b, s, strlen (s));
}

void
tg_buf_u64 (struct tg_buf *b, unsigned long long v)
{
  char tmp[24];
  int r = snprintf (tmp, sizeof tmp, "%llu", v);

  tg_buf_add (b, tmp, (size_t) r);
}

void
tg_buf_i64 (struct tg_buf *b, long long v)
{
  char tmp[24];
  int r = snprintf (tmp, sizeof tmp, "%lld", v);

  tg_buf_add (b, tmp, (size_t) r);
}

size_t
tg_utf8_sequence (const unsigned char *s, size_t n, unsigned *cp)
{
  unsigned c = s[0], lo = 0x80, hi = 0xbf, v;
  size_t len, i;

  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  if (c < 0xc2 || c > 0xf4)
    return 0;                   /* 0x80-0xc1, 0xf5-0xff */
  len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
  v = c & (0x7f >> len);        /* the lead byte's payload bits */
  /* After these lead bytes the second byte's range is narrower: no
   * overlong forms (E0, F0), no surrogates (ED), nothing above
   * U+10FFFF (F4).
   */
  switch (c) {
  case 0xe0: lo = 0xa0; break;
  case 0xed: hi = 0x9f; break;
  case 0xf0: lo = 0x90; break;
  case 0xf4: hi = 0x8f; break;
  }

  if (n < len)
    return 0;
  for (i = 1; i < len; ++i) {
    unsigned t = s[i];

    /* Only the second byte has the narrowed range. */
    if (t < (i == 1 ? lo : 0x80) || t > (i == 1 ? hi : 0xbf))
      return 0;
    v = (v << 6) | (t & 0x3f);
  }
  *cp = v;
  return len;
}

static void
json_u (struct tg_buf *b, unsigned v)
{
  char e[6] = { '\\', 'u', hexdigits[(v >> 12) & 15], hexdigits[(v >> 8) & 15],
                hexdigits[(v >> 4) & 15], hexdigits[v & 15] };

  tg_buf_add (b, e, 6);
}

void
tg_buf_json_string (struct tg_buf *b, const char *str, size_t n)
{
  const unsigned char *s = (const unsigned char *) str;
  size_t i = 0;

  tg_buf_add (b, "\"", 1);
  while (i < n) {
    unsigned c = s[i], cp;
    size_t len;

    if (c >= 0x20 && c <= 0x7e) {
      if (c == '"' || c == '\\')
        tg_buf_add (b, "\\", 1);
      tg_buf_add (b, (const char *) &s[i], 1);
      i++;
      continue;
    }
    if (c < 0x80) {             /* C0 controls and DEL */
      json_u (b, c);
      i++;
      continue;
    }
    len = tg_utf8_sequence (&s[i], n - i, &cp);
    if (len == 0) {             /* not UTF-8: surrogateescape */
      json_u (b, 0xdc00 + c);
      i++;
      continue;
    }
    if (cp > 0xffff) {
      cp -= 0x10000;
      json_u (b, 0xd800 + (cp >> 10));
      json_u (b, 0xdc00 + (cp & 0x3ff));
    }
    else
      json_u (b, cp);
    i += len;
  }
  tg_buf_add (b, "\"", 1);
}
