/* Unit tests for the harness wire codec (tests/harness/lib/wire.c).
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Output is TAP (srunner_set_tap), read by tap-driver.sh.  Decoders
 * are always given heap copies of exactly the bytes under test, so that
 * valgrind (CK_FORK=no) or a sanitizer build catches any read past the
 * end.
 */

#include <config.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tap-runner.h"

#include "wire.h"

/* --- helpers ---------------------------------------------------------- */

/* Check that a buffer holds exactly the expected bytes. */
static void
check_bytes (const struct wire_buf *b, const uint8_t *want, size_t wantlen,
             const char *what)
{
  size_t i;

  ck_assert_msg (b->len == wantlen, "%s: length %zu, expected %zu",
                 what, b->len, wantlen);
  for (i = 0; i < wantlen; ++i)
    ck_assert_msg (b->data[i] == want[i],
                   "%s: byte %zu is 0x%02x, expected 0x%02x",
                   what, i, b->data[i], want[i]);
}
#define CHECK_BYTES(b, arr) check_bytes ((b), (arr), sizeof (arr), #arr)

/* Encoding with CALL into the buffer B succeeds and gives exactly the
 * bytes of the array WANT; B is emptied for the next encoding.
 */
#define ENCODES(b, call, want)                  \
  do {                                          \
    ck_assert_int_eq ((call), WIRE_OK);         \
    CHECK_BYTES ((b), want);                    \
    wire_buf_reset (b);                         \
  } while (0)

/* A heap copy of exactly n bytes (never NULL, even for n == 0). */
static uint8_t *
dup_bytes (const void *p, size_t n)
{
  uint8_t *r = malloc (n ? n : 1);

  ck_assert_ptr_nonnull (r);
  if (n)
    memcpy (r, p, n);
  return r;
}

/* The payload of an option reply (or request) held in b, after the
 * header of hdrlen bytes, as a heap copy.
 */
static uint8_t *
payload_of (const struct wire_buf *b, size_t hdrlen, uint32_t *len)
{
  ck_assert_uint_ge (b->len, hdrlen);
  *len = b->len - hdrlen;
  return dup_bytes (b->data + hdrlen, *len);
}

static bool
str_is (const struct wire_str *s, const char *want)
{
  size_t n = strlen (want);

  if (s->len != n)
    return false;
  if (n == 0)
    return s->ptr == NULL;
  return memcmp (s->ptr, want, n) == 0;
}

/* Build a payload by hand. */
struct pb {
  uint8_t d[16384];
  size_t n;
};
static void
pb_u16 (struct pb *p, uint16_t v)
{
  p->d[p->n++] = v >> 8;
  p->d[p->n++] = v;
}
static void
pb_u32 (struct pb *p, uint32_t v)
{
  pb_u16 (p, v >> 16);
  pb_u16 (p, v);
}
static void
pb_u64 (struct pb *p, uint64_t v)
{
  pb_u32 (p, v >> 32);
  pb_u32 (p, v);
}
static void
pb_str (struct pb *p, const char *s)
{
  memcpy (p->d + p->n, s, strlen (s));
  p->n += strlen (s);
}
static void
pb_fill (struct pb *p, char c, size_t n)
{
  memset (p->d + p->n, c, n);
  p->n += n;
}

/* --- names ------------------------------------------------------------ */

/* A few names of each table, the first and the last among them. */
START_TEST (names_known)
{
  ck_assert_str_eq (wire_opt_name (NBD_OPT_EXPORT_NAME),
                    "NBD_OPT_EXPORT_NAME");
  ck_assert_str_eq (wire_opt_name (NBD_OPT_STARTTLS), "NBD_OPT_STARTTLS");
  ck_assert_str_eq (wire_opt_name (NBD_OPT_EXTENDED_HEADERS),
                    "NBD_OPT_EXTENDED_HEADERS");
  ck_assert_str_eq (wire_rep_name (NBD_REP_ACK), "NBD_REP_ACK");
  ck_assert_str_eq (wire_rep_name (NBD_REP_META_CONTEXT),
                    "NBD_REP_META_CONTEXT");
  ck_assert_str_eq (wire_rep_name (NBD_REP_ERR_TLS_REQD),
                    "NBD_REP_ERR_TLS_REQD");
  ck_assert_str_eq (wire_rep_name (NBD_REP_ERR_EXT_HEADER_REQD),
                    "NBD_REP_ERR_EXT_HEADER_REQD");
  ck_assert_str_eq (wire_info_name (NBD_INFO_EXPORT), "NBD_INFO_EXPORT");
  ck_assert_str_eq (wire_info_name (NBD_INFO_BLOCK_SIZE),
                    "NBD_INFO_BLOCK_SIZE");
  ck_assert_str_eq (wire_cmd_name (NBD_CMD_READ), "NBD_CMD_READ");
  ck_assert_str_eq (wire_cmd_name (NBD_CMD_BLOCK_STATUS),
                    "NBD_CMD_BLOCK_STATUS");
  ck_assert_str_eq (wire_cmd_name (NBD_CMD_RESIZE), "NBD_CMD_RESIZE");
  ck_assert_str_eq (wire_chunk_name (NBD_REPLY_TYPE_NONE),
                    "NBD_REPLY_TYPE_NONE");
  ck_assert_str_eq (wire_chunk_name (NBD_REPLY_TYPE_BLOCK_STATUS),
                    "NBD_REPLY_TYPE_BLOCK_STATUS");
  ck_assert_str_eq (wire_chunk_name (NBD_REPLY_TYPE_ERROR_OFFSET),
                    "NBD_REPLY_TYPE_ERROR_OFFSET");
  ck_assert_str_eq (wire_errno_name (NBD_EPERM), "EPERM");
  ck_assert_str_eq (wire_errno_name (NBD_EINVAL), "EINVAL");
  ck_assert_str_eq (wire_errno_name (NBD_ESHUTDOWN), "ESHUTDOWN");
}
END_TEST

/* Every name of a table, found by trying every value in the ranges
 * the protocol uses, carries its table's prefix and looks up back to
 * its value, with and without the prefix.
 */
static void
check_round_trip (const char *what, const char *name, int64_t v,
                  const char *prefix, int64_t (*by_name) (const char *))
{
  size_t plen = strlen (prefix);

  ck_assert_msg (strncmp (name, prefix, plen) == 0 && name[plen] != '\0',
                 "%s %" PRIi64 " is named %s", what, v, name);
  if (by_name) {
    ck_assert_int_eq (by_name (name), v);
    ck_assert_int_eq (by_name (name + plen), v);
  }
}

START_TEST (names_round_trip)
{
  uint32_t v;
  const char *name;
  char full[64];
  unsigned named = 0;

  for (v = 0; v < 256; ++v) {
    if (strcmp (name = wire_opt_name (v), "unknown") != 0) {
      check_round_trip ("option", name, v, "NBD_OPT_", wire_opt_by_name);
      named++;
    }
    if (strcmp (name = wire_rep_name (v), "unknown") != 0) {
      check_round_trip ("reply", name, v, "NBD_REP_", wire_rep_by_name);
      named++;
    }
    if (strcmp (name = wire_rep_name (NBD_REP_FLAG_ERROR | v),
                "unknown") != 0) {
      check_round_trip ("reply", name, NBD_REP_FLAG_ERROR | v,
                        "NBD_REP_ERR_", wire_rep_by_name);
      named++;
    }
    if (strcmp (name = wire_errno_name (v), "unknown") != 0) {
      /* errno names have no prefix; NBD_ is accepted */
      ck_assert_int_eq (wire_errno_by_name (name), v);
      snprintf (full, sizeof full, "NBD_%s", name);
      ck_assert_int_eq (wire_errno_by_name (full), v);
      named++;
    }
  }
  for (v = 0; v <= UINT16_MAX; ++v) {
    if (strcmp (name = wire_info_name (v), "unknown") != 0) {
      check_round_trip ("info", name, v, "NBD_INFO_", wire_info_by_name);
      named++;
    }
    if (strcmp (name = wire_cmd_name (v), "unknown") != 0) {
      check_round_trip ("command", name, v, "NBD_CMD_", wire_cmd_by_name);
      named++;
    }
    if (strcmp (name = wire_chunk_name (v), "unknown") != 0) {
      check_round_trip ("chunk", name, v, "NBD_REPLY_TYPE_", NULL);
      named++;
    }
  }
  /* The names of names_known at least. */
  ck_assert_uint_ge (named, 18);
}
END_TEST

START_TEST (names_unknown_and_case)
{
  ck_assert_str_eq (wire_opt_name (0), "unknown");
  ck_assert_str_eq (wire_opt_name (12), "unknown");
  ck_assert_str_eq (wire_opt_name (UINT32_MAX), "unknown");
  ck_assert_str_eq (wire_rep_name (0), "unknown");
  ck_assert_str_eq (wire_rep_name (NBD_REP_FLAG_ERROR), "unknown");
  ck_assert_str_eq (wire_rep_name (NBD_REP_FLAG_ERROR + 11), "unknown");
  ck_assert_str_eq (wire_info_name (4), "unknown");
  ck_assert_str_eq (wire_cmd_name (9), "unknown");
  ck_assert_str_eq (wire_chunk_name (3), "unknown");
  ck_assert_str_eq (wire_chunk_name (0x8003), "unknown");
  ck_assert_str_eq (wire_errno_name (2), "unknown");
  ck_assert_str_eq (wire_errno_name (0), "unknown");

  ck_assert_int_eq (wire_opt_by_name ("starttls"), NBD_OPT_STARTTLS);
  ck_assert_int_eq (wire_opt_by_name ("nbd_opt_go"), NBD_OPT_GO);
  ck_assert_int_eq (wire_opt_by_name ("Set_Meta_Context"),
                    NBD_OPT_SET_META_CONTEXT);
  ck_assert_int_eq (wire_rep_by_name ("err_tls_reqd"), NBD_REP_ERR_TLS_REQD);
  ck_assert_int_eq (wire_rep_by_name ("policy"), NBD_REP_ERR_POLICY);
  ck_assert_int_eq (wire_rep_by_name ("ack"), NBD_REP_ACK);
  ck_assert_int_eq (wire_errno_by_name ("einval"), NBD_EINVAL);
  ck_assert_int_eq (wire_errno_by_name ("nbd_eperm"), NBD_EPERM);

  ck_assert_int_eq (wire_opt_by_name ("NBD_OPT_"), -1);
  ck_assert_int_eq (wire_opt_by_name ("OPT_GO"), -1);
  ck_assert_int_eq (wire_opt_by_name (""), -1);
  ck_assert_int_eq (wire_opt_by_name (NULL), -1);
  ck_assert_int_eq (wire_opt_by_name ("GOX"), -1);
  ck_assert_int_eq (wire_opt_by_name ("G"), -1);
  ck_assert_int_eq (wire_rep_by_name ("ERR_"), -1);
  ck_assert_int_eq (wire_rep_by_name ("NBD_REP_ERR_NOPE"), -1);
  ck_assert_int_eq (wire_errno_by_name ("ENOENT"), -1);
  ck_assert_int_eq (wire_errno_by_name ("NBD_"), -1);
  ck_assert_int_eq (wire_errno_by_name (NULL), -1);
}
END_TEST

