/* tlsguard test harness: nbd-probe's NBD client connection.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * One connection to the server under test.  Every byte read goes
 * through the wire codec's decoders with bounds, every read has a
 * deadline, and every message sent or received is added to the
 * session's trace in decoded form ("C: NBD_OPT_GO export=\"\"",
 * "S: NBD_REP_ACK").  Nothing here decides whether a scenario passed:
 * failures are reported as -1 with a message in s->err (error.h), and
 * the interpreter (scenario.c) judges.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "session.h"

/* Bounds on what the server may send us. */
#define MAX_OPT_REPLY_PAYLOAD WIRE_MAX_OPT_PAYLOAD
#define MAX_CHUNKS            100000
#define MAX_BS_PAYLOAD        (4 + 8 * (uint32_t) WIRE_MAX_EXTENTS)

/* --- session basics -------------------------------------------------- */

void
sess_init (struct session *s, const struct probe_cfg *cfg)
{
  memset (s, 0, sizeof *s);
  s->cfg = cfg;
  s->next_cookie = 1;
  wire_buf_init (&s->outbuf);
}

/* The trace is for people: a server that streams replies (100000
 * NBD_REP_SERVER, chunks without DONE) must not make it megabytes.
 */
#define MAX_TRACE (64 * 1024)
static const char trace_cut[] =
  "-- trace truncated: more than 64 KiB, later messages not recorded\n";

void
sess_trace (struct session *s, const char *fmt, ...)
{
  va_list ap;

  if (s->trace.len >= MAX_TRACE) {
    size_t n = sizeof trace_cut - 1;

    if (s->trace.len < n ||
        memcmp (s->trace.s + s->trace.len - n, trace_cut, n) != 0)
      sbuf_add (&s->trace, trace_cut);
    return;
  }
  va_start (ap, fmt);
  sbuf_vprintf (&s->trace, fmt, ap);
  va_end (ap);
  sbuf_add (&s->trace, "\n");
}

