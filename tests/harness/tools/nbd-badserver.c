/* nbd-badserver: an NBD server for the tests, compliant by default and
 * broken on request.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Without --defect it follows the NBD spec ("Fixed newstyle
 * negotiation", "TLS support", "Metadata querying"): fixed newstyle,
 * NO_ZEROES, the options EXPORT_NAME, ABORT, LIST, STARTTLS, INFO, GO,
 * STRUCTURED_REPLY, LIST_META_CONTEXT and SET_META_CONTEXT (contexts
 * "base:allocation" and "tlsguard:test"), ERR_UNSUP for every
 * other option, and a read-only transmission phase with READ,
 * BLOCK_STATUS and DISC.  A successful STARTTLS drops all negotiation
 * state (structured replies and metadata contexts).  Block status is
 * served only if the last SET_META_CONTEXT selected at least one
 * context for the export later chosen by GO or EXPORT_NAME; otherwise
 * the reply is EINVAL.
 *
 * Each --defect switch breaks one rule, and logs a "defect NAME:" line
 * whenever it changes what the server does:
 *
 *   keep-meta     STARTTLS keeps the metadata contexts selected before
 *                 it, and the export they were selected for.  The
 *                 context ids stay the same.
 *   keep-sr       STARTTLS keeps a plaintext NBD_OPT_STRUCTURED_REPLY.
 *   buffered-plaintext
 *                 Before TLS, options are read with one large read()
 *                 into a buffer instead of exact-length reads.  Bytes
 *                 the client sent in the same write as STARTTLS stay
 *                 in that buffer; after the ACK and the handshake they
 *                 are parsed as the first options of the TLS session,
 *                 and their replies go out over TLS.  (A compliant
 *                 server leaves them in the socket, where they break
 *                 the TLS handshake, as nbdkit does.)
 *   ignore-export-mismatch
 *                 BLOCK_STATUS is served with the contexts of the last
 *                 SET_META_CONTEXT even if it named a different export
 *                 than GO or EXPORT_NAME.
 *   double-starttls
 *                 A STARTTLS over TLS gets NBD_REP_ACK instead of
 *                 NBD_REP_ERR_INVALID; no second handshake happens and
 *                 the server carries on in the existing TLS session,
 *                 with its state unchanged.  A client that then starts
 *                 a handshake inside the session breaks it.
 *   starttls-payload
 *                 A STARTTLS with a payload is acknowledged and the
 *                 connection upgraded, instead of NBD_REP_ERR_INVALID
 *                 (the payload is read and ignored).
 *   serve-tls-only
 *                 The --tls-only-export exports are served in plaintext
 *                 like any other: listed by NBD_OPT_LIST, INFO and GO
 *                 acknowledged, EXPORT_NAME answered.
 *
 * --tls-only-export NAME (with --tls=on) makes NAME a TLS-only export
 * of a SELECTIVETLS server, as the spec's "TLS support" section
 * describes it: before STARTTLS it is left out of NBD_OPT_LIST (the
 * spec's "MAY omit"), NBD_OPT_INFO and NBD_OPT_GO of it get
 * NBD_REP_ERR_TLS_REQD with no NBD_REP_INFO (the spec's "MUST reply
 * with NBD_REP_ERR_TLS_REQD"), and NBD_OPT_EXPORT_NAME of it ends the
 * session ("MUST terminate the session").  After STARTTLS it is an
 * export like the others.  The metadata context options answer for it
 * as for any export: the spec allows NBD_REP_ERR_TLS_REQD for INFO, GO
 * and EXPORT_NAME only, and the selection does not survive STARTTLS.
 *
 * The disk is 1 MiB in memory: two 64 KiB data runs at 0 and 128 KiB,
 * zeroes elsewhere.  base:allocation reports exactly that (flags 0 for
 * data, 3 = HOLE|ZERO for the rest); tlsguard:test reports four
 * 256 KiB extents with flags 0x10, 0x20, 0x30, 0x40, so that data for
 * one context can never be mistaken for the other.
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
  .name = "nbd-badserver",
  .about =
  "An NBD server for the tlsguard tests.  Without --defect it follows the\n"
  "NBD protocol, including the rule that STARTTLS drops all negotiation\n"
  "state.  It serves a read-only 1 MiB disk with metadata contexts\n"
  "base:allocation and tlsguard:test.\n",
};

#define DISK_SIZE          (1024 * 1024)
#define MAX_REQUEST        (32 * 1024 * 1024)
#define NEGOTIATE_TIMEOUT  60000        /* ms, per read while negotiating */
#define HANDSHAKE_TIMEOUT  30000        /* ms, TLS handshake */
#define MAX_OPTIONS        256          /* options per connection */
#define PENDING_SIZE       65536        /* buffered-plaintext read size */
#define TFLAGS             (NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY)

enum tls_mode { TLS_OFF, TLS_ON, TLS_REQUIRE };
static const char *const tls_modes[] = { "off", "on", "require" };

enum defect {
  DEFECT_KEEP_META              = 1 << 0,
  DEFECT_KEEP_SR                = 1 << 1,
  DEFECT_BUFFERED_PLAINTEXT     = 1 << 2,
  DEFECT_IGNORE_EXPORT_MISMATCH = 1 << 3,
  DEFECT_DOUBLE_STARTTLS        = 1 << 4,
  DEFECT_STARTTLS_PAYLOAD       = 1 << 5,
  DEFECT_SERVE_TLS_ONLY         = 1 << 6,
};

