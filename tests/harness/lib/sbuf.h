/* tlsguard test harness: a growable text buffer.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 */

#ifndef TLSGUARD_SBUF_H
#define TLSGUARD_SBUF_H

#include <stdarg.h>
#include <stddef.h>

/* Zero-initialise ("struct sbuf b = { 0 };") before use.  Growing it
 * cannot fail (xrealloc, see error.h).
 */
struct sbuf {
  char *s;                      /* NUL-terminated once anything is added */
  size_t len, cap;
};

extern void sbuf_free (struct sbuf *b);
extern void sbuf_add (struct sbuf *b, const char *str);
extern void sbuf_printf (struct sbuf *b, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
extern void sbuf_vprintf (struct sbuf *b, const char *fmt, va_list ap)
  __attribute__ ((format (printf, 2, 0)));
/* Append bytes from the wire as a quoted, escaped string ("..."),
 * shortened to at most max bytes of input.
 */
extern void sbuf_quote (struct sbuf *b, const void *p, size_t len,
                        size_t max);
/* Append bytes as hex, at most max of them. */
extern void sbuf_hex (struct sbuf *b, const void *p, size_t len, size_t max);

#endif /* TLSGUARD_SBUF_H */
