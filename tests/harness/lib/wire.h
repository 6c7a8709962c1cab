/* tlsguard test harness: NBD wire codec.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Pure code: no I/O, no global state.  Encoders append to a growable
 * buffer, which cannot fail (out of memory exits, see error.h).
 * Decoders read a byte span whose length the caller knows, check every
 * length against its bounds, and never trust a length sent by the
 * peer: a decoder either fills its output and returns WIRE_OK,
 * asks for more bytes (WIRE_SHORT, with *need set where the function
 * has a need argument), or returns a negative wire_status.  Strings
 * decoded from the wire are returned as (pointer, length) into the
 * caller's span; they are not NUL-terminated.
 *
 * All multi-byte integers on the wire are big-endian.
 */

#ifndef TLSGUARD_WIRE_H
#define TLSGUARD_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- constants (the spec's "Values" section) ---------------------- */

#define NBD_MAGIC                   UINT64_C(0x4e42444d41474943) /* NBDMAGIC */
#define NBD_OLD_MAGIC               UINT64_C(0x00420281861253)
#define NBD_IHAVEOPT                UINT64_C(0x49484156454F5054) /* IHAVEOPT */
#define NBD_REP_MAGIC               UINT64_C(0x3e889045565a9)
#define NBD_REQUEST_MAGIC           UINT32_C(0x25609513)
#define NBD_EXTENDED_REQUEST_MAGIC  UINT32_C(0x21e41c71)
#define NBD_SIMPLE_REPLY_MAGIC      UINT32_C(0x67446698)
#define NBD_STRUCTURED_REPLY_MAGIC  UINT32_C(0x668e33ef)
#define NBD_EXTENDED_REPLY_MAGIC    UINT32_C(0x6e8a278c)

/* Handshake flags (server) and client flags. */
#define NBD_FLAG_FIXED_NEWSTYLE     (1u << 0)
#define NBD_FLAG_NO_ZEROES          (1u << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE   (1u << 0)
#define NBD_FLAG_C_NO_ZEROES        (1u << 1)

/* Options. */
#define NBD_OPT_EXPORT_NAME         1
#define NBD_OPT_ABORT               2
#define NBD_OPT_LIST                3
#define NBD_OPT_PEEK_EXPORT         4
#define NBD_OPT_STARTTLS            5
#define NBD_OPT_INFO                6
#define NBD_OPT_GO                  7
#define NBD_OPT_STRUCTURED_REPLY    8
#define NBD_OPT_LIST_META_CONTEXT   9
#define NBD_OPT_SET_META_CONTEXT    10
#define NBD_OPT_EXTENDED_HEADERS    11

/* Option reply types. */
#define NBD_REP_ACK                 1
#define NBD_REP_SERVER              2
#define NBD_REP_INFO                3
#define NBD_REP_META_CONTEXT        4
#define NBD_REP_FLAG_ERROR          (UINT32_C(1) << 31)
#define NBD_REP_ERR_UNSUP           (NBD_REP_FLAG_ERROR + 1)
#define NBD_REP_ERR_POLICY          (NBD_REP_FLAG_ERROR + 2)
#define NBD_REP_ERR_INVALID         (NBD_REP_FLAG_ERROR + 3)
#define NBD_REP_ERR_PLATFORM        (NBD_REP_FLAG_ERROR + 4)
#define NBD_REP_ERR_TLS_REQD        (NBD_REP_FLAG_ERROR + 5)
#define NBD_REP_ERR_UNKNOWN         (NBD_REP_FLAG_ERROR + 6)
#define NBD_REP_ERR_SHUTDOWN        (NBD_REP_FLAG_ERROR + 7)
#define NBD_REP_ERR_BLOCK_SIZE_REQD (NBD_REP_FLAG_ERROR + 8)
#define NBD_REP_ERR_TOO_BIG         (NBD_REP_FLAG_ERROR + 9)
#define NBD_REP_ERR_EXT_HEADER_REQD (NBD_REP_FLAG_ERROR + 10)