static const struct {
  const char *name;
  unsigned bit;
  const char *help;
} defects[] = {
  { "keep-meta", DEFECT_KEEP_META,
    "keep metadata contexts (and their export)\n"
    "across STARTTLS" },
  { "keep-sr", DEFECT_KEEP_SR,
    "keep structured replies across STARTTLS" },
  { "buffered-plaintext", DEFECT_BUFFERED_PLAINTEXT,
    "read plaintext in large reads, and after STARTTLS\n"
    "process what was read with it as if it had come\n"
    "over TLS" },
  { "ignore-export-mismatch", DEFECT_IGNORE_EXPORT_MISMATCH,
    "serve block status even if SET_META_CONTEXT\n"
    "named another export" },
  { "double-starttls", DEFECT_DOUBLE_STARTTLS,
    "ACK a second STARTTLS and carry on in the\n"
    "existing TLS session (no new handshake, state kept)" },
  { "starttls-payload", DEFECT_STARTTLS_PAYLOAD,
    "ignore a payload sent with STARTTLS (ACK and\n"
    "upgrade)" },
  { "serve-tls-only", DEFECT_SERVE_TLS_ONLY,
    "list and serve the --tls-only-export exports in\n"
    "plaintext" },
};
#define NR_DEFECTS (sizeof defects / sizeof defects[0])

/* Metadata contexts. */
struct extent_def {
  uint32_t start, length, flags;
};
static const struct extent_def alloc_map[] = {
  { 0,      65536,  0 },
  { 65536,  65536,  3 },
  { 131072, 65536,  0 },
  { 196608, 851968, 3 },
};
static const struct extent_def test_map[] = {
  { 0,      262144, 0x10 },
  { 262144, 262144, 0x20 },
  { 524288, 262144, 0x30 },
  { 786432, 262144, 0x40 },
};
static const struct {
  const char *name;
  const struct extent_def *map;
  size_t n;
} contexts[] = {
  { "base:allocation", alloc_map, sizeof alloc_map / sizeof alloc_map[0] },
  { "tlsguard:test", test_map, sizeof test_map / sizeof test_map[0] },
};
#define NR_CONTEXTS (sizeof contexts / sizeof contexts[0])

struct server {
  enum tls_mode tls;
  struct tport_creds *creds;
  unsigned defects;
  char **exports;               /* --export names; none: any name */
  size_t nexports;
  char **tls_only;              /* --tls-only-export names */
  size_t ntls_only;
  uint8_t *disk;
};

struct client_conn {
  const struct server *srv;
  struct tport *t;
  struct wire_buf out;
  unsigned nopts;
  bool no_zeroes;
  bool sr;                      /* structured replies negotiated */
  /* Result of the last SET_META_CONTEXT. */
  bool meta_set;
  char *meta_export;            /* NUL-terminated copy, and its length */
  size_t meta_export_len;
  size_t nsel;
  struct { uint32_t id; size_t ctx; } sel[NR_CONTEXTS];
  uint32_t next_id;
  /* Export chosen for transmission. */
  char *export;
  size_t export_len;
  /* buffered-plaintext defect: bytes read but not yet used. */
  uint8_t *pend;
  size_t pend_len, pend_off;
};

/* --- small helpers ------------------------------------------------- */

static bool
str_eq (const struct wire_str *s, const char *c)
{
  size_t n = strlen (c);

  return s->len == n && (n == 0 || memcmp (s->ptr, c, n) == 0);
}

static bool
name_in (const struct wire_str *name, char *const *list, size_t n)
{
  size_t i;

  for (i = 0; i < n; ++i)
    if (str_eq (name, list[i]))
      return true;
  return false;
}

static bool
tls_only (const struct server *srv, const struct wire_str *name)
{
  return name_in (name, srv->tls_only, srv->ntls_only);
}

static bool
export_ok (const struct server *srv, const struct wire_str *name)
{
  return srv->nexports == 0 || tls_only (srv, name) ||
    name_in (name, srv->exports, srv->nexports);
}

/* Must the option that names this export be refused because it is
 * TLS-only and TLS has not been negotiated?  what names the option for
 * the defect's log line.
 */
static bool
needs_tls (const struct client_conn *c, const struct wire_str *name,
           const char *what)
{
  if (tport_is_tls (c->t) || !tls_only (c->srv, name))
    return false;
  if (c->srv->defects & DEFECT_SERVE_TLS_ONLY) {
    log_msg ("defect serve-tls-only: %s of TLS-only export \"%.*s\" "
             "answered in plaintext", what, (int) name->len,
             name->len ? name->ptr : "");
    return false;
  }
  return true;
}

static void
meta_clear (struct client_conn *c)
{
  free (c->meta_export);
  c->meta_export = NULL;
  c->meta_set = false;
  c->nsel = 0;
}

/* --- I/O ----------------------------------------------------------- */

/* Read exactly len bytes.  Returns 0, or -1 on EOF, error or timeout
 * (logged).
 */
