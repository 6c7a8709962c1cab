/* tlsguard test harness: a reference model of the NBD negotiation
 * rules around NBD_OPT_STARTTLS (see model.h).
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * The rules below quote the NBD protocol (markup removed), each with
 * the section it comes from.  model_allowed builds, for one option in
 * one state, the table of answers the spec allows, each with its class
 * and the rule that allows it (one function per option); model_option
 * and model_cmd judge what the server did against those tables and
 * apply the state changes the spec prescribes.  Where a sentence
 * leaves a choice (a server "MAY" refuse, "SHOULD" reject), the table
 * holds every answer the sentence permits.
 */

#include <config.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "wire.h"

/* --- the rules ------------------------------------------------------ */

const struct model_rule model_rules[] = {
  /* NBD_OPT_STARTTLS and the TLS modes. */
  { "TLS-ACK", "TLS support, SELECTIVETLS mode",
    "If the server receives NBD_OPT_STARTTLS prior to negotiating TLS, it "
    "MUST reply with NBD_REP_ACK and initiate TLS as set out under "
    "'FORCEDTLS' above." },
  { "TLS-AGAIN", "TLS support, SELECTIVETLS mode",
    "If the server receives NBD_OPT_STARTTLS when TLS has already been "
    "negotiated, it it MUST reply with NBD_REP_ERR_INVALID." },
  { "TLS-CLIENT-AGAIN", "TLS support, Client-side requirements",
    "The client MUST NOT issue NBD_OPT_STARTTLS if TLS has already been "
    "initiated." },
  { "TLS-PAYLOAD", "Option types, NBD_OPT_STARTTLS",
    "The client MUST NOT send any additional data with the option.  The "
    "server MUST either reply with NBD_REP_ACK after which point the "
    "connection is upgraded to TLS, or an error reply explicitly permitted "
    "by this document (for example, NBD_REP_ERR_INVALID if the client "
    "included data)." },
  { "TLS-RESET", "Option types, NBD_OPT_STARTTLS",
    "When this command succeeds, the server MUST NOT preserve any "
    "negotiation state (such as a request for NBD_OPT_STRUCTURED_REPLY, or "
    "metadata contexts from NBD_OPT_SET_META_CONTEXT) issued before this "
    "command." },
  { "TLS-HANDSHAKE", "TLS support, FORCEDTLS mode",
    "After an NBD_REP_ACK reply has been sent, the server MUST be prepared "
    "for a TLS handshake, and all further data MUST be sent and received "
    "over TLS." },
  { "TLS-NOTLS", "TLS support, NOTLS mode",
    "If the server receives NBD_OPT_STARTTLS it MUST respond with "
    "NBD_REP_ERR_POLICY (if it does not support TLS for policy reasons), "
    "NBD_REP_ERR_UNSUP (if it does not support the NBD_OPT_STARTTLS option "
    "at all) or another error explicitly permitted by this document." },
  { "TLS-NOTLS-REQD", "TLS support, NOTLS mode",
    "The server MUST NOT respond to any option request with "
    "NBD_REP_ERR_TLS_REQD." },
  { "TLS-FORCED", "TLS support, FORCEDTLS mode",
    "If the server receives any other option, including NBD_OPT_INFO and "
    "unsupported options, it MUST reply with NBD_REP_ERR_TLS_REQD if TLS "
    "has not been initiated; NBD_OPT_INFO is included as in this mode, all "
    "exports are TLS-only." },
  { "TLS-FORCED-EN", "TLS support, FORCEDTLS mode",
    "If the server receives a request to enter transmission mode via "
    "NBD_OPT_EXPORT_NAME when TLS has not been initiated, then as this "
    "request cannot error, it MUST terminate the session." },
  { "TLS-FORCED-GO", "TLS support, FORCEDTLS mode",
    "If the server receives a request to enter transmission mode via "
    "NBD_OPT_GO when TLS has not been initiated, it MUST error with "
    "NBD_REP_ERR_TLS_REQD." },
  { "TLS-FORCED-NOINFO", "Option types, NBD_OPT_INFO and NBD_OPT_GO",
    "In this case, a FORCEDTLS server MUST NOT send NBD_REP_INFO replies, "
    "but a SELECTIVETLS server MAY do so if this is a TLS-only export." },
  { "TLS-AFTER-REQD", "TLS support, SELECTIVETLS mode",
    "The server MUST NOT send NBD_REP_ERR_TLS_REQD in reply to any option "
    "if TLS has already been negotiated." },
  { "TLS-SEL-REQD", "TLS support, SELECTIVETLS mode",
    "The server MUST NOT send NBD_REP_ERR_TLS_REQD in response to any "
    "option other than NBD_OPT_INFO, NBD_OPT_GO and NBD_OPT_EXPORT_NAME, "
    "and only in those cases in respect of a TLS-only or non-existent "
    "export." },
  { "TLS-SEL-INFO", "TLS support, SELECTIVETLS mode",
    "If the server receives NBD_OPT_INFO or NBD_OPT_GO and TLS has not "
    "been initiated, it MAY reply with NBD_REP_ERR_TLS_REQD if that export "
    "is non-existent, and MUST reply with NBD_REP_ERR_TLS_REQD if that "
    "export is TLS-only." },

  /* TLS-only exports of a SELECTIVETLS server (P5; the prober names
   * the export with --tls-only-export).
   */
  { "TLS-ONLY-REQD", "TLS support, SELECTIVETLS mode",
    "If the server receives NBD_OPT_INFO or NBD_OPT_GO and TLS has not "
    "been initiated, it [...] MUST reply with NBD_REP_ERR_TLS_REQD if that "
    "export is TLS-only." },
  { "TLS-ONLY-TRANSMIT", "TLS support, Server-side requirements",
    "Instead it permits the client to upgrade as and when it chooses, but "
    "unless an upgrade to TLS has already taken place, the server errors "
    "attempts to enter transmission mode on TLS-only exports" },
  { "TLS-ONLY-EN", "TLS support, SELECTIVETLS mode",
    "If the server receives a request to enter transmission mode via "
    "NBD_OPT_EXPORT_NAME on a TLS-only export when TLS has not been "
    "initiated, then as this request cannot error, it MUST terminate the "
    "session." },

  /* NBD_OPT_STRUCTURED_REPLY and structured replies. */
  { "SR-ACK", "Option types, NBD_OPT_STRUCTURED_REPLY",
    "NBD_REP_ACK: Structured replies have been negotiated; the server MUST "
    "use structured replies to the NBD_CMD_READ transmission request." },
  { "SR-UNSUP", "Option types, NBD_OPT_STRUCTURED_REPLY",
    "For backwards compatibility, clients SHOULD be prepared to also "
    "handle NBD_REP_ERR_UNSUP; in this case, no structured replies will be "
    "sent." },
  { "SR-PAYLOAD", "Option types, NBD_OPT_STRUCTURED_REPLY",
    "The client MUST NOT send any additional data with the option, and the "
    "server SHOULD reject a request that includes data with "
    "NBD_REP_ERR_INVALID." },
  { "SR-RENEG", "Option types, NBD_OPT_STRUCTURED_REPLY",
    "If the client requests NBD_OPT_STARTTLS after this option, it MUST "
    "renegotiate structured replies and any other dependent extensions "
    "that it desires to use." },
  { "SR-ONLY", "Transmission, Structured reply chunk message",
    "The server MUST NOT send this reply type unless the client has "
    "successfully negotiated structured replies via "
    "NBD_OPT_STRUCTURED_REPLY." },
  { "SR-SIMPLE", "Transmission, Simple reply message",
    "The simple reply message MUST be sent by the server in response to "
    "all requests if structured replies have not been negotiated using "
    "NBD_OPT_STRUCTURED_REPLY." },
  { "SR-READ", "Transmission, Structured reply chunk message",
    "Conversely, if structured replies are negotiated, the server MUST use "
    "a structured reply for any response with a payload, and MUST NOT use "
    "a simple reply for NBD_CMD_READ (even for the case of an early "
    "NBD_EINVAL due to bad flags), but MAY use either a simple reply or a "
    "structured reply to all other requests." },

  /* NBD_OPT_SET_META_CONTEXT, NBD_OPT_LIST_META_CONTEXT, block status. */
  { "META-REPLACE", "Option types, NBD_OPT_SET_META_CONTEXT",
    "Issuing this command replaces all previously-set metadata contexts "
    "(including when this command fails); clients must ensure that all "
    "metadata contexts they are interested in are selected with the final "
    "query that they sent." },
  { "META-NOSR", "Option types, NBD_OPT_SET_META_CONTEXT",
    "This option MUST NOT be requested unless structured replies have been "
    "negotiated first. If a client attempts to do so, a server SHOULD send "
    "NBD_REP_ERR_INVALID." },
  { "META-EMPTY", "Option types, NBD_OPT_SET_META_CONTEXT",
    "If zero queries are sent, the server MUST select no metadata "
    "contexts." },
  { "META-REPLY", "Option types, NBD_OPT_SET_META_CONTEXT",
    "Otherwise the server MUST reply with a number of NBD_REP_META_CONTEXT "
    "replies, one for each selected metadata context, each with a unique "
    "metadata context ID, followed by NBD_REP_ACK." },
  { "META-TOOBIG", "Option types, NBD_OPT_SET_META_CONTEXT",
    "The server MAY return NBD_REP_ERR_TOO_BIG if a request seeks to "
    "select too many contexts." },
  { "META-BASE", "Metadata querying, The base: metadata namespace",
    "base: - the server MUST ignore this form during "
    "NBD_OPT_SET_META_CONTEXT, and MUST support this as a wildcard during "
    "NBD_OPT_LIST_META_CONTEXT" },
  { "META-BS", "Option types, NBD_OPT_SET_META_CONTEXT",
    "A client MUST NOT send NBD_CMD_BLOCK_STATUS unless within the "
    "negotiation phase it sent NBD_OPT_SET_META_CONTEXT at least once, and "
    "where the final time it was sent, it referred to the same export name "
    "that was ultimately selected for transmission phase with no "
    "intervening NBD_OPT_STARTTLS, and where the server responded by "
    "returning least one metadata context without error." },
  { "META-EINVAL", "Metadata querying",
    "Servers SHOULD reply with NBD_EINVAL to clients sending "
    "NBD_CMD_BLOCK_STATUS without selecting at least one metadata "
    "context." },
  { "BS-STRUCT", "Metadata querying",
    "The reply to the NBD_CMD_BLOCK_STATUS request MUST be sent as a "
    "structured reply; this implies that in order to use metadata "
    "querying, structured replies MUST be negotiated first." },
  { "BS-CHUNKS", "Request types, NBD_CMD_BLOCK_STATUS",
    "For a successful return, the server MUST use a structured reply, "
    "containing exactly one chunk of type NBD_REPLY_TYPE_BLOCK_STATUS per "
    "selected context id, where the status field of each descriptor is "
    "determined by the flags field as defined by the metadata context." },
  { "BS-ERROR", "Request types, NBD_CMD_BLOCK_STATUS",
    "If an error occurs, the server SHOULD set the appropriate error code "
    "in the error field of an error chunk." },
  { "LMETA-NOSR", "Option types, NBD_OPT_LIST_META_CONTEXT",
    "This option SHOULD NOT be requested unless structured replies have "
    "been negotiated first. If a client attempts to do so, a server MAY "
    "send NBD_REP_ERR_INVALID." },
  { "LMETA-REPLY", "Option types, NBD_OPT_LIST_META_CONTEXT",
    "The server MUST reply with a list of zero or more "
    "NBD_REP_META_CONTEXT replies, followed by either a final NBD_REP_ACK "
    "on success or by an error (for instance NBD_REP_ERR_UNSUP if the "
    "option is not supported)." },

  /* NBD_OPT_INFO and NBD_OPT_GO. */
  { "GO-REPLIES", "Option types, NBD_OPT_INFO and NBD_OPT_GO",
    "The server replies with a number of NBD_REP_INFO replies (as few as "
    "zero if an error is reported, at least one on success), then "
    "concludes the list of information with a final error reply or with a "
    "declaration of success, as follows:" },
  { "GO-ACK", "Option types, NBD_OPT_INFO and NBD_OPT_GO",
    "NBD_REP_ACK: The server accepts the chosen export, and has completed "
    "providing information.  In this case, the server MUST send at least "
    "one NBD_REP_INFO, with an NBD_INFO_EXPORT information type." },
  { "GO-UNKNOWN", "Option types, NBD_OPT_INFO and NBD_OPT_GO",
    "NBD_REP_ERR_UNKNOWN: The chosen export does not exist on this server.  "
    "In this case, the server SHOULD NOT send NBD_REP_INFO replies." },
  { "GO-BSREQD", "Option types, NBD_OPT_INFO and NBD_OPT_GO",
    "The server MUST NOT send this error if size constraints were "
    "requested with NBD_INFO_BLOCK_SIZE with the NBD_OPT_INFO or "
    "NBD_OPT_GO request." },
  { "GO-UNSUP", "Option types, NBD_OPT_INFO and NBD_OPT_GO",
    "For backwards compatibility, clients SHOULD be prepared to also "
    "handle NBD_REP_ERR_UNSUP by falling back to using "
    "NBD_OPT_EXPORT_NAME." },
  { "GO-OTHER", "Option types, NBD_OPT_INFO and NBD_OPT_GO",
    "Other errors (such as NBD_REP_ERR_SHUTDOWN) are also possible, as "
    "permitted elsewhere in this document, with no constraints on the "
    "number of preceding NBD_REP_INFO." },
  { "GO-SAME", "Option types, NBD_OPT_INFO and NBD_OPT_GO",
    "If there are no intervening option requests between a successful "
    "NBD_OPT_INFO (that is, one where the reply ended with a final "
    "NBD_REP_ACK) and an NBD_OPT_GO with the same parameters (including "
    "the list of information items requested), then the server MUST reply "
    "with the same set of information, such as transmission flags in the "
    "NBD_INFO_EXPORT reply, although the ordering of the intermediate "
    "NBD_REP_INFO messages MAY differ." },
  { "GO-TRANSMIT", "Option types, NBD_OPT_INFO and NBD_OPT_GO",
    "The only difference is that after a successful reply to NBD_OPT_GO "
    "(i.e. one or more NBD_REP_INFO then an NBD_REP_ACK), transmission "
    "mode is entered immediately." },
  { "INFO-NOSTATE", "Option types, NBD_OPT_INFO and NBD_OPT_GO",
    "NBD_OPT_INFO: The client wishes to get details about an export with "
    "the given name for use in the transmission phase, but does not yet "
    "want to move to the transmission phase." },

  /* NBD_OPT_EXPORT_NAME, NBD_OPT_LIST, NBD_OPT_ABORT. */
  { "EN-REPLY", "Newstyle negotiation",
    "If the value of the option field is NBD_OPT_EXPORT_NAME and the "
    "server is willing to allow the export, the server replies with "
    "information about the used export:" },
  { "EN-TERMINATE", "Option types, NBD_OPT_EXPORT_NAME",
    "If the chosen export does not exist or requirements for the chosen "
    "export are not met (e.g., the client did not initiate TLS for an "
    "export where the server requires it), the server MUST terminate the "
    "session." },
  { "LIST-REPLY", "Option types, NBD_OPT_LIST",
    "Return zero or more NBD_REP_SERVER replies, one for each export, "
    "followed by NBD_REP_ACK or an error (such as NBD_REP_ERR_SHUTDOWN)." },
  { "LIST-PAYLOAD", "Option types, NBD_OPT_LIST",
    "The client MUST NOT send any additional data with the option, and the "
    "server SHOULD reject a request that includes data with "
    "NBD_REP_ERR_INVALID." },
  { "ABORT", "Option types, NBD_OPT_ABORT",
    "The client desires to abort the negotiation and terminate the "
    "session. The server MUST reply with NBD_REP_ACK." },
  { "ABORT-CLOSE", "Option types, NBD_OPT_ABORT",
    "Therefore the client SHOULD gracefully handle the server closing the "
    "connection after receiving an NBD_OPT_ABORT without it sending a "
    "reply." },

  /* General negotiation rules. */
  { "GEN-REPLYHDR", "Fixed newstyle negotiation",
    "The server will reply to any option apart from NBD_OPT_EXPORT_NAME "
    "with reply packets in the following format:" },
  { "GEN-ONEOPT", "Fixed newstyle negotiation",
    "The client MUST NOT send any option until it has received a final "
    "reply to any option it has sent (note that some options e.g. "
    "NBD_OPT_LIST have multiple replies, and the final reply is the last "
    "of those)." },
  { "GEN-REPEAT", "Fixed newstyle negotiation",
    "The client SHOULD NOT send such messages more than once; if it does, "
    "the server MAY fail the repeated message with NBD_REP_ERR_INVALID." },
  { "GEN-HARDDISC", "Termination of the session during option haggling",
    "If either the client or the server detects a violation of a mandatory "
    "condition ('MUST' etc.) by the other party, it MAY initiate a hard "
    "disconnect." },
  { "GEN-NODISC", "Termination of the session during option haggling",
    "In the server's case it MUST (save where set out above) simply error "
    "inbound options until the client gets the hint that it is unwelcome, "
    "except that if a server believes a client's behaviour constitutes a "
    "denial of service, it MAY initiate a hard disconnect." },
  { "GEN-SHUTDOWN", "Termination of the session during option haggling",
    "If the server is in the process of being shut down it MAY error any "
    "inflight option and SHOULD error further options received (other "
    "than an NBD_OPT_ABORT) with NBD_REP_ERR_SHUTDOWN." },
  { "GEN-UNSUP", "Option reply types, NBD_REP_ERR_UNSUP",
    "The option sent by the client is unknown by this server "
    "implementation (e.g., because the server is too old, or from another "
    "source)." },
  { "GEN-POLICY", "Option reply types, NBD_REP_ERR_POLICY",
    "The option sent by the client is known by this server and "
    "syntactically valid, but server-side policy forbids the server to "
    "allow the option (e.g., the client sent NBD_OPT_LIST but server "
    "configuration has that disabled)" },
  { "GEN-UNKNOWN", "Option reply types, NBD_REP_ERR_UNKNOWN",
    "The requested export is not available." },

  /* Not a sentence of the spec: the harness's own liveness property. */
  { "P4-TIMEOUT", "nbd-probe (not the spec)",
    "Every read has a deadline (--timeout): a server that neither answers "
    "nor closes the connection within it hangs, which is a finding." },
};
const size_t model_nrules = sizeof model_rules / sizeof model_rules[0];