/* NBD_REP_INFO types. */
#define NBD_INFO_EXPORT             0
#define NBD_INFO_NAME               1
#define NBD_INFO_DESCRIPTION        2
#define NBD_INFO_BLOCK_SIZE         3

/* Transmission flags. */
#define NBD_FLAG_HAS_FLAGS          (1u << 0)
#define NBD_FLAG_READ_ONLY          (1u << 1)
#define NBD_FLAG_SEND_FLUSH         (1u << 2)
#define NBD_FLAG_SEND_FUA           (1u << 3)
#define NBD_FLAG_ROTATIONAL         (1u << 4)
#define NBD_FLAG_SEND_TRIM          (1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES  (1u << 6)
#define NBD_FLAG_SEND_DF            (1u << 7)
#define NBD_FLAG_CAN_MULTI_CONN     (1u << 8)
#define NBD_FLAG_SEND_RESIZE        (1u << 9)
#define NBD_FLAG_SEND_CACHE         (1u << 10)
#define NBD_FLAG_SEND_FAST_ZERO     (1u << 11)

/* Commands and command flags. */
#define NBD_CMD_READ                0
#define NBD_CMD_WRITE               1
#define NBD_CMD_DISC                2
#define NBD_CMD_FLUSH               3
#define NBD_CMD_TRIM                4
#define NBD_CMD_CACHE               5
#define NBD_CMD_WRITE_ZEROES        6
#define NBD_CMD_BLOCK_STATUS        7
#define NBD_CMD_RESIZE              8
#define NBD_CMD_FLAG_FUA            (1u << 0)
#define NBD_CMD_FLAG_NO_HOLE        (1u << 1)
#define NBD_CMD_FLAG_DF             (1u << 2)
#define NBD_CMD_FLAG_REQ_ONE        (1u << 3)
#define NBD_CMD_FLAG_FAST_ZERO      (1u << 4)

/* Structured reply chunk types and flags. */
#define NBD_REPLY_FLAG_DONE         (1u << 0)
#define NBD_REPLY_TYPE_NONE         0
#define NBD_REPLY_TYPE_OFFSET_DATA  1
#define NBD_REPLY_TYPE_OFFSET_HOLE  2
#define NBD_REPLY_TYPE_BLOCK_STATUS 5
#define NBD_REPLY_TYPE_BLOCK_STATUS_EXT 6
#define NBD_REPLY_TYPE_ERROR        ((1u << 15) + 1)
#define NBD_REPLY_TYPE_ERROR_OFFSET ((1u << 15) + 2)

/* NBD error values (transmission). */
#define NBD_EPERM      1
#define NBD_EIO        5
#define NBD_ENOMEM     12
#define NBD_EINVAL     22
#define NBD_ENOSPC     28
#define NBD_EOVERFLOW  75
#define NBD_ENOTSUP    95
#define NBD_ESHUTDOWN  108

/* Bounds.  Strings are at most 4096 bytes (the spec's limit for
 * names, descriptions and queries); option payloads and option reply
 * payloads are capped well below anything a sane peer sends.
 */
#define WIRE_MAX_STRING        4096
#define WIRE_MAX_OPT_PAYLOAD   (64 * 1024)
#define WIRE_MAX_REPLY_PAYLOAD (64 * 1024 * 1024)  /* 64 MiB: data chunks */
#define WIRE_MAX_QUERIES       128
#define WIRE_MAX_EXTENTS       (1024 * 1024)

/* Fixed sizes of headers on the wire. */
#define WIRE_GREETING_LEN      18  /* NBDMAGIC, IHAVEOPT, 16-bit flags */
#define WIRE_OPT_REQ_HDR_LEN   16  /* IHAVEOPT, option, length */
#define WIRE_OPT_REP_HDR_LEN   20  /* magic, option, type, length */
#define WIRE_EXPORT_NAME_REPLY_LEN 10   /* size, flags (+124 zeroes) */
#define WIRE_REQUEST_LEN       28
#define WIRE_SIMPLE_REPLY_LEN  16
#define WIRE_CHUNK_HDR_LEN     20

