/* tlsguard test harness: byte transport over a plain fd or a gnutls
 * session, with STARTTLS upgrade of a live connection.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Credentials use nbdkit's and libnbd's file names:
 *   PSK:   a file of "username:hexkey" lines, and a username
 *          (client side; the server side accepts any user in the file);
 *   X.509: a directory holding ca-cert.pem, and client-cert.pem +
 *          client-key.pem (client role) or server-cert.pem +
 *          server-key.pem (server role).
 *
 * Errors (error.h): tport_creds_new says why it failed in the struct
 * error it is passed; the connection functions return -1 and leave
 * the message in the tport (tport_error) and errno set; the socket
 * helpers set only errno.  ETIMEDOUT means the deadline passed; a
 * clean EOF from the peer is reported as a short read (return value 0).
 */

#ifndef TLSGUARD_TRANSPORT_H
#define TLSGUARD_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

enum tport_role { TPORT_CLIENT, TPORT_SERVER };

struct tport_creds_cfg {
  const char *psk_file;         /* PSK: file of user:hexkey lines */
  const char *psk_username;     /* PSK client username (default "qemu") */
  const char *x509_dir;         /* X.509: directory of PEM files */
  bool verify_peer;             /* X.509 server: require a client cert */
};
/* If both psk_file and x509_dir are set, PSK is used (as nbdkit does
 * with --tls-psk).  The X.509 client verifies the server's chain
 * against ca-cert.pem but does not check the hostname; it presents
 * client-cert.pem only if that file exists.
 */

struct tport_creds;
/* Load credentials for a role.  Returns NULL and says why in err on
 * failure (error.h).
 */
extern struct tport_creds *tport_creds_new (enum tport_role role,
                                            const struct tport_creds_cfg *cfg,
                                            struct error *err);
extern void tport_creds_free (struct tport_creds *c);

struct tport;
/* Take ownership of a connected socket.  Plaintext until starttls.
 * The fd is put in O_NONBLOCK mode (all waits go through poll); do
 * not read or write it directly while the tport owns it.
 */
extern struct tport *tport_new (int fd);
/* Close (after a TLS bye, best effort) and free. */
extern void tport_free (struct tport *t);
extern int tport_fd (const struct tport *t);
extern bool tport_is_tls (const struct tport *t);
extern const char *tport_error (const struct tport *t);

/* Upgrade the connection to TLS in the given role, with a handshake
 * deadline in milliseconds.  On failure the connection is unusable.
 */
extern int tport_starttls (struct tport *t, struct tport_creds *c,
                           enum tport_role role, int timeout_ms);

/* Read exactly len bytes, waiting at most timeout_ms in total
 * (-1: no limit).  Returns len, 0..len-1 if the peer closed first
 * (the bytes read are in buf), or -1 on error (errno ETIMEDOUT on a
 * deadline).
 */
extern ssize_t tport_read (struct tport *t, void *buf, size_t len,
                           int timeout_ms);
/* Write all of buf.  Returns 0 or -1. */
extern int tport_write (struct tport *t, const void *buf, size_t len);
/* Wait until data is readable (or buffered inside gnutls) or the peer
 * closed.  Returns 1 readable/closed, 0 on timeout, -1 on error.
 */
extern int tport_wait_readable (struct tport *t, int timeout_ms);

/* Deadlines on CLOCK_MONOTONIC, in ms.  tport_deadline: timeout_ms from
 * now, or -1 (none) if timeout_ms < 0.  tport_remaining_ms: what is
 * left of a deadline, 0 once it has passed, -1 (poll's "forever") for
 * none.
 */
extern int64_t tport_deadline (int timeout_ms);
extern int tport_remaining_ms (int64_t deadline);

/* Socket helpers.  Return a connected fd (a listening one, with
 * listening), or -1 with errno set.  A Unix socket's path is unlinked
 * before listening there; TCP addresses are "HOST:PORT" or
 * "[V6]:PORT", and the first address that works is used.
 */
extern int tport_open_unix (const char *path, bool listening);
extern int tport_open_tcp (const char *host_port, bool listening);
#define tport_connect_unix(path)      tport_open_unix ((path), false)
#define tport_listen_unix(path)       tport_open_unix ((path), true)
#define tport_connect_tcp(host_port)  tport_open_tcp ((host_port), false)
#define tport_listen_tcp(host_port)   tport_open_tcp ((host_port), true)

/* Set up gnutls logging to stderr at the given level (0 = off), and
 * ignore SIGPIPE.  Call once at program start.
 */
extern void tport_global_init (int log_level);

#endif /* TLSGUARD_TRANSPORT_H */
