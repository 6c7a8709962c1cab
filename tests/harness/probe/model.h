/* tlsguard test harness: a reference model of the NBD negotiation
 * rules around NBD_OPT_STARTTLS.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Pure C: no I/O, no allocation, no global state.  The caller (the
 * "judge" steps of the scenario language, scenario.c) sends an option or
 * a request, reads the server's complete answer, describes it in a
 * model_*_obs structure and hands it to the model, which
 *
 *   - judges it against the set of answers the spec allows in the
 *     current state (model_allowed, model_cmd_expect), and
 *   - updates the state the spec says is in effect: TLS on or off,
 *     structured replies negotiated in the current TLS epoch, the
 *     contexts, export and epoch of the last NBD_OPT_SET_META_CONTEXT,
 *     the export chosen by NBD_OPT_GO or NBD_OPT_EXPORT_NAME.
 *
 * Verdicts (model_result):
 *
 *   MV_VIOLATION  the server did something the spec does not allow:
 *                 an answer outside the allowed set (P0), block status
 *                 extents on state from the wrong side of STARTTLS
 *                 (P1), a structured reply without structured replies
 *                 negotiated after the last STARTTLS (P2), an answer
 *                 to plaintext sent after STARTTLS (P3), a hang or a
 *                 hard disconnect the spec does not permit (P4), a
 *                 TLS-only export described or opened before TLS (P5);
 *   MV_DEVIATION  the server refused what the spec says it must
 *                 refuse, but with another reply code than the one a
 *                 MUST names (a TLS-only export refused before TLS with
 *                 something else than NBD_REP_ERR_TLS_REQD): a spec
 *                 deviation that keeps the safety property; reported
 *                 on its own, failed by --strict;
 *   MV_NOTE       the answer is allowed, but the server refused
 *                 something the spec would have let succeed
 *                 (MC_STRICTER: tlsguard's deny policy, nbdkit's
 *                 second NBD_OPT_LIST) or ignored a SHOULD (MC_LAX);
 *   MV_OK         anything else.
 *
 * Every judgement names a rule of model_rules[], each of which quotes
 * the sentence of the NBD protocol it encodes and names its section
 * ("TLS support, SELECTIVETLS mode").
 *
 * Errors (error.h): none; nothing here fails, and the verdicts are
 * data, not errors.
 */

#ifndef TLSGUARD_MODEL_H
#define TLSGUARD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The server's TLS mode, as the spec's "Server-side requirements"
 * section defines them (detected by nbd-probe on a connection of its
 * own).
 */
enum model_mode {
  MODEL_NOTLS,
  MODEL_SELECTIVETLS,
  MODEL_FORCEDTLS,
};

/* How the spec judges one possible answer to an option. */
enum model_class {
  MC_FORBIDDEN = 0,     /* not allowed: a violation */
  MC_ACCEPT,            /* the option succeeds */
  MC_REQUIRED,          /* a refusal the spec requires or recommends */
  MC_STRICTER,          /* a refusal the spec permits, though the option
                         * could have succeeded: a note */
  MC_LAX,               /* permitted, but against a SHOULD: a note */
  MC_DEVIATION,         /* a refusal where the spec requires one, but
                         * not with the reply code its MUST names: a
                         * deviation */
};

/* Pseudo answer types besides the NBD_REP_* types.  For
 * NBD_OPT_EXPORT_NAME, NBD_REP_ACK stands for the export reply (size
 * and transmission flags).
 */
#define MODEL_CLOSE  UINT32_C(0)    /* the server closed the connection */

#define MODEL_MAX_NAME    4096      /* export names kept */
#define MODEL_MAX_CTX     16        /* context ids kept per SET_META */
#define MODEL_MAX_ALLOWED 24
#define MODEL_MAX_INFOS   16
/* After this many options in one connection a hard disconnect counts
 * as the spec's denial-of-service clause (GEN-NODISC), a note rather
 * than a violation.  nbdkit drops a client after 32 options.
 */
