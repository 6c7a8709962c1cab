/* tlsguard test harness: byte transport over a plain fd or a gnutls
 * session, with STARTTLS upgrade of a live connection.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * The fd is switched to non-blocking mode when the tport takes it, and
 * every wait goes through poll(), so that reads and the TLS handshake
 * honour their deadlines.  Plaintext reads never read more than the
 * caller asked for, so no plaintext bytes can be stranded in a buffer
 * when the connection is upgraded with STARTTLS.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <gnutls/gnutls.h>

#include "error.h"
#include "monotime.h"
#include "transport.h"

#define PSK_PRIORITY  "NORMAL:+ECDHE-PSK:+DHE-PSK:+PSK"
#define X509_PRIORITY "NORMAL"

/* How long tport_free waits to push out the close_notify alert. */
#define BYE_TIMEOUT_MS 1000

struct tport_creds {
  enum tport_role role;
  bool psk;                     /* else X.509 */
  bool verify_peer;             /* X.509 server */
  gnutls_psk_client_credentials_t psk_client;
  gnutls_psk_server_credentials_t psk_server;
  gnutls_certificate_credentials_t x509;
};

struct tport {
  int fd;
  gnutls_session_t session;     /* NULL until tport_starttls succeeds */
  struct error err;             /* the last failure (tport_error) */
};

/* --- helpers -------------------------------------------------------- */

#define TERR(t, ...) error_set (&(t)->err, __VA_ARGS__)

/* Say that what failed, with errno's message, and keep errno.
 * Returns -1.
 */
static int
terr_errno (struct tport *t, const char *what)
{
  int e = errno;

  TERR (t, "%s: %s", what, strerror (e));
  errno = e;
  return -1;
}

int64_t
tport_deadline (int timeout_ms)
{
  return timeout_ms < 0 ? -1 : monotime_ms () + timeout_ms;
}

int
tport_remaining_ms (int64_t deadline)
{
  int64_t r;

  if (deadline < 0)
    return -1;
  r = deadline - monotime_ms ();
  if (r < 0)
    r = 0;
  if (r > INT32_MAX)
    r = INT32_MAX;
  return (int) r;
}

/* Wait for events on fd until the deadline.  Returns 1 when ready, 0
 * on timeout, -1 on error.
 */
static int
wait_fd (int fd, short events, int64_t deadline)
{
  struct pollfd pfd;
  int r;

  for (;;) {
    pfd.fd = fd;
    pfd.events = events;
    pfd.revents = 0;
    r = poll (&pfd, 1, tport_remaining_ms (deadline));
    if (r > 0)
      return 1;
    if (r == 0)
      return 0;
    if (errno != EINTR)
      return -1;
  }
}

static int
set_nonblock (int fd)
{
  int fl = fcntl (fd, F_GETFL);

  if (fl == -1)
    return -1;
  if (fl & O_NONBLOCK)
    return 0;
  return fcntl (fd, F_SETFL, fl | O_NONBLOCK);
}

/* --- global ---------------------------------------------------------- */

static void
log_to_stderr (int level, const char *msg)
{
  size_t n = strlen (msg);

  /* gnutls messages usually end with a newline. */
  fprintf (stderr, "gnutls[%d]: %s%s", level, msg,
           n > 0 && msg[n-1] == '\n' ? "" : "\n");
}

void
tport_global_init (int log_level)
{
  signal (SIGPIPE, SIG_IGN);
  if (log_level > 0) {
    gnutls_global_set_log_function (log_to_stderr);
    gnutls_global_set_log_level (log_level);
  }
}

/* --- credentials ----------------------------------------------------- */

static bool
is_hex_key (const char *s, size_t len)
{
  size_t i;

  if (len == 0 || len % 2 != 0)
    return false;
  for (i = 0; i < len; ++i)
    if (!((s[i] >= '0' && s[i] <= '9') ||
          (s[i] >= 'a' && s[i] <= 'f') ||
          (s[i] >= 'A' && s[i] <= 'F')))
      return false;
  return true;
}

