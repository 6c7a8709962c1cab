/* tlsguard test harness: the listening side shared by nbd-badserver
 * and nbd-mitm.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 */

#include <config.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include "error.h"
#include "listener.h"
#include "transport.h"

const char *log_progname = "nbd-harness";
int log_verbose;

static void
vlog (const char *fmt, va_list ap)
{
  char buf[2048];
  int n, m;

  n = snprintf (buf, sizeof buf, "%s[%ld]: ", log_progname, (long) getpid ());
  if (n < 0 || (size_t) n >= sizeof buf)
    return;
  m = vsnprintf (buf + n, sizeof buf - n, fmt, ap);
  if (m < 0)
    return;
  n += m;
  if ((size_t) n >= sizeof buf - 1)
    n = sizeof buf - 2;
  buf[n++] = '\n';
  /* One write per line, so that lines from forked children do not
   * interleave.
   */
  if (write (STDERR_FILENO, buf, n) == -1) {
    /* nothing useful to do */
  }
}

void
log_msg (const char *fmt, ...)
{
  va_list ap;
  int saved_errno = errno;

  va_start (ap, fmt);
  vlog (fmt, ap);
  va_end (ap);
  errno = saved_errno;
}

void
log_debug (const char *fmt, ...)
{
  va_list ap;
  int saved_errno = errno;

  if (!log_verbose)
    return;
  va_start (ap, fmt);
  vlog (fmt, ap);
  va_end (ap);
  errno = saved_errno;
}

/* Signals reach the accept loop through a self-pipe. */
static int sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t stop_requested;

static void
on_signal (int sig)
{
  int saved_errno = errno;
  char c = sig == SIGCHLD ? 'c' : 't';

  if (sig != SIGCHLD)
    stop_requested = 1;
  if (write (sig_pipe[1], &c, 1) == -1) {
    /* the pipe is full: a wakeup is already pending */
  }
  errno = saved_errno;
}

static int
set_handlers (void (*handler) (int))
{
  struct sigaction sa;
  const int sigs[] = { SIGTERM, SIGINT, SIGCHLD };
  size_t i;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset (&sa.sa_mask);
  sa.sa_flags = 0;              /* no SA_RESTART: poll sees EINTR */
  for (i = 0; i < sizeof sigs / sizeof sigs[0]; ++i)
    if (sigaction (sigs[i], &sa, NULL) == -1)
      return -1;
  return 0;
}

/* Refuse anything but loopback for TCP: the harness never listens on
 * a public interface.
 */
static bool
is_loopback (int fd)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;

  if (getsockname (fd, (struct sockaddr *) &ss, &len) == -1)
    return false;
  if (ss.ss_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *) &ss;
    return (ntohl (sin->sin_addr.s_addr) >> 24) == 127;
  }
  if (ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) &ss;
    return IN6_IS_ADDR_LOOPBACK (&sin6->sin6_addr);
  }
  return false;
}

/* The same, from the command line, before anything is bound. */
static bool
names_loopback (const char *host_port)
{
  const char *colon = strrchr (host_port, ':');
  size_t n = colon ? (size_t) (colon - host_port) : strlen (host_port);
  char host[256];

  if (n >= 2 && host_port[0] == '[' && host_port[n - 1] == ']') {
    host_port++;
    n -= 2;
  }
  if (n >= sizeof host)
    return false;
  memcpy (host, host_port, n);
  host[n] = '\0';
  return strcmp (host, "localhost") == 0 || strcmp (host, "::1") == 0 ||
    strncmp (host, "127.", 4) == 0;
}

static int
write_pidfile (const char *path)
{
  char tmp[4096];
  FILE *fp;
  int n;

  n = snprintf (tmp, sizeof tmp, "%s.tmp", path);
  if (n < 0 || (size_t) n >= sizeof tmp) {
    errno = ENAMETOOLONG;
    return -1;
  }
  fp = fopen (tmp, "w");
  if (fp == NULL)
    return -1;
  fprintf (fp, "%ld\n", (long) getpid ());
  if (fclose (fp) == EOF) {
    unlink (tmp);
    return -1;
  }
  /* rename is atomic: a waiting test never sees a partial pidfile. */
  if (rename (tmp, path) == -1) {
    unlink (tmp);
    return -1;
  }
  return 0;
}

struct children {
  pid_t *pids;
  size_t n, cap;
};

static void
children_add (struct children *c, pid_t pid)
{
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 16;
    c->pids = xrealloc (c->pids, c->cap * sizeof *c->pids);
  }
  c->pids[c->n++] = pid;
}

static void
children_remove (struct children *c, pid_t pid)
{
  size_t i;

  for (i = 0; i < c->n; ++i)
    if (c->pids[i] == pid) {
      c->pids[i] = c->pids[--c->n];
      return;
    }
}

