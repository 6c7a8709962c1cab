/* tg-bench: the libnbd client behind 'make bench'.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Subcommands (all print one result line on stdout):
 *
 *   read SOCKET [opts]     aio preads, --depth in flight, random or
 *                          sequential; prints "ops N secs S rate R".
 *   bs SOCKET [opts]       aio block status (base:allocation) over
 *                          --size byte ranges; prints the same plus
 *                          "extents E errors X".
 *   connect SOCKET [opts]  --count short connections: handshake, GO,
 *                          NBD_CMD_DISC; prints the same.
 *   mksparse FILE          write a sparse file: --count data blocks of
 *                          --size bytes, one every --stride bytes, and
 *                          fsync it (no writeback during the runs).
 *   sizes                  print the sizes of tlsguard's records.
 *
 * Options: --psk FILE (TLS required, user "qemu"), --size BYTES,
 * --depth N, --time SECS (time based) or --count N (fixed count),
 * --seq (sequential instead of random offsets), --stride BYTES.
 * --count with --depth 1 issues exactly N synchronous requests, which
 * is what the callgrind runs need.
 */

#include <config.h>

#include <stdbool.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>
#include <getopt.h>

#include <libnbd.h>

#include "policy.h"

struct opts {
  const char *socket;
  const char *psk;
  uint64_t size;                /* request size (read, bs), block (mksparse) */
  unsigned depth;
  double time;                  /* > 0: time based */
  uint64_t count;               /* > 0: fixed count */
  bool seq;
  uint64_t stride;
};

/* Counters updated by the completion callbacks. */
struct stats {
  uint64_t done;
  uint64_t errors;
  uint64_t extents;
};

static void __attribute__((noreturn))
usage (int status)
{
  fprintf (status ? stderr : stdout,
"usage: tg-bench read|bs|connect SOCKET [--psk FILE] [--size BYTES]\n"
"                [--depth N] [--time SECS | --count N] [--seq]\n"
"       tg-bench mksparse FILE --count N --size BYTES --stride BYTES\n"
"       tg-bench sizes\n");
  exit (status);
}

static double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: cheap, deterministic offsets. */
static uint64_t
next_random (uint64_t *state)
{
  uint64_t x = *state;

  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * UINT64_C (0x2545F4914F6CDD1D);
}

static void __attribute__((noreturn))
nbd_die (const char *what)
{
  fprintf (stderr, "tg-bench: %s: %s\n", what, nbd_get_error ());
  exit (EXIT_FAILURE);
}

static struct nbd_handle *
open_handle (const struct opts *o, bool meta)
{
  struct nbd_handle *nbd;

  nbd = nbd_create ();
  if (nbd == NULL)
    nbd_die ("nbd_create");
  if (o->psk) {
    if (nbd_set_tls (nbd, LIBNBD_TLS_REQUIRE) == -1 ||
        nbd_set_tls_psk_file (nbd, o->psk) == -1 ||
        nbd_set_tls_username (nbd, "qemu") == -1)
      nbd_die ("TLS settings");
  }
  else if (nbd_set_tls (nbd, LIBNBD_TLS_DISABLE) == -1)
    nbd_die ("nbd_set_tls");
  if (meta && nbd_add_meta_context (nbd, LIBNBD_CONTEXT_BASE_ALLOCATION) == -1)
    nbd_die ("nbd_add_meta_context");
  if (nbd_connect_unix (nbd, o->socket) == -1)
    nbd_die ("nbd_connect_unix");
  return nbd;
}

static int
complete_cb (void *user_data, int *error)
{
  struct stats *st = user_data;

  st->done++;
  if (*error)
    st->errors++;
  return 1;                     /* retire the command */
}

static int
extent_cb (void *user_data, const char *metacontext, uint64_t offset,
           uint32_t *entries, size_t nr_entries, int *error)
{
  struct stats *st = user_data;

  if (strcmp (metacontext, LIBNBD_CONTEXT_BASE_ALLOCATION) == 0)
    st->extents += nr_entries / 2;
  return 0;
}

static void
print_result (const struct stats *st, double secs)
{
  printf ("ops %" PRIu64 " secs %.6f rate %.3f extents %" PRIu64
          " errors %" PRIu64 "\n",
          st->done, secs, secs > 0 ? st->done / secs : 0.0,
          st->extents, st->errors);
}

/* read and bs: keep o->depth requests in flight until the time or
 * the count runs out, then drain.
 */
