/* Replay driver for the fuzz targets without libFuzzer: runs
 * LLVMFuzzerTestOneInput on every file named (directories are read one
 * level deep), so 'make check' keeps every corpus and crash input as a
 * regression test.  Prints TAP, one line per input.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 */

#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static unsigned n;

static int
run_file (const char *path)
{
  FILE *fp = fopen (path, "rb");
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  size_t r;

  if (fp == NULL) {
    printf ("not ok %u - %s: cannot open\n", ++n, path);
    return -1;
  }
  do {
    if (len == cap) {
      uint8_t *nb;
      cap = cap ? cap * 2 : 4096;
      nb = realloc (buf, cap);
      if (nb == NULL) {
        free (buf);
        fclose (fp);
        printf ("not ok %u - %s: out of memory\n", ++n, path);
        return -1;
      }
      buf = nb;
    }
    r = fread (buf + len, 1, cap - len, fp);
    len += r;
  } while (r > 0);
  fclose (fp);

  /* Copy to an exact-size allocation so that reads past the end are
   * caught by ASan or valgrind.
   */
  {
    uint8_t *exact = malloc (len ? len : 1);
    if (exact == NULL) {
      free (buf);
      return -1;
    }
    memcpy (exact, buf, len);
    free (buf);
    LLVMFuzzerTestOneInput (exact, len);
    free (exact);
  }
  printf ("ok %u - %s\n", ++n, path);
  fflush (stdout);
  return 0;
}

int
main (int argc, char *argv[])
{
  int i, failed = 0;

  for (i = 1; i < argc; ++i) {
    struct stat st;

    if (stat (argv[i], &st) == 0 && S_ISDIR (st.st_mode)) {
      struct dirent **ents;
      int k, m = scandir (argv[i], &ents, NULL, alphasort);

      for (k = 0; k < m; ++k) {
        if (ents[k]->d_name[0] != '.') {
          char path[4096];
          snprintf (path, sizeof path, "%s/%s", argv[i], ents[k]->d_name);
          if (run_file (path) == -1)
            failed++;
        }
        free (ents[k]);
      }
      if (m >= 0)
        free (ents);
    }
    else if (run_file (argv[i]) == -1)
      failed++;
  }
  printf ("1..%u\n", n);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
