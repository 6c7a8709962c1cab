/* Unit tests for the spec model of nbd-probe (tests/harness/probe/model.c).
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * One test per rule of model_rules[], named after it, quoting the
 * sentence of the NBD protocol specification it encodes;
 * model_rules[] names each one's section.  Each test
 * drives the model through a short negotiation and checks both the
 * verdict on allowed and forbidden answers and the state the spec
 * says is in effect afterwards.  rules_all_tested checks the table
 * that registers the tests (model_tests, at the end) against the
 * model's rule table: every rule has a test and every rule test a
 * rule.
 *
 * Output is TAP (srunner_set_tap), read by tap-driver.sh.
 */

#include <config.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tap-runner.h"

#include "model.h"
#include "wire.h"

#define SIZE UINT64_C (1048576)

static struct model m;
static struct model_result r;

static const char *const q_alloc[] = { "base:allocation" };
static const char *const q_base[] = { "base:" };
static const uint16_t i_bs[] = { NBD_INFO_BLOCK_SIZE };
static const uint16_t i_name[] = { NBD_INFO_NAME };

/* --- helpers -------------------------------------------------------- */

static void
setup_selective (void)
{
  model_init (&m, MODEL_SELECTIVETLS);
  memset (&r, 0, sizeof r);
}

/* Check the last verdict (prop and rule unless NULL). */
static void
verdict (enum model_verdict want, const char *prop, const char *rule)
{
  ck_assert_msg (r.v == want, "verdict %d, expected %d: %s %s: %s", r.v,
                 want, r.prop ? r.prop : "-", r.rule ? r.rule : "-", r.msg);
  if (prop) {
    ck_assert_ptr_nonnull (r.prop);
    ck_assert_str_eq (r.prop, prop);
  }
  if (rule) {
    ck_assert_msg (r.rule != NULL, "no rule, expected %s", rule);
    ck_assert_str_eq (r.rule, rule);
  }
}

/* got, what answer () or another judging call returned, is want, and
 * so is the verdict in r, with prop and rule (NULL: any).
 */
static void
judged (enum model_verdict got, enum model_verdict want, const char *prop,
        const char *rule)
{
  ck_assert_int_eq (got, want);
  verdict (want, prop, rule);
}

static struct model_opt
opt (uint32_t o)
{
  struct model_opt x;

  memset (&x, 0, sizeof x);
  x.opt = o;
  x.export = "";
  return x;
}

static struct model_opt
meta (uint32_t o, const char *export, const char *const *q, size_t nq)
{
  struct model_opt x = opt (o);

  x.export = export;
  x.queries = q;
  x.nq = nq;
  return x;
}

static struct model_opt
info_go (uint32_t o, const char *export)
{
  struct model_opt x = opt (o);

  x.export = export;
  return x;
}

static struct model_opt_obs
obs_final (uint32_t final)
{
  struct model_opt_obs x;

  memset (&x, 0, sizeof x);
  x.final = final;
  return x;
}

/* A successful INFO/GO answer: NBD_INFO_EXPORT then NBD_REP_ACK. */
static struct model_opt_obs
obs_info_ack (uint64_t size)
{
  struct model_opt_obs x = obs_final (NBD_REP_ACK);

  x.n_info = 1;
  x.info_export = true;
  x.size = size;
  x.tflags = 3;
  return x;
}

/* n META_CONTEXT replies (ids 1..n, name base:allocation) then ACK. */
static struct model_opt_obs
obs_meta (unsigned n)
{
  struct model_opt_obs x = obs_final (NBD_REP_ACK);
  unsigned i;

  x.n_meta = n;
  x.nctx = n;
  for (i = 0; i < n; ++i) {
    x.ctx[i].id = i + 1;
    strcpy (x.ctx[i].name, "base:allocation");
  }
  return x;
}

static enum model_verdict
answer_obs (struct model_opt o, struct model_opt_obs obs)
{
  model_option (&m, &o, &obs, &r);
  return r.v;
}

/* o answered by a final reply alone (GO/INFO ACKs with an export). */
static enum model_verdict
answer (struct model_opt o, uint32_t final)
{
  if (final == NBD_REP_ACK &&
      (o.opt == NBD_OPT_GO || o.opt == NBD_OPT_INFO))
    return answer_obs (o, obs_info_ack (SIZE));
  return answer_obs (o, obs_final (final));
}

static enum model_verdict
answer_closed (struct model_opt o)
{
  struct model_opt_obs x = obs_final (0);

  x.closed = true;
  return answer_obs (o, x);
}

static void
handshake (bool ok, enum model_inject inj)
{
  struct model_tls_obs t = { ok, inj };

  model_handshake (&m, &t, &r);
}

/* A successful STARTTLS and handshake. */
static void
starttls (void)
{
  ck_assert_int_eq (answer (opt (NBD_OPT_STARTTLS), NBD_REP_ACK), MV_OK);
  ck_assert (m.await_handshake);
  handshake (true, MODEL_INJ_NONE);
  verdict (MV_OK, NULL, NULL);
  ck_assert (m.tls);
}

static void
sr (void)
{
  ck_assert_int_eq (answer (opt (NBD_OPT_STRUCTURED_REPLY), NBD_REP_ACK),
                    MV_OK);
  ck_assert (m.sr);
}

static void
set_meta (const char *export, unsigned n)
{
  ck_assert_int_eq (answer_obs (meta (NBD_OPT_SET_META_CONTEXT, export,
                                      q_alloc, 1), obs_meta (n)), MV_OK);
}

static void
go (const char *export)
{
  ck_assert_int_eq (answer (info_go (NBD_OPT_GO, export), NBD_REP_ACK),
                    MV_OK);
  ck_assert (m.transmission);
}

static struct model_cmd_obs
cmd_obs (void)
{
  struct model_cmd_obs x;

  memset (&x, 0, sizeof x);
  return x;
}

/* Request cmd observed as x; returns the verdict. */
static enum model_verdict
command (uint16_t cmd, const struct model_cmd_obs *x)
{
  model_cmd (&m, cmd, x, &r);
  return r.v;
}

/* BLOCK_STATUS answered with one extents chunk for context id. */
static enum model_verdict
bs_extents (uint32_t id)
{
  struct model_cmd_obs x = cmd_obs ();

  x.nchunks = 1;
  x.n_bs_chunks = 1;
  x.bs_ctx_id = id;
  return command (NBD_CMD_BLOCK_STATUS, &x);
}

/* A request answered with an error, structured or simple. */
static enum model_verdict
cmd_error (uint16_t cmd, uint32_t err, bool structured)
{
  struct model_cmd_obs x = cmd_obs ();

  x.is_error = true;
  x.error = err;
  x.simple = !structured;
  x.nchunks = structured;
  return command (cmd, &x);
}

static enum model_verdict
read_reply (bool structured)
{
  struct model_cmd_obs x = cmd_obs ();

  x.simple = !structured;
  x.nchunks = structured;
  return command (NBD_CMD_READ, &x);
}

/* The allowed set for o in the current state. */
static enum model_class
class_of (struct model_opt o, uint32_t type)
{
  struct model_allowed a;

  model_allowed (&m, &o, &a);
  return model_class_of (&a, type, NULL);
}

/* ===================================================================
 * NBD_OPT_STARTTLS and the TLS modes
 * =================================================================== */

/* TLS-ACK: "If the server receives NBD_OPT_STARTTLS prior to
 * negotiating TLS, it MUST reply with NBD_REP_ACK and initiate TLS as
 * set out under 'FORCEDTLS' above."
 */
START_TEST (rule_TLS_ACK)
{
  ck_assert_int_eq (class_of (opt (NBD_OPT_STARTTLS), NBD_REP_ACK),
                    MC_ACCEPT);
  judged (answer (opt (NBD_OPT_STARTTLS), NBD_REP_ERR_INVALID),
          MV_VIOLATION, "P0", "TLS-ACK");
  ck_assert_int_eq (answer (opt (NBD_OPT_STARTTLS), NBD_REP_ERR_POLICY),
                    MV_VIOLATION);
  ck_assert (!m.tls);
  starttls ();

  /* The same in FORCEDTLS mode. */
  model_init (&m, MODEL_FORCEDTLS);
  starttls ();
}
END_TEST

/* TLS-AGAIN: "If the server receives NBD_OPT_STARTTLS when TLS has
 * already been negotiated, it it MUST reply with NBD_REP_ERR_INVALID."
 */
START_TEST (rule_TLS_AGAIN)
{
  starttls ();
  ck_assert_int_eq (class_of (opt (NBD_OPT_STARTTLS), NBD_REP_ERR_INVALID),
                    MC_REQUIRED);
  judged (answer (opt (NBD_OPT_STARTTLS), NBD_REP_ACK),
          MV_VIOLATION, "P0", "TLS-AGAIN");
  model_init (&m, MODEL_SELECTIVETLS);
  starttls ();
  ck_assert_int_eq (answer (opt (NBD_OPT_STARTTLS), NBD_REP_ERR_INVALID),
                    MV_OK);
  ck_assert_int_eq (m.epoch, 1);
}
END_TEST