enum wire_status {
  WIRE_OK = 0,
  WIRE_SHORT = 1,         /* need more bytes */
  WIRE_EMAGIC = -1,       /* bad magic number */
  WIRE_ETOOBIG = -2,      /* a length exceeds its bound */
  WIRE_EMALFORMED = -3,   /* lengths inconsistent with each other */
  WIRE_EUNKNOWN = -4,     /* unknown type where the type fixes the layout */
};
extern const char *wire_status_name (int status);

/* --- names, for diagnostics --------------------------------------- */

/* Each returns a static string such as "NBD_OPT_STARTTLS"; unknown
 * values give "unknown".
 */
extern const char *wire_opt_name (uint32_t opt);
extern const char *wire_rep_name (uint32_t type);
extern const char *wire_info_name (uint16_t info);
extern const char *wire_cmd_name (uint16_t cmd);
extern const char *wire_chunk_name (uint16_t type);
extern const char *wire_errno_name (uint32_t err);  /* "EINVAL", ... */
/* Look up by name (with or without the NBD_OPT_/NBD_REP_/... prefix,
 * also without NBD_REP_ERR_, case-insensitive); -1 if unknown.  Used
 * by the scenario parser.
 */
extern int64_t wire_opt_by_name (const char *name);
extern int64_t wire_rep_by_name (const char *name);
extern int64_t wire_errno_by_name (const char *name);
extern int64_t wire_cmd_by_name (const char *name);
extern int64_t wire_info_by_name (const char *name);

/* --- encoding ------------------------------------------------------ */

struct wire_buf {
  uint8_t *data;
  size_t len, cap;
};
extern void wire_buf_init (struct wire_buf *b);
extern void wire_buf_free (struct wire_buf *b);
extern void wire_buf_reset (struct wire_buf *b);   /* len = 0, keep memory */
/* Raw appends.  They cannot fail and return WIRE_OK, as every encoder
 * does unless it says otherwise.
 */
extern int wire_put_u16 (struct wire_buf *b, uint16_t v);
extern int wire_put_u32 (struct wire_buf *b, uint32_t v);
extern int wire_put_u64 (struct wire_buf *b, uint64_t v);
extern int wire_put_bytes (struct wire_buf *b, const void *p, size_t n);

/* Client side. */
extern int wire_enc_client_flags (struct wire_buf *b, uint32_t cflags);
/* IHAVEOPT, opt, len, data (data may be NULL when len is 0).  len is
 * written as given, so callers can build deliberately wrong options.
 * If data is NULL only the 16-byte header is written, whatever len
 * says (the same holds for wire_enc_opt_reply and wire_enc_chunk).
 * Encoders whose lengths cannot fit their fields return WIRE_ETOOBIG
 * and leave the buffer unchanged.
 */
extern int wire_enc_option (struct wire_buf *b, uint32_t opt,
                            const void *data, uint32_t len);
/* NBD_OPT_SET_META_CONTEXT / NBD_OPT_LIST_META_CONTEXT with an export
 * name and nq queries.
 */
extern int wire_enc_opt_meta (struct wire_buf *b, uint32_t opt,
                              const char *exportname,
                              const char *const *queries, size_t nq);
/* NBD_OPT_INFO / NBD_OPT_GO with an export name and ninfo info requests. */
extern int wire_enc_opt_info (struct wire_buf *b, uint32_t opt,
                              const char *exportname,
                              const uint16_t *infos, size_t ninfo);
/* NBD_OPT_EXPORT_NAME: the payload is the bare name. */
extern int wire_enc_opt_export_name (struct wire_buf *b,
                                     const char *exportname);
/* A transmission request (compact header). */
extern int wire_enc_request (struct wire_buf *b, uint16_t flags,
                             uint16_t type, uint64_t cookie,
                             uint64_t offset, uint32_t length);