const struct model_rule *
model_rule (const char *id)
{
  size_t i;

  if (id == NULL)
    return NULL;
  for (i = 0; i < model_nrules; ++i)
    if (strcmp (model_rules[i].id, id) == 0)
      return &model_rules[i];
  return NULL;
}

const char *
model_class_name (enum model_class c)
{
  switch (c) {
  case MC_FORBIDDEN: return "forbidden";
  case MC_ACCEPT: return "accept";
  case MC_REQUIRED: return "required";
  case MC_STRICTER: return "stricter";
  case MC_LAX: return "lax";
  case MC_DEVIATION: return "deviation";
  }
  return "?";
}

const char *
model_mode_name (enum model_mode mode)
{
  switch (mode) {
  case MODEL_NOTLS: return "NOTLS";
  case MODEL_SELECTIVETLS: return "SELECTIVETLS";
  case MODEL_FORCEDTLS: return "FORCEDTLS";
  }
  return "?";
}

/* --- small helpers -------------------------------------------------- */

static void
copy_name (char *dst, const char *src)
{
  size_t n = src ? strlen (src) : 0;

  if (n > MODEL_MAX_NAME)
    n = MODEL_MAX_NAME;
  if (n)
    memcpy (dst, src, n);
  dst[n] = '\0';
}

