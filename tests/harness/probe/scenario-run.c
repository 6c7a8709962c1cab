/* tlsguard test harness: running a scenario's protocol steps.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * The steps arrive parsed (scenario-parse.c): here only what needs the
 * server can fail, plus the variables whose values are known now.
 */

#include <config.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario-int.h"

void
run_fail (struct scenario_run *run, const char *fmt, ...)
{
  va_list ap;

  run->msg.len = 0;
  if (run->msg.s)
    run->msg.s[0] = '\0';
  va_start (ap, fmt);
  sbuf_vprintf (&run->msg, fmt, ap);
  va_end (ap);
}

/* Fail with the session's error; returns -1. */
static int
fail_session (struct scenario_run *run)
{
  run_fail (run, "%s", run->sess.err.msg);
  return -1;
}

int
run_number (struct scenario_run *run, const struct num_arg *n,
            const char *what, uint64_t *v)
{
  struct sword sw = { .text = n->var };
  char *s;
  bool ok;

  if (n->var == NULL) {
    *v = n->v;
    return 0;
  }
  s = run_expand (run, &sw);
  if (s == NULL)
    return -1;
  ok = parse_u64 (s, v);
  if (!ok)
    run_fail (run, "bad %s=%s", what, s);
  free (s);
  return ok ? 0 : -1;
}

/* A query of exactly $CONTEXT is one query per --context. */
static int
add_queries (struct scenario_run *run, const struct sword *q,
             struct opt_values *v)
{
  size_t j;

  if (strcmp (q->text, "$CONTEXT") == 0 ||
      strcmp (q->text, "${CONTEXT}") == 0) {
    for (j = 0; j < run->cfg->ncontexts; ++j) {
      if (v->nq >= WIRE_MAX_QUERIES) {
        run_fail (run, "too many queries");
        return -1;
      }
      v->queries[v->nq++] = xstrdup (run->cfg->contexts[j]);
    }
    return 0;
  }
  if (v->nq >= WIRE_MAX_QUERIES) {
    run_fail (run, "too many queries");
    return -1;
  }
  v->queries[v->nq] = run_expand (run, q);
  if (v->queries[v->nq] == NULL)
    return -1;
  v->nq++;
  return 0;
}

int
run_opt_values (struct scenario_run *run, const struct opt_args *a,
                struct opt_values *v)
{
  size_t i;
  uint64_t len;

  memset (v, 0, sizeof *v);
  if (a->export.text && (v->export = run_expand (run, &a->export)) == NULL)
    return -1;
  for (i = 0; i < a->nq; ++i)
    if (add_queries (run, &a->queries[i], v) == -1)
      return -1;
  if (a->len.given) {
    if (run_number (run, &a->len, "len", &len) == -1)
      return -1;
    if (len > UINT32_MAX) {
      run_fail (run, "bad len=%" PRIu64, len);
      return -1;
    }
    v->has_len = true;
    v->len = len;
  }
  return 0;
}

void
opt_values_free (struct opt_values *v)
{
  size_t i;

  free (v->export);
  for (i = 0; i < v->nq; ++i)
    free (v->queries[i]);
  memset (v, 0, sizeof *v);
}

/* Encode and send an option. */
int
run_send_option (struct scenario_run *run, uint32_t opt,
                 const struct opt_args *a, const struct opt_values *v)
{
  struct wire_buf b;
  const uint8_t *p = a->payload;
  size_t plen = a->plen;
  const char *exp = v->export ? v->export : "";
  int st = WIRE_OK, r;

  wire_buf_init (&b);
  if (!a->has_payload) {
    switch (opt) {
    case NBD_OPT_SET_META_CONTEXT:
    case NBD_OPT_LIST_META_CONTEXT:
      st = wire_enc_opt_meta (&b, opt, exp, (const char *const *) v->queries,
                              v->nq);
      break;
    case NBD_OPT_INFO:
    case NBD_OPT_GO:
      st = wire_enc_opt_info (&b, opt, exp, a->infos, a->ninfo);
      break;
    case NBD_OPT_EXPORT_NAME:
      st = wire_enc_opt_export_name (&b, exp);
      break;
    }
    if (st != WIRE_OK) {
      run_fail (run, "cannot encode the option: %s", wire_status_name (st));
      wire_buf_free (&b);
      return -1;
    }
    p = NULL;
    plen = 0;
    if (b.len >= WIRE_OPT_REQ_HDR_LEN) {
      p = b.data + WIRE_OPT_REQ_HDR_LEN;
      plen = b.len - WIRE_OPT_REQ_HDR_LEN;
    }
  }
  r = sess_send_option (&run->sess, opt, p, plen, v->has_len ? v->len : plen);
  wire_buf_free (&b);
  return r == -1 ? fail_session (run) : 0;
}