/* TLS-CLIENT-AGAIN: "The client MUST NOT issue NBD_OPT_STARTTLS if TLS
 * has already been initiated." (so the server may hang up instead)
 */
START_TEST (rule_TLS_CLIENT_AGAIN)
{
  struct model_allowed a;
  struct model_opt o = opt (NBD_OPT_STARTTLS);

  starttls ();
  model_allowed (&m, &o, &a);
  ck_assert_str_eq (a.client_must, "TLS-CLIENT-AGAIN");
  judged (answer_closed (o), MV_NOTE, NULL, "GEN-HARDDISC");
  ck_assert (m.closed);
}
END_TEST

/* TLS-PAYLOAD: "The client MUST NOT send any additional data with the
 * option.  The server MUST either reply with NBD_REP_ACK after which
 * point the connection is upgraded to TLS, or an error reply explicitly
 * permitted by this document (for example, NBD_REP_ERR_INVALID if the
 * client included data)."
 */
START_TEST (rule_TLS_PAYLOAD)
{
  struct model_opt o = opt (NBD_OPT_STARTTLS);

  o.payload = true;
  judged (answer (o, NBD_REP_ACK), MV_VIOLATION, "P0", "TLS-PAYLOAD");
  model_init (&m, MODEL_SELECTIVETLS);
  ck_assert_int_eq (answer (o, NBD_REP_ERR_INVALID), MV_OK);
  ck_assert (!m.tls && !m.await_handshake);
  /* The connection stays usable. */
  starttls ();
  /* A hang-up is permitted: the client broke a MUST. */
  model_init (&m, MODEL_SELECTIVETLS);
  ck_assert_int_eq (answer_closed (o), MV_NOTE);
}
END_TEST

/* TLS-RESET: "When this command succeeds, the server MUST NOT preserve
 * any negotiation state (such as a request for
 * NBD_OPT_STRUCTURED_REPLY, or metadata contexts from
 * NBD_OPT_SET_META_CONTEXT) issued before this command."
 */
START_TEST (rule_TLS_RESET)
{
  const char *why;

  sr ();
  set_meta ("", 1);
  starttls ();
  ck_assert (!m.sr);
  sr ();
  go ("");
  ck_assert (!model_block_status_valid (&m, &why));
  ck_assert_ptr_nonnull (strstr (why, "before NBD_OPT_STARTTLS"));
  /* P1: extents on plaintext contexts (the seed's attack). */
  judged (bs_extents (1), MV_VIOLATION, "P1", "META-BS");
  ck_assert_int_eq (cmd_error (NBD_CMD_BLOCK_STATUS, NBD_EINVAL, true),
                    MV_OK);

  /* Only a successful STARTTLS resets: a refused one keeps state. */
  model_init (&m, MODEL_NOTLS);
  sr ();
  set_meta ("", 1);
  ck_assert_int_eq (answer (opt (NBD_OPT_STARTTLS), NBD_REP_ERR_POLICY),
                    MV_OK);
  go ("");
  ck_assert_int_eq (bs_extents (1), MV_OK);
}
END_TEST

/* TLS-HANDSHAKE: "After an NBD_REP_ACK reply has been sent, the server
 * MUST be prepared for a TLS handshake, and all further data MUST be
 * sent and received over TLS."
 */
START_TEST (rule_TLS_HANDSHAKE)
{
  struct model_opt inj = opt (NBD_OPT_STARTTLS);

  ck_assert_int_eq (answer (opt (NBD_OPT_STARTTLS), NBD_REP_ACK), MV_OK);
  handshake (false, MODEL_INJ_NONE);
  verdict (MV_VIOLATION, "P0", "TLS-HANDSHAKE");

  /* P3: plaintext sent after STARTTLS must never be answered. */
  inj.inject = true;
  model_init (&m, MODEL_SELECTIVETLS);
  ck_assert_int_eq (answer (inj, NBD_REP_ACK), MV_OK);
  handshake (true, MODEL_INJ_ANSWERED);
  verdict (MV_VIOLATION, "P3", "TLS-HANDSHAKE");
  model_init (&m, MODEL_SELECTIVETLS);
  ck_assert_int_eq (answer (inj, NBD_REP_ACK), MV_OK);
  handshake (false, MODEL_INJ_CLOSED);  /* the plaintext broke it */
  verdict (MV_OK, NULL, NULL);
  ck_assert (m.closed);
  model_init (&m, MODEL_SELECTIVETLS);
  ck_assert_int_eq (answer (inj, NBD_REP_ACK), MV_OK);
  handshake (true, MODEL_INJ_CLOSED);
  verdict (MV_OK, NULL, NULL);
  model_init (&m, MODEL_SELECTIVETLS);
  ck_assert_int_eq (answer (inj, NBD_REP_ACK), MV_OK);
  handshake (true, MODEL_INJ_TIMEOUT);
  verdict (MV_VIOLATION, "P4", "P4-TIMEOUT");
}
END_TEST

/* TLS-NOTLS: "If the server receives NBD_OPT_STARTTLS it MUST respond
 * with NBD_REP_ERR_POLICY (if it does not support TLS for policy
 * reasons), NBD_REP_ERR_UNSUP (if it does not support the
 * NBD_OPT_STARTTLS option at all) or another error explicitly
 * permitted by this document."
 */
START_TEST (rule_TLS_NOTLS)
{
  model_init (&m, MODEL_NOTLS);
  ck_assert_int_eq (answer (opt (NBD_OPT_STARTTLS), NBD_REP_ERR_POLICY),
                    MV_OK);
  ck_assert_int_eq (answer (opt (NBD_OPT_STARTTLS), NBD_REP_ERR_UNSUP),
                    MV_OK);
  judged (answer (opt (NBD_OPT_STARTTLS), NBD_REP_ACK),
          MV_VIOLATION, "P0", "TLS-NOTLS");
}
END_TEST

/* TLS-NOTLS-REQD: "The server MUST NOT respond to any option request
 * with NBD_REP_ERR_TLS_REQD." (NOTLS mode)
 */
START_TEST (rule_TLS_NOTLS_REQD)
{
  model_init (&m, MODEL_NOTLS);
  judged (answer (info_go (NBD_OPT_GO, ""), NBD_REP_ERR_TLS_REQD),
          MV_VIOLATION, "P0", "TLS-NOTLS-REQD");
  judged (answer (opt (NBD_OPT_LIST), NBD_REP_ERR_TLS_REQD),
          MV_VIOLATION, "P0", "TLS-NOTLS-REQD");
}
END_TEST

/* TLS-FORCED: "If the server receives any other option, including
 * NBD_OPT_INFO and unsupported options, it MUST reply with
 * NBD_REP_ERR_TLS_REQD if TLS has not been initiated; NBD_OPT_INFO is
 * included as in this mode, all exports are TLS-only."
 */
START_TEST (rule_TLS_FORCED)
{
  static const uint32_t opts[] = {
    NBD_OPT_LIST, NBD_OPT_STRUCTURED_REPLY, NBD_OPT_SET_META_CONTEXT,
    NBD_OPT_LIST_META_CONTEXT, NBD_OPT_INFO, 0x4242,
  };
  size_t i;

  model_init (&m, MODEL_FORCEDTLS);
  for (i = 0; i < sizeof opts / sizeof opts[0]; ++i) {
    ck_assert_int_eq (answer (opt (opts[i]), NBD_REP_ERR_TLS_REQD), MV_OK);
    judged (answer (opt (opts[i]), NBD_REP_ACK),
            MV_VIOLATION, "P0", "TLS-FORCED");
    ck_assert_int_eq (answer (opt (opts[i]), NBD_REP_ERR_UNSUP),
                      MV_VIOLATION);
  }
  /* SR refused with TLS_REQD is not negotiated. */
  ck_assert (!m.sr);
  starttls ();
  sr ();
}
END_TEST

/* TLS-FORCED-EN: "If the server receives a request to enter
 * transmission mode via NBD_OPT_EXPORT_NAME when TLS has not been
 * initiated, then as this request cannot error, it MUST terminate the
 * session."
 */
START_TEST (rule_TLS_FORCED_EN)
{
  model_init (&m, MODEL_FORCEDTLS);
  judged (answer (info_go (NBD_OPT_EXPORT_NAME, ""), NBD_REP_ACK),
          MV_VIOLATION, "P0", "TLS-FORCED-EN");
  model_init (&m, MODEL_FORCEDTLS);
  ck_assert_int_eq (answer_closed (info_go (NBD_OPT_EXPORT_NAME, "")),
                    MV_OK);
  ck_assert (m.closed && !m.transmission);
}
END_TEST

/* TLS-FORCED-GO: "If the server receives a request to enter
 * transmission mode via NBD_OPT_GO when TLS has not been initiated, it
 * MUST error with NBD_REP_ERR_TLS_REQD."
 */
START_TEST (rule_TLS_FORCED_GO)
{
  model_init (&m, MODEL_FORCEDTLS);
  judged (answer (info_go (NBD_OPT_GO, ""), NBD_REP_ACK),
          MV_VIOLATION, "P0", "TLS-FORCED-GO");
  model_init (&m, MODEL_FORCEDTLS);
  ck_assert_int_eq (answer (info_go (NBD_OPT_GO, ""), NBD_REP_ERR_TLS_REQD),
                    MV_OK);
  ck_assert (!m.transmission);
  starttls ();
  go ("");
}
END_TEST