static bool
name_eq (const char *kept, const char *name)
{
  return strncmp (kept, name ? name : "", MODEL_MAX_NAME) == 0;
}

static const char *
answer_name (uint32_t type)
{
  return type == MODEL_CLOSE ? "a hard disconnect" : wire_rep_name (type);
}

static void
result_set (struct model_result *r, enum model_verdict v, const char *prop,
            const char *rule, const char *fmt, ...)
  __attribute__ ((format (printf, 5, 6)));

/* Set the verdict, unless r already holds a more severe one or a
 * violation (the first violation stands; a later note is more specific
 * than an earlier one).
 */
static void
result_set (struct model_result *r, enum model_verdict v, const char *prop,
            const char *rule, const char *fmt, ...)
{
  va_list ap;

  if (v < r->v || (v == MV_VIOLATION && r->v == MV_VIOLATION))
    return;
  r->v = v;
  r->prop = prop;
  r->rule = rule;
  va_start (ap, fmt);
  vsnprintf (r->msg, sizeof r->msg, fmt, ap);
  va_end (ap);
}

static void
result_init (struct model_result *r)
{
  memset (r, 0, sizeof *r);
  r->v = MV_OK;
}

/* A note for an answer of class c (MC_STRICTER or MC_LAX). */
static void
note_class (struct model_result *r, enum model_class c, const char *rule,
            const char *what, uint32_t type)
{
  if (c == MC_STRICTER)
    result_set (r, MV_NOTE, NULL, rule, "%s answered %s: a refusal the spec "
                "permits, though the option could have succeeded", what,
                answer_name (type));
  else if (c == MC_LAX)
    result_set (r, MV_NOTE, NULL, rule, "%s answered %s: permitted, but "
                "the spec says the server SHOULD do otherwise", what,
                answer_name (type));
  else if (c == MC_DEVIATION)
    result_set (r, MV_DEVIATION, NULL, rule, "%s answered %s: a refusal, "
                "as the spec requires, but its MUST names "
                "NBD_REP_ERR_TLS_REQD (a spec deviation; the export stayed "
                "closed)", what, answer_name (type));
}

