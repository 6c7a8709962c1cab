/* Unit tests for the harness transport (tests/harness/lib/transport.c).
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Output is TAP (srunner_set_tap), read by tap-driver.sh.  Each test
 * uses a socketpair; the TLS peer runs in a thread.  The X.509 test
 * needs $PKI_DIR to hold the test PKI (made by 'make check') and fails
 * without it.
 */

#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <check.h>

#include "tap-runner.h"

#include "transport.h"

static int64_t
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
make_pair (struct tport **a, struct tport **b)
{
  int sv[2];

  ck_assert_int_eq (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                    0);
  *a = tport_new (sv[0]);
  *b = tport_new (sv[1]);
  ck_assert_ptr_nonnull (*a);
  ck_assert_ptr_nonnull (*b);
}

/* A temporary PSK file with user "qemu" and key KEY (hex). */
static char *
write_psk_file (const char *key)
{
  char *path = strdup ("/tmp/tlsguard-psk-XXXXXX");
  FILE *fp;
  int fd;

  ck_assert_ptr_nonnull (path);
  fd = mkstemp (path);
  ck_assert_int_ge (fd, 0);
  fp = fdopen (fd, "w");
  ck_assert_ptr_nonnull (fp);
  fprintf (fp, "someoneelse:00112233445566778899aabbccddeeff\n"
           "qemu:%s\n", key);
  ck_assert_int_eq (fclose (fp), 0);
  return path;
}

#define KEY1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define KEY2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

/* --- plaintext ------------------------------------------------------- */

START_TEST (plain_read_write_timeout_eof)
{
  struct tport *a, *b;
  char buf[16];
  int64_t t0, dt;

  make_pair (&a, &b);
  ck_assert (!tport_is_tls (a));
  ck_assert_int_ge (tport_fd (a), 0);

  ck_assert_int_eq (tport_wait_readable (b, 0), 0);
  ck_assert_int_eq (tport_write (a, "hello", 5), 0);
  ck_assert_int_eq (tport_wait_readable (b, 1000), 1);
  ck_assert_int_eq (tport_read (b, buf, 5, 1000), 5);
  ck_assert (memcmp (buf, "hello", 5) == 0);

  /* Deadline: nothing arrives. */
  t0 = now_ms ();
  errno = 0;
  ck_assert_int_eq (tport_read (b, buf, 1, 150), -1);
  dt = now_ms () - t0;
  ck_assert_int_eq (errno, ETIMEDOUT);
  ck_assert_int_ge (dt, 140);
  ck_assert_int_lt (dt, 2000);
  ck_assert_str_ne (tport_error (b), "");

  /* The deadline covers the whole read, not each chunk. */
  ck_assert_int_eq (tport_write (a, "ab", 2), 0);
  ck_assert_int_eq (tport_read (b, buf, 4, 100), -1);
  ck_assert_int_eq (errno, ETIMEDOUT);

  /* Short count on EOF. */
  ck_assert_int_eq (tport_write (a, "xyz", 3), 0);
  tport_free (a);
  ck_assert_int_eq (tport_wait_readable (b, 1000), 1);
  ck_assert_int_eq (tport_read (b, buf, 8, 1000), 3);
  ck_assert (memcmp (buf, "xyz", 3) == 0);
  ck_assert_int_eq (tport_read (b, buf, 8, 1000), 0);
  /* Writing to a closed peer fails instead of raising SIGPIPE. */
  ck_assert_int_eq (tport_write (b, "x", 1) == -1 ||
                    tport_write (b, "x", 1) == -1, 1);
  tport_free (b);
}
END_TEST