/* Find username in a PSK file and set the client credentials. */
static int
load_psk_client (struct tport_creds *c, const char *file,
                 const char *username, struct error *err)
{
  FILE *fp;
  char *line = NULL;
  size_t cap = 0, ulen = strlen (username);
  ssize_t n;
  int r, ret = -1;
  bool found = false;

  fp = fopen (file, "re");
  if (fp == NULL) {
    error_set (err, "%s: %s", file, strerror (errno));
    return -1;
  }
  while ((n = getline (&line, &cap, fp)) != -1) {
    while (n > 0 && (line[n-1] == '\n' || line[n-1] == '\r'))
      line[--n] = '\0';
    if ((size_t) n > ulen && strncmp (line, username, ulen) == 0 &&
        line[ulen] == ':') {
      const char *hex = line + ulen + 1;
      gnutls_datum_t key;

      found = true;
      if (!is_hex_key (hex, strlen (hex))) {
        error_set (err, "%s: key for user '%s' is not valid hex",
                   file, username);
        break;
      }
      key.data = (unsigned char *) hex;
      key.size = strlen (hex);
      r = gnutls_psk_set_client_credentials (c->psk_client, username, &key,
                                             GNUTLS_PSK_KEY_HEX);
      if (r < 0)
        error_set (err, "gnutls_psk_set_client_credentials: %s",
                   gnutls_strerror (r));
      else
        ret = 0;
      break;
    }
  }
  if (!found)
    error_set (err, "%s: no key for user '%s'", file, username);
  if (line) {
    memset (line, 0, cap);      /* do not leave keys lying around */
    free (line);
  }
  fclose (fp);
  return ret;
}

static int
load_x509 (struct tport_creds *c, enum tport_role role, const char *dir,
           struct error *err)
{
  char ca[4096], cert[4096], key[4096];
  const char *who = role == TPORT_CLIENT ? "client" : "server";
  bool need_ca = role == TPORT_CLIENT || c->verify_peer;
  int r;

  snprintf (ca, sizeof ca, "%s/ca-cert.pem", dir);
  snprintf (cert, sizeof cert, "%s/%s-cert.pem", dir, who);
  snprintf (key, sizeof key, "%s/%s-key.pem", dir, who);

  r = gnutls_certificate_allocate_credentials (&c->x509);
  if (r < 0) {
    error_set (err, "gnutls_certificate_allocate_credentials: %s",
               gnutls_strerror (r));
    return -1;
  }

  if (need_ca || access (ca, R_OK) == 0) {
    r = gnutls_certificate_set_x509_trust_file (c->x509, ca,
                                                GNUTLS_X509_FMT_PEM);
    if (r < 0) {
      error_set (err, "%s: %s", ca, gnutls_strerror (r));
      return -1;
    }
    if (r == 0 && need_ca) {
      error_set (err, "%s: no CA certificates", ca);
      return -1;
    }
  }

  /* The server needs its certificate; a client sends one if it has
   * one (as libnbd does).
   */
  if (role == TPORT_SERVER || access (cert, R_OK) == 0) {
    r = gnutls_certificate_set_x509_key_file (c->x509, cert, key,
                                              GNUTLS_X509_FMT_PEM);
    if (r < 0) {
      error_set (err, "%s, %s: %s", cert, key, gnutls_strerror (r));
      return -1;
    }
  }

  if (role == TPORT_SERVER)
    gnutls_certificate_set_known_dh_params (c->x509,
                                            GNUTLS_SEC_PARAM_MEDIUM);
  return 0;
}

struct tport_creds *
tport_creds_new (enum tport_role role, const struct tport_creds_cfg *cfg,
                 struct error *err)
{
  struct tport_creds *c;
  int r;

