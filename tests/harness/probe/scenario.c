/* tlsguard test harness: nbd-probe's scenario language.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * A scenario is a text file of steps, one per line, run in order on a
 * fresh connection to the server.  The built-in battery is written in
 * this language too (scenarios/ *.scn, compiled into the binary), and
 * users can run their own with --script FILE.  The full description
 * is in scenarios/README; in short:
 *
 * Lexical
 *   '#' at the start of a word begins a comment.  Words are separated
 *   by blanks; "double quotes" make one word (use "" for an empty
 *   one; \" and \\ inside).  $NAME or ${NAME} is replaced when the
 *   step runs: $EXPORT $EXPORT2 $CONTEXT $SIZE (export size from the
 *   last successful GO) $MODE (SELECTIVETLS, FORCEDTLS or NOTLS)
 *   $TLSONLY (--tls-only-export); $$ is a '$'.  In "query=$CONTEXT" every --context given becomes one
 *   query.
 *
 * Directives (anywhere, usually at the top)
 *   name NAME             scenario name (default: the file name)
 *   description TEXT...   one line shown by --list -v
 *   require MODE          skip unless the server is in MODE
 *   require tls-only-export
 *                         skip unless --tls-only-export named one
 *   report-only           always "ok"; the result of "observe", or the
 *                         step that failed, goes on the observed line
 *   MODE is selectivetls, forcedtls, notls or tls (= either TLS
 *   mode), optionally with a leading '!' to negate it.
 *
 * Steps
 *   when MODE STEP        run STEP only if the server is in MODE
 *   starttls              NBD_OPT_STARTTLS, NBD_REP_ACK, TLS handshake
 *   handshake             TLS handshake after an ACK read by "expect"
 *   option NAME [export=S] [query=S]... [info=NAME]... [payload=HEX]
 *                [len=N]  send an option (NAME: LIST, GO, ..., or a
 *                         number); payload= replaces the encoded data,
 *                         len= the length in the header
 *   send-raw HEX...       send raw bytes
 *   write-together STEP ; STEP ...
 *                         run option/send-raw steps, send in one write
 *   go [export=S] [info=NAME]...
 *   info [export=S] [info=NAME]...
 *                         NBD_OPT_GO / NBD_OPT_INFO; requires
 *                         NBD_REP_INFO replies then NBD_REP_ACK (GO
 *                         then enters transmission)
 *   expect reply TYPE[|TYPE...] [name=S]
 *                         the next option reply has one of these types
 *   expect error ERR[|ERR...]
 *                         the next option reply is one of these errors
 *   expect replies TYPE [min=N] [max=N]
 *                         read as many replies of TYPE as come
 *   skip-if error ERR[|ERR...] REASON...
 *                         skip the scenario if the next reply is one
 *                         of these errors (feature not offered)
 *   expect closed         the server closes the connection
 *   expect closed-or-handshake-failure
 *                         the pending TLS handshake fails, or the
 *                         server closes; answering anything fails
 *   cmd NAME [offset=N] [length=N] [flags=F[|F...]]
 *                         send a request (READ, BLOCK_STATUS, ...);
 *                         a length above 2^32-1 is clamped
 *   expect cmd-ok         the reply has no error
 *   expect cmd-error [ERRNO[|ERRNO...]]
 *                         the reply is an error (any, or one of these)
 *                         and has no extents
 *   expect cmd-refused ERRNO[|ERRNO...]
 *                         like cmd-error, but a hard disconnect is also
 *                         accepted (with a note): the spec lets a
 *                         server drop a client that broke a MUST
 *   expect simple-reply   the reply is a simple reply
 *   expect structured-reply
 *   expect extents [MAP]  a block status chunk; MAP, if given, must
 *                         equal its extents as OFF:LEN:FLAGS,...
 *   expect no-extents     no block status chunk (error or close is ok)
 *   observe blockstatus   report the reply on "# observed NAME: ..."
 *   judge OPTION|READ|BLOCK_STATUS [ARGS] [inject=OPTION]
 *                         send, read the complete answer and judge it by
 *                         the spec model (model.c): violations fail the
 *                         step, notes are printed (and fail with
 *                         --strict); not mixed with other steps
 *
 * Each step's reads have the --timeout deadline.  Every option reply
 * must be for the option asked; malformed replies fail the step.
 *
 * Every scenario is parsed twice: at load time in "dry" mode (the
 * handlers check their arguments and do no I/O, with placeholder
 * values for the variables), so that syntax errors exit with status 2
 * before anything runs, and then for real.
 */

#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scenario.h"
#include "session.h"
#include "model.h"

const char scenario_language_help[] =
  "Scenario language (one step per line; see scenarios/README):\n"
  "  name N | description TEXT | require MODE | report-only\n"
  "  require tls-only-export  skip unless --tls-only-export was given\n"
  "  when MODE STEP       MODE: selectivetls forcedtls notls tls, or !MODE\n"
  "  starttls | handshake\n"
  "  option NAME [export=S] [query=S]... [info=I]... [payload=HEX] [len=N]\n"
  "  send-raw HEX | write-together STEP ; STEP ...\n"
  "  go [export=S] [info=I]... | info [export=S] [info=I]...\n"
  "  expect reply TYPE[|TYPE] [name=S] | expect error ERR[|ERR]\n"
  "  expect replies TYPE [min=N] [max=N] | skip-if error ERR[|ERR] REASON\n"
  "  expect closed | expect closed-or-handshake-failure\n"
  "  cmd NAME [offset=N] [length=N] [flags=F[|F]]\n"
  "  expect cmd-ok | cmd-error [E] | cmd-refused E | simple-reply\n"
  "  expect structured-reply | extents [OFF:LEN:FLAGS,...] | no-extents\n"
  "  observe blockstatus\n"
  "  judge OPTION [export=S] [query=S]... [info=I]... [payload=HEX] [inject=OPT]\n"
  "  judge READ|BLOCK_STATUS [offset=N] [length=N] [flags=F]\n"
  "                       send, read the whole answer, judge it by the\n"
  "                       spec model (no other steps in the same script)\n"
  "  variables: $EXPORT $EXPORT2 $CONTEXT $SIZE $MODE $TLSONLY\n";

struct step {
  int line;
  char *text;                   /* the line, for diagnostics */
  unsigned when;                /* mode mask; 0: always */
  bool when_not;
  char **w;                     /* words (unexpanded), after "when" */
  size_t nw;
};

struct scenario {
  char *name;
  char *file;
  char *description;
  unsigned require;             /* mode mask; 0: any */
  bool require_not;
  bool require_tls_only;        /* needs --tls-only-export */
  bool report_only;
  struct step *steps;
  size_t nsteps;
};

/* One run (or dry check) of a scenario. */
struct run {
  const struct probe_cfg *cfg;
  bool dry;
  struct session s;
  struct sbuf msg;              /* failure or skip message */
  struct scenario_result *res;
  const struct step *step;
  struct model model;           /* the spec model, for "judge" steps */
  char before[512];             /* the model state before the step */
  char badmsg[512];
};

static int exec_words (struct run *x, char **w, size_t nw);

/* --- small helpers ------------------------------------------------------ */

