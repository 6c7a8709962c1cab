/* tlsguard test harness: the command line the tools share.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 */

#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "sbuf.h"

#define HELP_COLUMN 24          /* where the help texts start */
#define SYNOPSIS_WIDTH 78       /* where the synopsis lines wrap */
#define VAL_BASE 1000           /* getopt values: VAL_BASE + table index */

static const struct cli_option help_option = {
  "help", 0, NULL, "this text", NULL, 0,
};

/* The short option letter of o, or 0. */
static int
short_letter (const struct cli_option *o)
{
  if (o->key == CLI_KEY_VERBOSE)
    return 'v';
  return o->key >= 0 && o->key < 128 && isalpha (o->key) ? o->key : 0;
}

void
cli_help_item (FILE *fp, const char *label, const char *help)
{
  int n = fprintf (fp, "%s", label);
  const char *h;

  if (n > HELP_COLUMN - 2) {
    fputc ('\n', fp);
    n = 0;
  }
  fprintf (fp, "%*s", HELP_COLUMN - n, "");
  for (h = help; *h; ++h) {
    fputc (*h, fp);
    if (*h == '\n')
      fprintf (fp, "%*s", HELP_COLUMN, "");
  }
  fputc ('\n', fp);
}

static void
print_option (FILE *fp, const struct cli_option *o)
{
  struct sbuf label = { 0 };
  int letter = short_letter (o);

  sbuf_add (&label, "  ");
  if (letter)
    sbuf_printf (&label, "-%c, ", letter);
  sbuf_printf (&label, "--%s", o->name);
  if (o->arg)
    sbuf_printf (&label, "%s%s", o->arg[0] == '=' ? "" : " ", o->arg);
  cli_help_item (fp, label.s, o->help);
  sbuf_free (&label);
  if (o->more_help)
    o->more_help (fp);
}

static bool
is_tls_key (int key)
{
  return key == CLI_KEY_TLS_PSK || key == CLI_KEY_TLS_USERNAME ||
    key == CLI_KEY_TLS_CERTS;
}

static bool
has_option (const struct cli_option *options, int key)
{
  const struct cli_option *o;

  for (o = options; o->name; ++o)
    if (o->key == key)
      return true;
  return false;
}

/* How o reads in the synopsis: "-v", "--name", "--name ARG",
 * "--name=A|B".
 */
static void
synopsis_label (struct sbuf *sb, const struct cli_option *o)
{
  int letter = short_letter (o);

  if (letter)
    sbuf_printf (sb, "-%c", letter);
  else
    sbuf_printf (sb, "--%s", o->name);
  if (o->arg)
    sbuf_printf (sb, "%s%s", o->arg[0] == '=' ? "" : " ", o->arg);
}

/* The synopsis item of the TLS options: "[--tls-psk FILE
 * [--tls-username NAME] | --tls-certs DIR]" with what the tool has of
 * them, bare or in parentheses when required.
 */
static void
synopsis_tls (struct sbuf *sb, const struct cli_tool *tool,
              const struct cli_option *options)
{
  bool psk = has_option (options, CLI_KEY_TLS_PSK);
  bool certs = has_option (options, CLI_KEY_TLS_CERTS);
  bool brackets = !tool->tls_required || (psk && certs);

  if (brackets)
    sbuf_add (sb, tool->tls_required ? "(" : "[");
  if (psk)
    sbuf_printf (sb, "--tls-psk FILE%s",
                 has_option (options, CLI_KEY_TLS_USERNAME)
                 ? " [--tls-username NAME]" : "");
  if (certs)
    sbuf_printf (sb, "%s--tls-certs DIR", psk ? " | " : "");
  if (brackets)
    sbuf_add (sb, tool->tls_required ? ")" : "]");
}

/* The synopsis item of the group starting at o ("--a X", "[--a X]...",
 * "(--a X | --b Y)"); returns the option after the group.
 */
static const struct cli_option *
synopsis_group (struct sbuf *sb, const struct cli_option *o)
{
  unsigned flags = o->flags;
  bool group = flags & CLI_OR;
  bool brackets = !(flags & CLI_REQUIRED) || group;

  if (brackets)
    sbuf_add (sb, flags & CLI_REQUIRED ? "(" : "[");
  for (;; ++o) {
    synopsis_label (sb, o);
    if (!(o->flags & CLI_OR))
      break;
    sbuf_add (sb, " | ");
  }
  if (brackets)
    sbuf_add (sb, flags & CLI_REQUIRED ? ")" : "]");
  if (flags & CLI_REPEAT)
    sbuf_add (sb, "...");
  return o + 1;
}