#define MODEL_DOS_OPTIONS 32

/* --- the rules ------------------------------------------------------ */

struct model_rule {
  const char *id;               /* "TLS-AGAIN", ... */
  const char *where;            /* its section of the NBD protocol */
  const char *text;             /* the sentence it encodes */
};
extern const struct model_rule model_rules[];
extern const size_t model_nrules;
/* The rule with this id, or NULL. */
extern const struct model_rule *model_rule (const char *id);

/* --- state ---------------------------------------------------------- */

struct model {
  enum model_mode mode;
  bool tls;                     /* a STARTTLS succeeded */
  unsigned epoch;               /* successful STARTTLS so far */
  bool await_handshake;         /* STARTTLS was ACKed: model_handshake next */
  bool closed;                  /* the connection is over */
  /* The TLS-only export the prober was told about (P5), if any. */
  bool has_tls_only;
  char tls_only[MODEL_MAX_NAME + 1];
  bool transmission;            /* GO or EXPORT_NAME succeeded */
  uint32_t sent;                /* bit (1 << opt) for every option sent */
  unsigned nopts;               /* options sent */

  bool sr;                      /* STRUCTURED_REPLY ACKed in this epoch */

  /* The last NBD_OPT_SET_META_CONTEXT. */
  bool meta_sent;
  unsigned meta_epoch;          /* the epoch it was sent in */
  bool meta_with_sr;            /* structured replies were in effect */
  size_t meta_n;                /* contexts returned (0 if it failed) */
  uint32_t meta_ids[MODEL_MAX_CTX];
  size_t meta_nids;             /* ids kept (at most MODEL_MAX_CTX) */
  char meta_export[MODEL_MAX_NAME + 1];

  /* The export chosen for transmission. */
  char export[MODEL_MAX_NAME + 1];

  /* The previous option, if it was a successful NBD_OPT_INFO. */
  bool info_valid;
  char info_export[MODEL_MAX_NAME + 1];
  uint16_t info_infos[MODEL_MAX_INFOS];
  size_t info_ninfos;
  uint64_t info_size;
  uint16_t info_tflags;
};

extern void model_init (struct model *m, enum model_mode mode);
/* Tell the model that export name is TLS-only (checked in
 * SELECTIVETLS mode: P5).  Call after model_init.
 */
extern void model_set_tls_only (struct model *m, const char *name);
/* One line: "TLS on (epoch 1), SR yes, meta 1 context(s) for \"\" in
 * epoch 0, transmission on \"\"".
 */
extern void model_describe (const struct model *m, char *buf, size_t len);
/* Does BLOCK_STATUS on the current state satisfy the spec's
 * precondition (and so may return extents)?  why, if not NULL, gets
 * the first reason it does not.
 */
extern bool model_block_status_valid (const struct model *m,
                                      const char **why);

/* --- options -------------------------------------------------------- */

struct model_opt {
  uint32_t opt;                 /* NBD_OPT_* (or an unknown number) */
  const char *export;           /* INFO, GO, EXPORT_NAME, *_META_CONTEXT */
  const char *const *queries;   /* *_META_CONTEXT */
  size_t nq;
  const uint16_t *infos;        /* INFO, GO: information requests */
  size_t ninfos;
  bool payload;                 /* data on an option that takes none
                                 * (STARTTLS, STRUCTURED_REPLY, LIST) */
  bool inject;                  /* STARTTLS: another option was sent in
                                 * the same write, before the reply */
};

struct model_allow_entry {
  uint32_t type;                /* NBD_REP_* or MODEL_CLOSE */
  enum model_class cls;
  const char *rule;
};

/* What the spec allows as the answer to one option in one state. */
struct model_allowed {
  const char *rule;             /* the rule that defines the set */
  struct model_allow_entry e[MODEL_MAX_ALLOWED];
  size_t n;
  uint32_t partial;             /* bit (1 << NBD_REP_x): replies that may
                                 * precede the final one */
  const char *client_must;      /* a MUST the client broke with this
                                 * option (a hard disconnect is then
                                 * permitted), or NULL */
};

