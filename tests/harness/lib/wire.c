/* tlsguard test harness: NBD wire codec.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * See wire.h for the contracts.  Every decoder checks each length
 * against the span it was given before reading, and all arithmetic on
 * peer-supplied lengths is done in 64 bits (or by comparing against
 * the remaining space) so that it cannot wrap.
 */

#include <config.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "wire.h"

#define ARRAY_SIZE(a) (sizeof (a) / sizeof ((a)[0]))

/* --- names ---------------------------------------------------------- */

/* The kinds of value that have names.  wire.h's functions are one line
 * each over the table of their kind.
 */
enum wire_names {
  WIRE_NAMES_OPT, WIRE_NAMES_REP, WIRE_NAMES_INFO, WIRE_NAMES_CMD,
  WIRE_NAMES_CHUNK, WIRE_NAMES_ERRNO,
};

struct name_entry {
  uint32_t value;
  const char *name;           /* full name, with prefix */
};

#define E(sym) { sym, #sym }

static const struct name_entry opt_names[] = {
  E (NBD_OPT_EXPORT_NAME),
  E (NBD_OPT_ABORT),
  E (NBD_OPT_LIST),
  E (NBD_OPT_PEEK_EXPORT),
  E (NBD_OPT_STARTTLS),
  E (NBD_OPT_INFO),
  E (NBD_OPT_GO),
  E (NBD_OPT_STRUCTURED_REPLY),
  E (NBD_OPT_LIST_META_CONTEXT),
  E (NBD_OPT_SET_META_CONTEXT),
  E (NBD_OPT_EXTENDED_HEADERS),
};

static const struct name_entry rep_names[] = {
  E (NBD_REP_ACK),
  E (NBD_REP_SERVER),
  E (NBD_REP_INFO),
  E (NBD_REP_META_CONTEXT),
  E (NBD_REP_ERR_UNSUP),
  E (NBD_REP_ERR_POLICY),
  E (NBD_REP_ERR_INVALID),
  E (NBD_REP_ERR_PLATFORM),
  E (NBD_REP_ERR_TLS_REQD),
  E (NBD_REP_ERR_UNKNOWN),
  E (NBD_REP_ERR_SHUTDOWN),
  E (NBD_REP_ERR_BLOCK_SIZE_REQD),
  E (NBD_REP_ERR_TOO_BIG),
  E (NBD_REP_ERR_EXT_HEADER_REQD),
};

static const struct name_entry info_names[] = {
  E (NBD_INFO_EXPORT),
  E (NBD_INFO_NAME),
  E (NBD_INFO_DESCRIPTION),
  E (NBD_INFO_BLOCK_SIZE),
};

static const struct name_entry cmd_names[] = {
  E (NBD_CMD_READ),
  E (NBD_CMD_WRITE),
  E (NBD_CMD_DISC),
  E (NBD_CMD_FLUSH),
  E (NBD_CMD_TRIM),
  E (NBD_CMD_CACHE),
  E (NBD_CMD_WRITE_ZEROES),
  E (NBD_CMD_BLOCK_STATUS),
  E (NBD_CMD_RESIZE),
};

static const struct name_entry chunk_names[] = {
  E (NBD_REPLY_TYPE_NONE),
  E (NBD_REPLY_TYPE_OFFSET_DATA),
  E (NBD_REPLY_TYPE_OFFSET_HOLE),
  E (NBD_REPLY_TYPE_BLOCK_STATUS),
  E (NBD_REPLY_TYPE_BLOCK_STATUS_EXT),
  E (NBD_REPLY_TYPE_ERROR),
  E (NBD_REPLY_TYPE_ERROR_OFFSET),
};

/* Errno names are given without the NBD_ prefix (see WIRE_NAMES_ERRNO
 * below).
 */
static const struct name_entry errno_names[] = {
  E (NBD_EPERM),
  E (NBD_EIO),
  E (NBD_ENOMEM),
  E (NBD_EINVAL),
  E (NBD_ENOSPC),
  E (NBD_EOVERFLOW),
  E (NBD_ENOTSUP),
  E (NBD_ESHUTDOWN),
};

