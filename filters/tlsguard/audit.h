/* tlsguard: counters, audit records (JSON Lines) and the audit file.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Pure C: no nbdkit headers.  The glue (tlsguard.c) fills in the
 * records; this file formats them, counts, and writes the file.
 */

#ifndef TLSGUARD_AUDIT_H
#define TLSGUARD_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <pthread.h>

#include "policy.h"

/* --- counters ------------------------------------------------------ */

/* Count one block status request on a handle: one relaxed atomic add,
 * nothing else.  True for the handle's first request (the one that
 * logs), false for every later one, whatever the threads.
 */
static inline bool
tg_count_first (uint64_t *counter)
{
  return __atomic_add_fetch (counter, 1, __ATOMIC_RELAXED) == 1;
}

/* Totals over the life of the filter, reported at unload.  Updated
 * with relaxed atomic adds at .open and .close only.
 */
struct tg_totals {
  uint64_t opens_tls;           /* .open over TLS */
  uint64_t opens_plaintext;     /* .open in plaintext */
  uint64_t opens_refused;       /* .open refused by the filter */
  uint64_t bs_refused;          /* block status requests refused (deny) */
  uint64_t bs_hidden;           /* answered all data (hide) */
  uint64_t bs_allowed;          /* passed through in plaintext (allow) */
};

/* Add a closing handle's request count to the totals, by its action. */
extern void tg_totals_add_handle (struct tg_totals *t, enum tg_action a,
                                  uint64_t requests);
/* A consistent-enough copy (each field read atomically). */
extern void tg_totals_read (const struct tg_totals *t, struct tg_totals *out);

/* --- the peer -------------------------------------------------------- */

/* What the filter knows about a connection's peer: worked out once
 * per connection (on its own thread), kept in 32 bytes, and formatted
 * without syscalls whenever a line or record needs it.
 */
enum tg_peer_kind {
  TG_PEER_UNKNOWN = 0,          /* the lookup failed */
  TG_PEER_STDIO,                /* -s, and stdin is not a socket */
  TG_PEER_UNIX,
  TG_PEER_INET,
  TG_PEER_INET6,
  TG_PEER_OTHER,                /* another address family (in port) */
};

struct tg_peer {
  uint8_t kind;                 /* enum tg_peer_kind */
  bool stdio;                   /* -s: the connection is stdin/stdout */
  uint16_t port;                /* host order; the family for OTHER */
  int32_t pid;                  /* UNIX: peer pid, or -1 */
  int64_t uid;                  /* UNIX: peer uid, or -1 */
  uint8_t addr[16];             /* INET: 4 bytes, INET6: 16 */
};

/* Longest tg_peer_format result, with the NUL. */
#define TG_PEER_STR_MAX 96

/* "unix socket (pid 42, uid 1000)", "127.0.0.1:4000", "[::1]:4000",
 * "stdin/stdout", "stdin/stdout: unix socket (pid 42, uid 0)",
 * "peer of address family 40", "unknown peer".  Returns dst.
 */
extern const char *tg_peer_format (char *dst, size_t dstsize,
                                   const struct tg_peer *p);

/* --- records -------------------------------------------------------- */

enum tg_audit_event {
  TG_AUDIT_OPEN = 0,
  TG_AUDIT_CLOSE,
  TG_AUDIT_UPGRADE,
  TG_AUDIT_UNLOAD,
};

/* What a record says.  Strings are not owned.  Which fields appear
 * depends on the event (see tg_audit_format).
 */
struct tg_audit_rec {
  enum tg_audit_event event;
  struct timespec time;         /* CLOCK_REALTIME */
  uint64_t conn;                /* the filter's connection number */
  uint64_t handle;              /* open number within the connection */
  const char *peer;             /* the peer description */
  int64_t uid;                  /* peer uid (Unix sockets), or -1 */
  bool tls;
  const char *exportname;       /* export_len bytes, not NUL-terminated */
  size_t export_len;
  const char *action;           /* tg_action_name, or "refuse-..." */
  bool opened;                  /* open: the handle was opened */
  const char *tls_dn;           /* NULL: no such field */
  size_t tls_dn_len;
  /* close: requests on the handle, by what happened to them. */
  uint64_t bs_refused, bs_hidden, bs_allowed;
  /* upgrade: what the dropped plaintext epoch held. */
  unsigned dropped_calls[TG_EV_COUNT];
  const char *last_export;      /* a cut copy, last_export_cut bytes */
  size_t last_export_cut;
  size_t last_export_len;       /* the original length */
  /* unload */
  struct tg_totals totals;
};

/* Bytes that always hold the record of r (with the newline). */
extern size_t tg_audit_record_max (const struct tg_audit_rec *r);

/* Format r as one JSON object and a newline into dst (cap bytes,
 * not NUL-terminated).  Returns the length, or 0 if it did not fit.
 *
 * open:    {"time":T,"event":"open","conn":N,"handle":N,"peer":S,
 *           ["uid":N,]"tls":B,["tls_dn":S,]"export":S,"action":S,
 *           "opened":B}
 * close:   {"time":T,"event":"close","conn":N,"handle":N,"peer":S,
 *           ["uid":N,]"tls":B,["tls_dn":S,]"export":S,"action":S,
 *           "block_status":{"refused":N,"hidden":N,"allowed":N}}
 * upgrade: {"time":T,"event":"upgrade","conn":N,"peer":S,["uid":N,]
 *           "dropped":{"list_exports":N,"default_export":N,"open":N,
 *           "last_export":S,"last_export_len":N}}
 * unload:  {"time":T,"event":"unload","opens":{"tls":N,"plaintext":N,
 *           "refused":N},"block_status":{"refused":N,"hidden":N,
 *           "allowed":N}}
 *
 * T is RFC 3339 UTC with milliseconds; strings as tg_buf_json_string.
 */
extern size_t tg_audit_format (char *dst, size_t cap,
                               const struct tg_audit_rec *r);

/* "2026-12-01T21:11:01.123Z" and a NUL into dst (at least
 * TG_TIME_MAX bytes); returns the length.
 */
#define TG_TIME_MAX sizeof "-2147483648-12-31T23:59:59.999Z"
extern size_t tg_format_time (char *dst, const struct timespec *ts);

/* --- the audit file --------------------------------------------------- */

struct tg_audit_file {
  int fd;                       /* -1: no audit file */
  bool error_seen;              /* a write failed (set once) */
  pthread_mutex_t lock;         /* see tg_audit_file_write */
};

#define TG_AUDIT_FILE_INIT \
  { .fd = -1, .error_seen = false, .lock = PTHREAD_MUTEX_INITIALIZER }

/* Open path for appending (O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC, mode
 * 0600).  Returns 0, or -1 with errno set.
 */
extern int tg_audit_file_open (struct tg_audit_file *f, const char *path);

/* Write one record with a single write(2).  Returns 0; or -1 with
 * errno set (ENOSPC for a short write) if the write failed, and then
 * *first is true for the first failure of this file only, so that the
 * caller logs it once.  A short write (a full disk) is cut off again
 * with ftruncate, so that the file never holds part of a record; the
 * lock makes the file's end ours while doing so.  Records are written
 * at open, close, upgrade and unload, never per request.
 */
extern int tg_audit_file_write (struct tg_audit_file *f, const char *rec,
                                size_t len, bool *first);

extern void tg_audit_file_close (struct tg_audit_file *f);

#endif /* TLSGUARD_AUDIT_H */