  if (cfg == NULL || (cfg->psk_file == NULL && cfg->x509_dir == NULL)) {
    error_set (err, "no TLS credentials: set a PSK file or an "
               "X.509 directory");
    errno = EINVAL;
    return NULL;
  }
  c = xcalloc (1, sizeof *c);
  c->role = role;
  c->verify_peer = cfg->verify_peer;

  /* PSK wins if both are given, as with nbdkit --tls-psk. */
  if (cfg->psk_file) {
    c->psk = true;
    if (role == TPORT_CLIENT) {
      const char *user = cfg->psk_username ? cfg->psk_username : "qemu";

      r = gnutls_psk_allocate_client_credentials (&c->psk_client);
      if (r < 0) {
        error_set (err, "gnutls_psk_allocate_client_credentials: %s",
                   gnutls_strerror (r));
        goto fail;
      }
      if (load_psk_client (c, cfg->psk_file, user, err) == -1)
        goto fail;
    }
    else {
      if (access (cfg->psk_file, R_OK) == -1) {
        error_set (err, "%s: %s", cfg->psk_file, strerror (errno));
        goto fail;
      }
      r = gnutls_psk_allocate_server_credentials (&c->psk_server);
      if (r < 0) {
        error_set (err, "gnutls_psk_allocate_server_credentials: %s",
                   gnutls_strerror (r));
        goto fail;
      }
      r = gnutls_psk_set_server_credentials_file (c->psk_server,
                                                  cfg->psk_file);
      if (r < 0) {
        error_set (err, "%s: %s", cfg->psk_file, gnutls_strerror (r));
        goto fail;
      }
      gnutls_psk_set_server_known_dh_params (c->psk_server,
                                             GNUTLS_SEC_PARAM_MEDIUM);
    }
  }
  else {
    if (load_x509 (c, role, cfg->x509_dir, err) == -1)
      goto fail;
  }
  return c;

 fail:
  tport_creds_free (c);
  errno = EINVAL;
  return NULL;
}

void
tport_creds_free (struct tport_creds *c)
{
  if (c == NULL)
    return;
  if (c->psk_client)
    gnutls_psk_free_client_credentials (c->psk_client);
  if (c->psk_server)
    gnutls_psk_free_server_credentials (c->psk_server);
  if (c->x509)
    gnutls_certificate_free_credentials (c->x509);
  free (c);
}

/* --- connections ----------------------------------------------------- */

struct tport *
tport_new (int fd)
{
  struct tport *t;

  if (fd < 0) {
    errno = EBADF;
    return NULL;
  }
  if (set_nonblock (fd) == -1)
    return NULL;
  t = xcalloc (1, sizeof *t);
  t->fd = fd;
  return t;
}

void
tport_free (struct tport *t)
{
  int saved_errno = errno;

  if (t == NULL)
    return;
  if (t->session) {
    int64_t deadline = tport_deadline (BYE_TIMEOUT_MS);
    int r;

    /* Best effort close_notify; do not wait for the peer's. */
    for (;;) {
      r = gnutls_bye (t->session, GNUTLS_SHUT_WR);
      if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED)
        break;
      if (wait_fd (t->fd, gnutls_record_get_direction (t->session)
                   ? POLLOUT : POLLIN, deadline) <= 0)
        break;
    }
    gnutls_deinit (t->session);
  }
  if (t->fd >= 0)
    close (t->fd);
  free (t);
  errno = saved_errno;
}

int
tport_fd (const struct tport *t)
{
  return t->fd;
}

bool
tport_is_tls (const struct tport *t)
{
  return t->session != NULL;
}

const char *
tport_error (const struct tport *t)
{
  return t->err.msg;
}

/* Say why the handshake on s failed with the fatal error r, and set
 * errno.
 */
