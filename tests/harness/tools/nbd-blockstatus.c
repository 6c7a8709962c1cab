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
#include <getopt.h>

#include <libnbd.h>

static void __attribute__((noreturn))
usage (FILE *fp, int status)
{
  fprintf (fp,
"usage: nbd-blockstatus --unix SOCKET [--tls-psk FILE [--tls-username NAME] | --tls-certs DIR]\n"
"              [--export NAME] [--no-meta] [--read] [--chunk BYTES]\n"
"Connect with libnbd (TLS required when credentials are given), ask for\n"
"base:allocation, and print block status extents and a read checksum.\n");
  exit (status);
}

static const char *
errname (int err)
{
  const char *s = err ? strerrorname_np (err) : NULL;
  return s ? s : "unknown";
}

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

int
main (int argc, char *argv[])
{
  enum { OPT_HELP = 256, OPT_UNIX, OPT_PSK, OPT_USER, OPT_CERTS,
         OPT_EXPORT, OPT_NO_META, OPT_READ, OPT_CHUNK };
  static const struct option longopts[] = {
    { "help", no_argument, NULL, OPT_HELP },
    { "unix", required_argument, NULL, OPT_UNIX },
    { "tls-psk", required_argument, NULL, OPT_PSK },
    { "tls-username", required_argument, NULL, OPT_USER },
    { "tls-certs", required_argument, NULL, OPT_CERTS },
    { "export", required_argument, NULL, OPT_EXPORT },
    { "no-meta", no_argument, NULL, OPT_NO_META },
    { "read", no_argument, NULL, OPT_READ },
    { "chunk", required_argument, NULL, OPT_CHUNK },
    { NULL }
  };
  const char *sock = NULL, *psk = NULL, *user = "qemu", *certs = NULL;
  const char *exportname = "";
  bool meta = true, do_read = false;
  uint64_t chunk = 1 << 20;
  struct nbd_handle *nbd;
  int64_t size;
  uint64_t off;
  int c;

  while ((c = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
    case OPT_HELP: usage (stdout, EXIT_SUCCESS);
    case OPT_UNIX: sock = optarg; break;
    case OPT_PSK: psk = optarg; break;
    case OPT_USER: user = optarg; break;
    case OPT_CERTS: certs = optarg; break;
    case OPT_EXPORT: exportname = optarg; break;
    case OPT_NO_META: meta = false; break;
    case OPT_READ: do_read = true; break;
    case OPT_CHUNK:
      chunk = strtoull (optarg, NULL, 0);
      if (chunk == 0 || chunk > UINT32_MAX) {
        fprintf (stderr, "nbd-blockstatus: --chunk: out of range: %s\n", optarg);
        exit (EXIT_FAILURE);
      }
      break;
    default: usage (stderr, EXIT_FAILURE);
    }
  }
  if (sock == NULL || optind != argc || (psk && certs))
    usage (stderr, EXIT_FAILURE);

  nbd = nbd_create ();
  if (nbd == NULL) goto fail;
  if (nbd_set_export_name (nbd, exportname) == -1) goto fail;
  if (psk || certs) {
    if (nbd_set_tls (nbd, LIBNBD_TLS_REQUIRE) == -1) goto fail;
    if (psk) {
      if (nbd_set_tls_psk_file (nbd, psk) == -1) goto fail;
      if (nbd_set_tls_username (nbd, user) == -1) goto fail;
    }
    else if (nbd_set_tls_certificates (nbd, certs) == -1) goto fail;
  }
  else if (nbd_set_tls (nbd, LIBNBD_TLS_DISABLE) == -1) goto fail;
  if (meta && nbd_add_meta_context (nbd, LIBNBD_CONTEXT_BASE_ALLOCATION) == -1)
    goto fail;
  if (nbd_connect_unix (nbd, sock) == -1) goto fail;

  printf ("tls %s\n", nbd_get_tls_negotiated (nbd) == 1 ? "yes" : "no");
  printf ("meta base:allocation %s\n",
          nbd_can_meta_context (nbd, LIBNBD_CONTEXT_BASE_ALLOCATION) == 1
          ? "yes" : "no");

  size = nbd_get_size (nbd);
  if (size == -1) goto fail;

  for (off = 0; off < (uint64_t) size; ) {
    struct walk w = { .next = off };
    uint64_t len = (uint64_t) size - off < chunk ? (uint64_t) size - off : chunk;

    if (nbd_block_status (nbd, len, off,
                          (nbd_extent_callback) { .callback = extent_cb,
                                                  .user_data = &w },
                          0) == -1) {
      printf ("block-status error %s\n", errname (nbd_get_errno ()));
      fprintf (stderr, "nbd-blockstatus: %s\n", nbd_get_error ());
      break;
    }
    if (w.next <= off) {
      printf ("block-status error no-progress\n");
      break;
    }
    off = w.next;
  }

  if (do_read) {
    static char buf[1 << 20];
    uint32_t h = 2166136261u;

    for (off = 0; off < (uint64_t) size; ) {
      uint64_t len = (uint64_t) size - off < sizeof buf
        ? (uint64_t) size - off : sizeof buf;
      size_t i;

      if (nbd_pread (nbd, buf, len, off, 0) == -1) {
        printf ("read error %s\n", errname (nbd_get_errno ()));
        fprintf (stderr, "nbd-blockstatus: %s\n", nbd_get_error ());
        break;
      }
      for (i = 0; i < len; ++i) {
        h ^= (unsigned char) buf[i];
        h *= 16777619u;
      }
      off += len;
    }
    if (off == (uint64_t) size)
      printf ("read 0 %" PRIi64 " fnv1a=%08" PRIx32 "\n", size, h);
  }

  nbd_shutdown (nbd, 0);
  nbd_close (nbd);
  return EXIT_SUCCESS;

 fail:
  fprintf (stderr, "nbd-blockstatus: %s\n", nbd_get_error ());
  printf ("connect error %s\n", errname (nbd_get_errno ()));
  nbd_close (nbd);
  return EXIT_FAILURE;
}
