/* tlsguard test harness: parsing a scenario into steps.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Every check that needs no server is made here: keywords, names of
 * options, replies, errors, infos, commands and flags, numbers, hex,
 * and the variables each word names.  Errors are "FILE:LINE: message".
 */

#include <config.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scenario-int.h"

int
parse_error (struct scenario_parser *p, const char *fmt, ...)
{
  char msg[ERROR_MAX];
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  return error_set (p->err, "%s:%d: %s", p->file, p->line, msg);
}

/* --- names ---------------------------------------------------------------- */

/* A name from wire.c's tables, or a number up to max. */
static int64_t
lookup_code (const char *s, int64_t (*by_name) (const char *), uint64_t max)
{
  uint64_t v;

  if (parse_u64 (s, &v))
    return v <= max ? (int64_t) v : -1;
  return by_name (s);
}

static int64_t
lookup_opt (const char *s)
{
  return lookup_code (s, wire_opt_by_name, UINT32_MAX);
}

static int64_t
lookup_cmd (const char *s)
{
  return lookup_code (s, wire_cmd_by_name, UINT16_MAX);
}

/* A reply type (error: an error type, for which INVALID means
 * NBD_REP_ERR_INVALID), or an NBD errno by name or number.
 */
enum code_kind { CODE_REPLY, CODE_ERROR, CODE_ERRNO };

static int64_t
lookup_kind (const char *s, enum code_kind kind)
{
  int64_t t;
  uint64_t v;
  char buf[64];

  if (kind == CODE_ERRNO) {
    t = wire_errno_by_name (s);
    if (t < 0 && parse_u64 (s, &v) && v <= UINT32_MAX)
      t = v;
    return t;
  }
  t = wire_rep_by_name (s);
  if (t < 0 && kind == CODE_ERROR) {
    snprintf (buf, sizeof buf, "ERR_%s", s);
    t = wire_rep_by_name (buf);
  }
  if (t < 0 || ((t & NBD_REP_FLAG_ERROR) != 0) != (kind == CODE_ERROR))
    return -1;
  return t;
}

/* "A|B|C" into st->set.  Returns -1 if a word is unknown, there are
 * more than max, or none.
 */
static int
parse_set (const char *s, enum code_kind kind, struct step *st, int max)
{
  char *copy = xstrdup (s), *save = NULL, *tok;

  st->nset = 0;
  for (tok = strtok_r (copy, "|", &save); tok;
       tok = strtok_r (NULL, "|", &save)) {
    int64_t t = lookup_kind (tok, kind);

    if (t < 0 || st->nset >= max) {
      free (copy);
      return -1;
    }
    st->set[st->nset++] = t;
  }
  free (copy);
  return st->nset > 0 ? 0 : -1;
}

static const struct { const char *name; uint16_t flag; } cmd_flags[] = {
  { "FUA", NBD_CMD_FLAG_FUA },
  { "NO_HOLE", NBD_CMD_FLAG_NO_HOLE },
  { "DF", NBD_CMD_FLAG_DF },
  { "REQ_ONE", NBD_CMD_FLAG_REQ_ONE },
  { "FAST_ZERO", NBD_CMD_FLAG_FAST_ZERO },
};

static int
parse_flags (struct scenario_parser *p, const char *s, uint16_t *flags)
{
  char *copy = xstrdup (s), *save = NULL, *tok;
  uint64_t v;

  for (tok = strtok_r (copy, "|", &save); tok;
       tok = strtok_r (NULL, "|", &save)) {
    size_t j;
    bool found = false;

    for (j = 0; j < sizeof cmd_flags / sizeof cmd_flags[0]; ++j)
      if (strcasecmp (tok, cmd_flags[j].name) == 0) {
        *flags |= cmd_flags[j].flag;
        found = true;
      }
    if (!found && parse_u64 (tok, &v) && v <= UINT16_MAX) {
      *flags |= v;
      found = true;
    }
    if (!found) {
      parse_error (p, "unknown command flag '%s'", tok);
      free (copy);
      return -1;
    }
  }
  free (copy);
  return 0;
}

