/* tlsguard: escaping of client-controlled strings for logs and JSON.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Pure C: no nbdkit headers, no allocation.  Every export name (and
 * any other string a client chooses) goes through tg_log_quote before
 * it reaches a log line, and through tg_buf_json_string before it
 * reaches the audit file.
 */

#ifndef TLSGUARD_ESCAPE_H
#define TLSGUARD_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

/* Log lines show at most this many bytes of a client string. */
#define TG_LOG_CUT 256

/* The buffer tg_log_quote needs for any input, with the NUL: two
 * quotes, four bytes per input byte, and the cut marker.
 */
#define TG_LOG_QUOTED_MAX \
  (2 + 4 * TG_LOG_CUT + sizeof "... (18446744073709551615 bytes)")

/* Write the log form of the n bytes at s into dst (dstsize bytes,
 * always NUL-terminated) and return its length.
 *
 * The form is a double-quoted string.  Printable ASCII (0x20 to 0x7e)
 * appears as is, except '"' and '\', which like every other byte
 * appear as \xHH (two lowercase hex digits).  So the closing quote is
 * always the filter's own, and the result holds no control byte.
 *
 * full is the length of the original string (n may be less, for a
 * copy that was already cut).  If full or n is over TG_LOG_CUT, only
 * the first TG_LOG_CUT bytes (at most n) are shown, followed by the
 * marker "... (FULL bytes)" after the closing quote:
 *
 *   "abc"                    (3 bytes)
 *   "a\x0ab\x22"             (the 4 bytes a, newline, b, quote)
 *   "aaaa...aaaa"... (5000 bytes)
 *
 * If dstsize is too small the output is cut short (still
 * NUL-terminated); TG_LOG_QUOTED_MAX is always enough.
 */
extern size_t tg_log_quote (char *dst, size_t dstsize,
                            const char *s, size_t n, size_t full);

/* An append-only byte buffer over caller-owned memory.  Appending past
 * the capacity sets overflow and appends nothing more; the contents
 * are never NUL-terminated (use len).
 */
struct tg_buf {
  char *p;
  size_t len;
  size_t cap;
  bool overflow;
};

extern void tg_buf_init (struct tg_buf *b, char *p, size_t cap);
extern void tg_buf_add (struct tg_buf *b, const char *s, size_t n);
extern void tg_buf_str (struct tg_buf *b, const char *s);
extern void tg_buf_u64 (struct tg_buf *b, unsigned long long v);
extern void tg_buf_i64 (struct tg_buf *b, long long v);

/* The most bytes tg_buf_json_string appends for n input bytes. */
#define TG_JSON_STRING_MAX(n) (2 + 6 * (size_t) (n))

/* Append the n bytes at s as a JSON string, quotes included.  The
 * output is pure printable ASCII:
 *
 * - printable ASCII as is, except '"' and '\' as \" and \\;
 * - other ASCII bytes (0x00 to 0x1f, 0x7f) as \u00hh;
 * - every well-formed UTF-8 sequence (RFC 3629: shortest form, no
 *   surrogates, at most U+10FFFF) as \uhhhh, or a surrogate pair
 *   above U+FFFF; so a JSON parser gives back exactly the client's
 *   code points, which encode to exactly the client's bytes;
 * - every other byte b (0x80 to 0xff, not part of a well-formed
 *   sequence) as the lone low surrogate \udcXX with XX = b, the
 *   "surrogateescape" form of PEP 383.  Valid UTF-8 never yields a
 *   lone surrogate, so the form is unambiguous; in Python,
 *   json.loads (line)["export"].encode ("utf-8", "surrogateescape")
 *   gives back the client's bytes exactly.
 */
extern void tg_buf_json_string (struct tg_buf *b, const char *s, size_t n);

/* Length of the well-formed UTF-8 sequence at s (n > 0 bytes
 * available), 1 to 4, with its code point in *cp; 0 if s does not
 * start with one.
 */
extern size_t tg_utf8_sequence (const unsigned char *s, size_t n,
                                unsigned *cp);

#endif /* TLSGUARD_ESCAPE_H */
