/* tg-bench: the libnbd client behind 'make bench'.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Subcommands (all print one result line per socket on stdout):
 *
 *   read SOCKET... [opts]  aio preads, --depth in flight, random or
 *                          sequential; prints "ops N secs S rate R
 *                          extents E errors X socket SOCKET".
 *   bs SOCKET... [opts]    aio block status (base:allocation) over
 *                          --size byte ranges; prints the same.
 *   connect SOCKET... [opts]
 *                          short connections: handshake, GO,
 *                          NBD_CMD_DISC; prints the same.
 *   mksparse FILE          write a sparse file: --count data blocks of
 *                          --size bytes, one every --stride bytes, and
 *                          fsync it (no writeback during the runs).
 *   sizes                  print the sizes of tlsguard's records.
 *
 * Options (--help): --tls-psk FILE (TLS required, user "qemu"), --size BYTES,
 * --depth N, --time SECS (time based) or --count N (fixed count),
 * --seq (sequential instead of random offsets), --stride BYTES.
 * --count with --depth 1 issues exactly N synchronous requests, which
 * is what the callgrind runs need; --count takes one SOCKET.
 *
 * With --time and several sockets, the servers are measured side by
 * side: one event loop drives one connection (or connection cycle) per
 * socket at the same time, every socket gets the same start and the
 * same deadline, and only what completes before the deadline counts.
 * Whatever the machine does during the run, it does to every server.
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
#include <limits.h>
#include <poll.h>

#include <libnbd.h>

#include "cli.h"
#include "error.h"
#include "monotime.h"
#include "policy.h"

/* What --help and the error messages say the tool is. */
static const struct cli_tool tool = {
  .name = "tg-bench",
  .synopsis =
  "usage: tg-bench read|bs|connect SOCKET... [--tls-psk FILE] [--size BYTES]\n"
  "                [--depth N] [--time SECS | --count N] [--seq]\n"
  "       tg-bench mksparse FILE --count N --size BYTES --stride BYTES\n"
  "       tg-bench sizes\n",
  .about =
  "The libnbd client behind 'make bench' (bench/README.md): one result\n"
  "line per SOCKET, \"ops N secs S rate R extents E errors X socket S\".\n",
};

