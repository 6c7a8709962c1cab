/* tlsguard test harness: the scenario language's keywords.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * This table is the language: the parser looks each line's keyword up
 * here, runs its parse function and keeps its exec function in the
 * step; --help prints the synopses and help lines.  Each synopsis is
 * also the title of the keyword's entry in scenarios/README (the
 * reference, put into nbd-probe(1) by gen-man.sh), and
 * tests/test-scenario-doc.sh checks that the two list the same
 * keywords with the same synopses.
 */

#include <config.h>

#include <stdio.h>
#include <string.h>

#include "scenario-int.h"

const struct keyword scenario_keywords[] = {
  /* Directives. */
  { "name", parse_name, NULL, "name NAME",
    "the scenario name (default: the file name)" },
  { "description", parse_description, NULL, "description TEXT...",
    "one line for --list -v" },
  { "require tls-only-export", parse_require_tls_only, NULL,
    "require tls-only-export", "skip unless --tls-only-export was given" },
  { "require", parse_require, NULL, "require MODE",
    "skip unless the server is in MODE" },
  { "report-only", parse_report_only, NULL, "report-only",
    "always ok; the result goes on a \"# observed\" line" },

  /* Steps: the option phase. */
  { "when", parse_when, NULL, "when MODE STEP",
    "run STEP only if the server is in MODE" },
  { "starttls", parse_none, exec_starttls, "starttls",
    "STARTTLS, require ACK, TLS handshake" },
  { "handshake", parse_none, exec_handshake, "handshake",
    "the TLS handshake after \"expect reply ACK\"" },
  { "option", parse_option, exec_option,
    "option NAME [export=S] [query=S]... [info=NAME]... [payload=HEX] [len=N]",
    "send an option (NAME or a number)" },
  { "send-raw", parse_send_raw, exec_send_raw, "send-raw HEX...",
    "send raw bytes" },
  { "write-together", parse_write_together, exec_write_together,
    "write-together STEP ; STEP ...",
    "option and send-raw steps in one write" },
  { "go", parse_go_info, exec_go_info, "go [export=S] [info=NAME]...",
    "NBD_OPT_GO: INFO replies with EXPORT, then ACK" },
  { "info", parse_go_info, exec_go_info, "info [export=S] [info=NAME]...",
    "NBD_OPT_INFO: INFO replies with EXPORT, then ACK" },
  { "expect reply", parse_expect_reply, exec_expect_reply,
    "expect reply TYPE[|TYPE...] [name=S]",
    "the next option reply is one of these types" },
  { "expect error", parse_expect_reply, exec_expect_reply,
    "expect error ERR[|ERR...]",
    "the next option reply is one of these errors" },
  { "expect replies", parse_expect_replies, exec_expect_replies,
    "expect replies TYPE [min=N] [max=N]",
    "count the replies of TYPE that come" },
  { "skip-if error", parse_skip_if, exec_skip_if,
    "skip-if error ERR[|ERR...] REASON...",
    "skip if the next reply is one of these errors" },
  { "expect closed", parse_none, exec_expect_closed, "expect closed",
    "the server closes the connection" },
  { "expect closed-or-handshake-failure", parse_none,
    exec_expect_closed_or_handshake_failure,
    "expect closed-or-handshake-failure",
    "the TLS handshake fails or the server closes" },

  /* Steps: transmission. */
  { "cmd", parse_cmd, exec_cmd,
    "cmd NAME [offset=N] [length=N] [flags=F[|F...]]",
    "send a request (READ, BLOCK_STATUS, ...)" },
  { "expect cmd-ok", parse_none, exec_expect_cmd_ok, "expect cmd-ok",
    "the reply has no error" },
  { "expect cmd-error", parse_expect_cmd_error, exec_expect_cmd_error,
    "expect cmd-error [ERRNO[|ERRNO...]]",
    "the reply is an error (any, or one of these)" },
  { "expect cmd-refused", parse_expect_cmd_error, exec_expect_cmd_error,
    "expect cmd-refused ERRNO[|ERRNO...]",
    "cmd-error, or a hard disconnect (a note)" },
  { "expect simple-reply", parse_none, exec_expect_simple_reply,
    "expect simple-reply", "the reply is a simple reply" },
  { "expect structured-reply", parse_none, exec_expect_structured_reply,
    "expect structured-reply", "the reply is structured" },
  { "expect extents", parse_expect_extents, exec_expect_extents,
    "expect extents [MAP]", "a block status chunk (MAP: OFF:LEN:FLAGS,...)" },
  { "expect no-extents", parse_none, exec_expect_no_extents,
    "expect no-extents", "no block status chunk" },
  { "observe blockstatus", parse_none, exec_observe,
    "observe blockstatus", "report the reply on \"# observed\"" },

  /* Steps checked by the spec model. */
  { "judge", parse_judge, exec_judge,
    "judge OPTION [export=S] [query=S]... [info=NAME]... [payload=HEX] "
    "[inject=OPTION]\n"
    "judge READ|BLOCK_STATUS [offset=N] [length=N] [flags=F[|F...]]",
    "send, read the whole answer, judge it by the spec\n"
    "model (no other steps in the same script)" },

  /* Hidden: the first word of a step that needs a second one. */
  { "expect", parse_usage, NULL, NULL, "expect WHAT ..." },
  { "skip-if", parse_usage, NULL, NULL,
    "skip-if error ERR[|ERR] REASON..." },
  { "observe", parse_usage, NULL, NULL, "observe blockstatus" },
};
const size_t n_scenario_keywords =
  sizeof scenario_keywords / sizeof scenario_keywords[0];