START_TEST (status_names)
{
  static const struct {
    int status;
    const char *name;
  } statuses[] = {
    { WIRE_OK, "WIRE_OK" },
    { WIRE_SHORT, "WIRE_SHORT" },
    { WIRE_EMAGIC, "WIRE_EMAGIC" },
    { WIRE_ETOOBIG, "WIRE_ETOOBIG" },
    { WIRE_EMALFORMED, "WIRE_EMALFORMED" },
    { WIRE_EUNKNOWN, "WIRE_EUNKNOWN" },
    { 42, "unknown" },
  };
  size_t i;

  for (i = 0; i < sizeof statuses / sizeof statuses[0]; ++i)
    ck_assert_str_eq (wire_status_name (statuses[i].status),
                      statuses[i].name);
}
END_TEST

/* --- buffers and raw integers ---------------------------------------- */

START_TEST (buf_put_get)
{
  static const uint8_t want[] = {
    0x12, 0x34,
    0x89, 0xab, 0xcd, 0xef,
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
    'x', 'y',
  };
  struct wire_buf b;
  uint8_t *saved;
  size_t i;

  wire_buf_init (&b);
  ck_assert_ptr_null (b.data);
  ck_assert_uint_eq (b.len, 0);
  ck_assert_int_eq (wire_put_u16 (&b, 0x1234), WIRE_OK);
  ck_assert_int_eq (wire_put_u32 (&b, 0x89abcdef), WIRE_OK);
  ck_assert_int_eq (wire_put_u64 (&b, UINT64_C(0x0123456789abcdef)), WIRE_OK);
  ck_assert_int_eq (wire_put_bytes (&b, "xy", 2), WIRE_OK);
  ck_assert_int_eq (wire_put_bytes (&b, NULL, 0), WIRE_OK);
  CHECK_BYTES (&b, want);
  ck_assert_uint_eq (wire_get_u16 (b.data), 0x1234);
  ck_assert_uint_eq (wire_get_u32 (b.data + 2), 0x89abcdef);
  ck_assert (wire_get_u64 (b.data + 6) == UINT64_C(0x0123456789abcdef));

  saved = b.data;
  wire_buf_reset (&b);
  ck_assert_uint_eq (b.len, 0);
  ck_assert_ptr_eq (b.data, saved);      /* memory kept */

  /* Growth across many appends. */
  for (i = 0; i < 100000; ++i)
    ck_assert_int_eq (wire_put_u32 (&b, i), WIRE_OK);
  ck_assert_uint_eq (b.len, 400000);
  ck_assert_uint_ge (b.cap, b.len);
  for (i = 0; i < 100000; i += 997)
    ck_assert_uint_eq (wire_get_u32 (b.data + 4 * i), i);

  wire_buf_free (&b);
  ck_assert_ptr_null (b.data);
  ck_assert_uint_eq (b.len, 0);
  ck_assert_uint_eq (b.cap, 0);
  wire_buf_free (&b);                    /* idempotent */
}
END_TEST

/* --- exact byte layouts ---------------------------------------------- */

START_TEST (layout_option_request)
{
  static const uint8_t starttls[] = {
    'I', 'H', 'A', 'V', 'E', 'O', 'P', 'T',
    0, 0, 0, 5,                          /* NBD_OPT_STARTTLS */
    0, 0, 0, 0,                          /* length */
  };
  static const uint8_t with_data[] = {
    0x49, 0x48, 0x41, 0x56, 0x45, 0x4f, 0x50, 0x54,
    0, 0, 0, 1,                          /* NBD_OPT_EXPORT_NAME */
    0, 0, 0, 3,
    'a', 'b', 'c',
  };
  static const uint8_t lying[] = {      /* header only, length as given */
    'I', 'H', 'A', 'V', 'E', 'O', 'P', 'T',
    0, 0, 0, 3,
    0xff, 0xff, 0xff, 0xff,
  };
  static const uint8_t flags[] = { 0, 0, 0, 3 };
  struct wire_buf b;

  wire_buf_init (&b);
  ENCODES (&b, wire_enc_option (&b, NBD_OPT_STARTTLS, NULL, 0), starttls);
  ENCODES (&b, wire_enc_option (&b, NBD_OPT_EXPORT_NAME, "abc", 3), with_data);
  ENCODES (&b, wire_enc_opt_export_name (&b, "abc"), with_data);
  ENCODES (&b, wire_enc_option (&b, NBD_OPT_LIST, NULL, UINT32_MAX), lying);
  ENCODES (&b, wire_enc_client_flags (&b, NBD_FLAG_C_FIXED_NEWSTYLE |
                                      NBD_FLAG_C_NO_ZEROES), flags);
  wire_buf_free (&b);
}
END_TEST

START_TEST (layout_opt_meta_and_info)
{
  static const uint8_t meta[] = {
    'I', 'H', 'A', 'V', 'E', 'O', 'P', 'T',
    0, 0, 0, 10,                         /* SET_META_CONTEXT */
    0, 0, 0, 33,                         /* 4+1 + 4 + 4+15 + 4+1 */
    0, 0, 0, 1, 'e',
    0, 0, 0, 2,
    0, 0, 0, 15, 'b', 'a', 's', 'e', ':', 'a', 'l', 'l', 'o', 'c',
    'a', 't', 'i', 'o', 'n',
    0, 0, 0, 1, 'x',
  };
  static const uint8_t info[] = {
    'I', 'H', 'A', 'V', 'E', 'O', 'P', 'T',
    0, 0, 0, 7,                          /* GO */
    0, 0, 0, 12,                         /* 4+4 + 2 + 2*1 */
    0, 0, 0, 4, 'd', 'i', 's', 'k',
    0, 1,
    0, 3,                                /* NBD_INFO_BLOCK_SIZE */
  };
  static const uint8_t info_empty[] = {
    'I', 'H', 'A', 'V', 'E', 'O', 'P', 'T',
    0, 0, 0, 6,                          /* INFO */
    0, 0, 0, 6,
    0, 0, 0, 0,
    0, 0,
  };
  const char *q[] = { "base:allocation", "x" };
  const uint16_t bs = NBD_INFO_BLOCK_SIZE;
  struct wire_buf b;

  wire_buf_init (&b);
  ENCODES (&b, wire_enc_opt_meta (&b, NBD_OPT_SET_META_CONTEXT, "e",
                                  q, 2), meta);
  ENCODES (&b, wire_enc_opt_info (&b, NBD_OPT_GO, "disk", &bs, 1), info);
  ENCODES (&b, wire_enc_opt_info (&b, NBD_OPT_INFO, "", NULL, 0), info_empty);
  wire_buf_free (&b);
}
END_TEST

START_TEST (layout_option_reply)
{
  static const uint8_t ack[] = {
    0x00, 0x03, 0xe8, 0x89, 0x04, 0x55, 0x65, 0xa9,  /* NBD_REP_MAGIC */
    0, 0, 0, 5,                          /* STARTTLS */
    0, 0, 0, 1,                          /* NBD_REP_ACK */
    0, 0, 0, 0,
  };
  static const uint8_t err[] = {
    0x00, 0x03, 0xe8, 0x89, 0x04, 0x55, 0x65, 0xa9,
    0, 0, 0, 3,                          /* LIST */
    0x80, 0, 0, 5,                       /* NBD_REP_ERR_TLS_REQD */
    0, 0, 0, 2,
    'n', 'o',
  };
  static const uint8_t server[] = {
    0x00, 0x03, 0xe8, 0x89, 0x04, 0x55, 0x65, 0xa9,
    0, 0, 0, 3,                          /* LIST */
    0, 0, 0, 2,                          /* NBD_REP_SERVER */
    0, 0, 0, 9,
    0, 0, 0, 3, 'a', 'b', 'c', 'd', 'e',
  };
  static const uint8_t greeting[] = {
    'N', 'B', 'D', 'M', 'A', 'G', 'I', 'C',
    'I', 'H', 'A', 'V', 'E', 'O', 'P', 'T',
    0, 3,
  };
  struct wire_buf b;

  wire_buf_init (&b);
  ENCODES (&b, wire_enc_opt_reply (&b, NBD_OPT_STARTTLS, NBD_REP_ACK,
                                   NULL, 0), ack);
  ENCODES (&b, wire_enc_opt_reply (&b, NBD_OPT_LIST,
                                   NBD_REP_ERR_TLS_REQD, "no", 2), err);
  ENCODES (&b, wire_enc_rep_server (&b, "abc", "de"), server);
  ENCODES (&b, wire_enc_greeting (&b, NBD_FLAG_FIXED_NEWSTYLE |
                                  NBD_FLAG_NO_ZEROES), greeting);
  wire_buf_free (&b);
}
END_TEST

