/* tlsguard test harness: "judge" steps, checked by the spec model.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * A judge step sends one option or request, reads its complete answer
 * into an observation and hands both to model.c, which says whether
 * the spec allows it; this file is the bridge between the session and
 * the model.
 */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario-int.h"

enum model_mode
model_mode_of (enum probe_mode m)
{
  switch (m) {
  case MODE_NOTLS: return MODEL_NOTLS;
  case MODE_FORCEDTLS: return MODEL_FORCEDTLS;
  default: return MODEL_SELECTIVETLS;
  }
}

/* The session failed to read: a timeout, a close or a bad message. */
static void
observe_failure (struct scenario_run *run, bool *timeout, bool *closed,
                 bool *bad, const char **bad_msg)
{
  if (run->sess.timed_out)
    *timeout = true;
  else if (run->sess.peer_closed)
    *closed = true;
  else {
    *bad = true;
    snprintf (run->badmsg, sizeof run->badmsg, "%.400s", run->sess.err.msg);
    *bad_msg = run->badmsg;
  }
}

/* A reply that is not a final one: count it in obs. */
static void
observe_reply (struct model_opt_obs *obs, const struct opt_reply *r)
{
  struct wire_info info;
  struct model_ctx *c;
  size_t len;

  switch (r->type) {
  case NBD_REP_SERVER:
    obs->n_server++;
    break;
  case NBD_REP_INFO:
    obs->n_info++;
    if (wire_dec_rep_info (r->payload, r->len, &info) == WIRE_OK &&
        info.type == NBD_INFO_EXPORT) {
      obs->info_export = true;
      obs->size = info.u.export.size;
      obs->tflags = info.u.export.tflags;
    }
    break;
  case NBD_REP_META_CONTEXT:
    obs->n_meta++;
    if (obs->nctx >= MODEL_MAX_CTX)
      break;
    c = &obs->ctx[obs->nctx++];
    len = r->str.len < sizeof c->name - 1 ? r->str.len : sizeof c->name - 1;
    c->id = r->ctx_id;
    if (len)
      memcpy (c->name, r->str.ptr, len);
    c->name[len] = '\0';
    break;
  default:
    obs->n_other++;
    obs->other_type = r->type;
  }
}

/* A reply for another option, or one that does not decode. */
static void
observe_bad_reply (struct scenario_run *run, struct model_opt_obs *obs,
                   const struct opt_reply *r)
{
  struct sbuf d = { 0 };

  opt_reply_describe (&d, r);
  if (r->malformed)
    snprintf (run->badmsg, sizeof run->badmsg, "malformed reply %s", d.s);
  else
    snprintf (run->badmsg, sizeof run->badmsg, "%s for %s, but %s was "
              "asked", d.s, wire_opt_name (r->opt),
              r->for_opt ? wire_opt_name (r->for_opt) : "no option");
  sbuf_free (&d);
  obs->bad = true;
  obs->bad_msg = run->badmsg;
}

/* The answer to the option at the head of the outstanding queue. */
static void
collect_opt_replies (struct scenario_run *run, struct model_opt_obs *obs)
{
  unsigned n;

  memset (obs, 0, sizeof *obs);
  for (n = 0; ; ++n) {
    struct opt_reply r;

    if (sess_read_opt_reply (&run->sess, &r) == -1) {
      observe_failure (run, &obs->timeout, &obs->closed, &obs->bad,
                       &obs->bad_msg);
      return;
    }
    if (r.for_opt == 0 || r.opt != r.for_opt || r.malformed) {
      observe_bad_reply (run, obs, &r);
      opt_reply_free (&r);
      return;
    }
    if (r.type == NBD_REP_ACK || (r.type & NBD_REP_FLAG_ERROR)) {
      obs->final = r.type;
      opt_reply_free (&r);
      return;
    }
    observe_reply (obs, &r);
    opt_reply_free (&r);
    if (n >= 100000) {
      obs->bad = true;
      obs->bad_msg = "more than 100000 replies to one option";
      return;
    }
  }
}

/* The answer to NBD_OPT_EXPORT_NAME. */
static void
collect_export_name_reply (struct scenario_run *run,
                           struct model_opt_obs *obs)
{
  int rr = sess_read_export_name_reply (&run->sess);

