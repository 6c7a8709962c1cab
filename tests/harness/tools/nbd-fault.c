/* nbd-fault: clients that drop the connection at every step of NBD
 * negotiation and transmission, in plaintext and over TLS (PSK).
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Client i drops at step (i mod NR_STEPS).  Each client runs its steps
 * with short timeouts, then closes the socket without any goodbye.  A
 * client that cannot even reach its drop point (the server misbehaved
 * or vanished) counts as an unexpected failure.  Output: one summary
 * line per step and a total; exit status 0 only if every client
 * reached its drop point.
 */

#include <config.h>

#include <stdbool.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/socket.h>

#include "cli.h"
#include "transport.h"
#include "wire.h"

/* What --help and the error messages say the tool is. */
static const struct cli_tool tool = {
  .name = "nbd-fault",
  .tls_required = true,
  .about =
  "Clients that drop the connection at each step of negotiation and\n"
  "transmission, client i at step i mod the number of steps.  Exit\n"
  "status 0 only if every client reached its drop point.\n",
};

#define TIMEOUT_MS 10000

/* The drop points. */
enum step {
  S_CONNECT,            /* connect, close before reading anything */
  S_GREETING,           /* read the greeting, close */
  S_FLAGS,              /* send client flags, close */
  S_LIST_SENT,          /* send NBD_OPT_LIST, close without reading */
  S_LIST_DONE,          /* LIST answered, close */
  S_INFO_DONE,          /* plaintext INFO answered, close */
  S_HALF_OPTION,        /* half an option header, close */
  S_STARTTLS_ACKED,     /* STARTTLS acknowledged, close before handshake */
  S_MID_HANDSHAKE,      /* a partial TLS ClientHello, close */
  S_TLS_UP,             /* handshake done, close with no option */
  S_TLS_META,           /* TLS, SR and SET_META answered, close */
  S_TLS_INFO,           /* TLS INFO answered, close */
  S_TLS_GO,             /* TLS GO answered, close in transmission */
  S_TLS_HALF_REQUEST,   /* TLS GO, half a request header, close */
  S_TLS_BS_UNREAD,      /* TLS BLOCK_STATUS sent, close without reading */
  S_TLS_READ_PARTIAL,   /* TLS READ, part of the reply read, close */
  S_PLAIN_GO_READ,      /* plaintext GO, READ sent, close without reading */
  S_PLAIN_BS_REFUSED,   /* plaintext BLOCK_STATUS answered, close, no DISC */
  NR_STEPS,
  /* Steps only run with --step, not in the default rotation. */
  S_PLAIN_PIPELINE_HANGUP = NR_STEPS, /* plaintext GO, 64 x 256 KiB READs
                                       * pipelined, close after 8 bytes of a reply */
  NR_ALL_STEPS
};

static const char *const step_names[NR_ALL_STEPS] = {
  "connect", "greeting", "client-flags", "list-sent", "list-done",
  "info-done", "half-option", "starttls-acked", "mid-handshake", "tls-up",
  "tls-meta", "tls-info", "tls-go", "tls-half-request", "tls-bs-unread",
  "tls-read-partial", "plain-go-read", "plain-bs-refused",
  "plain-pipeline-hangup",
};

static const char *sock;
static struct tport_creds *creds;
static unsigned nr_clients = 1000, nr_threads = 4;
static int only_step = -1;          /* --step NAME: every client drops there */
static unsigned next_client;
static unsigned reached[NR_ALL_STEPS], failed[NR_ALL_STEPS];
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

/* Send an option; returns 0 or -1. */
static int
send_buf (struct tport *t, struct wire_buf *b)
{
  int r = tport_write (t, b->data, b->len);
  wire_buf_reset (b);
  return r;
}

/* Read option replies for opt until a final one (ACK or error).
 * Returns the final reply type, or 0 on failure.
 */
