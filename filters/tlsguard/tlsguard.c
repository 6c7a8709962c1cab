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
 *
 * Logging: every client-chosen string reaches a log line through
 * tg_log_quote (escape.c) and the audit file through
 * tg_buf_json_string.  A handle logs its first refused (hidden,
 * allowed) block status request and, at close, how many there were;
 * the requests in between cost one relaxed atomic add each.
 */

#include <config.h>

#include <stdbool.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <nbdkit-filter.h>

#include "policy.h"
#include "escape.h"
#include "audit.h"

/* -D tlsguard.verbose=1: trace every negotiation callback and each
 * connection's epoch transitions.
 */
NBDKIT_DLL_PUBLIC int tlsguard_debug_verbose;

static enum tg_extents_policy extents_policy = TG_EXTENTS_DENY;
static bool extents_policy_set;

/* tlsguard-tls-only= patterns, set during config and read-only after. */
static struct tg_tls_only tls_only;

/* tlsguard-audit=FILE: the path (a copy) and, after .get_ready, the
 * file.
 */
static char *audit_path;
static struct tg_audit_file audit_file = TG_AUDIT_FILE_INIT;

/* Totals over the filter's life, for the unload record and line. */
static struct tg_totals totals;

/* Connection numbers, assigned in .preconnect. */
static uint64_t conn_counter;

/* Whether nbdkit's stdin was a socket when the filter was loaded.
 * With -s nbdkit moves the connection off stdin/stdout (to new
 * descriptors) and puts /dev/null in their place after loading
 * filters, so this is the only moment the filter can see what the
 * connection is.  nbdkit_peer_name calls nbdkit_error when the
 * connection is not a socket, so it is not called then.
 */
static bool stdin_is_socket;

/* The plaintext epoch keeps a copy of the last export name cut to
 * this many bytes (with the full length), for the upgrade line and
 * record.
 */
#define EPOCH_EXPORT_CUT 32

/* The connection record.  Negotiation callbacks run on the
 * connection's own thread, one connection per thread, so the record
 * is thread-local: it is never shared, needs no lock and is released
 * with the thread.  .preconnect starts it for every new connection.
 *
 * The default TLS model: glibc mallocs the block (128 bytes) on each
 * connection thread's first access, and accesses go through
 * __tls_get_addr.  Only the negotiation callbacks touch the record,
 * never the data path, so this costs one allocation per connection
 * and nothing per request.  initial-exec would take the block from
 * the small static TLS reserve that glibc keeps for every module
 * loaded with dlopen, and the filter would then fail to load beside
 * a plugin or filter that uses most of it ("cannot allocate memory in
 * static TLS block").
 */
struct conn_rec {
  struct tg_conn epoch;         /* policy.c's epoch state */
  uint64_t id;                  /* connection number (from 1) */
  uint32_t opens;               /* .open calls so far */
  bool peer_known;              /* peer has been looked up */
  uint8_t last_export_cut;      /* bytes of last_export kept */
  uint32_t last_export_len;     /* full length of the last plaintext
                                   open's export name */
  struct tg_peer peer;
  char last_export[EPOCH_EXPORT_CUT + 1];
};

static __thread struct conn_rec conn;

/* Handles allocated and not yet freed, over all connections.  Touched
 * only in .open and .close (never on the data path); reported at
 * unload so that tests can prove every handle is freed, including
 * when clients vanish in the middle of negotiation.
 */
static uint64_t handles_live;

/* One handle per .open (NBD_OPT_INFO, _GO or _EXPORT_NAME) that does
 * not simply pass block status through.  It holds the filter's only
 * copy of the export name, freed with it at .close.
 */
struct handle {
  enum tg_action action;        /* decided once, at open */
  uint32_t open;                /* open number within the connection */
  uint64_t requests;            /* block status requests (atomic) */
  uint64_t conn;                /* connection number */
  struct tg_peer peer;          /* copied from the connection record */
  size_t export_len;
  char exportname[];            /* export_len bytes and a NUL */
};