/* A number, or a word naming $SIZE (read when the step runs). */
static int
parse_num (struct scenario_parser *p, const char *key, const char *s,
           struct num_arg *n)
{
  unsigned vars;

  n->given = true;
  if (strchr (s, '$') && lex_vars (s, &vars, NULL) == 0 &&
      (vars & ~VAR_SIZE) == 0 && vars != 0) {
    free (n->var);
    n->var = xstrdup (s);
    return 0;
  }
  if (!parse_u64 (s, &n->v))
    return parse_error (p, "bad %s=%s", key, s);
  return 0;
}

/* --- directives ------------------------------------------------------------ */

int
parse_name (struct scenario_parser *p, struct step *st, char **w, size_t nw)
{
  if (nw != 1)
    return parse_error (p, "usage: name NAME");
  free (p->sc->name);
  p->sc->name = xstrdup (w[0]);
  return 0;
}

int
parse_description (struct scenario_parser *p, struct step *st,
                   char **w, size_t nw)
{
  free (p->sc->description);
  p->sc->description = lex_join (w, 0, nw);
  return 0;
}

static int
parse_mode (const char *s, unsigned *mask, bool *not)
{
  static const struct { const char *name; unsigned mask; } modes[] = {
    { "selectivetls", MODE_SELECTIVETLS }, { "forcedtls", MODE_FORCEDTLS },
    { "notls", MODE_NOTLS }, { "tls", MODE_TLS },
  };
  size_t i;

  *not = *s == '!';
  s += *not;
  for (i = 0; i < sizeof modes / sizeof modes[0]; ++i)
    if (strcmp (s, modes[i].name) == 0) {
      *mask = modes[i].mask;
      return 0;
    }
  return -1;
}

static const char require_usage[] =
  "usage: require selectivetls|forcedtls|notls|tls (or !MODE) "
  "| require tls-only-export";

int
parse_require (struct scenario_parser *p, struct step *st, char **w,
               size_t nw)
{
  if (nw != 1 || parse_mode (w[0], &p->sc->require, &p->sc->require_not) < 0)
    return parse_error (p, "%s", require_usage);
  return 0;
}

int
parse_require_tls_only (struct scenario_parser *p, struct step *st,
                        char **w, size_t nw)
{
  if (nw != 0)
    return parse_error (p, "%s", require_usage);
  p->sc->require_tls_only = true;
  return 0;
}

/* A keyword without arguments. */
int
parse_none (struct scenario_parser *p, struct step *st, char **w, size_t nw)
{
  if (nw != 0)
    return parse_error (p, "usage: %s", st->kw->name);
  return 0;
}

int
parse_report_only (struct scenario_parser *p, struct step *st, char **w,
                   size_t nw)
{
  p->sc->report_only = true;
  return parse_none (p, st, w, nw);
}

/* A hidden keyword: the first word of a step that needs a second one
 * it does not have; its help is the usage.
 */
int
parse_usage (struct scenario_parser *p, struct step *st, char **w, size_t nw)
{
  if (strcmp (st->kw->name, "expect") == 0 && nw > 0)
    return parse_error (p, "unknown expectation '%s'", w[0]);
  return parse_error (p, "usage: %s", st->kw->help);
}

/* --- steps ----------------------------------------------------------------- */

/* Directives set the scenario's properties; they run no step. */
static bool
is_directive (const struct keyword *kw)
{
  return kw && kw->exec == NULL && kw->parse != parse_when &&
    kw->parse != parse_usage;
}

/* Parse the words of one step (after "when"); only keywords whose
 * exec is one of allowed (NULL: any step) are accepted.
 */
static int
parse_step_words (struct scenario_parser *p, struct step *st, char **w,
                  size_t nw, exec_fn *const *allowed)
{
  const struct keyword *kw;
  size_t i, nk;
  unsigned vars;
  struct error e;

  for (i = 0; i < nw; ++i)
    if (lex_vars (w[i], &vars, &e) == -1)
      return parse_error (p, "%s", e.msg);
  kw = keyword_find (w, nw, &nk);
  if (allowed) {
    for (i = 0; kw && allowed[i] && allowed[i] != kw->exec; ++i)
      ;
    if (kw == NULL || allowed[i] == NULL)
      return parse_error (p, "write-together takes only option and "
                          "send-raw steps");
  }
  if (kw == NULL || is_directive (kw) || kw->parse == parse_when)
    return parse_error (p, "unknown step '%s'", w[0]);
  st->kw = kw;
  return kw->parse (p, st, w + nk, nw - nk);
}

