/* tlsguard test harness: nbd-probe, a raw NBD client that runs an
 * attack battery against a server and prints TAP.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Flow: parse the command line; parse every scenario (the built-in
 * battery compiled from scenarios/ *.scn, and --script files) so that
 * mistakes exit with status 2 before any I/O; detect the server's TLS
 * mode on a connection of its own; run each selected scenario on a
 * fresh connection; print one TAP line per scenario, with the trace of
 * the messages exchanged on failure (or always, to stderr, with -v).
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
#include <time.h>
#include <unistd.h>

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
"\n%s",
           DEFAULT_TIMEOUT, RANDOM_DEFAULT_MAX_STEPS,
           scenario_language_help);
}

struct xfail {
  const char *name;
  const char *reason;
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

/* Name of a script: its base name without .scn. */
static char *
script_name (const char *path)
{
  const char *b = strrchr (path, '/');
  char *n;
  size_t len;

  b = b ? b + 1 : path;
  n = strdup (b);
  if (n == NULL)
    return NULL;
  len = strlen (n);
  if (len > 4 && strcmp (n + len - 4, ".scn") == 0)
    n[len - 4] = '\0';
  return n;
}

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
  if (cfg->verbose) {
    fprintf (stderr, "# mode detection trace:\n");
    print_prefixed (stderr, "#   ", s.trace.s);
  }
  opt_reply_free (&sr);
  opt_reply_free (&tls);
  sess_close (&s);
  sbuf_free (&s.trace);
  return ret;
}