/* TLS-FORCED-NOINFO: "In this case, a FORCEDTLS server MUST NOT send
 * NBD_REP_INFO replies, but a SELECTIVETLS server MAY do so if this is
 * a TLS-only export."
 */
START_TEST (rule_TLS_FORCED_NOINFO)
{
  struct model_opt_obs x = obs_final (NBD_REP_ERR_TLS_REQD);

  x.n_info = 1;
  x.info_export = true;
  model_init (&m, MODEL_FORCEDTLS);
  judged (answer_obs (info_go (NBD_OPT_INFO, ""), x),
          MV_VIOLATION, "P0", "TLS-FORCED-NOINFO");
  /* SELECTIVETLS may. */
  model_init (&m, MODEL_SELECTIVETLS);
  judged (answer_obs (info_go (NBD_OPT_INFO, ""), x),
          MV_NOTE, NULL, "TLS-SEL-INFO");
}
END_TEST

/* TLS-AFTER-REQD: "The server MUST NOT send NBD_REP_ERR_TLS_REQD in
 * reply to any option if TLS has already been negotiated."
 */
START_TEST (rule_TLS_AFTER_REQD)
{
  starttls ();
  judged (answer (info_go (NBD_OPT_GO, ""), NBD_REP_ERR_TLS_REQD),
          MV_VIOLATION, "P0", "TLS-AFTER-REQD");
  model_init (&m, MODEL_FORCEDTLS);
  starttls ();
  judged (answer (opt (NBD_OPT_LIST), NBD_REP_ERR_TLS_REQD),
          MV_VIOLATION, "P0", "TLS-AFTER-REQD");
}
END_TEST

/* TLS-SEL-REQD: "The server MUST NOT send NBD_REP_ERR_TLS_REQD in
 * response to any option other than NBD_OPT_INFO, NBD_OPT_GO and
 * NBD_OPT_EXPORT_NAME, and only in those cases in respect of a
 * TLS-only or non-existent export."
 */
START_TEST (rule_TLS_SEL_REQD)
{
  judged (answer (opt (NBD_OPT_LIST), NBD_REP_ERR_TLS_REQD),
          MV_VIOLATION, "P0", "TLS-SEL-REQD");
  judged (answer (opt (NBD_OPT_STRUCTURED_REPLY), NBD_REP_ERR_TLS_REQD),
          MV_VIOLATION, "P0", "TLS-SEL-REQD");
  judged (answer (opt (0x4242), NBD_REP_ERR_TLS_REQD),
          MV_VIOLATION, "P0", "TLS-SEL-REQD");
}
END_TEST

/* TLS-SEL-INFO: "If the server receives NBD_OPT_INFO or NBD_OPT_GO and
 * TLS has not been initiated, it MAY reply with NBD_REP_ERR_TLS_REQD if
 * that export is non-existent, and MUST reply with
 * NBD_REP_ERR_TLS_REQD if that export is TLS-only."
 */
START_TEST (rule_TLS_SEL_INFO)
{
  judged (answer (info_go (NBD_OPT_GO, "x"), NBD_REP_ERR_TLS_REQD),
          MV_NOTE, NULL, "TLS-SEL-INFO");
  ck_assert (!m.transmission);
  ck_assert_int_eq (answer (info_go (NBD_OPT_INFO, "x"),
                            NBD_REP_ERR_TLS_REQD), MV_NOTE);
}
END_TEST

/* ===================================================================
 * TLS-only exports (P5)
 * =================================================================== */

/* A SELECTIVETLS model told that "secret" is TLS-only. */
static void
setup_tls_only (void)
{
  model_init (&m, MODEL_SELECTIVETLS);
  model_set_tls_only (&m, "secret");
  memset (&r, 0, sizeof r);
}

/* TLS-ONLY-REQD: "If the server receives NBD_OPT_INFO or NBD_OPT_GO
 * and TLS has not been initiated, it [...] MUST reply with
 * NBD_REP_ERR_TLS_REQD if that export is TLS-only."  An NBD_REP_ACK to
 * INFO is a P5 violation; another error code is a deviation (fails
 * only with --strict), not a note and not ok.
 */
START_TEST (rule_TLS_ONLY_REQD)
{
  struct model_opt_obs x = obs_final (NBD_REP_ERR_TLS_REQD);

  setup_tls_only ();
  ck_assert_int_eq (answer (info_go (NBD_OPT_INFO, "secret"),
                            NBD_REP_ERR_TLS_REQD), MV_OK);
  ck_assert_int_eq (class_of (info_go (NBD_OPT_INFO, "secret"),
                              NBD_REP_ERR_TLS_REQD), MC_REQUIRED);
  /* NBD_REP_INFO before the error: the spec's "MAY do so". */
  x.n_info = 1;
  x.info_export = true;
  ck_assert_int_eq (answer_obs (info_go (NBD_OPT_GO, "secret"), x), MV_OK);
  /* The wrong code: refused, but not as the MUST says. */
  judged (answer (info_go (NBD_OPT_INFO, "secret"), NBD_REP_ERR_UNKNOWN),
          MV_DEVIATION, NULL, "TLS-ONLY-REQD");
  judged (answer (info_go (NBD_OPT_GO, "secret"), NBD_REP_ERR_POLICY),
          MV_DEVIATION, NULL, "TLS-ONLY-REQD");
  ck_assert_str_eq (model_class_name (class_of (info_go (NBD_OPT_GO,
                                                         "secret"),
                                                NBD_REP_ERR_UNKNOWN)),
                    "deviation");
  /* NBD_REP_ERR_SHUTDOWN is allowed anywhere (GEN-SHUTDOWN). */
  judged (answer (info_go (NBD_OPT_INFO, "secret"), NBD_REP_ERR_SHUTDOWN),
          MV_NOTE, NULL, "GEN-SHUTDOWN");
  ck_assert (!m.transmission);
  /* Described in plaintext. */
  judged (answer (info_go (NBD_OPT_INFO, "secret"), NBD_REP_ACK),
          MV_VIOLATION, "P5", "TLS-ONLY-REQD");
  /* Other exports are not TLS-only: INFO succeeds, ERR_UNKNOWN is the
   * usual note.
   */
  setup_tls_only ();
  ck_assert_int_eq (answer (info_go (NBD_OPT_INFO, "public"), NBD_REP_ACK),
                    MV_OK);
  judged (answer (info_go (NBD_OPT_INFO, "public"), NBD_REP_ERR_UNKNOWN),
          MV_NOTE, NULL, "GO-UNKNOWN");
  /* A prefix or a longer name is another export. */
  ck_assert_int_eq (answer (info_go (NBD_OPT_INFO, "secret2"), NBD_REP_ACK),
                    MV_OK);
  ck_assert_int_eq (answer (info_go (NBD_OPT_INFO, "secre"), NBD_REP_ACK),
                    MV_OK);
  /* After STARTTLS it is an export like the others. */
  starttls ();
  ck_assert_int_eq (answer (info_go (NBD_OPT_INFO, "secret"), NBD_REP_ACK),
                    MV_OK);
  judged (answer (info_go (NBD_OPT_INFO, "secret"), NBD_REP_ERR_TLS_REQD),
          MV_VIOLATION, "P0", "TLS-AFTER-REQD");
  /* Without --tls-only-export the model knows no TLS-only export. */
  setup_selective ();
  ck_assert_int_eq (answer (info_go (NBD_OPT_INFO, "secret"), NBD_REP_ACK),
                    MV_OK);
}
END_TEST

/* TLS-ONLY-TRANSMIT: "Instead it permits the client to upgrade as and
 * when it chooses, but unless an upgrade to TLS has already taken
 * place, the server errors attempts to enter transmission mode on
 * TLS-only exports"
 */
START_TEST (rule_TLS_ONLY_TRANSMIT)
{
  setup_tls_only ();
  judged (answer (info_go (NBD_OPT_GO, "secret"), NBD_REP_ACK),
          MV_VIOLATION, "P5", "TLS-ONLY-TRANSMIT");
  ck_assert_int_eq (class_of (info_go (NBD_OPT_GO, "secret"), NBD_REP_ACK),
                    MC_FORBIDDEN);
  /* The refusal keeps negotiation going; GO over TLS works. */
  setup_tls_only ();
  ck_assert_int_eq (answer (info_go (NBD_OPT_GO, "secret"),
                            NBD_REP_ERR_TLS_REQD), MV_OK);
  ck_assert (!m.transmission && !m.closed);
  go ("public");
  setup_tls_only ();
  starttls ();
  go ("secret");
  ck_assert_str_eq (m.export, "secret");
  /* FORCEDTLS: the TLS-FORCED rules, not P5. */
  model_init (&m, MODEL_FORCEDTLS);
  model_set_tls_only (&m, "secret");
  judged (answer (info_go (NBD_OPT_GO, "secret"), NBD_REP_ACK),
          MV_VIOLATION, "P0", "TLS-FORCED-GO");
}
END_TEST