#undef E

/* One table per kind of value.  prefix is the part of every entry's
 * name that a lookup by name may leave out (and alt_prefix, if not
 * NULL, a second part after it that may be left out too, as "ERR_" in
 * "NBD_REP_ERR_POLICY").  With short_names, name_of returns the names
 * without prefix.
 */
#define T(t) t, ARRAY_SIZE (t)
static const struct name_table {
  const struct name_entry *entries;
  size_t n;
  const char *prefix;
  const char *alt_prefix;
  bool short_names;
} tables[] = {
  [WIRE_NAMES_OPT]   = { T (opt_names),   "NBD_OPT_",        NULL,   false },
  [WIRE_NAMES_REP]   = { T (rep_names),   "NBD_REP_",        "ERR_", false },
  [WIRE_NAMES_INFO]  = { T (info_names),  "NBD_INFO_",       NULL,   false },
  [WIRE_NAMES_CMD]   = { T (cmd_names),   "NBD_CMD_",        NULL,   false },
  [WIRE_NAMES_CHUNK] = { T (chunk_names), "NBD_REPLY_TYPE_", NULL,   false },
  [WIRE_NAMES_ERRNO] = { T (errno_names), "NBD_",            NULL,   true },
};
#undef T

static const char *
name_of (enum wire_names kind, uint32_t value)
{
  const struct name_table *t = &tables[kind];
  size_t i;

  for (i = 0; i < t->n; ++i)
    if (t->entries[i].value == value)
      return t->entries[i].name + (t->short_names ? strlen (t->prefix) : 0);
  return "unknown";
}

/* Match NAME against the full names, either exactly or without the
 * table's prefix (and without prefix and alt_prefix).  Case-insensitive.
 */
static int64_t
value_of (enum wire_names kind, const char *name)
{
  const struct name_table *t = &tables[kind];
  size_t i, plen, alen;

  if (name == NULL || *name == '\0')
    return -1;
  plen = strlen (t->prefix);
  alen = t->alt_prefix ? strlen (t->alt_prefix) : 0;

  for (i = 0; i < t->n; ++i) {
    const char *full = t->entries[i].name;
    const char *shortname = full + plen;

    if (strcasecmp (name, full) == 0 || strcasecmp (name, shortname) == 0)
      return t->entries[i].value;
    if (alen && strncasecmp (shortname, t->alt_prefix, alen) == 0 &&
        strcasecmp (name, shortname + alen) == 0)
      return t->entries[i].value;
  }
  return -1;
}

/* wire.h's entry points, per kind. */
#define NAME_FN(fn, type, kind) \
  const char *fn (type v) { return name_of (kind, v); }
#define VALUE_FN(fn, kind) \
  int64_t fn (const char *name) { return value_of (kind, name); }
NAME_FN (wire_opt_name, uint32_t, WIRE_NAMES_OPT)
NAME_FN (wire_rep_name, uint32_t, WIRE_NAMES_REP)
NAME_FN (wire_info_name, uint16_t, WIRE_NAMES_INFO)
NAME_FN (wire_cmd_name, uint16_t, WIRE_NAMES_CMD)
NAME_FN (wire_chunk_name, uint16_t, WIRE_NAMES_CHUNK)
NAME_FN (wire_errno_name, uint32_t, WIRE_NAMES_ERRNO)
VALUE_FN (wire_opt_by_name, WIRE_NAMES_OPT)
VALUE_FN (wire_rep_by_name, WIRE_NAMES_REP)
VALUE_FN (wire_info_by_name, WIRE_NAMES_INFO)
VALUE_FN (wire_cmd_by_name, WIRE_NAMES_CMD)
VALUE_FN (wire_errno_by_name, WIRE_NAMES_ERRNO)
#undef NAME_FN
#undef VALUE_FN