static void
handshake_failed (struct tport *t, gnutls_session_t s, int r)
{
  if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
    gnutls_datum_t out = { NULL, 0 };
    unsigned status = gnutls_session_get_verify_cert_status (s);

    if (gnutls_certificate_verification_status_print
        (status, GNUTLS_CRT_X509, &out, 0) == 0) {
      TERR (t, "TLS handshake: %s: %s", gnutls_strerror (r),
            (const char *) out.data);
      gnutls_free (out.data);
    }
    else
      TERR (t, "TLS handshake: %s", gnutls_strerror (r));
  }
  else if (r == GNUTLS_E_FATAL_ALERT_RECEIVED)
    TERR (t, "TLS handshake: %s: %s", gnutls_strerror (r),
          gnutls_alert_get_name (gnutls_alert_get (s)));
  else
    TERR (t, "TLS handshake: %s", gnutls_strerror (r));
  errno = r == GNUTLS_E_PREMATURE_TERMINATION ? ECONNRESET : EPROTO;
}

/* Run the handshake on s to its end or the deadline.  Returns 0, or
 * -1 with the error set.
 */
static int
handshake (struct tport *t, gnutls_session_t s, int64_t deadline,
           int timeout_ms)
{
  for (;;) {
    int r = gnutls_handshake (s);

    if (r == GNUTLS_E_SUCCESS)
      return 0;
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
      int w = wait_fd (t->fd, gnutls_record_get_direction (s)
                       ? POLLOUT : POLLIN, deadline);
      if (w == 0) {
        TERR (t, "TLS handshake: timed out after %d ms", timeout_ms);
        errno = ETIMEDOUT;
        return -1;
      }
      if (w == -1)
        return terr_errno (t, "TLS handshake: poll");
    }
    else if (gnutls_error_is_fatal (r)) {
      handshake_failed (t, s, r);
      return -1;
    }
    /* Non-fatal (e.g. a warning alert): carry on. */
  }
}

int
tport_starttls (struct tport *t, struct tport_creds *c,
                enum tport_role role, int timeout_ms)
{
  gnutls_session_t s = NULL;
  const char *errpos = NULL;
  int64_t deadline = tport_deadline (timeout_ms);
  int r;

  if (t->session) {
    TERR (t, "starttls: TLS is already active");
    errno = EINVAL;
    return -1;
  }
  if (c == NULL || c->role != role) {
    TERR (t, "starttls: credentials were not loaded for the %s role",
          role == TPORT_CLIENT ? "client" : "server");
    errno = EINVAL;
    return -1;
  }

  r = gnutls_init (&s, (role == TPORT_CLIENT ? GNUTLS_CLIENT : GNUTLS_SERVER)
                   | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL);
  if (r < 0) {
    TERR (t, "gnutls_init: %s", gnutls_strerror (r));
    errno = ENOMEM;
    return -1;
  }

  r = gnutls_priority_set_direct (s, c->psk ? PSK_PRIORITY : X509_PRIORITY,
                                  &errpos);
  if (r < 0) {
    TERR (t, "gnutls_priority_set_direct: %s (at '%s')",
          gnutls_strerror (r), errpos ? errpos : "?");
    goto fail_einval;
  }

  if (c->psk)
    r = gnutls_credentials_set (s, GNUTLS_CRD_PSK,
                                role == TPORT_CLIENT
                                ? (void *) c->psk_client
                                : (void *) c->psk_server);
  else
    r = gnutls_credentials_set (s, GNUTLS_CRD_CERTIFICATE, c->x509);
  if (r < 0) {
    TERR (t, "gnutls_credentials_set: %s", gnutls_strerror (r));
    goto fail_einval;
  }

  if (!c->psk) {
    if (role == TPORT_CLIENT)
      /* Verify the chain against ca-cert.pem; no hostname check. */
      gnutls_session_set_verify_cert (s, NULL, 0);
    else if (c->verify_peer) {
      gnutls_certificate_server_set_request (s, GNUTLS_CERT_REQUIRE);
      gnutls_session_set_verify_cert (s, NULL, 0);
    }
    else
      gnutls_certificate_server_set_request (s, GNUTLS_CERT_IGNORE);
  }

