/* nbdkit-tlsguard-filter: serve block status only on exports
 * negotiated after TLS, and scope per-connection state to the TLS
 * epoch.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * What this filter can and cannot see: nbdkit's core parses every NBD
 * option.  STARTTLS, STRUCTURED_REPLY and SET_META_CONTEXT never reach
 * a filter, and on STARTTLS the core itself drops structured replies
 * and the negotiated meta contexts.  What reaches a filter is
 * .list_exports, .default_export and .open, each with is_tls.  This
 * filter covers the other half of the rule: it records the TLS epoch
 * in which every export was negotiated and refuses (or hides) block
 * status on exports negotiated in plaintext.
 *
 * With tlsguard-tls-only=PATTERN it also makes some exports TLS-only
 * (the spec's SELECTIVETLS mode): in plaintext they are left out of
 * .list_exports and their .open fails before the plugin is asked.
 * The reply code to that failure is chosen by nbdkit's core
 * (NBD_REP_ERR_UNKNOWN for INFO and GO, a disconnect for EXPORT_NAME),
 * not by this filter.
 */

#include <config.h>

#include <stdbool.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netdb.h>
#include <arpa/inet.h>

#include <nbdkit-filter.h>

#include "policy.h"

/* -D tlsguard.verbose=1: trace every negotiation callback and each
 * connection's epoch transitions.
 */
NBDKIT_DLL_PUBLIC int tlsguard_debug_verbose;

static enum tg_extents_policy extents_policy = TG_EXTENTS_DENY;
static bool extents_policy_set;

/* tlsguard-tls-only= patterns, set during config and read-only after. */
static struct tg_tls_only tls_only;

/* The connection record.  Negotiation callbacks run on the
 * connection's own thread, one connection per thread, so the record
 * is thread-local: it is never shared, needs no lock and is released
 * with the thread.  .preconnect starts it for every new connection.
 *
 * initial-exec: the record (32 bytes) lives in the static TLS that
 * glibc keeps spare for modules loaded with dlopen, so a new
 * connection thread gets it with its stack and every access is a
 * plain load.  The default model for a shared object goes through
 * __tls_get_addr and mallocs the block on each thread's first access:
 * one allocation per connection, TLS or not.
 */
static __thread struct tg_conn conn
  __attribute__ ((tls_model ("initial-exec")));

/* Handles allocated and not yet freed, over all connections.  Touched
 * only in .open and .close (never on the data path); reported at
 * unload so that tests can prove every handle is freed, including
 * when clients vanish in the middle of negotiation.
 */
static uint64_t handles_live;

/* One handle per .open (NBD_OPT_INFO, _GO or _EXPORT_NAME) that does
 * not simply pass block status through.
 */
struct handle {
  enum tg_action action;        /* decided once, at open */
  bool audited;                 /* the allow audit line was written */
  const char *exportname;       /* interned by nbdkit */
};

/* Every open decided TG_PASS (those negotiated over TLS) shares this
 * one: such a handle is never changed and never logs its export, so
 * it needs no state of its own and no allocation.
 */
static struct handle pass_handle = { .action = TG_PASS };

static int
tlsguard_config (nbdkit_next_config *next, nbdkit_backend *nxdata,
                 const char *key, const char *value)
{
  if (strcmp (key, "tlsguard-extents") == 0) {
    if (extents_policy_set) {
      nbdkit_error ("tlsguard: tlsguard-extents: given more than once");
      return -1;
    }
    if (tg_parse_extents_policy (value, &extents_policy) == -1) {
      nbdkit_error ("tlsguard: tlsguard-extents: "
                    "expecting deny, hide or allow, got '%s'", value);
      return -1;
    }
    extents_policy_set = true;
    return 0;
  }
  if (strcmp (key, "tlsguard-tls-only") == 0) {
    if (tg_tls_only_add (&tls_only, value) == -1) {
      if (errno == EINVAL)
        nbdkit_error ("tlsguard: tlsguard-tls-only: "
                      "expecting a non-empty export name pattern");
      else
        nbdkit_error ("tlsguard: tlsguard-tls-only: %m");
      return -1;
    }
    return 0;
  }
  return next (nxdata, key, value);
}