START_TEST (layout_meta_context_reply)
{
  static const uint8_t want[] = {
    0x00, 0x03, 0xe8, 0x89, 0x04, 0x55, 0x65, 0xa9,
    0, 0, 0, 10,                         /* SET_META_CONTEXT */
    0, 0, 0, 4,                          /* NBD_REP_META_CONTEXT */
    0, 0, 0, 19,                         /* 4 + 15 */
    0xde, 0xad, 0xbe, 0xef,              /* context id */
    'b', 'a', 's', 'e', ':', 'a', 'l', 'l', 'o', 'c', 'a', 't', 'i', 'o', 'n',
  };
  struct wire_buf b;

  wire_buf_init (&b);
  ENCODES (&b, wire_enc_rep_meta_context (&b, NBD_OPT_SET_META_CONTEXT,
                                          0xdeadbeef,
                                          "base:allocation"), want);
  wire_buf_free (&b);
}
END_TEST

START_TEST (layout_info_export_reply)
{
  static const uint8_t want[] = {
    0x00, 0x03, 0xe8, 0x89, 0x04, 0x55, 0x65, 0xa9,
    0, 0, 0, 7,                          /* GO */
    0, 0, 0, 3,                          /* NBD_REP_INFO */
    0, 0, 0, 12,
    0, 0,                                /* NBD_INFO_EXPORT */
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,  /* 4 GiB */
    0x01, 0x4d,                          /* flags */
  };
  static const uint8_t ename[] = {
    0, 0, 0, 0, 0, 0, 0x10, 0,
    0, 3,
  };
  struct wire_buf b;
  size_t i;

  wire_buf_init (&b);
  ck_assert_int_eq (wire_enc_rep_info_export (&b, NBD_OPT_GO,
                                              UINT64_C(4294967296), 0x014d),
                    WIRE_OK);
  CHECK_BYTES (&b, want);

  wire_buf_reset (&b);
  ENCODES (&b, wire_enc_export_name_reply (&b, 4096, 3, true), ename);
  ck_assert_int_eq (wire_enc_export_name_reply (&b, 4096, 3, false), WIRE_OK);
  ck_assert_uint_eq (b.len, 134);
  ck_assert (memcmp (b.data, ename, sizeof ename) == 0);
  for (i = sizeof ename; i < b.len; ++i)
    ck_assert_uint_eq (b.data[i], 0);
  wire_buf_free (&b);
}
END_TEST

START_TEST (layout_request_and_simple_reply)
{
  static const uint8_t req[] = {
    0x25, 0x60, 0x95, 0x13,
    0x00, 0x08,                          /* REQ_ONE */
    0x00, 0x07,                          /* BLOCK_STATUS */
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
    0x80, 0x00, 0x00, 0x00,
  };
  static const uint8_t rep[] = {
    0x67, 0x44, 0x66, 0x98,
    0x00, 0x00, 0x00, 0x01,              /* EPERM */
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
  };
  struct wire_buf b;

  wire_buf_init (&b);
  ck_assert_int_eq (wire_enc_request (&b, NBD_CMD_FLAG_REQ_ONE,
                                      NBD_CMD_BLOCK_STATUS,
                                      UINT64_C(0x0102030405060708),
                                      0x100000, 0x80000000), WIRE_OK);
  CHECK_BYTES (&b, req);
  ck_assert_uint_eq (b.len, WIRE_REQUEST_LEN);
  wire_buf_reset (&b);
  ck_assert_int_eq (wire_enc_simple_reply (&b, NBD_EPERM,
                                           UINT64_C(0x0102030405060708)),
                    WIRE_OK);
  CHECK_BYTES (&b, rep);
  ck_assert_uint_eq (b.len, WIRE_SIMPLE_REPLY_LEN);
  wire_buf_free (&b);
}
END_TEST

START_TEST (layout_chunks)
{
  static const uint8_t bs[] = {
    0x66, 0x8e, 0x33, 0xef,
    0x00, 0x01,                          /* DONE */
    0x00, 0x05,                          /* BLOCK_STATUS */
    0, 0, 0, 0, 0, 0, 0, 42,
    0, 0, 0, 20,                         /* 4 + 2*8 */
    0, 0, 0, 1,                          /* context id */
    0, 0, 0x10, 0, 0, 0, 0, 3,           /* 4096, hole|zero */
    0, 0, 0x20, 0, 0, 0, 0, 0,           /* 8192, data */
  };
  static const uint8_t bs_payload[] = {
    0, 0, 0, 1,
    0, 0, 0x10, 0, 0, 0, 0, 3,
    0, 0, 0x20, 0, 0, 0, 0, 0,
  };
  static const uint8_t err[] = {
    0x66, 0x8e, 0x33, 0xef,
    0x00, 0x01,
    0x80, 0x01,                          /* ERROR */
    0, 0, 0, 0, 0, 0, 0, 7,
    0, 0, 0, 9,
    0, 0, 0, 22,                         /* EINVAL */
    0, 3, 'b', 'a', 'd',
  };
  static const uint8_t err_payload[] = {
    0, 0, 0, 22,
    0, 3, 'b', 'a', 'd',
  };
  struct wire_buf b;

  wire_buf_init (&b);
  ENCODES (&b, wire_enc_chunk (&b, NBD_REPLY_FLAG_DONE,
                               NBD_REPLY_TYPE_BLOCK_STATUS, 42,
                               bs_payload, sizeof bs_payload), bs);
  ck_assert_int_eq (wire_enc_chunk (&b, NBD_REPLY_FLAG_DONE,
                                    NBD_REPLY_TYPE_ERROR, 7,
                                    err_payload, sizeof err_payload), WIRE_OK);
  CHECK_BYTES (&b, err);
  /* NULL payload: header only. */
  wire_buf_reset (&b);
  ck_assert_int_eq (wire_enc_chunk (&b, 0, NBD_REPLY_TYPE_OFFSET_DATA, 1,
                                    NULL, 1000), WIRE_OK);
  ck_assert_uint_eq (b.len, WIRE_CHUNK_HDR_LEN);
  ck_assert_uint_eq (wire_get_u32 (b.data + 16), 1000);
  wire_buf_free (&b);
}
END_TEST

/* --- round trips ------------------------------------------------------ */

START_TEST (rt_handshake)
{
  struct wire_buf b;
  uint8_t *p;
  uint16_t hflags = 0;
  uint32_t cflags = 0;
  uint64_t size = 0;
  uint16_t tflags = 0;

  wire_buf_init (&b);
  wire_enc_greeting (&b, 0xabcd);
  p = dup_bytes (b.data, b.len);
  ck_assert_int_eq (wire_dec_greeting (p, b.len, &hflags), WIRE_OK);
  ck_assert_uint_eq (hflags, 0xabcd);
  free (p);

  wire_buf_reset (&b);
  wire_enc_client_flags (&b, 0xfedcba98);
  p = dup_bytes (b.data, b.len);
  ck_assert_int_eq (wire_dec_client_flags (p, b.len, &cflags), WIRE_OK);
  ck_assert_uint_eq (cflags, 0xfedcba98);
  free (p);

  wire_buf_reset (&b);
  wire_enc_export_name_reply (&b, UINT64_MAX, 0x8001, false);
  p = dup_bytes (b.data, b.len);
  ck_assert_int_eq (wire_dec_export_name_reply (p, b.len, &size, &tflags),
                    WIRE_OK);
  ck_assert (size == UINT64_MAX);
  ck_assert_uint_eq (tflags, 0x8001);
  free (p);
  wire_buf_free (&b);
}
END_TEST

START_TEST (rt_option_requests)
{
  const char *q[] = { "base:allocation", "", "qemu:dirty-bitmap:x" };
  const uint16_t infos[] = { 0, 1, 2, 3, 0xffff };
  struct wire_buf b;
  struct wire_opt_req r;
  struct wire_meta_req m;
  struct wire_info_req ir;
  uint8_t *p;
  uint32_t plen;

  wire_buf_init (&b);
  ck_assert_int_eq (wire_enc_opt_meta (&b, NBD_OPT_LIST_META_CONTEXT,
                                       "export", q, 3), WIRE_OK);
  p = dup_bytes (b.data, WIRE_OPT_REQ_HDR_LEN);
  ck_assert_int_eq (wire_dec_opt_req_hdr (p, WIRE_OPT_REQ_HDR_LEN, &r,
                                          WIRE_MAX_OPT_PAYLOAD), WIRE_OK);
  free (p);
  ck_assert_uint_eq (r.opt, NBD_OPT_LIST_META_CONTEXT);
  ck_assert_uint_eq (r.len, b.len - WIRE_OPT_REQ_HDR_LEN);
  p = payload_of (&b, WIRE_OPT_REQ_HDR_LEN, &plen);
  ck_assert_int_eq (wire_dec_opt_meta (p, plen, &m), WIRE_OK);
  ck_assert (str_is (&m.exportname, "export"));
  ck_assert_uint_eq (m.nq, 3);
  ck_assert (str_is (&m.queries[0], q[0]));
  ck_assert (str_is (&m.queries[1], q[1]));
  ck_assert (str_is (&m.queries[2], q[2]));
  free (p);

  /* No queries, empty export name. */
  wire_buf_reset (&b);
  ck_assert_int_eq (wire_enc_opt_meta (&b, NBD_OPT_SET_META_CONTEXT, "",
                                       NULL, 0), WIRE_OK);
  p = payload_of (&b, WIRE_OPT_REQ_HDR_LEN, &plen);
  ck_assert_uint_eq (plen, 8);
  ck_assert_int_eq (wire_dec_opt_meta (p, plen, &m), WIRE_OK);
  ck_assert (str_is (&m.exportname, ""));
  ck_assert_uint_eq (m.nq, 0);
  free (p);

  wire_buf_reset (&b);
  ck_assert_int_eq (wire_enc_opt_info (&b, NBD_OPT_INFO, "disk", infos,
                                       ARRAY_SIZE (infos)), WIRE_OK);
  p = payload_of (&b, WIRE_OPT_REQ_HDR_LEN, &plen);
  ck_assert_int_eq (wire_dec_opt_info (p, plen, &ir), WIRE_OK);
  ck_assert (str_is (&ir.exportname, "disk"));
  ck_assert_uint_eq (ir.ninfo, ARRAY_SIZE (infos));
  ck_assert_uint_eq (ir.infos[3], 3);
  ck_assert_uint_eq (ir.infos[4], 0xffff);
  free (p);

  wire_buf_reset (&b);
  ck_assert_int_eq (wire_enc_opt_export_name (&b, ""), WIRE_OK);
  ck_assert_uint_eq (b.len, WIRE_OPT_REQ_HDR_LEN);
  p = dup_bytes (b.data, b.len);
  ck_assert_int_eq (wire_dec_opt_req_hdr (p, b.len, &r, 0), WIRE_OK);
  ck_assert_uint_eq (r.opt, NBD_OPT_EXPORT_NAME);
  ck_assert_uint_eq (r.len, 0);
  free (p);
  wire_buf_free (&b);
}
END_TEST