const char *
wire_status_name (int status)
{
  switch (status) {
  case WIRE_OK: return "WIRE_OK";
  case WIRE_SHORT: return "WIRE_SHORT";
  case WIRE_EMAGIC: return "WIRE_EMAGIC";
  case WIRE_ETOOBIG: return "WIRE_ETOOBIG";
  case WIRE_EMALFORMED: return "WIRE_EMALFORMED";
  case WIRE_EUNKNOWN: return "WIRE_EUNKNOWN";
  default: return "unknown";
  }
}

/* --- buffers and raw appends --------------------------------------- */

void
wire_buf_init (struct wire_buf *b)
{
  b->data = NULL;
  b->len = b->cap = 0;
}

void
wire_buf_free (struct wire_buf *b)
{
  free (b->data);
  wire_buf_init (b);
}

void
wire_buf_reset (struct wire_buf *b)
{
  b->len = 0;
}

/* Make room for n more bytes.  Cannot fail: out of memory exits
 * (xrealloc, error.h).
 */
static void
buf_reserve (struct wire_buf *b, size_t n)
{
  size_t want, cap;

  if (n > SIZE_MAX - b->len)
    xalloc_die ();
  want = b->len + n;
  if (want <= b->cap)
    return;
  cap = b->cap ? b->cap : 64;
  while (cap < want)
    cap = cap > SIZE_MAX / 2 ? want : cap * 2;
  b->data = xrealloc (b->data, cap);
  b->cap = cap;
}

int
wire_put_bytes (struct wire_buf *b, const void *p, size_t n)
{
  if (n == 0)
    return WIRE_OK;
  buf_reserve (b, n);
  if (p)
    memcpy (b->data + b->len, p, n);
  else
    memset (b->data + b->len, 0, n);
  b->len += n;
  return WIRE_OK;
}

int
wire_put_u16 (struct wire_buf *b, uint16_t v)
{
  uint8_t x[2] = { v >> 8, v };

  return wire_put_bytes (b, x, sizeof x);
}

int
wire_put_u32 (struct wire_buf *b, uint32_t v)
{
  uint8_t x[4] = { v >> 24, v >> 16, v >> 8, v };

  return wire_put_bytes (b, x, sizeof x);
}

int
wire_put_u64 (struct wire_buf *b, uint64_t v)
{
  uint8_t x[8];
  int i;

  for (i = 7; i >= 0; --i) {
    x[i] = v & 0xff;
    v >>= 8;
  }
  return wire_put_bytes (b, x, sizeof x);
}

/* The headers most messages start with. */
static void
put_opt_hdr (struct wire_buf *b, uint32_t opt, uint32_t len)
{
  wire_put_u64 (b, NBD_IHAVEOPT);
  wire_put_u32 (b, opt);
  wire_put_u32 (b, len);
}

static void
put_rep_hdr (struct wire_buf *b, uint32_t opt, uint32_t type, uint32_t len)
{
  wire_put_u64 (b, NBD_REP_MAGIC);
  wire_put_u32 (b, opt);
  wire_put_u32 (b, type);
  wire_put_u32 (b, len);
}

/* A 32-bit length, then the string. */
static void
put_str32 (struct wire_buf *b, const char *s, size_t len)
{
  wire_put_u32 (b, (uint32_t) len);
  wire_put_bytes (b, s, len);
}

/* --- client-side encoders ------------------------------------------ */

int
wire_enc_client_flags (struct wire_buf *b, uint32_t cflags)
{
  return wire_put_u32 (b, cflags);
}

/* If data is NULL only the header is written, whatever len says; the
 * caller may then append a payload of its own (or none, to build a
 * deliberately truncated option).
 */
int
wire_enc_option (struct wire_buf *b, uint32_t opt,
                 const void *data, uint32_t len)
{
  put_opt_hdr (b, opt, len);
  if (data)
    wire_put_bytes (b, data, len);
  return WIRE_OK;
}

static size_t
safe_strlen (const char *s)
{
  return s ? strlen (s) : 0;
}