/* TLS-ONLY-EN: "If the server receives a request to enter transmission
 * mode via NBD_OPT_EXPORT_NAME on a TLS-only export when TLS has not
 * been initiated, then as this request cannot error, it MUST terminate
 * the session."
 */
START_TEST (rule_TLS_ONLY_EN)
{
  setup_tls_only ();
  judged (answer (info_go (NBD_OPT_EXPORT_NAME, "secret"), NBD_REP_ACK),
          MV_VIOLATION, "P5", "TLS-ONLY-EN");
  ck_assert (!m.transmission);
  setup_tls_only ();
  ck_assert_int_eq (answer_closed (info_go (NBD_OPT_EXPORT_NAME, "secret")),
                    MV_OK);
  ck_assert (m.closed && !m.transmission);
  ck_assert_int_eq (class_of (info_go (NBD_OPT_EXPORT_NAME, "secret"),
                              MODEL_CLOSE), MC_REQUIRED);
  /* Another export, or the same after STARTTLS, is served. */
  setup_tls_only ();
  ck_assert_int_eq (answer (info_go (NBD_OPT_EXPORT_NAME, "public"),
                            NBD_REP_ACK), MV_OK);
  setup_tls_only ();
  starttls ();
  ck_assert_int_eq (answer (info_go (NBD_OPT_EXPORT_NAME, "secret"),
                            NBD_REP_ACK), MV_OK);
  ck_assert (m.transmission);
}
END_TEST

/* ===================================================================
 * NBD_OPT_STRUCTURED_REPLY and structured replies
 * =================================================================== */

/* SR-ACK: "NBD_REP_ACK: Structured replies have been negotiated; the
 * server MUST use structured replies to the NBD_CMD_READ transmission
 * request."
 */
START_TEST (rule_SR_ACK)
{
  sr ();
  go ("");
  ck_assert_int_eq (read_reply (true), MV_OK);
  judged (read_reply (false), MV_VIOLATION, "P0", "SR-READ");
}
END_TEST

/* SR-UNSUP: "For backwards compatibility, clients SHOULD be prepared to
 * also handle NBD_REP_ERR_UNSUP; in this case, no structured replies
 * will be sent."
 */
START_TEST (rule_SR_UNSUP)
{
  judged (answer (opt (NBD_OPT_STRUCTURED_REPLY), NBD_REP_ERR_UNSUP),
          MV_NOTE, NULL, "SR-UNSUP");
  ck_assert (!m.sr);
  go ("");
  ck_assert_int_eq (read_reply (false), MV_OK);
  judged (read_reply (true), MV_VIOLATION, "P2", "SR-ONLY");
}
END_TEST

/* SR-PAYLOAD: "The client MUST NOT send any additional data with the
 * option, and the server SHOULD reject a request that includes data
 * with NBD_REP_ERR_INVALID."
 */
START_TEST (rule_SR_PAYLOAD)
{
  struct model_opt o = opt (NBD_OPT_STRUCTURED_REPLY);

  o.payload = true;
  ck_assert_int_eq (answer (o, NBD_REP_ERR_INVALID), MV_OK);
  ck_assert (!m.sr);
  judged (answer (o, NBD_REP_ACK), MV_NOTE, NULL, "SR-PAYLOAD");
  ck_assert (m.sr);
}
END_TEST

/* SR-RENEG: "If the client requests NBD_OPT_STARTTLS after this option,
 * it MUST renegotiate structured replies and any other dependent
 * extensions that it desires to use."
 */
START_TEST (rule_SR_RENEG)
{
  sr ();
  starttls ();
  ck_assert (!m.sr);
  sr ();
  go ("");
  ck_assert_int_eq (read_reply (true), MV_OK);
}
END_TEST

/* SR-ONLY: "The server MUST NOT send this reply type unless the client
 * has successfully negotiated structured replies via
 * NBD_OPT_STRUCTURED_REPLY." (P2, per TLS epoch)
 */
START_TEST (rule_SR_ONLY)
{
  sr ();
  starttls ();
  go ("");
  judged (read_reply (true), MV_VIOLATION, "P2", "SR-ONLY");
  judged (cmd_error (NBD_CMD_BLOCK_STATUS, NBD_EINVAL, true),
          MV_VIOLATION, "P2", "SR-ONLY");
  ck_assert_int_eq (cmd_error (NBD_CMD_BLOCK_STATUS, NBD_EINVAL, false),
                    MV_OK);
}
END_TEST

/* SR-SIMPLE: "The simple reply message MUST be sent by the server in
 * response to all requests if structured replies have not been
 * negotiated using NBD_OPT_STRUCTURED_REPLY."
 */
START_TEST (rule_SR_SIMPLE)
{
  struct model_cmd_expect e;

  go ("");
  model_cmd_expect (&m, NBD_CMD_READ, &e);
  ck_assert (e.simple_ok && !e.structured_ok);
  ck_assert_int_eq (read_reply (false), MV_OK);
  ck_assert_int_eq (cmd_error (NBD_CMD_READ, NBD_EIO, false), MV_OK);
}
END_TEST

/* SR-READ: "Conversely, if structured replies are negotiated, the
 * server MUST use a structured reply for any response with a payload,
 * and MUST NOT use a simple reply for NBD_CMD_READ (even for the case
 * of an early NBD_EINVAL due to bad flags), but MAY use either a
 * simple reply or a structured reply to all other requests."
 */
START_TEST (rule_SR_READ)
{
  struct model_cmd_expect e;

  sr ();
  go ("");
  model_cmd_expect (&m, NBD_CMD_READ, &e);
  ck_assert (!e.simple_ok && e.structured_ok);
  judged (cmd_error (NBD_CMD_READ, NBD_EINVAL, false),
          MV_VIOLATION, "P0", "SR-READ");
  ck_assert_int_eq (cmd_error (NBD_CMD_BLOCK_STATUS, NBD_EINVAL, false),
                    MV_OK);
}
END_TEST

/* ===================================================================
 * SET_META_CONTEXT, LIST_META_CONTEXT and block status
 * =================================================================== */

/* META-REPLACE: "Issuing this command replaces all previously-set
 * metadata contexts (including when this command fails); clients must
 * ensure that all metadata contexts they are interested in are selected
 * with the final query that they sent."
 */
START_TEST (rule_META_REPLACE)
{
  sr ();
  set_meta ("", 1);
  ck_assert_int_eq (answer (meta (NBD_OPT_SET_META_CONTEXT, "", q_alloc, 1),
                            NBD_REP_ERR_TOO_BIG), MV_NOTE);
  ck_assert_int_eq (m.meta_n, 0);
  go ("");
  judged (bs_extents (1), MV_VIOLATION, "P1", "META-BS");

  /* And a later one for another export replaces the export. */
  model_init (&m, MODEL_SELECTIVETLS);
  sr ();
  set_meta ("", 1);
  set_meta ("other", 1);
  go ("");
  judged (bs_extents (1), MV_VIOLATION, "P1", "META-BS");
}
END_TEST

/* META-NOSR: "This option MUST NOT be requested unless structured
 * replies have been negotiated first. If a client attempts to do so, a
 * server SHOULD send NBD_REP_ERR_INVALID."
 */
START_TEST (rule_META_NOSR)
{
  struct model_opt o = meta (NBD_OPT_SET_META_CONTEXT, "", q_alloc, 1);
  struct model_allowed a;

  model_allowed (&m, &o, &a);
  ck_assert_str_eq (a.client_must, "META-NOSR");
  ck_assert_int_eq (answer (o, NBD_REP_ERR_INVALID), MV_OK);
  judged (answer_obs (o, obs_meta (1)), MV_NOTE, NULL, "META-NOSR");
  /* Even then, no block status without structured replies. */
  go ("");
  judged (bs_extents (1), MV_VIOLATION, "P1", "META-BS");
}
END_TEST

/* META-EMPTY: "If zero queries are sent, the server MUST select no
 * metadata contexts."
 */
START_TEST (rule_META_EMPTY)
{
  struct model_opt o = meta (NBD_OPT_SET_META_CONTEXT, "", NULL, 0);

  sr ();
  judged (answer_obs (o, obs_meta (1)), MV_VIOLATION, "P0", "META-EMPTY");
  model_init (&m, MODEL_SELECTIVETLS);
  sr ();
  set_meta ("", 1);
  ck_assert_int_eq (answer_obs (o, obs_meta (0)), MV_OK);
  go ("");
  judged (bs_extents (1), MV_VIOLATION, "P1", "META-BS");
  ck_assert_ptr_nonnull (strstr (r.msg, "no context"));
}
END_TEST

/* META-REPLY: "Otherwise the server MUST reply with a number of
 * NBD_REP_META_CONTEXT replies, one for each selected metadata context,
 * each with a unique metadata context ID, followed by NBD_REP_ACK."
 */
