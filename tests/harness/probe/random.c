/* tlsguard test harness: nbd-probe --random, random option sequences
 * checked against the spec model.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Each sequence is written as a scenario script of "judge" steps (see
 * scenarios/README), so that it runs through the same interpreter as
 * the built-in battery and --script: every option and request is
 * judged by the spec model (model.c).  A failing sequence is shrunk by
 * delta debugging (Zeller's ddmin over its steps) to a script that
 * still fails the same way (same property, same rule), which is
 * printed and, with --reproducer FILE, written out for --script.
 *
 * Generation is deterministic: sequence i of seed S comes from its own
 * splitmix64 stream seeded from S and i, so one sequence can be
 * regenerated without the others.  The weights favour the boundary:
 * options on both sides of STARTTLS, the meta-context injection pattern
 * (STRUCTURED_REPLY and SET_META_CONTEXT before STARTTLS), repeated
 * STARTTLS, STARTTLS with a payload or with plaintext in the same
 * write, empty and foreign SET_META_CONTEXT queries, export
 * mismatches, LIST and INFO in between, and an ending of GO or
 * EXPORT_NAME followed by BLOCK_STATUS and READ.  Told a TLS-only
 * export (--tls-only-export), the sequences also name it ($TLSONLY):
 * often a plaintext INFO, GO or EXPORT_NAME of it before STARTTLS, and
 * it is one of the exports the other options pick on either side.
 * Without it no extra random number is drawn, so the sequences of a
 * seed stay what they were.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "sbuf.h"
#include "monotime.h"
#include "random.h"
#include "scenario.h"
#include "tap.h"

#define MAX_SHRINK_RUNS 300
#define MAX_NOTE_KINDS  64
#define NOTE_EXAMPLES   2

/* --- PRNG: splitmix64 ----------------------------------------------- */

struct rng {
  uint64_t s;
};