/* Every open decided TG_PASS (those negotiated over TLS) shares this
 * one: such a handle is never changed and never logs its export, so
 * it needs no state of its own and no allocation.
 */
static struct handle pass_handle = { .action = TG_PASS };

static void
tlsguard_load (void)
{
  struct stat st;

  stdin_is_socket = fstat (STDIN_FILENO, &st) == 0 && S_ISSOCK (st.st_mode);
}

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
  if (strcmp (key, "tlsguard-audit") == 0) {
    if (audit_path) {
      nbdkit_error ("tlsguard: tlsguard-audit: given more than once");
      return -1;
    }
    if (value == NULL || *value == '\0') {
      nbdkit_error ("tlsguard: tlsguard-audit: expecting a file name");
      return -1;
    }
    audit_path = strdup (value);
    if (audit_path == NULL) {
      nbdkit_error ("tlsguard: tlsguard-audit: %m");
      return -1;
    }
    return 0;
  }
  return next (nxdata, key, value);
}

#define tlsguard_config_help \
  "tlsguard-extents=deny|hide|allow  Block status on plaintext exports (default: deny).\n" \
  "tlsguard-tls-only=PATTERN         Exports (glob) plaintext clients cannot list or open; repeatable.\n" \
  "tlsguard-audit=FILE               Append a JSON Lines audit record for every open and close."

/* Open the audit file before any connection, so that a path nbdkit
 * cannot write fails at startup.
 */
static int
tlsguard_get_ready (int thread_model)
{
  if (audit_path && tg_audit_file_open (&audit_file, audit_path) == -1) {
    nbdkit_error ("tlsguard: tlsguard-audit: cannot open '%s' for "
                  "appending: %m", audit_path);
    return -1;
  }
  return 0;
}

/* Append one record.  Open, close and upgrade records are formatted
 * on the connection thread's stack when they fit in 4 KiB (always,
 * unless the client chose a long name), else in a temporary buffer.
 */
static void
audit_write (const struct tg_audit_rec *r)
{
  char stackbuf[4096], *buf = stackbuf;
  size_t max, len;
  bool first;

  if (audit_file.fd == -1)
    return;
  max = tg_audit_record_max (r);
  if (max > sizeof stackbuf) {
    buf = malloc (max);
    if (buf == NULL) {
      nbdkit_error ("tlsguard: tlsguard-audit: malloc: %m");
      return;
    }
  }
  len = tg_audit_format (buf, max, r);
  if (len > 0 &&
      tg_audit_file_write (&audit_file, buf, len, &first) == -1 && first)
    nbdkit_error ("tlsguard: tlsguard-audit: write to '%s' failed: %m "
                  "(records are lost; further write errors are not logged)",
                  audit_path);
  if (buf != stackbuf)
    free (buf);
}

static void
audit_now (struct tg_audit_rec *r, enum tg_audit_event ev)
{
  memset (r, 0, sizeof *r);
  r->event = ev;
  r->uid = -1;
  clock_gettime (CLOCK_REALTIME, &r->time);
}

/* An IP peer: port in network order, len bytes of address. */
static void
peer_ip (struct tg_peer *p, enum tg_peer_kind kind, in_port_t port,
         const void *addr, size_t len)
{
  p->kind = kind;
  p->port = ntohs (port);
  memcpy (p->addr, addr, len);
}

/* Look the peer up once per connection, on the connection thread:
 * never on the data path, where the handle's copy is used.
 */