/* --- the option phase ------------------------------------------------------ */

int
exec_option (struct scenario_run *run, const struct step *st)
{
  struct opt_values v;
  int r = -1;

  if (run_opt_values (run, &st->opt, &v) == 0)
    r = run_send_option (run, st->code, &st->opt, &v);
  opt_values_free (&v);
  return r;
}

int
exec_send_raw (struct scenario_run *run, const struct step *st)
{
  if (sess_send_raw (&run->sess, st->raw, st->rawlen) == -1)
    return fail_session (run);
  return 0;
}

int
exec_write_together (struct scenario_run *run, const struct step *st)
{
  size_t i;
  int r = 0;

  run->sess.batching = true;
  for (i = 0; r == 0 && i < st->nsub; ++i)
    r = st->sub[i].kw->exec (run, &st->sub[i]);
  if (r == 0)
    return sess_flush (&run->sess) == -1 ? fail_session (run) : 0;
  wire_buf_reset (&run->sess.outbuf);
  run->sess.batching = false;
  return r;
}

/* Read the next option reply. */
static int
next_reply (struct scenario_run *run, struct opt_reply *r)
{
  if (sess_read_opt_reply (&run->sess, r) == -1)
    return fail_session (run);
  return 0;
}

/* Check that the reply answers the option asked and decodes. */
static int
check_reply_opt (struct scenario_run *run, const struct opt_reply *r)
{
  struct sbuf d = { 0 };

  if (r->for_opt == 0) {
    run_fail (run, "unsolicited reply for %s (no option outstanding)",
              wire_opt_name (r->opt));
    return -1;
  }
  if (r->opt != r->for_opt) {
    run_fail (run, "reply is for %s but %s was asked", wire_opt_name (r->opt),
              wire_opt_name (r->for_opt));
    return -1;
  }
  if (!r->malformed)
    return 0;
  opt_reply_describe (&d, r);
  run_fail (run, "malformed reply: %s", d.s);
  sbuf_free (&d);
  return -1;
}

/* Fail with "PREFIX" and the reply described; returns -1. */
static int
fail_reply (struct scenario_run *run, const char *prefix,
            const struct opt_reply *r)
{
  struct sbuf d = { 0 };

  opt_reply_describe (&d, r);
  run_fail (run, "%s%s", prefix, d.s);
  sbuf_free (&d);
  return -1;
}

static int
fail_got (struct scenario_run *run, const char *want,
          const struct opt_reply *r)
{
  char prefix[256];

  snprintf (prefix, sizeof prefix, "expected %s, got ", want);
  return fail_reply (run, prefix, r);
}

/* The final reply to GO or INFO (after the NBD_REP_INFO ones). */
static int
go_info_final (struct scenario_run *run, const struct step *st,
               const char *export, const struct opt_reply *r, bool got_export)
{
  char prefix[256];

  if (r->type == NBD_REP_ACK) {
    if (got_export)
      return 0;
    run_fail (run, "%s acknowledged without NBD_INFO_EXPORT (the spec "
              "requires it)", wire_opt_name (st->code));
    return -1;
  }
  if (r->type & NBD_REP_FLAG_ERROR) {
    snprintf (prefix, sizeof prefix, "%s export=\"%s\" refused: ",
              wire_opt_name (st->code), export);
    return fail_reply (run, prefix, r);
  }
  return fail_got (run, "NBD_REP_INFO or a final reply", r);
}

int
exec_go_info (struct scenario_run *run, const struct step *st)
{
  struct opt_values v;
  struct opt_reply r;
  bool got_export = false;
  unsigned count;
  int ret = -1;

  if (run_opt_values (run, &st->opt, &v) == -1)
    goto out;
  if (v.export == NULL)
    v.export = xstrdup (run->cfg->export);
  if (run_send_option (run, st->code, &st->opt, &v) == -1)
    goto out;
  for (count = 0; ; ++count) {
    struct wire_info info;

    if (next_reply (run, &r) == -1)
      goto out;
    if (check_reply_opt (run, &r) == -1) {
      opt_reply_free (&r);
      goto out;
    }
    if (r.type != NBD_REP_INFO)
      break;
    if (wire_dec_rep_info (r.payload, r.len, &info) == WIRE_OK &&
        info.type == NBD_INFO_EXPORT)
      got_export = true;
    opt_reply_free (&r);
    if (count >= 1000) {
      run_fail (run, "more than 1000 NBD_REP_INFO replies");
      goto out;
    }
  }
  ret = go_info_final (run, st, v.export, &r, got_export);
  opt_reply_free (&r);
 out:
  opt_values_free (&v);
  return ret;
}

