/* Preloaded into nbdkit (after the ASan and UBSan runtimes) in
 * --enable-sanitizers test runs only.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * dlclose is a no-op, so that plugins and filters stay mapped until
 * exit and LeakSanitizer can name the module of every leaked
 * allocation (and lsan.supp can match them).  valgrind runs need no
 * such help: nbdkit skips dlclose under valgrind.
 *
 * freelocale is a no-op: with the ASan runtime preloaded into nbdkit
 * -v, after a client has connected, libp11-kit's ELF destructor
 * (freelocale of the locale it made with newlocale at load) blocks
 * forever at exit on glibc's __libc_setlocale_lock, with nbdkit down to
 * its main thread (gdb: _dl_fini -> libp11-kit -> __freelocale ->
 * pthread_rwlock_wrlock).  It needs the preloaded runtimes, -v and a
 * sanitizer-built filter: the same run with nbdkit's nofilter filter,
 * or without -v, or without the preload, exits normally.  We have not
 * found which code leaves the lock held; tlsguard itself calls no
 * locale function.  Skipping that one free at process exit lets the
 * sanitizer runs finish; normal and valgrind runs do not use this shim.
 */

#include <config.h>

#include <locale.h>

int dlclose (void *handle);

int
dlclose (void *handle)
{
  (void) handle;
  return 0;
}

void
freelocale (locale_t locale)
{
  (void) locale;
}