int
parse_when (struct scenario_parser *p, struct step *st, char **w, size_t nw)
{
  if (nw < 2 || parse_mode (w[0], &st->when, &st->when_not) < 0)
    return parse_error (p, "usage: when MODE STEP "
                        "(MODE: selectivetls, forcedtls, notls, tls, !MODE)");
  return parse_step_words (p, st, w + 1, nw - 1, NULL);
}

/* export= query= info= (all) and payload= len= (raw: option, judge). */
static int
parse_opt_arg (struct scenario_parser *p, const char *w, struct opt_args *a,
               bool raw)
{
  const char *v;

  if ((v = arg_val (w, "export")) != NULL)
    sword_set (&a->export, v);
  else if ((v = arg_val (w, "query")) != NULL) {
    if (a->nq >= WIRE_MAX_QUERIES)
      return parse_error (p, "too many queries");
    sword_set (&a->queries[a->nq++], v);
  }
  else if ((v = arg_val (w, "info")) != NULL) {
    int64_t t = lookup_code (v, wire_info_by_name, UINT16_MAX);

    if (t < 0 || a->ninfo >= STEP_MAX_INFOS)
      return parse_error (p, "unknown info '%s' (EXPORT, NAME, DESCRIPTION, "
                          "BLOCK_SIZE or a number)", v);
    a->infos[a->ninfo++] = t;
  }
  else if (raw && (v = arg_val (w, "payload")) != NULL) {
    free (a->payload);
    a->payload = strchr (v, '$') ? NULL : parse_hex (v, &a->plen);
    if (a->payload == NULL)
      return parse_error (p, "bad hex in payload=");
    a->has_payload = true;
  }
  else if (raw && (v = arg_val (w, "len")) != NULL) {
    if (parse_num (p, "len", v, &a->len) == -1 ||
        (a->len.var == NULL && a->len.v > UINT32_MAX))
      return parse_error (p, "bad len=%s", v);
  }
  else
    return parse_error (p, "unknown argument '%s'", w);
  return 0;
}

/* The option's arguments; encoded options take only theirs. */
static int
parse_opt_args (struct scenario_parser *p, uint32_t opt, char **w, size_t nw,
                struct opt_args *a, bool raw)
{
  size_t i;

  for (i = 0; i < nw; ++i)
    if (parse_opt_arg (p, w[i], a, raw) == -1)
      return -1;
  switch (opt) {
  case NBD_OPT_SET_META_CONTEXT: case NBD_OPT_LIST_META_CONTEXT:
  case NBD_OPT_INFO: case NBD_OPT_GO: case NBD_OPT_EXPORT_NAME:
    return 0;
  }
  if (!a->has_payload && (a->export.text || a->nq || a->ninfo))
    return parse_error (p, "%s takes no export=, query= or info= "
                        "(use payload=)", wire_opt_name (opt));
  return 0;
}

int
parse_option (struct scenario_parser *p, struct step *st, char **w,
              size_t nw)
{
  int64_t opt;

  if (nw < 1)
    return parse_error (p, "usage: option NAME [ARGS]");
  opt = lookup_opt (w[0]);
  if (opt < 0)
    return parse_error (p, "unknown option '%s'", w[0]);
  st->code = opt;
  return parse_opt_args (p, opt, w + 1, nw - 1, &st->opt, true);
}

int
parse_send_raw (struct scenario_parser *p, struct step *st, char **w,
                size_t nw)
{
  char *all = lex_join (w, 0, nw);

  st->raw = strchr (all, '$') ? NULL : parse_hex (all, &st->rawlen);
  free (all);
  if (st->raw == NULL || nw == 0)
    return parse_error (p, "usage: send-raw HEX...");
  return 0;
}

