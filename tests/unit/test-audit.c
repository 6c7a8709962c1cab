/* Unit tests for filters/tlsguard/audit.c: counters, record
 * formatting and the audit file.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Output is TAP (srunner_set_tap), read by tap-driver.sh.
 */

#include <config.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/stat.h>

#include <check.h>

#include "tap-runner.h"

#include "audit.h"
#include "escape.h"
#include "policy.h"

/* --- counters -------------------------------------------------------- */

#define COUNT_THREADS 8
#define COUNT_EACH 100000

static uint64_t shared_counter;
static unsigned firsts;

static void *
count_thread (void *arg)
{
  unsigned i;

  for (i = 0; i < COUNT_EACH; ++i)
    if (tg_count_first (&shared_counter))
      __atomic_add_fetch (&firsts, 1, __ATOMIC_RELAXED);
  return NULL;
}

START_TEST (count_first_exactly_once)
{
  pthread_t t[COUNT_THREADS];
  unsigned i;

  shared_counter = 0;
  firsts = 0;
  for (i = 0; i < COUNT_THREADS; ++i)
    ck_assert_int_eq (pthread_create (&t[i], NULL, count_thread, NULL), 0);
  for (i = 0; i < COUNT_THREADS; ++i)
    pthread_join (t[i], NULL);
  ck_assert_uint_eq (shared_counter, (uint64_t) COUNT_THREADS * COUNT_EACH);
  ck_assert_uint_eq (firsts, 1);
}
END_TEST

START_TEST (totals_by_action)
{
  struct tg_totals t, r;

  memset (&t, 0, sizeof t);
  tg_totals_add_handle (&t, TG_DENY, 1000);
  tg_totals_add_handle (&t, TG_DENY, 1);
  tg_totals_add_handle (&t, TG_HIDE, 7);
  tg_totals_add_handle (&t, TG_AUDIT, 3);
  tg_totals_add_handle (&t, TG_PASS, 99);      /* not counted */
  tg_totals_add_handle (&t, TG_DENY, 0);
  tg_totals_read (&t, &r);
  ck_assert_uint_eq (r.bs_refused, 1001);
  ck_assert_uint_eq (r.bs_hidden, 7);
  ck_assert_uint_eq (r.bs_allowed, 3);
  ck_assert_uint_eq (r.opens_tls, 0);
}
END_TEST

/* --- peer ------------------------------------------------------------------ */

START_TEST (peer_forms)
{
  char buf[TG_PEER_STR_MAX];
  struct tg_peer p;
  static const uint8_t v4[4] = { 127, 0, 0, 1 };
  static const uint8_t v6[16] = { [15] = 1 };

  memset (&p, 0, sizeof p);
  p.pid = -1;
  p.uid = -1;
  ck_assert_str_eq (tg_peer_format (buf, sizeof buf, &p), "unknown peer");
  p.kind = TG_PEER_STDIO;
  p.stdio = true;
  ck_assert_str_eq (tg_peer_format (buf, sizeof buf, &p), "stdin/stdout");
  p.kind = TG_PEER_UNIX;
  p.stdio = false;
  ck_assert_str_eq (tg_peer_format (buf, sizeof buf, &p), "unix socket");
  p.pid = 42;
  p.uid = 1000;
  ck_assert_str_eq (tg_peer_format (buf, sizeof buf, &p),
                    "unix socket (pid 42, uid 1000)");
  p.stdio = true;
  ck_assert_str_eq (tg_peer_format (buf, sizeof buf, &p),
                    "stdin/stdout: unix socket (pid 42, uid 1000)");
  p.stdio = false;
  p.pid = -1;
  ck_assert_str_eq (tg_peer_format (buf, sizeof buf, &p),
                    "unix socket (uid 1000)");
  p.kind = TG_PEER_INET;
  p.port = 49152;
  memcpy (p.addr, v4, 4);
  ck_assert_str_eq (tg_peer_format (buf, sizeof buf, &p), "127.0.0.1:49152");
  p.kind = TG_PEER_INET6;
  memcpy (p.addr, v6, 16);
  ck_assert_str_eq (tg_peer_format (buf, sizeof buf, &p), "[::1]:49152");
  p.kind = TG_PEER_OTHER;
  p.port = 40;
  ck_assert_str_eq (tg_peer_format (buf, sizeof buf, &p),
                    "peer of address family 40");
  ck_assert_uint_le (sizeof p, 32);

  /* The longest forms fit. */
  p.kind = TG_PEER_INET6;
  p.stdio = true;
  p.port = 65535;
  memset (p.addr, 0xff, 16);
  p.addr[10] = p.addr[11] = 0xff;
  tg_peer_format (buf, sizeof buf, &p);
  ck_assert_uint_lt (strlen (buf), sizeof buf - 1);
  p.kind = TG_PEER_UNIX;
  p.pid = INT32_MAX;
  p.uid = INT64_MAX;
  tg_peer_format (buf, sizeof buf, &p);
  ck_assert_uint_lt (strlen (buf), sizeof buf - 1);
}
END_TEST

