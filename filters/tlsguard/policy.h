/* tlsguard: epoch state and policy decisions.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Pure C: no nbdkit headers.  Everything tlsguard decides is decided
 * here, so that it can be unit tested without a server.
 */

#ifndef TLSGUARD_POLICY_H
#define TLSGUARD_POLICY_H

#include <stdbool.h>

/* What to do with block status on an export negotiated without TLS
 * (the tlsguard-extents= parameter).
 */
enum tg_extents_policy {
  TG_EXTENTS_DENY = 0,          /* fail .extents with EINVAL (default) */
  TG_EXTENTS_HIDE,              /* report can_extents false */
  TG_EXTENTS_ALLOW,             /* pass through, with an audit line */
};

/* Parse "deny", "hide" or "allow".  Returns 0 and sets *ret, or -1 if
 * the string is none of those (including empty).
 */
extern int tg_parse_extents_policy (const char *str,
                                    enum tg_extents_policy *ret);
extern const char *tg_extents_policy_name (enum tg_extents_policy p);

/* The negotiation callbacks a filter sees.  nbdkit's core handles
 * every NBD option itself; these are the only traces of negotiation
 * that reach a filter, each with the is_tls flag of the moment.
 */
enum tg_event {
  TG_EV_LIST_EXPORTS = 0,       /* .list_exports (NBD_OPT_LIST) */
  TG_EV_DEFAULT_EXPORT,         /* .default_export (empty export name) */
  TG_EV_OPEN,                   /* .open (NBD_OPT_INFO, _GO, _EXPORT_NAME) */
  TG_EV_COUNT
};
extern const char *tg_event_name (enum tg_event ev);

/* What was recorded in one TLS epoch of a connection. */
struct tg_epoch {
  unsigned calls[TG_EV_COUNT];  /* callbacks seen, by event */
  const char *last_export;      /* plaintext epoch: export of the last
                                   open, not owned; the TLS epoch keeps
                                   none (it is never dropped) */
};

/* The per-connection record.  One epoch is live at a time: the
 * plaintext epoch until the first callback with is_tls set, then the
 * TLS epoch until the connection ends.
 */
struct tg_conn {
  bool started;                 /* tg_conn_start has run */
  bool tls;                     /* the live epoch is the TLS epoch */
  bool upgraded;                /* a plaintext epoch was dropped */
  struct tg_epoch cur;          /* what the live epoch recorded */
};

/* Start (or restart) a connection: drop everything. */
extern void tg_conn_start (struct tg_conn *c);

enum tg_transition {
  TG_SAME_EPOCH = 0,            /* recorded in the live epoch */
  TG_UPGRADE,                   /* plaintext epoch dropped, TLS epoch begun */
  TG_DOWNGRADE,                 /* is_tls=0 after TLS: refuse, record nothing */
};
extern const char *tg_transition_name (enum tg_transition t);

/* Record one negotiation callback.  On TG_UPGRADE, *dropped (if not
 * NULL) receives a copy of what the plaintext epoch had recorded, so
 * that the caller can log it; the connection itself keeps nothing of
 * it.  On TG_DOWNGRADE nothing is recorded and the caller must fail
 * the callback.  A connection that was never started is started here.
 */
extern enum tg_transition tg_conn_observe (struct tg_conn *c,
                                           enum tg_event ev, bool is_tls,
                                           const char *exportname,
                                           struct tg_epoch *dropped);

/* What to do with block status on one handle. */
enum tg_action {
  TG_PASS = 0,                  /* negotiated over TLS: pass through */
  TG_DENY,                      /* fail with EINVAL */
  TG_HIDE,                      /* all data: can_extents is false */
  TG_AUDIT,                     /* pass through and log it */
};
extern const char *tg_action_name (enum tg_action a);

/* Decide, once per open, from the policy and the epoch in which the
 * export was negotiated.
 */
extern enum tg_action tg_decide (enum tg_extents_policy p, bool is_tls);

/* What .can_extents returns for a handle: -1 means "ask the next
 * layer", otherwise the value to return.  Under deny the filter
 * claims extents support on plaintext handles so that every block
 * status request reaches it and is refused, whatever the plugin.
 */
extern int tg_can_extents (enum tg_action a);

#endif /* TLSGUARD_POLICY_H */
