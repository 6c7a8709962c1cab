/* tlsguard: epoch state and policy decisions.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 */

#include <config.h>

#include <stdbool.h>
#include <string.h>

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

enum tg_action
tg_decide (enum tg_extents_policy p, bool is_tls)
{
  if (is_tls)
    return TG_PASS;
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
  case TG_HIDE: return 0;
  }
  return 0;
}
