/* tlsguard test harness: nbd-probe, a raw NBD client that runs an
 * attack battery against a server and prints TAP.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Flow (main): parse the command line and check it; parse every
 * scenario (the built-in battery compiled from scenarios/ *.scn, and
 * --script files) so that mistakes exit with status 2 before any I/O;
 * select the scenarios; detect the server's TLS mode on a connection
 * of its own; run each selected scenario on a fresh connection (or,
 * with --random, the generated sequences of random.c); print one TAP
 * line per scenario (tap.c), with the trace of the messages exchanged
 * on failure (or always, to stderr, with -v).  Usage errors come back
 * as a struct error (error.h), which main prints before exiting 2.
 *
 * Exit status: 0 if every scenario is ok (skips and --xfail'ed
 * failures count as ok), 1 if any is not ok or the server cannot be
 * reached, 2 for usage errors.
 */

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "error.h"
#include "sbuf.h"
#include "transport.h"
#include "wire.h"
#include "probe-cfg.h"
#include "session.h"
#include "scenario.h"
#include "random.h"
#include "tap.h"
#include "model.h"

#define DEFAULT_TIMEOUT 5
#define MAX_RANDOM_STEPS 30     /* nbdkit drops a client after 32 options */
#define MAX_SCRIPT_SIZE (1024 * 1024)

static void
usage (FILE *fp)
{
  fprintf (fp,
"Usage: nbd-probe (--unix PATH | --tcp HOST:PORT)\n"
"                 [--tls-psk FILE [--tls-username NAME] | --tls-certs DIR]\n"
"                 [--export NAME] [--export2 NAME] [--context QUERY]...\n"
"                 [--tls-only-export NAME]\n"
"                 [--scenario NAME]... [--xfail NAME[=REASON]]...\n"
"                 [--script FILE]... [--timeout SECONDS] [--list] [-v]\n"
"                 [--strict]\n"
"       nbd-probe (--unix PATH | --tcp HOST:PORT) [TLS options]\n"
"                 --random N [--seed S] [--max-steps K] [--strict]\n"
"                 [--tls-only-export NAME] [--reproducer FILE] [--no-shrink]\n"
"       nbd-probe --random N [--seed S] [--max-steps K]\n"
"                 [--tls-only-export NAME] --print-sequences\n"
"       nbd-probe --list-rules\n"
"\n"
"Runs a battery of NBD negotiation scenarios (STARTTLS state reset,\n"
"metadata contexts, structured replies) against a server and prints TAP.\n"
"With --random, runs N random option sequences instead, each on a fresh\n"
"connection, and checks every answer against a model of the spec.\n"
"\n"
"  --unix PATH, --tcp HOST:PORT   the server\n"
"  --tls-psk FILE                 PSK file of user:hexkey lines\n"
"  --tls-username NAME            PSK user (default qemu)\n"
"  --tls-certs DIR                X.509: ca-cert.pem, client-cert.pem,\n"
"                                 client-key.pem\n"
"  --export NAME                  export to use (default \"\")\n"
"  --export2 NAME                 a second export (default NAME-other)\n"
"  --context QUERY                metadata context (default base:allocation;\n"
"                                 repeatable)\n"
"  --tls-only-export NAME         an export the server offers over TLS only\n"
"                                 ($TLSONLY; not --export): runs the\n"
"                                 tlsonly_* scenarios (skipped without it),\n"
"                                 and --random sequences name it before\n"
"                                 and after STARTTLS (property P5)\n"
"  --scenario NAME                run only these scenarios (repeatable)\n"
"  --xfail NAME[=REASON]          known deviation: report as TODO\n"
"  --script FILE                  run a scenario from a file (repeatable;\n"
"                                 without --scenario only scripts run)\n"
"  --timeout SECONDS              deadline of every read (default %d)\n"
"  --strict                       \"do\" steps: a note (a refusal the spec\n"
"                                 permits, a SHOULD ignored) fails too\n"
"  --random N                     run N random sequences checked by the\n"
"                                 spec model (TAP: one line per sequence)\n"
"  --seed S                       their seed (default: from the clock,\n"
"                                 printed); the same seed gives the same\n"
"                                 sequences\n"
"  --max-steps K                  at most K steps per sequence (default %d)\n"
"  --reproducer FILE              write the first violation's shrunk\n"
"                                 script to FILE (replay with --script)\n"
"  --no-shrink                    do not shrink violations\n"
"  --print-sequences              print the --random sequences as scripts\n"
"                                 and exit, without a server\n"
"  --list-rules                   print the model's rules with the spec\n"
"                                 sentences they encode, and exit\n"
"  --list                         list the built-in scenarios (-v: with\n"
"                                 descriptions) and exit\n"
"  -v, --verbose                  print every scenario's trace to stderr\n"
"                                 (-vv: also gnutls debug messages)\n"
"\n"
"Exit status: 0 all ok (skips and xfails included), 1 a scenario failed,\n"
"a random sequence found a violation, or the server could not be\n"
"reached, 2 usage error.\n"
"\n",
           DEFAULT_TIMEOUT, RANDOM_DEFAULT_MAX_STEPS);
  scenario_language_help (fp);
}