static uint64_t
rng_next (struct rng *r)
{
  uint64_t z = (r->s += UINT64_C (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static unsigned
rng_below (struct rng *r, unsigned n)
{
  return n ? (unsigned) (rng_next (r) % n) : 0;
}

/* True with probability pct/100. */
static bool
rng_pct (struct rng *r, unsigned pct)
{
  return rng_below (r, 100) < pct;
}

static void
rng_seed (struct rng *r, uint64_t seed, unsigned long i)
{
  r->s = seed;
  r->s = rng_next (r) ^ (UINT64_C (0xd1b54a32d192ed03) * (i + 1));
  rng_next (r);
}

/* The generator: its stream, and whether $TLSONLY may be named. */
struct gen {
  struct rng r;
  bool tls_only;
};

/* --- sequences -------------------------------------------------------- */

#define MAX_STEPS 64

struct seq {
  char *line[MAX_STEPS];        /* "judge ..." lines */
  size_t n;
};

static void
seq_free (struct seq *q)
{
  size_t i;

  for (i = 0; i < q->n; ++i)
    free (q->line[i]);
  q->n = 0;
}

/* Insert line at position pos (0..n). */
static void
seq_insert (struct seq *q, size_t pos, const char *line)
{
  if (q->n >= MAX_STEPS)
    return;
  if (pos > q->n)
    pos = q->n;
  memmove (q->line + pos + 1, q->line + pos,
           (q->n - pos) * sizeof q->line[0]);
  q->line[pos] = xstrdup (line);
  q->n++;
}

static void
seq_add (struct seq *q, const char *line)
{
  seq_insert (q, q->n, line);
}

static const char *
pick_export (struct gen *g, unsigned pct_other)
{
  if (g->tls_only && rng_pct (&g->r, 15))
    return "$TLSONLY";
  return rng_pct (&g->r, pct_other) ? "$EXPORT2" : "$EXPORT";
}

static void
gen_set_meta (struct gen *g, char *buf, size_t len)
{
  unsigned q = rng_below (&g->r, 100);
  const char *queries =
    q < 60 ? " query=$CONTEXT"
    : q < 75 ? ""                                   /* empty: no context */
    : q < 82 ? " query=base:"                       /* MUST be ignored */
    : q < 90 ? " query=x-tlsguard-none:nothing"     /* unknown namespace */
    : " query=$CONTEXT query=x-tlsguard-none:nothing";

  snprintf (buf, len, "judge SET_META_CONTEXT export=%s%s",
            pick_export (g, 25), queries);
}

static void
gen_info_go (struct gen *g, const char *opt, unsigned pct_other,
             char *buf, size_t len)
{
  unsigned i = rng_below (&g->r, 100);

  snprintf (buf, len, "judge %s export=%s%s", opt, pick_export (g, pct_other),
            i < 12 ? " info=NAME" : i < 22 ? " info=BLOCK_SIZE" : "");
}

/* One option from the general pool (no STARTTLS, no ending). */
static void
gen_option (struct gen *g, char *buf, size_t len)
{
  unsigned w = rng_below (&g->r, 100);

  if (w < 20)
    snprintf (buf, len, "judge STRUCTURED_REPLY");
  else if (w < 46)
    gen_set_meta (g, buf, len);
  else if (w < 62)
    snprintf (buf, len, "judge LIST");
  else if (w < 80)
    gen_info_go (g, "INFO", 30, buf, len);
  else if (w < 95) {
    unsigned q = rng_below (&g->r, 3);

    snprintf (buf, len, "judge LIST_META_CONTEXT export=%s%s",
              pick_export (g, 25),
              q == 0 ? "" : q == 1 ? " query=base:" : " query=$CONTEXT");
  }
  else
    snprintf (buf, len, "judge 0x4242");          /* an unknown option */
}

/* Append k random options, inserted at random places after from. */
static void
sprinkle (struct gen *g, struct seq *q, size_t from, unsigned k)
{
  char buf[256];

  while (k-- > 0) {
    gen_option (g, buf, sizeof buf);
    seq_insert (q, from + rng_below (&g->r, q->n - from + 1), buf);
  }
}

static void
generate (uint64_t seed, unsigned long i, unsigned max_steps, bool tls_only,
          struct seq *q)
{
  struct gen g;
  struct rng *const r = &g.r;
  char buf[256];
  unsigned end, ncmds, budget, npre, npost;
  bool tls;
  size_t mark;
  const char *plain_tls_only = NULL;

  rng_seed (r, seed, i);
  g.tls_only = tls_only;
  memset (q, 0, sizeof *q);
  if (max_steps < 1)
    max_steps = 1;

  /* The ending: GO, EXPORT_NAME, ABORT, or none. */
  end = rng_below (r, 100);
  end = end < 68 ? 0 : end < 90 ? 1 : end < 94 ? 2 : 3;
  ncmds = end <= 1 ? 1 + rng_pct (r, 45) : 0;
  if (ncmds + (end <= 2) > max_steps)
    ncmds = max_steps - (end <= 2);
  budget = max_steps - ncmds - (end <= 2);

  tls = budget > 0 && rng_pct (r, 88);
  if (tls)
    budget--;
  npre = budget ? rng_below (r, (budget < 5 ? budget : 5) + 1) : 0;
  budget -= npre;
  npost = budget ? rng_below (r, (budget < 5 ? budget : 5) + 1) : 0;

  /* With a TLS-only export: often one of the steps before STARTTLS
   * opens or describes it in plaintext (P5).
   */
  if (tls_only && npre > 0 && rng_pct (r, 50)) {
    unsigned v = rng_below (r, 100);

    plain_tls_only = v < 45 ? "judge INFO export=$TLSONLY"
      : v < 85 ? "judge GO export=$TLSONLY"
      : "judge EXPORT_NAME export=$TLSONLY";
    npre--;
  }

  /* Before STARTTLS: often the meta-context injection pattern. */
  if (npre >= 2 && rng_pct (r, 45)) {
    seq_add (q, "judge STRUCTURED_REPLY");
    gen_set_meta (&g, buf, sizeof buf);
    seq_add (q, buf);
    sprinkle (&g, q, 0, npre - 2);
  }
  else
    sprinkle (&g, q, 0, npre);
  if (plain_tls_only)
    seq_insert (q, rng_below (r, q->n + 1), plain_tls_only);

  if (tls) {
    unsigned v = rng_below (r, 100);

    if (v < 10) {
      seq_add (q, "judge STARTTLS payload=00000000");
      /* Usually followed by a proper one. */
      if (npost > 0 && rng_pct (r, 70)) {
        seq_add (q, "judge STARTTLS");
        npost--;
      }
    }
    else if (v < 19)
      seq_add (q, rng_pct (r, 70) ? "judge STARTTLS inject=LIST"
               : "judge STARTTLS inject=STRUCTURED_REPLY");
    else
      seq_add (q, "judge STARTTLS");
  }

  /* After STARTTLS: structured replies and contexts, or not. */
  mark = q->n;
  if (npost > 0 && rng_pct (r, 60)) {
    seq_add (q, "judge STRUCTURED_REPLY");
    npost--;
  }
  if (npost > 0 && rng_pct (r, 45)) {
    gen_set_meta (&g, buf, sizeof buf);
    seq_add (q, buf);
    npost--;
  }
  if (npost > 0 && tls && rng_pct (r, 18)) {
    /* A repeated STARTTLS somewhere after the first. */
    seq_insert (q, mark + rng_below (r, q->n - mark + 1), "judge STARTTLS");
    npost--;
  }
  sprinkle (&g, q, mark, npost);

  switch (end) {
  case 0:
    gen_info_go (&g, "GO", 20, buf, sizeof buf);
    seq_add (q, buf);
    break;
  case 1:
    snprintf (buf, sizeof buf, "judge EXPORT_NAME export=%s",
              pick_export (&g, 20));
    seq_add (q, buf);
    break;
  case 2:
    seq_add (q, "judge ABORT");
    break;
  }
  while (ncmds-- > 0) {
    if (rng_pct (r, 75))
      seq_add (q, rng_pct (r, 20) ? "judge BLOCK_STATUS flags=REQ_ONE"
               : "judge BLOCK_STATUS");
    else
      seq_add (q, "judge READ");
  }
  /* No ending and nothing drawn: at least one option. */
  if (q->n == 0) {
    gen_option (&g, buf, sizeof buf);
    seq_add (q, buf);
  }
}

/* --- scripts ---------------------------------------------------------- */

/* The script of the steps of q selected by keep (NULL: all). */
static char *
script_of (const struct seq *q, const bool *keep, uint64_t seed,
           unsigned long i, const char *comment)
{
  struct sbuf b = { 0 };
  size_t k;

  if (comment)
    sbuf_add (&b, comment);
  sbuf_printf (&b, "name random-%" PRIu64 "-%lu\n", seed, i);
  sbuf_printf (&b, "description sequence %lu of nbd-probe --random N "
               "--seed %" PRIu64 " (N >= %lu)\n", i, seed, i);
  for (k = 0; k < q->n; ++k)
    if (keep == NULL || keep[k])
      sbuf_printf (&b, "%s\n", q->line[k]);
  return b.s;
}

void
random_print_sequences (const struct random_opts *o, bool tls_only)
{
  unsigned long i;

  for (i = 1; i <= o->n; ++i) {
    struct seq q;
    char *text;

    generate (o->seed, i, o->max_steps, tls_only, &q);
    text = script_of (&q, NULL, o->seed, i, NULL);
    printf ("# sequence %lu\n%s\n", i, text);
    free (text);
    seq_free (&q);
  }
}

uint64_t
random_clock_seed (void)
{
  struct timespec ts;
  uint64_t seed;

  clock_gettime (CLOCK_REALTIME, &ts);
  seed = ((uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000) ^
    ((uint64_t) getpid () << 32);
  return seed % UINT64_C (1000000000000);
}

/* Run a script.  Returns false if it does not parse (a bug here). */
static bool
run_script (const struct probe_cfg *cfg, const char *name, const char *text,
            struct scenario_result *res)
{
  struct error err;
  struct scenario *sc = scenario_parse (name, name, text, &err);

  if (sc == NULL) {
    memset (res, 0, sizeof *res);
    res->res = RES_NOT_OK;
    sbuf_printf (&res->reason, "internal error: generated script does not "
                 "parse: %s", err.msg);
    return false;
  }
  scenario_run (sc, cfg, res);
  scenario_free (sc);
  return true;
}

static bool
same_failure (const struct scenario_result *res, const char *prop,
              const char *rule)
{
  return res->res == RES_NOT_OK && res->prop && prop &&
    strcmp (res->prop, prop) == 0 &&
    ((res->rule == NULL && rule == NULL) ||
     (res->rule && rule && strcmp (res->rule, rule) == 0));
}

/* --- shrinking: ddmin ------------------------------------------------- */

struct shrink {
  const struct probe_cfg *cfg;
  const struct seq *q;
  uint64_t seed;
  unsigned long i;
  const char *prop, *rule;
  unsigned runs;
};

/* Does the subset (indexes idx[0..n)) fail the same way? */
static bool
shrink_test (struct shrink *sh, const size_t *idx, size_t n)
{
  bool keep[MAX_STEPS] = { false };
  struct scenario_result res;
  char *text;
  bool same;
  size_t k;

  if (sh->runs >= MAX_SHRINK_RUNS)
    return false;
  sh->runs++;
  for (k = 0; k < n; ++k)
    keep[idx[k]] = true;
  text = script_of (sh->q, keep, sh->seed, sh->i, NULL);
  run_script (sh->cfg, "shrunk", text, &res);
  same = same_failure (&res, sh->prop, sh->rule);
  scenario_result_free (&res);
  free (text);
  return same;
}

/* Zeller's ddmin: on return idx[0..*n) is a 1-minimal failing subset
 * (within MAX_SHRINK_RUNS runs).
 */
static void
ddmin (struct shrink *sh, size_t *idx, size_t *n)
{
  size_t gran = 2;
  size_t sub[MAX_STEPS];

  while (*n >= 2) {
    size_t chunk = (*n + gran - 1) / gran, start, k, m;
    bool reduced = false;

    /* Try each chunk alone, then each complement. */
    for (start = 0; start < *n && !reduced; start += chunk) {
      size_t end = start + chunk < *n ? start + chunk : *n;

      m = 0;
      for (k = start; k < end; ++k)
        sub[m++] = idx[k];
      if (m < *n && shrink_test (sh, sub, m)) {
        memcpy (idx, sub, m * sizeof *idx);
        *n = m;
        gran = 2;
        reduced = true;
      }
    }
    for (start = 0; start < *n && !reduced && gran > 2; start += chunk) {
      size_t end = start + chunk < *n ? start + chunk : *n;

      m = 0;
      for (k = 0; k < *n; ++k)
        if (k < start || k >= end)
          sub[m++] = idx[k];
      if (m > 0 && shrink_test (sh, sub, m)) {
        memcpy (idx, sub, m * sizeof *idx);
        *n = m;
        gran = gran > 3 ? gran - 1 : 2;
        reduced = true;
      }
    }
    if (reduced)
      continue;
    if (gran >= *n)
      break;
    gran = gran * 2 < *n ? gran * 2 : *n;
    if (sh->runs >= MAX_SHRINK_RUNS)
      break;
  }
}

/* --- reporting ---------------------------------------------------------- */

struct note_kind {
  char rule[32];
  unsigned long count;
  unsigned examples;
};

struct vio_kind {
  char prop[16], rule[32];
  unsigned long count, first;
  size_t shrunk_steps;
};

/* What random_run counts over all the sequences. */
struct tally {
  struct note_kind nk[MAX_NOTE_KINDS];  /* notes, by rule */
  size_t nnk;
  struct note_kind dk[MAX_NOTE_KINDS];  /* deviations, by rule */
  size_t ndk;
  struct vio_kind vk[MAX_NOTE_KINDS];   /* violations, by kind */
  size_t nvk;
  unsigned long violations, notes, deviations, steps;
  unsigned long skipped;        /* sequences of which no step ran */
  unsigned long errors;         /* sequences the harness could not run */
  bool wrote_reproducer;
};

/* Count and show notes ("note RULE: ..." lines) or deviations
 * ("deviation RULE: ..."), as kind says.
 */
static void
tally_notes (const char *notes, const char *kind, unsigned long i,
             struct note_kind *nk, size_t *nnk, unsigned long *total)
{
  const char *p = notes;
  const size_t klen = strlen (kind);

  while (p && *p) {
    const char *eol = strchr (p, '\n');
    size_t len = eol ? (size_t) (eol - p) : strlen (p);
    char rule[32];
    size_t k;

    if (len > klen + 1 && strncmp (p, kind, klen) == 0 && p[klen] == ' ' &&
        sscanf (p + klen + 1, "%31[^:]", rule) == 1) {
      (*total)++;
      for (k = 0; k < *nnk; ++k)
        if (strcmp (nk[k].rule, rule) == 0)
          break;
      if (k == *nnk && *nnk < MAX_NOTE_KINDS) {
        memset (&nk[k], 0, sizeof nk[k]);
        snprintf (nk[k].rule, sizeof nk[k].rule, "%s", rule);
        (*nnk)++;
      }
      if (k < *nnk) {
        nk[k].count++;
        if (nk[k].examples < NOTE_EXAMPLES) {
          nk[k].examples++;
          tap_diag ("sequence %lu: %.*s", i, (int) len, p);
        }
      }
    }
    p = eol ? eol + 1 : NULL;
  }
}

static int
write_file (const char *path, const char *text, struct error *err)
{
  FILE *fp = fopen (path, "w");

  if (fp == NULL)
    return error_set (err, "%s: %s", path, strerror (errno));
  fputs (text, fp);
  if (fclose (fp) == EOF)
    return error_set (err, "%s: %s", path, strerror (errno));
  return 0;
}

/* The kind (property and rule) of a violation, counted in t; NULL if
 * this is the first of its kind (then a new kind is added, if there is
 * room, and *first says where: t->nvk if there was none).
 */
static struct vio_kind *
violation_kind (struct tally *t, const char *prop, const char *rule,
                unsigned long i, size_t *first)
{
  size_t k;

  for (k = 0; k < t->nvk; ++k)
    if (strcmp (t->vk[k].prop, prop) == 0 &&
        strcmp (t->vk[k].rule, rule) == 0) {
      t->vk[k].count++;
      return &t->vk[k];
    }
  *first = t->nvk;
  if (t->nvk < MAX_NOTE_KINDS) {
    struct vio_kind *v = &t->vk[t->nvk++];

    memset (v, 0, sizeof *v);
    snprintf (v->prop, sizeof v->prop, "%s", prop);
    snprintf (v->rule, sizeof v->rule, "%s", rule);
    v->count = 1;
    v->first = i;
  }
  return NULL;
}

/* The first violation of a kind: show the sequence and the server's
 * replies, shrink it, show the reproducer and (the first time, with
 * --reproducer) write it out.  Returns the steps it was shrunk to.
 */
static size_t
report_first_violation (const struct probe_cfg *cfg,
                        const struct random_opts *o, unsigned long i,
                        const struct seq *q, const char *text,
                        const struct scenario_result *res, const char *rule,
                        struct tally *t)
{
  struct shrink sh;
  size_t idx[MAX_STEPS], n, m;
  bool keep[MAX_STEPS] = { false };
  struct sbuf head = { 0 };
  struct error err;
  char *repro;

  tap_diag ("seed %" PRIu64 ", sequence %lu (regenerate it with "
            "--random %lu --seed %" PRIu64 "):", o->seed, i, i, o->seed);
  tap_diag_text (2, text);
  tap_diag_text (0, res->reason.s);
  tap_diag ("the server's replies (trace, mode %s):", mode_name (cfg->mode));
  tap_diag_text (2, res->trace.s);

  for (n = 0; n < q->n; ++n)
    idx[n] = n;
  memset (&sh, 0, sizeof sh);
  sh.cfg = cfg;
  sh.q = q;
  sh.seed = o->seed;
  sh.i = i;
  sh.prop = res->prop;
  sh.rule = res->rule;
  if (o->shrink)
    ddmin (&sh, idx, &n);
  for (m = 0; m < n; ++m)
    keep[idx[m]] = true;
  sbuf_printf (&head, "# nbd-probe --random reproducer: --seed %"
               PRIu64 ", sequence %lu, %zu of %zu steps after %u "
               "shrinking runs\n# %s violation [%s]\n# replay: "
               "nbd-probe --unix SOCKET [--tls-psk FILE]%s --script "
               "THIS-FILE\n", o->seed, i, n, q->n, sh.runs, res->prop, rule,
               cfg->tls_only_export ? " --tls-only-export NAME" : "");
  repro = script_of (q, keep, o->seed, i, head.s);
  tap_diag ("shrunk reproducer (%zu steps, %u shrinking runs; replay "
            "with --script FILE):", n, sh.runs);
  tap_diag_text (2, repro);
  if (o->reproducer && !t->wrote_reproducer) {
    if (write_file (o->reproducer, repro, &err) == 0)
      tap_diag ("reproducer written to %s", o->reproducer);
    else
      fprintf (stderr, "%s: %s\n", error_progname, err.msg);
    t->wrote_reproducer = true;
  }
  sbuf_free (&head);
  free (repro);
  return n;
}

/* Run sequence i and print its TAP line and diagnostics. */
static void
run_sequence (const struct probe_cfg *cfg, const struct random_opts *o,
              unsigned long i, struct tally *t)
{
  struct seq q;
  struct scenario_result res;
  char *text, name[64];
  unsigned judged;

  generate (o->seed, i, o->max_steps, cfg->tls_only_export != NULL, &q);
  text = script_of (&q, NULL, o->seed, i, NULL);
  snprintf (name, sizeof name, "sequence-%lu", i);
  run_script (cfg, name, text, &res);
  judged = res.njudged;         /* "judge" steps run */
  t->steps += judged;
  if (judged == 0)
    t->skipped++;

  if (res.res == RES_OK || res.res == RES_SKIP) {
    tap_result (true, i, TAP_NO_DIRECTIVE, NULL, "sequence %lu (%zu steps, "
                "%u run)", i, q.n, judged);
    tally_notes (res.notes.s, "deviation", i, t->dk, &t->ndk,
                 &t->deviations);
    tally_notes (res.notes.s, "note", i, t->nk, &t->nnk, &t->notes);
  }
  else if (res.prop == NULL) {
    /* Not a verdict on the server: the harness could not run it. */
    t->errors++;
    tap_result (false, i, TAP_NO_DIRECTIVE, NULL, "sequence %lu (%zu "
                "steps): error, not a verdict", i, q.n);
    tap_diag_text (2, text);
    tap_diag_text (0, res.reason.s);
  }
  else {
    const char *rule = res.rule ? res.rule : "-";
    const struct vio_kind *v;
    size_t first = 0, shrunk;

    t->violations++;
    v = violation_kind (t, res.prop, rule, i, &first);
    tap_result (false, i, TAP_NO_DIRECTIVE, NULL, "sequence %lu (%zu "
                "steps): %s violation [%s]", i, q.n, res.prop, rule);
    if (v) {
      tap_diag ("the same kind as sequence %lu; reproduce with --random "
                "%lu --seed %" PRIu64 " (see sequence %lu for the shrunk "
                "reproducer)", v->first, i, o->seed, v->first);
      tap_diag_text (2, res.reason.s);
    }
    else {
      shrunk = report_first_violation (cfg, o, i, &q, text, &res, rule, t);
      if (first < t->nvk)
        t->vk[first].shrunk_steps = shrunk;
    }
  }
  tap_flush ();
  scenario_result_free (&res);
  free (text);
  seq_free (&q);
}

static void
print_summary (const struct random_opts *o, const struct tally *t,
               double dt)
{
  size_t k;

  if (t->deviations > 0) {
    tap_diag ("deviations (refusals the spec requires, but not with the "
              "reply code it names; violations only with --strict):");
    for (k = 0; k < t->ndk; ++k)
      tap_diag ("  %-14s %lu", t->dk[k].rule, t->dk[k].count);
  }
  if (t->notes > 0) {
    tap_diag ("notes (allowed answers that refuse more than the spec "
              "requires, or ignore a SHOULD; violations only with "
              "--strict):");
    for (k = 0; k < t->nnk; ++k)
      tap_diag ("  %-14s %lu", t->nk[k].rule, t->nk[k].count);
  }
  for (k = 0; k < t->nvk; ++k)
    tap_diag ("violation kind %s [%s]: %lu sequence(s), first sequence %lu, "
              "shrunk to %zu steps", t->vk[k].prop, t->vk[k].rule,
              t->vk[k].count, t->vk[k].first, t->vk[k].shrunk_steps);
  tap_diag ("summary: seed %" PRIu64 ", %lu sequences, %lu steps run, %lu "
            "violations, %lu deviations, %lu notes, %.1f s, %.1f "
            "sequences/s", o->seed, o->n, t->steps, t->violations,
            t->deviations, t->notes, dt, dt > 0 ? o->n / dt : 0.0);
  if (t->errors)
    tap_diag ("errors: %lu sequence(s) could not be run (see above); "
              "they are not verdicts on the server", t->errors);
  if (t->skipped == o->n && o->n > 0)
    tap_diag ("warning: no step of any sequence ran");
}

int
random_run (const struct probe_cfg *cfg, const struct random_opts *o)
{
  struct tally t;
  unsigned long i;
  double t0 = monotime_s ();

  memset (&t, 0, sizeof t);
  tap_plan (o->n);
  tap_diag ("random: --seed %" PRIu64 ", %lu sequences of at most %u steps, "
            "server mode %s%s", o->seed, o->n, o->max_steps,
            mode_name (cfg->mode), cfg->strict ? ", --strict" : "");
  if (cfg->tls_only_export)
    tap_diag ("random: TLS-only export \"%s\" ($TLSONLY, property P5)",
              cfg->tls_only_export);
  tap_flush ();

  for (i = 1; i <= o->n; ++i)
    run_sequence (cfg, o, i, &t);

  print_summary (o, &t, monotime_s () - t0);
  tap_flush ();
  return t.violations || t.errors ? 1 : 0;
}