/* Set s->err; returns -1. */
static int
sess_error (struct session *s, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

static int
sess_error (struct session *s, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  error_setv (&s->err, fmt, ap);
  va_end (ap);
  return -1;
}

/* Read exactly len bytes before the deadline.  Returns 1 on success,
 * 0 on EOF (s->closed set; *got holds how much was read), -1 on error
 * or timeout (s->err set; what names the thing being read).
 */
static int
read_exact (struct session *s, void *buf, size_t len, int64_t deadline,
            const char *what, size_t *got)
{
  ssize_t r;

  if (got)
    *got = 0;
  if (s->closed) {
    sess_error (s, "connection already closed while reading %s", what);
    return 0;
  }
  r = tport_read (s->t, buf, len, tport_remaining_ms (deadline));
  if (r < 0) {
    if (errno == ETIMEDOUT) {
      sess_error (s, "timeout: no %s within %d ms", what,
                  s->cfg->timeout_ms);
      sess_trace (s, "-- timeout waiting for %s", what);
      s->timed_out = true;
    }
    else {
      sess_error (s, "read error while reading %s: %s", what,
                  tport_error (s->t) ? tport_error (s->t) : strerror (errno));
      sess_trace (s, "-- read error: %s", s->err.msg);
      s->closed = true;
      s->peer_closed = true;
    }
    return -1;
  }
  if (got)
    *got = r;
  if ((size_t) r < len) {
    s->closed = true;
    s->peer_closed = true;
    sess_error (s, "server closed the connection while sending %s "
                "(%zd of %zu bytes)", what, r, len);
    sess_trace (s, "-- server closed the connection");
    return 0;
  }
  return 1;
}

static int
write_now (struct session *s, const void *p, size_t len)
{
  if (s->closed) {
    sess_error (s, "cannot write: the connection is closed");
    return -1;
  }
  if (tport_write (s->t, p, len) == -1) {
    sess_error (s, "write error: %s",
                tport_error (s->t) ? tport_error (s->t) : strerror (errno));
    sess_trace (s, "-- write error: %s", s->err.msg);
    s->closed = true;
    return -1;
  }
  return 0;
}

static int
send_buf (struct session *s, const struct wire_buf *b)
{
  if (s->batching) {
    wire_put_bytes (&s->outbuf, b->data, b->len);
    return 0;
  }
  return write_now (s, b->data, b->len);
}

int
sess_flush (struct session *s)
{
  int r = 0;

  if (s->outbuf.len > 0) {
    sess_trace (s, "-- the above sent in one write (%zu bytes)",
                s->outbuf.len);
    r = write_now (s, s->outbuf.data, s->outbuf.len);
  }
  wire_buf_reset (&s->outbuf);
  s->batching = false;
  return r;
}

int
sess_connect (struct session *s)
{
  const struct probe_cfg *cfg = s->cfg;
  uint8_t greet[WIRE_GREETING_LEN];
  struct wire_buf b;
  int fd, r;
  uint32_t cflags;
  int64_t deadline;

  if (cfg->unix_path)
    fd = tport_connect_unix (cfg->unix_path);
  else
    fd = tport_connect_tcp (cfg->tcp);
  if (fd == -1) {
    sess_error (s, "cannot connect to %s: %s",
                cfg->unix_path ? cfg->unix_path : cfg->tcp, strerror (errno));
    return -1;
  }
  s->t = tport_new (fd);
  if (s->t == NULL) {
    close (fd);
    sess_error (s, "tport_new: %s", strerror (errno));
    return -1;
  }

  deadline = tport_deadline (s->cfg->timeout_ms);
  r = read_exact (s, greet, 8, deadline, "the server greeting", NULL);
  if (r <= 0)
    return -1;
  if (wire_get_u64 (greet) != NBD_MAGIC) {
    sess_trace (s, "S: bad greeting magic 0x%016" PRIx64,
                wire_get_u64 (greet));
    sess_error (s, "server greeting does not start with NBDMAGIC");
    return -1;
  }
  r = read_exact (s, greet + 8, sizeof greet - 8, deadline,
                  "the server greeting", NULL);
  if (r <= 0)
    return -1;
  r = wire_dec_greeting (greet, sizeof greet, &s->hflags);
  if (r != WIRE_OK) {
    if (wire_get_u64 (greet + 8) == NBD_OLD_MAGIC)
      sess_error (s, "oldstyle server: not supported");
    else
      sess_error (s, "bad newstyle greeting: %s", wire_status_name (r));
    sess_trace (s, "S: bad greeting (%s)", wire_status_name (r));
    return -1;
  }
  sess_trace (s, "S: greeting flags=0x%04x%s%s", s->hflags,
              s->hflags & NBD_FLAG_FIXED_NEWSTYLE ? " FIXED_NEWSTYLE" : "",
              s->hflags & NBD_FLAG_NO_ZEROES ? " NO_ZEROES" : "");
  if (!(s->hflags & NBD_FLAG_FIXED_NEWSTYLE)) {
    sess_error (s, "server does not support fixed newstyle negotiation");
    return -1;
  }
  cflags = NBD_FLAG_C_FIXED_NEWSTYLE;
  if (s->hflags & NBD_FLAG_NO_ZEROES)
    cflags |= NBD_FLAG_C_NO_ZEROES;
  wire_buf_init (&b);
  wire_enc_client_flags (&b, cflags);
  sess_trace (s, "C: client flags=0x%08x", cflags);
  r = write_now (s, b.data, b.len);
  wire_buf_free (&b);
  return r;
}

void
sess_close (struct session *s)
{
  if (s->t && !s->closed && !s->await_handshake && !s->handshake_failed) {
    struct wire_buf b;

    /* Be polite, but never wait for an answer. */
    wire_buf_init (&b);
    if (s->transmission) {
      wire_enc_request (&b, 0, NBD_CMD_DISC, s->next_cookie++, 0, 0);
      tport_write (s->t, b.data, b.len);
    }
    else if (s->noutstanding == 0) {
      wire_enc_option (&b, NBD_OPT_ABORT, NULL, 0);
      tport_write (s->t, b.data, b.len);
    }
    wire_buf_free (&b);
  }
  if (s->t)
    tport_free (s->t);
  s->t = NULL;
  if (s->have_pending)
    opt_reply_free (&s->pending);
  s->have_pending = false;
  free (s->reply.ext);
  s->reply.ext = NULL;
  wire_buf_free (&s->outbuf);
}

/* --- options ----------------------------------------------------------- */

/* Describe an option's payload for the trace, decoding the options
 * whose layout is known (and falling back to hex when it does not
 * decode, which is what the raw forms of "option" produce).
 */
static void
describe_option (struct sbuf *b, uint32_t opt, const uint8_t *p,
                 uint32_t plen, uint32_t len)
{
  const char *name = wire_opt_name (opt);

  if (strcmp (name, "unknown") == 0)
    sbuf_printf (b, "NBD_OPT_%" PRIu32 " (unknown)", opt);
  else
    sbuf_add (b, name);
  if (len != plen)
    sbuf_printf (b, " (header length %" PRIu32 ")", len);
  if (opt == NBD_OPT_EXPORT_NAME) {
    sbuf_add (b, " export=");
    sbuf_quote (b, p, plen, 256);
    return;
  }
  if (plen == 0)
    return;

  if (opt == NBD_OPT_SET_META_CONTEXT || opt == NBD_OPT_LIST_META_CONTEXT) {
    struct wire_meta_req *m = xmalloc (sizeof *m);

    if (wire_dec_opt_meta (p, plen, m) == WIRE_OK) {
      uint32_t i;

      sbuf_add (b, " export=");
      sbuf_quote (b, m->exportname.ptr, m->exportname.len, 256);
      sbuf_add (b, " queries=[");
      for (i = 0; i < m->nq; ++i) {
        if (i > 0)
          sbuf_add (b, ",");
        sbuf_printf (b, "%.*s", (int) m->queries[i].len,
                     m->queries[i].ptr ? m->queries[i].ptr : "");
      }
      sbuf_add (b, "]");
      free (m);
      return;
    }
    free (m);
  }
  else if (opt == NBD_OPT_INFO || opt == NBD_OPT_GO) {
    struct wire_info_req r;

    if (wire_dec_opt_info (p, plen, &r) == WIRE_OK) {
      uint16_t i;

      sbuf_add (b, " export=");
      sbuf_quote (b, r.exportname.ptr, r.exportname.len, 256);
      if (r.ninfo > 0) {
        sbuf_add (b, " info=[");
        for (i = 0; i < r.ninfo; ++i)
          sbuf_printf (b, "%s%s", i ? "," : "", wire_info_name (r.infos[i]));
        sbuf_add (b, "]");
      }
      return;
    }
  }
  sbuf_add (b, " payload=");
  sbuf_hex (b, p, plen, 64);
}

int
sess_send_option (struct session *s, uint32_t opt,
                  const void *payload, uint32_t payload_len, uint32_t len)
{
  struct wire_buf b;
  struct sbuf d = { 0 };
  int r;

  wire_buf_init (&b);
  /* Header with the given length, then the real payload. */
  wire_put_u64 (&b, NBD_IHAVEOPT);
  wire_put_u32 (&b, opt);
  wire_put_u32 (&b, len);
  wire_put_bytes (&b, payload, payload_len);
  describe_option (&d, opt, payload, payload_len, len);
  sess_trace (s, "C: %s", d.s);
  sbuf_free (&d);
  r = send_buf (s, &b);
  wire_buf_free (&b);
  if (r == 0 && opt != NBD_OPT_EXPORT_NAME) {
    if (s->noutstanding < SESS_MAX_OUTSTANDING)
      s->outstanding[s->noutstanding++] = opt;
  }
  return r;
}

int
sess_send_raw (struct session *s, const void *p, size_t len)
{
  struct wire_buf b;
  struct sbuf d = { 0 };
  int r;

  wire_buf_init (&b);
  wire_put_bytes (&b, p, len);
  sbuf_hex (&d, p, len, 64);
  sess_trace (s, "C: raw %zu bytes %s", len, d.s ? d.s : "");
  sbuf_free (&d);
  r = send_buf (s, &b);
  wire_buf_free (&b);
  return r;
}

void
opt_reply_free (struct opt_reply *r)
{
  free (r->payload);
  r->payload = NULL;
}

void
sess_push_back (struct session *s, struct opt_reply *r)
{
  if (s->have_pending)
    opt_reply_free (&s->pending);
  s->pending = *r;
  s->have_pending = true;
  r->payload = NULL;
}

void
opt_reply_describe (struct sbuf *b, const struct opt_reply *r)
{
  const char *name = wire_rep_name (r->type);

  if (strcmp (name, "unknown") == 0)
    sbuf_printf (b, "NBD_REP_0x%08" PRIx32 " (unknown)", r->type);
  else
    sbuf_add (b, name);

  if (r->malformed) {
    sbuf_printf (b, " MALFORMED payload (%" PRIu32 " bytes) ", r->len);
    sbuf_hex (b, r->payload, r->len, 64);
    return;
  }
  switch (r->type) {
  case NBD_REP_ACK:
    if (r->len > 0)
      sbuf_printf (b, " (with %" PRIu32 " bytes of payload)", r->len);
    break;
  case NBD_REP_META_CONTEXT:
    sbuf_printf (b, " id=%" PRIu32 " ", r->ctx_id);
    sbuf_quote (b, r->str.ptr, r->str.len, 256);
    break;
  case NBD_REP_SERVER:
    sbuf_add (b, " ");
    sbuf_quote (b, r->str.ptr, r->str.len, 256);
    break;
  case NBD_REP_INFO: {
    struct wire_info info;

    if (wire_dec_rep_info (r->payload, r->len, &info) == WIRE_OK) {
      sbuf_printf (b, " %s", wire_info_name (info.type));
      if (info.type == NBD_INFO_EXPORT)
        sbuf_printf (b, " size=%" PRIu64 " flags=0x%04x",
                     info.u.export.size, info.u.export.tflags);
      else if (info.type == NBD_INFO_NAME)
        sbuf_quote (b, info.u.name.ptr, info.u.name.len, 256);
      else if (info.type == NBD_INFO_BLOCK_SIZE)
        sbuf_printf (b, " min=%" PRIu32 " pref=%" PRIu32 " max=%" PRIu32,
                     info.u.block_size.min, info.u.block_size.pref,
                     info.u.block_size.max);
    }
    break;
  }
  default:
    if (r->type & NBD_REP_FLAG_ERROR) {
      if (r->len > 0) {
        sbuf_add (b, " ");
        sbuf_quote (b, r->payload, r->len, 200);
      }
    }
    else if (r->len > 0) {
      sbuf_add (b, " payload=");
      sbuf_hex (b, r->payload, r->len, 64);
    }
  }
}

/* Decode the payload of r for its type; sets r->malformed. */
static void
decode_opt_reply (struct session *s, struct opt_reply *r)
{
  int st = WIRE_OK;

  switch (r->type) {
  case NBD_REP_ACK:
    break;
  case NBD_REP_META_CONTEXT:
    st = wire_dec_rep_meta_context (r->payload, r->len, &r->ctx_id, &r->str);
    break;
  case NBD_REP_SERVER: {
    struct wire_str desc;

    st = wire_dec_rep_server (r->payload, r->len, &r->str, &desc);
    break;
  }
  case NBD_REP_INFO: {
    struct wire_info info;

    st = wire_dec_rep_info (r->payload, r->len, &info);
    if (st == WIRE_OK && info.type == NBD_INFO_EXPORT &&
        r->opt == NBD_OPT_GO) {
      s->size = info.u.export.size;
      s->tflags = info.u.export.tflags;
      s->have_size = true;
    }
    break;
  }
  default:
    if (r->type & NBD_REP_FLAG_ERROR)
      st = wire_dec_rep_error (r->payload, r->len, &r->str);
  }
  r->malformed = st != WIRE_OK;
}

int
sess_read_opt_reply (struct session *s, struct opt_reply *r)
{
  uint8_t hdr[WIRE_OPT_REP_HDR_LEN];
  struct wire_opt_reply h;
  struct sbuf d = { 0 };
  int64_t deadline = tport_deadline (s->cfg->timeout_ms);
  uint32_t expected;
  int st, rr;

  memset (r, 0, sizeof *r);
  if (s->have_pending) {
    *r = s->pending;
    s->have_pending = false;
    return 0;
  }
  if (s->transmission) {
    sess_error (s, "script error: reading an option reply in transmission");
    return -1;
  }
  rr = read_exact (s, hdr, sizeof hdr, deadline, "option reply", NULL);
  if (rr <= 0)
    return -1;
  st = wire_dec_opt_reply_hdr (hdr, sizeof hdr, &h, MAX_OPT_REPLY_PAYLOAD);
  if (st != WIRE_OK) {
    sbuf_hex (&d, hdr, sizeof hdr, sizeof hdr);
    sess_trace (s, "S: bad option reply header (%s): %s",
                wire_status_name (st), d.s);
    sess_error (s, "bad option reply header (%s): %s",
                wire_status_name (st), d.s);
    sbuf_free (&d);
    s->closed = true;           /* the stream cannot be resynchronised */
    return -1;
  }
  r->opt = h.opt;
  r->type = h.type;
  r->len = h.len;
  if (h.len > 0) {
    r->payload = xmalloc (h.len);
    rr = read_exact (s, r->payload, h.len, deadline, "option reply payload",
                     NULL);
    if (rr <= 0) {
      opt_reply_free (r);
      return -1;
    }
  }
  decode_opt_reply (s, r);

  opt_reply_describe (&d, r);
  expected = s->noutstanding > 0 ? s->outstanding[0] : 0;
  r->for_opt = expected;
  if (s->noutstanding == 0 || r->opt != expected)
    sess_trace (s, "S: %s (for %s)", d.s, wire_opt_name (r->opt));
  else
    sess_trace (s, "S: %s", d.s);
  sbuf_free (&d);

  /* A final reply ends the oldest outstanding option.  Only an ACK
   * that answers the option actually asked changes the session's
   * state: an ACK "for NBD_OPT_GO" sent in answer to NBD_OPT_LIST must
   * not put the session into transmission (the scenario fails on the
   * mismatch, and sess_close must still send NBD_OPT_ABORT, not
   * NBD_CMD_DISC).
   */
  if (r->type == NBD_REP_ACK || (r->type & NBD_REP_FLAG_ERROR)) {
    if (s->noutstanding > 0) {
      memmove (s->outstanding, s->outstanding + 1,
               (s->noutstanding - 1) * sizeof s->outstanding[0]);
      s->noutstanding--;
    }
    if (r->type == NBD_REP_ACK && expected != 0 && r->opt == expected) {
      if (r->opt == NBD_OPT_STARTTLS)
        s->await_handshake = true;
      else if (r->opt == NBD_OPT_GO) {
        s->transmission = true;
        if (s->noutstanding > 0)
          sess_trace (s, "-- GO acknowledged with options still "
                      "unanswered");
      }
      else if (r->opt == NBD_OPT_STRUCTURED_REPLY)
        s->structured = true;
    }
  }
  return 0;
}

int
sess_read_export_name_reply (struct session *s)
{
  uint8_t buf[WIRE_EXPORT_NAME_REPLY_LEN + 124];
  size_t len = WIRE_EXPORT_NAME_REPLY_LEN, got, i;
  int64_t deadline = tport_deadline (s->cfg->timeout_ms);
  uint64_t size;
  uint16_t tflags;
  int rr;

  if (!(s->hflags & NBD_FLAG_NO_ZEROES))
    len += 124;
  rr = read_exact (s, buf, 8, deadline, "reply to NBD_OPT_EXPORT_NAME", &got);
  if (rr == 0 && got == 0)
    return 0;
  if (rr <= 0)
    return -1;
  if (wire_get_u64 (buf) == NBD_REP_MAGIC) {
    sess_trace (s, "S: an option reply (NBD_REP_MAGIC) to "
                "NBD_OPT_EXPORT_NAME");
    sess_error (s, "the server sent an option reply to NBD_OPT_EXPORT_NAME, "
                "which has none");
    s->closed = true;
    return -1;
  }
  rr = read_exact (s, buf + 8, len - 8, deadline,
                   "reply to NBD_OPT_EXPORT_NAME", NULL);
  if (rr <= 0)
    return -1;
  if (wire_dec_export_name_reply (buf, WIRE_EXPORT_NAME_REPLY_LEN, &size,
                                  &tflags) != WIRE_OK) {
    sess_error (s, "undecodable reply to NBD_OPT_EXPORT_NAME");
    s->closed = true;
    return -1;
  }
  for (i = WIRE_EXPORT_NAME_REPLY_LEN; i < len; ++i)
    if (buf[i] != 0) {
      sess_trace (s, "S: export size=%" PRIu64 " flags=0x%04x with non-zero "
                  "padding", size, tflags);
      sess_error (s, "the 124 reserved bytes after the NBD_OPT_EXPORT_NAME "
                  "reply are not zero");
      s->closed = true;
      return -1;
    }
  sess_trace (s, "S: export size=%" PRIu64 " flags=0x%04x%s", size, tflags,
              len > WIRE_EXPORT_NAME_REPLY_LEN ? " (+124 zero bytes)" : "");
  s->size = size;
  s->tflags = tflags;
  s->have_size = true;
  s->transmission = true;
  return 1;
}

int
sess_handshake (struct session *s)
{
  if (s->cfg->creds == NULL) {
    sess_error (s, "the server offers TLS but no credentials were given "
                "(--tls-psk or --tls-certs)");
    s->handshake_failed = true;
    return -1;
  }
  s->await_handshake = false;
  sess_trace (s, "-- TLS handshake");
  if (tport_starttls (s->t, s->cfg->creds, TPORT_CLIENT,
                      s->cfg->timeout_ms) == -1) {
    s->handshake_failed = true;
    s->closed = true;
    sess_error (s, "TLS handshake failed: %s",
                tport_error (s->t) ? tport_error (s->t) : strerror (errno));
    sess_trace (s, "-- %s", s->err.msg);
    return -1;
  }
  s->tls = true;
  s->structured = false;
  sess_trace (s, "-- TLS handshake complete");
  return 0;
}

/* --- transmission ------------------------------------------------------ */

int
sess_send_cmd (struct session *s, uint16_t flags, uint16_t type,
               uint64_t offset, uint32_t length)
{
  struct wire_buf b;
  int r;

  if (!s->transmission) {
    sess_error (s, "not in transmission phase (no successful GO)");
    return -1;
  }
  if (s->cmd_sent && !s->cmd_read) {
    /* Drain the previous reply first, to keep the stream in step. */
    if (sess_read_cmd_reply (s) == -1)
      return -1;
  }
  wire_buf_init (&b);
  s->cmd_type = type;
  s->cmd_cookie = s->next_cookie++;
  s->cmd_offset = offset;
  s->cmd_length = length;
  wire_enc_request (&b, flags, type, s->cmd_cookie, offset, length);
  sess_trace (s, "C: %s cookie=%" PRIu64 " offset=%" PRIu64
              " length=%" PRIu32 "%s", wire_cmd_name (type), s->cmd_cookie,
              offset, length, flags ? " (flags)" : "");
  if (flags)
    sess_trace (s, "   flags=0x%04x", flags);
  r = write_now (s, b.data, b.len);
  wire_buf_free (&b);
  free (s->reply.ext);
  memset (&s->reply, 0, sizeof s->reply);
  s->cmd_sent = true;
  s->cmd_read = false;
  return r;
}

/* Discard n bytes of payload. */
static int
skip_bytes (struct session *s, uint64_t n, int64_t deadline, const char *what)
{
  uint8_t buf[65536];

  while (n > 0) {
    size_t k = n < sizeof buf ? n : sizeof buf;
    int rr = read_exact (s, buf, k, deadline, what, NULL);

    if (rr <= 0)
      return rr == 0 ? 0 : -1;
    n -= k;
  }
  return 1;
}

/* The chunk handlers: each decodes the payload p of the chunk h,
 * records what it says in s->reply, describes it in d (after the
 * chunk's name) and returns 0, or -1 with s->err set if the payload
 * does not decode.
 */

static int
chunk_none (struct session *s, const struct wire_reply *h,
            const uint8_t *p, struct sbuf *d)
{
  if (h->len != 0)
    return sess_error (s, "NBD_REPLY_TYPE_NONE chunk with %" PRIu32
                       " bytes of payload", h->len);
  return 0;
}

/* NBD_REPLY_TYPE_OFFSET_DATA and NBD_REPLY_TYPE_OFFSET_HOLE. */
static int
chunk_offset (struct session *s, const struct wire_reply *h,
              const uint8_t *p, struct sbuf *d)
{
  const bool data = h->type == NBD_REPLY_TYPE_OFFSET_DATA;
  const uint8_t *bytes;
  uint64_t off;
  uint32_t len;
  int st;

  if (data)
    st = wire_dec_chunk_offset_data (p, h->len, &off, &bytes, &len);
  else
    st = wire_dec_chunk_offset_hole (p, h->len, &off, &len);
  if (st != WIRE_OK)
    return sess_error (s, "malformed %s chunk (%s)",
                       wire_chunk_name (h->type), wire_status_name (st));
  sbuf_printf (d, " offset=%" PRIu64 " %s=%" PRIu32, off,
               data ? "data" : "hole", len);
  s->reply.data_bytes += len;
  return 0;
}

static int
chunk_block_status (struct session *s, const struct wire_reply *h,
                    const uint8_t *p, struct sbuf *d)
{
  struct cmd_reply *rep = &s->reply;
  size_t max = h->len >= 4 ? (h->len - 4) / 8 : 0, n = 0, i;
  struct wire_extent *ext = xmalloc ((max ? max : 1) * sizeof *ext);
  uint32_t id;
  uint64_t off;
  int st;

  st = wire_dec_chunk_block_status (p, h->len, &id, ext, max, &n);
  if (st != WIRE_OK) {
    free (ext);
    return sess_error (s, "malformed NBD_REPLY_TYPE_BLOCK_STATUS chunk (%s)",
                       wire_status_name (st));
  }
  rep->n_bs_chunks++;
  sbuf_printf (d, " context=%" PRIu32 " extents=", id);
  off = s->cmd_offset;
  for (i = 0; i < n && i < 16; ++i) {
    sbuf_printf (d, "%s%" PRIu64 ":%" PRIu32 ":%" PRIu32, i ? "," : "",
                 off, ext[i].length, ext[i].flags);
    off += ext[i].length;
  }
  if (i < n)
    sbuf_printf (d, ",...(%zu extents)", n);
  if (rep->ext == NULL) {
    rep->ext = ext;
    rep->next = n;
    rep->ctx_id = id;
  }
  else
    free (ext);
  return 0;
}

/* The reply is an error: the first error chunk's value stands. */
static void
reply_error (struct cmd_reply *rep, uint32_t error)
{
  if (!rep->is_error) {
    rep->is_error = true;
    rep->error = error;
  }
}

/* NBD_REPLY_TYPE_ERROR and NBD_REPLY_TYPE_ERROR_OFFSET. */
static int
chunk_error (struct session *s, const struct wire_reply *h,
             const uint8_t *p, struct sbuf *d)
{
  uint32_t error;
  struct wire_str msg;
  uint64_t off = 0;
  int st;

  st = wire_dec_chunk_error (p, h->len, h->type, &error, &msg, &off);
  if (st != WIRE_OK)
    return sess_error (s, "malformed %s chunk (%s)",
                       wire_chunk_name (h->type), wire_status_name (st));
  sbuf_printf (d, " error=%s", wire_errno_name (error));
  if (h->type == NBD_REPLY_TYPE_ERROR_OFFSET)
    sbuf_printf (d, " offset=%" PRIu64, off);
  if (msg.len > 0) {
    sbuf_add (d, " ");
    sbuf_quote (d, msg.ptr, msg.len, 200);
  }
  reply_error (&s->reply, error);
  return 0;
}

/* Any other type.  An unknown error type (bit 15 set) is still an
 * error whose first 32 bits are the error value (the NBD protocol,
 * section "Structured reply types"); anything else cannot be read.
 */
static int
chunk_unknown (struct session *s, const struct wire_reply *h,
               const uint8_t *p, struct sbuf *d)
{
  uint32_t error;

  if (!(h->type & 0x8000) || h->len < 4)
    return sess_error (s, "unknown structured chunk type %u (%" PRIu32
                       " bytes)", h->type, h->len);
  error = wire_get_u32 (p);
  sbuf_printf (d, " (unknown error type %u) error=%s", h->type,
               wire_errno_name (error));
  reply_error (&s->reply, error);
  return 0;
}

static const struct {
  uint16_t type;
  int (*handle) (struct session *s, const struct wire_reply *h,
                 const uint8_t *p, struct sbuf *d);
} chunk_handlers[] = {
  { NBD_REPLY_TYPE_NONE, chunk_none },
  { NBD_REPLY_TYPE_OFFSET_DATA, chunk_offset },
  { NBD_REPLY_TYPE_OFFSET_HOLE, chunk_offset },
  { NBD_REPLY_TYPE_BLOCK_STATUS, chunk_block_status },
  { NBD_REPLY_TYPE_ERROR, chunk_error },
  { NBD_REPLY_TYPE_ERROR_OFFSET, chunk_error },
};

/* Read the payload of the chunk h and handle it.  Returns 1 if it was
 * read and handled (*done set), 0 on EOF, -1 on error (after an
 * undecodable chunk the stream cannot be trusted: s->closed).
 */
static int
read_chunk_payload (struct session *s, const struct wire_reply *h,
                    int64_t deadline, bool *done)
{
  int (*handle) (struct session *, const struct wire_reply *,
                 const uint8_t *, struct sbuf *) = chunk_unknown;
  uint8_t *p = NULL;
  struct sbuf d = { 0 };
  size_t i;
  int rr;

  *done = (h->flags & NBD_REPLY_FLAG_DONE) != 0;
  s->reply.nchunks++;
  if (h->len > 0) {
    p = xmalloc (h->len);
    rr = read_exact (s, p, h->len, deadline, "structured chunk payload",
                     NULL);
    if (rr <= 0) {
      free (p);
      return rr;
    }
  }

  sbuf_printf (&d, "%s%s cookie=%" PRIu64 " length=%" PRIu32,
               wire_chunk_name (h->type), *done ? " DONE" : "",
               h->cookie, h->len);
  for (i = 0; i < sizeof chunk_handlers / sizeof chunk_handlers[0]; ++i)
    if (chunk_handlers[i].type == h->type)
      handle = chunk_handlers[i].handle;
  rr = handle (s, h, p, &d);
  if (rr == -1) {
    sbuf_add (&d, " payload=");
    sbuf_hex (&d, p, h->len, 64);
    s->closed = true;
  }
  sess_trace (s, "S: %s", d.s);
  sbuf_free (&d);
  free (p);
  return rr == -1 ? -1 : 1;
}

int
sess_read_cmd_reply (struct session *s)
{
  struct cmd_reply *rep = &s->reply;
  int64_t deadline = tport_deadline (s->cfg->timeout_ms);
  const char *what = "transmission reply";

  if (!s->cmd_sent) {
    sess_error (s, "script error: no request was sent");
    return -1;
  }
  if (s->cmd_read)
    return 0;
  s->cmd_read = true;

  for (;;) {
    uint8_t hdr[WIRE_CHUNK_HDR_LEN];
    struct wire_reply h;
    size_t need = 0, got;
    uint32_t magic, maxp;
    int rr, st;
    bool done;

    rr = read_exact (s, hdr, 4, deadline, what, &got);
    if (rr == 0 && got == 0) {
      rep->closed = true;
      return 0;
    }
    if (rr < 0 && s->timed_out && rep->nchunks > 0) {
      /* Chunks came, but none with DONE: say so, not "no reply". */
      sess_error (s, "timeout: reply not complete within %d ms (%u chunks "
                  "without NBD_REPLY_FLAG_DONE)", s->cfg->timeout_ms,
                  rep->nchunks);
      s->closed = true;
      return -1;
    }
    if (rr <= 0)
      return -1;
    magic = wire_get_u32 (hdr);
    if (magic == NBD_EXTENDED_REPLY_MAGIC) {
      sess_trace (s, "S: reply with NBD_EXTENDED_REPLY_MAGIC");
      sess_error (s, "server sent an extended reply header "
                  "(NBD_EXTENDED_REPLY_MAGIC) though extended headers "
                  "were not negotiated in this TLS epoch");
      s->closed = true;
      return -1;
    }
    if (magic != NBD_SIMPLE_REPLY_MAGIC &&
        magic != NBD_STRUCTURED_REPLY_MAGIC) {
      sess_trace (s, "S: bad reply magic 0x%08" PRIx32, magic);
      sess_error (s, "bad reply magic 0x%08" PRIx32, magic);
      s->closed = true;
      return -1;
    }
    if (magic == NBD_STRUCTURED_REPLY_MAGIC && !s->structured)
      sess_trace (s, "-- structured reply although structured replies "
                  "were not negotiated in this TLS epoch");
    maxp = s->cmd_type == NBD_CMD_READ
      ? s->cmd_length + 8u + 64u * 1024u : MAX_BS_PAYLOAD;
    if (maxp > WIRE_MAX_REPLY_PAYLOAD || maxp < s->cmd_length)
      maxp = WIRE_MAX_REPLY_PAYLOAD;
    st = wire_dec_reply_hdr (hdr, 4, &h, &need, maxp);
    if (st == WIRE_SHORT && need > 4 && need <= sizeof hdr) {
      rr = read_exact (s, hdr + 4, need - 4, deadline, what, NULL);
      if (rr <= 0)
        return -1;
      st = wire_dec_reply_hdr (hdr, need, &h, &need, maxp);
    }
    if (st != WIRE_OK) {
      struct sbuf d = { 0 };

      sbuf_hex (&d, hdr, need <= sizeof hdr ? need : 4, sizeof hdr);
      sess_trace (s, "S: bad reply header (%s): %s", wire_status_name (st),
                  d.s);
      sess_error (s, "bad reply header (%s): %s", wire_status_name (st), d.s);
      sbuf_free (&d);
      s->closed = true;
      return -1;
    }
    if (h.cookie != s->cmd_cookie) {
      sess_trace (s, "S: reply for cookie %" PRIu64 " (expected %" PRIu64
                  ")", h.cookie, s->cmd_cookie);
      sess_error (s, "reply cookie %" PRIu64 " does not match request "
                  "cookie %" PRIu64, h.cookie, s->cmd_cookie);
      s->closed = true;
      return -1;
    }

    if (!h.structured) {
      if (rep->nchunks > 0) {
        sess_error (s, "simple reply after structured chunks");
        s->closed = true;
        return -1;
      }
      rep->simple = true;
      if (h.error) {
        rep->is_error = true;
        rep->error = h.error;
      }
      sess_trace (s, "S: simple reply cookie=%" PRIu64 " error=%s%s",
                  h.cookie, h.error ? wire_errno_name (h.error) : "0",
                  !h.error && s->cmd_type == NBD_CMD_READ
                  ? " (+ data)" : "");
      if (!h.error && s->cmd_type == NBD_CMD_READ) {
        rr = skip_bytes (s, s->cmd_length, deadline, "read data");
        if (rr <= 0)
          return -1;
        rep->data_bytes = s->cmd_length;
      }
      return 0;
    }

    rr = read_chunk_payload (s, &h, deadline, &done);
    if (rr <= 0)
      return -1;
    if (!done && tport_remaining_ms (deadline) == 0) {
      sess_error (s, "timeout: reply not complete within %d ms (%u chunks "
                  "without NBD_REPLY_FLAG_DONE)", s->cfg->timeout_ms,
                  rep->nchunks);
      s->closed = true;
      return -1;
    }
    if (done)
      return 0;
    if (rep->nchunks >= MAX_CHUNKS) {
      sess_error (s, "more than %d chunks without NBD_REPLY_FLAG_DONE",
                  MAX_CHUNKS);
      s->closed = true;
      return -1;
    }
  }
}

int
sess_wait_closed (struct session *s)
{
  uint8_t buf[64];
  ssize_t r;
  struct sbuf d = { 0 };

  if (s->closed)
    return 1;
  r = tport_read (s->t, buf, 1, s->cfg->timeout_ms);
  if (r == 0) {
    s->closed = true;
    sess_trace (s, "-- server closed the connection");
    return 1;
  }
  if (r < 0) {
    if (errno == ETIMEDOUT) {
      sess_error (s, "timeout: the connection is still open after %d ms",
                  s->cfg->timeout_ms);
      sess_trace (s, "-- timeout: connection still open");
      return -1;
    }
    s->closed = true;
    sess_trace (s, "-- connection closed (%s)",
                tport_error (s->t) ? tport_error (s->t) : strerror (errno));
    return 1;
  }
  /* The server sent something: collect a little of it to show. */
  r = 1;
  while ((size_t) r < sizeof buf && tport_read (s->t, buf + r, 1, 100) == 1)
    r++;
  sbuf_hex (&d, buf, r, sizeof buf);
  sess_trace (s, "S: %zd bytes: %s", r, d.s);
  sess_error (s, "server sent %zd bytes instead of closing: %s", r, d.s);
  sbuf_free (&d);
  return 0;
}