/* --list-rules */
static void
list_rules (void)
{
  size_t i;

  for (i = 0; i < model_nrules; ++i)
    printf ("%-18s %s\n%-18s   \"%s\"\n", model_rules[i].id,
            model_rules[i].where, "", model_rules[i].text);
}

/* --- the command line ------------------------------------------------ */

struct xfail {
  const char *name;
  const char *reason;
};

struct cmdline {
  struct probe_cfg cfg;
  const char *psk, *user, *certs;       /* TLS credentials, or NULL */
  const char **selected;                /* --scenario */
  size_t nselected;
  const char **scripts;                 /* --script */
  size_t nscripts;
  struct xfail *xfails;                 /* --xfail */
  size_t nxfails;
  bool list;                            /* --list */
  bool have_seed, print_seq;            /* (--random N: ro.n > 0) */
  struct random_opts ro;
  char *export2_buf;                    /* the default --export2 */
};

static void
add_arg (const char ***v, size_t *n, const char *arg)
{
  *v = xrealloc (*v, (*n + 1) * sizeof **v);
  (*v)[(*n)++] = arg;
}

/* --xfail NAME[=REASON] (the '=' in arg is overwritten). */
static void
add_xfail (struct cmdline *cl, char *arg)
{
  char *eq = strchr (arg, '=');
  struct xfail *x;

  cl->xfails = xrealloc (cl->xfails, (cl->nxfails + 1) * sizeof *cl->xfails);
  x = &cl->xfails[cl->nxfails++];
  x->name = arg;
  x->reason = "known deviation";
  if (eq) {
    *eq = '\0';
    if (eq[1])
      x->reason = eq + 1;
  }
}

static int
parse_timeout (const char *arg, int *ms, struct error *err)
{
  char *end;
  double t;

  errno = 0;
  t = strtod (arg, &end);
  if (errno || *end || t <= 0 || t > 3600)
    return error_set (err, "bad --timeout '%s'", arg);
  *ms = (int) (t * 1000);
  return 0;
}

/* --random, --seed, --max-steps: a decimal (or 0x) number, from 1 to
 * max unless max is 0 (any value); range is said after a bad one.
 */
static int
parse_number (const char *opt, const char *arg, unsigned long long max,
              const char *range, unsigned long long *v, struct error *err)
{
  char *end;

  errno = 0;
  *v = strtoull (arg, &end, 0);
  if (errno || *end || arg[0] == '-' || arg[0] == '\0' ||
      (max != 0 && (*v == 0 || *v > max)))
    return error_set (err, "bad --%s '%s'%s", opt, arg, range);
  return 0;
}

/* Fill cl from argv.  Returns -1 (with err) on a bad option value;
 * --help and --list-rules print and exit (0), and an unknown option
 * prints the usage and exits (2), as soon as they are seen.
 */