static int
conn_read (struct client_conn *c, void *buf, size_t len, int timeout_ms)
{
  uint8_t *p = buf;
  ssize_t r;

  while (len > 0) {
    if (c->pend_off < c->pend_len) {
      size_t n = c->pend_len - c->pend_off;
      if (n > len)
        n = len;
      memcpy (p, c->pend + c->pend_off, n);
      c->pend_off += n;
      p += n;
      len -= n;
      continue;
    }
    if ((c->srv->defects & DEFECT_BUFFERED_PLAINTEXT) &&
        !tport_is_tls (c->t)) {
      /* The defect: read whatever is there in one large read, the way
       * a naive buffered reader does, and keep the surplus.
       */
      struct pollfd pfd = { .fd = tport_fd (c->t), .events = POLLIN };
      int pr = poll (&pfd, 1, timeout_ms);
      if (pr == 0) {
        log_msg ("timed out waiting for the client");
        return -1;
      }
      if (pr == -1) {
        log_msg ("poll: %m");
        return -1;
      }
      r = read (tport_fd (c->t), c->pend, PENDING_SIZE);
      if (r == -1 && (errno == EAGAIN || errno == EINTR))
        continue;
      if (r <= 0) {
        if (r == -1)
          log_msg ("read: %m");
        else
          log_debug ("client closed the connection");
        return -1;
      }
      c->pend_len = r;
      c->pend_off = 0;
      continue;
    }
    r = tport_read (c->t, p, len, timeout_ms);
    if (r == -1) {
      log_msg ("read: %s", tport_error (c->t));
      return -1;
    }
    if ((size_t) r < len) {
      log_debug ("client closed the connection%s",
                 r > 0 ? " in the middle of a message" : "");
      return -1;
    }
    return 0;
  }
  return 0;
}

/* Discard len bytes of input. */
static int
conn_skip (struct client_conn *c, uint64_t len, int timeout_ms)
{
  uint8_t buf[16384];

  while (len > 0) {
    size_t n = len > sizeof buf ? sizeof buf : len;
    if (conn_read (c, buf, n, timeout_ms) == -1)
      return -1;
    len -= n;
  }
  return 0;
}

/* Send and empty c->out.  What goes into it is not checked: the
 * encoders fail only for lengths past 4 GiB (WIRE_ETOOBIG), and every
 * name and payload here is bounded (WIRE_MAX_STRING, the disk, the
 * command line).
 */
static int
conn_flush (struct client_conn *c)
{
  int r = 0;

  if (c->out.len && tport_write (c->t, c->out.data, c->out.len) == -1) {
    log_msg ("write: %s", tport_error (c->t));
    r = -1;
  }
  wire_buf_reset (&c->out);
  return r;
}

static int
opt_reply (struct client_conn *c, uint32_t opt, uint32_t type,
           const void *data, uint32_t len)
{
  log_debug ("  -> %s", wire_rep_name (type));
  wire_enc_opt_reply (&c->out, opt, type, data, len);
  return conn_flush (c);
}

static int
opt_error (struct client_conn *c, uint32_t opt, uint32_t type, const char *msg)
{
  log_debug ("  -> %s: %s", wire_rep_name (type), msg);
  wire_enc_opt_reply (&c->out, opt, type, msg, strlen (msg));
  return conn_flush (c);
}

/* --- options ------------------------------------------------------- */

enum { OPT_CONTINUE = 0, OPT_TRANSMIT = 1, OPT_CLOSE = -1 };

static int
do_list (struct client_conn *c, uint32_t len)
{
  size_t i, n;

  if (len != 0)
    return opt_error (c, NBD_OPT_LIST, NBD_REP_ERR_INVALID,
                      "NBD_OPT_LIST takes no payload") ? OPT_CLOSE : 0;
  if (c->srv->nexports == 0)
    wire_enc_rep_server (&c->out, "", "any export name is accepted");
  for (i = 0; i < c->srv->nexports; ++i)
    wire_enc_rep_server (&c->out, c->srv->exports[i], NULL);
  n = c->srv->nexports ? c->srv->nexports : 1;
  /* TLS-only exports: listed over TLS, left out before it. */
  for (i = 0; i < c->srv->ntls_only; ++i) {
    const char *e = c->srv->tls_only[i];
    const struct wire_str name = { e, strlen (e) };

    if (needs_tls (c, &name, "NBD_OPT_LIST"))
      continue;
    wire_enc_rep_server (&c->out, e, NULL);
    n++;
  }
  log_debug ("  -> %zu NBD_REP_SERVER", n);
  return opt_reply (c, NBD_OPT_LIST, NBD_REP_ACK, NULL, 0) ? OPT_CLOSE : 0;
}