/* "usage: PROG ITEM..." from the table, wrapped under the first item. */
static void
print_synopsis (FILE *fp, const struct cli_tool *tool,
                const struct cli_option *options)
{
  const struct cli_option *o = options;
  int indent = fprintf (fp, "usage: %s", tool->name) + 1;
  int col = indent - 1;
  bool tls_done = false;

  while (o->name) {
    struct sbuf item = { 0 };

    if (is_tls_key (o->key)) {
      ++o;
      if (tls_done)
        continue;
      synopsis_tls (&item, tool, options);
      tls_done = true;
    }
    else
      o = synopsis_group (&item, o);
    if (col > indent && col + 1 + (int) item.len > SYNOPSIS_WIDTH)
      col = fprintf (fp, "\n%*s", indent, "") - 1;
    else
      col += fprintf (fp, " ");
    col += fprintf (fp, "%s", item.s);
    sbuf_free (&item);
  }
  fputc ('\n', fp);
}

static void __attribute__ ((noreturn))
help (const struct cli_tool *tool, const struct cli_option *options)
{
  const struct cli_option *o;

  if (tool->synopsis)
    fputs (tool->synopsis, stdout);
  else
    print_synopsis (stdout, tool, options);
  if (tool->about) {
    putchar ('\n');
    fputs (tool->about, stdout);
  }
  putchar ('\n');
  for (o = options; o->name; ++o)
    print_option (stdout, o);
  print_option (stdout, &help_option);
  exit (EXIT_SUCCESS);
}

static void __attribute__ ((noreturn))
bad_arguments (const struct cli_tool *tool)
{
  fprintf (stderr, "%s: bad arguments (try --help)\n", tool->name);
  exit (CLI_EXIT_USAGE);
}

void
cli_usage_error (const struct cli_tool *tool, const char *fmt, ...)
{
  va_list ap;

  fprintf (stderr, "%s: ", tool->name);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fprintf (stderr, "\n");
  bad_arguments (tool);
}

/* getopt_long's table for the tool's options and --help, and the
 * short options string.
 */
static struct option *
getopt_table (const struct cli_option *options, size_t *n, char *shorts,
              size_t shorts_len)
{
  struct option *t;
  size_t i, k = 0;

  for (*n = 0; options[*n].name; ++*n)
    ;
  t = xcalloc (*n + 2, sizeof *t);
  for (i = 0; i <= *n; ++i) {
    const struct cli_option *o = i < *n ? &options[i] : &help_option;
    int letter = short_letter (o);

    t[i].name = o->name;
    t[i].has_arg = o->arg ? required_argument : no_argument;
    t[i].val = letter ? letter : VAL_BASE + (int) i;
    if (letter && k + 1 < shorts_len)
      shorts[k++] = letter;
  }
  shorts[k] = '\0';
  return t;
}

/* The option getopt_long returned as val. */
static const struct cli_option *
option_of (const struct cli_option *options, size_t n, int val)
{
  size_t i;

  if (val >= VAL_BASE && (size_t) (val - VAL_BASE) <= n)
    return (size_t) (val - VAL_BASE) < n
      ? &options[val - VAL_BASE] : &help_option;
  for (i = 0; i < n; ++i)
    if (short_letter (&options[i]) == val)
      return &options[i];
  return NULL;
}

/* The rules for the TLS options, once they are all read. */
static void
check_tls (const struct cli_tool *tool, const struct cli_option *options,
           const struct tport_creds_cfg *tls)
{
  bool psk = has_option (options, CLI_KEY_TLS_PSK);
  bool certs = has_option (options, CLI_KEY_TLS_CERTS);
  bool given = tls->psk_file || tls->x509_dir;

  if (tls->psk_file && tls->x509_dir)
    cli_usage_error (tool, "give %s one of --tls-psk and --tls-certs",
                     tool->tls_required ? "exactly" : "at most");
  if (tool->tls_required && !given) {
    if (psk && certs)
      cli_usage_error (tool, "give exactly one of --tls-psk and "
                       "--tls-certs");
    cli_usage_error (tool, "%s is required",
                     psk ? "--tls-psk" : "--tls-certs");
  }
}