START_TEST (rule_META_REPLY)
{
  static const char *const q2[] = { "base:allocation", "x-a:b" };
  struct model_opt o = meta (NBD_OPT_SET_META_CONTEXT, "", q2, 2);
  struct model_opt_obs x = obs_meta (2);
  struct model_opt_obs y = obs_meta (1);

  sr ();
  x.ctx[1].id = x.ctx[0].id;
  strcpy (x.ctx[1].name, "x-a:b");
  judged (answer_obs (o, x), MV_VIOLATION, "P0", "META-REPLY");
  /* Only META_CONTEXT replies may precede the ACK. */
  y.n_server = 1;
  judged (answer_obs (o, y), MV_VIOLATION, "P0", NULL);
  x.ctx[1].id = 7;
  ck_assert_int_eq (answer_obs (o, x), MV_OK);
  ck_assert_int_eq (m.meta_n, 2);
}
END_TEST

/* META-TOOBIG: "The server MAY return NBD_REP_ERR_TOO_BIG if a request
 * seeks to select too many contexts."
 */
START_TEST (rule_META_TOOBIG)
{
  sr ();
  ck_assert_int_eq (class_of (meta (NBD_OPT_SET_META_CONTEXT, "", q_alloc,
                                    1), NBD_REP_ERR_TOO_BIG), MC_STRICTER);
  judged (answer (meta (NBD_OPT_SET_META_CONTEXT, "", q_alloc, 1),
                  NBD_REP_ERR_TOO_BIG), MV_NOTE, NULL, "META-TOOBIG");
}
END_TEST

/* META-BASE: "base: - the server MUST ignore this form during
 * NBD_OPT_SET_META_CONTEXT, and MUST support this as a wildcard during
 * NBD_OPT_LIST_META_CONTEXT"
 */
START_TEST (rule_META_BASE)
{
  sr ();
  judged (answer_obs (meta (NBD_OPT_SET_META_CONTEXT, "", q_base,
                            1), obs_meta (1)),
          MV_VIOLATION, "P0", "META-BASE");
  ck_assert_int_eq (answer_obs (meta (NBD_OPT_SET_META_CONTEXT, "", q_base,
                                      1), obs_meta (0)), MV_OK);
  /* The wildcard is fine for LIST_META_CONTEXT. */
  ck_assert_int_eq (answer_obs (meta (NBD_OPT_LIST_META_CONTEXT, "", q_base,
                                      1), obs_meta (1)), MV_OK);
}
END_TEST

/* META-BS: "A client MUST NOT send NBD_CMD_BLOCK_STATUS unless within
 * the negotiation phase it sent NBD_OPT_SET_META_CONTEXT at least once,
 * and where the final time it was sent, it referred to the same export
 * name that was ultimately selected for transmission phase with no
 * intervening NBD_OPT_STARTTLS, and where the server responded by
 * returning least one metadata context without error."  (P1)
 */
START_TEST (rule_META_BS)
{
  struct model_cmd_expect e;

  /* The valid case: everything after STARTTLS, same export. */
  starttls ();
  sr ();
  set_meta ("e", 1);
  go ("e");
  model_cmd_expect (&m, NBD_CMD_BLOCK_STATUS, &e);
  ck_assert (e.extents_ok);
  ck_assert_int_eq (bs_extents (1), MV_OK);

  /* Another export. */
  model_init (&m, MODEL_SELECTIVETLS);
  starttls ();
  sr ();
  set_meta ("e2", 1);
  go ("e");
  model_cmd_expect (&m, NBD_CMD_BLOCK_STATUS, &e);
  ck_assert (!e.extents_ok);
  ck_assert_str_eq (e.client_must, "META-BS");
  judged (bs_extents (1), MV_VIOLATION, "P1", "META-BS");

  /* No SET_META_CONTEXT at all. */
  model_init (&m, MODEL_SELECTIVETLS);
  sr ();
  go ("");
  ck_assert_int_eq (bs_extents (1), MV_VIOLATION);

  /* Via NBD_OPT_EXPORT_NAME. */
  model_init (&m, MODEL_SELECTIVETLS);
  sr ();
  set_meta ("e", 1);
  ck_assert_int_eq (answer (info_go (NBD_OPT_EXPORT_NAME, "e"), NBD_REP_ACK),
                    MV_OK);
  ck_assert_int_eq (bs_extents (1), MV_OK);
}
END_TEST

/* META-EINVAL: "Servers SHOULD reply with NBD_EINVAL to clients sending
 * NBD_CMD_BLOCK_STATUS without selecting at least one metadata
 * context."
 */
START_TEST (rule_META_EINVAL)
{
  struct model_cmd_obs x = cmd_obs ();

  sr ();
  go ("");
  ck_assert_int_eq (cmd_error (NBD_CMD_BLOCK_STATUS, NBD_EINVAL, true),
                    MV_OK);
  judged (cmd_error (NBD_CMD_BLOCK_STATUS, NBD_ENOTSUP, true),
          MV_NOTE, NULL, "META-EINVAL");
  /* Success without extents is no answer either. */
  x.nchunks = 1;
  judged (command (NBD_CMD_BLOCK_STATUS, &x),
          MV_VIOLATION, "P0", "META-EINVAL");
  /* The client broke a MUST: a hard disconnect is permitted. */
  x = cmd_obs ();
  x.closed = true;
  judged (command (NBD_CMD_BLOCK_STATUS, &x), MV_NOTE, NULL, "GEN-HARDDISC");
}
END_TEST

/* BS-STRUCT: "The reply to the NBD_CMD_BLOCK_STATUS request MUST be
 * sent as a structured reply; this implies that in order to use
 * metadata querying, structured replies MUST be negotiated first."
 */
START_TEST (rule_BS_STRUCT)
{
  struct model_cmd_obs x = cmd_obs ();

  sr ();
  set_meta ("", 1);
  go ("");
  x.simple = true;
  judged (command (NBD_CMD_BLOCK_STATUS, &x), MV_VIOLATION, "P0", "BS-STRUCT");
}
END_TEST

/* BS-CHUNKS: "For a successful return, the server MUST use a structured
 * reply, containing exactly one chunk of type
 * NBD_REPLY_TYPE_BLOCK_STATUS per selected context id, where the status
 * field of each descriptor is determined by the flags field as defined
 * by the metadata context."
 */
START_TEST (rule_BS_CHUNKS)
{
  struct model_cmd_obs x = cmd_obs ();

  sr ();
  set_meta ("", 1);
  go ("");
  x.nchunks = 2;
  x.n_bs_chunks = 2;
  x.bs_ctx_id = 1;
  judged (command (NBD_CMD_BLOCK_STATUS, &x), MV_VIOLATION, "P0", "BS-CHUNKS");
  judged (bs_extents (9), MV_VIOLATION, "P0", "BS-CHUNKS");
  ck_assert_int_eq (bs_extents (1), MV_OK);
}
END_TEST

/* BS-ERROR: "If an error occurs, the server SHOULD set the appropriate
 * error code in the error field of an error chunk."  A refusal of a
 * valid request (tlsguard-extents=deny on a plaintext export) is a
 * note, not a violation.
 */
START_TEST (rule_BS_ERROR)
{
  sr ();
  set_meta ("", 1);
  go ("");
  judged (cmd_error (NBD_CMD_BLOCK_STATUS, NBD_EINVAL, true),
          MV_NOTE, NULL, "BS-ERROR");
}
END_TEST

/* LMETA-NOSR: "This option SHOULD NOT be requested unless structured
 * replies have been negotiated first. If a client attempts to do so, a
 * server MAY send NBD_REP_ERR_INVALID."
 */
START_TEST (rule_LMETA_NOSR)
{
  struct model_opt o = meta (NBD_OPT_LIST_META_CONTEXT, "", NULL, 0);

  ck_assert_int_eq (answer (o, NBD_REP_ERR_INVALID), MV_OK);
  ck_assert_int_eq (answer_obs (o, obs_meta (1)), MV_OK);
  sr ();
  ck_assert_int_eq (answer (o, NBD_REP_ERR_INVALID), MV_VIOLATION);
}
END_TEST

/* LMETA-REPLY: "The server MUST reply with a list of zero or more
 * NBD_REP_META_CONTEXT replies, followed by either a final NBD_REP_ACK
 * on success or by an error (for instance NBD_REP_ERR_UNSUP if the
 * option is not supported)."  Listing selects nothing.
 */
START_TEST (rule_LMETA_REPLY)
{
  struct model_opt o = meta (NBD_OPT_LIST_META_CONTEXT, "other", NULL, 0);

  sr ();
  set_meta ("", 1);
  ck_assert_int_eq (answer_obs (o, obs_meta (2)), MV_OK);
  judged (answer (o, NBD_REP_ERR_UNSUP), MV_NOTE, NULL, "LMETA-REPLY");
  go ("");
  ck_assert_int_eq (bs_extents (1), MV_OK);
}
END_TEST

/* ===================================================================
 * NBD_OPT_INFO and NBD_OPT_GO
 * =================================================================== */

/* GO-REPLIES: "The server replies with a number of NBD_REP_INFO
 * replies (as few as zero if an error is reported, at least one on
 * success), then concludes the list of information with a final error
 * reply or with a declaration of success, as follows:"
 */