static int
do_starttls (struct client_conn *c, uint32_t len)
{
  const unsigned d = c->srv->defects;

  if (c->srv->tls == TLS_OFF)
    return opt_error (c, NBD_OPT_STARTTLS, NBD_REP_ERR_POLICY,
                      "TLS is not enabled on this server") ? OPT_CLOSE : 0;
  if (tport_is_tls (c->t)) {
    if (d & DEFECT_DOUBLE_STARTTLS) {
      log_msg ("defect double-starttls: acknowledging a second STARTTLS "
               "and carrying on in the existing TLS session");
      return opt_reply (c, NBD_OPT_STARTTLS, NBD_REP_ACK,
                        NULL, 0) ? OPT_CLOSE : 0;
    }
    return opt_error (c, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID,
                      "TLS is already negotiated") ? OPT_CLOSE : 0;
  }
  if (len != 0) {
    if (d & DEFECT_STARTTLS_PAYLOAD)
      log_msg ("defect starttls-payload: ignoring %" PRIu32
               " payload bytes sent with STARTTLS", len);
    else
      return opt_error (c, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID,
                        "NBD_OPT_STARTTLS takes no payload")
        ? OPT_CLOSE : 0;
  }
  if (c->pend_off < c->pend_len)
    log_msg ("defect buffered-plaintext: %zu plaintext bytes read with "
             "STARTTLS will be processed as if they came over TLS",
             c->pend_len - c->pend_off);

  if (opt_reply (c, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL, 0) == -1)
    return OPT_CLOSE;
  /* A compliant server reads options with exact-length reads, so any
   * plaintext the client sent after STARTTLS is still in the socket
   * and the handshake below fails on it.
   */
  if (tport_starttls (c->t, c->srv->creds, TPORT_SERVER,
                      HANDSHAKE_TIMEOUT) == -1) {
    log_msg ("TLS handshake failed: %s", tport_error (c->t));
    return OPT_CLOSE;
  }
  log_debug ("TLS session established");

  if (d & DEFECT_KEEP_SR) {
    if (c->sr)
      log_msg ("defect keep-sr: keeping structured replies across STARTTLS");
  }
  else
    c->sr = false;
  if (d & DEFECT_KEEP_META) {
    if (c->meta_set)
      log_msg ("defect keep-meta: keeping %zu metadata context(s) for "
               "export \"%s\" across STARTTLS", c->nsel, c->meta_export);
  }
  else
    meta_clear (c);
  return OPT_CONTINUE;
}

static int
do_sr (struct client_conn *c, uint32_t len)
{
  if (len != 0)
    return opt_error (c, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_INVALID,
                      "NBD_OPT_STRUCTURED_REPLY takes no payload")
      ? OPT_CLOSE : 0;
  c->sr = true;
  return opt_reply (c, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK,
                    NULL, 0) ? OPT_CLOSE : 0;
}

/* Which context does a SET_META_CONTEXT query select?  -1 for none. */
static int
set_query_match (const struct wire_str *q)
{
  size_t i;

  for (i = 0; i < NR_CONTEXTS; ++i)
    if (str_eq (q, contexts[i].name))
      return i;
  return -1;
}

/* Does a LIST_META_CONTEXT query match context i?  "ns:" is a
 * wildcard for the namespace.
 */
static bool
list_query_match (const struct wire_str *q, size_t i)
{
  const char *name = contexts[i].name;
  size_t nslen = strchr (name, ':') - name + 1;

  if (str_eq (q, name))
    return true;
  return q->len == nslen && memcmp (q->ptr, name, nslen) == 0;
}

static int
do_meta (struct client_conn *c, uint32_t opt, const uint8_t *payload,
         uint32_t len)
{
  struct wire_meta_req m;
  bool set = opt == NBD_OPT_SET_META_CONTEXT;
  bool chosen[NR_CONTEXTS] = { false };
  size_t i, j;
  char *name;
  int r;

  /* SET_META_CONTEXT replaces the previous selection, even when it
   * fails.
   */
  if (set)
    meta_clear (c);
  if (!c->sr)
    return opt_error (c, opt, NBD_REP_ERR_INVALID,
                      "structured replies have not been negotiated")
      ? OPT_CLOSE : 0;
  r = wire_dec_opt_meta (payload, len, &m);
  if (r == WIRE_ETOOBIG)
    return opt_error (c, opt, NBD_REP_ERR_TOO_BIG,
                      "too many queries") ? OPT_CLOSE : 0;
  if (r != WIRE_OK)
    return opt_error (c, opt, NBD_REP_ERR_INVALID,
                      "malformed request") ? OPT_CLOSE : 0;
  if (!export_ok (c->srv, &m.exportname))
    return opt_error (c, opt, NBD_REP_ERR_UNKNOWN,
                      "no such export") ? OPT_CLOSE : 0;

  for (i = 0; i < m.nq; ++i) {
    if (set) {
      int k = set_query_match (&m.queries[i]);
      if (k >= 0)
        chosen[k] = true;
    }
    else
      for (j = 0; j < NR_CONTEXTS; ++j)
        if (list_query_match (&m.queries[i], j))
          chosen[j] = true;
  }
  if (!set && m.nq == 0)
    for (j = 0; j < NR_CONTEXTS; ++j)
      chosen[j] = true;

  name = wire_str_dup (&m.exportname);
  for (j = 0; j < NR_CONTEXTS; ++j) {
    uint32_t id = 0;
    if (!chosen[j])
      continue;
    if (set) {
      id = c->next_id++;
      c->sel[c->nsel].id = id;
      c->sel[c->nsel].ctx = j;
      c->nsel++;
    }
    log_debug ("  -> NBD_REP_META_CONTEXT %" PRIu32 " %s", id,
               contexts[j].name);
    wire_enc_rep_meta_context (&c->out, opt, id, contexts[j].name);
  }
  if (set) {
    c->meta_set = c->nsel > 0;
    c->meta_export = name;
    c->meta_export_len = m.exportname.len;
    log_debug ("  %zu context(s) selected for export \"%s\"", c->nsel, name);
  }
  else
    free (name);
  return opt_reply (c, opt, NBD_REP_ACK, NULL, 0) ? OPT_CLOSE : 0;
}

/* NBD_REP_INFO of type with len bytes of data (data NULL: the caller
 * appends them).
 */