/* Server side. */
extern int wire_enc_greeting (struct wire_buf *b, uint16_t hflags);
extern int wire_enc_opt_reply (struct wire_buf *b, uint32_t opt,
                               uint32_t type,
                               const void *data, uint32_t len);
/* NBD_REP_META_CONTEXT: 32-bit id then the name. */
extern int wire_enc_rep_meta_context (struct wire_buf *b, uint32_t opt,
                                      uint32_t id, const char *name);
/* NBD_REP_INFO with NBD_INFO_EXPORT: size and transmission flags. */
extern int wire_enc_rep_info_export (struct wire_buf *b, uint32_t opt,
                                     uint64_t size, uint16_t tflags);
/* NBD_REP_SERVER: name length, name (and an optional description). */
extern int wire_enc_rep_server (struct wire_buf *b, const char *name,
                                const char *description);
/* Reply to NBD_OPT_EXPORT_NAME: size, flags, then 124 zero bytes
 * unless no_zeroes.
 */
extern int wire_enc_export_name_reply (struct wire_buf *b, uint64_t size,
                                       uint16_t tflags, bool no_zeroes);
extern int wire_enc_simple_reply (struct wire_buf *b, uint32_t error,
                                  uint64_t cookie);
/* A structured reply chunk header followed by payload. */
extern int wire_enc_chunk (struct wire_buf *b, uint16_t flags, uint16_t type,
                           uint64_t cookie, const void *payload, uint32_t len);

/* --- decoding ------------------------------------------------------ */

/* Big-endian loads from a span the caller has bounds-checked. */
extern uint16_t wire_get_u16 (const uint8_t *p);
extern uint32_t wire_get_u32 (const uint8_t *p);
extern uint64_t wire_get_u64 (const uint8_t *p);

/* Server greeting (18 bytes: NBDMAGIC, IHAVEOPT, handshake flags).
 * Returns WIRE_EMAGIC for oldstyle servers.
 */
extern int wire_dec_greeting (const uint8_t *p, size_t len,
                              uint16_t *hflags);

/* Option reply header (20 bytes).  Fails with WIRE_ETOOBIG if the
 * announced payload length exceeds max_payload.
 */
struct wire_opt_reply {
  uint32_t opt;
  uint32_t type;
  uint32_t len;
};
extern int wire_dec_opt_reply_hdr (const uint8_t *p, size_t len,
                                   struct wire_opt_reply *r,
                                   uint32_t max_payload);

/* Payloads of option replies.  Each checks that the payload is exactly
 * (or at least, where the spec allows trailing data) what its type
 * requires.
 */
struct wire_str {
  const char *ptr;             /* not NUL-terminated; NULL if len is 0 */
  uint32_t len;
};
/* A NUL-terminated copy (xmalloc, error.h; free it). */
extern char *wire_str_dup (const struct wire_str *s);
extern int wire_dec_rep_meta_context (const uint8_t *payload, uint32_t len,
                                      uint32_t *id, struct wire_str *name);
extern int wire_dec_rep_server (const uint8_t *payload, uint32_t len,
                                struct wire_str *name,
                                struct wire_str *description);
struct wire_info {
  uint16_t type;
  union {
    struct { uint64_t size; uint16_t tflags; } export;     /* NBD_INFO_EXPORT */
    struct wire_str name;                                   /* NBD_INFO_NAME */
    struct wire_str description;                            /* NBD_INFO_DESCRIPTION */
    struct { uint32_t min, pref, max; } block_size;         /* NBD_INFO_BLOCK_SIZE */
  } u;
};
/* Unknown info types give WIRE_OK with only type set (the spec says a
 * client must ignore them).
 */
extern int wire_dec_rep_info (const uint8_t *payload, uint32_t len,
                              struct wire_info *info);
/* An error reply's payload is an optional UTF-8 message. */
extern int wire_dec_rep_error (const uint8_t *payload, uint32_t len,
                               struct wire_str *message);

/* Reply to NBD_OPT_EXPORT_NAME (10 bytes, plus 124 zero bytes unless
 * NO_ZEROES was negotiated; the caller reads those).
 */