/* --- state ---------------------------------------------------------- */

void
model_init (struct model *m, enum model_mode mode)
{
  memset (m, 0, sizeof *m);
  m->mode = mode;
}

void
model_set_tls_only (struct model *m, const char *name)
{
  m->has_tls_only = true;
  copy_name (m->tls_only, name);
}

/* P5 applies to an option that names the TLS-only export before TLS
 * on a SELECTIVETLS server.  In FORCEDTLS mode every export is
 * TLS-only and the TLS-FORCED rules say the same; a NOTLS server has
 * no TLS-only exports.
 */
static bool
tls_only_applies (const struct model *m, const struct model_opt *o)
{
  return m->has_tls_only && m->mode == MODEL_SELECTIVETLS && !m->tls &&
    (o->opt == NBD_OPT_INFO || o->opt == NBD_OPT_GO ||
     o->opt == NBD_OPT_EXPORT_NAME) &&
    name_eq (m->tls_only, o->export);
}

bool
model_block_status_valid (const struct model *m, const char **why)
{
  const char *w = NULL;

  if (!m->transmission)
    w = "not in the transmission phase";
  else if (!m->meta_sent)
    w = "no NBD_OPT_SET_META_CONTEXT was sent";
  else if (m->meta_epoch != m->epoch)
    w = "the last NBD_OPT_SET_META_CONTEXT came before NBD_OPT_STARTTLS";
  else if (m->meta_n == 0)
    w = "the last NBD_OPT_SET_META_CONTEXT returned no context";
  else if (!name_eq (m->meta_export, m->export))
    w = "the last NBD_OPT_SET_META_CONTEXT named another export than the "
      "one chosen for transmission";
  else if (!m->sr)
    w = "structured replies were not negotiated after the last "
      "NBD_OPT_STARTTLS";
  if (why)
    *why = w;
  return w == NULL;
}

void
model_describe (const struct model *m, char *buf, size_t len)
{
  int n;

  n = snprintf (buf, len, "%s, TLS %s (epoch %u), SR %s", model_mode_name
                (m->mode), m->tls ? "on" : "off", m->epoch,
                m->sr ? "yes" : "no");
  if (n < 0 || (size_t) n >= len)
    return;
  if (m->meta_sent)
    n += snprintf (buf + n, len - n, ", meta %zu context(s) for \"%.64s\" "
                   "in epoch %u", m->meta_n, m->meta_export, m->meta_epoch);
  else
    n += snprintf (buf + n, len - n, ", no meta");
  if (n < 0 || (size_t) n >= len)
    return;
  if (m->transmission)
    snprintf (buf + n, len - n, ", transmission on \"%.64s\"", m->export);
  else if (m->closed)
    snprintf (buf + n, len - n, ", closed");
}

/* --- allowed answers to options ------------------------------------- */

/* Add an entry unless type is already there (earlier entries, the
 * more specific rules, win).
 */
static void
allow (struct model_allowed *a, uint32_t type, enum model_class c,
       const char *rule)
{
  size_t i;

  for (i = 0; i < a->n; ++i)
    if (a->e[i].type == type)
      return;
  if (a->n < MODEL_MAX_ALLOWED) {
    a->e[a->n].type = type;
    a->e[a->n].cls = c;
    a->e[a->n].rule = rule;
    a->n++;
  }
}

/* The rule that defines the set, and the one answer it names. */
static void
rule_allows (struct model_allowed *a, const char *rule, uint32_t type,
             enum model_class c)
{
  a->rule = rule;
  allow (a, type, c, rule);
}

/* The usual answer to an option is NBD_REP_ACK under ok_rule, unless
 * the client broke the MUST named broken_rule: then the server must
 * refuse with NBD_REP_ERR_INVALID, and an ACK is lax, not a violation.
 */
static void
ack_unless_broken (struct model_allowed *a, bool broken,
                   const char *broken_rule, const char *ok_rule)
{
  if (broken) {
    a->client_must = broken_rule;
    allow (a, NBD_REP_ERR_INVALID, MC_REQUIRED, broken_rule);
    allow (a, NBD_REP_ACK, MC_LAX, broken_rule);
  }
  else
    allow (a, NBD_REP_ACK, MC_ACCEPT, ok_rule);
}

/* Refusals every option defined by the spec but STARTTLS, ABORT and
 * EXPORT_NAME may get.
 */
static void
allow_generic (struct model_allowed *a)
{
  allow (a, NBD_REP_ERR_UNSUP, MC_STRICTER, "GEN-UNSUP");
  allow (a, NBD_REP_ERR_POLICY, MC_STRICTER, "GEN-POLICY");
  allow (a, NBD_REP_ERR_SHUTDOWN, MC_STRICTER, "GEN-SHUTDOWN");
}

/* Every error reply the spec defines (NBD_REP_ERR_UNSUP to
 * NBD_REP_ERR_EXT_HEADER_REQD), without NBD_REP_ERR_TLS_REQD unless
 * with_tls_reqd.
 */
static void
allow_any_error (struct model_allowed *a, bool with_tls_reqd,
                 enum model_class c, const char *rule)
{
  uint32_t i;

  for (i = 1; i <= 10; ++i)
    if (with_tls_reqd || NBD_REP_FLAG_ERROR + i != NBD_REP_ERR_TLS_REQD)
      allow (a, NBD_REP_FLAG_ERROR + i, c, rule);
}

/* An option the client has sent before may get NBD_REP_ERR_INVALID. */
static void
allow_repeat (const struct model *m, const struct model_opt *o,
              struct model_allowed *a)
{
  if (o->opt < 32 && (m->sent & (UINT32_C(1) << o->opt)) != 0)
    allow (a, NBD_REP_ERR_INVALID, MC_STRICTER, "GEN-REPEAT");
}

/* One function per option (or kind of option): each fills a, which
 * model_allowed has cleared.
 */

