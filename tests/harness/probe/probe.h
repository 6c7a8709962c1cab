/* tlsguard test harness: nbd-probe internals.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * nbd-probe is split in five:
 *   session.c   one NBD client connection: handshake, options and
 *               option replies, STARTTLS, requests and replies, all
 *               checked by the wire codec and recorded in a trace;
 *   scenario.c  the scenario language: parser and interpreter;
 *   model.c     the spec model that judges "judge" steps (model.h);
 *   random.c    --random: generated sequences of "judge" steps, shrinking;
 *   nbd-probe.c command line, server mode detection, TAP output.
 * The built-in battery is the scenarios/ *.scn files, compiled into
 * scenarios-builtin.c by gen-scenarios.sh.
 */

#ifndef TLSGUARD_PROBE_H
#define TLSGUARD_PROBE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sbuf.h"
#include "wire.h"
#include "transport.h"

/* --- configuration --------------------------------------------------- */

enum probe_mode {
  MODE_UNKNOWN = 0,
  MODE_NOTLS = 1,
  MODE_SELECTIVETLS = 2,
  MODE_FORCEDTLS = 4,
};
#define MODE_TLS (MODE_SELECTIVETLS | MODE_FORCEDTLS)
extern const char *mode_name (enum probe_mode m);

#define PROBE_MAX_CONTEXTS 16

struct probe_cfg {
  const char *unix_path;        /* --unix, or NULL */
  const char *tcp;              /* --tcp, or NULL */
  struct tport_creds *creds;    /* NULL: no TLS credentials */
  const char *export;           /* --export (default "") */
  const char *export2;          /* --export2 */
  const char *tls_only_export;  /* --tls-only-export, or NULL */
  const char *contexts[PROBE_MAX_CONTEXTS];
  size_t ncontexts;             /* at least 1 */
  int timeout_ms;
  int verbose;
  bool strict;                  /* --strict: model notes fail too */
  enum probe_mode mode;         /* detected */
};

/* --- one connection (session.c) --------------------------------------- */

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
  char err[1024];               /* the last failure */
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
extern void sess_error (struct session *s, const char *fmt, ...)
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
 * something (described in s->err), -1 timeout or error.
 */
extern int sess_wait_closed (struct session *s);

/* --- scenarios (scenario.c) ---------------------------------------- */

struct scenario;

struct builtin_scenario {
  const char *name;
  const char *file;
  const char *text;
};
extern const struct builtin_scenario builtin_scenarios[];
extern const size_t n_builtin_scenarios;

/* Parse a scenario.  Returns NULL and writes "FILE:LINE: message" to
 * err on a syntax error.
 */
extern struct scenario *scenario_parse (const char *name, const char *file,
                                        const char *text,
                                        struct error *err);
extern void scenario_free (struct scenario *sc);
extern const char *scenario_name (const struct scenario *sc);
extern const char *scenario_description (const struct scenario *sc);

enum result { RES_OK, RES_NOT_OK, RES_SKIP };

struct scenario_result {
  enum result res;
  struct sbuf reason;           /* skip reason or failure diagnostic */
  struct sbuf trace;            /* the messages exchanged */
  struct sbuf observed;         /* "observe" output, "" if none */
  struct sbuf notes;            /* "note ..." and "deviation ..." lines,
                                 * printed even on success */
  /* A "judge" step that failed: the property ("P0".."P5", or "strict"
   * for a note or deviation under --strict) and the model rule; NULL
   * otherwise.
   */
  const char *prop;
  const char *rule;
  unsigned ndo;                 /* "judge" steps run (not skipped) */
};
extern void scenario_run (const struct scenario *sc,
                          const struct probe_cfg *cfg,
                          struct scenario_result *r);
extern void scenario_result_free (struct scenario_result *r);

/* The short language summary for --help. */
extern const char scenario_language_help[];

/* --- random option sequences (random.c) ------------------------------ */

struct random_opts {
  unsigned long n;              /* --random N */
  uint64_t seed;                /* --seed S */
  unsigned max_steps;           /* --max-steps K */
  const char *reproducer;       /* --reproducer FILE, or NULL */
  bool shrink;                  /* delta-debug the first violation of
                                 * each kind (default true) */
};
#define RANDOM_DEFAULT_MAX_STEPS 12
/* Print the generated sequence i of seed as a scenario script (the
 * text is the caller's; free it).  tls_only: the sequences may name
 * $TLSONLY (--tls-only-export); without it they are the same as
 * before that option existed.
 */
extern char *random_sequence_script (uint64_t seed, unsigned long i,
                                     unsigned max_steps, bool tls_only);
/* Run opts->n sequences against the server (cfg->mode detected),
 * printing TAP.  Returns the exit status: 0, or 1 on a violation.
 */
extern int random_run (const struct probe_cfg *cfg,
                       const struct random_opts *opts);

/* Print text to fp with each line prefixed (nbd-probe.c). */
extern void print_prefixed (FILE *fp, const char *prefix, const char *text);

#endif /* TLSGUARD_PROBE_H */