  memset (obs, 0, sizeof *obs);
  if (rr == 1) {
    obs->final = NBD_REP_ACK;
    obs->size = run->sess.size;
    obs->tflags = run->sess.tflags;
  }
  else if (rr == 0)
    obs->closed = true;
  else
    observe_failure (run, &obs->timeout, &obs->closed, &obs->bad,
                     &obs->bad_msg);
}

/* Report a model verdict: notes go to the result's notes (or fail
 * the step with --strict), violations fail the step.  Returns -1 if
 * the step fails.
 */
static int
model_report (struct scenario_run *run, const struct model_result *mr)
{
  const struct model_rule *rule = model_rule (mr->rule);
  const char *rname = mr->rule ? mr->rule : "-";
  bool lenient = mr->v == MV_NOTE || mr->v == MV_DEVIATION;

  if (mr->v == MV_OK)
    return 0;
  if (lenient && !run->cfg->strict) {
    const char *kind = mr->v == MV_NOTE ? "note" : "deviation";

    sbuf_printf (&run->res->notes, "%s %s: line %d: %s: %s\n", kind, rname,
                 run->step->line, run->step->text, mr->msg);
    sess_trace (&run->sess, "-- %s %s: %s", kind, rname, mr->msg);
    return 0;
  }
  run->res->prop = lenient ? "strict" : mr->prop;
  run->res->rule = mr->rule;
  run_fail (run, "%s violation [%s]: %s%s\n"
            "spec (%s): \"%s\"\n"
            "model state before the step: %s",
            run->res->prop, rname, mr->msg,
            mr->v == MV_NOTE ? " (a note, failed by --strict)"
            : mr->v == MV_DEVIATION ? " (a deviation, failed by --strict)"
            : "", rule ? rule->where : "?", rule ? rule->text : "?",
            run->before);
  sess_trace (&run->sess, "-- %s violation [%s]: %s", run->res->prop, rname,
              mr->msg);
  return -1;
}

/* Send the option (and the injected one in the same write). */
static int
send_judged_option (struct scenario_run *run, const struct step *st,
                    const struct opt_values *v)
{
  static const struct opt_args none;
  static const struct opt_values no_values;

  if (st->inject >= 0)
    run->sess.batching = true;
  if (run_send_option (run, st->code, &st->opt, v) == -1) {
    run->sess.batching = false;
    wire_buf_reset (&run->sess.outbuf);
    return -1;
  }
  if (st->inject < 0)
    return 0;
  if (run_send_option (run, st->inject, &none, &no_values) == -1)
    return -1;
  if (sess_flush (&run->sess) == -1) {
    run_fail (run, "%s", run->sess.err.msg);
    return -1;
  }
  return 0;
}

/* After an accepted STARTTLS: the handshake, and whether the injected
 * option was answered.
 */
static int
judge_handshake (struct scenario_run *run, const struct step *st)
{
  struct model_tls_obs t;
  struct model_result mr;

  memset (&t, 0, sizeof t);
  if (run->cfg->creds == NULL) {
    run_fail (run, "the server acknowledged NBD_OPT_STARTTLS but no TLS "
              "credentials were given (--tls-psk or --tls-certs)");
    return -1;
  }
  t.handshake_ok = sess_handshake (&run->sess) == 0;
  if (st->inject >= 0) {
    t.inject = MODEL_INJ_CLOSED;
    if (t.handshake_ok) {
      int c = sess_wait_closed (&run->sess);

      t.inject = c == 1 ? MODEL_INJ_CLOSED
        : c == 0 ? MODEL_INJ_ANSWERED : MODEL_INJ_TIMEOUT;
    }
  }
  model_handshake (&run->model, &t, &mr);
  return model_report (run, &mr);
}

static bool
takes_export (uint32_t opt)
{
  return opt == NBD_OPT_INFO || opt == NBD_OPT_GO ||
    opt == NBD_OPT_EXPORT_NAME || opt == NBD_OPT_SET_META_CONTEXT ||
    opt == NBD_OPT_LIST_META_CONTEXT;
}