static uint32_t
read_option_replies (struct tport *t, uint32_t opt)
{
  for (;;) {
    uint8_t hdr[WIRE_OPT_REP_HDR_LEN];
    static __thread uint8_t payload[WIRE_MAX_OPT_PAYLOAD];
    struct wire_opt_reply r;

    if (tport_read (t, hdr, sizeof hdr, TIMEOUT_MS) != (ssize_t) sizeof hdr)
      return 0;
    if (wire_dec_opt_reply_hdr (hdr, sizeof hdr, &r,
                                WIRE_MAX_OPT_PAYLOAD) != WIRE_OK ||
        r.opt != opt)
      return 0;
    if (r.len &&
        tport_read (t, payload, r.len, TIMEOUT_MS) != (ssize_t) r.len)
      return 0;
    if (r.type == NBD_REP_ACK || (r.type & NBD_REP_FLAG_ERROR))
      return r.type;
  }
}

static int
option (struct tport *t, struct wire_buf *b, uint32_t opt, uint32_t want)
{
  if (send_buf (t, b) == -1)
    return -1;
  return read_option_replies (t, opt) == want ? 0 : -1;
}

/* An option without payload that must be acknowledged. */
static int
bare_option (struct tport *t, struct wire_buf *b, uint32_t opt)
{
  wire_enc_option (b, opt, NULL, 0);
  return option (t, b, opt, NBD_REP_ACK);
}

static int
starttls (struct tport *t, struct wire_buf *b)
{
  if (bare_option (t, b, NBD_OPT_STARTTLS) == -1)
    return -1;
  return tport_starttls (t, creds, TPORT_CLIENT, TIMEOUT_MS);
}

static int
info (struct tport *t, struct wire_buf *b)
{
  wire_enc_opt_info (b, NBD_OPT_INFO, "", NULL, 0);
  return option (t, b, NBD_OPT_INFO, NBD_REP_ACK);
}

static int
go (struct tport *t, struct wire_buf *b)
{
  wire_enc_opt_info (b, NBD_OPT_GO, "", NULL, 0);
  return option (t, b, NBD_OPT_GO, NBD_REP_ACK);
}

static int
meta (struct tport *t, struct wire_buf *b)
{
  static const char *const q[] = { "base:allocation" };

  if (bare_option (t, b, NBD_OPT_STRUCTURED_REPLY) == -1)
    return -1;
  wire_enc_opt_meta (b, NBD_OPT_SET_META_CONTEXT, "", q, 1);
  return option (t, b, NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK);
}

/* Send the request in b, then read the first n bytes of what comes
 * back (n <= 64).
 */
static int
send_and_read (struct tport *t, struct wire_buf *b, size_t n)
{
  uint8_t part[64];

  if (send_buf (t, b) == -1)
    return -1;
  return tport_read (t, part, n, TIMEOUT_MS) == (ssize_t) n ? 0 : -1;
}

/* GO (after SR and SET_META_CONTEXT, with meta), then one request:
 * sent and left unread (reply_bytes 0), or the first reply_bytes of
 * its reply read.
 */
static int
request (struct tport *t, struct wire_buf *b, bool with_meta, uint16_t cmd,
         uint32_t len, size_t reply_bytes)
{
  if ((with_meta && meta (t, b) == -1) || go (t, b) == -1)
    return -1;
  wire_enc_request (b, 0, cmd, 1, 0, len);
  return reply_bytes ? send_and_read (t, b, reply_bytes) : send_buf (t, b);
}

/* A TLS record header for a handshake message, then only part of the
 * ClientHello it announces.
 */
static int
mid_handshake (struct tport *t, struct wire_buf *b)
{
  static const uint8_t partial[] = {
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
  };

  if (bare_option (t, b, NBD_OPT_STARTTLS) == -1)
    return -1;
  return tport_write (t, partial, sizeof partial);
}

/* Many large replies in flight on several worker threads when the
 * client goes: nbdkit 1.32.5 (fixed in 1.33.10) then asserts
 * 'sock >= 0' in raw_send_socket.  The export must be >= 16 MiB.
 */
static int
pipeline_hangup (struct tport *t, struct wire_buf *b)
{
  uint64_t k;

  if (go (t, b) == -1)
    return -1;
  for (k = 0; k < 64; ++k)
    wire_enc_request (b, 0, NBD_CMD_READ, k + 1, k * 262144, 262144);
  /* Wait for the first reply to start, so that replies are being
   * written when the client goes.
   */
  return send_and_read (t, b, 8);
}