static int
parse_cmdline (int argc, char *argv[], struct cmdline *cl, struct error *err)
{
  enum { OPT_UNIX = 256, OPT_TCP, OPT_PSK, OPT_USER, OPT_CERTS, OPT_EXPORT,
         OPT_EXPORT2, OPT_CONTEXT, OPT_SCENARIO, OPT_XFAIL, OPT_SCRIPT,
         OPT_LIST, OPT_TIMEOUT, OPT_HELP, OPT_STRICT, OPT_RANDOM, OPT_SEED,
         OPT_MAX_STEPS, OPT_REPRODUCER, OPT_NO_SHRINK, OPT_PRINT_SEQ,
         OPT_LIST_RULES, OPT_TLS_ONLY };
  static const struct option long_opts[] = {
    { "unix", required_argument, NULL, OPT_UNIX },
    { "tcp", required_argument, NULL, OPT_TCP },
    { "tls-psk", required_argument, NULL, OPT_PSK },
    { "tls-username", required_argument, NULL, OPT_USER },
    { "tls-certs", required_argument, NULL, OPT_CERTS },
    { "export", required_argument, NULL, OPT_EXPORT },
    { "export2", required_argument, NULL, OPT_EXPORT2 },
    { "tls-only-export", required_argument, NULL, OPT_TLS_ONLY },
    { "context", required_argument, NULL, OPT_CONTEXT },
    { "scenario", required_argument, NULL, OPT_SCENARIO },
    { "xfail", required_argument, NULL, OPT_XFAIL },
    { "script", required_argument, NULL, OPT_SCRIPT },
    { "list", no_argument, NULL, OPT_LIST },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, OPT_HELP },
    { "strict", no_argument, NULL, OPT_STRICT },
    { "random", required_argument, NULL, OPT_RANDOM },
    { "seed", required_argument, NULL, OPT_SEED },
    { "max-steps", required_argument, NULL, OPT_MAX_STEPS },
    { "reproducer", required_argument, NULL, OPT_REPRODUCER },
    { "no-shrink", no_argument, NULL, OPT_NO_SHRINK },
    { "print-sequences", no_argument, NULL, OPT_PRINT_SEQ },
    { "list-rules", no_argument, NULL, OPT_LIST_RULES },
    { NULL, 0, NULL, 0 },
  };
  struct probe_cfg *cfg = &cl->cfg;
  unsigned long long v;
  int c;

  memset (cl, 0, sizeof *cl);
  cfg->export = "";
  cfg->timeout_ms = DEFAULT_TIMEOUT * 1000;
  cl->ro.max_steps = RANDOM_DEFAULT_MAX_STEPS;
  cl->ro.shrink = true;

  while ((c = getopt_long (argc, argv, "v", long_opts, NULL)) != -1) {
    switch (c) {
    case OPT_UNIX: cfg->unix_path = optarg; break;
    case OPT_TCP: cfg->tcp = optarg; break;
    case OPT_PSK: cl->psk = optarg; break;
    case OPT_USER: cl->user = optarg; break;
    case OPT_CERTS: cl->certs = optarg; break;
    case OPT_EXPORT: cfg->export = optarg; break;
    case OPT_EXPORT2: cfg->export2 = optarg; break;
    case OPT_TLS_ONLY: cfg->tls_only_export = optarg; break;
    case OPT_CONTEXT:
      if (cfg->ncontexts >= PROBE_MAX_CONTEXTS)
        return error_set (err, "too many --context");
      cfg->contexts[cfg->ncontexts++] = optarg;
      break;
    case OPT_SCENARIO: add_arg (&cl->selected, &cl->nselected, optarg); break;
    case OPT_SCRIPT: add_arg (&cl->scripts, &cl->nscripts, optarg); break;
    case OPT_XFAIL: add_xfail (cl, optarg); break;
    case OPT_LIST: cl->list = true; break;
    case OPT_TIMEOUT:
      if (parse_timeout (optarg, &cfg->timeout_ms, err) == -1)
        return -1;
      break;
    case 'v': cfg->verbose++; break;
    case OPT_HELP: usage (stdout); exit (0);
    case OPT_STRICT: cfg->strict = true; break;
    case OPT_RANDOM:
      if (parse_number ("random", optarg, 100000000, "", &v, err) == -1)
        return -1;
      cl->ro.n = v;
      break;
    case OPT_SEED:
      if (parse_number ("seed", optarg, 0, "", &v, err) == -1)
        return -1;
      cl->ro.seed = v;
      cl->have_seed = true;
      break;
    case OPT_MAX_STEPS:
      if (parse_number ("max-steps", optarg, MAX_RANDOM_STEPS, " (1 to 30)",
                        &v, err) == -1)
        return -1;
      cl->ro.max_steps = v;
      break;
    case OPT_REPRODUCER: cl->ro.reproducer = optarg; break;
    case OPT_NO_SHRINK: cl->ro.shrink = false; break;
    case OPT_PRINT_SEQ: cl->print_seq = true; break;
    case OPT_LIST_RULES: list_rules (); exit (0);
    default: usage (stderr); exit (2);
    }
  }
  if (optind != argc)
    return error_set (err, "unexpected argument '%s'", argv[optind]);
  return 0;
}