/* Encode an option reply, decode its header, return its payload. */
static uint8_t *
reply_payload (struct wire_buf *b, struct wire_opt_reply *r, uint32_t *plen)
{
  uint8_t *p = dup_bytes (b->data, WIRE_OPT_REP_HDR_LEN);

  ck_assert_int_eq (wire_dec_opt_reply_hdr (p, WIRE_OPT_REP_HDR_LEN, r,
                                            WIRE_MAX_OPT_PAYLOAD), WIRE_OK);
  free (p);
  p = payload_of (b, WIRE_OPT_REP_HDR_LEN, plen);
  ck_assert_uint_eq (r->len, *plen);
  return p;
}

START_TEST (rt_option_replies)
{
  struct wire_buf b;
  struct wire_opt_reply r;
  struct wire_str name, desc, msg;
  struct wire_info info;
  struct pb pb;
  uint8_t *p;
  uint32_t plen, id;

  wire_buf_init (&b);

  wire_enc_rep_meta_context (&b, NBD_OPT_LIST_META_CONTEXT, 7,
                             "base:allocation");
  p = reply_payload (&b, &r, &plen);
  ck_assert_uint_eq (r.opt, NBD_OPT_LIST_META_CONTEXT);
  ck_assert_uint_eq (r.type, NBD_REP_META_CONTEXT);
  ck_assert_int_eq (wire_dec_rep_meta_context (p, plen, &id, &name), WIRE_OK);
  ck_assert_uint_eq (id, 7);
  ck_assert (str_is (&name, "base:allocation"));
  free (p);

  wire_buf_reset (&b);
  wire_enc_rep_server (&b, "name", "a description");
  p = reply_payload (&b, &r, &plen);
  ck_assert_uint_eq (r.opt, NBD_OPT_LIST);
  ck_assert_uint_eq (r.type, NBD_REP_SERVER);
  ck_assert_int_eq (wire_dec_rep_server (p, plen, &name, &desc), WIRE_OK);
  ck_assert (str_is (&name, "name"));
  ck_assert (str_is (&desc, "a description"));
  free (p);

  wire_buf_reset (&b);
  wire_enc_rep_server (&b, "", NULL);
  p = reply_payload (&b, &r, &plen);
  ck_assert_int_eq (wire_dec_rep_server (p, plen, &name, &desc), WIRE_OK);
  ck_assert (str_is (&name, ""));
  ck_assert (str_is (&desc, ""));
  free (p);

  wire_buf_reset (&b);
  wire_enc_rep_info_export (&b, NBD_OPT_INFO, 12345, 0x0203);
  p = reply_payload (&b, &r, &plen);
  ck_assert_uint_eq (r.type, NBD_REP_INFO);
  ck_assert_int_eq (wire_dec_rep_info (p, plen, &info), WIRE_OK);
  ck_assert_uint_eq (info.type, NBD_INFO_EXPORT);
  ck_assert (info.u.export.size == 12345);
  ck_assert_uint_eq (info.u.export.tflags, 0x0203);
  free (p);

  /* NBD_INFO_NAME, _DESCRIPTION, _BLOCK_SIZE and an unknown type. */
  pb.n = 0;
  pb_u16 (&pb, NBD_INFO_NAME);
  pb_str (&pb, "canon");
  ck_assert_int_eq (wire_dec_rep_info (pb.d, pb.n, &info), WIRE_OK);
  ck_assert_uint_eq (info.type, NBD_INFO_NAME);
  ck_assert (str_is (&info.u.name, "canon"));
  pb.n = 0;
  pb_u16 (&pb, NBD_INFO_DESCRIPTION);
  ck_assert_int_eq (wire_dec_rep_info (pb.d, pb.n, &info), WIRE_OK);
  ck_assert_uint_eq (info.type, NBD_INFO_DESCRIPTION);
  ck_assert (str_is (&info.u.description, ""));
  pb.n = 0;
  pb_u16 (&pb, NBD_INFO_BLOCK_SIZE);
  pb_u32 (&pb, 1);
  pb_u32 (&pb, 4096);
  pb_u32 (&pb, 33554432);
  wire_buf_reset (&b);
  wire_enc_opt_reply (&b, NBD_OPT_GO, NBD_REP_INFO, pb.d, pb.n);
  p = reply_payload (&b, &r, &plen);
  ck_assert_int_eq (wire_dec_rep_info (p, plen, &info), WIRE_OK);
  ck_assert_uint_eq (info.type, NBD_INFO_BLOCK_SIZE);
  ck_assert_uint_eq (info.u.block_size.min, 1);
  ck_assert_uint_eq (info.u.block_size.pref, 4096);
  ck_assert_uint_eq (info.u.block_size.max, 33554432);
  free (p);
  pb.n = 0;
  pb_u16 (&pb, 0x1234);
  pb_str (&pb, "whatever");
  ck_assert_int_eq (wire_dec_rep_info (pb.d, pb.n, &info), WIRE_OK);
  ck_assert_uint_eq (info.type, 0x1234);

  wire_buf_reset (&b);
  wire_enc_opt_reply (&b, NBD_OPT_GO, NBD_REP_ERR_POLICY, "denied", 6);
  p = reply_payload (&b, &r, &plen);
  ck_assert_uint_eq (r.type, NBD_REP_ERR_POLICY);
  ck_assert_int_eq (wire_dec_rep_error (p, plen, &msg), WIRE_OK);
  ck_assert (str_is (&msg, "denied"));
  free (p);
  ck_assert_int_eq (wire_dec_rep_error (NULL, 0, &msg), WIRE_OK);
  ck_assert (str_is (&msg, ""));

  wire_buf_free (&b);
}
END_TEST

START_TEST (rt_transmission)
{
  struct wire_buf b;
  struct wire_request rq;
  struct wire_reply rp;
  size_t need = 0;
  uint8_t *p;

  wire_buf_init (&b);
  wire_enc_request (&b, 0xffff, NBD_CMD_WRITE, UINT64_MAX, UINT64_MAX - 1,
                    UINT32_MAX);
  p = dup_bytes (b.data, b.len);
  ck_assert_int_eq (wire_dec_request (p, b.len, &rq), WIRE_OK);
  ck_assert_uint_eq (rq.flags, 0xffff);
  ck_assert_uint_eq (rq.type, NBD_CMD_WRITE);
  ck_assert (rq.cookie == UINT64_MAX);
  ck_assert (rq.offset == UINT64_MAX - 1);
  ck_assert_uint_eq (rq.length, UINT32_MAX);
  free (p);

  wire_buf_reset (&b);
  wire_enc_simple_reply (&b, NBD_EIO, 99);
  p = dup_bytes (b.data, b.len);
  ck_assert_int_eq (wire_dec_reply_hdr (p, b.len, &rp, &need,
                                        WIRE_MAX_REPLY_PAYLOAD), WIRE_OK);
  ck_assert (!rp.structured);
  ck_assert_uint_eq (rp.error, NBD_EIO);
  ck_assert (rp.cookie == 99);
  free (p);

  wire_buf_reset (&b);
  wire_enc_chunk (&b, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_HOLE,
                  0x55, NULL, 12);
  p = dup_bytes (b.data, b.len);
  ck_assert_int_eq (wire_dec_reply_hdr (p, b.len, &rp, &need,
                                        WIRE_MAX_REPLY_PAYLOAD), WIRE_OK);
  ck_assert (rp.structured);
  ck_assert_uint_eq (rp.flags, NBD_REPLY_FLAG_DONE);
  ck_assert_uint_eq (rp.type, NBD_REPLY_TYPE_OFFSET_HOLE);
  ck_assert (rp.cookie == 0x55);
  ck_assert_uint_eq (rp.len, 12);
  free (p);
  wire_buf_free (&b);
}
END_TEST