/* The drop points after the client flags and before TLS.  Returns 0
 * if the client got there, -1 if not, 1 if step comes after STARTTLS.
 */
static int
plaintext_step (struct tport *t, struct wire_buf *b, enum step step)
{
  switch (step) {
  case S_LIST_SENT:
    wire_enc_option (b, NBD_OPT_LIST, NULL, 0);
    return send_buf (t, b);
  case S_LIST_DONE:
    return bare_option (t, b, NBD_OPT_LIST);
  case S_INFO_DONE:
    return info (t, b);
  case S_HALF_OPTION:
    wire_enc_option (b, NBD_OPT_INFO, NULL, 0);
    return tport_write (t, b->data, b->len / 2);
  case S_STARTTLS_ACKED:
    return bare_option (t, b, NBD_OPT_STARTTLS);
  case S_MID_HANDSHAKE:
    return mid_handshake (t, b);
  case S_PLAIN_PIPELINE_HANGUP:
    return pipeline_hangup (t, b);
  case S_PLAIN_GO_READ:
    return request (t, b, true, NBD_CMD_READ, 4096, 0);
  case S_PLAIN_BS_REFUSED:
    /* Under deny: one error chunk; read its header at least. */
    return request (t, b, true, NBD_CMD_BLOCK_STATUS, 65536,
                    WIRE_CHUNK_HDR_LEN);
  default:
    return 1;
  }
}

/* The drop points after STARTTLS. */
static int
tls_step (struct tport *t, struct wire_buf *b, enum step step)
{
  if (starttls (t, b) == -1)
    return -1;
  switch (step) {
  case S_TLS_UP:
    return 0;
  case S_TLS_META:
    return meta (t, b);
  case S_TLS_INFO:
    return info (t, b);
  case S_TLS_GO:
    return go (t, b);
  case S_TLS_HALF_REQUEST:
    if (go (t, b) == -1)
      return -1;
    wire_enc_request (b, 0, NBD_CMD_READ, 1, 0, 4096);
    return tport_write (t, b->data, WIRE_REQUEST_LEN / 2);
  case S_TLS_BS_UNREAD:
    return request (t, b, true, NBD_CMD_BLOCK_STATUS, 65536, 0);
  case S_TLS_READ_PARTIAL:
    return request (t, b, false, NBD_CMD_READ, 65536, 8);
  default:
    return -1;
  }
}