/* The keyword that w starts with (two-word names first); *nwords is
 * how many words it took.  NULL if none.
 */
const struct keyword *
keyword_find (char **w, size_t nw, size_t *nwords)
{
  const struct keyword *kw;
  size_t n0 = strlen (w[0]);

  for (kw = scenario_keywords; kw < scenario_keywords + n_scenario_keywords;
       ++kw) {
    const char *space = strchr (kw->name, ' ');

    if (space && nw >= 2 && (size_t) (space - kw->name) == n0 &&
        strncmp (kw->name, w[0], n0) == 0 && strcmp (space + 1, w[1]) == 0) {
      *nwords = 2;
      return kw;
    }
  }
  for (kw = scenario_keywords; kw < scenario_keywords + n_scenario_keywords;
       ++kw)
    if (strcmp (kw->name, w[0]) == 0) {
      *nwords = 1;
      return kw;
    }
  return NULL;
}

#define HELP_COLUMN 25

/* Append s, each line indented by indent, the first after col chars. */
static void
add_lines (struct sbuf *b, const char *s, int indent, int col)
{
  while (*s) {
    const char *eol = strchrnul (s, '\n');

    sbuf_printf (b, "%*s%.*s\n", indent - col, "", (int) (eol - s), s);
    col = 0;
    s = *eol ? eol + 1 : eol;
  }
}

void
scenario_language_help (FILE *fp)
{
  struct sbuf b = { 0 };
  const struct keyword *kw;

  sbuf_add (&b, "Scenario language (one step per line; the reference is in "
            "nbd-probe(1)\nand scenarios/README):\n");
  for (kw = scenario_keywords; kw < scenario_keywords + n_scenario_keywords;
       ++kw) {
    const char *line = kw->synopsis, *eol;

    if (line == NULL)
      continue;
    /* Each form on its own line, the help after the last one. */
    while (*(eol = strchrnul (line, '\n'))) {
      sbuf_printf (&b, "  %.*s\n", (int) (eol - line), line);
      line = eol + 1;
    }
    sbuf_printf (&b, "  %s", line);
    if (2 + strlen (line) > HELP_COLUMN - 2) {
      sbuf_add (&b, "\n");
      add_lines (&b, kw->help, HELP_COLUMN, 0);
    }
    else
      add_lines (&b, kw->help, HELP_COLUMN, 2 + strlen (line));
  }
  sbuf_add (&b, "  MODE: selectivetls forcedtls notls tls, or !MODE\n"
            "  variables: $EXPORT $EXPORT2 $CONTEXT $SIZE $MODE $TLSONLY\n");
  fputs (b.s, fp);
  sbuf_free (&b);
}