int
parse_write_together (struct scenario_parser *p, struct step *st, char **w,
                      size_t nw)
{
  static exec_fn *const allowed[] = { exec_option, exec_send_raw, NULL };
  size_t i = 0, start;

  if (nw == 0)
    return parse_error (p, "usage: write-together STEP ; STEP ...");
  while (i < nw) {
    struct step *sub;

    start = i;
    while (i < nw && strcmp (w[i], ";") != 0)
      i++;
    if (i == start)
      return parse_error (p, "write-together takes only option and "
                          "send-raw steps");
    st->sub = xrealloc (st->sub, (st->nsub + 1) * sizeof *st->sub);
    sub = &st->sub[st->nsub++];
    memset (sub, 0, sizeof *sub);
    sub->line = st->line;
    sub->inject = -1;
    if (parse_step_words (p, sub, w + start, i - start, allowed) == -1)
      return -1;
    i++;                        /* skip ";" */
  }
  return 0;
}

int
parse_go_info (struct scenario_parser *p, struct step *st, char **w,
               size_t nw)
{
  st->code = strcmp (st->kw->name, "go") == 0 ? NBD_OPT_GO : NBD_OPT_INFO;
  return parse_opt_args (p, st->code, w, nw, &st->opt, false);
}

/* expect reply TYPE[|TYPE] [name=S] and expect error ERR[|ERR]. */
int
parse_expect_reply (struct scenario_parser *p, struct step *st, char **w,
                    size_t nw)
{
  bool error = strcmp (st->kw->name, "expect error") == 0;
  const char *what = error ? "error" : "reply", *name;

  if (nw < 1 || parse_set (w[0], error ? CODE_ERROR : CODE_REPLY, st,
                           STEP_MAX_SET) < 0)
    return parse_error (p, "usage: expect %s %s[|...]: unknown %s '%s'", what,
                        error ? "ERR" : "TYPE", error ? "error" : "reply type",
                        nw >= 1 ? w[0] : "");
  if (nw == 2 && !error && (name = arg_val (w[1], "name")) != NULL)
    sword_set (&st->str, name);
  else if (nw != 1)
    return parse_error (p, "usage: expect %s TYPE[|TYPE]%s", what,
                        error ? "" : " [name=S]");
  return 0;
}

int
parse_expect_replies (struct scenario_parser *p, struct step *st, char **w,
                      size_t nw)
{
  static const char usage[] = "usage: expect replies TYPE [min=N] [max=N]";
  size_t k;
  const char *v;

  if (nw < 1 || parse_set (w[0], CODE_REPLY, st, 1) < 0)
    return parse_error (p, usage);
  for (k = 1; k < nw; ++k) {
    if ((v = arg_val (w[k], "min")) != NULL &&
        parse_num (p, "min", v, &st->min) == 0)
      ;
    else if ((v = arg_val (w[k], "max")) != NULL &&
             parse_num (p, "max", v, &st->max) == 0)
      ;
    else
      return parse_error (p, usage);
  }
  return 0;
}

int
parse_skip_if (struct scenario_parser *p, struct step *st, char **w,
               size_t nw)
{
  char *reason;

  if (nw < 2)
    return parse_error (p, "usage: skip-if error ERR[|ERR] REASON...");
  if (parse_set (w[0], CODE_ERROR, st, STEP_MAX_SET) < 0)
    return parse_error (p, "unknown error name in '%s'", w[0]);
  reason = lex_join (w, 1, nw);
  sword_set (&st->str, reason);
  free (reason);
  return 0;
}

/* [offset=N] [length=N] [flags=F[|F...]] */
static int
parse_cmd_args (struct scenario_parser *p, char **w, size_t nw,
                struct cmd_args *a)
{
  size_t i;
  const char *v;
  int r;

  for (i = 0; i < nw; ++i) {
    if ((v = arg_val (w[i], "offset")) != NULL)
      r = parse_num (p, "offset", v, &a->offset);
    else if ((v = arg_val (w[i], "length")) != NULL)
      r = parse_num (p, "length", v, &a->length);
    else if ((v = arg_val (w[i], "flags")) != NULL)
      r = parse_flags (p, v, &a->flags);
    else
      r = parse_error (p, "unknown argument '%s'", w[i]);
    if (r == -1)
      return -1;
  }
  return 0;
}