/* --- time ----------------------------------------------------------------- */

START_TEST (time_rfc3339_ms)
{
  char buf[TG_TIME_MAX];
  struct timespec ts = { .tv_sec = 1796159461, .tv_nsec = 123999999 };

  ck_assert_uint_eq (tg_format_time (buf, &ts), 24);
  ck_assert_str_eq (buf, "2026-12-01T21:11:01.123Z");
  ts.tv_sec = 0;
  ts.tv_nsec = 5000000;
  tg_format_time (buf, &ts);
  ck_assert_str_eq (buf, "1970-01-01T00:00:00.005Z");
}
END_TEST

/* --- records ------------------------------------------------------------- */

static char rec[65536];

static const char *
format (const struct tg_audit_rec *r)
{
  size_t len = tg_audit_format (rec, sizeof rec - 1, r);

  ck_assert_uint_gt (len, 0);
  ck_assert_uint_le (len, tg_audit_record_max (r));
  ck_assert_int_eq (rec[len - 1], '\n');
  ck_assert_ptr_null (memchr (rec, '\n', len - 1));    /* one line */
  rec[len] = '\0';
  return rec;
}

static struct tg_audit_rec
base_rec (enum tg_audit_event ev)
{
  struct tg_audit_rec r;

  memset (&r, 0, sizeof r);
  r.event = ev;
  r.time.tv_sec = 1796159461;
  r.time.tv_nsec = 7000000;
  r.conn = 12;
  r.handle = 3;
  r.peer = "unix socket (pid 42, uid 1000)";
  r.uid = 1000;
  r.exportname = "disk";
  r.export_len = 4;
  return r;
}

START_TEST (record_open)
{
  struct tg_audit_rec r = base_rec (TG_AUDIT_OPEN);

  r.action = "deny";
  r.opened = true;
  ck_assert_str_eq (format (&r),
    "{\"time\":\"2026-12-01T21:11:01.007Z\",\"event\":\"open\",\"conn\":12,"
    "\"handle\":3,\"peer\":\"unix socket (pid 42, uid 1000)\",\"uid\":1000,"
    "\"tls\":false,\"export\":\"disk\",\"action\":\"deny\",\"opened\":true}\n");

  /* TCP peer: no uid; TLS with a DN. */
  r.peer = "[::1]:4000";
  r.uid = -1;
  r.tls = true;
  r.tls_dn = "CN=client,O=\"x\"";
  r.tls_dn_len = strlen (r.tls_dn);
  r.action = "pass";
  r.opened = false;
  ck_assert_str_eq (format (&r),
    "{\"time\":\"2026-12-01T21:11:01.007Z\",\"event\":\"open\",\"conn\":12,"
    "\"handle\":3,\"peer\":\"[::1]:4000\",\"tls\":true,"
    "\"tls_dn\":\"CN=client,O=\\\"x\\\"\",\"export\":\"disk\","
    "\"action\":\"pass\",\"opened\":false}\n");
}
END_TEST

START_TEST (record_close)
{
  struct tg_audit_rec r = base_rec (TG_AUDIT_CLOSE);

  r.action = "deny";
  r.bs_refused = 1000;
  ck_assert_str_eq (format (&r),
    "{\"time\":\"2026-12-01T21:11:01.007Z\",\"event\":\"close\",\"conn\":12,"
    "\"handle\":3,\"peer\":\"unix socket (pid 42, uid 1000)\",\"uid\":1000,"
    "\"tls\":false,\"export\":\"disk\",\"action\":\"deny\","
    "\"block_status\":{\"refused\":1000,\"hidden\":0,\"allowed\":0}}\n");
}
END_TEST