static void
put_info (struct client_conn *c, uint32_t opt, uint16_t type,
          const void *data, uint32_t len)
{
  wire_enc_opt_reply (&c->out, opt, NBD_REP_INFO, NULL, 2 + len);
  wire_put_u16 (&c->out, type);
  if (data)
    wire_put_bytes (&c->out, data, len);
  log_debug ("  -> NBD_REP_INFO %s", wire_info_name (type));
}

static int
do_info (struct client_conn *c, uint32_t opt, const uint8_t *payload,
         uint32_t len)
{
  struct wire_info_req ir;
  const char *desc = "nbd-badserver test disk";
  bool sent[4] = { false };
  size_t i;
  int r;

  r = wire_dec_opt_info (payload, len, &ir);
  if (r != WIRE_OK)
    return opt_error (c, opt, NBD_REP_ERR_INVALID,
                      "malformed request") ? OPT_CLOSE : 0;
  if (!export_ok (c->srv, &ir.exportname))
    return opt_error (c, opt, NBD_REP_ERR_UNKNOWN,
                      "no such export") ? OPT_CLOSE : 0;
  if (needs_tls (c, &ir.exportname, wire_opt_name (opt)))
    return opt_error (c, opt, NBD_REP_ERR_TLS_REQD,
                      "this export requires TLS") ? OPT_CLOSE : 0;

  log_debug ("  -> NBD_REP_INFO NBD_INFO_EXPORT");
  wire_enc_rep_info_export (&c->out, opt, DISK_SIZE, TFLAGS);
  for (i = 0; i < ir.ninfo; ++i) {
    uint16_t t = ir.infos[i];
    if (t >= 4 || t == NBD_INFO_EXPORT || sent[t])
      continue;                 /* unknown ones are ignored */
    sent[t] = true;
    if (t == NBD_INFO_NAME)
      put_info (c, opt, t, ir.exportname.ptr, ir.exportname.len);
    else if (t == NBD_INFO_DESCRIPTION)
      put_info (c, opt, t, desc, strlen (desc));
    else {
      put_info (c, opt, t, NULL, 12);
      wire_put_u32 (&c->out, 1);                /* minimum block size */
      wire_put_u32 (&c->out, 4096);             /* preferred */
      wire_put_u32 (&c->out, MAX_REQUEST);      /* maximum */
    }
  }
  if (opt_reply (c, opt, NBD_REP_ACK, NULL, 0) == -1)
    return OPT_CLOSE;
  if (opt == NBD_OPT_INFO)
    return OPT_CONTINUE;

  c->export = wire_str_dup (&ir.exportname);
  c->export_len = ir.exportname.len;
  return OPT_TRANSMIT;
}

static int
do_export_name (struct client_conn *c, const uint8_t *payload, uint32_t len)
{
  struct wire_str s = { len ? (const char *) payload : NULL, len };

  if (c->srv->tls == TLS_REQUIRE && !tport_is_tls (c->t)) {
    log_msg ("NBD_OPT_EXPORT_NAME before TLS: closing");
    return OPT_CLOSE;
  }
  if (len > WIRE_MAX_STRING || !export_ok (c->srv, &s)) {
    log_msg ("NBD_OPT_EXPORT_NAME for an unknown export: closing");
    return OPT_CLOSE;
  }
  if (needs_tls (c, &s, "NBD_OPT_EXPORT_NAME")) {
    log_msg ("NBD_OPT_EXPORT_NAME of a TLS-only export before TLS: closing");
    return OPT_CLOSE;
  }
  c->export = wire_str_dup (&s);
  c->export_len = len;
  wire_enc_export_name_reply (&c->out, DISK_SIZE, TFLAGS, c->no_zeroes);
  return conn_flush (c) ? OPT_CLOSE : OPT_TRANSMIT;
}

static int
negotiate (struct client_conn *c)
{
  uint8_t hdr[WIRE_OPT_REQ_HDR_LEN];
  uint8_t *payload = xmalloc (WIRE_MAX_OPT_PAYLOAD);
  int ret = OPT_CLOSE;

  for (;;) {
    struct wire_opt_req req;
    int r;

    if (conn_read (c, hdr, sizeof hdr, NEGOTIATE_TIMEOUT) == -1)
      break;
    r = wire_dec_opt_req_hdr (hdr, sizeof hdr, &req, WIRE_MAX_OPT_PAYLOAD);
    if (r != WIRE_OK) {
      log_msg ("bad option header (%s): closing", wire_status_name (r));
      break;
    }
    if (conn_read (c, payload, req.len, NEGOTIATE_TIMEOUT) == -1)
      break;
    log_debug ("<- %s (%" PRIu32 "), %" PRIu32 " payload bytes%s",
               wire_opt_name (req.opt), req.opt, req.len,
               tport_is_tls (c->t) ? ", over TLS" : "");
    if (++c->nopts > MAX_OPTIONS) {
      log_msg ("more than %d options: closing", MAX_OPTIONS);
      break;
    }

    /* FORCEDTLS: nothing but STARTTLS and ABORT before TLS. */
    if (c->srv->tls == TLS_REQUIRE && !tport_is_tls (c->t) &&
        req.opt != NBD_OPT_STARTTLS && req.opt != NBD_OPT_ABORT &&
        req.opt != NBD_OPT_EXPORT_NAME) {
      r = opt_error (c, req.opt, NBD_REP_ERR_TLS_REQD,
                     "TLS is required") ? OPT_CLOSE : 0;
    }
    else
      switch (req.opt) {
      case NBD_OPT_EXPORT_NAME:
        r = do_export_name (c, payload, req.len);
        break;
      case NBD_OPT_ABORT:
        opt_reply (c, req.opt, NBD_REP_ACK, NULL, 0);
        log_debug ("client aborted");
        ret = OPT_CONTINUE;   /* a clean end, not an error */
        goto out;
      case NBD_OPT_LIST:
        r = do_list (c, req.len);
        break;
      case NBD_OPT_STARTTLS:
        r = do_starttls (c, req.len);
        break;
      case NBD_OPT_INFO:
      case NBD_OPT_GO:
        r = do_info (c, req.opt, payload, req.len);
        break;
      case NBD_OPT_STRUCTURED_REPLY:
        r = do_sr (c, req.len);
        break;
      case NBD_OPT_LIST_META_CONTEXT:
      case NBD_OPT_SET_META_CONTEXT:
        r = do_meta (c, req.opt, payload, req.len);
        break;
      default:
        r = opt_error (c, req.opt, NBD_REP_ERR_UNSUP,
                       "option not supported") ? OPT_CLOSE : 0;
        break;
      }
    if (r == OPT_CLOSE)
      break;
    if (r == OPT_TRANSMIT) {
      ret = OPT_TRANSMIT;
      break;
    }
  }
 out:
  free (payload);
  return ret;
}