static const struct tg_peer *
conn_peer (void)
{
  struct tg_peer *p = &conn.peer;
  struct sockaddr_storage ss;
  socklen_t slen = sizeof ss;

  if (conn.peer_known)
    return p;
  conn.peer_known = true;
  memset (p, 0, sizeof *p);
  p->pid = -1;
  p->uid = -1;

  /* With -s the one connection runs on nbdkit's main thread (with -U,
   * -p and socket activation each runs on a thread of its own).
   */
  if (gettid () == getpid ()) {
    p->stdio = true;
    if (!stdin_is_socket) {
      p->kind = TG_PEER_STDIO;
      return p;
    }
  }

  memset (&ss, 0, sizeof ss);
  if (nbdkit_peer_name ((struct sockaddr *) &ss, &slen) == -1) {
    p->kind = TG_PEER_UNKNOWN;
    return p;
  }
  switch (ss.ss_family) {
  case AF_UNIX: {
    int64_t pid = nbdkit_peer_pid (), uid = nbdkit_peer_uid ();

    p->kind = TG_PEER_UNIX;
    p->pid = pid > 0 && pid <= INT32_MAX ? (int32_t) pid : -1;
    p->uid = uid >= 0 ? uid : -1;
    break;
  }
  case AF_INET: {
    const struct sockaddr_in *sin = (const struct sockaddr_in *) &ss;

    peer_ip (p, TG_PEER_INET, sin->sin_port, &sin->sin_addr, 4);
    break;
  }
  case AF_INET6: {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) &ss;

    peer_ip (p, TG_PEER_INET6, sin6->sin6_port, &sin6->sin6_addr, 16);
    break;
  }
  default:
    p->kind = TG_PEER_OTHER;
    p->port = ss.ss_family;
  }
  return p;
}

/* The X.509 distinguished name of a verified client certificate, on
 * nbdkit 1.40 and later (malloc'd, or NULL if there is none).  No
 * nbdkit version tells a filter the PSK username.
 */
static char *
conn_tls_dn (bool is_tls)
{
#if HAVE_DECL_NBDKIT_PEER_TLS_DN
  char *dn;

  if (!is_tls)
    return NULL;
  dn = nbdkit_peer_tls_dn ();
  if (dn && *dn == '\0') {
    free (dn);
    dn = NULL;
  }
  return dn;
#else
  return NULL;
#endif
}

/* The log form of a client string (see escape.h). */
#define QUOTED(var, s, n, full) \
  char var[TG_LOG_QUOTED_MAX]; \
  tg_log_quote (var, sizeof var, (s), (n), (full))

static void
fill_peer (struct tg_audit_rec *r, const struct tg_peer *p, char *buf)
{
  r->peer = tg_peer_format (buf, TG_PEER_STR_MAX, p);
  if (p->kind == TG_PEER_UNIX)
    r->uid = p->uid;
}

/* Record a negotiation callback in the connection's epoch.  Returns
 * -1 (with an error set) if the callback must be refused.
 */