static int
run_requests (const struct opts *o, bool bs)
{
  struct nbd_handle *nbd;
  struct stats st = { 0 };
  uint64_t rng = UINT64_C (0x9E3779B97F4A7C15);
  uint64_t export_size, slots, issued = 0, seq_slot = 0;
  char *buf = NULL;
  double start, deadline, end;

  nbd = open_handle (o, bs);
  export_size = nbd_get_size (nbd);
  if ((int64_t) export_size == -1)
    nbd_die ("nbd_get_size");
  if (o->size == 0 || export_size < o->size) {
    fprintf (stderr, "tg-bench: export of %" PRIu64 " bytes is smaller than "
             "--size %" PRIu64 "\n", export_size, o->size);
    exit (EXIT_FAILURE);
  }
  if (bs && nbd_can_meta_context (nbd, LIBNBD_CONTEXT_BASE_ALLOCATION) != 1) {
    fprintf (stderr, "tg-bench: server did not agree to base:allocation\n");
    exit (EXIT_FAILURE);
  }
  slots = export_size / o->size;
  if (!bs) {
    /* Every read lands in the same buffer: the data is not looked at
     * and libnbd fills one reply at a time.
     */
    buf = malloc (o->size);
    if (buf == NULL) {
      perror ("malloc");
      exit (EXIT_FAILURE);
    }
  }

  start = now ();
  deadline = o->time > 0 ? start + o->time : 0;
  for (;;) {
    bool more = o->count > 0 ? issued < o->count : now () < deadline;

    while (more && nbd_aio_in_flight (nbd) < (int) o->depth) {
      uint64_t slot = o->seq ? seq_slot++ % slots : next_random (&rng) % slots;
      uint64_t offset = slot * o->size;
      nbd_completion_callback cb = { .callback = complete_cb,
                                     .user_data = &st };
      int64_t cookie;

      if (bs) {
        nbd_extent_callback ecb = { .callback = extent_cb, .user_data = &st };
        cookie = nbd_aio_block_status (nbd, o->size, offset, ecb, cb, 0);
      }
      else
        cookie = nbd_aio_pread (nbd, buf, o->size, offset, cb, 0);
      if (cookie == -1)
        nbd_die (bs ? "nbd_aio_block_status" : "nbd_aio_pread");
      issued++;
      more = o->count > 0 ? issued < o->count : true;
    }
    if (!more && nbd_aio_in_flight (nbd) == 0)
      break;
    if (nbd_poll (nbd, -1) == -1)
      nbd_die ("nbd_poll");
  }
  end = now ();

  if (nbd_shutdown (nbd, 0) == -1)
    nbd_die ("nbd_shutdown");
  nbd_close (nbd);
  free (buf);
  print_result (&st, end - start);
  return 0;
}

static int
run_connect (const struct opts *o)
{
  struct stats st = { 0 };
  double start;
  uint64_t i;

  start = now ();
  for (i = 0; i < o->count; ++i) {
    struct nbd_handle *nbd = open_handle (o, false);

    if (nbd_shutdown (nbd, 0) == -1)
      nbd_die ("nbd_shutdown");
    nbd_close (nbd);
    st.done++;
  }
  print_result (&st, now () - start);
  return 0;
}

static int
run_mksparse (const char *file, const struct opts *o)
{
  char *block;
  uint64_t i;
  int fd;

  if (o->size == 0 || o->stride < o->size || o->count == 0)
    usage (EXIT_FAILURE);
  block = malloc (o->size);
  if (block == NULL) {
    perror ("malloc");
    exit (EXIT_FAILURE);
  }
  memset (block, 0xa5, o->size);
  fd = open (file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd == -1) {
    perror (file);
    exit (EXIT_FAILURE);
  }
  for (i = 0; i < o->count; ++i) {
    if (pwrite (fd, block, o->size, i * o->stride) != (ssize_t) o->size) {
      perror ("pwrite");
      exit (EXIT_FAILURE);
    }
  }
  /* End on a hole, so that every data block is its own extent. */
  if (ftruncate (fd, o->count * o->stride) == -1 ||
      fsync (fd) == -1 || close (fd) == -1) {
    perror (file);
    exit (EXIT_FAILURE);
  }
  free (block);
  return 0;
}

int
main (int argc, char *argv[])
{
  enum { OPT_PSK = 256, OPT_SIZE, OPT_DEPTH, OPT_TIME, OPT_COUNT,
         OPT_SEQ, OPT_STRIDE };
  static const struct option longopts[] = {
    { "help", no_argument, NULL, 'h' },
    { "psk", required_argument, NULL, OPT_PSK },
    { "size", required_argument, NULL, OPT_SIZE },
    { "depth", required_argument, NULL, OPT_DEPTH },
    { "time", required_argument, NULL, OPT_TIME },
    { "count", required_argument, NULL, OPT_COUNT },
    { "seq", no_argument, NULL, OPT_SEQ },
    { "stride", required_argument, NULL, OPT_STRIDE },
    { NULL }
  };
  struct opts o = { .size = 4096, .depth = 1 };
  const char *cmd;
  int c;

  while ((c = getopt_long (argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'h': usage (EXIT_SUCCESS);
    case OPT_PSK: o.psk = optarg; break;
    case OPT_SIZE: o.size = strtoull (optarg, NULL, 0); break;
    case OPT_DEPTH: o.depth = strtoul (optarg, NULL, 0); break;
    case OPT_TIME: o.time = strtod (optarg, NULL); break;
    case OPT_COUNT: o.count = strtoull (optarg, NULL, 0); break;
    case OPT_SEQ: o.seq = true; break;
    case OPT_STRIDE: o.stride = strtoull (optarg, NULL, 0); break;
    default: usage (EXIT_FAILURE);
    }
  }
  if (optind >= argc)
    usage (EXIT_FAILURE);
  cmd = argv[optind++];

  if (strcmp (cmd, "sizes") == 0) {
    struct nbd_handle *nbd = nbd_create ();

    if (nbd == NULL)
      nbd_die ("nbd_create");
    printf ("struct tg_conn %zu\n", sizeof (struct tg_conn));
    printf ("libnbd %s\n", nbd_get_version (nbd));
    nbd_close (nbd);
    return 0;
  }
  if (optind + 1 != argc)
    usage (EXIT_FAILURE);
  if (strcmp (cmd, "mksparse") == 0)
    return run_mksparse (argv[optind], &o);

  o.socket = argv[optind];
  if (o.depth == 0)
    o.depth = 1;
  if (strcmp (cmd, "connect") == 0) {
    if (o.count == 0)
      usage (EXIT_FAILURE);
    return run_connect (&o);
  }
  if ((o.count > 0) == (o.time > 0))
    usage (EXIT_FAILURE);       /* exactly one of --count, --time */
  if (strcmp (cmd, "read") == 0)
    return run_requests (&o, false);
  if (strcmp (cmd, "bs") == 0)
    return run_requests (&o, true);
  usage (EXIT_FAILURE);
}
