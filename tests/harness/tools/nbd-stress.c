/* nbd-stress: many concurrent libnbd clients, a random mix of plaintext
 * and TLS (PSK), each looping over block status and reads against a
 * server running tlsguard, counting every decision.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Under tlsguard-extents=deny the only right decisions are: a TLS
 * client gets extents, a plaintext client gets EINVAL and no extents.
 * Anything else is a wrong decision; any other failure (connect, read,
 * data mismatch) is an unexpected error.  Exit status 0 only if both
 * are zero (or, with --expect-wrong, only if wrong decisions were seen:
 * used by the negative control against tlsguard-extents=allow).
 */

#include <config.h>

#include <stdbool.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <time.h>
#include <signal.h>

#include <libnbd.h>

#include "cli.h"

/* What --help and the error messages say the tool is. */
static const struct cli_tool tool = {
  .name = "nbd-stress",
  .tls_required = true,
  .about =
  "Concurrent libnbd clients, a random mix of plaintext and TLS, asking\n"
  "for block status and reading until the time is up.  Under\n"
  "tlsguard-extents=deny exit status 0 only if every TLS client got\n"
  "extents and every plaintext one EINVAL.\n",
};

static const char *sock;
static struct tport_creds_cfg creds;  /* --tls-psk, --tls-username */
static unsigned nr_clients = 16, seconds = 3, tls_percent = 50;
static unsigned long seed = 1;
static bool expect_wrong;

/* Counters, updated with atomics. */
static uint64_t c_sessions_tls, c_sessions_plain;
static uint64_t c_bs_tls_ok, c_bs_plain_refused;       /* right */
static uint64_t c_bs_tls_refused, c_bs_plain_extents;  /* wrong */
static uint64_t c_reads, c_unexpected;

#define INC(c) __atomic_add_fetch (&(c), 1, __ATOMIC_RELAXED)
#define INC2(cond, a, b) ((cond) ? INC (a) : INC (b))
#define GET(c) __atomic_load_n (&(c), __ATOMIC_RELAXED)

static struct timespec deadline;
static volatile sig_atomic_t stop;    /* SIGINT/SIGTERM: finish early */

static void
on_signal (int sig)
{
  stop = 1;
}

static bool
before_deadline (void)
{
  struct timespec now;

  if (stop)
    return false;

  clock_gettime (CLOCK_MONOTONIC, &now);
  return now.tv_sec < deadline.tv_sec ||
    (now.tv_sec == deadline.tv_sec && now.tv_nsec < deadline.tv_nsec);
}

static int
count_cb (void *user_data, const char *metacontext, uint64_t offset,
          uint32_t *entries, size_t nr_entries, int *error)
{
  unsigned *n = user_data;

  *n += nr_entries / 2;
  return 0;
}

static void
unexpected (const char *what, struct nbd_handle *nbd)
{
  if (INC (c_unexpected) <= 10)
    fprintf (stderr, "nbd-stress: unexpected: %s: %s\n",
             what, nbd ? nbd_get_error () : "");
}

/* One session: connect, then block status and reads until the
 * deadline or a random number of rounds.
 */
static void
session (unsigned *rs)
{
  bool tls = (unsigned) rand_r (rs) % 100 < tls_percent;
  unsigned rounds = 1 + (unsigned) rand_r (rs) % 8;
  struct nbd_handle *nbd;
  int64_t size;
  char buf[4096];

  nbd = nbd_create ();
  if (nbd == NULL) { unexpected ("nbd_create", NULL); return; }
  if (tls) {
    if (nbd_set_tls (nbd, LIBNBD_TLS_REQUIRE) == -1 ||
        nbd_set_tls_psk_file (nbd, creds.psk_file) == -1 ||
        nbd_set_tls_username (nbd, creds.psk_username) == -1) {
      unexpected ("set tls", nbd);
      goto out;
    }
  }
  else if (nbd_set_tls (nbd, LIBNBD_TLS_DISABLE) == -1) {
    unexpected ("set tls", nbd);
    goto out;
  }
  if (nbd_add_meta_context (nbd, LIBNBD_CONTEXT_BASE_ALLOCATION) == -1 ||
      nbd_connect_unix (nbd, sock) == -1) {
    unexpected ("connect", nbd);
    goto out;
  }
  INC2 (tls, c_sessions_tls, c_sessions_plain);
  size = nbd_get_size (nbd);
  if (size < (int64_t) sizeof buf) {
    unexpected ("size", nbd);
    goto out;
  }

  while (rounds-- > 0 && before_deadline ()) {
    uint64_t off = ((uint64_t) rand_r (rs) % (size / 65536)) * 65536;
    uint64_t len = size - off < 65536 ? size - off : 65536;
    unsigned n = 0;
    int r;

    r = nbd_block_status (nbd, len, off,
                          (nbd_extent_callback) { .callback = count_cb,
                                                  .user_data = &n }, 0);
    if (r == 0 && n > 0)
      INC2 (tls, c_bs_tls_ok, c_bs_plain_extents);
    else if (r == -1 && nbd_get_errno () == EINVAL && n == 0)
      INC2 (tls, c_bs_tls_refused, c_bs_plain_refused);
    else
      unexpected ("block status", nbd);

    off = ((uint64_t) rand_r (rs) % (size / sizeof buf)) * sizeof buf;
    if (nbd_pread (nbd, buf, sizeof buf, off, 0) == -1)
      unexpected ("pread", nbd);
    else
      INC (c_reads);
  }
  if (nbd_shutdown (nbd, 0) == -1)
    unexpected ("shutdown", nbd);
 out:
  nbd_close (nbd);
}