START_TEST (rule_GO_REPLIES)
{
  struct model_opt_obs x = obs_final (NBD_REP_ERR_UNKNOWN);

  ck_assert_int_eq (answer_obs (info_go (NBD_OPT_GO, "x"), x), MV_NOTE);
  x = obs_info_ack (SIZE);
  x.n_meta = 1;
  judged (answer_obs (info_go (NBD_OPT_GO, ""), x),
          MV_VIOLATION, "P0", "GO-REPLIES");
  x = obs_info_ack (SIZE);
  x.n_other = 1;
  x.other_type = 99;
  ck_assert_int_eq (answer_obs (info_go (NBD_OPT_GO, ""), x), MV_VIOLATION);
}
END_TEST

/* GO-ACK: "NBD_REP_ACK: The server accepts the chosen export, and has
 * completed providing information.  In this case, the server MUST send
 * at least one NBD_REP_INFO, with an NBD_INFO_EXPORT information type."
 */
START_TEST (rule_GO_ACK)
{
  judged (answer_obs (info_go (NBD_OPT_GO, ""), obs_final (NBD_REP_ACK)),
          MV_VIOLATION, "P0", "GO-ACK");
  judged (answer_obs (info_go (NBD_OPT_INFO, ""), obs_final (NBD_REP_ACK)),
          MV_VIOLATION, "P0", "GO-ACK");
}
END_TEST

/* GO-UNKNOWN: "NBD_REP_ERR_UNKNOWN: The chosen export does not exist on
 * this server.  In this case, the server SHOULD NOT send NBD_REP_INFO
 * replies."
 */
START_TEST (rule_GO_UNKNOWN)
{
  struct model_opt_obs x = obs_final (NBD_REP_ERR_UNKNOWN);

  judged (answer_obs (info_go (NBD_OPT_GO, "nope"), x),
          MV_NOTE, NULL, "GO-UNKNOWN");
  ck_assert (!m.transmission);
  x.n_info = 1;
  ck_assert_int_eq (answer_obs (info_go (NBD_OPT_INFO, "nope"), x), MV_NOTE);
  ck_assert_ptr_nonnull (strstr (r.msg, "NBD_REP_INFO before"));
}
END_TEST

/* GO-BSREQD: "The server MUST NOT send this error if size constraints
 * were requested with NBD_INFO_BLOCK_SIZE with the NBD_OPT_INFO or
 * NBD_OPT_GO request."
 */
START_TEST (rule_GO_BSREQD)
{
  struct model_opt o = info_go (NBD_OPT_GO, "");

  ck_assert_int_eq (answer (o, NBD_REP_ERR_BLOCK_SIZE_REQD), MV_NOTE);
  o.infos = i_bs;
  o.ninfos = 1;
  judged (answer (o, NBD_REP_ERR_BLOCK_SIZE_REQD),
          MV_VIOLATION, "P0", "GO-BSREQD");
  ck_assert_int_eq (class_of (o, NBD_REP_ERR_BLOCK_SIZE_REQD), MC_FORBIDDEN);
}
END_TEST

/* GO-UNSUP: "For backwards compatibility, clients SHOULD be prepared to
 * also handle NBD_REP_ERR_UNSUP by falling back to using
 * NBD_OPT_EXPORT_NAME."
 */
START_TEST (rule_GO_UNSUP)
{
  judged (answer (info_go (NBD_OPT_GO, ""), NBD_REP_ERR_UNSUP),
          MV_NOTE, NULL, "GO-UNSUP");
  ck_assert_int_eq (answer (info_go (NBD_OPT_EXPORT_NAME, ""), NBD_REP_ACK),
                    MV_OK);
  ck_assert (m.transmission);
}
END_TEST

/* GO-OTHER: "Other errors (such as NBD_REP_ERR_SHUTDOWN) are also
 * possible, as permitted elsewhere in this document, with no
 * constraints on the number of preceding NBD_REP_INFO."
 */
START_TEST (rule_GO_OTHER)
{
  struct model_opt_obs x = obs_final (NBD_REP_ERR_SHUTDOWN);

  x.n_info = 3;
  judged (answer_obs (info_go (NBD_OPT_GO, ""), x), MV_NOTE, NULL, "GO-OTHER");
}
END_TEST

/* GO-SAME: "If there are no intervening option requests between a
 * successful NBD_OPT_INFO (that is, one where the reply ended with a
 * final NBD_REP_ACK) and an NBD_OPT_GO with the same parameters
 * (including the list of information items requested), then the server
 * MUST reply with the same set of information, such as transmission
 * flags in the NBD_INFO_EXPORT reply, although the ordering of the
 * intermediate NBD_REP_INFO messages MAY differ."
 */
START_TEST (rule_GO_SAME)
{
  ck_assert_int_eq (answer (info_go (NBD_OPT_INFO, "e"), NBD_REP_ACK), MV_OK);
  judged (answer_obs (info_go (NBD_OPT_GO, "e"), obs_info_ack (2 * SIZE)),
          MV_VIOLATION, "P0", "GO-SAME");

  /* An intervening option lifts the constraint. */
  model_init (&m, MODEL_SELECTIVETLS);
  ck_assert_int_eq (answer (info_go (NBD_OPT_INFO, "e"), NBD_REP_ACK), MV_OK);
  ck_assert_int_eq (answer (opt (NBD_OPT_LIST), NBD_REP_ACK), MV_OK);
  ck_assert_int_eq (answer_obs (info_go (NBD_OPT_GO, "e"),
                                obs_info_ack (2 * SIZE)), MV_OK);

  /* So do different parameters. */
  model_init (&m, MODEL_SELECTIVETLS);
  ck_assert_int_eq (answer (info_go (NBD_OPT_INFO, "e"), NBD_REP_ACK), MV_OK);
  {
    struct model_opt o = info_go (NBD_OPT_GO, "e");

    o.infos = i_name;
    o.ninfos = 1;
    ck_assert_int_eq (answer_obs (o, obs_info_ack (2 * SIZE)), MV_OK);
  }
}
END_TEST

/* GO-TRANSMIT: "The only difference is that after a successful reply to
 * NBD_OPT_GO (i.e. one or more NBD_REP_INFO then an NBD_REP_ACK),
 * transmission mode is entered immediately."
 */
START_TEST (rule_GO_TRANSMIT)
{
  ck_assert (!m.transmission);
  ck_assert_int_eq (answer (info_go (NBD_OPT_GO, "e"), NBD_REP_ERR_UNKNOWN),
                    MV_NOTE);
  ck_assert (!m.transmission);
  go ("e");
  ck_assert_str_eq (m.export, "e");
}
END_TEST

/* INFO-NOSTATE: "NBD_OPT_INFO: The client wishes to get details about an
 * export with the given name for use in the transmission phase, but
 * does not yet want to move to the transmission phase."
 */
START_TEST (rule_INFO_NOSTATE)
{
  sr ();
  set_meta ("e", 1);
  ck_assert_int_eq (answer (info_go (NBD_OPT_INFO, "other"), NBD_REP_ACK),
                    MV_OK);
  ck_assert (!m.transmission);
  ck_assert_str_eq (m.meta_export, "e");
  go ("e");
  ck_assert_int_eq (bs_extents (1), MV_OK);
}
END_TEST

/* ===================================================================
 * NBD_OPT_EXPORT_NAME, NBD_OPT_LIST, NBD_OPT_ABORT
 * =================================================================== */

/* EN-REPLY: "If the value of the option field is NBD_OPT_EXPORT_NAME and
 * the server is willing to allow the export, the server replies with
 * information about the used export:"
 */
START_TEST (rule_EN_REPLY)
{
  struct model_opt_obs x = obs_final (0);

  ck_assert_int_eq (answer (info_go (NBD_OPT_EXPORT_NAME, "e"), NBD_REP_ACK),
                    MV_OK);
  ck_assert (m.transmission);
  ck_assert_str_eq (m.export, "e");
  /* An option reply instead is undecodable. */
  model_init (&m, MODEL_SELECTIVETLS);
  x.bad = true;
  x.bad_msg = "option reply";
  judged (answer_obs (info_go (NBD_OPT_EXPORT_NAME, "e"), x),
          MV_VIOLATION, "P0", "EN-REPLY");
}
END_TEST

/* EN-TERMINATE: "If the chosen export does not exist or requirements for
 * the chosen export are not met (e.g., the client did not initiate TLS
 * for an export where the server requires it), the server MUST
 * terminate the session."
 */
START_TEST (rule_EN_TERMINATE)
{
  judged (answer_closed (info_go (NBD_OPT_EXPORT_NAME, "nope")),
          MV_NOTE, NULL, "EN-TERMINATE");
  ck_assert (m.closed);
}
END_TEST

/* LIST-REPLY: "Return zero or more NBD_REP_SERVER replies, one for each
 * export, followed by NBD_REP_ACK or an error (such as
 * NBD_REP_ERR_SHUTDOWN)."  nbdkit 1.32's second LIST after STARTTLS
 * (NBD_REP_ERR_INVALID) is therefore a note.
 */
START_TEST (rule_LIST_REPLY)
{
  struct model_opt_obs x = obs_final (NBD_REP_ACK);

  x.n_server = 2;
  ck_assert_int_eq (answer_obs (opt (NBD_OPT_LIST), x), MV_OK);
  starttls ();
  judged (answer (opt (NBD_OPT_LIST), NBD_REP_ERR_INVALID),
          MV_NOTE, NULL, "LIST-REPLY");
  x.n_server = 0;
  x.n_info = 1;
  ck_assert_int_eq (answer_obs (opt (NBD_OPT_LIST), x), MV_VIOLATION);
}
END_TEST