int
main (int argc, char *argv[])
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
  struct probe_cfg cfg;
  const char *psk = NULL, *user = NULL, *certs = NULL;
  char *export2_buf = NULL;
  const char **selected = NULL, **scripts = NULL;
  size_t nselected = 0, nscripts = 0;
  struct xfail *xfails = NULL;
  size_t nxfails = 0;
  bool list = false;
  struct scenario **all = NULL;
  size_t nall = 0, nbuiltin, i, j;
  bool *run = NULL;
  size_t nrun = 0, n;
  struct error err;
  int c, status = 0;
  unsigned failed = 0;
  struct sbuf how = { 0 };
  struct random_opts ro;
  bool random_mode = false, have_seed = false, print_seq = false;

  memset (&ro, 0, sizeof ro);
  ro.max_steps = RANDOM_DEFAULT_MAX_STEPS;
  ro.shrink = true;
  memset (&cfg, 0, sizeof cfg);
  cfg.export = "";
  cfg.timeout_ms = DEFAULT_TIMEOUT * 1000;

  while ((c = getopt_long (argc, argv, "v", long_opts, NULL)) != -1) {
    switch (c) {
    case OPT_UNIX: cfg.unix_path = optarg; break;
    case OPT_TCP: cfg.tcp = optarg; break;
    case OPT_PSK: psk = optarg; break;
    case OPT_USER: user = optarg; break;
    case OPT_CERTS: certs = optarg; break;
    case OPT_EXPORT: cfg.export = optarg; break;
    case OPT_EXPORT2: cfg.export2 = optarg; break;
    case OPT_TLS_ONLY: cfg.tls_only_export = optarg; break;
    case OPT_CONTEXT:
      if (cfg.ncontexts >= PROBE_MAX_CONTEXTS) {
        fprintf (stderr, "nbd-probe: too many --context\n");
        exit (2);
      }
      cfg.contexts[cfg.ncontexts++] = optarg;
      break;
    case OPT_SCENARIO:
    case OPT_SCRIPT: {
      const char ***v = c == OPT_SCENARIO ? &selected : &scripts;
      size_t *nv = c == OPT_SCENARIO ? &nselected : &nscripts;

      *v = realloc (*v, (*nv + 1) * sizeof **v);
      if (*v == NULL) {
        perror ("realloc");
        exit (2);
      }
      (*v)[(*nv)++] = optarg;
      break;
    }
    case OPT_XFAIL: {
      char *eq = strchr (optarg, '=');

      xfails = realloc (xfails, (nxfails + 1) * sizeof *xfails);
      if (xfails == NULL) {
        perror ("realloc");
        exit (2);
      }
      if (eq) {
        *eq = '\0';
        xfails[nxfails].reason = eq[1] ? eq + 1 : "known deviation";
      }
      else
        xfails[nxfails].reason = "known deviation";
      xfails[nxfails++].name = optarg;
      break;
    }
    case OPT_LIST: list = true; break;
    case OPT_TIMEOUT: {
      char *end;
      double t;

      errno = 0;
      t = strtod (optarg, &end);
      if (errno || *end || t <= 0 || t > 3600) {
        fprintf (stderr, "nbd-probe: bad --timeout '%s'\n", optarg);
        exit (2);
      }
      cfg.timeout_ms = (int) (t * 1000);
      break;
    }
    case 'v': cfg.verbose++; break;
    case OPT_HELP: usage (stdout); exit (0);
    case OPT_STRICT: cfg.strict = true; break;
    case OPT_RANDOM:
    case OPT_SEED:
    case OPT_MAX_STEPS: {
      char *end;
      unsigned long long v;

      errno = 0;
      v = strtoull (optarg, &end, 0);
      if (errno || *end || optarg[0] == '-' || optarg[0] == '\0' ||
          (c == OPT_RANDOM && (v == 0 || v > 100000000)) ||
          (c == OPT_MAX_STEPS && (v == 0 || v > MAX_RANDOM_STEPS))) {
        fprintf (stderr, "nbd-probe: bad --%s '%s'%s\n",
                 c == OPT_RANDOM ? "random" : c == OPT_SEED ? "seed"
                 : "max-steps", optarg,
                 c == OPT_MAX_STEPS ? " (1 to 30)" : "");
        exit (2);
      }
      if (c == OPT_RANDOM) {
        ro.n = v;
        random_mode = true;
      }
      else if (c == OPT_SEED) {
        ro.seed = v;
        have_seed = true;
      }
      else
        ro.max_steps = v;
      break;
    }
    case OPT_REPRODUCER: ro.reproducer = optarg; break;
    case OPT_NO_SHRINK: ro.shrink = false; break;
    case OPT_PRINT_SEQ: print_seq = true; break;
    case OPT_LIST_RULES:
      for (i = 0; i < model_nrules; ++i)
        printf ("%-18s %s\n%-18s   \"%s\"\n", model_rules[i].id,
                model_rules[i].where, "", model_rules[i].text);
      exit (0);
    default: usage (stderr); exit (2);
    }
  }
  if (optind != argc) {
    fprintf (stderr, "nbd-probe: unexpected argument '%s'\n", argv[optind]);
    exit (2);
  }
  if (!random_mode && (have_seed || print_seq || ro.reproducer ||
                       !ro.shrink || ro.max_steps != RANDOM_DEFAULT_MAX_STEPS)) {
    fprintf (stderr, "nbd-probe: --seed, --max-steps, --reproducer, "
             "--no-shrink and --print-sequences go with --random\n");
    exit (2);
  }
  if (random_mode && (nselected || nscripts || nxfails || list)) {
    fprintf (stderr, "nbd-probe: --random excludes --scenario, --script, "
             "--xfail and --list\n");
    exit (2);
  }
  if (random_mode && !have_seed) {
    struct timespec ts;

    clock_gettime (CLOCK_REALTIME, &ts);
    ro.seed = ((uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000) ^
      ((uint64_t) getpid () << 32);
    ro.seed %= UINT64_C (1000000000000);
  }
  if (print_seq) {
    unsigned long k;

    for (k = 1; k <= ro.n; ++k) {
      char *text = random_sequence_script (ro.seed, k, ro.max_steps,
                                           cfg.tls_only_export != NULL);

      printf ("# sequence %lu\n%s\n", k, text);
      free (text);
    }
    exit (0);
  }
  if (cfg.ncontexts == 0)
    cfg.contexts[cfg.ncontexts++] = "base:allocation";
  if (cfg.export2 == NULL) {
    size_t len = strlen (cfg.export);

    export2_buf = malloc (len + 7);
    if (export2_buf == NULL) {
      perror ("malloc");
      exit (2);
    }
    memcpy (export2_buf, cfg.export, len);
    memcpy (export2_buf + len, "-other", 7);
    cfg.export2 = export2_buf;
  }
  if (strcmp (cfg.export, cfg.export2) == 0) {
    fprintf (stderr, "nbd-probe: --export and --export2 must differ\n");
    exit (2);
  }
  /* $EXPORT is the export the battery uses in plaintext. */
  if (cfg.tls_only_export && strcmp (cfg.export, cfg.tls_only_export) == 0) {
    fprintf (stderr, "nbd-probe: --tls-only-export must differ from "
             "--export\n");
    exit (2);
  }

  /* Load every scenario. */
  nbuiltin = n_builtin_scenarios;
  all = calloc (nbuiltin + nscripts + 1, sizeof *all);
  if (all == NULL) {
    perror ("calloc");
    exit (2);
  }
  for (i = 0; i < nbuiltin; ++i) {
    all[nall] = scenario_parse (builtin_scenarios[i].name,
                                builtin_scenarios[i].file,
                                builtin_scenarios[i].text, &err);
    if (all[nall] == NULL) {
      fprintf (stderr, "nbd-probe: built-in scenario: %s\n", err.msg);
      status = 2;
      goto out;
    }
    nall++;
  }
  for (i = 0; i < nscripts; ++i) {
    char *text = read_file (scripts[i], &err);
    char *name;

    if (text == NULL) {
      fprintf (stderr, "nbd-probe: %s\n", err.msg);
      status = 2;
      goto out;
    }
    name = script_name (scripts[i]);
    if (name == NULL) {
      perror ("strdup");
      exit (2);
    }
    all[nall] = scenario_parse (name, scripts[i], text, &err);
    free (name);
    free (text);
    if (all[nall] == NULL) {
      fprintf (stderr, "nbd-probe: %s\n", err.msg);
      status = 2;
      goto out;
    }
    nall++;
  }
  for (i = 0; i < nall; ++i)
    for (j = 0; j < i; ++j)
      if (strcmp (scenario_name (all[i]), scenario_name (all[j])) == 0) {
        fprintf (stderr, "nbd-probe: two scenarios are called '%s'\n",
                 scenario_name (all[i]));
        status = 2;
        goto out;
      }

  if (list) {
    for (i = 0; i < nbuiltin; ++i) {
      if (cfg.verbose)
        printf ("%-22s %s\n", scenario_name (all[i]),
                scenario_description (all[i]));
      else
        printf ("%s\n", scenario_name (all[i]));
    }
    goto out;
  }

  /* Select. */
  run = calloc (nall + 1, sizeof *run);
  if (run == NULL) {
    perror ("calloc");
    exit (2);
  }
  for (i = 0; i < nselected; ++i) {
    for (j = 0; j < nall; ++j)
      if (strcmp (selected[i], scenario_name (all[j])) == 0)
        break;
    if (j == nall) {
      fprintf (stderr, "nbd-probe: unknown scenario '%s' "
               "(nbd-probe --list shows them)\n", selected[i]);
      status = 2;
      goto out;
    }
    run[j] = true;
  }
  if (nselected == 0)
    for (j = 0; j < nall; ++j)
      run[j] = nscripts == 0 || j >= nbuiltin;
  else
    for (j = nbuiltin; j < nall; ++j)
      run[j] = true;
  for (i = 0; i < nxfails; ++i) {
    for (j = 0; j < nall; ++j)
      if (strcmp (xfails[i].name, scenario_name (all[j])) == 0)
        break;
    if (j == nall) {
      fprintf (stderr, "nbd-probe: --xfail: unknown scenario '%s' "
               "(nbd-probe --list shows them)\n", xfails[i].name);
      status = 2;
      goto out;
    }
  }

  if ((cfg.unix_path == NULL) == (cfg.tcp == NULL)) {
    fprintf (stderr, "nbd-probe: give exactly one of --unix or --tcp\n");
    status = 2;
    goto out;
  }
  if (psk && certs) {
    fprintf (stderr, "nbd-probe: --tls-psk and --tls-certs exclude each "
             "other\n");
    status = 2;
    goto out;
  }
  if (user && !psk) {
    fprintf (stderr, "nbd-probe: --tls-username needs --tls-psk\n");
    status = 2;
    goto out;
  }

  tport_global_init (cfg.verbose >= 2 ? cfg.verbose : 0);
  if (psk || certs) {
    struct tport_creds_cfg cc;

    memset (&cc, 0, sizeof cc);
    cc.psk_file = psk;
    cc.psk_username = user ? user : "qemu";
    cc.x509_dir = certs;
    cfg.creds = tport_creds_new (TPORT_CLIENT, &cc, &err);
    if (cfg.creds == NULL) {
      fprintf (stderr, "nbd-probe: TLS credentials: %s\n", err.msg);
      status = 2;
      goto out;
    }
  }

  if (random_mode) {
    if (detect_mode (&cfg, &how) == -1) {
      printf ("Bail out! cannot talk to the server: %s\n", how.s);
      status = 1;
      goto out;
    }
    printf ("# server mode: %s (%s)\n", mode_name (cfg.mode), how.s);
    if (cfg.mode != MODE_NOTLS && cfg.creds == NULL) {
      fprintf (stderr, "nbd-probe: --random: the server offers TLS; give "
               "--tls-psk or --tls-certs\n");
      status = 2;
      goto out;
    }
    fflush (stdout);
    status = random_run (&cfg, &ro);
    goto out;
  }

  for (j = 0; j < nall; ++j)
    nrun += run[j];
  printf ("1..%zu\n", nrun);
  fflush (stdout);

  if (detect_mode (&cfg, &how) == -1) {
    printf ("Bail out! cannot talk to the server: %s\n", how.s);
    status = 1;
    goto out;
  }
  printf ("# server mode: %s (%s)\n", mode_name (cfg.mode), how.s);
  fflush (stdout);

  n = 0;
  for (j = 0; j < nall; ++j) {
    struct scenario_result res;
    const char *name = scenario_name (all[j]);
    const char *xreason = NULL;

    if (!run[j])
      continue;
    n++;
    for (i = 0; i < nxfails; ++i)
      if (strcmp (xfails[i].name, name) == 0)
        xreason = xfails[i].reason;

    scenario_run (all[j], &cfg, &res);
    switch (res.res) {
    case RES_SKIP:
      printf ("ok %zu - %s # SKIP %s\n", n, name, res.reason.s);
      break;
    case RES_OK:
      if (xreason)
        printf ("ok %zu - %s # TODO %s\n", n, name, xreason);
      else
        printf ("ok %zu - %s\n", n, name);
      if (res.observed.len > 0)
        printf ("# observed %s: %s\n", name, res.observed.s);
      break;
    case RES_NOT_OK:
      if (xreason)
        printf ("not ok %zu - %s # TODO %s\n", n, name, xreason);
      else {
        printf ("not ok %zu - %s\n", n, name);
        failed++;
      }
      print_prefixed (stdout, "# ", res.reason.s);
      printf ("# trace (mode %s):\n", mode_name (cfg.mode));
      print_prefixed (stdout, "# ", res.trace.s);
      break;
    }
    print_prefixed (stdout, "# ", res.notes.s);
    fflush (stdout);
    if (cfg.verbose) {
      fprintf (stderr, "# %s: trace:\n", name);
      print_prefixed (stderr, "# ", res.trace.s);
    }
    scenario_result_free (&res);
  }
  status = failed ? 1 : 0;

 out:
  for (i = 0; i < nall; ++i)
    scenario_free (all[i]);
  free (all);
  free (run);
  free (selected);
  free (scripts);
  free (xfails);
  free (export2_buf);
  sbuf_free (&how);
  if (cfg.creds)
    tport_creds_free (cfg.creds);
  return status;
}
