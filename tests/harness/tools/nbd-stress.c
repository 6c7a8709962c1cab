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
#include <getopt.h>
#include <pthread.h>
#include <time.h>
#include <signal.h>

#include <libnbd.h>

static const char *sock, *psk_file, *user = "qemu";
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
        nbd_set_tls_psk_file (nbd, psk_file) == -1 ||
        nbd_set_tls_username (nbd, user) == -1) {
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

int
main (int argc, char *argv[])
{
  static const struct option longopts[] = {
    { "help", no_argument, NULL, 'h' },
    { "unix", required_argument, NULL, 'u' },
    { "tls-psk", required_argument, NULL, 'p' },
    { "tls-username", required_argument, NULL, 'U' },
    { "clients", required_argument, NULL, 'c' },
    { "seconds", required_argument, NULL, 's' },
    { "tls-percent", required_argument, NULL, 't' },
    { "seed", required_argument, NULL, 'S' },
    { "expect-wrong", no_argument, NULL, 'w' },
    { NULL }
  };
  pthread_t *threads;
  uint64_t wrong;
  unsigned i;
  int c;

  while ((c = getopt_long (argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'u': sock = optarg; break;
    case 'p': psk_file = optarg; break;
    case 'U': user = optarg; break;
    case 'c': nr_clients = strtoul (optarg, NULL, 0); break;
    case 's': seconds = strtoul (optarg, NULL, 0); break;
    case 't': tls_percent = strtoul (optarg, NULL, 0); break;
    case 'S': seed = strtoul (optarg, NULL, 0); break;
    case 'w': expect_wrong = true; break;
    case 'h':
    default:
      fprintf (c == 'h' ? stdout : stderr,
"usage: nbd-stress --unix SOCKET --tls-psk FILE [--tls-username NAME] [--clients N]\n"
"                  [--seconds S] [--tls-percent P] [--seed N] [--expect-wrong]\n");
      exit (c == 'h' ? EXIT_SUCCESS : 2);
    }
  }
  if (!sock || !psk_file || nr_clients == 0 || nr_clients > 4096 ||
      tls_percent > 100 || optind != argc) {
    fprintf (stderr, "nbd-stress: bad arguments (try --help)\n");
    exit (2);
  }

  clock_gettime (CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += seconds;
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);

  threads = calloc (nr_clients, sizeof *threads);
  if (threads == NULL) { perror ("calloc"); exit (2); }
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