static void
fail (struct run *x, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

static void
fail (struct run *x, const char *fmt, ...)
{
  va_list ap;

  x->msg.len = 0;
  if (x->msg.s)
    x->msg.s[0] = '\0';
  va_start (ap, fmt);
  sbuf_vprintf (&x->msg, fmt, ap);
  va_end (ap);
}

static void
free_words (char **w, size_t nw)
{
  size_t i;

  for (i = 0; i < nw; ++i)
    free (w[i]);
  free (w);
}

static bool
parse_u64 (const char *s, uint64_t *v)
{
  char *end;

  if (*s == '\0' || *s == '-')
    return false;
  errno = 0;
  *v = strtoull (s, &end, 0);
  return errno == 0 && *end == '\0';
}

/* Hex to bytes (blanks and ':' ignored).  Returns the malloc'd bytes
 * or NULL (bad hex).
 */
static uint8_t *
parse_hex (const char *s, size_t *len)
{
  size_t n = strlen (s), k = 0;
  uint8_t *p = malloc (n / 2 + 1);
  int hi = -1;

  if (p == NULL)
    return NULL;
  for (; *s; ++s) {
    int v;

    if (*s == ':' || isblank ((unsigned char) *s))
      continue;
    if (!isxdigit ((unsigned char) *s)) {
      free (p);
      return NULL;
    }
    v = isdigit ((unsigned char) *s) ? *s - '0'
      : tolower ((unsigned char) *s) - 'a' + 10;
    if (hi < 0)
      hi = v;
    else {
      p[k++] = hi << 4 | v;
      hi = -1;
    }
  }
  if (hi >= 0) {
    free (p);
    return NULL;
  }
  *len = k;
  return p;
}

/* "key=value": returns value if w starts with key=, else NULL. */
static const char *
arg_val (const char *w, const char *key)
{
  size_t n = strlen (key);

  if (strncmp (w, key, n) == 0 && w[n] == '=')
    return w + n + 1;
  return NULL;
}

static int
parse_mode (const char *s, unsigned *mask, bool *not)
{
  *not = false;
  if (*s == '!') {
    *not = true;
    s++;
  }
  if (strcmp (s, "selectivetls") == 0) *mask = MODE_SELECTIVETLS;
  else if (strcmp (s, "forcedtls") == 0) *mask = MODE_FORCEDTLS;
  else if (strcmp (s, "notls") == 0) *mask = MODE_NOTLS;
  else if (strcmp (s, "tls") == 0) *mask = MODE_TLS;
  else return -1;
  return 0;
}

static bool
mode_matches (enum probe_mode m, unsigned mask, bool not)
{
  bool in = (m & mask) != 0;

  return not ? !in : in;
}

/* Names: option, reply, command, info, command flag. */
static int64_t
lookup_opt (const char *s)
{
  uint64_t v;

  if (parse_u64 (s, &v))
    return v <= UINT32_MAX ? (int64_t) v : -1;
  return wire_opt_by_name (s);
}

/* Reply types; error=true accepts INVALID for NBD_REP_ERR_INVALID. */
static int64_t
lookup_rep (const char *s, bool error)
{
  int64_t t = wire_rep_by_name (s);

  if (t < 0 && error) {
    char buf[64];

    snprintf (buf, sizeof buf, "ERR_%s", s);
    t = wire_rep_by_name (buf);
  }
  if (t < 0)
    return -1;
  if (((t & NBD_REP_FLAG_ERROR) != 0) != error)
    return -1;
  return t;
}

static int64_t
lookup_cmd (const char *s)
{
  uint64_t v;

  if (parse_u64 (s, &v))
    return v <= UINT16_MAX ? (int64_t) v : -1;
  return wire_cmd_by_name (s);
}

static int64_t
lookup_info (const char *s)
{
  uint64_t v;

  if (parse_u64 (s, &v))
    return v <= UINT16_MAX ? (int64_t) v : -1;
  return wire_info_by_name (s);
}

static const struct { const char *name; uint16_t flag; } cmd_flags[] = {
  { "FUA", NBD_CMD_FLAG_FUA },
  { "NO_HOLE", NBD_CMD_FLAG_NO_HOLE },
  { "DF", NBD_CMD_FLAG_DF },
  { "REQ_ONE", NBD_CMD_FLAG_REQ_ONE },
  { "FAST_ZERO", NBD_CMD_FLAG_FAST_ZERO },
};

/* An NBD errno by name (EINVAL, NBD_EINVAL) or number; the bool is
 * unused (lookup_rep's signature).
 */
static int64_t
lookup_errno (const char *s, bool unused)
{
  int64_t t = wire_errno_by_name (s);
  uint64_t v;

  if (t < 0 && parse_u64 (s, &v) && v <= UINT32_MAX)
    t = v;
  return t;
}

/* Split "A|B|C" and look each word up with fn (passing arg); returns
 * the count, or -1 if a word is unknown, there are more than max, or
 * none.
 */
static int
lookup_split (const char *s, int64_t (*fn) (const char *, bool), bool arg,
              uint32_t *out, int max)
{
  char *copy = xstrdup (s), *save = NULL, *tok;
  int n = 0;

  for (tok = strtok_r (copy, "|", &save); tok;
       tok = strtok_r (NULL, "|", &save)) {
    int64_t t = fn (tok, arg);

    if (t < 0 || n >= max) {
      free (copy);
      return -1;
    }
    out[n++] = t;
  }
  free (copy);
  return n > 0 ? n : -1;
}

static int
lookup_list (const char *s, bool error, uint32_t *out, int max)
{
  return lookup_split (s, lookup_rep, error, out, max);
}

static int
lookup_errnos (const char *s, uint32_t *out, int max)
{
  return lookup_split (s, lookup_errno, false, out, max);
}

static const char *
rep_list_name (const uint32_t *t, int n, struct sbuf *b)
{
  int i;

  for (i = 0; i < n; ++i)
    sbuf_printf (b, "%s%s", i ? " or " : "", wire_rep_name (t[i]));
  return b->s;
}

/* --- variables ------------------------------------------------------------ */

static const char *const var_names[] = {
  "EXPORT", "EXPORT2", "CONTEXT", "SIZE", "MODE", "TLSONLY",
};

/* Value of a variable; buf holds numbers.  NULL if unknown. */
static const char *
var_value (struct run *x, const char *name, size_t n, char *buf, size_t blen)
{
  size_t i;
  bool known = false;

  for (i = 0; i < sizeof var_names / sizeof var_names[0]; ++i)
    if (strlen (var_names[i]) == n && strncmp (var_names[i], name, n) == 0)
      known = true;
  if (!known)
    return NULL;

  if (x->dry) {
    if (strncmp (name, "SIZE", n) == 0)
      return "1";
    if (strncmp (name, "CONTEXT", n) == 0)
      return "base:allocation";
    if (strncmp (name, "MODE", n) == 0)
      return "SELECTIVETLS";
    if (strncmp (name, "TLSONLY", n) == 0)
      return "tls-only";
    return "";
  }
  if (n == 6 && strncmp (name, "EXPORT", n) == 0)
    return x->cfg->export;
  if (n == 7 && strncmp (name, "EXPORT2", n) == 0)
    return x->cfg->export2;
  if (n == 7 && strncmp (name, "CONTEXT", n) == 0)
    return x->cfg->contexts[0];
  if (n == 4 && strncmp (name, "MODE", n) == 0)
    return mode_name (x->cfg->mode);
  if (n == 7 && strncmp (name, "TLSONLY", n) == 0)
    return x->cfg->tls_only_export;
  /* SIZE */
  if (!x->s.have_size)
    return NULL;
  snprintf (buf, blen, "%" PRIu64, x->s.size);
  return buf;
}

/* Expand one word.  Returns malloc'd string, or NULL with x->msg set. */
static char *
expand_word (struct run *x, const char *w)
{
  struct sbuf b = { 0 };
  char num[32];

  sbuf_add (&b, "");
  while (*w) {
    const char *name, *val;
    size_t n;

    if (*w != '$') {
      sbuf_printf (&b, "%c", *w++);
      continue;
    }
    w++;
    if (*w == '$') {
      sbuf_add (&b, "$");
      w++;
      continue;
    }
    if (*w == '{') {
      const char *end = strchr (w, '}');

      if (end == NULL) {
        fail (x, "unterminated ${...}");
        sbuf_free (&b);
        return NULL;
      }
      name = w + 1;
      n = end - name;
      w = end + 1;
    }
    else {
      name = w;
      while (isalnum ((unsigned char) *w) || *w == '_')
        w++;
      n = w - name;
    }
    val = var_value (x, name, n, num, sizeof num);
    if (val == NULL) {
      if (n == 4 && strncmp (name, "SIZE", 4) == 0)
        fail (x, "$SIZE is not known yet (no successful GO)");
      else if (n == 7 && strncmp (name, "TLSONLY", 7) == 0)
        fail (x, "$TLSONLY needs --tls-only-export NAME");
      else
        fail (x, "unknown variable $%.*s", (int) n, name);
      sbuf_free (&b);
      return NULL;
    }
    sbuf_add (&b, val);
  }
  return b.s;
}

/* Expand all words; "query=$CONTEXT" gives one word per context. */
static char **
expand_words (struct run *x, char **w, size_t nw, size_t *out_n)
{
  char **out = NULL;
  size_t n = 0, i, j;

  for (i = 0; i < nw; ++i) {
    if (!x->dry &&
        (strcmp (w[i], "query=$CONTEXT") == 0 ||
         strcmp (w[i], "query=${CONTEXT}") == 0)) {
      for (j = 0; j < x->cfg->ncontexts; ++j) {
        struct sbuf b = { 0 };

        sbuf_printf (&b, "query=%s", x->cfg->contexts[j]);
        out = xrealloc (out, (n + 1) * sizeof *out);
        out[n++] = b.s;
      }
      continue;
    }
    out = xrealloc (out, (n + 1) * sizeof *out);
    out[n] = expand_word (x, w[i]);
    if (out[n] == NULL) {
      free_words (out, n);
      return NULL;
    }
    n++;
  }
  if (out == NULL)
    out = xrealloc (NULL, sizeof *out);
  *out_n = n;
  return out;
}

/* --- options ------------------------------------------------------------ */

struct optargs {
  const char *export;
  const char *queries[WIRE_MAX_QUERIES];
  size_t nq;
  uint16_t infos[32];
  size_t ninfo;
  uint8_t *payload;
  size_t plen;
  bool has_payload;
  bool has_len;
  uint32_t len;
};

static int
parse_optargs (struct run *x, char **w, size_t nw, struct optargs *a,
               bool allow_raw)
{
  size_t i;
  const char *v;
  uint64_t n;

  memset (a, 0, sizeof *a);
  for (i = 0; i < nw; ++i) {
    if ((v = arg_val (w[i], "export")) != NULL)
      a->export = v;
    else if ((v = arg_val (w[i], "query")) != NULL) {
      if (a->nq >= WIRE_MAX_QUERIES) {
        fail (x, "too many queries");
        return -1;
      }
      a->queries[a->nq++] = v;
    }
    else if ((v = arg_val (w[i], "info")) != NULL) {
      int64_t t = lookup_info (v);

      if (t < 0 || a->ninfo >= 32) {
        fail (x, "unknown info '%s' (EXPORT, NAME, DESCRIPTION, "
              "BLOCK_SIZE or a number)", v);
        return -1;
      }
      a->infos[a->ninfo++] = t;
    }
    else if (allow_raw && (v = arg_val (w[i], "payload")) != NULL) {
      free (a->payload);
      a->payload = parse_hex (v, &a->plen);
      if (a->payload == NULL) {
        fail (x, "bad hex in payload=");
        return -1;
      }
      a->has_payload = true;
    }
    else if (allow_raw && (v = arg_val (w[i], "len")) != NULL) {
      if (!parse_u64 (v, &n) || n > UINT32_MAX) {
        fail (x, "bad len=%s", v);
        return -1;
      }
      a->has_len = true;
      a->len = n;
    }
    else {
      fail (x, "unknown argument '%s'", w[i]);
      return -1;
    }
  }
  return 0;
}

/* Encode and send an option from parsed arguments. */
static int
send_option (struct run *x, uint32_t opt, struct optargs *a)
{
  struct wire_buf b;
  const uint8_t *p = NULL;
  size_t plen = 0;
  const char *exp = a->export ? a->export : "";
  int st = WIRE_OK, r;

  wire_buf_init (&b);
  if (a->has_payload) {
    p = a->payload;
    plen = a->plen;
  }
  else {
    switch (opt) {
    case NBD_OPT_SET_META_CONTEXT:
    case NBD_OPT_LIST_META_CONTEXT:
      st = wire_enc_opt_meta (&b, opt, exp, a->queries, a->nq);
      break;
    case NBD_OPT_INFO:
    case NBD_OPT_GO:
      st = wire_enc_opt_info (&b, opt, exp, a->infos, a->ninfo);
      break;
    case NBD_OPT_EXPORT_NAME:
      st = wire_enc_opt_export_name (&b, exp);
      break;
    default:
      if (a->export || a->nq || a->ninfo) {
        fail (x, "%s takes no export=, query= or info= (use payload=)",
              wire_opt_name (opt));
        wire_buf_free (&b);
        return -1;
      }
    }
    if (st != WIRE_OK) {
      fail (x, "cannot encode the option: %s", wire_status_name (st));
      wire_buf_free (&b);
      return -1;
    }
    if (b.len >= WIRE_OPT_REQ_HDR_LEN) {
      p = b.data + WIRE_OPT_REQ_HDR_LEN;
      plen = b.len - WIRE_OPT_REQ_HDR_LEN;
    }
  }
  if (x->dry) {
    wire_buf_free (&b);
    return 0;
  }
  r = sess_send_option (&x->s, opt, p, plen, a->has_len ? a->len : plen);
  wire_buf_free (&b);
  if (r == -1)
    fail (x, "%s", x->s.err);
  return r;
}

static int
do_option (struct run *x, char **w, size_t nw)
{
  struct optargs a;
  int64_t opt;
  int r;

  if (nw < 1) {
    fail (x, "usage: option NAME [ARGS]");
    return -1;
  }
  opt = lookup_opt (w[0]);
  if (opt < 0) {
    fail (x, "unknown option '%s'", w[0]);
    return -1;
  }
  if (parse_optargs (x, w + 1, nw - 1, &a, true) == -1) {
    free (a.payload);
    return -1;
  }
  r = send_option (x, opt, &a);
  free (a.payload);
  return r;
}

static int
do_send_raw (struct run *x, char **w, size_t nw)
{
  struct sbuf all = { 0 };
  uint8_t *p;
  size_t i, len;
  int r = 0;

  sbuf_add (&all, "");
  for (i = 0; i < nw; ++i)
    sbuf_add (&all, w[i]);
  p = parse_hex (all.s, &len);
  sbuf_free (&all);
  if (p == NULL || nw == 0) {
    free (p);
    fail (x, "usage: send-raw HEX...");
    return -1;
  }
  if (!x->dry) {
    r = sess_send_raw (&x->s, p, len);
    if (r == -1)
      fail (x, "%s", x->s.err);
  }
  free (p);
  return r;
}

static int
do_write_together (struct run *x, char **w, size_t nw)
{
  size_t i = 0, start;
  int r = 0;

  if (nw == 0) {
    fail (x, "usage: write-together STEP ; STEP ...");
    return -1;
  }
  if (!x->dry)
    x->s.batching = true;
  while (i < nw && r == 0) {
    start = i;
    while (i < nw && strcmp (w[i], ";") != 0)
      i++;
    if (i == start ||
        (strcmp (w[start], "option") != 0 &&
         strcmp (w[start], "send-raw") != 0)) {
      fail (x, "write-together takes only option and send-raw steps");
      r = -1;
      break;
    }
    r = exec_words (x, w + start, i - start);
    i++;                        /* skip ";" */
  }
  if (!x->dry) {
    if (r == 0) {
      r = sess_flush (&x->s);
      if (r == -1)
        fail (x, "%s", x->s.err);
    }
    else {
      wire_buf_reset (&x->s.outbuf);
      x->s.batching = false;
    }
  }
  return r;
}

/* Read the next option reply and check it answers the option asked. */
static int
next_reply (struct run *x, struct opt_reply *r)
{
  if (sess_read_opt_reply (&x->s, r) == -1) {
    fail (x, "%s", x->s.err);
    return -1;
  }
  return 0;
}

static int
check_reply_opt (struct run *x, const struct opt_reply *r)
{
  if (r->for_opt == 0) {
    fail (x, "unsolicited reply for %s (no option outstanding)",
          wire_opt_name (r->opt));
    return -1;
  }
  if (r->opt != r->for_opt) {
    fail (x, "reply is for %s but %s was asked", wire_opt_name (r->opt),
          wire_opt_name (r->for_opt));
    return -1;
  }
  if (r->malformed) {
    struct sbuf d = { 0 };

    opt_reply_describe (&d, r);
    fail (x, "malformed reply: %s", d.s);
    sbuf_free (&d);
    return -1;
  }
  return 0;
}

static void
fail_got (struct run *x, const char *want, const struct opt_reply *r)
{
  struct sbuf d = { 0 };

  opt_reply_describe (&d, r);
  fail (x, "expected %s, got %s", want, d.s);
  sbuf_free (&d);
}

/* go / info */
static int
do_go_info (struct run *x, uint32_t opt, char **w, size_t nw)
{
  struct optargs a;
  struct opt_reply r;
  bool got_export = false;
  unsigned count = 0;
  int st = 0;

  if (parse_optargs (x, w, nw, &a, false) == -1)
    return -1;
  if (a.export == NULL)
    a.export = x->dry ? "" : x->cfg->export;
  if (send_option (x, opt, &a) == -1 || x->dry)
    return x->dry ? 0 : -1;

  for (;;) {
    if (next_reply (x, &r) == -1)
      return -1;
    if (check_reply_opt (x, &r) == -1) {
      opt_reply_free (&r);
      return -1;
    }
    if (r.type == NBD_REP_INFO) {
      struct wire_info info;

      if (wire_dec_rep_info (r.payload, r.len, &info) == WIRE_OK &&
          info.type == NBD_INFO_EXPORT)
        got_export = true;
      opt_reply_free (&r);
      if (++count > 1000) {
        fail (x, "more than 1000 NBD_REP_INFO replies");
        return -1;
      }
      continue;
    }
    if (r.type == NBD_REP_ACK) {
      if (!got_export) {
        fail (x, "%s acknowledged without NBD_INFO_EXPORT (the spec "
              "requires it)", wire_opt_name (opt));
        st = -1;
      }
    }
    else if (r.type & NBD_REP_FLAG_ERROR) {
      struct sbuf d = { 0 };

      opt_reply_describe (&d, &r);
      fail (x, "%s export=\"%s\" refused: %s", wire_opt_name (opt),
            a.export, d.s);
      sbuf_free (&d);
      st = -1;
    }
    else {
      fail_got (x, "NBD_REP_INFO or a final reply", &r);
      st = -1;
    }
    opt_reply_free (&r);
    return st;
  }
}

static int
do_starttls (struct run *x, char **w, size_t nw)
{
  struct opt_reply r;
  int st = 0;

  if (nw != 0) {
    fail (x, "usage: starttls");
    return -1;
  }
  if (x->dry)
    return 0;
  if (sess_send_option (&x->s, NBD_OPT_STARTTLS, NULL, 0, 0) == -1) {
    fail (x, "%s", x->s.err);
    return -1;
  }
  if (next_reply (x, &r) == -1)
    return -1;
  if (check_reply_opt (x, &r) == -1)
    st = -1;
  else if (r.type != NBD_REP_ACK) {
    fail_got (x, "NBD_REP_ACK to NBD_OPT_STARTTLS", &r);
    st = -1;
  }
  opt_reply_free (&r);
  if (st == 0 && sess_handshake (&x->s) == -1) {
    fail (x, "%s", x->s.err);
    st = -1;
  }
  return st;
}

static int
do_handshake (struct run *x, char **w, size_t nw)
{
  if (nw != 0) {
    fail (x, "usage: handshake");
    return -1;
  }
  if (x->dry)
    return 0;
  if (!x->s.await_handshake) {
    fail (x, "no NBD_OPT_STARTTLS was acknowledged");
    return -1;
  }
  if (sess_handshake (&x->s) == -1) {
    fail (x, "%s", x->s.err);
    return -1;
  }
  return 0;
}

static int
do_skip_if (struct run *x, char **w, size_t nw)
{
  uint32_t types[16];
  int n, i;
  struct opt_reply r;
  struct sbuf reason = { 0 };
  size_t k;

  if (nw < 3 || strcmp (w[0], "error") != 0) {
    fail (x, "usage: skip-if error ERR[|ERR] REASON...");
    return -1;
  }
  n = lookup_list (w[1], true, types, 16);
  if (n < 0) {
    fail (x, "unknown error name in '%s'", w[1]);
    return -1;
  }
  if (x->dry)
    return 0;
  if (next_reply (x, &r) == -1)
    return -1;
  for (i = 0; i < n; ++i) {
    if (r.type == types[i] && r.opt == r.for_opt) {
      struct sbuf d = { 0 };

      opt_reply_describe (&d, &r);
      for (k = 2; k < nw; ++k)
        sbuf_printf (&reason, "%s%s", k > 2 ? " " : "", w[k]);
      sbuf_printf (&reason, " (%s: %s)", wire_opt_name (r.opt), d.s);
      sbuf_free (&d);
      fail (x, "%s", reason.s);
      sbuf_free (&reason);
      opt_reply_free (&r);
      return 1;
    }
  }
  sess_push_back (&x->s, &r);
  return 0;
}

/* --- transmission ---------------------------------------------------------- */

/* Arguments of a request: [offset=N] [length=N] [flags=F[|F...]]. */
static int
parse_cmd_args (struct run *x, char **w, size_t nw, uint64_t *offset,
                uint64_t *length, bool *have_length, uint16_t *flags)
{
  size_t i;
  const char *val;
  uint64_t v;

  *offset = 0;
  *length = 0;
  *have_length = false;
  *flags = 0;
  for (i = 0; i < nw; ++i) {
    if ((val = arg_val (w[i], "offset")) != NULL) {
      if (!parse_u64 (val, offset)) {
        fail (x, "bad offset=%s", val);
        return -1;
      }
    }
    else if ((val = arg_val (w[i], "length")) != NULL) {
      if (!parse_u64 (val, length)) {
        fail (x, "bad length=%s", val);
        return -1;
      }
      *have_length = true;
    }
    else if ((val = arg_val (w[i], "flags")) != NULL) {
      char *copy = xstrdup (val), *save = NULL, *tok;

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
          fail (x, "unknown command flag '%s'", tok);
          free (copy);
          return -1;
        }
      }
      free (copy);
    }
    else {
      fail (x, "unknown argument '%s'", w[i]);
      return -1;
    }
  }
  return 0;
}