int
exec_starttls (struct scenario_run *run, const struct step *st)
{
  struct opt_reply r;
  int ret = 0;

  if (sess_send_option (&run->sess, NBD_OPT_STARTTLS, NULL, 0, 0) == -1)
    return fail_session (run);
  if (next_reply (run, &r) == -1)
    return -1;
  if (check_reply_opt (run, &r) == -1)
    ret = -1;
  else if (r.type != NBD_REP_ACK)
    ret = fail_got (run, "NBD_REP_ACK to NBD_OPT_STARTTLS", &r);
  opt_reply_free (&r);
  if (ret == 0 && sess_handshake (&run->sess) == -1)
    ret = fail_session (run);
  return ret;
}

int
exec_handshake (struct scenario_run *run, const struct step *st)
{
  if (!run->sess.await_handshake) {
    run_fail (run, "no NBD_OPT_STARTTLS was acknowledged");
    return -1;
  }
  if (sess_handshake (&run->sess) == -1)
    return fail_session (run);
  return 0;
}

int
exec_skip_if (struct scenario_run *run, const struct step *st)
{
  struct opt_reply r;
  char *reason;
  int i;

  if ((reason = run_expand (run, &st->str)) == NULL)
    return -1;
  if (next_reply (run, &r) == -1) {
    free (reason);
    return -1;
  }
  for (i = 0; i < st->nset; ++i) {
    if (r.type == st->set[i] && r.opt == r.for_opt) {
      struct sbuf d = { 0 };

      opt_reply_describe (&d, &r);
      run_fail (run, "%s (%s: %s)", reason, wire_opt_name (r.opt), d.s);
      sbuf_free (&d);
      free (reason);
      opt_reply_free (&r);
      return 1;
    }
  }
  free (reason);
  sess_push_back (&run->sess, &r);
  return 0;
}

static const char *
rep_list_name (const struct step *st, struct sbuf *b)
{
  int i;

  for (i = 0; i < st->nset; ++i)
    sbuf_printf (b, "%s%s", i ? " or " : "", wire_rep_name (st->set[i]));
  return b->s;
}

/* expect reply and expect error. */
int
exec_expect_reply (struct scenario_run *run, const struct step *st)
{
  struct opt_reply r;
  struct sbuf want = { 0 };
  char *name = NULL;
  int i, ret = 0;

  if (st->str.text && (name = run_expand (run, &st->str)) == NULL)
    return -1;
  if (next_reply (run, &r) == -1) {
    free (name);
    return -1;
  }
  rep_list_name (st, &want);
  for (i = 0; i < st->nset && r.type != st->set[i]; ++i)
    ;
  if (check_reply_opt (run, &r) == -1)
    ret = -1;
  else if (i == st->nset)
    ret = fail_got (run, want.s, &r);
  else if (name &&
           (r.str.len != strlen (name) ||
            (r.str.len && memcmp (r.str.ptr, name, r.str.len) != 0))) {
    ret = fail_got (run, "the name", &r);
    sbuf_printf (&run->msg, " (expected \"%s\")", name);
  }
  sbuf_free (&want);
  free (name);
  opt_reply_free (&r);
  return ret;
}

/* Read the run of replies of one type; returns -1, or 0 with *count. */
static int
count_replies (struct scenario_run *run, uint32_t type, uint64_t *count)
{
  struct opt_reply r;

  for (*count = 0; ; ++*count) {
    if (next_reply (run, &r) == -1)
      return -1;
    if (r.opt == r.for_opt && r.type != type) {
      sess_push_back (&run->sess, &r);
      return 0;
    }
    if (check_reply_opt (run, &r) == -1) {
      opt_reply_free (&r);
      return -1;
    }
    opt_reply_free (&r);
    if (*count >= 100000) {
      run_fail (run, "more than 100000 %s replies", wire_rep_name (type));
      return -1;
    }
  }
}