struct opts {
  const char *psk, *psk_username;     /* --tls-psk, and "qemu" */
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

/* Completions count only while this is true: in a timed run it goes
 * false at the deadline, and what completes while draining is not
 * counted.
 */
static bool counting = true;

/* Create a handle for o's TLS setting; with meta, ask for
 * base:allocation.  Connect to SOCKET and wait for the handshake
 * unless async, in which case only start it.
 */
static struct nbd_handle *
open_handle (const struct opts *o, const char *socket, bool meta, bool async)
{
  struct nbd_handle *nbd;

  nbd = nbd_create ();
  if (nbd == NULL)
    nbd_die ("nbd_create");
  if (o->psk) {
    if (nbd_set_tls (nbd, LIBNBD_TLS_REQUIRE) == -1 ||
        nbd_set_tls_psk_file (nbd, o->psk) == -1 ||
        nbd_set_tls_username (nbd, o->psk_username) == -1)
      nbd_die ("TLS settings");
  }
  else if (nbd_set_tls (nbd, LIBNBD_TLS_DISABLE) == -1)
    nbd_die ("nbd_set_tls");
  if (meta && nbd_add_meta_context (nbd, LIBNBD_CONTEXT_BASE_ALLOCATION) == -1)
    nbd_die ("nbd_add_meta_context");
  if (async) {
    if (nbd_aio_connect_unix (nbd, socket) == -1)
      nbd_die ("nbd_aio_connect_unix");
  }
  else if (nbd_connect_unix (nbd, socket) == -1)
    nbd_die ("nbd_connect_unix");
  return nbd;
}

static int
complete_cb (void *user_data, int *error)
{
  struct stats *st = user_data;

  if (counting) {
    st->done++;
    if (*error)
      st->errors++;
  }
  return 1;                     /* retire the command */
}

static int
extent_cb (void *user_data, const char *metacontext, uint64_t offset,
           uint32_t *entries, size_t nr_entries, int *error)
{
  struct stats *st = user_data;

  if (counting && strcmp (metacontext, LIBNBD_CONTEXT_BASE_ALLOCATION) == 0)
    st->extents += nr_entries / 2;
  return 0;
}

static void
print_result (const struct stats *st, double secs, const char *socket)
{
  printf ("ops %" PRIu64 " secs %.6f rate %.3f extents %" PRIu64
          " errors %" PRIu64 " socket %s\n",
          st->done, secs, secs > 0 ? st->done / secs : 0.0,
          st->extents, st->errors, socket);
}

enum workload { W_READ, W_BS, W_CONNECT };

/* One server in a run: its connection and where the next request
 * goes.
 */
struct slot {
  const char *socket;
  struct nbd_handle *nbd;
  struct stats st;
  uint64_t rng;
  uint64_t nslots;              /* export size / request size */
  uint64_t next_seq;
  char *buf;                    /* read: one buffer for every reply */
  bool disconnecting;           /* connect: NBD_CMD_DISC requested */
};

/* Connect (blocking), check the export and the context. */
static void
slot_open (const struct opts *o, struct slot *s, enum workload w)
{
  uint64_t export_size;

  s->nbd = open_handle (o, s->socket, w == W_BS, false);
  export_size = nbd_get_size (s->nbd);
  if ((int64_t) export_size == -1)
    nbd_die ("nbd_get_size");
  if (o->size == 0 || export_size < o->size) {
    fprintf (stderr, "tg-bench: %s: export of %" PRIu64 " bytes is smaller "
             "than --size %" PRIu64 "\n", s->socket, export_size, o->size);
    exit (EXIT_FAILURE);
  }
  if (w == W_BS &&
      nbd_can_meta_context (s->nbd, LIBNBD_CONTEXT_BASE_ALLOCATION) != 1) {
    fprintf (stderr, "tg-bench: %s: server did not agree to base:allocation\n",
             s->socket);
    exit (EXIT_FAILURE);
  }
  s->nslots = export_size / o->size;
  s->rng = UINT64_C (0x9E3779B97F4A7C15);
  if (w == W_READ) {
    /* The data is not looked at, and libnbd fills one reply at a
     * time.
     */
    s->buf = xmalloc (o->size);
  }
}

/* Issue one read or block status request. */
static void
slot_issue (const struct opts *o, struct slot *s, enum workload w)
{
  uint64_t n = o->seq ? s->next_seq++ % s->nslots
                      : next_random (&s->rng) % s->nslots;
  nbd_completion_callback cb = { .callback = complete_cb,
                                 .user_data = &s->st };

  if (w == W_BS) {
    nbd_extent_callback ecb = { .callback = extent_cb,
                                .user_data = &s->st };

    if (nbd_aio_block_status (s->nbd, o->size, n * o->size, ecb, cb, 0) == -1)
      nbd_die ("nbd_aio_block_status");
  }
  else if (nbd_aio_pread (s->nbd, s->buf, o->size, n * o->size, cb, 0) == -1)
    nbd_die ("nbd_aio_pread");
}

/* --count: exactly o->count requests to one server, at most o->depth
 * in flight (--depth 1: synchronous).
 */
static int
run_count (const struct opts *o, const char *socket, enum workload w)
{
  struct slot s = { .socket = socket };
  uint64_t issued = 0;
  double start;

  slot_open (o, &s, w);
  start = monotime_s ();
  while (issued < o->count || nbd_aio_in_flight (s.nbd) > 0) {
    while (issued < o->count && nbd_aio_in_flight (s.nbd) < (int) o->depth) {
      slot_issue (o, &s, w);
      issued++;
    }
    if (nbd_poll (s.nbd, -1) == -1)
      nbd_die ("nbd_poll");
  }
  print_result (&s.st, monotime_s () - start, socket);
  if (nbd_shutdown (s.nbd, 0) == -1)
    nbd_die ("nbd_shutdown");
  nbd_close (s.nbd);
  free (s.buf);
  return 0;
}

/* connect --count: o->count connections in a row to one server. */
static int
run_connect_count (const struct opts *o, const char *socket)
{
  struct stats st = { 0 };
  double start;
  uint64_t i;

  start = monotime_s ();
  for (i = 0; i < o->count; ++i) {
    struct nbd_handle *nbd = open_handle (o, socket, false, false);

    if (nbd_shutdown (nbd, 0) == -1)
      nbd_die ("nbd_shutdown");
    nbd_close (nbd);
    st.done++;
  }
  print_result (&st, monotime_s () - start, socket);
  return 0;
}

/* connect, timed: keep one connection cycle (handshake, GO,
 * NBD_CMD_DISC, close) going on s; count a cycle when its handle has
 * closed.
 */
static void
slot_cycle (const struct opts *o, struct slot *s)
{
  if (s->nbd == NULL) {
    if (counting)
      s->nbd = open_handle (o, s->socket, false, true);
    return;
  }
  if (nbd_aio_is_dead (s->nbd)) {
    fprintf (stderr, "tg-bench: %s: connection failed: %s\n", s->socket,
             nbd_get_error ());
    exit (EXIT_FAILURE);
  }
  if (!s->disconnecting && nbd_aio_is_ready (s->nbd)) {
    if (nbd_aio_disconnect (s->nbd, 0) == -1)
      nbd_die ("nbd_aio_disconnect");
    s->disconnecting = true;
  }
  else if (nbd_aio_is_closed (s->nbd)) {
    nbd_close (s->nbd);
    s->nbd = NULL;
    s->disconnecting = false;
    if (counting)
      s->st.done++;
    slot_cycle (o, s);
  }
}

/* --time: every socket at once, in one poll loop, until the deadline;
 * then drain without counting.
 */
static int
run_side_by_side (const struct opts *o, char **sockets, size_t n,
                  enum workload w)
{
  struct slot *slots = xcalloc (n, sizeof *slots);
  struct pollfd *fds = xcalloc (n, sizeof *fds);
  double start, deadline;
  size_t i, first = 0;
  uint64_t order = UINT64_C (0x2545F4914F6CDD1D);