static int
observe (enum tg_event ev, int is_tls, const char *exportname)
{
  struct tg_epoch dropped;
  enum tg_transition t;
  size_t len = exportname ? strlen (exportname) : 0;

  t = tg_conn_observe (&conn.epoch, ev, is_tls, exportname, &dropped);
  if (tlsguard_debug_verbose) {
    QUOTED (q, exportname, len, len);
    nbdkit_debug ("tlsguard: %s is_tls=%d export=%s: %s; "
                  "%s epoch: %u list_exports, %u default_export, %u open",
                  tg_event_name (ev), is_tls, q, tg_transition_name (t),
                  conn.epoch.tls ? "TLS" : "plaintext",
                  conn.epoch.cur.calls[TG_EV_LIST_EXPORTS],
                  conn.epoch.cur.calls[TG_EV_DEFAULT_EXPORT],
                  conn.epoch.cur.calls[TG_EV_OPEN]);
  }

  switch (t) {
  case TG_SAME_EPOCH:
    return 0;
  case TG_UPGRADE: {
    /* dropped.last_export points at conn.last_export (or is NULL),
     * which stays as it was: only plaintext opens write it.
     */
    size_t cut = dropped.last_export ? conn.last_export_cut : 0;
    size_t full = dropped.last_export ? conn.last_export_len : 0;
    QUOTED (q, dropped.last_export, cut, full);

    nbdkit_debug ("tlsguard: connection upgraded to TLS; dropping the "
                  "plaintext epoch: %u list_exports, %u default_export, "
                  "%u open (last export %s)",
                  dropped.calls[TG_EV_LIST_EXPORTS],
                  dropped.calls[TG_EV_DEFAULT_EXPORT],
                  dropped.calls[TG_EV_OPEN], q);
    if (audit_file.fd >= 0) {
      struct tg_audit_rec r;
      char peer[TG_PEER_STR_MAX];

      audit_now (&r, TG_AUDIT_UPGRADE);
      r.conn = conn.id;
      fill_peer (&r, conn_peer (), peer);
      memcpy (r.dropped_calls, dropped.calls, sizeof r.dropped_calls);
      r.last_export = dropped.last_export;
      r.last_export_cut = cut;
      r.last_export_len = full;
      audit_write (&r);
    }
    return 0;
  }
  case TG_DOWNGRADE: {
    char peer[TG_PEER_STR_MAX];
    QUOTED (q, exportname, len, len);

    nbdkit_error ("tlsguard: refused %s of export %s for %s: "
                  "plaintext callback after the connection upgraded to TLS",
                  tg_event_name (ev), q,
                  tg_peer_format (peer, sizeof peer, conn_peer ()));
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
  memset (&conn, 0, sizeof conn);
  tg_conn_start (&conn.epoch);
  conn.id = __atomic_add_fetch (&conn_counter, 1, __ATOMIC_RELAXED);
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

    if (tlsguard_debug_verbose) {
      size_t len = strlen (e.name);
      QUOTED (q, e.name, len, len);
      nbdkit_debug ("tlsguard: list_exports is_tls=0 export=%s: %s",
                    q, shows ? "listed" : "TLS-only, left out");
    }
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

/* The audit record of one open (every .open, whatever happened). */
static void
audit_open (uint32_t seq, bool is_tls, const char *exportname, size_t len,
            const char *action, bool opened)
{
  struct tg_audit_rec r;
  char peer[TG_PEER_STR_MAX];
  char *dn;

  if (audit_file.fd < 0)
    return;
  audit_now (&r, TG_AUDIT_OPEN);
  r.conn = conn.id;
  r.handle = seq;
  fill_peer (&r, conn_peer (), peer);
  r.tls = is_tls;
  r.exportname = exportname;
  r.export_len = len;
  r.action = action;
  r.opened = opened;
  dn = conn_tls_dn (is_tls);
  if (dn) {
    r.tls_dn = dn;
    r.tls_dn_len = strlen (dn);
  }
  audit_write (&r);
  free (dn);
}

/* An open the filter refuses: counted, and recorded as not opened. */
static void
open_refused (uint32_t seq, bool is_tls, const char *exportname, size_t len,
              const char *action)
{
  __atomic_add_fetch (&totals.opens_refused, 1, __ATOMIC_RELAXED);
  audit_open (seq, is_tls, exportname, len, action, false);
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
  size_t len = strlen (exportname);
  uint32_t seq = ++conn.opens;
  const char *epoch_name = NULL;
  struct handle *h;

  /* The plaintext epoch keeps a cut copy of the name in the
   * connection record (no allocation, bounded); the TLS epoch keeps
   * none.
   */
  if (!is_tls && !conn.epoch.tls) {
    size_t cut = len < EPOCH_EXPORT_CUT ? len : EPOCH_EXPORT_CUT;

    memcpy (conn.last_export, exportname, cut);
    conn.last_export[cut] = '\0';
    conn.last_export_cut = cut;
    conn.last_export_len = len > UINT32_MAX ? UINT32_MAX : len;
    epoch_name = conn.last_export;
  }
  if (observe (TG_EV_OPEN, is_tls, epoch_name) == -1) {
    open_refused (seq, is_tls, exportname, len, "refuse-downgrade");
    return NULL;
  }
  __atomic_add_fetch (is_tls ? &totals.opens_tls : &totals.opens_plaintext,
                      1, __ATOMIC_RELAXED);

  if (tlsguard_debug_verbose && !is_tls && tls_only.n > 0) {
    QUOTED (q, exportname, len, len);
    nbdkit_debug ("tlsguard: open export=%s is_tls=0: %s%s", q,
                  pattern ? "TLS-only, matches tlsguard-tls-only=" :
                  "matches no tlsguard-tls-only pattern",
                  pattern ? pattern : "");
  }
  if (action == TG_REFUSE_TLS_ONLY) {
    char peer[TG_PEER_STR_MAX];
    QUOTED (q, exportname, len, len);

    /* Refused before the plugin is asked, so that a plaintext client
     * makes it do no work.  nbdkit 1.40 and later send this text to
     * the client with the error reply, so it names no pattern.
     */
    nbdkit_error ("tlsguard: export %s requires TLS: use STARTTLS "
                  "(plaintext open refused for %s, tlsguard-tls-only)",
                  q, tg_peer_format (peer, sizeof peer, conn_peer ()));
    open_refused (seq, is_tls, exportname, len, tg_action_name (action));
    errno = EPERM;              /* after the audit record's write */
    return NULL;
  }
  if (next (nxdata, readonly, exportname) == -1) {
    audit_open (seq, is_tls, exportname, len, tg_action_name (action),
                false);
    return NULL;
  }

  if (action == TG_PASS)
    h = &pass_handle;
  else {
    h = malloc (sizeof *h + len + 1);
    if (h == NULL) {
      nbdkit_error ("tlsguard: malloc: %m");
      return NULL;
    }
    __atomic_add_fetch (&handles_live, 1, __ATOMIC_RELAXED);
    h->action = action;
    h->open = seq;
    h->requests = 0;
    h->conn = conn.id;
    h->peer = *conn_peer ();
    h->export_len = len;
    memcpy (h->exportname, exportname, len + 1);
  }
  if (tlsguard_debug_verbose) {
    QUOTED (q, exportname, len, len);
    nbdkit_debug ("tlsguard: open export=%s is_tls=%d: block status %s",
                  q, is_tls, tg_action_name (action));
  }
  audit_open (seq, is_tls, exportname, len, tg_action_name (action), true);
  return h;
}

static void
tlsguard_close (void *handle)
{
  struct handle *h = handle;
  uint64_t n;
  char peer[TG_PEER_STR_MAX];

  if (h == &pass_handle)
    return;

  n = __atomic_load_n (&h->requests, __ATOMIC_RELAXED);
  tg_totals_add_handle (&totals, h->action, n);
  if (n > 0) {
    const char *s = n == 1 ? "" : "s";
    QUOTED (q, h->exportname, h->export_len, h->export_len);

    tg_peer_format (peer, sizeof peer, &h->peer);
    switch (h->action) {
    case TG_DENY:
      nbdkit_error ("tlsguard: refused %" PRIu64 " block status request%s "
                    "on export %s for %s (tlsguard-extents=deny)",
                    n, s, q, peer);
      break;
    case TG_HIDE:
      nbdkit_error ("tlsguard: answered %" PRIu64 " block status request%s "
                    "on export %s for %s with all data "
                    "(tlsguard-extents=hide)", n, s, q, peer);
      break;
    case TG_AUDIT:
      nbdkit_error ("tlsguard: allowed %" PRIu64 " block status request%s "
                    "on export %s for %s although it was negotiated "
                    "without TLS (tlsguard-extents=allow)", n, s, q, peer);
      break;
    default:
      break;
    }
  }
  if (audit_file.fd >= 0) {
    struct tg_audit_rec r;

    audit_now (&r, TG_AUDIT_CLOSE);
    r.conn = h->conn;
    r.handle = h->open;
    fill_peer (&r, &h->peer, peer);
    r.tls = false;              /* only plaintext handles are allocated */
    r.exportname = h->exportname;
    r.export_len = h->export_len;
    r.action = tg_action_name (h->action);
    r.bs_refused = h->action == TG_DENY ? n : 0;
    r.bs_hidden = h->action == TG_HIDE ? n : 0;
    r.bs_allowed = h->action == TG_AUDIT ? n : 0;
    audit_write (&r);
  }
  free (h);
  __atomic_sub_fetch (&handles_live, 1, __ATOMIC_RELAXED);
}

static void
tlsguard_unload (void)
{
  struct tg_totals t;

  tg_totals_read (&totals, &t);
  nbdkit_debug ("tlsguard: unload: %" PRIu64 " handles still allocated; "
                "opens: %" PRIu64 " TLS, %" PRIu64 " plaintext, %" PRIu64
                " refused; block status: %" PRIu64 " refused, %" PRIu64
                " hidden, %" PRIu64 " allowed",
                __atomic_load_n (&handles_live, __ATOMIC_RELAXED),
                t.opens_tls, t.opens_plaintext, t.opens_refused,
                t.bs_refused, t.bs_hidden, t.bs_allowed);
  if (audit_file.fd >= 0) {
    struct tg_audit_rec r;

    audit_now (&r, TG_AUDIT_UNLOAD);
    r.totals = t;
    audit_write (&r);
    tg_audit_file_close (&audit_file);
  }
  free (audit_path);
  audit_path = NULL;
  tg_tls_only_free (&tls_only);
}

static int
tlsguard_can_extents (nbdkit_next *next, void *handle)
{
  struct handle *h = handle;
  int r = tg_can_extents (h->action);

  if (r == -1)
    return next->can_extents (next);
  return r;
}

/* The first request of a handle that is not passed through logs what
 * the filter does to it; the count follows at close.
 */
static void
extents_first (const struct handle *h)
{
  char peer[TG_PEER_STR_MAX];
  QUOTED (q, h->exportname, h->export_len, h->export_len);

  tg_peer_format (peer, sizeof peer, &h->peer);
  switch (h->action) {
  case TG_DENY:
    nbdkit_error ("tlsguard: refused block status on export %s for %s: "
                  "export was negotiated without TLS (tlsguard-extents=deny)",
                  q, peer);
    break;
  case TG_HIDE:
    nbdkit_error ("tlsguard: answering block status on export %s for %s "
                  "with all data: export was negotiated without TLS "
                  "(tlsguard-extents=hide)", q, peer);
    break;
  case TG_AUDIT:
    nbdkit_error ("tlsguard: allowing block status on export %s for %s "
                  "although it was negotiated without TLS "
                  "(tlsguard-extents=allow)", q, peer);
    break;
  default:
    break;
  }
}

/* Block status on a plaintext handle: one relaxed atomic add, and
 * for the handle's first request one log line.  Out of line, so that
 * the TLS path of tlsguard_extents sets up no stack frame: inlined,
 * it costs every TLS block status request 14 instructions more
 * (callgrind: 19574.3 instead of 19560.3 per 64 KiB request, against
 * nofilter's 19539.3).
 */
static int __attribute__ ((noinline))
extents_plaintext (nbdkit_next *next, struct handle *h,
                   uint32_t count, uint64_t offset, uint32_t flags,
                   struct nbdkit_extents *extents, int *err)
{
  if (__builtin_expect (tg_count_first (&h->requests), 0))
    extents_first (h);

  switch (h->action) {
  case TG_AUDIT:
    return next->extents (next, count, offset, flags, extents, err);
  case TG_HIDE:
    /* What nbdkit's core answers for a plugin without extents: the
     * whole range as allocated data.  Answered here, rather than by
     * reporting can_extents false, so that the request is counted.
     */
    if (nbdkit_add_extent (extents, offset, count, 0) == -1) {
      *err = errno;
      return -1;
    }
    return 0;
  default:
    *err = EINVAL;
    return -1;
  }
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
  .load              = tlsguard_load,
  .unload            = tlsguard_unload,
  .config            = tlsguard_config,
  .config_help       = tlsguard_config_help,
  .get_ready         = tlsguard_get_ready,
  .preconnect        = tlsguard_preconnect,
  .list_exports      = tlsguard_list_exports,
  .default_export    = tlsguard_default_export,
  .open              = tlsguard_open,
  .close             = tlsguard_close,
  .can_extents       = tlsguard_can_extents,
  .extents           = tlsguard_extents,
};

NBDKIT_REGISTER_FILTER (filter)
