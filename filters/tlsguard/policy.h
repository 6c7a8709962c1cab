/* tlsguard: epoch state and policy decisions.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Pure C: no nbdkit headers.  Everything tlsguard decides is decided
 * here, so that it can be unit tested without a server.
 */

#ifndef TLSGUARD_POLICY_H
#define TLSGUARD_POLICY_H

#include <stdbool.h>
#include <stddef.h>

/* What to do with block status on an export negotiated without TLS
 * (the tlsguard-extents= parameter).
 */
enum tg_extents_policy {
  TG_EXTENTS_DENY = 0,          /* fail .extents with EINVAL (default) */
  TG_EXTENTS_HIDE,              /* answer all data from the filter */
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

/* TLS-only exports (the tlsguard-tls-only= parameter, repeatable):
 * fnmatch(3) globs, each matched against the whole export name with
 * no flags, so '*' also matches '/' and a leading '.'.  A glob matches
 * the empty name only if it is made of '*' alone, and then it matches
 * every name.
 */
struct tg_tls_only {
  char **patterns;              /* owned copies */
  size_t n;
};

/* Add a pattern (copied).  Returns 0, or -1 with errno set: EINVAL for
 * an empty pattern, ENOMEM.
 */
extern int tg_tls_only_add (struct tg_tls_only *t, const char *pattern);

/* The first pattern that matches the whole of exportname, or NULL if
 * none does (always NULL with no patterns).
 */
extern const char *tg_tls_only_match (const struct tg_tls_only *t,
                                      const char *exportname);

extern void tg_tls_only_free (struct tg_tls_only *t);

/* Whether .list_exports shows an export to a client: everything over
 * TLS; in plaintext, only exports that match no TLS-only pattern.
 */
extern bool tg_list_shows (const struct tg_tls_only *t, bool is_tls,
                           const char *exportname);

/* What to do with one open, and then with block status on its handle. */
enum tg_action {
  TG_PASS = 0,                  /* negotiated over TLS: pass through */
  TG_DENY,                      /* fail with EINVAL */
  TG_HIDE,                      /* answer all data (and count it) */
  TG_AUDIT,                     /* pass through and log it */
  TG_REFUSE_TLS_ONLY,           /* a TLS-only export in plaintext: the
                                   open itself fails */
};
extern const char *tg_action_name (enum tg_action a);

/* Decide, once per open, from the policy, the epoch in which the
 * export was negotiated and whether the export is TLS-only (matched a
 * tlsguard-tls-only pattern).  A TLS-only export in plaintext is
 * refused whatever the block status policy; over TLS every export
 * passes.
 */
extern enum tg_action tg_decide (enum tg_extents_policy p, bool is_tls,
                                 bool tls_only);

/* What .can_extents returns for a handle: -1 means "ask the next
 * layer", otherwise the value to return.  Under deny the filter
 * claims extents support on plaintext handles so that every block
 * status request reaches it and is refused, whatever the plugin; under
 * hide likewise, so that the filter answers (all data) and counts it.
 */
extern int tg_can_extents (enum tg_action a);

#endif /* TLSGUARD_POLICY_H */