  for (i = 0; i < n; ++i) {
    slots[i].socket = sockets[i];
    if (w != W_CONNECT)
      slot_open (o, &slots[i], w);
  }

  start = monotime_s ();
  deadline = start + o->time;
  for (;;) {
    double t = monotime_s ();
    bool busy = false;

    if (t >= deadline)
      counting = false;
    /* Which server is served first turns with every pass, so that
     * none is always first to get the client's time.
     */
    first = next_random (&order) % n;
    for (i = 0; i < n; ++i) {
      size_t k = (first + i) % n;
      struct slot *s = &slots[k];

      if (w == W_CONNECT)
        slot_cycle (o, s);
      else
        while (counting && nbd_aio_in_flight (s->nbd) < (int) o->depth)
          slot_issue (o, s, w);
      if (s->nbd == NULL ||
          (w != W_CONNECT && nbd_aio_in_flight (s->nbd) == 0)) {
        fds[k].fd = -1;         /* poll ignores it */
        fds[k].events = 0;
        continue;
      }
      busy = true;
      fds[k].fd = nbd_aio_get_fd (s->nbd);
      if (fds[k].fd == -1)
        nbd_die ("nbd_aio_get_fd");
      fds[k].events = 0;
      switch (nbd_aio_get_direction (s->nbd)) {
      case LIBNBD_AIO_DIRECTION_READ: fds[k].events = POLLIN; break;
      case LIBNBD_AIO_DIRECTION_WRITE: fds[k].events = POLLOUT; break;
      case LIBNBD_AIO_DIRECTION_BOTH: fds[k].events = POLLIN|POLLOUT; break;
      }
    }
    if (!busy)
      break;
    if (poll (fds, n,
              counting ? (int) ((deadline - t) * 1000) + 1 : -1) == -1) {
      perror ("poll");
      exit (EXIT_FAILURE);
    }
    for (i = 0; i < n; ++i) {
      size_t k = (first + i) % n;
      short r = fds[k].revents;

      if (fds[k].fd == -1 || r == 0)
        continue;
      if (r & (POLLIN|POLLHUP|POLLERR)) {
        if (nbd_aio_notify_read (slots[k].nbd) == -1)
          nbd_die ("nbd_aio_notify_read");
      }
      else if (r & POLLOUT) {
        if (nbd_aio_notify_write (slots[k].nbd) == -1)
          nbd_die ("nbd_aio_notify_write");
      }
    }
  }