/* Check the options that go together, and fill in the defaults that
 * depend on others (the seed, --context, --export2).
 */
static int
check_cmdline (struct cmdline *cl, struct error *err)
{
  struct probe_cfg *cfg = &cl->cfg;
  const struct random_opts *ro = &cl->ro;
  size_t len;

  if (cl->ro.n == 0 &&
      (cl->have_seed || cl->print_seq || ro->reproducer || !ro->shrink ||
       ro->max_steps != RANDOM_DEFAULT_MAX_STEPS))
    return error_set (err, "--seed, --max-steps, --reproducer, --no-shrink "
                      "and --print-sequences go with --random");
  if (cl->ro.n > 0 &&
      (cl->nselected || cl->nscripts || cl->nxfails || cl->list))
    return error_set (err, "--random excludes --scenario, --script, "
                      "--xfail and --list");
  if (cl->ro.n > 0 && !cl->have_seed)
    cl->ro.seed = random_clock_seed ();
  if (cl->print_seq)            /* needs no server and no export */
    return 0;

  if (cfg->ncontexts == 0)
    cfg->contexts[cfg->ncontexts++] = "base:allocation";
  if (cfg->export2 == NULL) {
    len = strlen (cfg->export);
    cl->export2_buf = xmalloc (len + sizeof "-other");
    memcpy (cl->export2_buf, cfg->export, len);
    memcpy (cl->export2_buf + len, "-other", sizeof "-other");
    cfg->export2 = cl->export2_buf;
  }
  if (strcmp (cfg->export, cfg->export2) == 0)
    return error_set (err, "--export and --export2 must differ");
  /* $EXPORT is the export the battery uses in plaintext. */
  if (cfg->tls_only_export && strcmp (cfg->export, cfg->tls_only_export) == 0)
    return error_set (err, "--tls-only-export must differ from --export");
  return 0;
}

/* Check the server and TLS options, and load the credentials. */
static int
prepare_connection (struct cmdline *cl, struct error *err)
{
  struct probe_cfg *cfg = &cl->cfg;
  struct tport_creds_cfg cc;
  struct error cerr;

  if ((cfg->unix_path == NULL) == (cfg->tcp == NULL))
    return error_set (err, "give exactly one of --unix or --tcp");
  if (cl->psk && cl->certs)
    return error_set (err, "--tls-psk and --tls-certs exclude each other");
  if (cl->user && !cl->psk)
    return error_set (err, "--tls-username needs --tls-psk");

  tport_global_init (cfg->verbose >= 2 ? cfg->verbose : 0);
  if (cl->psk == NULL && cl->certs == NULL)
    return 0;
  memset (&cc, 0, sizeof cc);
  cc.psk_file = cl->psk;
  cc.psk_username = cl->user ? cl->user : "qemu";
  cc.x509_dir = cl->certs;
  cfg->creds = tport_creds_new (TPORT_CLIENT, &cc, &cerr);
  if (cfg->creds == NULL)
    return error_set (err, "TLS credentials: %s", cerr.msg);
  return 0;
}

