/* tlsguard test harness: one NBD client connection of nbd-probe (session.c).
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Handshake, options and option replies, STARTTLS, requests and
 * replies, all checked by the wire codec and recorded in a trace.
 * Errors (error.h): a session is used across calls, so a function
 * that fails returns -1 and leaves the reason in s->err.msg.
 */

#ifndef TLSGUARD_PROBE_SESSION_H
#define TLSGUARD_PROBE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sbuf.h"
#include "wire.h"
#include "transport.h"
#include "probe-cfg.h"

#define SESS_MAX_OUTSTANDING 64

struct opt_reply {
  uint32_t opt;
  uint32_t type;
  uint32_t len;
  uint32_t for_opt;             /* the option it should answer (0: none) */
  uint8_t *payload;             /* malloc'd, len bytes */
  bool malformed;               /* payload did not decode for its type */
  /* decoded, for the types that have them */
  uint32_t ctx_id;              /* NBD_REP_META_CONTEXT */
  struct wire_str str;          /* context name, export name, message */
};

/* The complete reply to one transmission request. */
struct cmd_reply {
  bool closed;                  /* EOF instead of (the rest of) a reply */
  bool simple;                  /* a simple reply was received */
  unsigned nchunks;             /* structured chunks received */
  bool is_error;
  uint32_t error;               /* first error value */
  unsigned n_bs_chunks;         /* NBD_REPLY_TYPE_BLOCK_STATUS chunks */
  struct wire_extent *ext;      /* extents of the first such chunk */
  size_t next;
  uint32_t ctx_id;
  uint64_t data_bytes;          /* READ payload bytes received */
};

struct session {
  const struct probe_cfg *cfg;
  struct tport *t;
  struct sbuf trace;            /* "C: ..." and "S: ..." lines */
  struct error err;             /* the last failure */
  uint16_t hflags;
  bool closed;                  /* the peer closed or the link broke */
  bool timed_out;               /* a read hit its deadline */
  bool peer_closed;             /* EOF or a broken link (not a bad message) */
  bool tls;
  bool await_handshake;         /* STARTTLS was ACKed */
  bool handshake_failed;
  bool transmission;            /* GO was ACKed */
  bool structured;              /* STRUCTURED_REPLY was ACKed (this epoch) */
  uint64_t size;                /* from NBD_INFO_EXPORT */
  uint16_t tflags;
  bool have_size;
  /* options sent and not yet given a final reply */
  uint32_t outstanding[SESS_MAX_OUTSTANDING];
  size_t noutstanding;
  /* one option reply read ahead and not yet consumed */
  bool have_pending;
  struct opt_reply pending;
  /* batching: writes go to outbuf until sess_flush */
  bool batching;
  struct wire_buf outbuf;
  /* the last request and its reply */
  uint64_t next_cookie;
  bool cmd_sent, cmd_read;
  uint16_t cmd_type;
  uint64_t cmd_cookie, cmd_offset;
  uint32_t cmd_length;
  struct cmd_reply reply;
};

/* All return 0 on success, -1 with s->err set. */
extern void sess_init (struct session *s, const struct probe_cfg *cfg);
extern int sess_connect (struct session *s);      /* and the handshake */
extern void sess_close (struct session *s);       /* polite, best effort */
extern void sess_trace (struct session *s, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
/* Raw option (payload may be NULL); len is what the header says. */
extern int sess_send_option (struct session *s, uint32_t opt,
                             const void *payload, uint32_t payload_len,
                             uint32_t len);
extern int sess_send_raw (struct session *s, const void *p, size_t len);
extern int sess_flush (struct session *s);
/* The next option reply (the pushed-back one first).  The caller owns
 * r->payload (opt_reply_free).
 */
extern int sess_read_opt_reply (struct session *s, struct opt_reply *r);
extern void sess_push_back (struct session *s, struct opt_reply *r);
extern void opt_reply_free (struct opt_reply *r);
extern void opt_reply_describe (struct sbuf *b, const struct opt_reply *r);
extern int sess_handshake (struct session *s);
/* After NBD_OPT_EXPORT_NAME: read the export reply (size, flags and
 * the zero padding unless NO_ZEROES) and enter transmission.  Returns
 * 1 on success, 0 if the server closed without a byte, -1 on error or
 * timeout (including an option reply, which EXPORT_NAME never gets).
 */
extern int sess_read_export_name_reply (struct session *s);
extern int sess_send_cmd (struct session *s, uint16_t flags, uint16_t type,
                          uint64_t offset, uint32_t length);
/* Read the reply to the last request (once; later calls return the
 * cached one).  A close by the server is not an error here
 * (reply.closed).
 */
extern int sess_read_cmd_reply (struct session *s);
/* Wait for the server to close.  Returns 1 closed, 0 the server sent
 * something (described in s->err.msg), -1 timeout or error.
 */
extern int sess_wait_closed (struct session *s);

#endif /* TLSGUARD_PROBE_SESSION_H */
