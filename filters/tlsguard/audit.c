/* tlsguard: counters, audit records (JSON Lines) and the audit file.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 */

#include <config.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "audit.h"
#include "escape.h"
#include "policy.h"

void
tg_totals_add_handle (struct tg_totals *t, enum tg_action a,
                      uint64_t requests)
{
  uint64_t *field;

  switch (a) {
  case TG_DENY: field = &t->bs_refused; break;
  case TG_HIDE: field = &t->bs_hidden; break;
  case TG_AUDIT: field = &t->bs_allowed; break;
  default: return;              /* TLS handles are not counted */
  }
  if (requests > 0)
    __atomic_add_fetch (field, requests, __ATOMIC_RELAXED);
}

void
tg_totals_read (const struct tg_totals *t, struct tg_totals *out)
{
  out->opens_tls = __atomic_load_n (&t->opens_tls, __ATOMIC_RELAXED);
  out->opens_plaintext =
    __atomic_load_n (&t->opens_plaintext, __ATOMIC_RELAXED);
  out->opens_refused = __atomic_load_n (&t->opens_refused, __ATOMIC_RELAXED);
  out->bs_refused = __atomic_load_n (&t->bs_refused, __ATOMIC_RELAXED);
  out->bs_hidden = __atomic_load_n (&t->bs_hidden, __ATOMIC_RELAXED);
  out->bs_allowed = __atomic_load_n (&t->bs_allowed, __ATOMIC_RELAXED);
}

const char *
tg_peer_format (char *dst, size_t dstsize, const struct tg_peer *p)
{
  char host[INET6_ADDRSTRLEN];
  const char *pre = p->stdio ? "stdin/stdout: " : "";

  switch (p->kind) {
  case TG_PEER_STDIO:
    snprintf (dst, dstsize, "stdin/stdout");
    break;
  case TG_PEER_UNIX:
    if (p->pid >= 0 && p->uid >= 0)
      snprintf (dst, dstsize, "%sunix socket (pid %ld, uid %lld)", pre,
                (long) p->pid, (long long) p->uid);
    else if (p->uid >= 0)
      snprintf (dst, dstsize, "%sunix socket (uid %lld)", pre,
                (long long) p->uid);
    else if (p->pid >= 0)
      snprintf (dst, dstsize, "%sunix socket (pid %ld)", pre, (long) p->pid);
    else
      snprintf (dst, dstsize, "%sunix socket", pre);
    break;
  case TG_PEER_INET:
  case TG_PEER_INET6:
    if (inet_ntop (p->kind == TG_PEER_INET ? AF_INET : AF_INET6, p->addr,
                   host, sizeof host) == NULL)
      snprintf (host, sizeof host, "?");
    snprintf (dst, dstsize, p->kind == TG_PEER_INET ? "%s%s:%u" : "%s[%s]:%u",
              pre, host, (unsigned) p->port);
    break;
  case TG_PEER_OTHER:
    snprintf (dst, dstsize, "%speer of address family %u", pre,
              (unsigned) p->port);
    break;
  default:
    snprintf (dst, dstsize, "%sunknown peer", pre);
  }
  return dst;
}

size_t
tg_format_time (char *dst, const struct timespec *ts)
{
  struct tm tm;
  time_t t = ts->tv_sec;
  int r;

  if (gmtime_r (&t, &tm) == NULL)
    memset (&tm, 0, sizeof tm);
  r = snprintf (dst, TG_TIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec,
                (long) (ts->tv_nsec / 1000000) % 1000);
  if (r < 0 || (size_t) r >= TG_TIME_MAX)
    r = 0;
  dst[r] = '\0';
  return (size_t) r;
}

static const char *
event_name (enum tg_audit_event e)
{
  switch (e) {
  case TG_AUDIT_OPEN: return "open";
  case TG_AUDIT_CLOSE: return "close";
  case TG_AUDIT_UPGRADE: return "upgrade";
  case TG_AUDIT_UNLOAD: return "unload";
  }
  return "?";
}

static size_t
str_len (const char *s)
{
  return s ? strlen (s) : 0;
}

size_t
tg_audit_record_max (const struct tg_audit_rec *r)
{
  /* Fixed text and numbers fit in 1024 bytes with room to spare
   * (the longest, close, is under 400); the rest are strings.
   */
  return 1024
    + TG_JSON_STRING_MAX (str_len (r->peer))
    + TG_JSON_STRING_MAX (str_len (r->action))
    + (r->exportname ? TG_JSON_STRING_MAX (r->export_len) : 2)
    + (r->tls_dn ? TG_JSON_STRING_MAX (r->tls_dn_len) : 0)
    + (r->last_export ? TG_JSON_STRING_MAX (r->last_export_cut) : 2);
}

static void
key (struct tg_buf *b, const char *k)
{
  tg_buf_str (b, ",\"");
  tg_buf_str (b, k);
  tg_buf_str (b, "\":");
}

static void
key_u64 (struct tg_buf *b, const char *k, uint64_t v)
{
  key (b, k);
  tg_buf_u64 (b, v);
}

static void
key_cstr (struct tg_buf *b, const char *k, const char *s)
{
  key (b, k);
  tg_buf_json_string (b, s ? s : "", str_len (s));
}

static void
key_bool (struct tg_buf *b, const char *k, bool v)
{
  key (b, k);
  tg_buf_str (b, v ? "true" : "false");
}