/* LIST-PAYLOAD: "The client MUST NOT send any additional data with the
 * option, and the server SHOULD reject a request that includes data
 * with NBD_REP_ERR_INVALID."
 */
START_TEST (rule_LIST_PAYLOAD)
{
  struct model_opt o = opt (NBD_OPT_LIST);

  o.payload = true;
  ck_assert_int_eq (answer (o, NBD_REP_ERR_INVALID), MV_OK);
  judged (answer (o, NBD_REP_ACK), MV_NOTE, NULL, "LIST-PAYLOAD");
}
END_TEST

/* ABORT: "The client desires to abort the negotiation and terminate the
 * session. The server MUST reply with NBD_REP_ACK."
 */
START_TEST (rule_ABORT)
{
  ck_assert_int_eq (answer (opt (NBD_OPT_ABORT), NBD_REP_ACK), MV_OK);
  ck_assert (m.closed);
  model_init (&m, MODEL_SELECTIVETLS);
  judged (answer (opt (NBD_OPT_ABORT), NBD_REP_ERR_INVALID),
          MV_VIOLATION, "P0", "ABORT");
  /* Also before TLS in FORCEDTLS mode. */
  model_init (&m, MODEL_FORCEDTLS);
  ck_assert_int_eq (answer (opt (NBD_OPT_ABORT), NBD_REP_ACK), MV_OK);
}
END_TEST

/* ABORT-CLOSE: "Therefore the client SHOULD gracefully handle the
 * server closing the connection after receiving an NBD_OPT_ABORT
 * without it sending a reply."
 */
START_TEST (rule_ABORT_CLOSE)
{
  ck_assert_int_eq (answer_closed (opt (NBD_OPT_ABORT)), MV_OK);
  ck_assert (m.closed);
}
END_TEST

/* ===================================================================
 * General negotiation rules
 * =================================================================== */

/* GEN-REPLYHDR: "The server will reply to any option apart from
 * NBD_OPT_EXPORT_NAME with reply packets in the following format:"
 */
START_TEST (rule_GEN_REPLYHDR)
{
  struct model_opt_obs x = obs_final (0);

  x.bad = true;
  x.bad_msg = "NBD_REP_ACK for NBD_OPT_GO, but NBD_OPT_LIST was asked";
  judged (answer_obs (opt (NBD_OPT_LIST), x),
          MV_VIOLATION, "P0", "GEN-REPLYHDR");
  ck_assert (m.closed);
}
END_TEST

/* GEN-ONEOPT: "The client MUST NOT send any option until it has
 * received a final reply to any option it has sent (note that some
 * options e.g. NBD_OPT_LIST have multiple replies, and the final reply
 * is the last of those)."
 */
START_TEST (rule_GEN_ONEOPT)
{
  struct model_opt o = opt (NBD_OPT_STARTTLS);
  struct model_allowed a;

  o.inject = true;
  model_allowed (&m, &o, &a);
  ck_assert_str_eq (a.client_must, "GEN-ONEOPT");
  judged (answer_closed (o), MV_NOTE, NULL, "GEN-HARDDISC");
}
END_TEST

/* GEN-REPEAT: "The client SHOULD NOT send such messages more than once;
 * if it does, the server MAY fail the repeated message with
 * NBD_REP_ERR_INVALID."
 */
START_TEST (rule_GEN_REPEAT)
{
  ck_assert_int_eq (answer (opt (NBD_OPT_STRUCTURED_REPLY),
                            NBD_REP_ERR_INVALID), MV_VIOLATION);
  model_init (&m, MODEL_SELECTIVETLS);
  sr ();
  judged (answer (opt (NBD_OPT_STRUCTURED_REPLY), NBD_REP_ERR_INVALID),
          MV_NOTE, NULL, "GEN-REPEAT");
  ck_assert (m.sr);          /* still negotiated */
  set_meta ("", 1);
  ck_assert_int_eq (answer (meta (NBD_OPT_SET_META_CONTEXT, "", q_alloc, 1),
                            NBD_REP_ERR_INVALID), MV_NOTE);
  ck_assert_int_eq (m.meta_n, 0);
}
END_TEST

/* GEN-HARDDISC: "If either the client or the server detects a violation
 * of a mandatory condition ('MUST' etc.) by the other party, it MAY
 * initiate a hard disconnect."
 */
START_TEST (rule_GEN_HARDDISC)
{
  ck_assert_int_eq (class_of (meta (NBD_OPT_SET_META_CONTEXT, "", q_alloc,
                                    1), MODEL_CLOSE), MC_STRICTER);
  judged (answer_closed (meta (NBD_OPT_SET_META_CONTEXT, "", q_alloc, 1)),
          MV_NOTE, NULL, "GEN-HARDDISC");
}
END_TEST

/* GEN-NODISC: "In the server's case it MUST (save where set out above)
 * simply error inbound options until the client gets the hint that it
 * is unwelcome, except that if a server believes a client's behaviour
 * constitutes a denial of service, it MAY initiate a hard disconnect."
 * (P4 when the client broke no MUST)
 */
START_TEST (rule_GEN_NODISC)
{
  struct model_cmd_obs x = cmd_obs ();
  unsigned i;

  judged (answer_closed (opt (NBD_OPT_LIST)),
          MV_VIOLATION, "P4", "GEN-NODISC");
  /* "... except that if a server believes a client's behaviour
   * constitutes a denial of service": after MODEL_DOS_OPTIONS options.
   */
  model_init (&m, MODEL_SELECTIVETLS);
  for (i = 0; i < MODEL_DOS_OPTIONS; ++i)
    ck_assert_int_eq (answer (opt (0x4242), NBD_REP_ERR_UNSUP), MV_OK);
  judged (answer_closed (opt (0x4242)), MV_NOTE, NULL, "GEN-NODISC");
  model_init (&m, MODEL_SELECTIVETLS);
  go ("");
  x.closed = true;
  judged (command (NBD_CMD_READ, &x), MV_VIOLATION, "P4", "GEN-NODISC");
}
END_TEST

/* GEN-SHUTDOWN: "If the server is in the process of being shut down it
 * MAY error any inflight option and SHOULD error further options
 * received (other than an NBD_OPT_ABORT) with NBD_REP_ERR_SHUTDOWN."
 */
START_TEST (rule_GEN_SHUTDOWN)
{
  judged (answer (opt (NBD_OPT_STRUCTURED_REPLY), NBD_REP_ERR_SHUTDOWN),
          MV_NOTE, NULL, "GEN-SHUTDOWN");
  ck_assert_int_eq (answer (opt (NBD_OPT_STARTTLS), NBD_REP_ERR_SHUTDOWN),
                    MV_NOTE);
}
END_TEST

/* GEN-UNSUP: "The option sent by the client is unknown by this server
 * implementation (e.g., because the server is too old, or from another
 * source)."
 */
START_TEST (rule_GEN_UNSUP)
{
  ck_assert_int_eq (answer (opt (0x4242), NBD_REP_ERR_UNSUP), MV_OK);
  judged (answer (opt (0x4242), NBD_REP_ACK), MV_VIOLATION, "P0", "GEN-UNSUP");
  ck_assert_int_eq (answer (meta (NBD_OPT_SET_META_CONTEXT, "", q_alloc, 1),
                            NBD_REP_ERR_UNSUP), MV_NOTE);
}
END_TEST

/* GEN-POLICY: "The option sent by the client is known by this server
 * and syntactically valid, but server-side policy forbids the server to
 * allow the option (e.g., the client sent NBD_OPT_LIST but server
 * configuration has that disabled)"
 */
START_TEST (rule_GEN_POLICY)
{
  judged (answer (opt (NBD_OPT_STRUCTURED_REPLY), NBD_REP_ERR_POLICY),
          MV_NOTE, NULL, "GEN-POLICY");
  ck_assert (!m.sr);
}
END_TEST

/* GEN-UNKNOWN: "The requested export is not available." */
START_TEST (rule_GEN_UNKNOWN)
{
  sr ();
  judged (answer (meta (NBD_OPT_SET_META_CONTEXT, "nope", q_alloc,
                        1), NBD_REP_ERR_UNKNOWN),
          MV_NOTE, NULL, "GEN-UNKNOWN");
}
END_TEST

/* P4-TIMEOUT (the harness's liveness property, not a sentence of the
 * spec): "Every read has a deadline (--timeout): a server that neither
 * answers nor closes the connection within it hangs, which is a
 * finding."
 */
START_TEST (rule_P4_TIMEOUT)
{
  struct model_opt_obs x = obs_final (0);
  struct model_cmd_obs c = cmd_obs ();

  x.timeout = true;
  judged (answer_obs (opt (NBD_OPT_LIST), x),
          MV_VIOLATION, "P4", "P4-TIMEOUT");
  model_init (&m, MODEL_SELECTIVETLS);
  go ("");
  c.timeout = true;
  judged (command (NBD_CMD_BLOCK_STATUS, &c),
          MV_VIOLATION, "P4", "P4-TIMEOUT");
}
END_TEST