/* --- transmission -------------------------------------------------- */

static int
send_error (struct client_conn *c, uint64_t cookie, uint32_t err,
            const char *msg)
{
  log_debug ("  -> error %s: %s", wire_errno_name (err), msg);
  if (c->sr) {
    uint16_t mlen = strlen (msg);

    wire_enc_chunk (&c->out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR,
                    cookie, NULL, 6 + mlen);
    wire_put_u32 (&c->out, err);
    wire_put_u16 (&c->out, mlen);
    wire_put_bytes (&c->out, msg, mlen);
  }
  else
    wire_enc_simple_reply (&c->out, err, cookie);
  return conn_flush (c);
}

static bool
in_bounds (const struct wire_request *rq)
{
  return rq->length > 0 && rq->offset <= DISK_SIZE &&
    rq->length <= DISK_SIZE - rq->offset;
}

static int
do_read (struct client_conn *c, const struct wire_request *rq)
{
  if (!in_bounds (rq))
    return send_error (c, rq->cookie, NBD_EINVAL, "read out of bounds");
  if (c->sr) {
    wire_enc_chunk (&c->out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA,
                    rq->cookie, NULL, 8 + rq->length);
    wire_put_u64 (&c->out, rq->offset);
  }
  else
    wire_enc_simple_reply (&c->out, 0, rq->cookie);
  wire_put_bytes (&c->out, c->srv->disk + rq->offset, rq->length);
  log_debug ("  -> %s read reply", c->sr ? "structured" : "simple");
  return conn_flush (c);
}

static int
do_block_status (struct client_conn *c, const struct wire_request *rq)
{
  const uint64_t end = rq->offset + rq->length;
  size_t i, k;

  if (!c->sr)
    return send_error (c, rq->cookie, NBD_EINVAL,
                       "structured replies were not negotiated");
  if (!c->meta_set)
    return send_error (c, rq->cookie, NBD_EINVAL,
                       "no metadata context was negotiated");
  if (c->meta_export_len != c->export_len ||
      memcmp (c->meta_export, c->export, c->export_len) != 0) {
    if (c->srv->defects & DEFECT_IGNORE_EXPORT_MISMATCH)
      log_msg ("defect ignore-export-mismatch: serving block status for "
               "export \"%s\" with contexts set for export \"%s\"",
               c->export, c->meta_export);
    else
      return send_error (c, rq->cookie, NBD_EINVAL,
                         "metadata contexts were negotiated for another "
                         "export");
  }
  if (!in_bounds (rq))
    return send_error (c, rq->cookie, NBD_EINVAL,
                       "block status out of bounds");

  for (k = 0; k < c->nsel; ++k) {
    const size_t ci = c->sel[k].ctx;
    struct wire_buf p;
    size_t n = 0;

    wire_buf_init (&p);
    wire_put_u32 (&p, c->sel[k].id);
    for (i = 0; i < contexts[ci].n; ++i) {
      const struct extent_def *e = &contexts[ci].map[i];
      uint64_t s = e->start, t = (uint64_t) e->start + e->length;
      if (t <= rq->offset || s >= end)
        continue;
      if (s < rq->offset)
        s = rq->offset;
      if (t > end)
        t = end;
      wire_put_u32 (&p, t - s);
      wire_put_u32 (&p, e->flags);
      n++;
      if (rq->flags & NBD_CMD_FLAG_REQ_ONE)
        break;
    }
    wire_enc_chunk (&c->out, k + 1 == c->nsel ? NBD_REPLY_FLAG_DONE : 0,
                    NBD_REPLY_TYPE_BLOCK_STATUS, rq->cookie, p.data, p.len);
    wire_buf_free (&p);
    log_debug ("  -> block status: context %" PRIu32 " (%s), %zu extent(s)",
               c->sel[k].id, contexts[ci].name, n);
  }
  return conn_flush (c);
}