static void
allowed_starttls (const struct model *m, const struct model_opt *o,
                  struct model_allowed *a)
{
  if (m->mode == MODEL_NOTLS) {
    a->rule = "TLS-NOTLS";
    if (o->payload) {
      a->client_must = "TLS-PAYLOAD";
      allow (a, NBD_REP_ERR_INVALID, MC_REQUIRED, "TLS-PAYLOAD");
    }
    allow (a, NBD_REP_ERR_POLICY, MC_REQUIRED, "TLS-NOTLS");
    allow (a, NBD_REP_ERR_UNSUP, MC_REQUIRED, "TLS-NOTLS");
    allow (a, NBD_REP_ERR_SHUTDOWN, MC_REQUIRED, "GEN-SHUTDOWN");
  }
  else if (m->tls) {
    a->client_must = "TLS-CLIENT-AGAIN";
    rule_allows (a, "TLS-AGAIN", NBD_REP_ERR_INVALID, MC_REQUIRED);
  }
  else if (o->payload) {
    a->client_must = "TLS-PAYLOAD";
    rule_allows (a, "TLS-PAYLOAD", NBD_REP_ERR_INVALID, MC_REQUIRED);
  }
  else {
    rule_allows (a, "TLS-ACK", NBD_REP_ACK, MC_ACCEPT);
    allow (a, NBD_REP_ERR_SHUTDOWN, MC_STRICTER, "GEN-SHUTDOWN");
  }
}

static void
allowed_abort (struct model_allowed *a)
{
  rule_allows (a, "ABORT", NBD_REP_ACK, MC_ACCEPT);
  allow (a, MODEL_CLOSE, MC_ACCEPT, "ABORT-CLOSE");
}

/* NBD_OPT_EXPORT_NAME cannot fail: a refusal is a hard disconnect. */
static void
allowed_export_name (const struct model *m, const struct model_opt *o,
                     struct model_allowed *a, bool pre_forced)
{
  if (pre_forced)
    rule_allows (a, "TLS-FORCED-EN", MODEL_CLOSE, MC_REQUIRED);
  else if (tls_only_applies (m, o))
    /* The export reply would be transmission mode on it: P5. */
    rule_allows (a, "TLS-ONLY-EN", MODEL_CLOSE, MC_REQUIRED);
  else {
    rule_allows (a, "EN-REPLY", NBD_REP_ACK, MC_ACCEPT);
    allow (a, MODEL_CLOSE, MC_STRICTER, "EN-TERMINATE");
  }
}

/* Any other option on a FORCEDTLS server before TLS. */
static void
allowed_before_forced_tls (const struct model_opt *o,
                           struct model_allowed *a)
{
  rule_allows (a, o->opt == NBD_OPT_GO ? "TLS-FORCED-GO" : "TLS-FORCED",
               NBD_REP_ERR_TLS_REQD, MC_REQUIRED);
  /* Judged by TLS-FORCED-NOINFO rather than as stray replies. */
  if (o->opt == NBD_OPT_INFO || o->opt == NBD_OPT_GO)
    a->partial = UINT32_C(1) << NBD_REP_INFO;
}

static void
allowed_structured_reply (const struct model *m, const struct model_opt *o,
                          struct model_allowed *a)
{
  a->rule = "SR-ACK";
  ack_unless_broken (a, o->payload, "SR-PAYLOAD", "SR-ACK");
  allow (a, NBD_REP_ERR_UNSUP, MC_STRICTER, "SR-UNSUP");
  allow_repeat (m, o, a);
  allow_generic (a);
}

static void
allowed_list (const struct model_opt *o, struct model_allowed *a)
{
  a->rule = "LIST-REPLY";
  a->partial = UINT32_C(1) << NBD_REP_SERVER;
  ack_unless_broken (a, o->payload, "LIST-PAYLOAD", "LIST-REPLY");
  /* "or an error": any error but TLS_REQD, which other rules forbid
   * for NBD_OPT_LIST in every mode.
   */
  allow_any_error (a, false, MC_STRICTER, "LIST-REPLY");
}

/* The refusals both *_META_CONTEXT options may get. */
static void
allow_meta_refusals (struct model_allowed *a)
{
  allow (a, NBD_REP_ERR_TOO_BIG, MC_STRICTER, "META-TOOBIG");
  allow (a, NBD_REP_ERR_UNKNOWN, MC_STRICTER, "GEN-UNKNOWN");
  allow_generic (a);
}

static void
allowed_set_meta (const struct model *m, const struct model_opt *o,
                  struct model_allowed *a)
{
  a->rule = m->sr ? "META-REPLY" : "META-NOSR";
  a->partial = UINT32_C(1) << NBD_REP_META_CONTEXT;
  ack_unless_broken (a, !m->sr, "META-NOSR", "META-REPLY");
  allow_repeat (m, o, a);
  allow_meta_refusals (a);
}

static void
allowed_list_meta (const struct model *m, struct model_allowed *a)
{
  a->rule = "LMETA-REPLY";
  a->partial = UINT32_C(1) << NBD_REP_META_CONTEXT;
  if (!m->sr)
    allow (a, NBD_REP_ERR_INVALID, MC_REQUIRED, "LMETA-NOSR");
  allow (a, NBD_REP_ACK, MC_ACCEPT, "LMETA-REPLY");
  allow (a, NBD_REP_ERR_UNSUP, MC_STRICTER, "LMETA-REPLY");
  allow_meta_refusals (a);
}

/* NBD_OPT_INFO or NBD_OPT_GO of the TLS-only export before TLS.
 * NBD_REP_ACK is a P5 violation (GO: TLS-ONLY-TRANSMIT, INFO:
 * TLS-ONLY-REQD).  NBD_REP_INFO replies may come first: "a
 * SELECTIVETLS server MAY do so if this is a TLS-only export"
 * (TLS-FORCED-NOINFO).
 *
 * The refusal must be NBD_REP_ERR_TLS_REQD: "MUST reply with
 * NBD_REP_ERR_TLS_REQD if that export is TLS-only".  Another error
 * code (nbdkit's core answers every failed open with
 * NBD_REP_ERR_UNKNOWN) keeps the export closed, which is what P5
 * protects, but breaks that MUST: the client is not told that STARTTLS
 * would help, and the spec's own reason for the code ("the client may
 * obtain information about which exports are TLS-only through
 * NBD_OPT_INFO") fails.  That is neither a refusal the spec permits (a
 * note) nor a breach of a safety property (a violation), so it gets a
 * class of its own, MC_DEVIATION: always reported, failed by --strict.
 * NBD_REP_ERR_SHUTDOWN stays what GEN-SHUTDOWN allows anywhere.
 */
static void
allowed_tls_only_info_go (const struct model_opt *o,
                          struct model_allowed *a)
{
  a->rule = o->opt == NBD_OPT_GO ? "TLS-ONLY-TRANSMIT" : "TLS-ONLY-REQD";
  a->partial = UINT32_C(1) << NBD_REP_INFO;
  allow (a, NBD_REP_ERR_TLS_REQD, MC_REQUIRED, "TLS-ONLY-REQD");
  allow (a, NBD_REP_ERR_SHUTDOWN, MC_STRICTER, "GEN-SHUTDOWN");
  allow_any_error (a, true, MC_DEVIATION, "TLS-ONLY-REQD");
}

static void
allowed_info_go (const struct model *m, const struct model_opt *o,
                 struct model_allowed *a)
{
  bool bs = false;
  size_t i;