static void *
client (void *arg)
{
  unsigned rs = (unsigned) (uintptr_t) arg;

  while (before_deadline ())
    session (&rs);
  return NULL;
}

enum { OPT_UNIX = 256, OPT_CLIENTS, OPT_SECONDS, OPT_TLS_PERCENT, OPT_SEED,
       OPT_EXPECT_WRONG };

static const struct cli_option options[] = {
  { "unix", OPT_UNIX, "SOCKET", "the server's Unix socket",
    NULL, CLI_REQUIRED },
  CLI_OPT_TLS_PSK ("PSK file for the TLS clients"),
  CLI_OPT_TLS_USERNAME ("PSK user (default qemu)"),
  { "clients", OPT_CLIENTS, "N",
    "concurrent clients, 1 to 4096 (default 16)", NULL, 0 },
  { "seconds", OPT_SECONDS, "S", "how long to run (default 3)", NULL, 0 },
  { "tls-percent", OPT_TLS_PERCENT, "P",
    "percentage of sessions over TLS (default 50)", NULL, 0 },
  { "seed", OPT_SEED, "N", "seed of the clients' choices (default 1)",
    NULL, 0 },
  { "expect-wrong", OPT_EXPECT_WRONG, NULL,
    "succeed only if wrong decisions were seen (the\n"
    "negative control, against tlsguard-extents=allow)", NULL, 0 },
  { NULL },
};

static int
handle_option (int key, const char *arg, void *opaque, struct error *err)
{
  uint64_t v;

  switch (key) {
  case OPT_UNIX: sock = arg; return 0;
  case OPT_EXPECT_WRONG: expect_wrong = true; return 0;
  case OPT_CLIENTS: return cli_unsigned (arg, 1, 4096, &nr_clients, err);
  case OPT_SECONDS: return cli_unsigned (arg, 0, 86400, &seconds, err);
  case OPT_TLS_PERCENT: return cli_unsigned (arg, 0, 100, &tls_percent, err);
  case OPT_SEED:
    if (cli_uint (arg, 0, ULONG_MAX, &v, err) == -1)
      return -1;
    seed = v;
    return 0;
  }
  return -1;
}

int
main (int argc, char *argv[])
{
  struct cli_common cl;
  pthread_t *threads;
  uint64_t wrong;
  unsigned i;

  cli_parse (&tool, options, handle_option, argc, argv, NULL, &cl);
  creds = cl.tls;

  clock_gettime (CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += seconds;
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);

  threads = xcalloc (nr_clients, sizeof *threads);
  for (i = 0; i < nr_clients; ++i) {
    int err = pthread_create (&threads[i], NULL, client,
                              (void *) (uintptr_t) (seed * 7919 + i));
    if (err) {
      errno = err;
      perror ("pthread_create");
      exit (2);
    }
  }
  for (i = 0; i < nr_clients; ++i)
    pthread_join (threads[i], NULL);
  free (threads);

  wrong = GET (c_bs_tls_refused) + GET (c_bs_plain_extents);
  printf ("clients=%u seconds=%u sessions: tls=%" PRIu64 " plaintext=%" PRIu64 "\n",
          nr_clients, seconds, GET (c_sessions_tls), GET (c_sessions_plain));
  printf ("right: tls-extents=%" PRIu64 " plaintext-einval=%" PRIu64 "\n",
          GET (c_bs_tls_ok), GET (c_bs_plain_refused));
  printf ("wrong: tls-refused=%" PRIu64 " plaintext-extents=%" PRIu64 "\n",
          GET (c_bs_tls_refused), GET (c_bs_plain_extents));
  printf ("reads=%" PRIu64 " unexpected=%" PRIu64 "\n",
          GET (c_reads), GET (c_unexpected));

  if (GET (c_unexpected) > 0)
    return EXIT_FAILURE;
  if (expect_wrong)
    return wrong > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
  if (wrong > 0 || GET (c_bs_tls_ok) == 0 || GET (c_bs_plain_refused) == 0)
    return EXIT_FAILURE;
  return EXIT_SUCCESS;
}
