/* libFuzzer target: every decoder of the harness's NBD wire codec.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Byte 0 picks the decoder; the rest is the input, handed over as an
 * exact-size span.  For every WIRE_OK result the invariants of wire.h
 * are checked: strings point inside the input, lengths respect their
 * bounds, and headers re-encode to the bytes they came from.
 */

#include <config.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define CHECK(cond) do { if (!(cond)) abort (); } while (0)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const uint8_t *in_lo, *in_hi;

static void
check_str (const struct wire_str *s)
{
  CHECK (s->len <= WIRE_MAX_STRING || s->len <= (size_t) (in_hi - in_lo));
  if (s->len == 0)
    return;
  CHECK (s->ptr != NULL);
  CHECK ((const uint8_t *) s->ptr >= in_lo);
  CHECK ((const uint8_t *) s->ptr + s->len <= in_hi);
}

/* Re-encode a fixed header and compare with the input bytes. */
static void
check_same (struct wire_buf *b, const uint8_t *p, size_t n)
{
  CHECK (b->len == n);
  CHECK (memcmp (b->data, p, n) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const uint8_t *p;
  uint32_t len;
  struct wire_buf b;
  int r;

  if (size < 1 || size - 1 > UINT32_MAX)
    return 0;
  p = data + 1;
  len = (uint32_t) (size - 1);
  in_lo = p;
  in_hi = p + len;
  wire_buf_init (&b);

  switch (data[0] % 16) {
  case 0: {
    uint16_t hflags;
    r = wire_dec_greeting (p, len, &hflags);
    if (r == WIRE_OK) {
      CHECK (len >= WIRE_GREETING_LEN);
      CHECK (wire_enc_greeting (&b, hflags) == WIRE_OK);
      check_same (&b, p, WIRE_GREETING_LEN);
    }
    break;
  }
  case 1: {
    struct wire_opt_reply h;
    r = wire_dec_opt_reply_hdr (p, len, &h, WIRE_MAX_OPT_PAYLOAD);
    if (r == WIRE_OK) {
      CHECK (h.len <= WIRE_MAX_OPT_PAYLOAD);
      CHECK (wire_enc_opt_reply (&b, h.opt, h.type, NULL, 0) == WIRE_OK);
      /* Same header apart from the length field. */
      CHECK (b.len == WIRE_OPT_REP_HDR_LEN);
      CHECK (memcmp (b.data, p, 16) == 0);
    }
    break;
  }
  case 2: {
    uint32_t id;
    struct wire_str name;
    if (wire_dec_rep_meta_context (p, len, &id, &name) == WIRE_OK)
      check_str (&name);
    break;
  }
  case 3: {
    struct wire_str name, desc;
    if (wire_dec_rep_server (p, len, &name, &desc) == WIRE_OK) {
      check_str (&name);
      check_str (&desc);
    }
    break;
  }
  case 4: {
    struct wire_info info;
    if (wire_dec_rep_info (p, len, &info) == WIRE_OK) {
      if (info.type == NBD_INFO_NAME)
        check_str (&info.u.name);
      else if (info.type == NBD_INFO_DESCRIPTION)
        check_str (&info.u.description);
    }
    break;
  }
  case 5: {
    struct wire_str msg;
    if (wire_dec_rep_error (p, len, &msg) == WIRE_OK)
      check_str (&msg);
    break;
  }
  case 6: {
    uint64_t sz;
    uint16_t tf;
    (void) wire_dec_export_name_reply (p, len, &sz, &tf);
    break;
  }
  case 7: {
    struct wire_opt_req h;
    r = wire_dec_opt_req_hdr (p, len, &h, WIRE_MAX_OPT_PAYLOAD);
    if (r == WIRE_OK)
      CHECK (h.len <= WIRE_MAX_OPT_PAYLOAD);
    break;
  }
  case 8: {
    static struct wire_meta_req m;
    if (wire_dec_opt_meta (p, len, &m) == WIRE_OK) {
      uint32_t i;
      check_str (&m.exportname);
      CHECK (m.nq <= WIRE_MAX_QUERIES);
      for (i = 0; i < m.nq; ++i)
        check_str (&m.queries[i]);
    }
    break;
  }
  case 9: {
    struct wire_info_req ir;
    if (wire_dec_opt_info (p, len, &ir) == WIRE_OK) {
      check_str (&ir.exportname);
      CHECK (ir.ninfo <= 64);
    }
    break;
  }
  case 10: {
    struct wire_request rq;
    if (wire_dec_request (p, len, &rq) == WIRE_OK) {
      CHECK (wire_enc_request (&b, rq.flags, rq.type, rq.cookie,
                               rq.offset, rq.length) == WIRE_OK);
      check_same (&b, p, WIRE_REQUEST_LEN);
    }
    break;
  }
  case 11: {
    struct wire_reply rp;
    size_t need = 0;
    r = wire_dec_reply_hdr (p, len, &rp, &need, WIRE_MAX_OPT_PAYLOAD);
    if (r == WIRE_SHORT)
      CHECK (need > len && need <= WIRE_CHUNK_HDR_LEN);
    else if (r == WIRE_OK && rp.structured)
      CHECK (rp.len <= WIRE_MAX_OPT_PAYLOAD);
    break;
  }
  case 12: {
    static struct wire_extent ext[64];
    uint32_t ctx;
    size_t n = 0;
    if (wire_dec_chunk_block_status (p, len, &ctx, ext, 64, &n) == WIRE_OK)
      CHECK (n >= 1 && n <= 64 && 4 + 8 * n == len);
    break;
  }
  case 13: {
    uint32_t err;
    struct wire_str msg;
    uint64_t off;
    uint16_t type = (len & 1) ? NBD_REPLY_TYPE_ERROR_OFFSET
                              : NBD_REPLY_TYPE_ERROR;
    if (wire_dec_chunk_error (p, len, type, &err, &msg, &off) == WIRE_OK)
      check_str (&msg);
    break;
  }
  case 14: {
    uint64_t off;
    const uint8_t *d;
    uint32_t dl;
    if (wire_dec_chunk_offset_data (p, len, &off, &d, &dl) == WIRE_OK) {
      CHECK (dl == 0 || (d >= in_lo && d + dl <= in_hi));
      CHECK (dl + 8 == len);
    }
    break;
  }
  case 15: {
    uint64_t off;
    uint32_t hl;
    uint32_t cf;
    (void) wire_dec_chunk_offset_hole (p, len, &off, &hl);
    (void) wire_dec_client_flags (p, len, &cf);
    break;
  }
  }
  wire_buf_free (&b);
  return 0;
}