  if (tls_only_applies (m, o)) {
    allowed_tls_only_info_go (o, a);
    return;
  }
  for (i = 0; i < o->ninfos; ++i)
    if (o->infos[i] == NBD_INFO_BLOCK_SIZE)
      bs = true;
  a->rule = "GO-REPLIES";
  a->partial = UINT32_C(1) << NBD_REP_INFO;
  allow (a, NBD_REP_ACK, MC_ACCEPT, "GO-ACK");
  allow (a, NBD_REP_ERR_UNKNOWN, MC_STRICTER, "GO-UNKNOWN");
  if (!bs)
    allow (a, NBD_REP_ERR_BLOCK_SIZE_REQD, MC_STRICTER, "GO-BSREQD");
  allow (a, NBD_REP_ERR_UNSUP, MC_STRICTER, "GO-UNSUP");
  allow (a, NBD_REP_ERR_SHUTDOWN, MC_STRICTER, "GO-OTHER");
  if (m->mode == MODEL_SELECTIVETLS && !m->tls)
    allow (a, NBD_REP_ERR_TLS_REQD, MC_STRICTER, "TLS-SEL-INFO");
  allow_generic (a);
}

/* An option the spec does not define. */
static void
allowed_unknown (struct model_allowed *a)
{
  rule_allows (a, "GEN-UNSUP", NBD_REP_ERR_UNSUP, MC_REQUIRED);
  allow (a, NBD_REP_ERR_SHUTDOWN, MC_STRICTER, "GEN-SHUTDOWN");
}

void
model_allowed (const struct model *m, const struct model_opt *o,
               struct model_allowed *a)
{
  const bool pre_forced = m->mode == MODEL_FORCEDTLS && !m->tls;

  memset (a, 0, sizeof *a);
  if (o->inject)
    a->client_must = "GEN-ONEOPT";

  /* The options whose rules hold in every mode and state. */
  switch (o->opt) {
  case NBD_OPT_STARTTLS: allowed_starttls (m, o, a); return;
  case NBD_OPT_ABORT: allowed_abort (a); return;
  case NBD_OPT_EXPORT_NAME: allowed_export_name (m, o, a, pre_forced); return;
  }
  if (pre_forced) {
    allowed_before_forced_tls (o, a);
    return;
  }
  switch (o->opt) {
  case NBD_OPT_STRUCTURED_REPLY: allowed_structured_reply (m, o, a); break;
  case NBD_OPT_LIST: allowed_list (o, a); break;
  case NBD_OPT_SET_META_CONTEXT: allowed_set_meta (m, o, a); break;
  case NBD_OPT_LIST_META_CONTEXT: allowed_list_meta (m, a); break;
  case NBD_OPT_INFO:
  case NBD_OPT_GO: allowed_info_go (m, o, a); break;
  default: allowed_unknown (a); break;
  }
}

enum model_class
model_class_of (const struct model_allowed *a, uint32_t type,
                const char **rule)
{
  size_t i;

  for (i = 0; i < a->n; ++i)
    if (a->e[i].type == type) {
      if (rule)
        *rule = a->e[i].rule;
      return a->e[i].cls;
    }
  if (type == MODEL_CLOSE && a->client_must) {
    if (rule)
      *rule = "GEN-HARDDISC";
    return MC_STRICTER;
  }
  if (rule)
    *rule = NULL;
  return MC_FORBIDDEN;
}

/* The rule a forbidden answer breaks. */
static const char *
forbidding_rule (const struct model *m, const struct model_opt *o,
                 const struct model_allowed *a, uint32_t type)
{
  if (type == MODEL_CLOSE)
    return "GEN-NODISC";
  if (type == NBD_REP_ERR_BLOCK_SIZE_REQD &&
      (o->opt == NBD_OPT_INFO || o->opt == NBD_OPT_GO) &&
      !(m->mode == MODEL_FORCEDTLS && !m->tls))
    return "GO-BSREQD";
  if (type == NBD_REP_ERR_TLS_REQD) {
    if (m->mode == MODEL_NOTLS)
      return "TLS-NOTLS-REQD";
    if (m->tls)
      return "TLS-AFTER-REQD";
    if (m->mode == MODEL_SELECTIVETLS)
      return "TLS-SEL-REQD";
  }
  return a->rule;
}

/* --- judging options ------------------------------------------------ */

static const char *
opt_name (uint32_t opt)
{
  const char *n = wire_opt_name (opt);

  return strcmp (n, "unknown") == 0 ? "an unknown option" : n;
}

/* An option that got no answer: a timeout, an undecodable reply or
 * a close.  Returns false if there was an answer to judge.
 */
static bool
judge_no_answer (struct model *m, const struct model_opt *o,
                 const struct model_allowed *a,
                 const struct model_opt_obs *obs, struct model_result *r)
{
  const char *what = opt_name (o->opt);
  const char *rule = NULL;
  enum model_class c;

  if (obs->timeout)
    result_set (r, MV_VIOLATION, "P4", "P4-TIMEOUT", "no answer to %s "
                "within the deadline", what);
  else if (obs->bad)
    result_set (r, MV_VIOLATION, "P0",
                o->opt == NBD_OPT_EXPORT_NAME ? "EN-REPLY" : "GEN-REPLYHDR",
                "undecodable answer to %s: %s", what,
                obs->bad_msg ? obs->bad_msg : "malformed");
  else if (obs->closed) {
    c = model_class_of (a, MODEL_CLOSE, &rule);
    if (c == MC_FORBIDDEN && m->nopts > MODEL_DOS_OPTIONS)
      result_set (r, MV_NOTE, NULL, "GEN-NODISC", "the server closed the "
                  "connection at option %u (permitted: the spec lets a "
                  "server drop a client it believes is a denial of "
                  "service)", m->nopts);
    else if (c == MC_FORBIDDEN)
      result_set (r, MV_VIOLATION, "P4", "GEN-NODISC", "the server "
                  "closed the connection instead of answering %s", what);
    else if (c == MC_STRICTER || c == MC_LAX)
      result_set (r, MV_NOTE, NULL, rule, "the server closed the "
                  "connection after %s (permitted: %s)", what,
                  a->client_must && strcmp (rule, "GEN-HARDDISC") == 0
                  ? "the client broke a MUST" : "see the rule");
  }
  else
    return false;
  m->closed = true;
  return true;
}

/* The replies before the final one, and the final one, against the
 * allowed set a.  Returns false after a violation.
 */