int
exec_expect_replies (struct scenario_run *run, const struct step *st)
{
  uint64_t min = 0, max = UINT64_MAX, count;
  struct sbuf d = { 0 };

  if ((st->min.given && run_number (run, &st->min, "min", &min) == -1) ||
      (st->max.given && run_number (run, &st->max, "max", &max) == -1))
    return -1;
  if (count_replies (run, st->set[0], &count) == -1)
    return -1;
  if (count >= min && count <= max)
    return 0;
  /* Name the reply that ended the run (pushed back), so that "no
   * contexts" and "the option is unsupported" can be told apart.
   */
  opt_reply_describe (&d, &run->sess.pending);
  run_fail (run, "%" PRIu64 " %s replies, expected %s%" PRIu64 ", then %s",
            count, wire_rep_name (st->set[0]),
            count < min ? "at least " : "at most ", count < min ? min : max,
            d.s);
  sbuf_free (&d);
  return -1;
}

int
exec_expect_closed (struct scenario_run *run, const struct step *st)
{
  if (run->sess.have_pending)
    return fail_reply (run, "expected the server to close, got ",
                       &run->sess.pending);
  if (sess_wait_closed (&run->sess) != 1) {
    run_fail (run, "expected the server to close: %s", run->sess.err.msg);
    return -1;
  }
  return 0;
}

int
exec_expect_closed_or_handshake_failure (struct scenario_run *run,
                                         const struct step *st)
{
  int c;

  if (run->sess.handshake_failed)
    return 0;
  if (run->sess.await_handshake) {
    if (run->cfg->creds == NULL) {
      run_fail (run, "cannot check: no TLS credentials were given");
      return -1;
    }
    if (sess_handshake (&run->sess) == -1)
      return 0;                 /* the expected outcome */
  }
  c = sess_wait_closed (&run->sess);
  if (c == 1)
    return 0;
  if (c == 0)
    run_fail (run, "the server answered after the handshake: %s",
              run->sess.err.msg);
  else
    run_fail (run, "the TLS handshake succeeded although plaintext followed "
              "NBD_OPT_STARTTLS in the same write, and the connection "
              "stayed open (%s)", run->sess.err.msg);
  return -1;
}

/* --- transmission ------------------------------------------------------------- */

int
exec_cmd (struct scenario_run *run, const struct step *st)
{
  uint64_t offset, length = 0;

  if (run_number (run, &st->cmd.offset, "offset", &offset) == -1 ||
      run_number (run, &st->cmd.length, "length", &length) == -1)
    return -1;
  if (length > UINT32_MAX)
    length = UINT32_MAX & ~UINT32_C (511);
  if (sess_send_cmd (&run->sess, st->cmd.flags, st->code, offset,
                     length) == -1)
    return fail_session (run);
  return 0;
}

/* The extents of the reply as "OFF:LEN:FLAGS,...", at most max. */
static void
format_extents (struct scenario_run *run, struct sbuf *b, size_t max)
{
  const struct cmd_reply *rep = &run->sess.reply;
  uint64_t off = run->sess.cmd_offset;
  size_t i;

  sbuf_add (b, "");
  for (i = 0; i < rep->next && i < max; ++i) {
    sbuf_printf (b, "%s%" PRIu64 ":%" PRIu32 ":%" PRIu32, i ? "," : "",
                 off, rep->ext[i].length, rep->ext[i].flags);
    off += rep->ext[i].length;
  }
  if (i < rep->next)
    sbuf_printf (b, ",...(%zu extents)", rep->next);
}

static const char *
errno_str (uint32_t e, char *buf, size_t n)
{
  const char *s = wire_errno_name (e);

  if (strcmp (s, "unknown") == 0) {
    snprintf (buf, n, "error %" PRIu32, e);
    return buf;
  }
  return s;
}

/* Read the reply to the last request; a close instead of it fails
 * (may_close: unless it came instead of any reply; then returns 1).
 */
static int
cmd_reply (struct scenario_run *run, bool may_close)
{
  const struct cmd_reply *rep = &run->sess.reply;
  const char *cmd = wire_cmd_name (run->sess.cmd_type);

  if (sess_read_cmd_reply (&run->sess) == -1)
    return fail_session (run);
  if (!rep->closed)
    return 0;
  if (may_close && rep->nchunks == 0 && !rep->simple) {
    sbuf_printf (&run->res->notes, "note: %s: the server closed the "
                 "connection instead of replying to %s (a hard disconnect, "
                 "which the spec allows after a client broke a MUST)\n",
                 run->step->text, cmd);
    return 1;
  }
  run_fail (run, "the server closed the connection instead of a%s reply "
            "to %s", rep->nchunks ? " complete" : "", cmd);
  return -1;
}