  gnutls_transport_set_int (s, t->fd);
  gnutls_handshake_set_timeout (s, timeout_ms > 0
                                ? (unsigned) timeout_ms
                                : GNUTLS_INDEFINITE_TIMEOUT);

  if (handshake (t, s, deadline, timeout_ms) == -1) {
    int e = errno;

    gnutls_deinit (s);
    errno = e;
    return -1;
  }
  t->session = s;
  return 0;

 fail_einval:
  gnutls_deinit (s);
  errno = EINVAL;
  return -1;
}

/* --- I/O ------------------------------------------------------------- */

ssize_t
tport_read (struct tport *t, void *buf, size_t len, int timeout_ms)
{
  int64_t deadline = tport_deadline (timeout_ms);
  uint8_t *p = buf;
  size_t got = 0;

  while (got < len) {
    ssize_t n;

    if (t->session) {
      n = gnutls_record_recv (t->session, p + got, len - got);
      if (n > 0) {
        got += n;
        continue;
      }
      if (n == 0)
        return got;             /* close_notify */
      if (n == GNUTLS_E_PREMATURE_TERMINATION) {
        TERR (t, "read: peer closed the TLS connection without "
              "close_notify");
        return got;
      }
      if (n == GNUTLS_E_REHANDSHAKE ||
          (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED &&
           !gnutls_error_is_fatal (n)))
        continue;               /* ignore renegotiation / warnings */
      if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED) {
        if (n == GNUTLS_E_FATAL_ALERT_RECEIVED)
          TERR (t, "read: %s: %s", gnutls_strerror ((int) n),
                gnutls_alert_get_name (gnutls_alert_get (t->session)));
        else
          TERR (t, "read: %s", gnutls_strerror ((int) n));
        errno = EIO;
        return -1;
      }
    }
    else {
      n = read (t->fd, p + got, len - got);
      if (n > 0) {
        got += n;
        continue;
      }
      if (n == 0)
        return got;
      if (errno == EINTR)
        continue;
      if (errno == ECONNRESET) {
        TERR (t, "read: connection reset by peer");
        return got;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        return terr_errno (t, "read");
    }

    /* Nothing available: wait (gnutls may need to write first, e.g.
     * to answer a TLS 1.3 key update).
     */
    switch (wait_fd (t->fd,
                     t->session && gnutls_record_get_direction (t->session)
                     ? POLLOUT : POLLIN, deadline)) {
    case 1:
      break;
    case 0:
      TERR (t, "read: timed out after %d ms (%zu of %zu bytes)",
            timeout_ms, got, len);
      errno = ETIMEDOUT;
      return -1;
    default:
      return terr_errno (t, "read: poll");
    }
  }
  return got;
}

int
tport_write (struct tport *t, const void *buf, size_t len)
{
  const uint8_t *p = buf;
  size_t done = 0;

  while (done < len) {
    ssize_t n;

    if (t->session) {
      n = gnutls_record_send (t->session, p + done, len - done);
      if (n >= 0) {
        done += n;
        continue;
      }
      if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED) {
        TERR (t, "write: %s", gnutls_strerror ((int) n));
        errno = n == GNUTLS_E_PUSH_ERROR ? EPIPE : EIO;
        return -1;
      }
      if (wait_fd (t->fd, gnutls_record_get_direction (t->session)
                   ? POLLOUT : POLLIN, -1) == -1)
        return terr_errno (t, "write: poll");
    }
    else {
      n = send (t->fd, p + done, len - done, MSG_NOSIGNAL);
      if (n == -1 && errno == ENOTSOCK)
        n = write (t->fd, p + done, len - done);
      if (n >= 0) {
        done += n;
        continue;
      }
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        return terr_errno (t, "write");
      if (wait_fd (t->fd, POLLOUT, -1) == -1)
        return terr_errno (t, "write: poll");
    }
  }
  return 0;
}