int
wire_enc_opt_meta (struct wire_buf *b, uint32_t opt,
                   const char *exportname,
                   const char *const *queries, size_t nq)
{
  uint64_t total;
  size_t i, nlen = safe_strlen (exportname);

  total = 4 + (uint64_t) nlen + 4;
  for (i = 0; i < nq; ++i)
    total += 4 + (uint64_t) safe_strlen (queries[i]);
  if (total > UINT32_MAX || nlen > UINT32_MAX || nq > UINT32_MAX)
    return WIRE_ETOOBIG;

  put_opt_hdr (b, opt, (uint32_t) total);
  put_str32 (b, exportname, nlen);
  wire_put_u32 (b, (uint32_t) nq);
  for (i = 0; i < nq; ++i)
    put_str32 (b, queries[i], safe_strlen (queries[i]));
  return WIRE_OK;
}

int
wire_enc_opt_info (struct wire_buf *b, uint32_t opt,
                   const char *exportname,
                   const uint16_t *infos, size_t ninfo)
{
  uint64_t total;
  size_t i, nlen = safe_strlen (exportname);

  if (ninfo > UINT16_MAX)
    return WIRE_ETOOBIG;
  total = 4 + (uint64_t) nlen + 2 + 2 * (uint64_t) ninfo;
  if (total > UINT32_MAX)
    return WIRE_ETOOBIG;

  put_opt_hdr (b, opt, (uint32_t) total);
  put_str32 (b, exportname, nlen);
  wire_put_u16 (b, (uint16_t) ninfo);
  for (i = 0; i < ninfo; ++i)
    wire_put_u16 (b, infos[i]);
  return WIRE_OK;
}

int
wire_enc_opt_export_name (struct wire_buf *b, const char *exportname)
{
  size_t nlen = safe_strlen (exportname);

  if (nlen > UINT32_MAX)
    return WIRE_ETOOBIG;
  /* wire_enc_option treats data == NULL as "header only", so pass a
   * non-NULL pointer for the empty name.
   */
  return wire_enc_option (b, NBD_OPT_EXPORT_NAME,
                          exportname ? exportname : "", (uint32_t) nlen);
}

int
wire_enc_request (struct wire_buf *b, uint16_t flags,
                  uint16_t type, uint64_t cookie,
                  uint64_t offset, uint32_t length)
{
  wire_put_u32 (b, NBD_REQUEST_MAGIC);
  wire_put_u16 (b, flags);
  wire_put_u16 (b, type);
  wire_put_u64 (b, cookie);
  wire_put_u64 (b, offset);
  wire_put_u32 (b, length);
  return WIRE_OK;
}

/* --- server-side encoders ------------------------------------------ */

int
wire_enc_greeting (struct wire_buf *b, uint16_t hflags)
{
  wire_put_u64 (b, NBD_MAGIC);
  wire_put_u64 (b, NBD_IHAVEOPT);
  wire_put_u16 (b, hflags);
  return WIRE_OK;
}

/* As with wire_enc_option, data == NULL writes only the header. */
int
wire_enc_opt_reply (struct wire_buf *b, uint32_t opt, uint32_t type,
                    const void *data, uint32_t len)
{
  put_rep_hdr (b, opt, type, len);
  if (data)
    wire_put_bytes (b, data, len);
  return WIRE_OK;
}

int
wire_enc_rep_meta_context (struct wire_buf *b, uint32_t opt,
                           uint32_t id, const char *name)
{
  size_t nlen = safe_strlen (name);

  if (nlen > UINT32_MAX - 4)
    return WIRE_ETOOBIG;
  put_rep_hdr (b, opt, NBD_REP_META_CONTEXT, (uint32_t) (4 + nlen));
  wire_put_u32 (b, id);
  wire_put_bytes (b, name, nlen);
  return WIRE_OK;
}

int
wire_enc_rep_info_export (struct wire_buf *b, uint32_t opt,
                          uint64_t size, uint16_t tflags)
{
  put_rep_hdr (b, opt, NBD_REP_INFO, 12);
  wire_put_u16 (b, NBD_INFO_EXPORT);
  wire_put_u64 (b, size);
  wire_put_u16 (b, tflags);
  return WIRE_OK;
}