START_TEST (rt_chunk_payloads)
{
  struct wire_extent ext[4];
  struct wire_str msg;
  struct pb pb;
  const uint8_t *data;
  uint8_t *p;
  uint64_t off;
  uint32_t id, err, dlen, hole;
  size_t n = 0;

  pb.n = 0;
  pb_u32 (&pb, 3);
  pb_u32 (&pb, 4096); pb_u32 (&pb, 3);
  pb_u32 (&pb, 512); pb_u32 (&pb, 0);
  pb_u32 (&pb, UINT32_MAX); pb_u32 (&pb, UINT32_MAX);
  p = dup_bytes (pb.d, pb.n);
  ck_assert_int_eq (wire_dec_chunk_block_status (p, pb.n, &id, ext, 4, &n),
                    WIRE_OK);
  ck_assert_uint_eq (id, 3);
  ck_assert_uint_eq (n, 3);
  ck_assert_uint_eq (ext[0].length, 4096);
  ck_assert_uint_eq (ext[0].flags, 3);
  ck_assert_uint_eq (ext[1].length, 512);
  ck_assert_uint_eq (ext[1].flags, 0);
  ck_assert_uint_eq (ext[2].length, UINT32_MAX);
  ck_assert_uint_eq (ext[2].flags, UINT32_MAX);
  /* Exactly max is fine; one more is not. */
  ck_assert_int_eq (wire_dec_chunk_block_status (p, pb.n, &id, ext, 3, &n),
                    WIRE_OK);
  ck_assert_int_eq (wire_dec_chunk_block_status (p, pb.n, &id, ext, 2, &n),
                    WIRE_ETOOBIG);
  free (p);

  pb.n = 0;
  pb_u32 (&pb, NBD_EOVERFLOW);
  pb_u16 (&pb, 5);
  pb_str (&pb, "hello");
  p = dup_bytes (pb.d, pb.n);
  ck_assert_int_eq (wire_dec_chunk_error (p, pb.n, NBD_REPLY_TYPE_ERROR,
                                          &err, &msg, &off), WIRE_OK);
  ck_assert_uint_eq (err, NBD_EOVERFLOW);
  ck_assert (str_is (&msg, "hello"));
  ck_assert (off == 0);
  free (p);

  /* Empty message; an unknown error type (bit 15) has the ERROR layout. */
  pb.n = 0;
  pb_u32 (&pb, NBD_EIO);
  pb_u16 (&pb, 0);
  p = dup_bytes (pb.d, pb.n);
  ck_assert_int_eq (wire_dec_chunk_error (p, pb.n, NBD_REPLY_TYPE_ERROR,
                                          &err, &msg, NULL), WIRE_OK);
  ck_assert (str_is (&msg, ""));
  ck_assert_int_eq (wire_dec_chunk_error (p, pb.n, 0x8123, &err, &msg, NULL),
                    WIRE_OK);
  free (p);

  pb.n = 0;
  pb_u32 (&pb, NBD_ENOSPC);
  pb_u16 (&pb, 2);
  pb_str (&pb, "ab");
  pb_u64 (&pb, UINT64_C(0x1122334455667788));
  p = dup_bytes (pb.d, pb.n);
  ck_assert_int_eq (wire_dec_chunk_error (p, pb.n,
                                          NBD_REPLY_TYPE_ERROR_OFFSET,
                                          &err, &msg, &off), WIRE_OK);
  ck_assert_uint_eq (err, NBD_ENOSPC);
  ck_assert (str_is (&msg, "ab"));
  ck_assert (off == UINT64_C(0x1122334455667788));
  free (p);

  pb.n = 0;
  pb_u64 (&pb, 65536);
  pb_str (&pb, "DATA");
  p = dup_bytes (pb.d, pb.n);
  ck_assert_int_eq (wire_dec_chunk_offset_data (p, pb.n, &off, &data, &dlen),
                    WIRE_OK);
  ck_assert (off == 65536);
  ck_assert_uint_eq (dlen, 4);
  ck_assert (data == p + 8);
  ck_assert (memcmp (data, "DATA", 4) == 0);
  free (p);

  pb.n = 0;
  pb_u64 (&pb, 512);
  pb_u32 (&pb, 1024);
  p = dup_bytes (pb.d, pb.n);
  ck_assert_int_eq (wire_dec_chunk_offset_hole (p, pb.n, &off, &hole),
                    WIRE_OK);
  ck_assert (off == 512);
  ck_assert_uint_eq (hole, 1024);
  free (p);
}
END_TEST

/* --- truncation: WIRE_SHORT at every length -------------------------- */

START_TEST (short_fixed_headers)
{
  struct wire_buf b;
  struct wire_opt_reply orp;
  struct wire_opt_req orq;
  struct wire_request rq;
  struct wire_reply rp;
  uint16_t h;
  uint32_t c;
  uint64_t sz;
  size_t n, need;
  uint8_t *p;

  wire_buf_init (&b);

  wire_enc_greeting (&b, 3);
  for (n = 0; n < WIRE_GREETING_LEN; ++n) {
    p = dup_bytes (b.data, n);
    ck_assert_int_eq (wire_dec_greeting (p, n, &h), WIRE_SHORT);
    free (p);
  }

  wire_buf_reset (&b);
  wire_enc_opt_reply (&b, 1, 1, NULL, 0);
  for (n = 0; n < WIRE_OPT_REP_HDR_LEN; ++n) {
    p = dup_bytes (b.data, n);
    ck_assert_int_eq (wire_dec_opt_reply_hdr (p, n, &orp, 0), WIRE_SHORT);
    free (p);
  }

  wire_buf_reset (&b);
  wire_enc_option (&b, 1, NULL, 0);
  for (n = 0; n < WIRE_OPT_REQ_HDR_LEN; ++n) {
    p = dup_bytes (b.data, n);
    ck_assert_int_eq (wire_dec_opt_req_hdr (p, n, &orq, 0), WIRE_SHORT);
    free (p);
  }

  wire_buf_reset (&b);
  wire_enc_client_flags (&b, 1);
  for (n = 0; n < 4; ++n) {
    p = dup_bytes (b.data, n);
    ck_assert_int_eq (wire_dec_client_flags (p, n, &c), WIRE_SHORT);
    free (p);
  }

  wire_buf_reset (&b);
  wire_enc_export_name_reply (&b, 1, 1, true);
  for (n = 0; n < WIRE_EXPORT_NAME_REPLY_LEN; ++n) {
    p = dup_bytes (b.data, n);
    ck_assert_int_eq (wire_dec_export_name_reply (p, n, &sz, &h), WIRE_SHORT);
    free (p);
  }

  wire_buf_reset (&b);
  wire_enc_request (&b, 0, 0, 0, 0, 0);
  for (n = 0; n < WIRE_REQUEST_LEN; ++n) {
    p = dup_bytes (b.data, n);
    ck_assert_int_eq (wire_dec_request (p, n, &rq), WIRE_SHORT);
    free (p);
  }

  wire_buf_reset (&b);
  wire_enc_simple_reply (&b, 0, 0);
  for (n = 0; n < WIRE_SIMPLE_REPLY_LEN; ++n) {
    p = dup_bytes (b.data, n);
    need = 0;
    ck_assert_int_eq (wire_dec_reply_hdr (p, n, &rp, &need, 0), WIRE_SHORT);
    ck_assert_uint_eq (need, n < 4 ? 4 : WIRE_SIMPLE_REPLY_LEN);
    free (p);
  }

  wire_buf_reset (&b);
  wire_enc_chunk (&b, 0, 0, 0, NULL, 0);
  for (n = 0; n < WIRE_CHUNK_HDR_LEN; ++n) {
    p = dup_bytes (b.data, n);
    need = 0;
    ck_assert_int_eq (wire_dec_reply_hdr (p, n, &rp, &need, 0), WIRE_SHORT);
    ck_assert_uint_eq (need, n < 4 ? 4 : WIRE_CHUNK_HDR_LEN);
    free (p);
  }
  /* need may be NULL. */
  ck_assert_int_eq (wire_dec_reply_hdr (b.data, 5, &rp, NULL, 0), WIRE_SHORT);

  wire_buf_free (&b);
}
END_TEST

/* Truncating a payload whose inner lengths fix its size never gives
 * WIRE_OK.
 */
START_TEST (truncated_payloads)
{
  const char *q[] = { "base:allocation", "x" };
  const uint16_t infos[] = { 1, 3 };
  struct wire_buf b;
  struct wire_meta_req m;
  struct wire_info_req ir;
  struct wire_extent ext[4];
  struct wire_str msg;
  struct pb pb;
  uint8_t *p;
  uint32_t plen, n, id, err;
  uint64_t off;
  size_t next;

  wire_buf_init (&b);
  wire_enc_opt_meta (&b, NBD_OPT_SET_META_CONTEXT, "exp", q, 2);
  plen = b.len - WIRE_OPT_REQ_HDR_LEN;
  for (n = 0; n < plen; ++n) {
    p = dup_bytes (b.data + WIRE_OPT_REQ_HDR_LEN, n);
    ck_assert_int_eq (wire_dec_opt_meta (p, n, &m), WIRE_EMALFORMED);
    free (p);
  }
  wire_buf_reset (&b);
  wire_enc_opt_info (&b, NBD_OPT_GO, "exp", infos, 2);
  plen = b.len - WIRE_OPT_REQ_HDR_LEN;
  for (n = 0; n < plen; ++n) {
    p = dup_bytes (b.data + WIRE_OPT_REQ_HDR_LEN, n);
    ck_assert_int_eq (wire_dec_opt_info (p, n, &ir), WIRE_EMALFORMED);
    free (p);
  }
  wire_buf_free (&b);

  /* BLOCK_STATUS: only 4+8n (n >= 1) lengths are accepted. */
  pb.n = 0;
  pb_u32 (&pb, 1);
  for (n = 0; n < 4; ++n) {
    pb_u32 (&pb, 512);
    pb_u32 (&pb, 1);
  }
  for (n = 0; n <= pb.n; ++n) {
    int r;

    p = dup_bytes (pb.d, n);
    r = wire_dec_chunk_block_status (p, n, &id, ext, 4, &next);
    if (n >= 12 && (n - 4) % 8 == 0) {
      ck_assert_int_eq (r, WIRE_OK);
      ck_assert_uint_eq (next, (n - 4) / 8);
    }
    else
      ck_assert_int_eq (r, WIRE_EMALFORMED);
    free (p);
  }

  /* ERROR_OFFSET truncated anywhere. */
  pb.n = 0;
  pb_u32 (&pb, NBD_EIO);
  pb_u16 (&pb, 3);
  pb_str (&pb, "abc");
  pb_u64 (&pb, 1);
  for (n = 0; n < pb.n; ++n) {
    p = dup_bytes (pb.d, n);
    ck_assert_int_eq (wire_dec_chunk_error (p, n, NBD_REPLY_TYPE_ERROR_OFFSET,
                                            &err, &msg, &off),
                      WIRE_EMALFORMED);
    free (p);
  }
  /* ERROR truncated inside the message. */
  for (n = 0; n < 9; ++n) {
    p = dup_bytes (pb.d, n);
    ck_assert_int_eq (wire_dec_chunk_error (p, n, NBD_REPLY_TYPE_ERROR,
                                            &err, &msg, &off),
                      WIRE_EMALFORMED);
    free (p);
  }
}
END_TEST

/* --- oversized lengths: WIRE_ETOOBIG --------------------------------- */

