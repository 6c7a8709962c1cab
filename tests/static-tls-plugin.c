/* A plugin that takes most of glibc's static TLS reserve, for
 * test-static-tls.sh.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * glibc keeps a small reserve of static TLS for the initial-exec
 * thread-locals of modules loaded with dlopen.  Its size depends on
 * glibc and on what the program already uses: with nbdkit 1.32.5 on
 * Debian 12 a plugin with 1,700 bytes of them loads and one with 1,800
 * does not; with nbdkit 1.42.3 on Debian 13, 1,536 bytes load and
 * 1,700 do not.  So the plugin is built in several sizes
 * (STATIC_TLS_BYTES) and test-static-tls.sh uses the largest that
 * loads: it leaves too little of the reserve for any other module that
 * wants some, which then fails to load with "cannot allocate memory in
 * static TLS block".  The plugin serves 1 MiB of zeroes, and reports a size
 * one byte larger when its thread-local block was written on the
 * connection's thread, so that a client can see it in use.
 */

#include <config.h>

#include <stdint.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

#ifndef STATIC_TLS_BYTES
#define STATIC_TLS_BYTES 1700
#endif

static __thread char block[STATIC_TLS_BYTES]
  __attribute__ ((tls_model ("initial-exec")));

static void *
stls_open (int readonly)
{
  block[sizeof block - 1] = 1;
  return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t
stls_get_size (void *handle)
{
  return 1048576 + block[sizeof block - 1];
}

static int
stls_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
            uint32_t flags)
{
  memset (buf, 0, count);
  return 0;
}

static struct nbdkit_plugin plugin = {
  .name              = "static-tls",
  .open              = stls_open,
  .get_size          = stls_get_size,
  .pread             = stls_pread,
};

NBDKIT_REGISTER_PLUGIN (plugin)