START_TEST (record_upgrade)
{
  struct tg_audit_rec r = base_rec (TG_AUDIT_UPGRADE);

  r.dropped_calls[TG_EV_LIST_EXPORTS] = 1;
  r.dropped_calls[TG_EV_DEFAULT_EXPORT] = 2;
  r.dropped_calls[TG_EV_OPEN] = 3;
  r.last_export = "abc\n";
  r.last_export_cut = 4;
  r.last_export_len = 5000;
  ck_assert_str_eq (format (&r),
    "{\"time\":\"2026-12-01T21:11:01.007Z\",\"event\":\"upgrade\",\"conn\":12,"
    "\"peer\":\"unix socket (pid 42, uid 1000)\",\"uid\":1000,"
    "\"dropped\":{\"list_exports\":1,\"default_export\":2,\"open\":3,"
    "\"last_export\":\"abc\\u000a\",\"last_export_len\":5000}}\n");
}
END_TEST

START_TEST (record_unload)
{
  struct tg_audit_rec r = base_rec (TG_AUDIT_UNLOAD);

  r.totals.opens_tls = 5;
  r.totals.opens_plaintext = 6;
  r.totals.opens_refused = 1;
  r.totals.bs_refused = 1000;
  r.totals.bs_hidden = 2;
  r.totals.bs_allowed = 3;
  ck_assert_str_eq (format (&r),
    "{\"time\":\"2026-12-01T21:11:01.007Z\",\"event\":\"unload\","
    "\"opens\":{\"tls\":5,\"plaintext\":6,\"refused\":1},"
    "\"block_status\":{\"refused\":1000,\"hidden\":2,\"allowed\":3}}\n");
}
END_TEST

START_TEST (record_hostile_export_bounded)
{
  struct tg_audit_rec r = base_rec (TG_AUDIT_CLOSE);
  char name[4096];
  size_t max;

  memset (name, '\x1b', sizeof name);
  r.exportname = name;
  r.export_len = sizeof name;
  r.action = "hide";
  max = tg_audit_record_max (&r);
  format (&r);
  ck_assert_ptr_null (strchr (rec, '\x1b'));

  /* A buffer one byte short of the record: 0, never a partial line. */
  ck_assert_uint_eq (tg_audit_format (rec, strlen (rec) - 1, &r), 0);
  ck_assert_uint_ge (max, strlen (rec));
}
END_TEST

/* --- the file -------------------------------------------------------------- */

static char tmpdir[] = "/tmp/test-audit.XXXXXX";

static void
setup_dir (void)
{
  ck_assert_ptr_nonnull (mkdtemp (tmpdir));
}

static void
teardown_dir (void)
{
  char cmd[64];

  snprintf (cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system (cmd) != 0)
    fprintf (stderr, "could not remove %s\n", tmpdir);
}

START_TEST (file_appends_and_creates_0600)
{
  struct tg_audit_file f = TG_AUDIT_FILE_INIT;
  char path[64], buf[64];
  struct stat st;
  bool first;
  int fd;
  ssize_t r;

  snprintf (path, sizeof path, "%s/a.jsonl", tmpdir);
  fd = open (path, O_WRONLY | O_CREAT, 0600);
  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (write (fd, "old\n", 4), 4);
  close (fd);

  ck_assert_int_eq (tg_audit_file_open (&f, path), 0);
  ck_assert_int_eq (tg_audit_file_write (&f, "{}\n", 3, &first), 0);
  ck_assert (!first);
  tg_audit_file_close (&f);
  ck_assert_int_eq (f.fd, -1);

  fd = open (path, O_RDONLY);
  r = read (fd, buf, sizeof buf);
  close (fd);
  ck_assert_int_eq (r, 7);
  ck_assert (memcmp (buf, "old\n{}\n", 7) == 0);

  snprintf (path, sizeof path, "%s/new.jsonl", tmpdir);
  ck_assert_int_eq (tg_audit_file_open (&f, path), 0);
  tg_audit_file_close (&f);
  ck_assert_int_eq (stat (path, &st), 0);
  ck_assert_int_eq (st.st_mode & 0777, 0600);
}
END_TEST

