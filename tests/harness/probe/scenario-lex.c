/* tlsguard test harness: the scenario language's words and variables.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * The lexical rules are in scenarios/README: words, "quotes", comments,
 * and $NAME / ${NAME} / $$.  The parser checks every variable a step
 * names (lex_vars); run_expand replaces them when the step runs.
 */

#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario-int.h"

static const struct { const char *name; unsigned bit; } variables[] = {
  { "EXPORT", VAR_EXPORT }, { "EXPORT2", VAR_EXPORT2 },
  { "CONTEXT", VAR_CONTEXT }, { "SIZE", VAR_SIZE },
  { "MODE", VAR_MODE }, { "TLSONLY", VAR_TLSONLY },
};

/* Split a line into words.  Returns -1 on an unterminated quote. */
int
lex_split (const char *line, char ***wp, size_t *np)
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
      lex_free_words (w, n);
      return -1;
    }
  }
  *wp = w;
  *np = n;
  return 0;
}

void
lex_free_words (char **w, size_t nw)
{
  size_t i;

  for (i = 0; i < nw; ++i)
    free (w[i]);
  free (w);
}

/* Join words[from..n) with spaces. */
char *
lex_join (char **w, size_t from, size_t n)
{
  struct sbuf b = { 0 };
  size_t i;

  sbuf_add (&b, "");
  for (i = from; i < n; ++i)
    sbuf_printf (&b, "%s%s", i > from ? " " : "", w[i]);
  return b.s;
}

/* The next variable reference in *wp: sets *name and *n (NULL for
 * "$$") and moves *wp past it.  Returns -1 on an unterminated ${.
 */
static int
next_var (const char **wp, const char **name, size_t *n)
{
  const char *w = *wp + 1;      /* after the '$' */

  if (*w == '$') {
    *name = NULL;
    *wp = w + 1;
    return 0;
  }
  if (*w == '{') {
    const char *end = strchr (w, '}');

    if (end == NULL)
      return -1;
    *name = w + 1;
    *n = end - *name;
    *wp = end + 1;
    return 0;
  }
  *name = w;
  while (isalnum ((unsigned char) *w) || *w == '_')
    w++;
  *n = w - *name;
  *wp = w;
  return 0;
}

static unsigned
var_bit (const char *name, size_t n)
{
  size_t i;

  for (i = 0; i < sizeof variables / sizeof variables[0]; ++i)
    if (strlen (variables[i].name) == n &&
        strncmp (variables[i].name, name, n) == 0)
      return variables[i].bit;
  return 0;
}

/* The variables word names, as VAR_* bits.  Returns -1 with err set
 * if one is unknown or a ${ is not closed.
 */
int
lex_vars (const char *word, unsigned *vars, struct error *err)
{
  *vars = 0;
  while ((word = strchr (word, '$')) != NULL) {
    const char *name;
    size_t n;
    unsigned bit;

    if (next_var (&word, &name, &n) == -1)
      return error_set (err, "unterminated ${...}");
    if (name == NULL)
      continue;
    bit = var_bit (name, n);
    if (bit == 0)
      return error_set (err, "unknown variable $%.*s", (int) n, name);
    *vars |= bit;
  }
  return 0;
}

/* A word the parser has checked with lex_vars. */
void
sword_set (struct sword *sw, const char *text)
{
  free (sw->text);
  sw->text = xstrdup (text);
  if (lex_vars (text, &sw->vars, NULL) == -1)
    abort ();                   /* the parser checked it */
}

void
sword_free (struct sword *sw)
{
  free (sw->text);
  sw->text = NULL;
}

/* A variable's value now; buf holds numbers.  NULL (with run->msg) if
 * it is not known yet.
 */
static const char *
var_value (struct scenario_run *run, unsigned bit, char *buf, size_t blen)
{
  const struct probe_cfg *cfg = run->cfg;

  switch (bit) {
  case VAR_EXPORT: return cfg->export;
  case VAR_EXPORT2: return cfg->export2;
  case VAR_CONTEXT: return cfg->contexts[0];
  case VAR_MODE: return mode_name (cfg->mode);
  case VAR_TLSONLY:
    if (cfg->tls_only_export == NULL)
      run_fail (run, "$TLSONLY needs --tls-only-export NAME");
    return cfg->tls_only_export;
  default:                      /* VAR_SIZE */
    if (!run->sess.have_size) {
      run_fail (run, "$SIZE is not known yet (no successful GO)");
      return NULL;
    }
    snprintf (buf, blen, "%" PRIu64, run->sess.size);
    return buf;
  }
}

/* The word with its variables replaced: a malloc'd string, or NULL
 * with run->msg set.
 */
char *
run_expand (struct scenario_run *run, const struct sword *sw)
{
  struct sbuf b = { 0 };
  const char *w = sw->text;
  char num[32];

  sbuf_add (&b, "");
  while (*w) {
    const char *name, *val;
    size_t n;

    if (*w != '$') {
      sbuf_printf (&b, "%c", *w++);
      continue;
    }
    next_var (&w, &name, &n);
    val = name ? var_value (run, var_bit (name, n), num, sizeof num) : "$";
    if (val == NULL) {
      sbuf_free (&b);
      return NULL;
    }
    sbuf_add (&b, val);
  }
  return b.s;
}

bool
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
uint8_t *
parse_hex (const char *s, size_t *len)
{
  uint8_t *p = xmalloc (strlen (s) / 2 + 1);
  size_t k = 0;
  int hi = -1;

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
const char *
arg_val (const char *w, const char *key)
{
  size_t n = strlen (key);

  if (strncmp (w, key, n) == 0 && w[n] == '=')
    return w + n + 1;
  return NULL;
}