static void
cmdline_free (struct cmdline *cl)
{
  free (cl->selected);
  free (cl->scripts);
  free (cl->xfails);
  free (cl->export2_buf);
  if (cl->cfg.creds)
    tport_creds_free (cl->cfg.creds);
}

/* --- the scenarios --------------------------------------------------- */

/* Every scenario: the built-in battery, then the --script files; and
 * which of them run.
 */
struct battery {
  struct scenario **all;
  size_t nall, nbuiltin;
  bool *run;                    /* nall entries */
};

/* Read a whole file (bounded). */
static char *
read_file (const char *path, struct error *err)
{
  FILE *fp = fopen (path, "r");
  char *buf;
  size_t n;

  if (fp == NULL) {
    error_set (err, "%s: %s", path, strerror (errno));
    return NULL;
  }
  buf = xmalloc (MAX_SCRIPT_SIZE + 1);
  n = fread (buf, 1, MAX_SCRIPT_SIZE + 1, fp);
  if (ferror (fp) || n > MAX_SCRIPT_SIZE) {
    error_set (err, "%s: %s", path,
               ferror (fp) ? strerror (errno) : "file too big");
    fclose (fp);
    free (buf);
    return NULL;
  }
  fclose (fp);
  buf[n] = '\0';
  if (strlen (buf) != n) {
    error_set (err, "%s: contains a NUL byte", path);
    free (buf);
    return NULL;
  }
  return buf;
}

/* Name of a script: its base name without .scn (the caller frees it). */
static char *
script_name (const char *path)
{
  const char *b = strrchr (path, '/');
  char *n;
  size_t len;

  n = xstrdup (b ? b + 1 : path);
  len = strlen (n);
  if (len > 4 && strcmp (n + len - 4, ".scn") == 0)
    n[len - 4] = '\0';
  return n;
}

static struct scenario *
load_script (const char *path, struct error *err)
{
  struct scenario *sc;
  char *text = read_file (path, err);
  char *name;

  if (text == NULL)
    return NULL;
  name = script_name (path);
  sc = scenario_parse (name, path, text, err);
  free (name);
  free (text);
  return sc;
}

/* The index of the scenario called name, or -1. */
static ssize_t
find_scenario (const struct battery *b, const char *name)
{
  size_t j;

  for (j = 0; j < b->nall; ++j)
    if (strcmp (name, scenario_name (b->all[j])) == 0)
      return j;
  return -1;
}

/* Parse every scenario, so that a mistake stops nbd-probe before any
 * I/O.
 */
static int
load_scenarios (const struct cmdline *cl, struct battery *b,
                struct error *err)
{
  struct error perr;
  size_t i, j;

  b->nbuiltin = n_builtin_scenarios;
  b->all = xcalloc (b->nbuiltin + cl->nscripts + 1, sizeof *b->all);
  b->run = xcalloc (b->nbuiltin + cl->nscripts + 1, sizeof *b->run);
  for (i = 0; i < b->nbuiltin; ++i) {
    b->all[i] = scenario_parse (builtin_scenarios[i].name,
                                builtin_scenarios[i].file,
                                builtin_scenarios[i].text, &perr);
    if (b->all[i] == NULL)
      return error_set (err, "built-in scenario: %s", perr.msg);
    b->nall++;
  }
  for (i = 0; i < cl->nscripts; ++i) {
    b->all[b->nall] = load_script (cl->scripts[i], err);
    if (b->all[b->nall] == NULL)
      return -1;
    b->nall++;
  }
  for (i = 0; i < b->nall; ++i)
    for (j = 0; j < i; ++j)
      if (strcmp (scenario_name (b->all[i]), scenario_name (b->all[j])) == 0)
        return error_set (err, "two scenarios are called '%s'",
                          scenario_name (b->all[i]));
  return 0;
}

/* --list */
static int
list_scenarios (const struct battery *b, bool verbose)
{
  size_t i;

  for (i = 0; i < b->nbuiltin; ++i) {
    if (verbose)
      printf ("%-22s %s\n", scenario_name (b->all[i]),
              scenario_description (b->all[i]));
    else
      printf ("%s\n", scenario_name (b->all[i]));
  }
  return 0;
}

