/* tlsguard test harness: the one error convention, and allocation.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Every harness function that can fail returns -1 (or NULL) and says
 * why in one line, in a struct error: either one its caller passes as
 * the last argument (struct error *err), or, for an object that is used
 * across many calls and fails later (a session, a transport), one it
 * carries as its member "err".  Why this one: a test wants exactly one
 * line naming what failed and with which bytes, at the point where it
 * decides what to print; a fixed buffer needs no allocation on the
 * failure path and no free, and one type replaces the (buffer, length)
 * pairs, getters and status enums the tools used to mix.
 *
 * Not errors:
 * - running out of memory.  No tool can do anything useful then, so
 *   xmalloc and the others print the program name and exit with
 *   status 2 (the harness's "could not run" status).
 * - the wire codec's decode verdicts (enum wire_status in wire.h).
 *   WIRE_SHORT means "read more bytes" and the other codes are what the
 *   spec model and the tests judge, so they are data, not failures.
 *
 * One deliberate exception: the thin wrappers of system calls in
 * transport.h (tport_connect_*, tport_listen_*, tport_new) return -1
 * with errno set, like the calls they wrap, so that a caller can tell
 * ECONNREFUSED from ENOENT and word the message for its own context.
 */

#ifndef TLSGUARD_ERROR_H
#define TLSGUARD_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#define ERROR_MAX 1024

struct error {
  char msg[ERROR_MAX];          /* "" when nothing failed */
};

/* Replace err's message (err may be NULL: the message is dropped).
 * Always returns -1, so that "return error_set (err, ...);" reads as
 * what it does.
 */
extern int error_set (struct error *err, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
extern int error_setv (struct error *err, const char *fmt, va_list ap)
  __attribute__ ((format (printf, 2, 0)));

/* The name error messages and allocation failures are reported under
 * (each tool sets it from argv[0] in main; default "nbd-harness").
 */
extern const char *error_progname;

/* Allocation that cannot fail: on failure they print
 * "PROGNAME: out of memory" and exit (2).
 */
extern void *xmalloc (size_t n);
extern void *xcalloc (size_t nmemb, size_t size);
extern void *xrealloc (void *p, size_t n);
extern char *xstrdup (const char *s);
extern void *xmemdup (const void *p, size_t n);
/* What they do on failure, for a size that cannot be allocated. */
extern void xalloc_die (void) __attribute__ ((noreturn));

#endif /* TLSGUARD_ERROR_H */