extern int wire_dec_export_name_reply (const uint8_t *p, size_t len,
                                       uint64_t *size, uint16_t *tflags);

/* Server side: client flags (4 bytes) and option request header. */
extern int wire_dec_client_flags (const uint8_t *p, size_t len,
                                  uint32_t *cflags);
struct wire_opt_req {
  uint32_t opt;
  uint32_t len;
};
extern int wire_dec_opt_req_hdr (const uint8_t *p, size_t len,
                                 struct wire_opt_req *r,
                                 uint32_t max_payload);
/* Payload of SET_META_CONTEXT / LIST_META_CONTEXT. */
struct wire_meta_req {
  struct wire_str exportname;
  uint32_t nq;
  struct wire_str queries[WIRE_MAX_QUERIES];
};
extern int wire_dec_opt_meta (const uint8_t *payload, uint32_t len,
                              struct wire_meta_req *m);
/* Payload of INFO / GO. */
struct wire_info_req {
  struct wire_str exportname;
  uint16_t ninfo;
  uint16_t infos[64];          /* more than 64 gives WIRE_ETOOBIG */
};
extern int wire_dec_opt_info (const uint8_t *payload, uint32_t len,
                              struct wire_info_req *r);

/* Transmission request (28 bytes). */
struct wire_request {
  uint16_t flags;
  uint16_t type;
  uint64_t cookie;
  uint64_t offset;
  uint32_t length;
};
extern int wire_dec_request (const uint8_t *p, size_t len,
                             struct wire_request *r);

/* Transmission reply header: simple (16 bytes) or structured (20
 * bytes).  Call with at least 4 bytes; returns WIRE_SHORT and sets
 * *need to the header length until the whole header is there.
 * Structured chunks whose length exceeds max_payload give
 * WIRE_ETOOBIG.
 */
struct wire_reply {
  bool structured;
  uint64_t cookie;
  uint32_t error;              /* simple replies */
  uint16_t flags, type;        /* structured chunks */
  uint32_t len;                /* structured chunk payload length */
};
extern int wire_dec_reply_hdr (const uint8_t *p, size_t len,
                               struct wire_reply *r, size_t *need,
                               uint32_t max_payload);

/* Structured chunk payloads. */
struct wire_extent {
  uint32_t length;
  uint32_t flags;
};
/* NBD_REPLY_TYPE_BLOCK_STATUS: context id, then n extents (at least 1;
 * at most max).  The payload length must be 4 + 8n.  More than max
 * extents gives WIRE_ETOOBIG with *n set to the number announced.
 * Zero-length extents are returned as they are (not checked here).
 */
extern int wire_dec_chunk_block_status (const uint8_t *payload, uint32_t len,
                                        uint32_t *context_id,
                                        struct wire_extent *ext, size_t max,
                                        size_t *n);
/* NBD_REPLY_TYPE_ERROR and _ERROR_OFFSET: error, message length,
 * message, and for _ERROR_OFFSET a 64-bit offset.  Any other type with
 * bit 15 set is decoded with the _ERROR layout; types without bit 15
 * give WIRE_EUNKNOWN.  A zero error value gives WIRE_EMALFORMED.
 * offset may be NULL; it is set to 0 for non-_ERROR_OFFSET types.
 */
extern int wire_dec_chunk_error (const uint8_t *payload, uint32_t len,
                                 uint16_t type, uint32_t *error,
                                 struct wire_str *message,
                                 uint64_t *offset);
extern int wire_dec_chunk_offset_data (const uint8_t *payload, uint32_t len,
                                       uint64_t *offset,
                                       const uint8_t **data,
                                       uint32_t *data_len);
/* OFFSET_DATA needs at least 1 data byte; OFFSET_HOLE is exactly 12
 * bytes with a nonzero hole size (else WIRE_EMALFORMED).
 */
extern int wire_dec_chunk_offset_hole (const uint8_t *payload, uint32_t len,
                                       uint64_t *offset, uint32_t *hole_len);

#endif /* TLSGUARD_WIRE_H */