START_TEST (sockets)
{
  struct sockaddr_storage ss;
  socklen_t sslen = sizeof ss;
  char hp[64], dir[] = "/tmp/tlsguard-sock-XXXXXX", path[128];
  int l, c, s;

  l = tport_listen_tcp ("127.0.0.1:0");
  ck_assert_int_ge (l, 0);
  ck_assert_int_eq (getsockname (l, (struct sockaddr *) &ss, &sslen), 0);
  snprintf (hp, sizeof hp, "127.0.0.1:%d",
            ntohs (((struct sockaddr_in *) &ss)->sin_port));
  c = tport_connect_tcp (hp);
  ck_assert_int_ge (c, 0);
  s = accept (l, NULL, NULL);
  ck_assert_int_ge (s, 0);
  close (c);
  close (s);
  close (l);

  /* IPv6 where the host has it. */
  l = tport_listen_tcp ("[::1]:0");
  if (l >= 0) {
    sslen = sizeof ss;
    ck_assert_int_eq (getsockname (l, (struct sockaddr *) &ss, &sslen), 0);
    snprintf (hp, sizeof hp, "[::1]:%d",
              ntohs (((struct sockaddr_in6 *) &ss)->sin6_port));
    c = tport_connect_tcp (hp);
    ck_assert_int_ge (c, 0);
    close (c);
    close (l);
  }

  ck_assert_ptr_nonnull (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/sock", dir);
  l = tport_listen_unix (path);
  ck_assert_int_ge (l, 0);
  close (l);
  l = tport_listen_unix (path);         /* unlinks the stale socket */
  ck_assert_int_ge (l, 0);
  c = tport_connect_unix (path);
  ck_assert_int_ge (c, 0);
  close (c);
  close (l);
  unlink (path);
  rmdir (dir);
  ck_assert_int_eq (tport_connect_unix (path), -1);

  errno = 0;
  ck_assert_int_eq (tport_connect_tcp ("nocolon"), -1);
  ck_assert_int_eq (errno, EINVAL);
  ck_assert_int_eq (tport_connect_tcp ("::1:10809"), -1);
  ck_assert_int_eq (tport_connect_tcp ("[::1]10809"), -1);
  ck_assert_int_eq (tport_connect_tcp ("localhost:"), -1);
}
END_TEST

/* --- TLS ------------------------------------------------------------- */

struct server_args {
  struct tport *t;
  struct tport_creds *creds;
  int handshake;                /* result of tport_starttls */
  struct error err;
};

/* Server: plaintext "STARTTLS?", upgrade, echo 4 bytes, then send 100
 * bytes in one record, then close.
 */
static void
serve (struct server_args *a)
{
  char buf[100];

  if (tport_read (a->t, buf, 9, 5000) != 9 || memcmp (buf, "STARTTLS?", 9))
    return;
  if (tport_write (a->t, "OK", 2) == -1)
    return;
  a->handshake = tport_starttls (a->t, a->creds, TPORT_SERVER, 5000);
  if (a->handshake == -1) {
    error_set (&a->err, "%s", tport_error (a->t));
    return;
  }
  if (tport_read (a->t, buf, 4, 5000) != 4)
    return;
  if (tport_write (a->t, buf, 4) == -1)
    return;
  memset (buf, 'z', sizeof buf);
  tport_write (a->t, buf, sizeof buf);
}

static void *
server_thread (void *arg)
{
  struct server_args *a = arg;

  a->handshake = -2;
  serve (a);
  /* Let the client see EOF whatever happened. */
  if (a->handshake != 0)
    shutdown (tport_fd (a->t), SHUT_RDWR);
  return NULL;
}

/* Run a client against server_thread.  Returns the client's
 * tport_starttls result; on success checks the data path.
 */
static int
tls_session (struct tport_creds *sc, struct tport_creds *cc,
             struct error *cerr, struct server_args *sa)
{
  struct tport *c;
  pthread_t th;
  char buf[100];
  int r;

  memset (sa, 0, sizeof *sa);
  make_pair (&c, &sa->t);
  sa->creds = sc;
  ck_assert_int_eq (pthread_create (&th, NULL, server_thread, sa), 0);

  ck_assert_int_eq (tport_write (c, "STARTTLS?", 9), 0);
  ck_assert_int_eq (tport_read (c, buf, 2, 5000), 2);
  r = tport_starttls (c, cc, TPORT_CLIENT, 5000);
  /* With TLS 1.3 the client finishes its handshake before the server
   * has checked the client's certificate; a rejection then shows up
   * on the first write or read.
   */
  if (r == 0) {
    ck_assert (tport_is_tls (c));
    if (tport_write (c, "ping", 4) == -1 ||
        tport_read (c, buf, 4, 5000) != 4)
      r = -1;
  }
  error_set (cerr, "%s", tport_error (c));
  if (r == 0) {
    ck_assert (memcmp (buf, "ping", 4) == 0);
    /* Read part of a record: the rest is buffered inside gnutls, and
     * tport_wait_readable must say so.
     */
    ck_assert_int_eq (tport_read (c, buf, 10, 5000), 10);
    ck_assert_int_eq (tport_wait_readable (c, 0), 1);
    ck_assert_int_eq (tport_read (c, buf, 90, 0), 90);
    ck_assert_int_eq (buf[89], 'z');
  }
  /* Closing the client unblocks a failed server too. */
  if (r == -1)
    tport_free (c);
  ck_assert_int_eq (pthread_join (th, NULL), 0);
  tport_free (sa->t);           /* sends close_notify after a handshake */
  sa->t = NULL;
  if (r == 0) {
    /* Server closed after a TLS bye: clean EOF. */
    ck_assert_int_eq (tport_read (c, buf, 1, 5000), 0);
    tport_free (c);
  }
  return r;
}

START_TEST (psk_handshake)
{
  struct tport_creds_cfg cfg = { 0 };
  struct tport_creds *sc, *cc, *bad;
  struct server_args sa;
  struct error err;
  char *f1, *f2;

  f1 = write_psk_file (KEY1);
  f2 = write_psk_file (KEY2);
  cfg.psk_file = f1;
  sc = tport_creds_new (TPORT_SERVER, &cfg, &err);
  ck_assert_msg (sc != NULL, "%s", err.msg);
  cc = tport_creds_new (TPORT_CLIENT, &cfg, &err);  /* "qemu" */
  ck_assert_msg (cc != NULL, "%s", err.msg);

  ck_assert_msg (tls_session (sc, cc, &err, &sa) == 0,
                 "client: %s; server: %s", err.msg, sa.err.msg);
  ck_assert_int_eq (sa.handshake, 0);

  /* Wrong key: both sides fail, nobody hangs. */
  cfg.psk_file = f2;
  bad = tport_creds_new (TPORT_CLIENT, &cfg, &err);
  ck_assert_ptr_nonnull (bad);
  ck_assert_int_eq (tls_session (sc, bad, &err, &sa), -1);
  ck_assert_str_ne (err.msg, "");
  ck_assert_int_eq (sa.handshake, -1);
  tport_creds_free (bad);

  /* Role mismatch. */
  ck_assert_int_eq (tls_session (cc, cc, &err, &sa), -1);

  /* Unknown user, missing file. */
  cfg.psk_file = f1;
  cfg.psk_username = "nobody";
  ck_assert_ptr_null (tport_creds_new (TPORT_CLIENT, &cfg, &err));
  ck_assert (strstr (err.msg, "nobody") != NULL);
  cfg.psk_file = "/nonexistent/keys.psk";
  ck_assert_ptr_null (tport_creds_new (TPORT_CLIENT, &cfg, &err));
  ck_assert_ptr_null (tport_creds_new (TPORT_SERVER, &cfg, &err));
  ck_assert_ptr_null (tport_creds_new (TPORT_SERVER, NULL, &err));

  tport_creds_free (sc);
  tport_creds_free (cc);
  unlink (f1);
  unlink (f2);
  free (f1);
  free (f2);
}
END_TEST

START_TEST (handshake_timeout)
{
  struct tport_creds_cfg cfg = { 0 };
  struct tport_creds *cc;
  struct tport *a, *b;
  struct error err;
  char *f;
  int64_t t0, dt;

  f = write_psk_file (KEY1);
  cfg.psk_file = f;
  cc = tport_creds_new (TPORT_CLIENT, &cfg, &err);
  ck_assert_ptr_nonnull (cc);
  make_pair (&a, &b);
  /* b never answers. */
  t0 = now_ms ();
  ck_assert_int_eq (tport_starttls (a, cc, TPORT_CLIENT, 200), -1);
  dt = now_ms () - t0;
  ck_assert_int_eq (errno, ETIMEDOUT);
  ck_assert_int_ge (dt, 190);
  ck_assert_int_lt (dt, 3000);
  tport_free (a);
  tport_free (b);
  tport_creds_free (cc);
  unlink (f);
  free (f);
}
END_TEST

/* A directory with ca-cert.pem linked to PKI/CA and, if CERT is not
 * NULL, client-cert.pem linked to PKI/CERT and client-key.pem.
 */
static void
make_pki_dir (char *dir, const char *pki, const char *ca, const char *cert)
{
  char from[4096], to[4096];

  strcpy (dir, "/tmp/tlsguard-pki-XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (dir));
  snprintf (from, sizeof from, "%s/%s", pki, ca);
  snprintf (to, sizeof to, "%s/ca-cert.pem", dir);
  ck_assert_int_eq (symlink (from, to), 0);
  if (cert) {
    snprintf (from, sizeof from, "%s/%s", pki, cert);
    snprintf (to, sizeof to, "%s/client-cert.pem", dir);
    ck_assert_int_eq (symlink (from, to), 0);
    snprintf (from, sizeof from, "%s/client-key.pem", pki);
    snprintf (to, sizeof to, "%s/client-key.pem", dir);
    ck_assert_int_eq (symlink (from, to), 0);
  }
}

static void
remove_pki_dir (const char *dir)
{
  static const char *names[] = {
    "ca-cert.pem", "client-cert.pem", "client-key.pem",
  };
  char path[4096];
  size_t i;

  for (i = 0; i < sizeof names / sizeof names[0]; ++i) {
    snprintf (path, sizeof path, "%s/%s", dir, names[i]);
    unlink (path);
  }
  rmdir (dir);
}

START_TEST (x509_handshake)
{
  const char *pki = getenv ("PKI_DIR");
  struct tport_creds_cfg cfg = { 0 };
  struct tport_creds *sc, *cc;
  struct server_args sa;
  struct error err;
  char ca[4096], dir[64];

  /* Check has no skip, and a test without what it needs must not
   * pass: without the test PKI (made by 'make check' with certtool)
   * this test fails and says why.
   */
  ck_assert_msg (pki != NULL && *pki != '\0',
                 "PKI_DIR is not set: the X.509 test needs the test PKI");
  snprintf (ca, sizeof ca, "%s/ca-cert.pem", pki);
  ck_assert_msg (access (ca, R_OK) == 0, "%s: %s (no test PKI)", ca,
                 strerror (errno));

  cfg.x509_dir = pki;
  cfg.verify_peer = true;
  sc = tport_creds_new (TPORT_SERVER, &cfg, &err);
  ck_assert_msg (sc != NULL, "%s", err.msg);
  cc = tport_creds_new (TPORT_CLIENT, &cfg, &err);
  ck_assert_msg (cc != NULL, "%s", err.msg);
  ck_assert_msg (tls_session (sc, cc, &err, &sa) == 0,
                 "client: %s; server: %s", err.msg, sa.err.msg);
  tport_creds_free (cc);

  /* A client without a certificate: refused under verify_peer,
   * accepted without it.
   */
  make_pki_dir (dir, pki, "ca-cert.pem", NULL);
  cfg.x509_dir = dir;
  cc = tport_creds_new (TPORT_CLIENT, &cfg, &err);
  ck_assert_msg (cc != NULL, "%s", err.msg);
  ck_assert_int_eq (tls_session (sc, cc, &err, &sa), -1);
  ck_assert_int_eq (sa.handshake, -1);
  if (getenv ("TPORT_DEBUG"))
    fprintf (stderr, "no client cert: client: %s; server: %s\n", err.msg, sa.err.msg);
  tport_creds_free (sc);
  cfg.x509_dir = pki;
  cfg.verify_peer = false;
  sc = tport_creds_new (TPORT_SERVER, &cfg, &err);
  ck_assert_msg (sc != NULL, "%s", err.msg);
  ck_assert_msg (tls_session (sc, cc, &err, &sa) == 0,
                 "client: %s; server: %s", err.msg, sa.err.msg);
  tport_creds_free (cc);
  remove_pki_dir (dir);

  /* A client trusting the wrong CA rejects the server. */
  make_pki_dir (dir, pki, "client-cert.pem", "client-cert.pem");
  cfg.x509_dir = dir;
  cc = tport_creds_new (TPORT_CLIENT, &cfg, &err);
  ck_assert_msg (cc != NULL, "%s", err.msg);
  ck_assert_int_eq (tls_session (sc, cc, &err, &sa), -1);
  ck_assert_msg (strstr (err.msg, "erif") != NULL, "client: %s", err.msg);
  if (getenv ("TPORT_DEBUG"))
    fprintf (stderr, "wrong CA: client: %s; server: %s\n", err.msg, sa.err.msg);
  tport_creds_free (cc);
  remove_pki_dir (dir);
  tport_creds_free (sc);

  cfg.x509_dir = "/nonexistent";
  ck_assert_ptr_null (tport_creds_new (TPORT_CLIENT, &cfg, &err));
  ck_assert_ptr_null (tport_creds_new (TPORT_SERVER, &cfg, &err));
}
END_TEST

static const struct tap_row transport_tests[] = {
  TAP_CASE ("plain"),
  TAP_TEST (plain_read_write_timeout_eof),
  TAP_TEST (sockets),
  TAP_CASE ("tls", .timeout = 60),      /* slow under valgrind */
  TAP_TEST (psk_handshake),
  TAP_TEST (handshake_timeout),
  TAP_TEST (x509_handshake),
};

int
main (void)
{
  tport_global_init (getenv ("TPORT_DEBUG") ? atoi (getenv ("TPORT_DEBUG"))
                     : 0);
  return TAP_RUN ("transport", transport_tests);
}