/* Fail if the reply carried extents; returns -1 then. */
static int
no_extents (struct scenario_run *run)
{
  struct sbuf b = { 0 };

  if (run->sess.reply.n_bs_chunks == 0)
    return 0;
  format_extents (run, &b, 16);
  run_fail (run, "the server returned extents: %s%s", b.s,
            run->sess.reply.is_error ? " (together with an error chunk)" : "");
  sbuf_free (&b);
  return -1;
}

int
exec_expect_no_extents (struct scenario_run *run, const struct step *st)
{
  if (sess_read_cmd_reply (&run->sess) == -1)
    return fail_session (run);
  return no_extents (run);
}

int
exec_expect_cmd_ok (struct scenario_run *run, const struct step *st)
{
  char eb[32];
  int r = cmd_reply (run, false);

  if (r != 0 || !run->sess.reply.is_error)
    return r;
  run_fail (run, "%s failed: %s", wire_cmd_name (run->sess.cmd_type),
            errno_str (run->sess.reply.error, eb, sizeof eb));
  return -1;
}

/* expect cmd-error and expect cmd-refused. */
int
exec_expect_cmd_error (struct scenario_run *run, const struct step *st)
{
  const struct cmd_reply *rep = &run->sess.reply;
  const char *cmd;
  char eb[32];
  int r = cmd_reply (run, st->refused), i;

  if (r != 0)
    return r == 1 ? 0 : -1;
  cmd = wire_cmd_name (run->sess.cmd_type);
  if (no_extents (run) == -1)
    return -1;
  if (!rep->is_error) {
    run_fail (run, "%s succeeded; an error was expected", cmd);
    return -1;
  }
  for (i = 0; i < st->nset; ++i)
    if (rep->error == st->set[i])
      return 0;
  if (st->nset == 0)
    return 0;
  run_fail (run, "%s failed with %s, expected %s", cmd,
            errno_str (rep->error, eb, sizeof eb), st->str.text);
  return -1;
}

int
exec_expect_simple_reply (struct scenario_run *run, const struct step *st)
{
  int r = cmd_reply (run, false);

  if (r != 0 || run->sess.reply.simple)
    return r;
  run_fail (run, "expected a simple reply, got a structured reply "
            "(%u chunks)%s", run->sess.reply.nchunks, run->sess.structured
            ? "" : ": structured replies were not negotiated in this TLS "
            "epoch");
  return -1;
}

int
exec_expect_structured_reply (struct scenario_run *run,
                              const struct step *st)
{
  int r = cmd_reply (run, false);

  if (r != 0 || !run->sess.reply.simple)
    return r;
  run_fail (run, "expected a structured reply, got a simple reply");
  return -1;
}

int
exec_expect_extents (struct scenario_run *run, const struct step *st)
{
  const struct cmd_reply *rep = &run->sess.reply;
  struct sbuf b = { 0 };
  char eb[32], *map = NULL;
  int r;

  if (st->str.text && (map = run_expand (run, &st->str)) == NULL)
    return -1;
  r = cmd_reply (run, false);
  if (r == 0 && rep->is_error && rep->n_bs_chunks == 0) {
    run_fail (run, "%s failed with %s; extents were expected",
              wire_cmd_name (run->sess.cmd_type),
              errno_str (rep->error, eb, sizeof eb));
    r = -1;
  }
  else if (r == 0 && rep->n_bs_chunks == 0) {
    run_fail (run, "no NBD_REPLY_TYPE_BLOCK_STATUS chunk in the reply");
    r = -1;
  }
  else if (r == 0 && map) {
    format_extents (run, &b, SIZE_MAX);
    if (strcmp (b.s, map) != 0) {
      run_fail (run, "extents %s, expected %s", b.s, map);
      r = -1;
    }
    sbuf_free (&b);
  }
  free (map);
  return r;
}