START_TEST (toobig)
{
  struct wire_buf b;
  struct wire_opt_reply orp;
  struct wire_opt_req orq;
  struct wire_reply rp;
  struct wire_meta_req m;
  struct wire_info_req ir;
  struct wire_info info;
  struct wire_str name, desc, msg;
  struct wire_extent ext[1];
  struct pb pb;
  uint32_t id, err;
  uint64_t off;
  size_t need, n;

  wire_buf_init (&b);

  /* Option reply header announcing more than max_payload. */
  wire_enc_opt_reply (&b, NBD_OPT_GO, NBD_REP_INFO, NULL, 0xffffffff);
  ck_assert_int_eq (wire_dec_opt_reply_hdr (b.data, b.len, &orp,
                                            WIRE_MAX_OPT_PAYLOAD),
                    WIRE_ETOOBIG);
  wire_buf_reset (&b);
  wire_enc_opt_reply (&b, NBD_OPT_GO, NBD_REP_INFO, NULL,
                      WIRE_MAX_OPT_PAYLOAD + 1);
  ck_assert_int_eq (wire_dec_opt_reply_hdr (b.data, b.len, &orp,
                                            WIRE_MAX_OPT_PAYLOAD),
                    WIRE_ETOOBIG);
  ck_assert_int_eq (wire_dec_opt_reply_hdr (b.data, b.len, &orp,
                                            WIRE_MAX_OPT_PAYLOAD + 1),
                    WIRE_OK);

  wire_buf_reset (&b);
  wire_enc_option (&b, NBD_OPT_GO, NULL, 0x7fffffff);
  ck_assert_int_eq (wire_dec_opt_req_hdr (b.data, b.len, &orq,
                                          WIRE_MAX_OPT_PAYLOAD),
                    WIRE_ETOOBIG);

  wire_buf_reset (&b);
  wire_enc_chunk (&b, 0, NBD_REPLY_TYPE_OFFSET_DATA, 1, NULL,
                  WIRE_MAX_REPLY_PAYLOAD + 1);
  ck_assert_int_eq (wire_dec_reply_hdr (b.data, b.len, &rp, &need,
                                        WIRE_MAX_REPLY_PAYLOAD),
                    WIRE_ETOOBIG);
  wire_buf_free (&b);

  /* Strings longer than WIRE_MAX_STRING (but inside the payload). */
  pb.n = 0;
  pb_u32 (&pb, 1);
  pb_fill (&pb, 'm', WIRE_MAX_STRING);
  ck_assert_int_eq (wire_dec_rep_meta_context (pb.d, pb.n, &id, &name),
                    WIRE_OK);
  pb_fill (&pb, 'm', 1);
  ck_assert_int_eq (wire_dec_rep_meta_context (pb.d, pb.n, &id, &name),
                    WIRE_ETOOBIG);

  pb.n = 0;
  pb_u32 (&pb, WIRE_MAX_STRING + 1);
  pb_fill (&pb, 'n', WIRE_MAX_STRING + 1);
  ck_assert_int_eq (wire_dec_rep_server (pb.d, pb.n, &name, &desc),
                    WIRE_ETOOBIG);
  pb.n = 0;
  pb_u32 (&pb, 1);
  pb_fill (&pb, 'n', 1 + WIRE_MAX_STRING + 1);   /* long description */
  ck_assert_int_eq (wire_dec_rep_server (pb.d, pb.n, &name, &desc),
                    WIRE_ETOOBIG);

  pb.n = 0;
  pb_u16 (&pb, NBD_INFO_NAME);
  pb_fill (&pb, 'n', WIRE_MAX_STRING + 1);
  ck_assert_int_eq (wire_dec_rep_info (pb.d, pb.n, &info), WIRE_ETOOBIG);
  pb.d[1] = NBD_INFO_DESCRIPTION;
  ck_assert_int_eq (wire_dec_rep_info (pb.d, pb.n, &info), WIRE_ETOOBIG);
  ck_assert_int_eq (wire_dec_rep_error (pb.d, WIRE_MAX_STRING + 1, &msg),
                    WIRE_ETOOBIG);

  /* opt_meta: long export name, long query, too many queries. */
  pb.n = 0;
  pb_u32 (&pb, WIRE_MAX_STRING + 1);
  pb_fill (&pb, 'e', WIRE_MAX_STRING + 1);
  pb_u32 (&pb, 0);
  ck_assert_int_eq (wire_dec_opt_meta (pb.d, pb.n, &m), WIRE_ETOOBIG);
  pb.n = 0;
  pb_u32 (&pb, 0);
  pb_u32 (&pb, 1);
  pb_u32 (&pb, WIRE_MAX_STRING + 1);
  pb_fill (&pb, 'q', WIRE_MAX_STRING + 1);
  ck_assert_int_eq (wire_dec_opt_meta (pb.d, pb.n, &m), WIRE_ETOOBIG);
  pb.n = 0;
  pb_u32 (&pb, 0);
  pb_u32 (&pb, WIRE_MAX_QUERIES + 1);
  for (n = 0; n < WIRE_MAX_QUERIES + 1; ++n)
    pb_u32 (&pb, 0);
  ck_assert_int_eq (wire_dec_opt_meta (pb.d, pb.n, &m), WIRE_ETOOBIG);
  /* ... and exactly the maximum is fine. */
  pb.n = 0;
  pb_u32 (&pb, 0);
  pb_u32 (&pb, WIRE_MAX_QUERIES);
  for (n = 0; n < WIRE_MAX_QUERIES; ++n)
    pb_u32 (&pb, 0);
  ck_assert_int_eq (wire_dec_opt_meta (pb.d, pb.n, &m), WIRE_OK);
  ck_assert_uint_eq (m.nq, WIRE_MAX_QUERIES);
  pb.n = 0;
  pb_u32 (&pb, 0);
  pb_u32 (&pb, UINT32_MAX);
  ck_assert_int_eq (wire_dec_opt_meta (pb.d, pb.n, &m), WIRE_ETOOBIG);

  /* opt_info: more than 64 info requests. */
  pb.n = 0;
  pb_u32 (&pb, 0);
  pb_u16 (&pb, 65);
  for (n = 0; n < 65; ++n)
    pb_u16 (&pb, 0);
  ck_assert_int_eq (wire_dec_opt_info (pb.d, pb.n, &ir), WIRE_ETOOBIG);
  pb.n = 0;
  pb_u32 (&pb, 0);
  pb_u16 (&pb, 64);
  for (n = 0; n < 64; ++n)
    pb_u16 (&pb, n);
  ck_assert_int_eq (wire_dec_opt_info (pb.d, pb.n, &ir), WIRE_OK);
  ck_assert_uint_eq (ir.ninfo, 64);
  ck_assert_uint_eq (ir.infos[63], 63);

  /* Block status with more extents than the caller's array. */
  pb.n = 0;
  pb_u32 (&pb, 1);
  pb_u32 (&pb, 1); pb_u32 (&pb, 0);
  pb_u32 (&pb, 1); pb_u32 (&pb, 0);
  ck_assert_int_eq (wire_dec_chunk_block_status (pb.d, pb.n, &id, ext, 1,
                                                 &need), WIRE_ETOOBIG);
  ck_assert_int_eq (wire_dec_chunk_block_status (pb.d, pb.n, &id, NULL, 0,
                                                 &need), WIRE_ETOOBIG);

  /* Error chunk message over 4096 bytes (but inside the payload). */
  pb.n = 0;
  pb_u32 (&pb, NBD_EIO);
  pb_u16 (&pb, WIRE_MAX_STRING + 1);
  pb_fill (&pb, 'x', WIRE_MAX_STRING + 1);
  ck_assert_int_eq (wire_dec_chunk_error (pb.d, pb.n, NBD_REPLY_TYPE_ERROR,
                                          &err, &msg, &off), WIRE_ETOOBIG);
}
END_TEST

/* --- inconsistent inner lengths: WIRE_EMALFORMED --------------------- */