int
wire_enc_rep_server (struct wire_buf *b, const char *name,
                     const char *description)
{
  size_t nlen = safe_strlen (name), dlen = safe_strlen (description);
  uint64_t total = 4 + (uint64_t) nlen + dlen;

  if (total > UINT32_MAX)
    return WIRE_ETOOBIG;
  put_rep_hdr (b, NBD_OPT_LIST, NBD_REP_SERVER, (uint32_t) total);
  put_str32 (b, name, nlen);
  wire_put_bytes (b, description, dlen);
  return WIRE_OK;
}

int
wire_enc_export_name_reply (struct wire_buf *b, uint64_t size,
                            uint16_t tflags, bool no_zeroes)
{
  wire_put_u64 (b, size);
  wire_put_u16 (b, tflags);
  if (!no_zeroes)
    wire_put_bytes (b, NULL, 124);      /* NULL: zero fill */
  return WIRE_OK;
}

int
wire_enc_simple_reply (struct wire_buf *b, uint32_t error, uint64_t cookie)
{
  wire_put_u32 (b, NBD_SIMPLE_REPLY_MAGIC);
  wire_put_u32 (b, error);
  wire_put_u64 (b, cookie);
  return WIRE_OK;
}

/* As with wire_enc_option, payload == NULL writes only the header. */
int
wire_enc_chunk (struct wire_buf *b, uint16_t flags, uint16_t type,
                uint64_t cookie, const void *payload, uint32_t len)
{
  wire_put_u32 (b, NBD_STRUCTURED_REPLY_MAGIC);
  wire_put_u16 (b, flags);
  wire_put_u16 (b, type);
  wire_put_u64 (b, cookie);
  wire_put_u32 (b, len);
  if (payload)
    wire_put_bytes (b, payload, len);
  return WIRE_OK;
}

/* --- big-endian loads ---------------------------------------------- */

uint16_t
wire_get_u16 (const uint8_t *p)
{
  return (uint16_t) ((p[0] << 8) | p[1]);
}

