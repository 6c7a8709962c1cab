/* tlsguard test harness: the scenario language's parts (private).
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * A script is parsed once (scenario-parse.c) into typed steps, driven
 * by the keyword table (scenario-keywords.c: every directive and step,
 * its synopsis and its --help line).  Words and variables are
 * scenario-lex.c's; the protocol steps run in scenario-run.c, the
 * "judge" steps and the bridge to the spec model in scenario-judge.c.
 * Variables stay references until the step runs: their values ($SIZE
 * from a GO, the --export options) are only known then.
 */

#ifndef TLSGUARD_PROBE_SCENARIO_INT_H
#define TLSGUARD_PROBE_SCENARIO_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sbuf.h"
#include "wire.h"
#include "scenario.h"
#include "session.h"
#include "model.h"

/* --- words and variables (scenario-lex.c) --------------------------------- */

/* A word as written in the script: text with the variables it names
 * (VAR_* bits) still in it.
 */
struct sword {
  char *text;                   /* NULL: not given */
  unsigned vars;
};

enum {
  VAR_EXPORT = 1, VAR_EXPORT2 = 2, VAR_CONTEXT = 4, VAR_SIZE = 8,
  VAR_MODE = 16, VAR_TLSONLY = 32,
};

/* A number: literal, or a word with $SIZE read when the step runs. */
struct num_arg {
  bool given;
  uint64_t v;
  char *var;                    /* the word, if it names a variable */
};

extern int lex_split (const char *line, char ***wp, size_t *np);
extern void lex_free_words (char **w, size_t nw);
extern char *lex_join (char **w, size_t from, size_t n);
extern int lex_vars (const char *word, unsigned *vars, struct error *err);
extern void sword_set (struct sword *sw, const char *text);
extern void sword_free (struct sword *sw);
extern bool parse_u64 (const char *s, uint64_t *v);
extern uint8_t *parse_hex (const char *s, size_t *len);
extern const char *arg_val (const char *w, const char *key);

/* --- steps -------------------------------------------------------------- */

#define STEP_MAX_INFOS 32
#define STEP_MAX_SET 16

/* option, go, info and judge OPTION: [export=S] [query=S]... [info=I]...
 * [payload=HEX] [len=N].
 */
struct opt_args {
  struct sword export;
  struct sword queries[WIRE_MAX_QUERIES];
  size_t nq;
  uint16_t infos[STEP_MAX_INFOS];
  size_t ninfo;
  uint8_t *payload;
  size_t plen;
  bool has_payload;
  struct num_arg len;
};

/* cmd and judge READ|BLOCK_STATUS: [offset=N] [length=N] [flags=F]. */
struct cmd_args {
  struct num_arg offset;
  struct num_arg length;
  uint16_t flags;
};

struct keyword;

struct step {
  const struct keyword *kw;
  int line;
  char *text;                   /* the line, for diagnostics */
  unsigned when;                /* mode mask; 0: always */
  bool when_not;
  uint32_t code;                /* the option or command */
  bool is_cmd;                  /* judge: code is a command */
  struct opt_args opt;
  struct cmd_args cmd;
  uint32_t set[STEP_MAX_SET];   /* reply types, errors or errnos */
  int nset;
  struct sword str;             /* name=, the extents MAP, the skip REASON */
  struct num_arg min, max;      /* expect replies */
  bool refused;                 /* expect cmd-refused */
  int64_t inject;               /* judge STARTTLS inject=OPTION, or -1 */
  uint8_t *raw;                 /* send-raw */
  size_t rawlen;
  struct step *sub;             /* write-together */
  size_t nsub;
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

extern void step_free (struct step *st);

/* --- the keyword table (scenario-keywords.c) ------------------------------- */

/* The parser's state: the scenario being built and where it is. */
struct scenario_parser {
  struct scenario *sc;
  const char *file;
  int line;
  struct error *err;
};

struct scenario_run;

/* Parse the words after the keyword into st (a directive: into p->sc).
 * Returns -1 with p->err set to "FILE:LINE: message".
 */
typedef int parse_fn (struct scenario_parser *p, struct step *st,
                      char **w, size_t nw);
/* Run a step.  Returns 0, -1 (failed, run->msg set) or 1 (skip the
 * scenario, run->msg is the reason).
 */
typedef int exec_fn (struct scenario_run *run, const struct step *st);

struct keyword {
  const char *name;             /* one word, or two ("expect reply") */
  parse_fn *parse;
  exec_fn *exec;                /* NULL: a directive, "when", or hidden */
  const char *synopsis;         /* as in scenarios/README; NULL: hidden */
  const char *help;             /* one line for --help */
};

extern const struct keyword scenario_keywords[];
extern const size_t n_scenario_keywords;
extern const struct keyword *keyword_find (char **w, size_t nw,
                                           size_t *nwords);

/* Parse functions (scenario-parse.c). */
extern parse_fn parse_name, parse_description, parse_require,
  parse_require_tls_only, parse_report_only, parse_none, parse_when, parse_option,
  parse_send_raw, parse_write_together, parse_go_info, parse_expect_reply,
  parse_expect_replies, parse_skip_if, parse_cmd, parse_expect_cmd_error,
  parse_expect_extents, parse_judge, parse_usage;
extern int parse_error (struct scenario_parser *p, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* --- running (scenario-run.c, scenario-judge.c) ----------------------------- */

struct scenario_run {
  const struct probe_cfg *cfg;
  struct session sess;
  struct sbuf msg;              /* failure or skip message */
  struct scenario_result *res;
  const struct step *step;
  struct model model;           /* the spec model, for "judge" steps */
  char before[512];             /* the model state before the step */
  char badmsg[512];
};

/* An option's arguments with the variables replaced. */
struct opt_values {
  char *export;                 /* NULL: not given */
  char *queries[WIRE_MAX_QUERIES];
  size_t nq;
  uint32_t len;
  bool has_len;
};

extern void run_fail (struct scenario_run *run, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
extern char *run_expand (struct scenario_run *run, const struct sword *sw);
extern int run_number (struct scenario_run *run, const struct num_arg *n,
                       const char *what, uint64_t *v);
extern int run_opt_values (struct scenario_run *run, const struct opt_args *a,
                           struct opt_values *v);
extern void opt_values_free (struct opt_values *v);
extern int run_send_option (struct scenario_run *run, uint32_t opt,
                            const struct opt_args *a,
                            const struct opt_values *v);

extern exec_fn exec_starttls, exec_handshake, exec_option, exec_send_raw,
  exec_write_together, exec_go_info, exec_expect_reply, exec_expect_replies,
  exec_skip_if, exec_expect_closed, exec_expect_closed_or_handshake_failure,
  exec_cmd, exec_expect_cmd_ok, exec_expect_cmd_error,
  exec_expect_simple_reply, exec_expect_structured_reply,
  exec_expect_extents, exec_expect_no_extents, exec_observe, exec_judge;

extern enum model_mode model_mode_of (enum probe_mode m);

#endif /* TLSGUARD_PROBE_SCENARIO_INT_H */