/* The rules for CLI_REQUIRED and CLI_OR, given how many times each
 * option was given.
 */
static void
check_required (const struct cli_tool *tool,
                const struct cli_option *options, const unsigned *given)
{
  const struct cli_option *o = options, *first;

  while (o->name) {
    struct sbuf names = { 0 };
    unsigned n = 0;

    for (first = o;; ++o) {
      n += given[o - options] > 0;
      if (o != first)
        sbuf_add (&names, (o->flags & CLI_OR) ? ", " : " and ");
      sbuf_printf (&names, "--%s", o->name);
      if (!(o->flags & CLI_OR))
        break;
    }
    ++o;
    if (o - first > 1 && (n > 1 || (n == 0 && (first->flags & CLI_REQUIRED))))
      cli_usage_error (tool, "give %s one of %s",
                       first->flags & CLI_REQUIRED ? "exactly" : "at most",
                       names.s);
    if (n == 0 && (first->flags & CLI_REQUIRED))
      cli_usage_error (tool, "%s is required", names.s);
    sbuf_free (&names);
  }
}

int
cli_parse (const struct cli_tool *tool, const struct cli_option *options,
           cli_handler *handle, int argc, char **argv, void *opaque,
           struct cli_common *c)
{
  struct option *table;
  unsigned *given;
  char shorts[32];
  size_t n;
  int val;

  error_progname = tool->name;
  memset (c, 0, sizeof *c);
  c->tls.psk_username = "qemu";
  table = getopt_table (options, &n, shorts, sizeof shorts);
  given = xcalloc (n + 1, sizeof *given);

  while ((val = getopt_long (argc, argv, shorts, table, NULL)) != -1) {
    const struct cli_option *o = option_of (options, n, val);
    struct error err = { "" };

    if (o == NULL)
      bad_arguments (tool);     /* getopt has said why */
    if (o == &help_option)
      help (tool, options);
    given[o - options]++;
    switch (o->key) {
    case CLI_KEY_TLS_PSK: c->tls.psk_file = optarg; break;
    case CLI_KEY_TLS_USERNAME: c->tls.psk_username = optarg; break;
    case CLI_KEY_TLS_CERTS: c->tls.x509_dir = optarg; break;
    case CLI_KEY_VERBOSE: c->verbose++; break;
    default:
      if (handle (o->key, o->arg ? optarg : NULL, opaque, &err) == -1)
        cli_usage_error (tool, "--%s: %s", o->name,
                         err.msg[0] ? err.msg : "bad value");
    }
  }
  free (table);
  if (!tool->synopsis && optind < argc)
    cli_usage_error (tool, "unexpected argument '%s'", argv[optind]);
  check_tls (tool, options, &c->tls);
  check_required (tool, options, given);
  free (given);
  return optind;
}

int
cli_uint (const char *arg, uint64_t min, uint64_t max, uint64_t *v,
          struct error *err)
{
  unsigned long long n;
  char *end;

  errno = 0;
  n = strtoull (arg, &end, 0);
  if (errno || end == arg || *end || arg[0] == '-' || isspace (arg[0]) ||
      n < min || n > max)
    return error_set (err, "'%s' is not a whole number from %" PRIu64
                      " to %" PRIu64, arg, min, max);
  *v = n;
  return 0;
}

int
cli_double (const char *arg, double min, double max, double *v,
            struct error *err)
{
  double d;
  char *end;

  errno = 0;
  d = strtod (arg, &end);
  if (errno || end == arg || *end || isspace (arg[0]) ||
      !(d >= min && d <= max))
    return error_set (err, "'%s' is not a number from %g to %g",
                      arg, min, max);
  *v = d;
  return 0;
}

int
cli_unsigned (const char *arg, unsigned min, unsigned max, unsigned *v,
              struct error *err)
{
  uint64_t n;

  if (cli_uint (arg, min, max, &n, err) == -1)
    return -1;
  *v = n;
  return 0;
}

int
cli_choice (const char *arg, const char *const *names, size_t n,
            size_t stride, const char *what, struct error *err)
{
  const char *p = (const char *) names;
  size_t i;

  for (i = 0; i < n; ++i, p += stride)
    if (strcmp (arg, *(const char *const *) p) == 0)
      return i;
  return error_set (err, "unknown %s '%s'", what, arg);
}