static int
transmit (struct client_conn *c)
{
  uint8_t hdr[WIRE_REQUEST_LEN];

  for (;;) {
    struct wire_request rq;
    int r;

    if (conn_read (c, hdr, sizeof hdr, -1) == -1)
      return 0;                 /* the client went away */
    r = wire_dec_request (hdr, sizeof hdr, &rq);
    if (r != WIRE_OK) {
      log_msg ("bad request header (%s): closing", wire_status_name (r));
      return -1;
    }
    log_debug ("<- %s flags 0x%x offset %" PRIu64 " length %" PRIu32,
               wire_cmd_name (rq.type), rq.flags, rq.offset, rq.length);

    switch (rq.type) {
    case NBD_CMD_DISC:
      log_debug ("client disconnected");
      return 0;
    case NBD_CMD_READ:
      r = do_read (c, &rq);
      break;
    case NBD_CMD_BLOCK_STATUS:
      r = do_block_status (c, &rq);
      break;
    case NBD_CMD_WRITE:
      if (rq.length > MAX_REQUEST) {
        log_msg ("write of %" PRIu32 " bytes is too large: closing",
                 rq.length);
        return -1;
      }
      if (conn_skip (c, rq.length, NEGOTIATE_TIMEOUT) == -1)
        return -1;
      r = send_error (c, rq.cookie, NBD_EPERM, "the export is read-only");
      break;
    case NBD_CMD_TRIM:
    case NBD_CMD_WRITE_ZEROES:
      r = send_error (c, rq.cookie, NBD_EPERM, "the export is read-only");
      break;
    default:
      r = send_error (c, rq.cookie, NBD_EINVAL, "command not supported");
      break;
    }
    if (r == -1)
      return -1;
  }
}

/* --- one connection ------------------------------------------------ */