/* The scenarios --scenario names and the --script files, or without
 * --scenario only the scripts, or without either the whole built-in
 * battery; and every --xfail name must exist.
 */
static int
select_scenarios (const struct cmdline *cl, struct battery *b,
                  struct error *err)
{
  ssize_t j;
  size_t i;

  for (i = 0; i < cl->nselected; ++i) {
    j = find_scenario (b, cl->selected[i]);
    if (j == -1)
      return error_set (err, "unknown scenario '%s' (nbd-probe --list shows "
                        "them)", cl->selected[i]);
    b->run[j] = true;
  }
  for (i = 0; i < b->nall; ++i)
    if (i >= b->nbuiltin || (cl->nselected == 0 && cl->nscripts == 0))
      b->run[i] = true;
  for (i = 0; i < cl->nxfails; ++i)
    if (find_scenario (b, cl->xfails[i].name) == -1)
      return error_set (err, "--xfail: unknown scenario '%s' (nbd-probe "
                        "--list shows them)", cl->xfails[i].name);
  return 0;
}

static void
battery_free (struct battery *b)
{
  size_t i;

  for (i = 0; i < b->nall; ++i)
    scenario_free (b->all[i]);
  free (b->all);
  free (b->run);
}

/* --- running --------------------------------------------------------- */

/* Detect SELECTIVETLS / FORCEDTLS / NOTLS on a connection of its own.
 * Returns -1 if the server cannot be reached.
 */
static int
detect_mode (struct probe_cfg *cfg, struct sbuf *how)
{
  struct session s;
  struct opt_reply sr, tls;
  int ret = -1;

  memset (&sr, 0, sizeof sr);
  memset (&tls, 0, sizeof tls);
  sess_init (&s, cfg);
  if (sess_connect (&s) == -1) {
    sbuf_printf (how, "%s", s.err.msg);
    goto out;
  }
  if (sess_send_option (&s, NBD_OPT_STRUCTURED_REPLY, NULL, 0, 0) == -1 ||
      sess_read_opt_reply (&s, &sr) == -1 ||
      sess_send_option (&s, NBD_OPT_STARTTLS, NULL, 0, 0) == -1 ||
      sess_read_opt_reply (&s, &tls) == -1) {
    sbuf_printf (how, "%s", s.err.msg);
    goto out;
  }
  if (tls.type == NBD_REP_ACK)
    cfg->mode = sr.type == NBD_REP_ERR_TLS_REQD
      ? MODE_FORCEDTLS : MODE_SELECTIVETLS;
  else
    cfg->mode = MODE_NOTLS;
  sbuf_printf (how, "plaintext NBD_OPT_STRUCTURED_REPLY -> %s, "
               "NBD_OPT_STARTTLS -> %s", wire_rep_name (sr.type),
               wire_rep_name (tls.type));
  if (tls.type == NBD_REP_ACK) {
    if (cfg->creds == NULL)
      sbuf_printf (how, "; no TLS credentials given");
    else if (sess_handshake (&s) == -1)
      sbuf_printf (how, "; TLS handshake FAILED: %s", s.err.msg);
    else
      sbuf_printf (how, "; TLS handshake ok");
  }
  ret = 0;
 out:
  if (cfg->verbose)
    tap_trace (2, s.trace.s, "mode detection trace:");
  opt_reply_free (&sr);
  opt_reply_free (&tls);
  sess_close (&s);
  sbuf_free (&s.trace);
  return ret;
}

/* Detect the mode and say it in a diagnostic, or bail out (-1). */
static int
announce_mode (struct probe_cfg *cfg)
{
  struct sbuf how = { 0 };
  int r = detect_mode (cfg, &how);

  if (r == -1)
    tap_bail ("cannot talk to the server: %s", how.s);
  else
    tap_diag ("server mode: %s (%s)", mode_name (cfg->mode), how.s);
  sbuf_free (&how);
  return r;
}