extern void model_allowed (const struct model *m, const struct model_opt *o,
                           struct model_allowed *a);
/* The class of answer type in a (MC_FORBIDDEN if absent); *rule, if
 * not NULL, gets the rule that permits it.  MODEL_CLOSE is judged with
 * the hard-disconnect rules.
 */
extern enum model_class model_class_of (const struct model_allowed *a,
                                        uint32_t type, const char **rule);

struct model_ctx {
  uint32_t id;
  char name[256];               /* truncated if longer */
};

/* The server's answer to one option. */
struct model_opt_obs {
  bool timeout;                 /* no final reply within the deadline */
  bool closed;                  /* closed before a final reply */
  bool bad;                     /* malformed, or for another option */
  const char *bad_msg;
  uint32_t final;               /* final reply type (NBD_REP_ACK or error) */
  unsigned n_server, n_info, n_meta;
  unsigned n_other;             /* non-final replies of any other type */
  uint32_t other_type;
  bool info_export;             /* an NBD_INFO_EXPORT was among n_info */
  uint64_t size;
  uint16_t tflags;
  size_t nctx;                  /* META_CONTEXT replies kept in ctx[] */
  struct model_ctx ctx[MODEL_MAX_CTX];
};

enum model_verdict {            /* in order of severity */
  MV_OK,
  MV_NOTE,
  MV_DEVIATION,
  MV_VIOLATION,
};

struct model_result {
  enum model_verdict v;
  const char *prop;             /* violations: "P0" ... "P5" */
  const char *rule;             /* the rule applied (NULL: none) */
  char msg[768];
};

/* Judge the answer to one option and update the state.  After an
 * accepted STARTTLS (NBD_REP_ACK), m->await_handshake is set and the
 * caller must do the TLS handshake and call model_handshake.
 */
extern void model_option (struct model *m, const struct model_opt *o,
                          const struct model_opt_obs *obs,
                          struct model_result *r);

/* After NBD_REP_ACK to STARTTLS. */
enum model_inject {
  MODEL_INJ_NONE,               /* nothing was sent after STARTTLS */
  MODEL_INJ_CLOSED,             /* the server closed without answering */
  MODEL_INJ_ANSWERED,           /* the server answered the plaintext */
  MODEL_INJ_TIMEOUT,            /* neither within the deadline */
};
struct model_tls_obs {
  bool handshake_ok;
  enum model_inject inject;     /* with model_opt.inject, after a
                                 * successful handshake */
};
extern void model_handshake (struct model *m, const struct model_tls_obs *t,
                             struct model_result *r);

/* --- transmission --------------------------------------------------- */

/* What the transmission phase must look like for a request. */
struct model_cmd_expect {
  bool extents_ok;              /* BLOCK_STATUS may return extents (P1) */
  bool structured_ok;           /* structured replies may be used (P2) */
  bool simple_ok;               /* a simple reply may be used */
  const char *client_must;      /* a MUST the client breaks, or NULL */
  const char *why;              /* why extents are not allowed */
};
extern void model_cmd_expect (const struct model *m, uint16_t cmd,
                              struct model_cmd_expect *e);

struct model_cmd_obs {
  bool timeout;
  bool closed;                  /* closed instead of a (complete) reply */
  bool bad;                     /* undecodable reply */
  const char *bad_msg;
  bool simple;                  /* a simple reply */
  unsigned nchunks;             /* structured chunks */
  bool is_error;
  uint32_t error;
  unsigned n_bs_chunks;         /* NBD_REPLY_TYPE_BLOCK_STATUS chunks */
  uint32_t bs_ctx_id;           /* context id of the first one */
};
extern void model_cmd (struct model *m, uint16_t cmd,
                       const struct model_cmd_obs *o,
                       struct model_result *r);

extern const char *model_class_name (enum model_class c);
extern const char *model_mode_name (enum model_mode mode);

#endif /* TLSGUARD_MODEL_H */