static bool
judge_replies (struct model *m, const struct model_opt *o,
               const struct model_allowed *a,
               const struct model_opt_obs *obs, struct model_result *r)
{
  const char *what = opt_name (o->opt);
  const char *rule = NULL;
  enum model_class c;

  /* Replies before the final one. */
  if (obs->n_other > 0) {
    result_set (r, MV_VIOLATION, "P0", a->rule, "%s got a %s reply, "
                "which is not an answer to it", what,
                wire_rep_name (obs->other_type));
    return false;
  }
  if ((obs->n_server && !(a->partial & (UINT32_C(1) << NBD_REP_SERVER))) ||
      (obs->n_info && !(a->partial & (UINT32_C(1) << NBD_REP_INFO))) ||
      (obs->n_meta &&
       !(a->partial & (UINT32_C(1) << NBD_REP_META_CONTEXT)))) {
    result_set (r, MV_VIOLATION, "P0", a->rule, "%s got %s replies, "
                "which are not an answer to it", what,
                obs->n_server ? "NBD_REP_SERVER"
                : obs->n_info ? "NBD_REP_INFO" : "NBD_REP_META_CONTEXT");
    return false;
  }

  /* The final reply. */
  c = model_class_of (a, obs->final, &rule);
  if (c == MC_FORBIDDEN && obs->final == NBD_REP_ACK &&
      tls_only_applies (m, o)) {
    result_set (r, MV_VIOLATION, "P5", a->rule, "%s of the TLS-only export "
                "\"%.64s\" answered %s before TLS: the export was %s in "
                "plaintext", what, o->export, o->opt == NBD_OPT_EXPORT_NAME
                ? "with the export reply" : "NBD_REP_ACK",
                o->opt == NBD_OPT_INFO ? "described" : "opened");
    return false;
  }
  if (c == MC_FORBIDDEN) {
    const char *fr = forbidding_rule (m, o, a, obs->final);

    result_set (r, MV_VIOLATION, "P0", fr, "%s%s answered %s, which the "
                "spec does not allow here (%s)", what,
                o->payload ? " with a payload" : "",
                answer_name (obs->final),
                m->tls ? "over TLS" : "before TLS");
    /* Keep the state plausible for the trace; the run stops here. */
    if (o->opt == NBD_OPT_STARTTLS && obs->final == NBD_REP_ACK)
      m->closed = true;
    return false;
  }
  note_class (r, c, rule, what, obs->final);
  return true;
}

/* GO-SAME: is this NBD_OPT_GO the same request as the successful
 * NBD_OPT_INFO right before it (prev_info)?
 */
static bool
same_as_info (const struct model *m, const struct model_opt *o,
              bool prev_info)
{
  return o->opt == NBD_OPT_GO && prev_info &&
    name_eq (m->info_export, o->export) &&
    m->info_ninfos == o->ninfos &&
    (o->ninfos == 0 ||
     memcmp (m->info_infos, o->infos, o->ninfos * sizeof o->infos[0]) == 0);
}

/* The replies to NBD_OPT_INFO and NBD_OPT_GO.  Returns false after a
 * violation.
 */
static bool
check_info_go (const struct model *m, const struct model_opt *o,
               const struct model_opt_obs *obs, bool prev_info,
               struct model_result *r)
{
  const char *what = opt_name (o->opt);

  if (obs->final == NBD_REP_ACK && !obs->info_export) {
    result_set (r, MV_VIOLATION, "P0", "GO-ACK", "%s was acknowledged "
                "without an NBD_INFO_EXPORT", what);
    return false;
  }
  if (obs->final == NBD_REP_ERR_TLS_REQD && obs->n_info > 0 &&
      m->mode == MODEL_FORCEDTLS) {
    result_set (r, MV_VIOLATION, "P0", "TLS-FORCED-NOINFO", "%s got "
                "NBD_REP_INFO before NBD_REP_ERR_TLS_REQD", what);
    return false;
  }
  if (obs->final == NBD_REP_ERR_UNKNOWN && obs->n_info > 0)
    result_set (r, MV_NOTE, NULL, "GO-UNKNOWN", "%s got NBD_REP_INFO "
                "before NBD_REP_ERR_UNKNOWN", what);
  if (obs->final == NBD_REP_ACK && same_as_info (m, o, prev_info) &&
      (m->info_size != obs->size || m->info_tflags != obs->tflags)) {
    result_set (r, MV_VIOLATION, "P0", "GO-SAME", "NBD_OPT_GO right "
                "after an identical NBD_OPT_INFO reported size %" PRIu64
                " flags 0x%04x, NBD_OPT_INFO said size %" PRIu64
                " flags 0x%04x", obs->size, obs->tflags, m->info_size,
                m->info_tflags);
    return false;
  }
  return true;
}

/* The contexts a successful NBD_OPT_SET_META_CONTEXT selected.
 * Returns false after a violation.
 */
static bool
check_set_meta (const struct model_opt *o, const struct model_opt_obs *obs,
                struct model_result *r)
{
  const char *what = opt_name (o->opt);
  size_t i, j;

  if (obs->final != NBD_REP_ACK)
    return true;
  if (o->nq == 0 && obs->n_meta > 0) {
    result_set (r, MV_VIOLATION, "P0", "META-EMPTY", "%s without "
                "queries selected %u context(s)", what, obs->n_meta);
    return false;
  }
  for (i = 0; i < obs->nctx; ++i)
    for (j = i + 1; j < obs->nctx; ++j)
      if (obs->ctx[i].id == obs->ctx[j].id) {
        result_set (r, MV_VIOLATION, "P0", "META-REPLY", "%s returned "
                    "context id %" PRIu32 " twice", what, obs->ctx[i].id);
        return false;
      }
  /* A base: context may only come from a query that names it. */
  for (i = 0; i < obs->nctx; ++i) {
    bool asked = false;

    if (strncmp (obs->ctx[i].name, "base:", 5) != 0)
      continue;
    for (j = 0; j < o->nq; ++j)
      if (strcmp (o->queries[j], obs->ctx[i].name) == 0)
        asked = true;
    if (!asked) {
      result_set (r, MV_VIOLATION, "P0", "META-BASE", "%s selected "
                  "\"%s\", which no query named", what, obs->ctx[i].name);
      return false;
    }
  }
  return true;
}

/* The state the spec says an allowed answer puts in effect. */
static void
apply_option (struct model *m, const struct model_opt *o,
              const struct model_opt_obs *obs)
{
  const bool ack = obs->final == NBD_REP_ACK;
  size_t i;

  switch (o->opt) {
  case NBD_OPT_STARTTLS:
    if (ack)
      m->await_handshake = true;
    break;
  case NBD_OPT_STRUCTURED_REPLY:
    if (ack)
      m->sr = true;
    break;
  case NBD_OPT_SET_META_CONTEXT:
    /* META-REPLACE: also when it fails. */
    m->meta_sent = true;
    m->meta_epoch = m->epoch;
    m->meta_with_sr = m->sr;
    copy_name (m->meta_export, o->export);
    m->meta_n = ack ? obs->n_meta : 0;
    m->meta_nids = 0;
    if (ack)
      for (i = 0; i < obs->nctx && i < MODEL_MAX_CTX; ++i)
        m->meta_ids[m->meta_nids++] = obs->ctx[i].id;
    break;
  case NBD_OPT_INFO:
    if (ack && o->ninfos <= MODEL_MAX_INFOS) {
      m->info_valid = true;
      copy_name (m->info_export, o->export);
      m->info_ninfos = o->ninfos;
      if (o->ninfos)
        memcpy (m->info_infos, o->infos, o->ninfos * sizeof o->infos[0]);
      m->info_size = obs->size;
      m->info_tflags = obs->tflags;
    }
    break;
  case NBD_OPT_GO:
  case NBD_OPT_EXPORT_NAME:
    if (ack) {
      m->transmission = true;
      copy_name (m->export, o->export);
    }
    break;
  case NBD_OPT_ABORT:
    m->closed = true;
    break;
  }
}