/* --random: returns the exit status. */
static int
run_random (struct cmdline *cl)
{
  if (announce_mode (&cl->cfg) == -1)
    return 1;
  if (cl->cfg.mode != MODE_NOTLS && cl->cfg.creds == NULL) {
    fprintf (stderr, "%s: --random: the server offers TLS; give --tls-psk "
             "or --tls-certs\n", error_progname);
    return 2;
  }
  tap_flush ();
  return random_run (&cl->cfg, &cl->ro);
}

/* The TAP line and diagnostics of test n, scenario name, with
 * xreason if it is --xfail'ed.  Returns true if it failed.
 */
static bool
report_scenario (const struct probe_cfg *cfg, size_t n, const char *name,
                 const char *xreason, const struct scenario_result *res)
{
  const enum tap_directive todo = xreason ? TAP_TODO : TAP_NO_DIRECTIVE;

  switch (res->res) {
  case RES_SKIP:
    tap_result (true, n, TAP_SKIP, res->reason.s, "%s", name);
    break;
  case RES_OK:
    tap_result (true, n, todo, xreason, "%s", name);
    if (res->observed.len > 0)
      tap_diag ("observed %s: %s", name, res->observed.s);
    break;
  case RES_NOT_OK:
    tap_result (false, n, todo, xreason, "%s", name);
    tap_diag_text (0, res->reason.s);
    tap_diag ("trace (mode %s):", mode_name (cfg->mode));
    tap_diag_text (0, res->trace.s);
    break;
  }
  tap_diag_text (0, res->notes.s);
  tap_flush ();
  if (cfg->verbose)
    tap_trace (0, res->trace.s, "%s: trace:", name);
  return res->res == RES_NOT_OK && xreason == NULL;
}

/* The reason scenario name is --xfail'ed for (the last one given), or
 * NULL.
 */
static const char *
xfail_reason (const struct cmdline *cl, const char *name)
{
  const char *reason = NULL;
  size_t i;

  for (i = 0; i < cl->nxfails; ++i)
    if (strcmp (cl->xfails[i].name, name) == 0)
      reason = cl->xfails[i].reason;
  return reason;
}

/* The battery: returns the exit status. */
static int
run_battery (struct cmdline *cl, const struct battery *b)
{
  size_t j, n = 0, nrun = 0;
  unsigned failed = 0;

  for (j = 0; j < b->nall; ++j)
    nrun += b->run[j];
  tap_plan (nrun);
  tap_flush ();
  if (announce_mode (&cl->cfg) == -1)
    return 1;
  tap_flush ();

  for (j = 0; j < b->nall; ++j) {
    const char *name = scenario_name (b->all[j]);
    struct scenario_result res;

    if (!b->run[j])
      continue;
    scenario_run (b->all[j], &cl->cfg, &res);
    failed += report_scenario (&cl->cfg, ++n, name, xfail_reason (cl, name),
                               &res);
    scenario_result_free (&res);
  }
  return failed ? 1 : 0;
}

static int
usage_error (const struct error *err)
{
  fprintf (stderr, "%s: %s\n", error_progname, err->msg);
  return 2;
}

int
main (int argc, char *argv[])
{
  struct cmdline cl;
  struct battery b;
  struct error err;
  int status;

  error_progname = "nbd-probe";
  if (parse_cmdline (argc, argv, &cl, &err) == -1 ||
      check_cmdline (&cl, &err) == -1)
    exit (usage_error (&err));
  if (cl.print_seq) {
    random_print_sequences (&cl.ro, cl.cfg.tls_only_export != NULL);
    exit (0);
  }

  memset (&b, 0, sizeof b);
  if (load_scenarios (&cl, &b, &err) == -1)
    status = usage_error (&err);
  else if (cl.list)
    status = list_scenarios (&b, cl.cfg.verbose);
  else if (select_scenarios (&cl, &b, &err) == -1 ||
           prepare_connection (&cl, &err) == -1)
    status = usage_error (&err);
  else if (cl.ro.n > 0)
    status = run_random (&cl);
  else
    status = run_battery (&cl, &b);

  battery_free (&b);
  cmdline_free (&cl);
  return status;
}