START_TEST (file_unwritable_fails_open)
{
  struct tg_audit_file f = TG_AUDIT_FILE_INIT;
  char path[64];

  snprintf (path, sizeof path, "%s/no/such/dir", tmpdir);
  ck_assert_int_eq (tg_audit_file_open (&f, path), -1);
  ck_assert_int_eq (errno, ENOENT);
  ck_assert_int_eq (tg_audit_file_open (&f, tmpdir), -1);
  ck_assert_int_eq (errno, EISDIR);
  ck_assert_int_eq (f.fd, -1);
}
END_TEST

START_TEST (file_error_reported_once)
{
  struct tg_audit_file f = TG_AUDIT_FILE_INIT;
  bool first;
  int i, nfirst = 0;

  /* /dev/full: every write fails with ENOSPC. */
  ck_assert_int_eq (tg_audit_file_open (&f, "/dev/full"), 0);
  for (i = 0; i < 5; ++i) {
    errno = 0;
    ck_assert_int_eq (tg_audit_file_write (&f, "{}\n", 3, &first), -1);
    ck_assert_int_eq (errno, ENOSPC);
    nfirst += first;
  }
  ck_assert_int_eq (nfirst, 1);
  tg_audit_file_close (&f);

  /* No file: writing is a no-op. */
  ck_assert_int_eq (tg_audit_file_write (&f, "{}\n", 3, &first), 0);
  ck_assert (!first);
}
END_TEST

/* Threads appending long records of their own letter at the same time:
 * the file must hold exactly whole records.
 */
#define W_THREADS 16
#define W_EACH 100
#define W_LEN 8192

static struct tg_audit_file shared_file = TG_AUDIT_FILE_INIT;

static void *
write_thread (void *arg)
{
  char *line = malloc (W_LEN);
  bool first;
  int i;

  memset (line, 'a' + (int) (intptr_t) arg, W_LEN - 1);
  line[W_LEN - 1] = '\n';
  for (i = 0; i < W_EACH; ++i)
    if (tg_audit_file_write (&shared_file, line, W_LEN, &first) == -1)
      abort ();
  free (line);
  return NULL;
}

START_TEST (file_concurrent_records_never_interleave)
{
  pthread_t t[W_THREADS];
  char path[64], *line = NULL;
  size_t cap = 0;
  ssize_t len;
  FILE *fp;
  intptr_t i;
  unsigned lines = 0;

  snprintf (path, sizeof path, "%s/c.jsonl", tmpdir);
  ck_assert_int_eq (tg_audit_file_open (&shared_file, path), 0);
  for (i = 0; i < W_THREADS; ++i)
    ck_assert_int_eq (pthread_create (&t[i], NULL, write_thread,
                                      (void *) i), 0);
  for (i = 0; i < W_THREADS; ++i)
    pthread_join (t[i], NULL);
  tg_audit_file_close (&shared_file);

  fp = fopen (path, "r");
  while ((len = getline (&line, &cap, fp)) != -1) {
    ssize_t k = 1;

    ck_assert_int_eq (len, W_LEN);
    while (k < len - 1 && line[k] == line[0])
      k++;
    ck_assert_int_eq (k, len - 1);
    lines++;
  }
  fclose (fp);
  free (line);
  ck_assert_uint_eq (lines, W_THREADS * W_EACH);
}
END_TEST

static const struct tap_row audit_tests[] = {
  TAP_CASE ("counters", .timeout = 30),
  TAP_TEST (count_first_exactly_once),
  TAP_TEST (totals_by_action),
  TAP_CASE ("records"),
  TAP_TEST (peer_forms),
  TAP_TEST (time_rfc3339_ms),
  TAP_TEST (record_open),
  TAP_TEST (record_close),
  TAP_TEST (record_upgrade),
  TAP_TEST (record_unload),
  TAP_TEST (record_hostile_export_bounded),
  TAP_CASE ("file", .timeout = 60,
            .setup_once = setup_dir, .teardown_once = teardown_dir),
  TAP_TEST (file_appends_and_creates_0600),
  TAP_TEST (file_unwritable_fails_open),
  TAP_TEST (file_error_reported_once),
  TAP_TEST (file_concurrent_records_never_interleave),
};

TAP_MAIN ("audit", audit_tests)