START_TEST (describe_state)
{
  char buf[512];

  sr ();
  set_meta ("e", 1);
  starttls ();
  sr ();
  go ("e");
  model_describe (&m, buf, sizeof buf);
  ck_assert_str_eq (buf, "SELECTIVETLS, TLS on (epoch 1), SR yes, meta 1 "
                    "context(s) for \"e\" in epoch 0, transmission on \"e\"");
  model_describe (&m, buf, 8);
  ck_assert_int_eq (strlen (buf), 7);
  ck_assert_str_eq (model_class_name (MC_STRICTER), "stricter");
  ck_assert_str_eq (model_mode_name (MODEL_FORCEDTLS), "FORCEDTLS");
}
END_TEST

/* ===================================================================
 * The suite, and the check of its rule tests against the rule table
 * =================================================================== */

/* Defined below the table it checks. */
static const TTest *rules_all_tested;

/* Every test of the suite, in its test cases.  A RULE_TEST row names
 * the rule of model_rules[] that its test is about: rules_all_tested
 * checks this table, the one that registers the tests, against the
 * model's rule table.
 */
#define RULE_TEST(id, t) { .test = &(t), .tag = (id) }

static const struct tap_row model_tests[] = {
  TAP_CASE ("starttls", .setup = setup_selective),
  RULE_TEST ("TLS-ACK", rule_TLS_ACK),
  RULE_TEST ("TLS-AGAIN", rule_TLS_AGAIN),
  RULE_TEST ("TLS-CLIENT-AGAIN", rule_TLS_CLIENT_AGAIN),
  RULE_TEST ("TLS-PAYLOAD", rule_TLS_PAYLOAD),
  RULE_TEST ("TLS-RESET", rule_TLS_RESET),
  RULE_TEST ("TLS-HANDSHAKE", rule_TLS_HANDSHAKE),
  RULE_TEST ("TLS-NOTLS", rule_TLS_NOTLS),
  RULE_TEST ("TLS-NOTLS-REQD", rule_TLS_NOTLS_REQD),
  RULE_TEST ("TLS-FORCED", rule_TLS_FORCED),
  RULE_TEST ("TLS-FORCED-EN", rule_TLS_FORCED_EN),
  RULE_TEST ("TLS-FORCED-GO", rule_TLS_FORCED_GO),
  RULE_TEST ("TLS-FORCED-NOINFO", rule_TLS_FORCED_NOINFO),
  RULE_TEST ("TLS-AFTER-REQD", rule_TLS_AFTER_REQD),
  RULE_TEST ("TLS-SEL-REQD", rule_TLS_SEL_REQD),
  RULE_TEST ("TLS-SEL-INFO", rule_TLS_SEL_INFO),
  TAP_CASE ("tls_only", .setup = setup_tls_only),
  RULE_TEST ("TLS-ONLY-REQD", rule_TLS_ONLY_REQD),
  RULE_TEST ("TLS-ONLY-TRANSMIT", rule_TLS_ONLY_TRANSMIT),
  RULE_TEST ("TLS-ONLY-EN", rule_TLS_ONLY_EN),
  TAP_CASE ("structured_reply", .setup = setup_selective),
  RULE_TEST ("SR-ACK", rule_SR_ACK),
  RULE_TEST ("SR-UNSUP", rule_SR_UNSUP),
  RULE_TEST ("SR-PAYLOAD", rule_SR_PAYLOAD),
  RULE_TEST ("SR-RENEG", rule_SR_RENEG),
  RULE_TEST ("SR-ONLY", rule_SR_ONLY),
  RULE_TEST ("SR-SIMPLE", rule_SR_SIMPLE),
  RULE_TEST ("SR-READ", rule_SR_READ),
  TAP_CASE ("meta_context", .setup = setup_selective),
  RULE_TEST ("META-REPLACE", rule_META_REPLACE),
  RULE_TEST ("META-NOSR", rule_META_NOSR),
  RULE_TEST ("META-EMPTY", rule_META_EMPTY),
  RULE_TEST ("META-REPLY", rule_META_REPLY),
  RULE_TEST ("META-TOOBIG", rule_META_TOOBIG),
  RULE_TEST ("META-BASE", rule_META_BASE),
  RULE_TEST ("META-BS", rule_META_BS),
  RULE_TEST ("META-EINVAL", rule_META_EINVAL),
  RULE_TEST ("BS-STRUCT", rule_BS_STRUCT),
  RULE_TEST ("BS-CHUNKS", rule_BS_CHUNKS),
  RULE_TEST ("BS-ERROR", rule_BS_ERROR),
  RULE_TEST ("LMETA-NOSR", rule_LMETA_NOSR),
  RULE_TEST ("LMETA-REPLY", rule_LMETA_REPLY),
  TAP_CASE ("info_go", .setup = setup_selective),
  RULE_TEST ("GO-REPLIES", rule_GO_REPLIES),
  RULE_TEST ("GO-ACK", rule_GO_ACK),
  RULE_TEST ("GO-UNKNOWN", rule_GO_UNKNOWN),
  RULE_TEST ("GO-BSREQD", rule_GO_BSREQD),
  RULE_TEST ("GO-UNSUP", rule_GO_UNSUP),
  RULE_TEST ("GO-OTHER", rule_GO_OTHER),
  RULE_TEST ("GO-SAME", rule_GO_SAME),
  RULE_TEST ("GO-TRANSMIT", rule_GO_TRANSMIT),
  RULE_TEST ("INFO-NOSTATE", rule_INFO_NOSTATE),
  TAP_CASE ("other_options", .setup = setup_selective),
  RULE_TEST ("EN-REPLY", rule_EN_REPLY),
  RULE_TEST ("EN-TERMINATE", rule_EN_TERMINATE),
  RULE_TEST ("LIST-REPLY", rule_LIST_REPLY),
  RULE_TEST ("LIST-PAYLOAD", rule_LIST_PAYLOAD),
  RULE_TEST ("ABORT", rule_ABORT),
  RULE_TEST ("ABORT-CLOSE", rule_ABORT_CLOSE),
  TAP_CASE ("general", .setup = setup_selective),
  RULE_TEST ("GEN-REPLYHDR", rule_GEN_REPLYHDR),
  RULE_TEST ("GEN-ONEOPT", rule_GEN_ONEOPT),
  RULE_TEST ("GEN-REPEAT", rule_GEN_REPEAT),
  RULE_TEST ("GEN-HARDDISC", rule_GEN_HARDDISC),
  RULE_TEST ("GEN-NODISC", rule_GEN_NODISC),
  RULE_TEST ("GEN-SHUTDOWN", rule_GEN_SHUTDOWN),
  RULE_TEST ("GEN-UNSUP", rule_GEN_UNSUP),
  RULE_TEST ("GEN-POLICY", rule_GEN_POLICY),
  RULE_TEST ("GEN-UNKNOWN", rule_GEN_UNKNOWN),
  RULE_TEST ("P4-TIMEOUT", rule_P4_TIMEOUT),
  TAP_TEST (rules_all_tested),
  TAP_TEST (describe_state),
};

/* The row of model_tests for the rule id, or NULL. */
static const struct tap_row *
rule_row (const char *id)
{
  size_t i;

  for (i = 0; i < ARRAY_SIZE (model_tests); ++i)
    if (model_tests[i].tag && strcmp (model_tests[i].tag, id) == 0)
      return &model_tests[i];
  return NULL;
}

START_TEST (rules_all_tested)
{
  size_t i, j;

  /* Every rule of the model has a registered test, ... */
  for (i = 0; i < model_nrules; ++i) {
    ck_assert_msg (rule_row (model_rules[i].id) != NULL,
                   "rule %s has no test", model_rules[i].id);
    for (j = i + 1; j < model_nrules; ++j)
      ck_assert_str_ne (model_rules[i].id, model_rules[j].id);
    ck_assert (strlen (model_rules[i].text) > 20);
    ck_assert (strlen (model_rules[i].where) > 0);
  }
  /* ... and every rule test names a rule of the model, once, and is
   * the test named after it (RULE_TEST ("TLS-ACK", rule_TLS_ACK)).
   */
  for (i = 0; i < ARRAY_SIZE (model_tests); ++i) {
    const char *id = model_tests[i].tag;
    const char *name;
    size_t k;

    if (id == NULL)
      continue;
    ck_assert_msg (model_rule (id) != NULL, "no rule %s", id);
    ck_assert_msg (rule_row (id) == &model_tests[i],
                   "rule %s has two tests", id);
    name = (*model_tests[i].test)->name;
    ck_assert_msg (strncmp (name, "rule_", 5) == 0 &&
                   strlen (name + 5) == strlen (id),
                   "test %s is not named after rule %s", name, id);
    for (k = 0; id[k]; ++k)
      ck_assert_msg (name[5 + k] == (id[k] == '-' ? '_' : id[k]),
                     "test %s is not named after rule %s", name, id);
  }
  ck_assert_ptr_null (model_rule ("NO-SUCH-RULE"));
  ck_assert_ptr_null (model_rule (NULL));
}
END_TEST

TAP_MAIN ("model", model_tests)