static int
do_cmd (struct run *x, char **w, size_t nw)
{
  int64_t type;
  uint64_t offset, length;
  uint16_t flags;
  bool have_length;

  if (nw < 1 || (type = lookup_cmd (w[0])) < 0) {
    fail (x, "usage: cmd NAME [offset=N] [length=N] [flags=F|F]");
    return -1;
  }
  if (parse_cmd_args (x, w + 1, nw - 1, &offset, &length, &have_length,
                      &flags) == -1)
    return -1;
  if (x->dry)
    return 0;
  if (length > UINT32_MAX)
    length = UINT32_MAX & ~UINT32_C (511);
  if (sess_send_cmd (&x->s, flags, type, offset, length) == -1) {
    fail (x, "%s", x->s.err);
    return -1;
  }
  return 0;
}

static int
get_cmd_reply (struct run *x)
{
  if (sess_read_cmd_reply (&x->s) == -1) {
    fail (x, "%s", x->s.err);
    return -1;
  }
  return 0;
}

/* The extents of the reply as "OFF:LEN:FLAGS,...", at most max. */
static void
format_extents (struct run *x, struct sbuf *b, size_t max)
{
  const struct cmd_reply *rep = &x->s.reply;
  uint64_t off = x->s.cmd_offset;
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

/* Fail if the reply carried extents; returns -1 then. */
static int
no_extents (struct run *x)
{
  if (x->s.reply.n_bs_chunks > 0) {
    struct sbuf b = { 0 };

    format_extents (x, &b, 16);
    fail (x, "the server returned extents: %s%s", b.s,
          x->s.reply.is_error ? " (together with an error chunk)" : "");
    sbuf_free (&b);
    return -1;
  }
  return 0;
}

static int
expect_cmd (struct run *x, const char *what, char **w, size_t nw)
{
  struct cmd_reply *rep = &x->s.reply;
  uint32_t errs[16];
  int nerr = 0, i;
  char eb[32];

  if (strcmp (what, "cmd-error") == 0 || strcmp (what, "cmd-refused") == 0) {
    if (nw > 1 || (nw == 0 && strcmp (what, "cmd-refused") == 0) ||
        (nw == 1 && (nerr = lookup_errnos (w[0], errs, 16)) < 0)) {
      fail (x, "usage: expect %s ERRNO[|ERRNO]", what);
      return -1;
    }
  }
  else if (strcmp (what, "extents") == 0) {
    if (nw > 1) {
      fail (x, "usage: expect extents [OFF:LEN:FLAGS,...]");
      return -1;
    }
  }
  else if (nw != 0) {
    fail (x, "usage: expect %s", what);
    return -1;
  }
  if (x->dry)
    return 0;
  if (get_cmd_reply (x) == -1)
    return -1;

  if (strcmp (what, "no-extents") == 0)
    return no_extents (x);

  if (rep->closed) {
    if (strcmp (what, "cmd-refused") == 0 && rep->nchunks == 0 &&
        !rep->simple) {
      sbuf_printf (&x->res->notes, "note: %s: the server closed the "
                   "connection instead of replying to %s (a hard "
                   "disconnect, which the spec allows after a client "
                   "broke a MUST)\n", x->step->text,
                   wire_cmd_name (x->s.cmd_type));
      return 0;
    }
    fail (x, "the server closed the connection instead of a%s reply to %s",
          rep->nchunks ? " complete" : "", wire_cmd_name (x->s.cmd_type));
    return -1;
  }

  if (strcmp (what, "cmd-ok") == 0) {
    if (rep->is_error) {
      fail (x, "%s failed: %s", wire_cmd_name (x->s.cmd_type),
            errno_str (rep->error, eb, sizeof eb));
      return -1;
    }
    return 0;
  }
  if (strcmp (what, "cmd-error") == 0 || strcmp (what, "cmd-refused") == 0) {
    if (no_extents (x) == -1)
      return -1;
    if (!rep->is_error) {
      fail (x, "%s succeeded; an error was expected",
            wire_cmd_name (x->s.cmd_type));
      return -1;
    }
    for (i = 0; i < nerr; ++i)
      if (rep->error == errs[i])
        return 0;
    if (nerr > 0) {
      fail (x, "%s failed with %s, expected %s", wire_cmd_name (x->s.cmd_type),
            errno_str (rep->error, eb, sizeof eb), w[0]);
      return -1;
    }
    return 0;
  }
  if (strcmp (what, "simple-reply") == 0) {
    if (!rep->simple) {
      fail (x, "expected a simple reply, got a structured reply (%u chunks)%s",
            rep->nchunks, x->s.structured ? ""
            : ": structured replies were not negotiated in this TLS epoch");
      return -1;
    }
    return 0;
  }
  if (strcmp (what, "structured-reply") == 0) {
    if (rep->simple) {
      fail (x, "expected a structured reply, got a simple reply");
      return -1;
    }
    return 0;
  }
  if (strcmp (what, "extents") == 0) {
    struct sbuf b = { 0 };
    int st = 0;

    if (rep->is_error && rep->n_bs_chunks == 0) {
      fail (x, "%s failed with %s; extents were expected",
            wire_cmd_name (x->s.cmd_type),
            errno_str (rep->error, eb, sizeof eb));
      return -1;
    }
    if (rep->n_bs_chunks == 0) {
      fail (x, "no NBD_REPLY_TYPE_BLOCK_STATUS chunk in the reply");
      return -1;
    }
    if (nw == 1) {
      format_extents (x, &b, SIZE_MAX);
      if (strcmp (b.s, w[0]) != 0) {
        fail (x, "extents %s, expected %s", b.s, w[0]);
        st = -1;
      }
      sbuf_free (&b);
    }
    return st;
  }
  fail (x, "unknown expectation '%s'", what);
  return -1;
}

static int
do_observe (struct run *x, char **w, size_t nw)
{
  struct cmd_reply *rep = &x->s.reply;
  struct sbuf *o;
  char eb[32];

  if (nw != 1 || strcmp (w[0], "blockstatus") != 0) {
    fail (x, "usage: observe blockstatus");
    return -1;
  }
  if (x->dry)                   /* x->res is NULL while checking syntax */
    return 0;
  o = &x->res->observed;
  if (get_cmd_reply (x) == -1)
    return -1;
  o->len = 0;
  if (rep->n_bs_chunks > 0) {
    sbuf_add (o, "extents ");
    format_extents (x, o, 64);
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

/* --- expect (option phase) ---------------------------------------------- */

static int
do_expect (struct run *x, char **w, size_t nw)
{
  struct opt_reply r;
  uint32_t types[16];
  int n = 0, i;
  const char *what;

  if (nw < 1) {
    fail (x, "usage: expect WHAT ...");
    return -1;
  }
  what = w[0];

  if (strcmp (what, "reply") == 0 || strcmp (what, "error") == 0) {
    bool error = what[0] == 'e';
    const char *name = NULL;
    struct sbuf want = { 0 };
    int st = 0;

    if (nw < 2 || (n = lookup_list (w[1], error, types, 16)) < 0) {
      fail (x, "usage: expect %s %s[|...]: unknown %s '%s'", what,
            error ? "ERR" : "TYPE", error ? "error" : "reply type",
            nw >= 2 ? w[1] : "");
      return -1;
    }
    if (nw == 3 && !error && (name = arg_val (w[2], "name")) != NULL)
      ;
    else if (nw != 2) {
      fail (x, "usage: expect %s TYPE[|TYPE]%s", what,
            error ? "" : " [name=S]");
      return -1;
    }
    if (x->dry)
      return 0;
    if (next_reply (x, &r) == -1)
      return -1;
    rep_list_name (types, n, &want);
    if (check_reply_opt (x, &r) == -1)
      st = -1;
    else {
      for (i = 0; i < n; ++i)
        if (r.type == types[i])
          break;
      if (i == n) {
        fail_got (x, want.s, &r);
        st = -1;
      }
      else if (name &&
               (r.str.len != strlen (name) ||
                (r.str.len && memcmp (r.str.ptr, name, r.str.len) != 0))) {
        fail_got (x, "the name", &r);
        sbuf_printf (&x->msg, " (expected \"%s\")", name);
        st = -1;
      }
    }
    sbuf_free (&want);
    opt_reply_free (&r);
    return st;
  }

  if (strcmp (what, "replies") == 0) {
    uint64_t min = 0, max = UINT64_MAX, count = 0;
    size_t k;
    const char *v;

    if (nw < 2 || lookup_list (w[1], false, types, 1) != 1) {
      fail (x, "usage: expect replies TYPE [min=N] [max=N]");
      return -1;
    }
    for (k = 2; k < nw; ++k) {
      if ((v = arg_val (w[k], "min")) != NULL && parse_u64 (v, &min))
        ;
      else if ((v = arg_val (w[k], "max")) != NULL && parse_u64 (v, &max))
        ;
      else {
        fail (x, "usage: expect replies TYPE [min=N] [max=N]");
        return -1;
      }
    }
    if (x->dry)
      return 0;
    for (;;) {
      if (next_reply (x, &r) == -1)
        return -1;
      if (r.opt != r.for_opt) {
        check_reply_opt (x, &r);
        opt_reply_free (&r);
        return -1;
      }
      if (r.type != types[0]) {
        sess_push_back (&x->s, &r);
        break;
      }
      if (check_reply_opt (x, &r) == -1) {
        opt_reply_free (&r);
        return -1;
      }
      opt_reply_free (&r);
      if (++count > 100000) {
        fail (x, "more than 100000 %s replies", wire_rep_name (types[0]));
        return -1;
      }
    }
    if (count < min || count > max) {
      /* Name the reply that ended the run (pushed back above), so that
       * "no contexts" and "the option is unsupported" can be told apart.
       */
      struct sbuf d = { 0 };

      opt_reply_describe (&d, &x->s.pending);
      fail (x, "%" PRIu64 " %s replies, expected %s%" PRIu64 ", then %s",
            count, wire_rep_name (types[0]),
            count < min ? "at least " : "at most ", count < min ? min : max,
            d.s);
      sbuf_free (&d);
      return -1;
    }
    return 0;
  }

  if (strcmp (what, "closed") == 0) {
    if (nw != 1) {
      fail (x, "usage: expect closed");
      return -1;
    }
    if (x->dry)
      return 0;
    if (x->s.have_pending) {
      struct sbuf d = { 0 };

      opt_reply_describe (&d, &x->s.pending);
      fail (x, "expected the server to close, got %s", d.s);
      sbuf_free (&d);
      return -1;
    }
    if (sess_wait_closed (&x->s) != 1) {
      fail (x, "expected the server to close: %s", x->s.err);
      return -1;
    }
    return 0;
  }

  if (strcmp (what, "closed-or-handshake-failure") == 0) {
    int c;

    if (nw != 1) {
      fail (x, "usage: expect closed-or-handshake-failure");
      return -1;
    }
    if (x->dry)
      return 0;
    if (x->s.handshake_failed)
      return 0;
    if (x->s.await_handshake) {
      if (x->cfg->creds == NULL) {
        fail (x, "cannot check: no TLS credentials were given");
        return -1;
      }
      if (sess_handshake (&x->s) == -1)
        return 0;               /* the expected outcome */
    }
    c = sess_wait_closed (&x->s);
    if (c == 1)
      return 0;
    if (c == 0)
      fail (x, "the server answered after the handshake: %s", x->s.err);
    else
      fail (x, "the TLS handshake succeeded although plaintext followed "
            "NBD_OPT_STARTTLS in the same write, and the connection stayed "
            "open (%s)", x->s.err);
    return -1;
  }

  return expect_cmd (x, what, w + 1, nw - 1);
}

/* --- do: a step checked by the spec model ------------------------------- */

/* The answer to the option at the head of the outstanding queue. */
static void
collect_opt_replies (struct run *x, struct model_opt_obs *obs)
{
  unsigned n;

  memset (obs, 0, sizeof *obs);
  for (n = 0; ; ++n) {
    struct opt_reply r;

    if (sess_read_opt_reply (&x->s, &r) == -1) {
      if (x->s.timed_out)
        obs->timeout = true;
      else if (x->s.peer_closed)
        obs->closed = true;
      else {
        obs->bad = true;
        snprintf (x->badmsg, sizeof x->badmsg, "%.400s", x->s.err);
        obs->bad_msg = x->badmsg;
      }
      return;
    }
    if (r.for_opt == 0 || r.opt != r.for_opt || r.malformed) {
      struct sbuf d = { 0 };

      opt_reply_describe (&d, &r);
      if (r.malformed)
        snprintf (x->badmsg, sizeof x->badmsg, "malformed reply %s", d.s);
      else
        snprintf (x->badmsg, sizeof x->badmsg, "%s for %s, but %s was "
                  "asked", d.s, wire_opt_name (r.opt),
                  r.for_opt ? wire_opt_name (r.for_opt) : "no option");
      sbuf_free (&d);
      opt_reply_free (&r);
      obs->bad = true;
      obs->bad_msg = x->badmsg;
      return;
    }
    if (r.type == NBD_REP_ACK || (r.type & NBD_REP_FLAG_ERROR)) {
      obs->final = r.type;
      opt_reply_free (&r);
      return;
    }
    switch (r.type) {
    case NBD_REP_SERVER:
      obs->n_server++;
      break;
    case NBD_REP_INFO: {
      struct wire_info info;

      obs->n_info++;
      if (wire_dec_rep_info (r.payload, r.len, &info) == WIRE_OK &&
          info.type == NBD_INFO_EXPORT) {
        obs->info_export = true;
        obs->size = info.u.export.size;
        obs->tflags = info.u.export.tflags;
      }
      break;
    }
    case NBD_REP_META_CONTEXT:
      obs->n_meta++;
      if (obs->nctx < MODEL_MAX_CTX) {
        struct model_ctx *c = &obs->ctx[obs->nctx++];
        size_t len = r.str.len < sizeof c->name - 1
          ? r.str.len : sizeof c->name - 1;

        c->id = r.ctx_id;
        if (len)
          memcpy (c->name, r.str.ptr, len);
        c->name[len] = '\0';
      }
      break;
    default:
      obs->n_other++;
      obs->other_type = r.type;
    }
    opt_reply_free (&r);
    if (n >= 100000) {
      obs->bad = true;
      obs->bad_msg = "more than 100000 replies to one option";
      return;
    }
  }
}

/* Report a model verdict: notes go to the result's notes (or fail
 * the step with --strict), violations fail the step.  Returns -1 if
 * the step fails.
 */
static int
model_report (struct run *x, const struct model_result *mr)
{
  const struct model_rule *rule = model_rule (mr->rule);
  char after[512];

  if (mr->v == MV_OK)
    return 0;
  if ((mr->v == MV_NOTE || mr->v == MV_DEVIATION) && !x->cfg->strict) {
    const char *kind = mr->v == MV_NOTE ? "note" : "deviation";

    sbuf_printf (&x->res->notes, "%s %s: line %d: %s: %s\n", kind,
                 mr->rule ? mr->rule : "-", x->step->line, x->step->text,
                 mr->msg);
    sess_trace (&x->s, "-- %s %s: %s", kind, mr->rule ? mr->rule : "-",
                mr->msg);
    return 0;
  }
  model_describe (&x->model, after, sizeof after);
  x->res->prop = mr->v == MV_NOTE || mr->v == MV_DEVIATION
    ? "strict" : mr->prop;
  x->res->rule = mr->rule;
  fail (x, "%s violation [%s]: %s%s\n"
        "spec (%s): \"%s\"\n"
        "model state before the step: %s",
        x->res->prop, mr->rule ? mr->rule : "-", mr->msg,
        mr->v == MV_NOTE ? " (a note, failed by --strict)"
        : mr->v == MV_DEVIATION ? " (a deviation, failed by --strict)" : "",
        rule ? rule->where : "?", rule ? rule->text : "?", x->before);
  sess_trace (&x->s, "-- %s violation [%s]: %s", x->res->prop,
              mr->rule ? mr->rule : "-", mr->msg);
  return -1;
}

static enum model_mode
model_mode_of (enum probe_mode m)
{
  switch (m) {
  case MODE_NOTLS: return MODEL_NOTLS;
  case MODE_FORCEDTLS: return MODEL_FORCEDTLS;
  default: return MODEL_SELECTIVETLS;
  }
}

/* Options "judge" can send injected after STARTTLS: ones without data. */
static bool
injectable (int64_t opt)
{
  return opt == NBD_OPT_LIST || opt == NBD_OPT_STRUCTURED_REPLY ||
    opt == NBD_OPT_ABORT;
}

static int
do_option_step (struct run *x, uint32_t opt, struct optargs *a, int64_t inj)
{
  struct model_opt mo;
  struct model_opt_obs obs;
  struct model_result mr;
  const char *export = a->export ? a->export : x->cfg->export;

  memset (&mo, 0, sizeof mo);
  mo.opt = opt;
  mo.export = export;
  mo.queries = a->queries;
  mo.nq = a->nq;
  mo.infos = a->infos;
  mo.ninfos = a->ninfo;
  mo.payload = a->has_payload && a->plen > 0;
  mo.inject = inj >= 0;
  if (opt == NBD_OPT_INFO || opt == NBD_OPT_GO || opt == NBD_OPT_EXPORT_NAME ||
      opt == NBD_OPT_SET_META_CONTEXT || opt == NBD_OPT_LIST_META_CONTEXT)
    a->export = export;
  else
    mo.export = "";

  if (inj >= 0)
    x->s.batching = true;
  if (send_option (x, opt, a) == -1) {
    x->s.batching = false;
    wire_buf_reset (&x->s.outbuf);
    return -1;
  }
  if (inj >= 0) {
    struct optargs none;

    memset (&none, 0, sizeof none);
    if (send_option (x, inj, &none) == -1 || sess_flush (&x->s) == -1) {
      if (x->msg.len == 0)
        fail (x, "%s", x->s.err);
      return -1;
    }
  }

  if (opt == NBD_OPT_EXPORT_NAME) {
    int rr = sess_read_export_name_reply (&x->s);

    memset (&obs, 0, sizeof obs);
    if (rr == 1) {
      obs.final = NBD_REP_ACK;
      obs.size = x->s.size;
      obs.tflags = x->s.tflags;
    }
    else if (rr == 0)
      obs.closed = true;
    else if (x->s.timed_out)
      obs.timeout = true;
    else if (x->s.peer_closed)
      obs.closed = true;
    else {
      obs.bad = true;
      snprintf (x->badmsg, sizeof x->badmsg, "%.400s", x->s.err);
      obs.bad_msg = x->badmsg;
    }
  }
  else
    collect_opt_replies (x, &obs);

  model_option (&x->model, &mo, &obs, &mr);
  if (model_report (x, &mr) == -1)
    return -1;

  if (x->model.await_handshake) {
    struct model_tls_obs t;

    memset (&t, 0, sizeof t);
    if (x->cfg->creds == NULL) {
      fail (x, "the server acknowledged NBD_OPT_STARTTLS but no TLS "
            "credentials were given (--tls-psk or --tls-certs)");
      return -1;
    }
    t.handshake_ok = sess_handshake (&x->s) == 0;
    if (inj >= 0) {
      t.inject = MODEL_INJ_CLOSED;
      if (t.handshake_ok) {
        int c = sess_wait_closed (&x->s);

        t.inject = c == 1 ? MODEL_INJ_CLOSED
          : c == 0 ? MODEL_INJ_ANSWERED : MODEL_INJ_TIMEOUT;
      }
    }
    model_handshake (&x->model, &t, &mr);
    return model_report (x, &mr);
  }

  if (inj >= 0 && !x->model.closed) {
    /* STARTTLS was refused, so the injected option is simply the next
     * one.
     */
    struct model_opt mo2;

    memset (&mo2, 0, sizeof mo2);
    mo2.opt = inj;
    mo2.export = "";
    collect_opt_replies (x, &obs);
    model_option (&x->model, &mo2, &obs, &mr);
    return model_report (x, &mr);
  }
  return 0;
}

static int
do_cmd_step (struct run *x, uint16_t type, uint64_t offset, uint64_t length,
             bool have_length, uint16_t flags)
{
  struct model_cmd_obs o;
  struct model_result mr;
  const struct cmd_reply *rep = &x->s.reply;
  int rr;

  if (!have_length) {
    uint64_t cap = type == NBD_CMD_READ ? 65536 : 1024 * 1024;

    length = x->s.have_size && x->s.size > offset ? x->s.size - offset : 0;
    if (length > cap || length == 0)
      length = length == 0 ? 512 : cap;
  }
  if (length > UINT32_MAX)
    length = UINT32_MAX & ~UINT32_C (511);
  if (sess_send_cmd (&x->s, flags, type, offset, length) == -1) {
    fail (x, "%s", x->s.err);
    return -1;
  }
  rr = sess_read_cmd_reply (&x->s);

  memset (&o, 0, sizeof o);
  o.simple = rep->simple;
  o.nchunks = rep->nchunks;
  o.is_error = rep->is_error;
  o.error = rep->error;
  o.n_bs_chunks = rep->n_bs_chunks;
  o.bs_ctx_id = rep->ctx_id;
  if (rr == 0)
    o.closed = rep->closed;
  else if (x->s.timed_out)
    o.timeout = true;
  else if (x->s.peer_closed)
    o.closed = true;
  else {
    o.bad = true;
    snprintf (x->badmsg, sizeof x->badmsg, "%.400s", x->s.err);
    o.bad_msg = x->badmsg;
  }
  model_cmd (&x->model, type, &o, &mr);
  return model_report (x, &mr);
}

/* judge NAME [ARGS]: one option or request, its answer read completely and
 * judged by the spec model (model.c).
 */
static int
do_do (struct run *x, char **w, size_t nw)
{
  int64_t opt, cmd = -1, inj = -1;
  struct optargs a;
  char **rest = NULL;
  size_t nrest = 0, i;
  int r;

  if (nw < 1) {
    fail (x, "usage: judge OPTION [export=S] [query=S]... [info=I]... "
          "[payload=HEX] [inject=OPTION] | judge READ|BLOCK_STATUS "
          "[offset=N] [length=N] [flags=F]");
    return -1;
  }
  opt = lookup_opt (w[0]);
  if (opt < 0) {
    cmd = lookup_cmd (w[0]);
    if (cmd != NBD_CMD_READ && cmd != NBD_CMD_BLOCK_STATUS) {
      fail (x, "do: '%s' is neither an option nor READ or BLOCK_STATUS",
            w[0]);
      return -1;
    }
  }

  if (cmd >= 0) {
    uint64_t offset, length;
    uint16_t flags;
    bool have_length;

    if (parse_cmd_args (x, w + 1, nw - 1, &offset, &length, &have_length,
                        &flags) == -1)
      return -1;
    if (x->dry)
      return 0;
    model_describe (&x->model, x->before, sizeof x->before);
    if (x->model.closed || !x->model.transmission) {
      sess_trace (&x->s, "-- skipped: %s", x->model.closed
                  ? "the connection is closed" : "not in transmission");
      return 0;
    }
    x->res->njudged++;
    return do_cmd_step (x, cmd, offset, length, have_length, flags);
  }

  /* Options: take inject= out, the rest are "option" arguments. */
  rest = xrealloc (NULL, (nw + 1) * sizeof *rest);
  for (i = 1; i < nw; ++i) {
    const char *v = arg_val (w[i], "inject");

    if (v == NULL) {
      rest[nrest++] = w[i];
      continue;
    }
    inj = lookup_opt (v);
    if (opt != NBD_OPT_STARTTLS || !injectable (inj)) {
      fail (x, "do: inject= goes with STARTTLS only and takes LIST, "
            "STRUCTURED_REPLY or ABORT");
      free (rest);
      return -1;
    }
  }
  r = parse_optargs (x, rest, nrest, &a, true);
  free (rest);
  if (r == 0 && a.has_len) {
    fail (x, "do: len= is not supported (use option)");
    r = -1;
  }
  if (r == -1 || x->dry) {
    free (a.payload);
    return r;
  }
  model_describe (&x->model, x->before, sizeof x->before);
  if (x->model.closed || x->model.transmission) {
    sess_trace (&x->s, "-- skipped: %s", x->model.closed
                ? "the connection is closed" : "in transmission");
    free (a.payload);
    return 0;
  }
  x->res->njudged++;
  r = do_option_step (x, opt, &a, inj);
  free (a.payload);
  return r;
}

/* --- dispatch --------------------------------------------------------------- */

static int
exec_words (struct run *x, char **w, size_t nw)
{
  const char *k = w[0];

  if (strcmp (k, "option") == 0)
    return do_option (x, w + 1, nw - 1);
  if (strcmp (k, "send-raw") == 0)
    return do_send_raw (x, w + 1, nw - 1);
  if (strcmp (k, "write-together") == 0)
    return do_write_together (x, w + 1, nw - 1);
  if (strcmp (k, "starttls") == 0)
    return do_starttls (x, w + 1, nw - 1);
  if (strcmp (k, "handshake") == 0)
    return do_handshake (x, w + 1, nw - 1);
  if (strcmp (k, "go") == 0)
    return do_go_info (x, NBD_OPT_GO, w + 1, nw - 1);
  if (strcmp (k, "info") == 0)
    return do_go_info (x, NBD_OPT_INFO, w + 1, nw - 1);
  if (strcmp (k, "expect") == 0)
    return do_expect (x, w + 1, nw - 1);
  if (strcmp (k, "skip-if") == 0)
    return do_skip_if (x, w + 1, nw - 1);
  if (strcmp (k, "cmd") == 0)
    return do_cmd (x, w + 1, nw - 1);
  if (strcmp (k, "observe") == 0)
    return do_observe (x, w + 1, nw - 1);
  if (strcmp (k, "judge") == 0)
    return do_do (x, w + 1, nw - 1);
  fail (x, "unknown step '%s'", k);
  return -1;
}

/* Expand and run one step. */
static int
exec_step (struct run *x, const struct step *st)
{
  char **w;
  size_t nw;
  int r;

  x->step = st;
  w = expand_words (x, st->w, st->nw, &nw);
  if (w == NULL)
    return -1;
  r = exec_words (x, w, nw);
  free_words (w, nw);
  return r;
}

/* --- parser ------------------------------------------------------------------ */

/* Split a line into words.  Returns -1 on an unterminated quote. */
static int
split_words (const char *line, char ***wp, size_t *np)
{
  char **w = NULL;
  size_t n = 0;
  const char *p = line;

  for (;;) {
    struct sbuf b = { 0 };
    bool quoted = false;

    while (isspace ((unsigned char) *p))
      p++;
    if (*p == '\0' || *p == '#')
      break;
    sbuf_add (&b, "");
    while (*p && (quoted || !isspace ((unsigned char) *p))) {
      if (*p == '"') {
        quoted = !quoted;
        p++;
      }
      else if (quoted && *p == '\\' && (p[1] == '"' || p[1] == '\\')) {
        sbuf_printf (&b, "%c", p[1]);
        p += 2;
      }
      else
        sbuf_printf (&b, "%c", *p++);
    }
    w = xrealloc (w, (n + 1) * sizeof *w);
    w[n++] = b.s;
    if (quoted) {
      free_words (w, n);
      return -1;
    }
  }
  *wp = w;
  *np = n;
  return 0;
}

static void
step_free (struct step *st)
{
  free (st->text);
  free_words (st->w, st->nw);
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

/* Join words[from..] with spaces. */
static char *
join_words (char **w, size_t from, size_t n)
{
  struct sbuf b = { 0 };
  size_t i;

  sbuf_add (&b, "");
  for (i = from; i < n; ++i)
    sbuf_printf (&b, "%s%s", i > from ? " " : "", w[i]);
  return b.s;
}

struct scenario *
scenario_parse (const char *name, const char *file, const char *text,
                struct error *err)
{
  struct scenario *sc = xcalloc (1, sizeof *sc);
  struct run dry;
  const char *p = text;
  int lineno = 0;

  sc->name = xstrdup (name);
  sc->file = xstrdup (file);
  memset (&dry, 0, sizeof dry);
  dry.dry = true;

  while (*p) {
    const char *eol = strchr (p, '\n');
    size_t len = eol ? (size_t) (eol - p) : strlen (p);
    char *line = xrealloc (NULL, len + 1), *t;
    char **w;
    size_t nw, off = 0;
    struct step st;

    memcpy (line, p, len);
    line[len] = '\0';
    p += len + (eol ? 1 : 0);
    lineno++;

    if (split_words (line, &w, &nw) == -1) {
      error_set (err, "%s:%d: unterminated quote", file, lineno);
      free (line);
      goto error;
    }
    if (nw == 0) {
      free (w);
      free (line);
      continue;
    }
    /* Trim the line for diagnostics. */
    for (t = line; isspace ((unsigned char) *t); ++t)
      ;
    memmove (line, t, strlen (t) + 1);
    for (t = line + strlen (line); t > line && isspace ((unsigned char) t[-1]);
         --t)
      t[-1] = '\0';

    /* Directives. */
    if (strcmp (w[0], "name") == 0 || strcmp (w[0], "description") == 0 ||
        strcmp (w[0], "require") == 0 || strcmp (w[0], "report-only") == 0) {
      const char *msg = NULL;

      if (strcmp (w[0], "name") == 0) {
        if (nw != 2)
          msg = "usage: name NAME";
        else {
          free (sc->name);
          sc->name = xstrdup (w[1]);
        }
      }
      else if (strcmp (w[0], "description") == 0) {
        free (sc->description);
        sc->description = join_words (w, 1, nw);
      }
      else if (strcmp (w[0], "require") == 0) {
        if (nw == 2 && strcmp (w[1], "tls-only-export") == 0)
          sc->require_tls_only = true;
        else if (nw != 2 ||
                 parse_mode (w[1], &sc->require, &sc->require_not) < 0)
          msg = "usage: require selectivetls|forcedtls|notls|tls (or !MODE) "
            "| require tls-only-export";
      }
      else {
        if (nw != 1)
          msg = "usage: report-only";
        sc->report_only = true;
      }
      free_words (w, nw);
      free (line);
      if (msg) {
        error_set (err, "%s:%d: %s", file, lineno, msg);
        goto error;
      }
      continue;
    }

    memset (&st, 0, sizeof st);
    st.line = lineno;
    st.text = line;
    if (strcmp (w[0], "when") == 0) {
      if (nw < 3 || parse_mode (w[1], &st.when, &st.when_not) < 0) {
        error_set (err, "%s:%d: usage: when MODE STEP "
                   "(MODE: selectivetls, forcedtls, notls, tls, !MODE)",
                   file, lineno);
        free_words (w, nw);
        free (line);
        goto error;
      }
      off = 2;
      free (w[0]);
      free (w[1]);
    }
    st.nw = nw - off;
    st.w = xrealloc (NULL, st.nw * sizeof *st.w);
    memcpy (st.w, w + off, st.nw * sizeof *st.w);
    free (w);

    /* Check it now, without I/O. */
    if (exec_step (&dry, &st) < 0) {
      error_set (err, "%s:%d: %s", file, lineno,
                 dry.msg.s ? dry.msg.s : "error");
      step_free (&st);
      goto error;
    }
    sc->steps = xrealloc (sc->steps, (sc->nsteps + 1) * sizeof *sc->steps);
    sc->steps[sc->nsteps++] = st;
  }
  sbuf_free (&dry.msg);
  if (sc->nsteps == 0) {
    error_set (err, "%s: no steps", file);
    scenario_free (sc);
    return NULL;
  }
  /* "judge" steps keep the spec model in step with the connection; steps
   * that talk to the server behind its back would desynchronise it.
   */
  {
    size_t i, ndo = 0;
    int other = 0;

    for (i = 0; i < sc->nsteps; ++i) {
      if (strcmp (sc->steps[i].w[0], "judge") == 0)
        ndo++;
      else if (other == 0)
        other = sc->steps[i].line;
    }
    if (ndo > 0 && other > 0) {
      error_set (err, "%s:%d: \"judge\" steps cannot be mixed with "
                 "other steps in one scenario", file, other);
      scenario_free (sc);
      return NULL;
    }
  }
  return sc;

 error:
  sbuf_free (&dry.msg);
  scenario_free (sc);
  return NULL;
}

/* --- running ------------------------------------------------------------------ */

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
  struct run x;
  size_t i;
  int r = 0;

  memset (res, 0, sizeof *res);
  sbuf_add (&res->reason, "");
  sbuf_add (&res->trace, "");
  sbuf_add (&res->observed, "");
  sbuf_add (&res->notes, "");
  res->res = RES_OK;

  if (sc->require &&
      !mode_matches (cfg->mode, sc->require, sc->require_not)) {
    res->res = RES_SKIP;
    if (cfg->mode == MODE_NOTLS && (sc->require & MODE_TLS) &&
        !sc->require_not)
      sbuf_add (&res->reason, "server does not offer TLS");
    else
      sbuf_printf (&res->reason, "server is %s; the scenario applies to "
                   "%s%s only", mode_name (cfg->mode),
                   sc->require_not ? "not " : "",
                   sc->require == MODE_TLS ? "TLS servers"
                   : mode_name (sc->require));
    return;
  }
  if (sc->require_tls_only && cfg->tls_only_export == NULL) {
    res->res = RES_SKIP;
    sbuf_add (&res->reason, "no TLS-only export named (give "
              "--tls-only-export NAME)");
    return;
  }

  memset (&x, 0, sizeof x);
  x.cfg = cfg;
  x.res = res;
  sess_init (&x.s, cfg);
  model_init (&x.model, model_mode_of (cfg->mode));
  if (cfg->tls_only_export)
    model_set_tls_only (&x.model, cfg->tls_only_export);

  if (sess_connect (&x.s) == -1) {
    fail (&x, "connect: %s", x.s.err);
    r = -1;
  }
  for (i = 0; r == 0 && i < sc->nsteps; ++i) {
    const struct step *st = &sc->steps[i];

    if (st->when && !mode_matches (cfg->mode, st->when, st->when_not))
      continue;
    sess_trace (&x.s, "-- %s:%d: %s", sc->file, st->line, st->text);
    r = exec_step (&x, st);
    if (r < 0) {
      struct sbuf m = { 0 };

      sbuf_printf (&m, "%s:%d: %s: %s", sc->file, st->line, st->text,
                   x.msg.s ? x.msg.s : "failed");
      sbuf_free (&x.msg);
      x.msg = m;
    }
  }
  sess_close (&x.s);

  if (r > 0) {
    res->res = RES_SKIP;
    sbuf_add (&res->reason, x.msg.s);
  }
  else if (r < 0) {
    if (sc->report_only) {
      res->res = RES_OK;
      res->observed.len = 0;
      sbuf_printf (&res->observed, "failed: %s", x.msg.s);
    }
    else {
      res->res = RES_NOT_OK;
      sbuf_add (&res->reason, x.msg.s);
    }
  }
  sbuf_add (&res->trace, x.s.trace.s ? x.s.trace.s : "");
  sbuf_free (&x.s.trace);
  sbuf_free (&x.msg);
}