int
parse_cmd (struct scenario_parser *p, struct step *st, char **w, size_t nw)
{
  int64_t type;

  if (nw < 1 || (type = lookup_cmd (w[0])) < 0)
    return parse_error (p, "usage: cmd NAME [offset=N] [length=N] "
                        "[flags=F|F]");
  st->code = type;
  return parse_cmd_args (p, w + 1, nw - 1, &st->cmd);
}

/* expect cmd-error [ERRNO[|ERRNO]] and expect cmd-refused ERRNO[|ERRNO]. */
int
parse_expect_cmd_error (struct scenario_parser *p, struct step *st,
                        char **w, size_t nw)
{
  const char *what = st->kw->name + strlen ("expect ");

  st->refused = strcmp (what, "cmd-refused") == 0;
  if (nw > 1 || (nw == 0 && st->refused) ||
      (nw == 1 && parse_set (w[0], CODE_ERRNO, st, STEP_MAX_SET) < 0))
    return parse_error (p, "usage: expect %s ERRNO[|ERRNO]", what);
  if (nw == 1)
    sword_set (&st->str, w[0]);
  return 0;
}

int
parse_expect_extents (struct scenario_parser *p, struct step *st, char **w,
                      size_t nw)
{
  if (nw > 1)
    return parse_error (p, "usage: expect extents [OFF:LEN:FLAGS,...]");
  if (nw == 1)
    sword_set (&st->str, w[0]);
  return 0;
}

/* Options "judge" can send injected after STARTTLS: ones without data. */
static bool
injectable (int64_t opt)
{
  return opt == NBD_OPT_LIST || opt == NBD_OPT_STRUCTURED_REPLY ||
    opt == NBD_OPT_ABORT;
}

/* judge OPTION [ARGS] [inject=OPTION] | judge READ|BLOCK_STATUS [ARGS] */
int
parse_judge (struct scenario_parser *p, struct step *st, char **w, size_t nw)
{
  int64_t opt, cmd;
  char **rest;
  size_t nrest = 0, i;
  int r;

  if (nw < 1)
    return parse_error (p, "usage: judge OPTION [export=S] [query=S]... "
                        "[info=I]... [payload=HEX] [inject=OPTION] | judge "
                        "READ|BLOCK_STATUS [offset=N] [length=N] [flags=F]");
  opt = lookup_opt (w[0]);
  if (opt < 0) {
    cmd = lookup_cmd (w[0]);
    if (cmd != NBD_CMD_READ && cmd != NBD_CMD_BLOCK_STATUS)
      return parse_error (p, "do: '%s' is neither an option nor READ or "
                          "BLOCK_STATUS", w[0]);
    st->is_cmd = true;
    st->code = cmd;
    return parse_cmd_args (p, w + 1, nw - 1, &st->cmd);
  }

  /* Options: take inject= out, the rest are "option" arguments. */
  st->code = opt;
  rest = xmalloc ((nw + 1) * sizeof *rest);
  for (i = 1; i < nw; ++i) {
    const char *v = arg_val (w[i], "inject");

    if (v == NULL) {
      rest[nrest++] = w[i];
      continue;
    }
    st->inject = lookup_opt (v);
    if (opt != NBD_OPT_STARTTLS || !injectable (st->inject)) {
      free (rest);
      return parse_error (p, "do: inject= goes with STARTTLS only and takes "
                          "LIST, STRUCTURED_REPLY or ABORT");
    }
  }
  r = parse_opt_args (p, opt, rest, nrest, &st->opt, true);
  free (rest);
  if (r == 0 && st->opt.len.given)
    return parse_error (p, "do: len= is not supported (use option)");
  return r;
}

/* --- the scenario -------------------------------------------------------------- */

static void
opt_args_free (struct opt_args *a)
{
  size_t i;

  sword_free (&a->export);
  for (i = 0; i < a->nq; ++i)
    sword_free (&a->queries[i]);
  free (a->payload);
  free (a->len.var);
}