static int
serve (int fd, void *opaque)
{
  const struct server *srv = opaque;
  struct client_conn c;
  uint8_t cflags_buf[4];
  uint32_t cflags;
  int status = 1, r;

  memset (&c, 0, sizeof c);
  c.srv = srv;
  c.next_id = 1;
  wire_buf_init (&c.out);
  c.t = tport_new (fd);
  if (c.t == NULL) {
    log_msg ("tport_new: %m");
    close (fd);
    return 1;
  }
  if (srv->defects & DEFECT_BUFFERED_PLAINTEXT)
    c.pend = xmalloc (PENDING_SIZE);

  wire_enc_greeting (&c.out, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
  if (conn_flush (&c) == -1)
    goto out;
  if (conn_read (&c, cflags_buf, 4, NEGOTIATE_TIMEOUT) == -1)
    goto out;
  wire_dec_client_flags (cflags_buf, 4, &cflags);
  if (cflags & ~(uint32_t) (NBD_FLAG_C_FIXED_NEWSTYLE |
                            NBD_FLAG_C_NO_ZEROES)) {
    log_msg ("unknown client flags 0x%" PRIx32 ": closing", cflags);
    goto out;
  }
  if (!(cflags & NBD_FLAG_C_FIXED_NEWSTYLE)) {
    /* Only fixed newstyle clients are supported (no TLS otherwise). */
    log_msg ("client does not speak fixed newstyle: closing");
    goto out;
  }
  c.no_zeroes = (cflags & NBD_FLAG_C_NO_ZEROES) != 0;
  log_debug ("client flags 0x%" PRIx32, cflags);

  r = negotiate (&c);
  if (r == OPT_CONTINUE) {        /* NBD_OPT_ABORT */
    status = 0;
    goto out;
  }
  if (r != OPT_TRANSMIT)
    goto out;
  log_debug ("transmission phase: export \"%s\", %s replies%s",
             c.export, c.sr ? "structured" : "simple",
             tport_is_tls (c.t) ? ", TLS" : "");
  status = transmit (&c) == 0 ? 0 : 1;

 out:
  tport_free (c.t);
  wire_buf_free (&c.out);
  meta_clear (&c);
  free (c.export);
  free (c.pend);
  return status;
}

/* --- main ---------------------------------------------------------- */

static void
fill_disk (uint8_t *disk)
{
  size_t i, k;

  memset (disk, 0, DISK_SIZE);
  for (k = 0; k < sizeof alloc_map / sizeof alloc_map[0]; ++k) {
    if (alloc_map[k].flags != 0)
      continue;
    for (i = alloc_map[k].start;
         i < alloc_map[k].start + alloc_map[k].length; ++i)
      disk[i] = (uint8_t) (i * 31 + 7) | 1;   /* never zero */
  }
}

enum { OPT_UNIX = 256, OPT_TCP, OPT_TLS, OPT_EXPORT, OPT_TLS_ONLY,
       OPT_DEFECT, OPT_PIDFILE, OPT_ONCE };

/* --defect's list, under its help. */
static void
list_defects (FILE *fp)
{
  char label[64];
  size_t i;

  for (i = 0; i < NR_DEFECTS; ++i) {
    snprintf (label, sizeof label, "    %s", defects[i].name);
    cli_help_item (fp, label, defects[i].help);
  }
}

static const struct cli_option options[] = {
  { "unix", OPT_UNIX, "PATH", "listen on this Unix socket",
    NULL, CLI_REQUIRED | CLI_OR },
  { "tcp", OPT_TCP, "HOST:PORT", "listen here (loopback only)", NULL, 0 },
  { "tls", OPT_TLS, "=off|on|require",
    "NOTLS, SELECTIVETLS or FORCEDTLS mode (default: on\n"
    "when credentials are given, otherwise off)", NULL, 0 },
  CLI_OPT_TLS_PSK ("PSK file of user:hexkey lines (any user)"),
  CLI_OPT_TLS_CERTS ("directory with server-cert.pem, server-key.pem"),
  { "export", OPT_EXPORT, "NAME",
    "accept only these export names (repeatable);\n"
    "without it every name, \"\" included, is accepted\n"
    "and NBD_OPT_LIST shows the single name \"\"", NULL, CLI_REPEAT },
  { "tls-only-export", OPT_TLS_ONLY, "NAME",
    "an export that needs TLS (repeatable; not with\n"
    "--tls=off): before STARTTLS NBD_OPT_LIST leaves it\n"
    "out, NBD_OPT_INFO and NBD_OPT_GO get\n"
    "NBD_REP_ERR_TLS_REQD, NBD_OPT_EXPORT_NAME ends the\n"
    "session; after STARTTLS it is listed and served", NULL, CLI_REPEAT },
  { "defect", OPT_DEFECT, "NAME", "break one rule (repeatable):",
    list_defects, CLI_REPEAT },
  { "pidfile", OPT_PIDFILE, "FILE", "write the PID here once listening",
    NULL, 0 },
  { "once", OPT_ONCE, NULL, "serve one connection in-process, then exit",
    NULL, 0 },
  CLI_OPT_VERBOSE ("log every option and request to stderr"),
  { NULL },
};

/* What the command line sets. */
struct args {
  struct server *srv;
  struct listener_cfg *lc;
  const char *tls;              /* --tls, or NULL */
};

static void
add_name (char ***v, size_t *n, const char *name)
{
  *v = xrealloc (*v, (*n + 1) * sizeof **v);
  (*v)[(*n)++] = (char *) name;
}

static int
handle_option (int key, const char *arg, void *opaque, struct error *err)
{
  struct args *a = opaque;
  struct server *srv = a->srv;
  int i;

  switch (key) {
  case OPT_UNIX: a->lc->unix_path = arg; return 0;
  case OPT_TCP: a->lc->tcp = arg; return 0;
  case OPT_PIDFILE: a->lc->pidfile = arg; return 0;
  case OPT_ONCE: a->lc->once = true; return 0;
  case OPT_EXPORT: add_name (&srv->exports, &srv->nexports, arg); return 0;
  case OPT_TLS_ONLY: add_name (&srv->tls_only, &srv->ntls_only, arg); return 0;
  case OPT_TLS:
    a->tls = arg;
    i = cli_choice (arg, tls_modes, sizeof tls_modes / sizeof tls_modes[0],
                    sizeof tls_modes[0], "mode", err);
    srv->tls = (enum tls_mode) i;
    return i == -1 ? -1 : 0;
  case OPT_DEFECT:
    i = cli_choice (arg, &defects[0].name, NR_DEFECTS, sizeof defects[0],
                    "defect", err);
    if (i == -1)
      return -1;
    srv->defects |= defects[i].bit;
    return 0;
  }
  return -1;
}

/* Parse and check the command line into srv and lc. */
static void
parse_args (int argc, char **argv, struct server *srv,
            struct listener_cfg *lc, struct tport_creds_cfg *tls)
{
  struct args a = { srv, lc, NULL };
  struct cli_common cl;
  bool creds;

  cli_parse (&tool, options, handle_option, argc, argv, &a, &cl);
  *tls = cl.tls;
  log_verbose = cl.verbose;
  creds = tls->psk_file || tls->x509_dir;
  if (a.tls == NULL)
    srv->tls = creds ? TLS_ON : TLS_OFF;
  if (srv->ntls_only > 0 && srv->tls == TLS_OFF)
    cli_usage_error (&tool, "--tls-only-export needs --tls=on or "
                     "--tls=require");
  if ((srv->defects & DEFECT_SERVE_TLS_ONLY) && srv->ntls_only == 0)
    cli_usage_error (&tool, "--defect serve-tls-only needs "
                     "--tls-only-export");
  if (srv->tls != TLS_OFF && !creds)
    cli_usage_error (&tool, "--tls=%s needs --tls-psk or --tls-certs",
                     a.tls);
}

int
main (int argc, char *argv[])
{
  struct server srv;
  struct listener_cfg lc = { NULL, NULL, NULL, false };
  struct tport_creds_cfg tls;
  bool is_child;
  int status;
  size_t i;

  log_progname = "nbd-badserver";
  memset (&srv, 0, sizeof srv);
  parse_args (argc, argv, &srv, &lc, &tls);

  tport_global_init (0);
  if (srv.tls != TLS_OFF)
    srv.creds = cli_creds (&tool, &tls, TPORT_SERVER);
  srv.disk = xmalloc (DISK_SIZE);
  fill_disk (srv.disk);
  for (i = 0; i < NR_DEFECTS; ++i)
    if (srv.defects & defects[i].bit)
      log_msg ("defect enabled: %s", defects[i].name);

  status = listener_run (&lc, serve, &srv, &is_child);

  tport_creds_free (srv.creds);
  free (srv.disk);
  free (srv.exports);
  free (srv.tls_only);
  return status;
}
