/* nbd-blockstatus: a libnbd client that prints what block status and reads
 * return, one line each, so that shell tests can compare exact output.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Output lines:
 *   tls yes|no
 *   meta base:allocation yes|no
 *   extent OFFSET LENGTH FLAGS       (one per extent, in order)
 *   block-status error ERRNO-NAME    (and block status stops)
 *   read OFFSET LENGTH fnv1a=HEX     (with --read)
 *   read error ERRNO-NAME
 */

#include <config.h>

#include <stdbool.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <libnbd.h>

#include "cli.h"

/* What --help and the error messages say the tool is. */
static const struct cli_tool tool = {
  .name = "nbd-blockstatus",
  .about =
  "Connect with libnbd (TLS required when credentials are given), ask for\n"
  "base:allocation, and print block status extents and a read checksum.\n",
};

static const char *
errname (int err)
{
  const char *s = err ? strerrorname_np (err) : NULL;
  return s ? s : "unknown";
}

static const char *sock, *exportname = "";
static bool meta = true, do_read = false;
static uint64_t chunk = 1 << 20;

struct walk {
  uint64_t next;                /* next offset expected */
};

static int
extent_cb (void *user_data, const char *metacontext, uint64_t offset,
           uint32_t *entries, size_t nr_entries, int *error)
{
  struct walk *w = user_data;
  size_t i;

  if (strcmp (metacontext, LIBNBD_CONTEXT_BASE_ALLOCATION) != 0)
    return 0;
  w->next = offset;
  for (i = 0; i + 1 < nr_entries; i += 2) {
    printf ("extent %" PRIu64 " %" PRIu32 " %" PRIu32 "\n",
            w->next, entries[i], entries[i+1]);
    w->next += entries[i];
  }
  return 0;
}

/* Print the extents of the whole export, --chunk bytes at a time. */
static void
print_extents (struct nbd_handle *nbd, uint64_t size)
{
  uint64_t off;

  for (off = 0; off < size; ) {
    struct walk w = { .next = off };
    uint64_t len = size - off < chunk ? size - off : chunk;

    if (nbd_block_status (nbd, len, off,
                          (nbd_extent_callback) { .callback = extent_cb,
                                                  .user_data = &w },
                          0) == -1) {
      printf ("block-status error %s\n", errname (nbd_get_errno ()));
      fprintf (stderr, "nbd-blockstatus: %s\n", nbd_get_error ());
      return;
    }
    if (w.next <= off) {
      printf ("block-status error no-progress\n");
      return;
    }
    off = w.next;
  }
}

/* Read the whole export and print its FNV-1a hash. */
static void
print_checksum (struct nbd_handle *nbd, uint64_t size)
{
  static char buf[1 << 20];
  uint32_t h = 2166136261u;
  uint64_t off;

  for (off = 0; off < size; ) {
    uint64_t len = size - off < sizeof buf ? size - off : sizeof buf;
    size_t i;

    if (nbd_pread (nbd, buf, len, off, 0) == -1) {
      printf ("read error %s\n", errname (nbd_get_errno ()));
      fprintf (stderr, "nbd-blockstatus: %s\n", nbd_get_error ());
      return;
    }
    for (i = 0; i < len; ++i) {
      h ^= (unsigned char) buf[i];
      h *= 16777619u;
    }
    off += len;
  }
  printf ("read 0 %" PRIu64 " fnv1a=%08" PRIx32 "\n", size, h);
}

/* Set the handle up for the command line and connect. */
static int
connect_handle (struct nbd_handle *nbd, const struct tport_creds_cfg *tls)
{
  if (nbd_set_export_name (nbd, exportname) == -1)
    return -1;
  if (tls->psk_file) {
    if (nbd_set_tls (nbd, LIBNBD_TLS_REQUIRE) == -1 ||
        nbd_set_tls_psk_file (nbd, tls->psk_file) == -1 ||
        nbd_set_tls_username (nbd, tls->psk_username) == -1)
      return -1;
  }
  else if (tls->x509_dir) {
    if (nbd_set_tls (nbd, LIBNBD_TLS_REQUIRE) == -1 ||
        nbd_set_tls_certificates (nbd, tls->x509_dir) == -1)
      return -1;
  }
  else if (nbd_set_tls (nbd, LIBNBD_TLS_DISABLE) == -1)
    return -1;
  if (meta && nbd_add_meta_context (nbd, LIBNBD_CONTEXT_BASE_ALLOCATION) == -1)
    return -1;
  return nbd_connect_unix (nbd, sock);
}

enum { OPT_UNIX = 256, OPT_EXPORT, OPT_NO_META, OPT_READ, OPT_CHUNK };

static const struct cli_option options[] = {
  { "unix", OPT_UNIX, "SOCKET", "the server's Unix socket",
    NULL, CLI_REQUIRED },
  CLI_OPT_TLS_PSK ("PSK file (TLS required)"),
  CLI_OPT_TLS_USERNAME ("PSK user (default qemu)"),
  CLI_OPT_TLS_CERTS ("X.509: ca-cert.pem, client-cert.pem, client-key.pem\n"
                     "(TLS required)"),
  { "export", OPT_EXPORT, "NAME", "export to open (default \"\")", NULL, 0 },
  { "no-meta", OPT_NO_META, NULL, "do not ask for base:allocation", NULL, 0 },
  { "read", OPT_READ, NULL, "also read the export and print its checksum",
    NULL, 0 },
  { "chunk", OPT_CHUNK, "BYTES",
    "block status requests of at most BYTES (default 1 MiB)", NULL, 0 },
  { NULL },
};

static int
handle_option (int key, const char *arg, void *opaque, struct error *err)
{
  switch (key) {
  case OPT_UNIX: sock = arg; return 0;
  case OPT_EXPORT: exportname = arg; return 0;
  case OPT_NO_META: meta = false; return 0;
  case OPT_READ: do_read = true; return 0;
  case OPT_CHUNK: return cli_uint (arg, 1, UINT32_MAX, &chunk, err);
  }
  return -1;
}

int
main (int argc, char *argv[])
{
  struct cli_common cl;
  struct nbd_handle *nbd;
  int64_t size;

  cli_parse (&tool, options, handle_option, argc, argv, NULL, &cl);

  nbd = nbd_create ();
  if (nbd == NULL || connect_handle (nbd, &cl.tls) == -1)
    goto fail;

  printf ("tls %s\n", nbd_get_tls_negotiated (nbd) == 1 ? "yes" : "no");
  printf ("meta base:allocation %s\n",
          nbd_can_meta_context (nbd, LIBNBD_CONTEXT_BASE_ALLOCATION) == 1
          ? "yes" : "no");
  size = nbd_get_size (nbd);
  if (size == -1)
    goto fail;

  print_extents (nbd, size);
  if (do_read)
    print_checksum (nbd, size);

  nbd_shutdown (nbd, 0);
  nbd_close (nbd);
  return EXIT_SUCCESS;

 fail:
  fprintf (stderr, "nbd-blockstatus: %s\n", nbd_get_error ());
  printf ("connect error %s\n", errname (nbd_get_errno ()));
  nbd_close (nbd);
  return EXIT_FAILURE;
}