void
step_free (struct step *st)
{
  size_t i;

  free (st->text);
  opt_args_free (&st->opt);
  free (st->cmd.offset.var);
  free (st->cmd.length.var);
  sword_free (&st->str);
  free (st->min.var);
  free (st->max.var);
  free (st->raw);
  for (i = 0; i < st->nsub; ++i)
    step_free (&st->sub[i]);
  free (st->sub);
}

void
scenario_free (struct scenario *sc)
{
  size_t i;

  if (sc == NULL)
    return;
  for (i = 0; i < sc->nsteps; ++i)
    step_free (&sc->steps[i]);
  free (sc->steps);
  free (sc->name);
  free (sc->file);
  free (sc->description);
  free (sc);
}

const char *
scenario_name (const struct scenario *sc)
{
  return sc->name;
}

const char *
scenario_description (const struct scenario *sc)
{
  return sc->description ? sc->description : "";
}

/* The line without leading and trailing blanks, for diagnostics. */
static char *
trimmed (const char *p, size_t len)
{
  char *t;

  while (len > 0 && isspace ((unsigned char) *p)) {
    p++;
    len--;
  }
  while (len > 0 && isspace ((unsigned char) p[len - 1]))
    len--;
  t = xmemdup (p, len + 1);
  t[len] = '\0';
  return t;
}

/* Parse one line: nothing, a directive or a step (added to p->sc). */
static int
parse_line (struct scenario_parser *p, const char *line, size_t len)
{
  char *text = xmemdup (line, len + 1), **w;
  size_t nw, nk;
  const struct keyword *kw;
  struct step st;
  int r;

  text[len] = '\0';
  r = lex_split (text, &w, &nw);
  free (text);
  if (r == -1)
    return parse_error (p, "unterminated quote");
  if (nw == 0) {
    free (w);
    return 0;
  }
  memset (&st, 0, sizeof st);
  st.line = p->line;
  st.inject = -1;
  kw = keyword_find (w, nw, &nk);
  if (is_directive (kw)) {
    st.kw = kw;
    r = kw->parse (p, &st, w + nk, nw - nk);
    lex_free_words (w, nw);
    return r;
  }
  if (kw && kw->parse == parse_when)
    r = parse_when (p, &st, w + nk, nw - nk);
  else
    r = parse_step_words (p, &st, w, nw, NULL);
  lex_free_words (w, nw);
  if (r == -1) {
    step_free (&st);
    return -1;
  }
  st.text = trimmed (line, len);
  p->sc->steps = xrealloc (p->sc->steps,
                           (p->sc->nsteps + 1) * sizeof *p->sc->steps);
  p->sc->steps[p->sc->nsteps++] = st;
  return 0;
}

/* "judge" steps keep the spec model in step with the connection; steps
 * that talk to the server behind its back would desynchronise it.
 */
static int
check_judge_alone (struct scenario_parser *p)
{
  size_t i, njudge = 0;
  int other = 0;

  for (i = 0; i < p->sc->nsteps; ++i) {
    if (p->sc->steps[i].kw->exec == exec_judge)
      njudge++;
    else if (other == 0)
      other = p->sc->steps[i].line;
  }
  if (njudge > 0 && other > 0) {
    p->line = other;
    return parse_error (p, "\"judge\" steps cannot be mixed with other "
                        "steps in one scenario");
  }
  return 0;
}

struct scenario *
scenario_parse (const char *name, const char *file, const char *text,
                struct error *err)
{
  struct scenario_parser p = { .file = file, .err = err };
  const char *s = text;

  p.sc = xcalloc (1, sizeof *p.sc);
  p.sc->name = xstrdup (name);
  p.sc->file = xstrdup (file);
  while (*s) {
    const char *eol = strchr (s, '\n');
    size_t len = eol ? (size_t) (eol - s) : strlen (s);

    p.line++;
    if (parse_line (&p, s, len) == -1)
      goto error;
    s += len + (eol ? 1 : 0);
  }
  if (p.sc->nsteps == 0) {
    error_set (err, "%s: no steps", file);
    goto error;
  }
  if (check_judge_alone (&p) == -1)
    goto error;
  return p.sc;

 error:
  scenario_free (p.sc);
  return NULL;
}