int
tport_wait_readable (struct tport *t, int timeout_ms)
{
  int r;

  if (t->session && gnutls_record_check_pending (t->session) > 0)
    return 1;
  r = wait_fd (t->fd, POLLIN, tport_deadline (timeout_ms));
  return r == -1 ? terr_errno (t, "poll") : r;
}

/* --- sockets --------------------------------------------------------- */

static int
make_unix_addr (const char *path, struct sockaddr_un *sun)
{
  memset (sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  if (path == NULL || strlen (path) >= sizeof sun->sun_path) {
    errno = path ? ENAMETOOLONG : EINVAL;
    return -1;
  }
  strcpy (sun->sun_path, path);
  return 0;
}

int
tport_open_unix (const char *path, bool listening)
{
  struct sockaddr_un sun;
  int fd, r, e;

  if (make_unix_addr (path, &sun) == -1)
    return -1;
  if (listening && unlink (path) == -1 && errno != ENOENT)
    return -1;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1)
    return -1;
  if (listening)
    r = bind (fd, (struct sockaddr *) &sun, sizeof sun) == -1 ||
      listen (fd, SOMAXCONN) == -1 ? -1 : 0;
  else
    r = connect (fd, (struct sockaddr *) &sun, sizeof sun);
  if (r == -1) {
    e = errno;
    close (fd);
    errno = e;
    return -1;
  }
  return fd;
}

/* Split "HOST:PORT" or "[V6]:PORT" into host (NULL if empty) and port.
 * Writes into hostbuf.
 */
static int
split_host_port (const char *hp, char *hostbuf, size_t hostlen,
                 const char **host, const char **port)
{
  const char *colon;
  size_t n;

  if (hp == NULL)
    goto einval;
  if (hp[0] == '[') {
    const char *close_br = strchr (hp, ']');

    if (close_br == NULL || close_br[1] != ':')
      goto einval;
    n = close_br - (hp + 1);
    colon = close_br + 1;
    hp++;
  }
  else {
    colon = strrchr (hp, ':');
    if (colon == NULL || memchr (hp, ':', colon - hp) != NULL)
      goto einval;              /* bare IPv6 needs brackets */
    n = colon - hp;
  }
  if (n >= hostlen || colon[1] == '\0')
    goto einval;
  memcpy (hostbuf, hp, n);
  hostbuf[n] = '\0';
  *host = n ? hostbuf : NULL;
  *port = colon + 1;
  return 0;

 einval:
  errno = EINVAL;
  return -1;
}

static int
resolve (const char *host_port, bool passive, struct addrinfo **res)
{
  char hostbuf[256];
  const char *host, *port;
  struct addrinfo hints;
  int r;

  if (split_host_port (host_port, hostbuf, sizeof hostbuf,
                       &host, &port) == -1)
    return -1;
  memset (&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  r = getaddrinfo (host, port, &hints, res);
  if (r != 0) {
    if (r != EAI_SYSTEM)
      errno = r == EAI_NONAME ? ENOENT : EINVAL;
    return -1;
  }
  return 0;
}

int
tport_open_tcp (const char *host_port, bool listening)
{
  struct addrinfo *res, *ai;
  int fd = -1, e = listening ? EADDRNOTAVAIL : ECONNREFUSED, one = 1;

  if (resolve (host_port, listening, &res) == -1)
    return -1;
  for (ai = res; ai; ai = ai->ai_next) {
    fd = socket (ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                 ai->ai_protocol);
    if (fd == -1) {
      e = errno;
      continue;
    }
    if (listening) {
      setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (bind (fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
          listen (fd, SOMAXCONN) == 0)
        break;
    }
    else if (connect (fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      break;
    }
    e = errno;
    close (fd);
    fd = -1;
  }
  freeaddrinfo (res);
  if (fd == -1)
    errno = e;
  return fd;
}