uint32_t
wire_get_u32 (const uint8_t *p)
{
  return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
    ((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

uint64_t
wire_get_u64 (const uint8_t *p)
{
  return ((uint64_t) wire_get_u32 (p) << 32) | wire_get_u32 (p + 4);
}

/* --- decoders: handshake ------------------------------------------- */

static void
str_set (struct wire_str *s, const uint8_t *p, uint32_t len)
{
  s->ptr = len ? (const char *) p : NULL;
  s->len = len;
}

char *
wire_str_dup (const struct wire_str *s)
{
  char *r = xmalloc (s->len + 1);

  if (s->len)
    memcpy (r, s->ptr, s->len);
  r[s->len] = '\0';
  return r;
}

int
wire_dec_greeting (const uint8_t *p, size_t len, uint16_t *hflags)
{
  if (len < 8)
    return WIRE_SHORT;
  if (wire_get_u64 (p) != NBD_MAGIC)
    return WIRE_EMAGIC;
  if (len < 16)
    return WIRE_SHORT;
  /* Oldstyle servers send NBD_OLD_MAGIC here. */
  if (wire_get_u64 (p + 8) != NBD_IHAVEOPT)
    return WIRE_EMAGIC;
  if (len < WIRE_GREETING_LEN)
    return WIRE_SHORT;
  *hflags = wire_get_u16 (p + 16);
  return WIRE_OK;
}

/* What option request and reply headers share: a 64-bit magic, then
 * the option, and a 32-bit payload length that ends the header of
 * hdr_len bytes and must not exceed max_payload.
 */
static int
dec_opt_hdr (const uint8_t *p, size_t len, uint64_t magic, size_t hdr_len,
             uint32_t max_payload, uint32_t *opt, uint32_t *plen)
{
  uint32_t n;

  if (len < 8)
    return WIRE_SHORT;
  if (wire_get_u64 (p) != magic)
    return WIRE_EMAGIC;
  if (len < hdr_len)
    return WIRE_SHORT;
  n = wire_get_u32 (p + hdr_len - 4);
  if (n > max_payload)
    return WIRE_ETOOBIG;
  *opt = wire_get_u32 (p + 8);
  *plen = n;
  return WIRE_OK;
}

int
wire_dec_opt_reply_hdr (const uint8_t *p, size_t len,
                        struct wire_opt_reply *r, uint32_t max_payload)
{
  int st = dec_opt_hdr (p, len, NBD_REP_MAGIC, WIRE_OPT_REP_HDR_LEN,
                        max_payload, &r->opt, &r->len);

  if (st == WIRE_OK)
    r->type = wire_get_u32 (p + 12);
  return st;
}

int
wire_dec_rep_meta_context (const uint8_t *payload, uint32_t len,
                           uint32_t *id, struct wire_str *name)
{
  if (len < 4)
    return WIRE_EMALFORMED;
  if (len - 4 > WIRE_MAX_STRING)
    return WIRE_ETOOBIG;
  *id = wire_get_u32 (payload);
  str_set (name, payload + 4, len - 4);
  return WIRE_OK;
}

int
wire_dec_rep_server (const uint8_t *payload, uint32_t len,
                     struct wire_str *name, struct wire_str *description)
{
  uint32_t nlen, dlen;

  if (len < 4)
    return WIRE_EMALFORMED;
  nlen = wire_get_u32 (payload);
  if (nlen > len - 4)
    return WIRE_EMALFORMED;
  dlen = len - 4 - nlen;
  if (nlen > WIRE_MAX_STRING || dlen > WIRE_MAX_STRING)
    return WIRE_ETOOBIG;
  str_set (name, payload + 4, nlen);
  str_set (description, payload + 4 + nlen, dlen);
  return WIRE_OK;
}

int
wire_dec_rep_info (const uint8_t *payload, uint32_t len,
                   struct wire_info *info)
{
  uint16_t type;

  if (len < 2)
    return WIRE_EMALFORMED;
  type = wire_get_u16 (payload);
  switch (type) {
  case NBD_INFO_EXPORT:
    if (len != 12)
      return WIRE_EMALFORMED;
    info->u.export.size = wire_get_u64 (payload + 2);
    info->u.export.tflags = wire_get_u16 (payload + 10);
    break;
  case NBD_INFO_NAME:
  case NBD_INFO_DESCRIPTION:
    if (len - 2 > WIRE_MAX_STRING)
      return WIRE_ETOOBIG;
    if (type == NBD_INFO_NAME)
      str_set (&info->u.name, payload + 2, len - 2);
    else
      str_set (&info->u.description, payload + 2, len - 2);
    break;
  case NBD_INFO_BLOCK_SIZE:
    if (len != 14)
      return WIRE_EMALFORMED;
    info->u.block_size.min = wire_get_u32 (payload + 2);
    info->u.block_size.pref = wire_get_u32 (payload + 6);
    info->u.block_size.max = wire_get_u32 (payload + 10);
    break;
  default:
    /* Unknown: the client must ignore it. */
    break;
  }
  info->type = type;
  return WIRE_OK;
}

int
wire_dec_rep_error (const uint8_t *payload, uint32_t len,
                    struct wire_str *message)
{
  if (len > WIRE_MAX_STRING)
    return WIRE_ETOOBIG;
  str_set (message, payload, len);
  return WIRE_OK;
}

int
wire_dec_export_name_reply (const uint8_t *p, size_t len,
                            uint64_t *size, uint16_t *tflags)
{
  if (len < WIRE_EXPORT_NAME_REPLY_LEN)
    return WIRE_SHORT;
  *size = wire_get_u64 (p);
  *tflags = wire_get_u16 (p + 8);
  return WIRE_OK;
}

int
wire_dec_client_flags (const uint8_t *p, size_t len, uint32_t *cflags)
{
  if (len < 4)
    return WIRE_SHORT;
  *cflags = wire_get_u32 (p);
  return WIRE_OK;
}

int
wire_dec_opt_req_hdr (const uint8_t *p, size_t len,
                      struct wire_opt_req *r, uint32_t max_payload)
{
  return dec_opt_hdr (p, len, NBD_IHAVEOPT, WIRE_OPT_REQ_HDR_LEN,
                      max_payload, &r->opt, &r->len);
}

/* Read a 32-bit length-prefixed string at *pos from a payload of len
 * bytes, advancing *pos.
 */
static int
take_str32 (const uint8_t *payload, uint32_t len, uint32_t *pos,
            struct wire_str *s)
{
  uint32_t slen;

  if (len - *pos < 4)
    return WIRE_EMALFORMED;
  slen = wire_get_u32 (payload + *pos);
  *pos += 4;
  if (slen > len - *pos)
    return WIRE_EMALFORMED;
  if (slen > WIRE_MAX_STRING)
    return WIRE_ETOOBIG;
  str_set (s, payload + *pos, slen);
  *pos += slen;
  return WIRE_OK;
}

int
wire_dec_opt_meta (const uint8_t *payload, uint32_t len,
                   struct wire_meta_req *m)
{
  uint32_t pos = 0, nq, i;
  int r;

  r = take_str32 (payload, len, &pos, &m->exportname);
  if (r != WIRE_OK)
    return r;
  if (len - pos < 4)
    return WIRE_EMALFORMED;
  nq = wire_get_u32 (payload + pos);
  pos += 4;
  if (nq > WIRE_MAX_QUERIES)
    return WIRE_ETOOBIG;
  /* Each query takes at least 4 bytes. */
  if ((uint64_t) nq * 4 > len - pos)
    return WIRE_EMALFORMED;
  for (i = 0; i < nq; ++i) {
    r = take_str32 (payload, len, &pos, &m->queries[i]);
    if (r != WIRE_OK)
      return r;
  }
  if (pos != len)
    return WIRE_EMALFORMED;     /* trailing garbage */
  m->nq = nq;
  return WIRE_OK;
}

int
wire_dec_opt_info (const uint8_t *payload, uint32_t len,
                   struct wire_info_req *r)
{
  uint32_t pos = 0;
  uint16_t n, i;
  int s;

  s = take_str32 (payload, len, &pos, &r->exportname);
  if (s != WIRE_OK)
    return s;
  if (len - pos < 2)
    return WIRE_EMALFORMED;
  n = wire_get_u16 (payload + pos);
  pos += 2;
  if ((uint64_t) n * 2 != len - pos)
    return WIRE_EMALFORMED;
  if (n > ARRAY_SIZE (r->infos))
    return WIRE_ETOOBIG;
  for (i = 0; i < n; ++i)
    r->infos[i] = wire_get_u16 (payload + pos + 2 * i);
  r->ninfo = n;
  return WIRE_OK;
}

/* --- decoders: transmission ---------------------------------------- */

int
wire_dec_request (const uint8_t *p, size_t len, struct wire_request *r)
{
  if (len < 4)
    return WIRE_SHORT;
  if (wire_get_u32 (p) != NBD_REQUEST_MAGIC)
    return WIRE_EMAGIC;
  if (len < WIRE_REQUEST_LEN)
    return WIRE_SHORT;
  r->flags = wire_get_u16 (p + 4);
  r->type = wire_get_u16 (p + 6);
  r->cookie = wire_get_u64 (p + 8);
  r->offset = wire_get_u64 (p + 16);
  r->length = wire_get_u32 (p + 24);
  return WIRE_OK;
}

int
wire_dec_reply_hdr (const uint8_t *p, size_t len, struct wire_reply *r,
                    size_t *need, uint32_t max_payload)
{
  uint32_t magic, plen;

  if (len < 4) {
    if (need)
      *need = 4;
    return WIRE_SHORT;
  }
  magic = wire_get_u32 (p);
  if (magic == NBD_SIMPLE_REPLY_MAGIC) {
    if (len < WIRE_SIMPLE_REPLY_LEN) {
      if (need)
        *need = WIRE_SIMPLE_REPLY_LEN;
      return WIRE_SHORT;
    }
    r->structured = false;
    r->error = wire_get_u32 (p + 4);
    r->cookie = wire_get_u64 (p + 8);
    r->flags = r->type = 0;
    r->len = 0;
    if (need)
      *need = WIRE_SIMPLE_REPLY_LEN;
    return WIRE_OK;
  }
  if (magic == NBD_STRUCTURED_REPLY_MAGIC) {
    if (len < WIRE_CHUNK_HDR_LEN) {
      if (need)
        *need = WIRE_CHUNK_HDR_LEN;
      return WIRE_SHORT;
    }
    plen = wire_get_u32 (p + 16);
    if (plen > max_payload)
      return WIRE_ETOOBIG;
    r->structured = true;
    r->error = 0;
    r->flags = wire_get_u16 (p + 4);
    r->type = wire_get_u16 (p + 6);
    r->cookie = wire_get_u64 (p + 8);
    r->len = plen;
    if (need)
      *need = WIRE_CHUNK_HDR_LEN;
    return WIRE_OK;
  }
  /* Includes NBD_EXTENDED_REPLY_MAGIC, which is not negotiated. */
  return WIRE_EMAGIC;
}

int
wire_dec_chunk_block_status (const uint8_t *payload, uint32_t len,
                             uint32_t *context_id,
                             struct wire_extent *ext, size_t max,
                             size_t *n)
{
  size_t count, i;

  if (len < 4 || (len - 4) % 8 != 0)
    return WIRE_EMALFORMED;
  count = (len - 4) / 8;
  if (count == 0)
    return WIRE_EMALFORMED;
  *n = count;
  if (count > max || count > WIRE_MAX_EXTENTS)
    return WIRE_ETOOBIG;
  *context_id = wire_get_u32 (payload);
  for (i = 0; i < count; ++i) {
    ext[i].length = wire_get_u32 (payload + 4 + 8 * i);
    ext[i].flags = wire_get_u32 (payload + 8 + 8 * i);
  }
  return WIRE_OK;
}

int
wire_dec_chunk_error (const uint8_t *payload, uint32_t len,
                      uint16_t type, uint32_t *error,
                      struct wire_str *message, uint64_t *offset)
{
  uint32_t err, mlen, fixed;

  /* The spec says any unknown type with bit 15 set is an error chunk
   * with at least the NBD_REPLY_TYPE_ERROR layout.
   */
  if ((type & (1u << 15)) == 0)
    return WIRE_EUNKNOWN;
  fixed = type == NBD_REPLY_TYPE_ERROR_OFFSET ? 14 : 6;
  if (len < fixed)
    return WIRE_EMALFORMED;
  err = wire_get_u32 (payload);
  mlen = wire_get_u16 (payload + 4);
  if (mlen > len - fixed)
    return WIRE_EMALFORMED;
  if (mlen > WIRE_MAX_STRING)
    return WIRE_ETOOBIG;
  if (err == 0)
    return WIRE_EMALFORMED;     /* error MUST be nonzero */
  *error = err;
  str_set (message, payload + 6, mlen);
  if (offset)
    *offset = type == NBD_REPLY_TYPE_ERROR_OFFSET
      ? wire_get_u64 (payload + 6 + mlen) : 0;
  return WIRE_OK;
}

int
wire_dec_chunk_offset_data (const uint8_t *payload, uint32_t len,
                            uint64_t *offset, const uint8_t **data,
                            uint32_t *data_len)
{
  if (len < 9)
    return WIRE_EMALFORMED;
  *offset = wire_get_u64 (payload);
  *data = payload + 8;
  *data_len = len - 8;
  return WIRE_OK;
}

int
wire_dec_chunk_offset_hole (const uint8_t *payload, uint32_t len,
                            uint64_t *offset, uint32_t *hole_len)
{
  uint32_t h;

  if (len != 12)
    return WIRE_EMALFORMED;
  h = wire_get_u32 (payload + 8);
  if (h == 0)
    return WIRE_EMALFORMED;     /* hole size MUST be nonzero */
  *offset = wire_get_u64 (payload);
  *hole_len = h;
  return WIRE_OK;
}
