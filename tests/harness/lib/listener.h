/* tlsguard test harness: the listening side shared by nbd-badserver
 * and nbd-mitm (socket, pidfile, fork per connection, SIGTERM) and
 * their stderr logging.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 */

#ifndef TLSGUARD_LISTENER_H
#define TLSGUARD_LISTENER_H

#include <stdbool.h>

/* Set by the program before it logs anything. */
extern const char *log_progname;
extern int log_verbose;

/* One line on stderr: "PROG[PID]: message".  log_debug prints only
 * with -v.
 */
extern void log_msg (const char *fmt, ...)
  __attribute__((format (printf, 1, 2)));
extern void log_debug (const char *fmt, ...)
  __attribute__((format (printf, 1, 2)));

struct listener_cfg {
  const char *unix_path;        /* exactly one of unix_path and tcp */
  const char *tcp;              /* "HOST:PORT" on a loopback address */
  const char *pidfile;          /* written once listening, or NULL */
  bool once;                    /* serve one connection in-process */
};

/* Handle one accepted connection.  Owns fd.  Returns an exit status
 * for the connection (0 = it went as expected).
 */
typedef int (*listener_fn) (int fd, void *opaque);

/* Listen, write the pidfile, and serve connections until SIGTERM (or
 * after one connection with once).  Each connection runs fn in a
 * forked child (in-process with once).
 *
 * Returns the status the caller should exit with after freeing its
 * own resources: in the parent 0 after a clean SIGTERM shutdown (1 on
 * a listening error); in a forked child the status fn returned, with
 * *is_child set.
 */
extern int listener_run (const struct listener_cfg *cfg,
                         listener_fn fn, void *opaque, bool *is_child);

#endif /* TLSGUARD_LISTENER_H */
