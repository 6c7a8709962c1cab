/* tlsguard: epoch state and policy decisions.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 */

#include <config.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fnmatch.h>

#include "policy.h"

int
tg_parse_extents_policy (const char *str, enum tg_extents_policy *ret)
{
  if (str == NULL)
    return -1;
  if (strcmp (str, "deny") == 0)
    *ret = TG_EXTENTS_DENY;
  else if (strcmp (str, "hide") == 0)
    *ret = TG_EXTENTS_HIDE;
  else if (strcmp (str, "allow") == 0)
    *ret = TG_EXTENTS_ALLOW;
  else
    return -1;
  return 0;
}

const char *
tg_extents_policy_name (enum tg_extents_policy p)
{
  switch (p) {
  case TG_EXTENTS_DENY: return "deny";
  case TG_EXTENTS_HIDE: return "hide";
  case TG_EXTENTS_ALLOW: return "allow";
  }
  return "?";
}

const char *
tg_event_name (enum tg_event ev)
{
  switch (ev) {
  case TG_EV_LIST_EXPORTS: return "list_exports";
  case TG_EV_DEFAULT_EXPORT: return "default_export";
  case TG_EV_OPEN: return "open";
  case TG_EV_COUNT: break;
  }
  return "?";
}

const char *
tg_transition_name (enum tg_transition t)
{
  switch (t) {
  case TG_SAME_EPOCH: return "same epoch";
  case TG_UPGRADE: return "upgrade";
  case TG_DOWNGRADE: return "downgrade";
  }
  return "?";
}

const char *
tg_action_name (enum tg_action a)
{
  switch (a) {
  case TG_PASS: return "pass";
  case TG_DENY: return "deny";
  case TG_HIDE: return "hide";
  case TG_AUDIT: return "audit";
  case TG_REFUSE_TLS_ONLY: return "refuse-tls-only";
  }
  return "?";
}

void
tg_conn_start (struct tg_conn *c)
{
  memset (c, 0, sizeof *c);
  c->started = true;
}

enum tg_transition
tg_conn_observe (struct tg_conn *c, enum tg_event ev, bool is_tls,
                 const char *exportname, struct tg_epoch *dropped)
{
  enum tg_transition t = TG_SAME_EPOCH;

  if (!c->started)
    tg_conn_start (c);

  if (c->tls && !is_tls)
    /* The core never goes back to plaintext.  If it appears to, trust
     * nothing: record nothing and let the caller refuse.
     */
    return TG_DOWNGRADE;

  if (!c->tls && is_tls) {
    bool had_plaintext = false;
    unsigned i;

    for (i = 0; i < TG_EV_COUNT; ++i)
      if (c->cur.calls[i] > 0)
        had_plaintext = true;

    if (dropped)
      *dropped = c->cur;
    memset (&c->cur, 0, sizeof c->cur);
    c->tls = true;
    if (had_plaintext) {
      c->upgraded = true;
      t = TG_UPGRADE;
    }
    /* A first callback that is already over TLS (--tls=require, or a
     * client that starts with STARTTLS) begins the TLS epoch with
     * nothing to drop: that is not an upgrade worth reporting.
     */
  }

  if (ev < TG_EV_COUNT)
    c->cur.calls[ev]++;
  /* Only a plaintext epoch is ever dropped and reported, so only it
   * keeps the export name (the TLS epoch's would never be read).
   */
  if (ev == TG_EV_OPEN && !c->tls)
    c->cur.last_export = exportname;
  return t;
}

int
tg_tls_only_add (struct tg_tls_only *t, const char *pattern)
{
  char **v;
  char *copy;

  if (pattern == NULL || *pattern == '\0') {
    errno = EINVAL;
    return -1;
  }
  copy = strdup (pattern);
  if (copy == NULL)
    return -1;
  v = realloc (t->patterns, (t->n + 1) * sizeof *v);
  if (v == NULL) {
    free (copy);
    return -1;
  }
  v[t->n++] = copy;
  t->patterns = v;
  return 0;
}

const char *
tg_tls_only_match (const struct tg_tls_only *t, const char *exportname)
{
  size_t i;

  if (exportname == NULL)
    exportname = "";
  for (i = 0; i < t->n; ++i)
    if (fnmatch (t->patterns[i], exportname, 0) == 0)
      return t->patterns[i];
  return NULL;
}

void
tg_tls_only_free (struct tg_tls_only *t)
{
  size_t i;

  for (i = 0; i < t->n; ++i)
    free (t->patterns[i]);
  free (t->patterns);
  t->patterns = NULL;
  t->n = 0;
}

bool
tg_list_shows (const struct tg_tls_only *t, bool is_tls,
               const char *exportname)
{
  return is_tls || tg_tls_only_match (t, exportname) == NULL;
}

enum tg_action
tg_decide (enum tg_extents_policy p, bool is_tls, bool tls_only)
{
  if (is_tls)
    return TG_PASS;
  if (tls_only)
    return TG_REFUSE_TLS_ONLY;
  switch (p) {
  case TG_EXTENTS_DENY: return TG_DENY;
  case TG_EXTENTS_HIDE: return TG_HIDE;
  case TG_EXTENTS_ALLOW: return TG_AUDIT;
  }
  return TG_DENY;               /* unknown policy: fail closed */
}

int
tg_can_extents (enum tg_action a)
{
  switch (a) {
  case TG_PASS: return -1;
  case TG_AUDIT: return -1;
  case TG_DENY: return 1;
  case TG_HIDE: return 1;
  case TG_REFUSE_TLS_ONLY: return 0; /* never opened: not reached */
  }
  return 0;
}