START_TEST (malformed)
{
  static const struct {
    uint16_t type;
    size_t len;
    int want;
  } info_len[] = {
    { NBD_INFO_EXPORT, 12, WIRE_OK },
    { NBD_INFO_EXPORT, 11, WIRE_EMALFORMED },
    { NBD_INFO_EXPORT, 13, WIRE_EMALFORMED },
    { NBD_INFO_EXPORT, 14, WIRE_EMALFORMED },
    { NBD_INFO_BLOCK_SIZE, 14, WIRE_OK },
    { NBD_INFO_BLOCK_SIZE, 13, WIRE_EMALFORMED },
    { NBD_INFO_BLOCK_SIZE, 15, WIRE_EMALFORMED },
    { NBD_INFO_BLOCK_SIZE, 2, WIRE_EMALFORMED },
  };
  /* Export name length, number of queries, query length, then the
   * bytes that follow.
   */
  static const struct {
    const char *what;
    uint32_t words[3];
    size_t nwords;
    const char *tail;
  } bad_meta[] = {
    { "export name past the payload", { 100 }, 1, "abc" },
    { "query past the payload", { 0, 1, 10 }, 3, "base:" },
    { "more queries than sent", { 0, 3, 1 }, 3, "a" },
    { "trailing garbage", { 0, 1, 1 }, 3, "ab" },
    { "export name of 2^32-1 bytes", { UINT32_MAX, 0 }, 2, "" },
  };
  struct wire_meta_req m;
  struct wire_info_req ir;
  struct wire_info info;
  struct wire_str name, desc, msg;
  struct wire_extent ext[8];
  struct pb pb;
  const uint8_t *data;
  uint32_t id, err, dlen, hole;
  uint64_t off;
  size_t i, n;

  /* META_CONTEXT reply shorter than its id. */
  pb.n = 0;
  pb_u32 (&pb, 1);
  ck_assert_int_eq (wire_dec_rep_meta_context (pb.d, 0, &id, &name),
                    WIRE_EMALFORMED);
  ck_assert_int_eq (wire_dec_rep_meta_context (pb.d, 3, &id, &name),
                    WIRE_EMALFORMED);

  /* REP_SERVER name length running past the payload. */
  pb.n = 0;
  pb_u32 (&pb, 5);
  pb_str (&pb, "abcd");
  ck_assert_int_eq (wire_dec_rep_server (pb.d, pb.n, &name, &desc),
                    WIRE_EMALFORMED);
  pb.n = 0;
  pb_u32 (&pb, UINT32_MAX);
  ck_assert_int_eq (wire_dec_rep_server (pb.d, pb.n, &name, &desc),
                    WIRE_EMALFORMED);
  ck_assert_int_eq (wire_dec_rep_server (pb.d, 3, &name, &desc),
                    WIRE_EMALFORMED);

  /* NBD_REP_INFO with wrong sizes. */
  ck_assert_int_eq (wire_dec_rep_info (pb.d, 0, &info), WIRE_EMALFORMED);
  ck_assert_int_eq (wire_dec_rep_info (pb.d, 1, &info), WIRE_EMALFORMED);
  /* NBD_INFO_EXPORT is 12 bytes, NBD_INFO_BLOCK_SIZE 14: any other
   * length of the same bytes is malformed.
   */
  for (i = 0; i < ARRAY_SIZE (info_len); ++i) {
    pb.n = 0;
    pb_u16 (&pb, info_len[i].type);
    pb_fill (&pb, 0, 14);
    if (info_len[i].type == NBD_INFO_EXPORT) {
      pb.d[9] = 1;              /* size 1 */
      pb.d[11] = 1;             /* flags 1 */
    }
    ck_assert_msg (wire_dec_rep_info (pb.d, info_len[i].len, &info) ==
                   info_len[i].want, "NBD_REP_INFO %s, %zu bytes",
                   wire_info_name (info_len[i].type), info_len[i].len);
  }

  /* opt_meta, every case malformed. */
  for (i = 0; i < ARRAY_SIZE (bad_meta); ++i) {
    size_t j;

    pb.n = 0;
    for (j = 0; j < bad_meta[i].nwords; ++j)
      pb_u32 (&pb, bad_meta[i].words[j]);
    pb_str (&pb, bad_meta[i].tail);
    ck_assert_msg (wire_dec_opt_meta (pb.d, pb.n, &m) == WIRE_EMALFORMED,
                   "opt_meta: %s", bad_meta[i].what);
  }

  /* opt_info: count disagreeing with the payload. */
  pb.n = 0;
  pb_u32 (&pb, 0);
  pb_u16 (&pb, 2);
  pb_u16 (&pb, 0);
  ck_assert_int_eq (wire_dec_opt_info (pb.d, pb.n, &ir), WIRE_EMALFORMED);
  pb_u16 (&pb, 0);
  ck_assert_int_eq (wire_dec_opt_info (pb.d, pb.n, &ir), WIRE_OK);
  pb_u16 (&pb, 0);
  ck_assert_int_eq (wire_dec_opt_info (pb.d, pb.n, &ir), WIRE_EMALFORMED);
  pb.n = 0;
  pb_u32 (&pb, 0xfffffffa);
  pb_u16 (&pb, 0);
  ck_assert_int_eq (wire_dec_opt_info (pb.d, pb.n, &ir), WIRE_EMALFORMED);

  /* BLOCK_STATUS: not 4+8n, no extents. */
  pb.n = 0;
  pb_u32 (&pb, 1);
  ck_assert_int_eq (wire_dec_chunk_block_status (pb.d, pb.n, &id, ext, 8, &n),
                    WIRE_EMALFORMED);
  pb_u32 (&pb, 512);
  pb_u32 (&pb, 0);
  pb_u16 (&pb, 0);
  ck_assert_int_eq (wire_dec_chunk_block_status (pb.d, pb.n, &id, ext, 8, &n),
                    WIRE_EMALFORMED);
  ck_assert_int_eq (wire_dec_chunk_block_status (pb.d, 0, &id, ext, 8, &n),
                    WIRE_EMALFORMED);

  /* ERROR: message length past the payload; zero error. */
  pb.n = 0;
  pb_u32 (&pb, NBD_EIO);
  pb_u16 (&pb, 4);
  pb_str (&pb, "abc");
  ck_assert_int_eq (wire_dec_chunk_error (pb.d, pb.n, NBD_REPLY_TYPE_ERROR,
                                          &err, &msg, &off), WIRE_EMALFORMED);
  pb.n = 0;
  pb_u32 (&pb, NBD_EIO);
  pb_u16 (&pb, 0xffff);
  ck_assert_int_eq (wire_dec_chunk_error (pb.d, pb.n, NBD_REPLY_TYPE_ERROR,
                                          &err, &msg, &off), WIRE_EMALFORMED);
  pb.n = 0;
  pb_u32 (&pb, 0);
  pb_u16 (&pb, 0);
  ck_assert_int_eq (wire_dec_chunk_error (pb.d, pb.n, NBD_REPLY_TYPE_ERROR,
                                          &err, &msg, &off), WIRE_EMALFORMED);
  /* ERROR_OFFSET: the message eats into the offset. */
  pb.n = 0;
  pb_u32 (&pb, NBD_EIO);
  pb_u16 (&pb, 3);
  pb_str (&pb, "abc");
  pb_u32 (&pb, 0);
  pb_u32 (&pb, 0);
  ck_assert_int_eq (wire_dec_chunk_error (pb.d, pb.n,
                                          NBD_REPLY_TYPE_ERROR_OFFSET,
                                          &err, &msg, &off), WIRE_OK);
  pb.d[5] = 4;
  ck_assert_int_eq (wire_dec_chunk_error (pb.d, pb.n,
                                          NBD_REPLY_TYPE_ERROR_OFFSET,
                                          &err, &msg, &off), WIRE_EMALFORMED);
  /* Not an error type at all. */
  ck_assert_int_eq (wire_dec_chunk_error (pb.d, pb.n,
                                          NBD_REPLY_TYPE_BLOCK_STATUS,
                                          &err, &msg, &off), WIRE_EUNKNOWN);

  /* OFFSET_DATA needs at least one byte of data; OFFSET_HOLE is
   * exactly 12 bytes with a nonzero size.
   */
  pb.n = 0;
  pb_u64 (&pb, 0);
  pb_u32 (&pb, 0);
  pb_u32 (&pb, 1);
  ck_assert_int_eq (wire_dec_chunk_offset_data (pb.d, 8, &off, &data, &dlen),
                    WIRE_EMALFORMED);
  ck_assert_int_eq (wire_dec_chunk_offset_data (pb.d, 0, &off, &data, &dlen),
                    WIRE_EMALFORMED);
  ck_assert_int_eq (wire_dec_chunk_offset_data (pb.d, 9, &off, &data, &dlen),
                    WIRE_OK);
  ck_assert_int_eq (wire_dec_chunk_offset_hole (pb.d, 12, &off, &hole),
                    WIRE_EMALFORMED);           /* zero hole */
  ck_assert_int_eq (wire_dec_chunk_offset_hole (pb.d + 4, 12, &off, &hole),
                    WIRE_OK);
  ck_assert_int_eq (wire_dec_chunk_offset_hole (pb.d, 11, &off, &hole),
                    WIRE_EMALFORMED);
  ck_assert_int_eq (wire_dec_chunk_offset_hole (pb.d, 16, &off, &hole),
                    WIRE_EMALFORMED);
}
END_TEST

/* --- bad magics: WIRE_EMAGIC ----------------------------------------- */

START_TEST (bad_magic)
{
  static const uint8_t oldstyle[18] = {
    'N', 'B', 'D', 'M', 'A', 'G', 'I', 'C',
    0x00, 0x00, 0x42, 0x02, 0x81, 0x86, 0x12, 0x53,
  };
  struct wire_buf b;
  struct wire_opt_reply orp;
  struct wire_opt_req orq;
  struct wire_request rq;
  struct wire_reply rp;
  uint16_t h;
  size_t need, i;
  uint8_t *p;

  ck_assert_int_eq (wire_dec_greeting (oldstyle, sizeof oldstyle, &h),
                    WIRE_EMAGIC);
  /* Detected as soon as the bad magic is complete. */
  ck_assert_int_eq (wire_dec_greeting (oldstyle, 16, &h), WIRE_EMAGIC);

  wire_buf_init (&b);
  wire_enc_greeting (&b, 0);
  for (i = 0; i < 16; ++i) {
    p = dup_bytes (b.data, b.len);
    p[i] ^= 0x20;
    ck_assert_int_eq (wire_dec_greeting (p, b.len, &h), WIRE_EMAGIC);
    free (p);
  }

  wire_buf_reset (&b);
  wire_enc_opt_reply (&b, 1, 1, NULL, 0);
  for (i = 0; i < 8; ++i) {
    p = dup_bytes (b.data, b.len);
    p[i] ^= 1;
    ck_assert_int_eq (wire_dec_opt_reply_hdr (p, b.len, &orp, 0),
                      WIRE_EMAGIC);
    free (p);
  }
  /* An option request is not an option reply, and vice versa. */
  wire_buf_reset (&b);
  wire_enc_option (&b, 1, NULL, 0);
  ck_assert_int_eq (wire_dec_opt_reply_hdr (b.data, b.len, &orp, 0),
                    WIRE_EMAGIC);
  for (i = 0; i < 8; ++i) {
    p = dup_bytes (b.data, b.len);
    p[i] ^= 0x80;
    ck_assert_int_eq (wire_dec_opt_req_hdr (p, b.len, &orq, 0), WIRE_EMAGIC);
    free (p);
  }

  wire_buf_reset (&b);
  wire_enc_request (&b, 0, 0, 0, 0, 0);
  for (i = 0; i < 4; ++i) {
    p = dup_bytes (b.data, b.len);
    p[i] ^= 0x10;
    ck_assert_int_eq (wire_dec_request (p, b.len, &rq), WIRE_EMAGIC);
    free (p);
  }
  /* Extended request magic is not a compact request. */
  wire_buf_reset (&b);
  wire_put_u32 (&b, NBD_EXTENDED_REQUEST_MAGIC);
  wire_put_bytes (&b, NULL, 28);
  ck_assert_int_eq (wire_dec_request (b.data, b.len, &rq), WIRE_EMAGIC);

  /* Reply headers: request magic, extended reply magic, junk. */
  wire_buf_reset (&b);
  wire_put_u32 (&b, NBD_REQUEST_MAGIC);
  wire_put_bytes (&b, NULL, 28);
  ck_assert_int_eq (wire_dec_reply_hdr (b.data, 4, &rp, &need, 0),
                    WIRE_EMAGIC);
  wire_buf_reset (&b);
  wire_put_u32 (&b, NBD_EXTENDED_REPLY_MAGIC);
  wire_put_bytes (&b, NULL, 28);
  ck_assert_int_eq (wire_dec_reply_hdr (b.data, b.len, &rp, &need, 0),
                    WIRE_EMAGIC);
  wire_buf_reset (&b);
  wire_put_u32 (&b, 0);
  ck_assert_int_eq (wire_dec_reply_hdr (b.data, b.len, &rp, &need, 0),
                    WIRE_EMAGIC);
  wire_buf_free (&b);
}
END_TEST

