/* tlsguard test harness: the command line the tools share.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * A tool says what it is in a struct cli_tool and describes its options
 * in a table (struct cli_option); cli_parse runs getopt_long over the
 * table.  What every tool spells the same
 * way cli_parse handles itself, into a struct cli_common:
 *
 *   --tls-psk FILE, --tls-username NAME, --tls-certs DIR
 *                  the TLS credentials (a struct tport_creds_cfg, for
 *                  tport_creds_new or for libnbd's setters);
 *   -v, --verbose  counted;
 *   --help         always there: prints the help made from the table on
 *                  stdout and exits 0, so that it lists exactly the
 *                  options the tool takes.
 *
 * The tool's handler gets the others.  The table also says which
 * options are required, repeatable or alternatives to each other
 * (flags below): from that cli_parse makes the usage synopsis and
 * checks that the required ones were given.  A bad argument prints
 * "PROG: WHY" (getopt's message, the handler's as "PROG: --OPTION: WHY",
 * or "--OPTION is required", "give exactly one of --A and --B"), then
 * "PROG: bad arguments (try --help)", on stderr, and exits with the
 * tool's error status.
 */

#ifndef TLSGUARD_CLI_H
#define TLSGUARD_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "transport.h"

/* Keys of the shared options (the tools' own keys are >= 0). */
enum {
  CLI_KEY_TLS_PSK = -2,
  CLI_KEY_TLS_USERNAME = -3,
  CLI_KEY_TLS_CERTS = -4,
  CLI_KEY_VERBOSE = -5,
};

/* struct cli_option's flags, and how the synopsis shows them: an
 * option is "[--a X]", a required one "--a X", a group of alternatives
 * "[--a X | --b Y]" or, required, "(--a X | --b Y)", with "..." after
 * a repeatable one.  The TLS options are one item, "[--tls-psk FILE
 * [--tls-username NAME] | --tls-certs DIR]" with what the tool has of
 * them, in parentheses (or bare) when it sets tls_required.
 */
enum {
  CLI_REQUIRED = 1,             /* must be given: it, or with CLI_OR
                                 * exactly one of its group */
  CLI_OR = 2,                   /* it and the next option are
                                 * alternatives (one group) */
  CLI_REPEAT = 4,               /* may be given more than once */
};

struct cli_option {
  const char *name;             /* long name, without "--" */
  int key;                      /* what the handler gets; a letter also
                                 * makes it a short option (-x) */
  const char *arg;              /* its argument in the help ("N"), NULL
                                 * for none; "=A|B" prints --name=A|B */
  const char *help;             /* "\n" starts a continuation line */
  void (*more_help) (FILE *fp); /* prints more lines after help, or NULL */
  unsigned flags;               /* CLI_REQUIRED | CLI_OR | CLI_REPEAT; for
                                 * a group, on its first option */
};

/* The shared options, with the help text the tool gives them.  List
 * them where they go in the help.
 */
#define CLI_OPT_TLS_PSK(help) \
  { "tls-psk", CLI_KEY_TLS_PSK, "FILE", help, NULL, 0 }
#define CLI_OPT_TLS_USERNAME(help) \
  { "tls-username", CLI_KEY_TLS_USERNAME, "NAME", help, NULL, 0 }
#define CLI_OPT_TLS_CERTS(help) \
  { "tls-certs", CLI_KEY_TLS_CERTS, "DIR", help, NULL, 0 }
#define CLI_OPT_VERBOSE(help) \
  { "verbose", CLI_KEY_VERBOSE, NULL, help, NULL, 0 }

/* A tool's own handler of its options: key is the option's key, arg
 * its argument (NULL for a flag).  Returns 0, or -1 with why in err.
 */
typedef int cli_handler (int key, const char *arg, void *opaque,
                         struct error *err);

/* What the tool is: every message names it and --help says what it
 * does.  Bad arguments, and credentials that do not load, exit with
 * status 2, the harness's "could not run" status (error.h), as
 * nbd-probe does.
 */
struct cli_tool {
  const char *name;             /* the program, for every message */
  bool tls_required;            /* one of its TLS options must be given */
  /* For a tool that takes arguments after the options: its "usage: ..."
   * lines, each ending in \n.  NULL: it takes none, and --help makes the
   * synopsis from the option table.
   */
  const char *synopsis;
  const char *about;            /* what it does, lines each ending in \n,
                                 * or NULL */
};

struct cli_common {
  struct tport_creds_cfg tls;   /* psk_username defaults to "qemu" */
  int verbose;                  /* how many -v */
};

/* Parse argv with the tool's options (a table that ends with
 * { NULL }) and its handler of them, which gets opaque; sets
 * error_progname.  Returns the index of the first operand (argc if
 * none).  With neither of the tool's --tls-psk and --tls-certs given,
 * c->tls has both NULL; giving both is a usage error.
 */
extern int cli_parse (const struct cli_tool *tool,
                      const struct cli_option *options, cli_handler *handle,
                      int argc, char **argv, void *opaque,
                      struct cli_common *c);

/* Print "PROG: MESSAGE" and the "try --help" line, and exit with the
 * tool's error status.
 */
extern void cli_usage_error (const struct cli_tool *tool,
                             const char *fmt, ...)
  __attribute__ ((noreturn, format (printf, 2, 3)));

/* One entry of a help list: label (with its indentation), then help
 * from column 24, on the next line if the label is too long; "\n" in
 * help starts a continuation line.  For more_help functions.
 */
extern void cli_help_item (FILE *fp, const char *label, const char *help);

/* Numbers for handlers: a whole number (decimal, 0x hex or 0 octal)
 * or a decimal fraction from min to max.  Return 0, or -1 with why in
 * err.
 */
extern int cli_uint (const char *arg, uint64_t min, uint64_t max,
                     uint64_t *v, struct error *err);
extern int cli_double (const char *arg, double min, double max,
                       double *v, struct error *err);
/* The same into an unsigned. */
extern int cli_unsigned (const char *arg, unsigned min, unsigned max,
                         unsigned *v, struct error *err);
/* Which of n names arg is: names points to the first, and the others
 * follow every stride bytes (an array of strings, or &table[0].name in
 * an array of structs).  Returns the index, or -1 with "unknown WHAT
 * 'ARG'" in err.
 */
extern int cli_choice (const char *arg, const char *const *names, size_t n,
                       size_t stride, const char *what, struct error *err);

/* The exit status for bad arguments and unusable credentials. */
#define CLI_EXIT_USAGE 2

/* tport_creds_new for role, or print "PROG: cannot load TLS credentials
 * for the ROLE role: WHY" and exit with the tool's error status.  In
 * libtransport (the others are in libharness).
 */
extern struct tport_creds *cli_creds (const struct cli_tool *tool,
                                      const struct tport_creds_cfg *tls,
                                      enum tport_role role);

#endif /* TLSGUARD_CLI_H */