static void
reap (struct children *c, bool block)
{
  pid_t pid;
  int st;

  while ((pid = waitpid (-1, &st, block ? 0 : WNOHANG)) > 0) {
    children_remove (c, pid);
    if (WIFEXITED (st))
      log_debug ("connection process %ld exited with status %d",
                 (long) pid, WEXITSTATUS (st));
    else if (WIFSIGNALED (st))
      log_debug ("connection process %ld killed by signal %d",
                 (long) pid, WTERMSIG (st));
  }
}

static void
close_sig_pipe (void)
{
  if (sig_pipe[0] >= 0)
    close (sig_pipe[0]);
  if (sig_pipe[1] >= 0)
    close (sig_pipe[1]);
  sig_pipe[0] = sig_pipe[1] = -1;
}

/* Listen where cfg says and write the pidfile.  Returns the listening
 * fd, or -1 (logged).
 */
static int
open_listener (const struct listener_cfg *cfg)
{
  const char *where = cfg->unix_path ? cfg->unix_path : cfg->tcp;
  int lfd;

  if (cfg->tcp && !names_loopback (cfg->tcp)) {
    log_msg ("%s is not a loopback address; refusing to listen there",
             cfg->tcp);
    return -1;
  }
  if (cfg->unix_path)
    lfd = tport_listen_unix (cfg->unix_path);
  else
    lfd = tport_listen_tcp (cfg->tcp);
  if (lfd == -1) {
    log_msg ("cannot listen on %s: %m", where);
    return -1;
  }
  if (cfg->tcp && !is_loopback (lfd)) {
    log_msg ("%s is not a loopback address; refusing to listen there",
             cfg->tcp);
    goto fail;
  }
  if (cfg->pidfile && write_pidfile (cfg->pidfile) == -1) {
    log_msg ("cannot write pidfile %s: %m", cfg->pidfile);
    goto fail;
  }
  log_debug ("listening on %s", where);
  return lfd;

 fail:
  close (lfd);
  if (cfg->unix_path)
    unlink (cfg->unix_path);
  return -1;
}

/* Give connections still running a moment to finish on their own (a
 * client that has just disconnected), then end them: the test that
 * started us is done with them.
 */
static void
end_children (struct children *kids)
{
  size_t i;

  for (i = 0; i < 40 && kids->n > 0; ++i) {
    reap (kids, false);
    if (kids->n > 0)
      poll (NULL, 0, 50);
  }
  if (kids->n > 0)
    log_debug ("ending %zu connection(s) still running", kids->n);
  for (i = 0; i < kids->n; ++i)
    kill (kids->pids[i], SIGTERM);
  while (kids->n > 0) {
    size_t before = kids->n;
    reap (kids, true);
    if (kids->n == before)      /* ECHILD: nothing left to wait for */
      break;
  }
  free (kids->pids);
}

static void
default_handlers (void)
{
  signal (SIGTERM, SIG_DFL);
  signal (SIGINT, SIG_DFL);
  signal (SIGCHLD, SIG_DFL);
}

int
listener_run (const struct listener_cfg *cfg, listener_fn fn, void *opaque,
              bool *is_child)
{
  struct children kids = { NULL, 0, 0 };
  int lfd, status = 0;

  *is_child = false;

  if (pipe2 (sig_pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
    log_msg ("pipe: %m");
    return 1;
  }
  if (set_handlers (on_signal) == -1) {
    log_msg ("sigaction: %m");
    close_sig_pipe ();
    return 1;
  }
  lfd = open_listener (cfg);
  if (lfd == -1) {
    status = 1;
    goto out;
  }

  while (!stop_requested) {
    struct pollfd pfd[2] = {
      { .fd = lfd, .events = POLLIN },
      { .fd = sig_pipe[0], .events = POLLIN },
    };
    char drain[64];
    int fd;
    pid_t pid;

    if (poll (pfd, 2, -1) == -1) {
      if (errno == EINTR)
        continue;
      log_msg ("poll: %m");
      status = 1;
      break;
    }
    if (pfd[1].revents)
      while (read (sig_pipe[0], drain, sizeof drain) > 0)
        ;
    reap (&kids, false);
    if (stop_requested)
      break;
    if (!(pfd[0].revents & POLLIN))
      continue;

    fd = accept4 (lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd == -1) {
      if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
        log_msg ("accept: %m");
      continue;
    }

    if (cfg->once) {
      log_debug ("accepted a connection (--once)");
      status = fn (fd, opaque);
      break;
    }

    pid = fork ();
    if (pid == -1) {
      log_msg ("fork: %m");
      close (fd);
      continue;
    }
    if (pid == 0) {
      /* Child: default signal dispositions, no listener. */
      default_handlers ();
      close (lfd);
      close_sig_pipe ();
      free (kids.pids);
      *is_child = true;
      return fn (fd, opaque);
    }
    close (fd);
    log_debug ("accepted a connection: process %ld", (long) pid);
    children_add (&kids, pid);
  }

  if (stop_requested)
    log_debug ("shutting down");
  close (lfd);
  if (cfg->unix_path)
    unlink (cfg->unix_path);
  if (cfg->pidfile)
    unlink (cfg->pidfile);

 out:
  end_children (&kids);
  default_handlers ();
  close_sig_pipe ();
  return status;
}