int
exec_observe (struct scenario_run *run, const struct step *st)
{
  const struct cmd_reply *rep = &run->sess.reply;
  struct sbuf *o = &run->res->observed;
  char eb[32];

  if (sess_read_cmd_reply (&run->sess) == -1)
    return fail_session (run);
  o->len = 0;
  if (rep->n_bs_chunks > 0) {
    sbuf_add (o, "extents ");
    format_extents (run, o, 64);
    if (rep->is_error)
      sbuf_printf (o, " and error %s", errno_str (rep->error, eb, sizeof eb));
  }
  else if (rep->is_error)
    sbuf_printf (o, "error %s", errno_str (rep->error, eb, sizeof eb));
  else if (rep->closed)
    sbuf_add (o, "closed");
  else
    sbuf_add (o, "no-extents");
  return 0;
}

/* --- the scenario ------------------------------------------------------------ */

static bool
mode_matches (enum probe_mode m, unsigned mask, bool not)
{
  bool in = (m & mask) != 0;

  return not ? !in : in;
}

/* Whether sc is skipped on this server; the reason goes to reason. */
static bool
skip_reason (const struct scenario *sc, const struct probe_cfg *cfg,
             struct sbuf *reason)
{
  if (sc->require &&
      !mode_matches (cfg->mode, sc->require, sc->require_not)) {
    if (cfg->mode == MODE_NOTLS && (sc->require & MODE_TLS) &&
        !sc->require_not)
      sbuf_add (reason, "server does not offer TLS");
    else
      sbuf_printf (reason, "server is %s; the scenario applies to "
                   "%s%s only", mode_name (cfg->mode),
                   sc->require_not ? "not " : "",
                   sc->require == MODE_TLS ? "TLS servers"
                   : mode_name (sc->require));
    return true;
  }
  if (sc->require_tls_only && cfg->tls_only_export == NULL) {
    sbuf_add (reason, "no TLS-only export named (give "
              "--tls-only-export NAME)");
    return true;
  }
  return false;
}

/* Run the steps; returns the first step's nonzero result, or 0. */
static int
run_steps (struct scenario_run *run, const struct scenario *sc)
{
  size_t i;
  int r = 0;

  for (i = 0; r == 0 && i < sc->nsteps; ++i) {
    const struct step *st = &sc->steps[i];
    struct sbuf m = { 0 };

    if (st->when && !mode_matches (run->cfg->mode, st->when, st->when_not))
      continue;
    sess_trace (&run->sess, "-- %s:%d: %s", sc->file, st->line, st->text);
    run->step = st;
    r = st->kw->exec (run, st);
    if (r < 0) {
      sbuf_printf (&m, "%s:%d: %s: %s", sc->file, st->line, st->text,
                   run->msg.s ? run->msg.s : "failed");
      sbuf_free (&run->msg);
      run->msg = m;
    }
  }
  return r;
}

void
scenario_result_free (struct scenario_result *r)
{
  sbuf_free (&r->reason);
  sbuf_free (&r->trace);
  sbuf_free (&r->observed);
  sbuf_free (&r->notes);
}

void
scenario_run (const struct scenario *sc, const struct probe_cfg *cfg,
              struct scenario_result *res)
{
  struct scenario_run run;
  int r = -1;

  memset (res, 0, sizeof *res);
  sbuf_add (&res->reason, "");
  sbuf_add (&res->trace, "");
  sbuf_add (&res->observed, "");
  sbuf_add (&res->notes, "");
  res->res = RES_OK;
  if (skip_reason (sc, cfg, &res->reason)) {
    res->res = RES_SKIP;
    return;
  }

  memset (&run, 0, sizeof run);
  run.cfg = cfg;
  run.res = res;
  sess_init (&run.sess, cfg);
  model_init (&run.model, model_mode_of (cfg->mode));
  if (cfg->tls_only_export)
    model_set_tls_only (&run.model, cfg->tls_only_export);
  if (sess_connect (&run.sess) == -1)
    run_fail (&run, "connect: %s", run.sess.err.msg);
  else
    r = run_steps (&run, sc);
  sess_close (&run.sess);

  if (r > 0) {
    res->res = RES_SKIP;
    sbuf_add (&res->reason, run.msg.s);
  }
  else if (r < 0 && sc->report_only) {
    res->observed.len = 0;
    sbuf_printf (&res->observed, "failed: %s", run.msg.s);
  }
  else if (r < 0) {
    res->res = RES_NOT_OK;
    sbuf_add (&res->reason, run.msg.s);
  }
  sbuf_add (&res->trace, run.sess.trace.s ? run.sess.trace.s : "");
  sbuf_free (&run.sess.trace);
  sbuf_free (&run.msg);
}