#define tlsguard_config_help \
  "tlsguard-extents=deny|hide|allow  Block status on plaintext exports (default: deny).\n" \
  "tlsguard-tls-only=PATTERN         Exports (glob) plaintext clients cannot list or open; repeatable."

/* Format the peer address into buf, without allocating. */
static const char *
peer_string (char *buf, size_t len)
{
  struct sockaddr_storage ss;
  socklen_t slen = sizeof ss;
  char host[INET6_ADDRSTRLEN], serv[8];

  memset (&ss, 0, sizeof ss);
  if (nbdkit_peer_name ((struct sockaddr *) &ss, &slen) == -1) {
    snprintf (buf, len, "unknown peer");
    return buf;
  }
  switch (ss.ss_family) {
  case AF_UNIX: {
    int64_t pid = nbdkit_peer_pid ();
    if (pid > 0)
      snprintf (buf, len, "unix socket (pid %" PRIi64 ")", pid);
    else
      snprintf (buf, len, "unix socket");
    break;
  }
  case AF_INET:
  case AF_INET6:
    if (getnameinfo ((struct sockaddr *) &ss, slen, host, sizeof host,
                     serv, sizeof serv,
                     NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
      if (ss.ss_family == AF_INET6)
        snprintf (buf, len, "[%s]:%s", host, serv);
      else
        snprintf (buf, len, "%s:%s", host, serv);
      break;
    }
    /* fallthrough */
  default:
    snprintf (buf, len, "peer of address family %d", (int) ss.ss_family);
  }
  return buf;
}

/* Record a negotiation callback in the connection's epoch.  Returns
 * -1 (with an error set) if the callback must be refused.
 */
static int
observe (enum tg_event ev, int is_tls, const char *exportname)
{
  struct tg_epoch dropped;
  enum tg_transition t;

  t = tg_conn_observe (&conn, ev, is_tls, exportname, &dropped);
  if (tlsguard_debug_verbose)
    nbdkit_debug ("tlsguard: %s is_tls=%d export=\"%s\": %s; "
                  "%s epoch: %u list_exports, %u default_export, %u open",
                  tg_event_name (ev), is_tls,
                  exportname ? exportname : "", tg_transition_name (t),
                  conn.tls ? "TLS" : "plaintext",
                  conn.cur.calls[TG_EV_LIST_EXPORTS],
                  conn.cur.calls[TG_EV_DEFAULT_EXPORT],
                  conn.cur.calls[TG_EV_OPEN]);

  switch (t) {
  case TG_SAME_EPOCH:
    return 0;
  case TG_UPGRADE:
    nbdkit_debug ("tlsguard: connection upgraded to TLS; dropping the "
                  "plaintext epoch: %u list_exports, %u default_export, "
                  "%u open (last export \"%s\")",
                  dropped.calls[TG_EV_LIST_EXPORTS],
                  dropped.calls[TG_EV_DEFAULT_EXPORT],
                  dropped.calls[TG_EV_OPEN],
                  dropped.last_export ? dropped.last_export : "");
    return 0;
  case TG_DOWNGRADE: {
    char peer[128];
    nbdkit_error ("tlsguard: refused %s of export \"%s\" for %s: "
                  "plaintext callback after the connection upgraded to TLS",
                  tg_event_name (ev), exportname ? exportname : "",
                  peer_string (peer, sizeof peer));
    errno = EINVAL;
    return -1;
  }
  }
  return -1;
}

static int
tlsguard_preconnect (nbdkit_next_preconnect *next, nbdkit_backend *nxdata,
                     int readonly)
{
  tg_conn_start (&conn);
  if (tlsguard_debug_verbose)
    nbdkit_debug ("tlsguard: new connection, plaintext epoch");
  return next (nxdata, readonly);
}

static int
tlsguard_list_exports (nbdkit_next_list_exports *next, nbdkit_backend *nxdata,
                       int readonly, int is_tls,
                       struct nbdkit_exports *exports)
{
  struct nbdkit_exports *all;
  size_t i, n;
  int r = -1;

  if (observe (TG_EV_LIST_EXPORTS, is_tls, NULL) == -1)
    return -1;
  if (is_tls || tls_only.n == 0)
    return next (nxdata, readonly, exports);

  /* Plaintext with TLS-only exports: ask the plugin into a list of
   * our own (nbdkit has already resolved its default export there)
   * and copy what a plaintext client may see.
   */
  all = nbdkit_exports_new ();
  if (all == NULL)
    return -1;
  if (next (nxdata, readonly, all) == -1)
    goto out;
  n = nbdkit_exports_count (all);
  for (i = 0; i < n; ++i) {
    const struct nbdkit_export e = nbdkit_get_export (all, i);
    bool shows = tg_list_shows (&tls_only, false, e.name);

    if (tlsguard_debug_verbose)
      nbdkit_debug ("tlsguard: list_exports is_tls=0 export=\"%s\": %s",
                    e.name, shows ? "listed" : "TLS-only, left out");
    if (shows && nbdkit_add_export (exports, e.name, e.description) == -1)
      goto out;
  }
  r = 0;
 out:
  nbdkit_exports_free (all);
  return r;
}

static const char *
tlsguard_default_export (nbdkit_next_default_export *next,
                         nbdkit_backend *nxdata, int readonly, int is_tls)
{
  if (observe (TG_EV_DEFAULT_EXPORT, is_tls, NULL) == -1)
    return NULL;
  return next (nxdata, readonly);
}

static void *
tlsguard_open (nbdkit_next_open *next, nbdkit_context *nxdata,
               int readonly, const char *exportname, int is_tls)
{
  /* nbdkit has already resolved an empty name to the default export
   * (.default_export), so this is the name that is matched.  TLS
   * opens are never matched.
   */
  const char *pattern =
    is_tls ? NULL : tg_tls_only_match (&tls_only, exportname);
  enum tg_action action = tg_decide (extents_policy, is_tls, pattern != NULL);
  struct handle *h;
  const char *name = exportname;

  /* The plaintext epoch record and every handle that does not pass
   * through keep the export name for the log, so they need nbdkit's
   * copy; the TLS epoch keeps none.
   */
  if (!is_tls || action != TG_PASS) {
    name = nbdkit_strdup_intern (exportname);
    if (name == NULL)
      return NULL;
  }
  if (observe (TG_EV_OPEN, is_tls, name) == -1)
    return NULL;
  if (tlsguard_debug_verbose && !is_tls && tls_only.n > 0)
    nbdkit_debug ("tlsguard: open export=\"%s\" is_tls=0: %s%s", name,
                  pattern ? "TLS-only, matches tlsguard-tls-only=" :
                  "matches no tlsguard-tls-only pattern",
                  pattern ? pattern : "");
  if (action == TG_REFUSE_TLS_ONLY) {
    char peer[128];

    /* Refused before the plugin is asked, so that a plaintext client
     * makes it do no work.  nbdkit 1.40 and later send this text to
     * the client with the error reply, so it names no pattern.
     */
    nbdkit_error ("tlsguard: export \"%s\" requires TLS: use STARTTLS "
                  "(plaintext open refused for %s, tlsguard-tls-only)",
                  name, peer_string (peer, sizeof peer));
    errno = EPERM;
    return NULL;
  }
  if (next (nxdata, readonly, exportname) == -1)
    return NULL;

  if (action == TG_PASS)
    h = &pass_handle;
  else {
    h = malloc (sizeof *h);
    if (h == NULL) {
      nbdkit_error ("tlsguard: malloc: %m");
      return NULL;
    }
    __atomic_add_fetch (&handles_live, 1, __ATOMIC_RELAXED);
    h->action = action;
    h->audited = false;
    h->exportname = name;
  }
  if (tlsguard_debug_verbose)
    nbdkit_debug ("tlsguard: open export=\"%s\" is_tls=%d: block status %s",
                  name, is_tls, tg_action_name (action));
  return h;
}

static void
tlsguard_close (void *handle)
{
  if (handle == &pass_handle)
    return;
  free (handle);
  __atomic_sub_fetch (&handles_live, 1, __ATOMIC_RELAXED);
}

static void
tlsguard_unload (void)
{
  tg_tls_only_free (&tls_only);
  nbdkit_debug ("tlsguard: unload: %" PRIu64 " handles still allocated",
                __atomic_load_n (&handles_live, __ATOMIC_RELAXED));
}

static int
tlsguard_can_extents (nbdkit_next *next, void *handle)
{
  struct handle *h = handle;
  int r = tg_can_extents (h->action);

  if (r == -1)
    return next->can_extents (next);
  if (h->action == TG_HIDE && tlsguard_debug_verbose)
    nbdkit_debug ("tlsguard: hiding block status of export \"%s\": "
                  "negotiated without TLS", h->exportname);
  return r;
}

/* The rare paths of block status on a plaintext handle, kept out of
 * line so that the fast paths set up no stack frame for the peer
 * buffer and the log line.
 */
static int __attribute__ ((noinline, cold))
extents_refuse_or_hide (struct handle *h, uint32_t count, uint64_t offset,
                        struct nbdkit_extents *extents, int *err)
{
  char peer[128];

  if (h->action == TG_HIDE)
    /* Not reached while can_extents is false; answer as nbdkit would. */
    return nbdkit_add_extent (extents, offset, count, 0);

  nbdkit_error ("tlsguard: refused block status on export \"%s\" for %s: "
                "export was negotiated without TLS (tlsguard-extents=deny)",
                h->exportname, peer_string (peer, sizeof peer));
  *err = EINVAL;
  return -1;
}

static void __attribute__ ((noinline, cold))
extents_audit (struct handle *h)
{
  char peer[128];

  /* One audit line per handle, even with parallel requests. */
  if (!__atomic_exchange_n (&h->audited, true, __ATOMIC_RELAXED))
    nbdkit_error ("tlsguard: allowing block status on export \"%s\" "
                  "for %s although it was negotiated without TLS "
                  "(tlsguard-extents=allow)",
                  h->exportname, peer_string (peer, sizeof peer));
}

/* Block status on a plaintext handle.  Out of line, so that the TLS
 * path of tlsguard_extents sets up no stack frame.
 */
static int __attribute__ ((noinline))
extents_plaintext (nbdkit_next *next, struct handle *h,
                   uint32_t count, uint64_t offset, uint32_t flags,
                   struct nbdkit_extents *extents, int *err)
{
  if (h->action == TG_AUDIT) {
    /* A plain load keeps the locked exchange off every request after
     * the first.
     */
    if (__builtin_expect (!__atomic_load_n (&h->audited, __ATOMIC_RELAXED),
                          0))
      extents_audit (h);
    return next->extents (next, count, offset, flags, extents, err);
  }
  return extents_refuse_or_hide (h, count, offset, extents, err);
}

static int
tlsguard_extents (nbdkit_next *next, void *handle,
                  uint32_t count, uint64_t offset, uint32_t flags,
                  struct nbdkit_extents *extents, int *err)
{
  struct handle *h = handle;

  /* Exports negotiated over TLS: one compare, then pass through. */
  if (__builtin_expect (h->action == TG_PASS, 1))
    return next->extents (next, count, offset, flags, extents, err);
  return extents_plaintext (next, h, count, offset, flags, extents, err);
}

static struct nbdkit_filter filter = {
  .name              = "tlsguard",
  .longname          = "nbdkit tlsguard filter " PACKAGE_VERSION,
  .unload            = tlsguard_unload,
  .config            = tlsguard_config,
  .config_help       = tlsguard_config_help,
  .preconnect        = tlsguard_preconnect,
  .list_exports      = tlsguard_list_exports,
  .default_export    = tlsguard_default_export,
  .open              = tlsguard_open,
  .close             = tlsguard_close,
  .can_extents       = tlsguard_can_extents,
  .extents           = tlsguard_extents,
};

NBDKIT_REGISTER_FILTER (filter)