void
model_option (struct model *m, const struct model_opt *o,
              const struct model_opt_obs *obs, struct model_result *r)
{
  struct model_allowed a;
  bool prev_info, ok;

  result_init (r);
  model_allowed (m, o, &a);
  /* GO-SAME needs the previous option; every option ends it. */
  prev_info = m->info_valid;
  m->info_valid = false;
  if (o->opt < 32)
    m->sent |= UINT32_C(1) << o->opt;
  m->nopts++;

  if (judge_no_answer (m, o, &a, obs, r) ||
      !judge_replies (m, o, &a, obs, r))
    return;
  switch (o->opt) {
  case NBD_OPT_INFO:
  case NBD_OPT_GO: ok = check_info_go (m, o, obs, prev_info, r); break;
  case NBD_OPT_SET_META_CONTEXT: ok = check_set_meta (o, obs, r); break;
  default: ok = true; break;
  }
  if (ok)
    apply_option (m, o, obs);
}

void
model_handshake (struct model *m, const struct model_tls_obs *t,
                 struct model_result *r)
{
  result_init (r);
  m->await_handshake = false;
  if (!t->handshake_ok) {
    m->closed = true;
    if (t->inject != MODEL_INJ_NONE)
      /* P3 holds: the plaintext that followed STARTTLS broke the
       * handshake instead of being read as TLS data.
       */
      return;
    result_set (r, MV_VIOLATION, "P0", "TLS-HANDSHAKE", "the TLS handshake "
                "after NBD_REP_ACK to NBD_OPT_STARTTLS failed");
    return;
  }

  /* TLS-RESET: nothing negotiated before STARTTLS survives it.  The
   * metadata selection is scoped by its epoch.
   */
  m->tls = true;
  m->epoch++;
  m->sr = false;
  m->info_valid = false;

  switch (t->inject) {
  case MODEL_INJ_NONE:
    break;
  case MODEL_INJ_CLOSED:
    m->closed = true;
    break;
  case MODEL_INJ_ANSWERED:
    m->closed = true;
    result_set (r, MV_VIOLATION, "P3", "TLS-HANDSHAKE", "the server "
                "answered an option the client sent in plaintext after "
                "NBD_OPT_STARTTLS, as if it had come over TLS");
    break;
  case MODEL_INJ_TIMEOUT:
    m->closed = true;
    result_set (r, MV_VIOLATION, "P4", "P4-TIMEOUT", "after a TLS handshake "
                "that should have failed, the server neither answered nor "
                "closed within the deadline");
    break;
  }
}

/* --- transmission --------------------------------------------------- */

void
model_cmd_expect (const struct model *m, uint16_t cmd,
                  struct model_cmd_expect *e)
{
  const char *why = NULL;
  bool valid = model_block_status_valid (m, &why);

  memset (e, 0, sizeof *e);
  e->structured_ok = m->sr;
  e->simple_ok = !m->sr || cmd != NBD_CMD_READ;
  if (cmd == NBD_CMD_BLOCK_STATUS) {
    e->extents_ok = valid;
    if (!valid) {
      e->client_must = "META-BS";
      e->why = why;
    }
  }
  else
    e->why = "only NBD_CMD_BLOCK_STATUS returns extents";
}

void
model_cmd (struct model *m, uint16_t cmd, const struct model_cmd_obs *o,
           struct model_result *r)
{
  struct model_cmd_expect e;
  const char *what = wire_cmd_name (cmd);
  size_t i;

  result_init (r);
  model_cmd_expect (m, cmd, &e);

  if (o->timeout) {
    result_set (r, MV_VIOLATION, "P4", "P4-TIMEOUT", "no (complete) reply "
                "to %s within the deadline", what);
    m->closed = true;
    return;
  }
  /* What arrived before anything went wrong still counts. */
  if (o->n_bs_chunks > 0 && !e.extents_ok) {
    result_set (r, MV_VIOLATION, "P1", "META-BS", "%s returned extents "
                "although %s", what, e.why);
    m->closed = o->closed || o->bad;
    return;
  }
  if (o->nchunks > 0 && !e.structured_ok) {
    result_set (r, MV_VIOLATION, "P2", "SR-ONLY", "a structured reply to %s "
                "although structured replies were not negotiated after the "
                "last NBD_OPT_STARTTLS", what);
    m->closed = o->closed || o->bad;
    return;
  }
  if (o->bad) {
    result_set (r, MV_VIOLATION, "P0", "SR-ONLY", "undecodable reply to %s: "
                "%s", what, o->bad_msg ? o->bad_msg : "malformed");
    m->closed = true;
    return;
  }
  if (o->closed) {
    m->closed = true;
    if (o->nchunks == 0 && !o->simple && e.client_must)
      result_set (r, MV_NOTE, NULL, "GEN-HARDDISC", "the server closed the "
                  "connection instead of replying to %s (permitted: the "
                  "client broke a MUST)", what);
    else
      result_set (r, MV_VIOLATION, "P4", "GEN-NODISC", "the server closed "
                  "the connection instead of a%s reply to %s",
                  o->nchunks ? " complete" : "", what);
    return;
  }
  if (o->simple && !e.simple_ok) {
    result_set (r, MV_VIOLATION, "P0", "SR-READ", "a simple reply to %s "
                "although structured replies were negotiated", what);
    return;
  }

  if (cmd != NBD_CMD_BLOCK_STATUS)
    return;
  if (e.extents_ok) {
    if (o->is_error) {
      result_set (r, MV_NOTE, NULL, "BS-ERROR", "%s failed with error %"
                  PRIu32 " (%s) although the spec's precondition holds: a "
                  "refusal the spec permits", what, o->error,
                  wire_errno_name (o->error));
      return;
    }
    if (o->simple) {
      result_set (r, MV_VIOLATION, "P0", "BS-STRUCT", "a successful simple "
                  "reply to %s", what);
      return;
    }
    if (o->n_bs_chunks != m->meta_n) {
      result_set (r, MV_VIOLATION, "P0", "BS-CHUNKS", "%s returned %u "
                  "block status chunk(s) for %zu selected context(s)", what,
                  o->n_bs_chunks, m->meta_n);
      return;
    }
    for (i = 0; i < m->meta_nids; ++i)
      if (m->meta_ids[i] == o->bs_ctx_id)
        break;
    if (m->meta_nids > 0 && i == m->meta_nids)
      result_set (r, MV_VIOLATION, "P0", "BS-CHUNKS", "%s returned context "
                  "id %" PRIu32 ", which the last NBD_OPT_SET_META_CONTEXT "
                  "did not select", what, o->bs_ctx_id);
    return;
  }
  /* The client broke META-BS: an error is the answer. */
  if (!o->is_error)
    result_set (r, MV_VIOLATION, "P0", "META-EINVAL", "%s succeeded without "
                "extents although %s", what, e.why);
  else if (o->error != NBD_EINVAL)
    result_set (r, MV_NOTE, NULL, "META-EINVAL", "%s failed with %s, not "
                "EINVAL", what, wire_errno_name (o->error));
}