/* --- random garbage ---------------------------------------------------- */

/* A small deterministic PRNG (xorshift64*), so that runs repeat. */
static uint64_t rng_state;

static uint32_t
rng (void)
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t) ((rng_state * UINT64_C(2685821657736338717)) >> 32);
}

/* Run every decoder over p[0..len). */
static void
decode_everything (const uint8_t *p, size_t len)
{
  struct wire_opt_reply orp;
  struct wire_opt_req orq;
  struct wire_request rq;
  struct wire_reply rp;
  struct wire_meta_req m;
  struct wire_info_req ir;
  struct wire_info info;
  struct wire_str s1, s2;
  struct wire_extent ext[16];
  const uint8_t *data;
  uint16_t h16;
  uint32_t u32, v32;
  uint64_t u64;
  size_t n;
  int r;

  r = wire_dec_greeting (p, len, &h16);
  ck_assert (r == WIRE_OK || r == WIRE_SHORT || r == WIRE_EMAGIC);
  r = wire_dec_opt_reply_hdr (p, len, &orp, WIRE_MAX_OPT_PAYLOAD);
  ck_assert (r == WIRE_OK || r == WIRE_SHORT || r == WIRE_EMAGIC ||
             r == WIRE_ETOOBIG);
  if (r == WIRE_OK)
    ck_assert_uint_le (orp.len, WIRE_MAX_OPT_PAYLOAD);
  r = wire_dec_opt_req_hdr (p, len, &orq, WIRE_MAX_OPT_PAYLOAD);
  if (r == WIRE_OK)
    ck_assert_uint_le (orq.len, WIRE_MAX_OPT_PAYLOAD);
  wire_dec_export_name_reply (p, len, &u64, &h16);
  wire_dec_client_flags (p, len, &u32);
  wire_dec_request (p, len, &rq);
  r = wire_dec_reply_hdr (p, len, &rp, &n, WIRE_MAX_REPLY_PAYLOAD);
  if (r == WIRE_SHORT)
    ck_assert_uint_gt (n, len);

  r = wire_dec_rep_meta_context (p, len, &u32, &s1);
  if (r == WIRE_OK)
    ck_assert (s1.len == 0 || (const uint8_t *) s1.ptr + s1.len == p + len);
  r = wire_dec_rep_server (p, len, &s1, &s2);
  if (r == WIRE_OK)
    ck_assert_uint_eq ((uint64_t) 4 + s1.len + s2.len, len);
  wire_dec_rep_info (p, len, &info);
  wire_dec_rep_error (p, len, &s1);
  r = wire_dec_opt_meta (p, len, &m);
  if (r == WIRE_OK) {
    ck_assert_uint_le (m.nq, WIRE_MAX_QUERIES);
    for (n = 0; n < m.nq; ++n)
      ck_assert (m.queries[n].len == 0 ||
                 ((const uint8_t *) m.queries[n].ptr >= p &&
                  (const uint8_t *) m.queries[n].ptr + m.queries[n].len
                  <= p + len));
  }
  r = wire_dec_opt_info (p, len, &ir);
  if (r == WIRE_OK)
    ck_assert_uint_le (ir.ninfo, 64);
  r = wire_dec_chunk_block_status (p, len, &u32, ext, 16, &n);
  if (r == WIRE_OK)
    ck_assert (n >= 1 && n <= 16 && 4 + 8 * n == len);
  r = wire_dec_chunk_error (p, len, NBD_REPLY_TYPE_ERROR, &u32, &s1, &u64);
  if (r == WIRE_OK)
    ck_assert_uint_le ((uint64_t) 6 + s1.len, len);
  r = wire_dec_chunk_error (p, len, NBD_REPLY_TYPE_ERROR_OFFSET, &u32, &s1,
                            &u64);
  if (r == WIRE_OK)
    ck_assert_uint_le ((uint64_t) 14 + s1.len, len);
  wire_dec_chunk_offset_data (p, len, &u64, &data, &v32);
  wire_dec_chunk_offset_hole (p, len, &u64, &v32);
}

START_TEST (random_garbage)
{
  struct wire_buf seeds[8];
  const char *q[] = { "base:allocation" };
  const uint16_t infos[] = { 3 };
  int iter;
  size_t i;

  rng_state = UINT64_C(0x7115c0de5eed1234);

  /* Pure noise, at every small length. */
  for (iter = 0; iter < 20000; ++iter) {
    size_t len = rng () % 64;
    uint8_t *p = malloc (len ? len : 1);

    ck_assert_ptr_nonnull (p);
    for (i = 0; i < len; ++i)
      p[i] = rng ();
    /* Sometimes plant a real magic so that decoding gets further. */
    if (len >= 8 && rng () % 2) {
      static const uint64_t m8[] = { NBD_MAGIC, NBD_IHAVEOPT, NBD_REP_MAGIC };
      uint64_t m = m8[rng () % 3];
      for (i = 0; i < 8; ++i)
        p[i] = m >> (56 - 8 * i);
    }
    else if (len >= 4 && rng () % 2) {
      static const uint32_t m4[] = {
        NBD_REQUEST_MAGIC, NBD_SIMPLE_REPLY_MAGIC, NBD_STRUCTURED_REPLY_MAGIC,
      };
      uint32_t m = m4[rng () % 3];
      for (i = 0; i < 4; ++i)
        p[i] = m >> (24 - 8 * i);
    }
    decode_everything (p, len);
    free (p);
  }

  /* Mutations of valid messages (bit flips, small inner lengths). */
  for (i = 0; i < ARRAY_SIZE (seeds); ++i)
    wire_buf_init (&seeds[i]);
  wire_enc_opt_meta (&seeds[0], NBD_OPT_SET_META_CONTEXT, "exp", q, 1);
  wire_enc_opt_info (&seeds[1], NBD_OPT_GO, "exp", infos, 1);
  wire_enc_rep_meta_context (&seeds[2], NBD_OPT_SET_META_CONTEXT, 1, "ctx");
  wire_enc_rep_server (&seeds[3], "name", "desc");
  wire_enc_rep_info_export (&seeds[4], NBD_OPT_GO, 1, 1);
  wire_enc_chunk (&seeds[5], 1, NBD_REPLY_TYPE_BLOCK_STATUS, 1,
                  "\0\0\0\1\0\0\2\0\0\0\0\3\0\0\2\0\0\0\0\0", 20);
  wire_enc_chunk (&seeds[6], 1, NBD_REPLY_TYPE_ERROR_OFFSET, 1,
                  "\0\0\0\5\0\2hi\0\0\0\0\0\0\0\7", 16);
  wire_enc_request (&seeds[7], 0, NBD_CMD_READ, 1, 2, 3);

  for (iter = 0; iter < 20000; ++iter) {
    const struct wire_buf *s = &seeds[rng () % ARRAY_SIZE (seeds)];
    size_t skip = rng () % 2 ? 0 : (s->len > 20 ? 20 : 16);
    size_t len, flips;
    uint8_t *p;

    if (skip > s->len)
      skip = 0;
    len = s->len - skip;
    if (rng () % 4 == 0 && len > 0)
      len = rng () % len;              /* truncate */
    p = dup_bytes (s->data + skip, len);
    for (flips = rng () % 4; flips > 0 && len > 0; --flips) {
      size_t at = rng () % len;
      if (rng () % 2)
        p[at] ^= 1u << (rng () % 8);
      else
        p[at] = rng () % 8;            /* small values hit the bounds */
    }
    decode_everything (p, len);
    free (p);
  }

  for (i = 0; i < ARRAY_SIZE (seeds); ++i)
    wire_buf_free (&seeds[i]);
}
END_TEST

static const struct tap_row wire_tests[] = {
  TAP_CASE ("names"),
  TAP_TEST (names_known),
  TAP_TEST (names_round_trip),
  TAP_TEST (names_unknown_and_case),
  TAP_TEST (status_names),
  TAP_CASE ("layout"),
  TAP_TEST (buf_put_get),
  TAP_TEST (layout_option_request),
  TAP_TEST (layout_opt_meta_and_info),
  TAP_TEST (layout_option_reply),
  TAP_TEST (layout_meta_context_reply),
  TAP_TEST (layout_info_export_reply),
  TAP_TEST (layout_request_and_simple_reply),
  TAP_TEST (layout_chunks),
  TAP_CASE ("round-trip"),
  TAP_TEST (rt_handshake),
  TAP_TEST (rt_option_requests),
  TAP_TEST (rt_option_replies),
  TAP_TEST (rt_transmission),
  TAP_TEST (rt_chunk_payloads),
  TAP_CASE ("hostile", .timeout = 60), /* slow under valgrind */
  TAP_TEST (short_fixed_headers),
  TAP_TEST (truncated_payloads),
  TAP_TEST (toobig),
  TAP_TEST (malformed),
  TAP_TEST (bad_magic),
  TAP_TEST (random_garbage),
};

TAP_MAIN ("wire", wire_tests)