static void
peer_fields (struct tg_buf *b, const struct tg_audit_rec *r)
{
  key_cstr (b, "peer", r->peer);
  if (r->uid >= 0) {
    key (b, "uid");
    tg_buf_i64 (b, r->uid);
  }
}

/* "block_status":{"refused":N,"hidden":N,"allowed":N}, in close and
 * unload records.
 */
static void
block_status_fields (struct tg_buf *b, uint64_t refused, uint64_t hidden,
                     uint64_t allowed)
{
  key (b, "block_status");
  tg_buf_str (b, "{\"refused\":");
  tg_buf_u64 (b, refused);
  tg_buf_str (b, ",\"hidden\":");
  tg_buf_u64 (b, hidden);
  tg_buf_str (b, ",\"allowed\":");
  tg_buf_u64 (b, allowed);
  tg_buf_str (b, "}");
}

static void
handle_fields (struct tg_buf *b, const struct tg_audit_rec *r)
{
  key_u64 (b, "conn", r->conn);
  key_u64 (b, "handle", r->handle);
  peer_fields (b, r);
  key_bool (b, "tls", r->tls);
  if (r->tls_dn) {
    key (b, "tls_dn");
    tg_buf_json_string (b, r->tls_dn, r->tls_dn_len);
  }
  key (b, "export");
  tg_buf_json_string (b, r->exportname ? r->exportname : "",
                      r->exportname ? r->export_len : 0);
  key_cstr (b, "action", r->action);
}

size_t
tg_audit_format (char *dst, size_t cap, const struct tg_audit_rec *r)
{
  struct tg_buf b;
  char t[TG_TIME_MAX];

  tg_buf_init (&b, dst, cap);
  tg_buf_str (&b, "{\"time\":\"");
  tg_format_time (t, &r->time);
  tg_buf_str (&b, t);
  tg_buf_str (&b, "\"");
  key_cstr (&b, "event", event_name (r->event));

  switch (r->event) {
  case TG_AUDIT_OPEN:
    handle_fields (&b, r);
    key_bool (&b, "opened", r->opened);
    break;
  case TG_AUDIT_CLOSE:
    handle_fields (&b, r);
    block_status_fields (&b, r->bs_refused, r->bs_hidden, r->bs_allowed);
    break;
  case TG_AUDIT_UPGRADE:
    key_u64 (&b, "conn", r->conn);
    peer_fields (&b, r);
    key (&b, "dropped");
    tg_buf_str (&b, "{\"list_exports\":");
    tg_buf_u64 (&b, r->dropped_calls[TG_EV_LIST_EXPORTS]);
    tg_buf_str (&b, ",\"default_export\":");
    tg_buf_u64 (&b, r->dropped_calls[TG_EV_DEFAULT_EXPORT]);
    tg_buf_str (&b, ",\"open\":");
    tg_buf_u64 (&b, r->dropped_calls[TG_EV_OPEN]);
    tg_buf_str (&b, ",\"last_export\":");
    tg_buf_json_string (&b, r->last_export ? r->last_export : "",
                        r->last_export ? r->last_export_cut : 0);
    tg_buf_str (&b, ",\"last_export_len\":");
    tg_buf_u64 (&b, r->last_export_len);
    tg_buf_str (&b, "}");
    break;
  case TG_AUDIT_UNLOAD:
    key (&b, "opens");
    tg_buf_str (&b, "{\"tls\":");
    tg_buf_u64 (&b, r->totals.opens_tls);
    tg_buf_str (&b, ",\"plaintext\":");
    tg_buf_u64 (&b, r->totals.opens_plaintext);
    tg_buf_str (&b, ",\"refused\":");
    tg_buf_u64 (&b, r->totals.opens_refused);
    tg_buf_str (&b, "}");
    block_status_fields (&b, r->totals.bs_refused, r->totals.bs_hidden,
                         r->totals.bs_allowed);
    break;
  }
  tg_buf_str (&b, "}\n");
  return b.overflow ? 0 : b.len;
}

int
tg_audit_file_open (struct tg_audit_file *f, const char *path)
{
  int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
                 0600);

  if (fd == -1)
    return -1;
  f->fd = fd;
  f->error_seen = false;
  return 0;
}

int
tg_audit_file_write (struct tg_audit_file *f, const char *rec, size_t len,
                     bool *first)
{
  ssize_t r;
  int saved_errno;

  *first = false;
  if (f->fd == -1)
    return 0;
  /* One write(2) on an O_APPEND descriptor: the kernel places the
   * whole record at the end of the file under the inode lock, so
   * records never interleave, even with another process appending.
   * A short write is not completed (the rest would be a second write):
   * it is an error, and the part written is cut off again.
   */
  pthread_mutex_lock (&f->lock);
  r = write (f->fd, rec, len);
  if (r == (ssize_t) len) {
    pthread_mutex_unlock (&f->lock);
    return 0;
  }
  saved_errno = r >= 0 ? ENOSPC : errno;
  if (r > 0) {
    struct stat st;

    if (fstat (f->fd, &st) == 0 && st.st_size >= r &&
        ftruncate (f->fd, st.st_size - r) == -1) {
      /* Nothing more to do: the error below is what is reported. */
    }
  }
  pthread_mutex_unlock (&f->lock);
  *first = !__atomic_exchange_n (&f->error_seen, true, __ATOMIC_RELAXED);
  errno = saved_errno;
  return -1;
}

void
tg_audit_file_close (struct tg_audit_file *f)
{
  if (f->fd >= 0)
    close (f->fd);
  f->fd = -1;
}