  for (i = 0; i < n; ++i) {
    print_result (&slots[i].st, deadline - start, slots[i].socket);
    if (slots[i].nbd != NULL) {
      if (nbd_shutdown (slots[i].nbd, 0) == -1)
        nbd_die ("nbd_shutdown");
      nbd_close (slots[i].nbd);
    }
    free (slots[i].buf);
  }
  free (slots);
  free (fds);
  return 0;
}

static int
run_mksparse (const char *file, const struct opts *o)
{
  char *block;
  uint64_t i;
  int fd;

  block = xmalloc (o->size);
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

enum { OPT_SIZE = 256, OPT_DEPTH, OPT_TIME, OPT_COUNT, OPT_SEQ,
       OPT_STRIDE };

static const struct cli_option options[] = {
  CLI_OPT_TLS_PSK ("PSK file: connect over TLS (required), user qemu"),
  { "size", OPT_SIZE, "BYTES",
    "request size (read, bs; default 4096), data block\n"
    "(mksparse)", NULL, 0 },
  { "depth", OPT_DEPTH, "N", "requests in flight (default 1)", NULL, 0 },
  { "time", OPT_TIME, "SECS",
    "run for this long, every SOCKET side by side", NULL, 0 },
  { "count", OPT_COUNT, "N",
    "exactly N requests or connections to one SOCKET;\n"
    "mksparse: N data blocks", NULL, 0 },
  { "seq", OPT_SEQ, NULL, "sequential offsets instead of random ones",
    NULL, 0 },
  { "stride", OPT_STRIDE, "BYTES", "mksparse: one data block every BYTES",
    NULL, 0 },
  { NULL },
};

static int
handle_option (int key, const char *arg, void *opaque, struct error *err)
{
  struct opts *o = opaque;

  switch (key) {
  case OPT_SEQ: o->seq = true; return 0;
  case OPT_TIME: return cli_double (arg, 0, 1e6, &o->time, err);
  case OPT_SIZE: return cli_uint (arg, 1, UINT32_MAX, &o->size, err);
  case OPT_COUNT: return cli_uint (arg, 0, UINT64_MAX, &o->count, err);
  case OPT_STRIDE: return cli_uint (arg, 0, UINT64_MAX, &o->stride, err);
  case OPT_DEPTH: return cli_unsigned (arg, 0, INT_MAX, &o->depth, err);
  }
  return -1;
}

static int
print_sizes (void)
{
  struct nbd_handle *nbd = nbd_create ();

  if (nbd == NULL)
    nbd_die ("nbd_create");
  printf ("struct tg_conn %zu\n", sizeof (struct tg_conn));
  printf ("libnbd %s\n", nbd_get_version (nbd));
  nbd_close (nbd);
  return 0;
}

int
main (int argc, char *argv[])
{
  struct opts o = { .size = 4096, .depth = 1 };
  struct cli_common cl;
  const char *cmd;
  enum workload w;
  int i;

  i = cli_parse (&tool, options, handle_option, argc, argv, &o, &cl);
  o.psk = cl.tls.psk_file;
  o.psk_username = cl.tls.psk_username;
  if (i >= argc)
    cli_usage_error (&tool, "give a subcommand");
  cmd = argv[i++];

  if (strcmp (cmd, "sizes") == 0)
    return print_sizes ();
  if (strcmp (cmd, "mksparse") == 0) {
    if (i + 1 != argc)
      cli_usage_error (&tool, "mksparse takes one FILE");
    if (o.count == 0 || o.stride < o.size)
      cli_usage_error (&tool, "mksparse needs --count, and --stride at "
                       "least --size");
    return run_mksparse (argv[i], &o);
  }

  if (strcmp (cmd, "read") == 0)
    w = W_READ;
  else if (strcmp (cmd, "bs") == 0)
    w = W_BS;
  else if (strcmp (cmd, "connect") == 0)
    w = W_CONNECT;
  else
    cli_usage_error (&tool, "unknown subcommand '%s'", cmd);
  if (i >= argc)
    cli_usage_error (&tool, "give at least one SOCKET");
  if ((o.count > 0) == (o.time > 0))
    cli_usage_error (&tool, "give exactly one of --count and --time");
  if (o.depth == 0)
    o.depth = 1;
  if (o.time > 0)
    return run_side_by_side (&o, &argv[i], argc - i, w);
  if (i + 1 != argc)
    cli_usage_error (&tool, "--count takes one SOCKET");
  if (w == W_CONNECT)
    return run_connect_count (&o, argv[i]);
  return run_count (&o, argv[i], w);
}