/* From the greeting to the drop point. */
static int
negotiate (struct tport *t, struct wire_buf *b, enum step step)
{
  uint8_t greet[WIRE_GREETING_LEN];
  uint16_t hflags;
  int r;

  if (tport_read (t, greet, sizeof greet, TIMEOUT_MS) != (ssize_t) sizeof greet
      || wire_dec_greeting (greet, sizeof greet, &hflags) != WIRE_OK)
    return -1;
  if (step == S_GREETING)
    return 0;
  wire_enc_client_flags (b, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
  if (send_buf (t, b) == -1)
    return -1;
  if (step == S_FLAGS)
    return 0;
  r = plaintext_step (t, b, step);
  return r == 1 ? tls_step (t, b, step) : r;
}

/* Run one client up to its drop point.  Returns 0 if it got there. */
static int
run_client (enum step step)
{
  struct wire_buf b;
  struct tport *t;
  int fd, r;

  fd = tport_connect_unix (sock);
  if (fd == -1)
    return -1;
  t = tport_new (fd);
  if (t == NULL) {
    close (fd);
    return -1;
  }
  wire_buf_init (&b);
  r = step == S_CONNECT ? 0 : negotiate (t, &b, step);
  if (r == -1) {
    const char *why = tport_error (t);

    pthread_mutex_lock (&report_lock);
    fprintf (stderr, "nbd-fault: step %s: %s\n", step_names[step],
             why[0] ? why : "unexpected reply");
    pthread_mutex_unlock (&report_lock);
  }
  wire_buf_free (&b);
  /* Drop: no NBD_CMD_DISC, no TLS bye; just close the socket.  Shut
   * down first so that tport_free's best-effort TLS bye cannot send.
   */
  shutdown (tport_fd (t), SHUT_RDWR);
  tport_free (t);
  return r;
}

static void *
worker (void *arg)
{
  for (;;) {
    unsigned i = __atomic_fetch_add (&next_client, 1, __ATOMIC_RELAXED);
    enum step s;

    if (i >= nr_clients)
      return NULL;
    s = only_step >= 0 ? (enum step) only_step : (enum step) (i % NR_STEPS);
    if (run_client (s) == 0)
      __atomic_add_fetch (&reached[s], 1, __ATOMIC_RELAXED);
    else
      __atomic_add_fetch (&failed[s], 1, __ATOMIC_RELAXED);
  }
}

enum { OPT_UNIX = 256, OPT_CLIENTS, OPT_THREADS, OPT_STEP };

/* --step's list, under its help. */
static void
list_steps (FILE *fp)
{
  size_t i, col = 80;

  for (i = 0; i < NR_ALL_STEPS; ++i) {
    size_t w = strlen (step_names[i]);

    if (col + 1 + w > 78) {
      fprintf (fp, "%s%24s", i ? "\n" : "", "");
      col = 24;
    }
    else {
      fputc (' ', fp);
      col++;
    }
    fputs (step_names[i], fp);
    col += w;
  }
  fputc ('\n', fp);
}

static const struct cli_option options[] = {
  { "unix", OPT_UNIX, "SOCKET", "the server's Unix socket",
    NULL, CLI_REQUIRED },
  CLI_OPT_TLS_PSK ("PSK file for the TLS steps (needed even when only\n"
                   "plaintext steps run)"),
  CLI_OPT_TLS_USERNAME ("PSK user (default qemu)"),
  { "clients", OPT_CLIENTS, "N", "how many clients (default 1000)", NULL, 0 },
  { "threads", OPT_THREADS, "N",
    "how many at a time, 1 to 64 (default 4)", NULL, 0 },
  { "step", OPT_STEP, "NAME",
    "every client drops at this step; plain-pipeline-hangup\n"
    "(not in the default rotation): 64 READs of 256 KiB\n"
    "pipelined in plaintext, close once the first reply starts.\n"
    "The steps, in the order of the rotation:", list_steps, 0 },
  { NULL },
};

static int
handle_option (int key, const char *arg, void *opaque, struct error *err)
{
  switch (key) {
  case OPT_UNIX:
    sock = arg;
    return 0;
  case OPT_CLIENTS:
    return cli_unsigned (arg, 0, 10000000, &nr_clients, err);
  case OPT_THREADS:
    return cli_unsigned (arg, 1, 64, &nr_threads, err);
  case OPT_STEP:
    only_step = cli_choice (arg, step_names, NR_ALL_STEPS,
                            sizeof step_names[0], "step", err);
    return only_step == -1 ? -1 : 0;
  }
  return -1;
}

int
main (int argc, char *argv[])
{
  struct cli_common cl;
  pthread_t threads[64];
  unsigned i, total_failed = 0;

  cli_parse (&tool, options, handle_option, argc, argv, NULL, &cl);

  tport_global_init (0);
  creds = cli_creds (&tool, &cl.tls, TPORT_CLIENT);

  for (i = 0; i < nr_threads; ++i)
    if (pthread_create (&threads[i], NULL, worker, NULL) != 0) {
      perror ("pthread_create");
      exit (2);
    }
  for (i = 0; i < nr_threads; ++i)
    pthread_join (threads[i], NULL);

  for (i = 0; i < NR_ALL_STEPS; ++i) {
    if (i >= NR_STEPS && (int) i != only_step)
      continue;
    printf ("step %-18s dropped=%u failed=%u\n", step_names[i],
            reached[i], failed[i]);
    total_failed += failed[i];
  }
  printf ("clients=%u failed=%u\n", nr_clients, total_failed);
  tport_creds_free (creds);
  return total_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