static int
judge_option (struct scenario_run *run, const struct step *st,
              struct opt_values *v)
{
  struct model_opt mo = { .opt = st->code, .export = "" };
  struct model_opt_obs obs;
  struct model_result mr;

  if (takes_export (st->code)) {
    if (v->export == NULL)
      v->export = xstrdup (run->cfg->export);
    mo.export = v->export;
  }
  mo.queries = (const char *const *) v->queries;
  mo.nq = v->nq;
  mo.infos = st->opt.infos;
  mo.ninfos = st->opt.ninfo;
  mo.payload = st->opt.has_payload && st->opt.plen > 0;
  mo.inject = st->inject >= 0;
  if (send_judged_option (run, st, v) == -1)
    return -1;
  if (st->code == NBD_OPT_EXPORT_NAME)
    collect_export_name_reply (run, &obs);
  else
    collect_opt_replies (run, &obs);
  model_option (&run->model, &mo, &obs, &mr);
  if (model_report (run, &mr) == -1)
    return -1;
  if (run->model.await_handshake)
    return judge_handshake (run, st);
  if (st->inject >= 0 && !run->model.closed) {
    /* STARTTLS was refused, so the injected option is simply the next
     * one.
     */
    struct model_opt mo2 = { .opt = st->inject, .export = "" };

    collect_opt_replies (run, &obs);
    model_option (&run->model, &mo2, &obs, &mr);
    return model_report (run, &mr);
  }
  return 0;
}

static int
judge_cmd (struct scenario_run *run, const struct step *st, uint64_t offset,
           uint64_t length)
{
  struct model_cmd_obs o;
  struct model_result mr;
  const struct cmd_reply *rep = &run->sess.reply;
  uint64_t cap;
  int rr;

  if (!st->cmd.length.given) {
    cap = st->code == NBD_CMD_READ ? 65536 : 1024 * 1024;
    length = run->sess.have_size && run->sess.size > offset
      ? run->sess.size - offset : 0;
    if (length > cap || length == 0)
      length = length == 0 ? 512 : cap;
  }
  if (length > UINT32_MAX)
    length = UINT32_MAX & ~UINT32_C (511);
  if (sess_send_cmd (&run->sess, st->cmd.flags, st->code, offset,
                     length) == -1) {
    run_fail (run, "%s", run->sess.err.msg);
    return -1;
  }
  rr = sess_read_cmd_reply (&run->sess);

  memset (&o, 0, sizeof o);
  o.simple = rep->simple;
  o.nchunks = rep->nchunks;
  o.is_error = rep->is_error;
  o.error = rep->error;
  o.n_bs_chunks = rep->n_bs_chunks;
  o.bs_ctx_id = rep->ctx_id;
  if (rr == 0)
    o.closed = rep->closed;
  else
    observe_failure (run, &o.timeout, &o.closed, &o.bad, &o.bad_msg);
  model_cmd (&run->model, st->code, &o, &mr);
  return model_report (run, &mr);
}

/* judge NAME [ARGS]: skipped where the model says it cannot apply
 * (options in transmission, requests before it, anything after a
 * close), noted in the trace.
 */
int
exec_judge (struct scenario_run *run, const struct step *st)
{
  struct opt_values v;
  uint64_t offset = 0, length = 0;
  bool skip;
  int r;

  if (st->is_cmd &&
      (run_number (run, &st->cmd.offset, "offset", &offset) == -1 ||
       run_number (run, &st->cmd.length, "length", &length) == -1))
    return -1;
  if (!st->is_cmd && run_opt_values (run, &st->opt, &v) == -1) {
    opt_values_free (&v);
    return -1;
  }
  model_describe (&run->model, run->before, sizeof run->before);
  skip = run->model.closed ||
    (st->is_cmd ? !run->model.transmission : run->model.transmission);
  if (skip)
    sess_trace (&run->sess, "-- skipped: %s", run->model.closed
                ? "the connection is closed" : st->is_cmd
                ? "not in transmission" : "in transmission");
  else
    run->res->njudged++;
  if (st->is_cmd)
    return skip ? 0 : judge_cmd (run, st, offset, length);
  r = skip ? 0 : judge_option (run, st, &v);
  opt_values_free (&v);
  return r;
}
