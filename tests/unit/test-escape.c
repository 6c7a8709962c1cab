/* Unit tests for filters/tlsguard/escape.c: the log form and the JSON
 * form of client-controlled strings.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Output is TAP (srunner_set_tap), read by tap-driver.sh.
 */

#include <config.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tap-runner.h"

#include "escape.h"

/* --- log form -------------------------------------------------------- */

static const char *
quote (const char *s, size_t n, size_t full)
{
  static char buf[TG_LOG_QUOTED_MAX];
  size_t len = tg_log_quote (buf, sizeof buf, s, n, full);

  ck_assert_uint_eq (len, strlen (buf));
  return buf;
}

#define QUOTE(lit) quote ((lit), sizeof (lit) - 1, sizeof (lit) - 1)

START_TEST (log_plain_ascii_as_is)
{
  ck_assert_str_eq (QUOTE (""), "\"\"");
  ck_assert_str_eq (QUOTE ("disk-1.img"), "\"disk-1.img\"");
  ck_assert_str_eq (QUOTE (" !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~"),
                    "\" !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~\"");
}
END_TEST

START_TEST (log_quote_backslash_controls_escaped)
{
  ck_assert_str_eq (QUOTE ("a\"b"), "\"a\\x22b\"");
  ck_assert_str_eq (QUOTE ("a\\b"), "\"a\\x5cb\"");
  ck_assert_str_eq (QUOTE ("\n\r\t\x1b[31m\x7f"),
                    "\"\\x0a\\x0d\\x09\\x1b[31m\\x7f\"");
  ck_assert_str_eq (QUOTE ("\xc3\xa9\xff\x80"), "\"\\xc3\\xa9\\xff\\x80\"");
  /* An embedded NUL, when a length says it is there. */
  ck_assert_str_eq (quote ("a\0b", 3, 3), "\"a\\x00b\"");
}
END_TEST

START_TEST (log_every_byte)
{
  /* Every byte value maps to itself or to exactly \xHH, and nothing
   * outside printable ASCII ever comes out.
   */
  unsigned c;

  for (c = 0; c < 256; ++c) {
    char in = (char) c, want[8];
    const char *got = quote (&in, 1, 1);
    size_t i;

    if (c >= 0x20 && c <= 0x7e && c != '"' && c != '\\')
      snprintf (want, sizeof want, "\"%c\"", c);
    else
      snprintf (want, sizeof want, "\"\\x%02x\"", c);
    ck_assert_str_eq (got, want);
    for (i = 0; got[i]; ++i)
      ck_assert (got[i] >= 0x20 && got[i] <= 0x7e);
  }
}
END_TEST

START_TEST (log_forged_line_stays_one_line)
{
  static const char name[] =
    "x\nnbdkit: memory.0: error: tlsguard: allowing block status on "
    "export \"\" for 10.0.0.1";
  const char *got = QUOTE (name);

  ck_assert_ptr_null (strchr (got, '\n'));
  ck_assert_str_eq (got,
    "\"x\\x0anbdkit: memory.0: error: tlsguard: allowing block status on "
    "export \\x22\\x22 for 10.0.0.1\"");
}
END_TEST

START_TEST (log_cut_at_256_with_length)
{
  char name[5000], want[600];
  const char *got;

  memset (name, 'a', sizeof name);
  got = quote (name, sizeof name, sizeof name);
  want[0] = '"';
  memset (want + 1, 'a', 256);
  strcpy (want + 257, "\"... (5000 bytes)");
  ck_assert_str_eq (got, want);

  /* Exactly 256 bytes: not cut. */
  got = quote (name, 256, 256);
  ck_assert_uint_eq (strlen (got), 258);
  ck_assert_ptr_null (strstr (got, "..."));

  /* 257: cut. */
  got = quote (name, 257, 257);
  ck_assert_ptr_nonnull (strstr (got, "\"... (257 bytes)"));

  /* A copy already cut to 64 bytes of a 4096-byte original. */
  got = quote (name, 64, 4096);
  ck_assert_uint_eq (strlen (got), 66 + strlen ("... (4096 bytes)"));
  ck_assert_ptr_nonnull (strstr (got, "\"... (4096 bytes)"));
}
END_TEST

START_TEST (log_worst_case_fits)
{
  char name[4096];
  char buf[TG_LOG_QUOTED_MAX];
  size_t len;

  memset (name, '\n', sizeof name);
  len = tg_log_quote (buf, sizeof buf, name, sizeof name, sizeof name);
  ck_assert_uint_eq (len, 2 + 4 * 256 + strlen ("... (4096 bytes)"));
  ck_assert_uint_lt (len, sizeof buf);
}
END_TEST

START_TEST (log_small_buffer_and_null)
{
  char buf[8];

  ck_assert_uint_eq (tg_log_quote (buf, sizeof buf, "abcdefghij", 10, 10), 7);
  ck_assert_uint_eq (strlen (buf), 7);
  ck_assert_str_eq (buf, "\"abcdef");
  ck_assert_uint_eq (tg_log_quote (buf, sizeof buf, NULL, 5, 5), 2);
  ck_assert_str_eq (buf, "\"\"");
  ck_assert_uint_eq (tg_log_quote (buf, 0, "a", 1, 1), 0);
}
END_TEST

/* --- JSON form --------------------------------------------------------- */

static char json_out[6 * 8192 + 16];

static const char *
json (const char *s, size_t n)
{
  struct tg_buf b;

  tg_buf_init (&b, json_out, sizeof json_out - 1);
  tg_buf_json_string (&b, s, n);
  ck_assert (!b.overflow);
  ck_assert_uint_le (b.len, TG_JSON_STRING_MAX (n));
  json_out[b.len] = '\0';
  return json_out;
}

#define JSON(lit) json ((lit), sizeof (lit) - 1)

/* The same without assertions, for the loop below. */
static const char *
json_fast (const char *s, size_t n)
{
  struct tg_buf b;

  tg_buf_init (&b, json_out, sizeof json_out - 1);
  tg_buf_json_string (&b, s, n);
  json_out[b.overflow ? 0 : b.len] = '\0';
  return json_out;
}

START_TEST (json_ascii)
{
  ck_assert_str_eq (JSON (""), "\"\"");
  ck_assert_str_eq (JSON ("disk"), "\"disk\"");
  ck_assert_str_eq (JSON ("a\"b\\c/"), "\"a\\\"b\\\\c/\"");
  ck_assert_str_eq (JSON ("\n\x1b\x7f\x01"),
                    "\"\\u000a\\u001b\\u007f\\u0001\"");
  ck_assert_str_eq (json ("\0", 1), "\"\\u0000\"");
}
END_TEST

START_TEST (json_utf8_as_code_points)
{
  ck_assert_str_eq (JSON ("caf\xc3\xa9"), "\"caf\\u00e9\"");       /* é */
  ck_assert_str_eq (JSON ("\xc2\x9b"), "\"\\u009b\"");             /* C1 CSI */
  ck_assert_str_eq (JSON ("\xe2\x82\xac"), "\"\\u20ac\"");         /* € */
  ck_assert_str_eq (JSON ("\xef\xbf\xbf"), "\"\\uffff\"");
  ck_assert_str_eq (JSON ("\xf0\x9f\x98\x80"), "\"\\ud83d\\ude00\""); /* 😀 */
  ck_assert_str_eq (JSON ("\xf4\x8f\xbf\xbf"), "\"\\udbff\\udfff\"");
  ck_assert_str_eq (JSON ("\xe2\x80\xa8"), "\"\\u2028\"");
}
END_TEST

START_TEST (json_invalid_bytes_surrogateescape)
{
  /* Stray continuation, bad lead bytes. */
  ck_assert_str_eq (JSON ("\x80"), "\"\\udc80\"");
  ck_assert_str_eq (JSON ("\xff\xfe"), "\"\\udcff\\udcfe\"");
  ck_assert_str_eq (JSON ("\xc0\xaf"), "\"\\udcc0\\udcaf\"");     /* overlong / */
  ck_assert_str_eq (JSON ("\xe0\x80\xaf"),
                    "\"\\udce0\\udc80\\udcaf\"");                 /* overlong */
  ck_assert_str_eq (JSON ("\xed\xa0\x80"),
                    "\"\\udced\\udca0\\udc80\"");                 /* U+D800 */
  ck_assert_str_eq (JSON ("\xed\xb2\x80"),
                    "\"\\udced\\udcb2\\udc80\"");                 /* U+DC80 */
  ck_assert_str_eq (JSON ("\xf4\x90\x80\x80"),
                    "\"\\udcf4\\udc90\\udc80\\udc80\"");          /* > U+10FFFF */
  ck_assert_str_eq (JSON ("\xf5\x80\x80\x80"),
                    "\"\\udcf5\\udc80\\udc80\\udc80\"");
  /* Truncated sequences, then valid text again. */
  ck_assert_str_eq (JSON ("\xe2\x82"), "\"\\udce2\\udc82\"");
  ck_assert_str_eq (JSON ("\xe2\x82x\xc3\xa9"),
                    "\"\\udce2\\udc82x\\u00e9\"");
  ck_assert_str_eq (JSON ("\xf0\x9f\x98"), "\"\\udcf0\\udc9f\\udc98\"");
}
END_TEST

/* A small JSON string decoder (only what tg_buf_json_string writes)
 * with Python's surrogateescape encoder, to check the round trip over
 * many inputs.
 */
/* (Check's assertions cost a syscall each in fork mode: the decoder
 * returns (size_t) -1 on anything malformed instead.)
 */
#define REQ(cond) do { if (!(cond)) return (size_t) -1; } while (0)

static size_t
decode_json_bytes (const char *j, unsigned char *out)
{
  size_t o = 0;
  const char *p = j;

  REQ (*p == '"');
  p++;
  while (*p != '"') {
    unsigned u, u2, cp;

    REQ (*p >= 0x20 && *p <= 0x7e);
    if (*p != '\\') {
      out[o++] = *p++;
      continue;
    }
    p++;
    if (*p == '"' || *p == '\\') {
      out[o++] = *p++;
      continue;
    }
    REQ (*p == 'u');
    REQ (sscanf (p + 1, "%4x", &u) == 1);
    p += 5;
    if (u >= 0xd800 && u <= 0xdbff) {
      REQ (p[0] == '\\' && p[1] == 'u');
      REQ (sscanf (p + 2, "%4x", &u2) == 1);
      REQ (u2 >= 0xdc00 && u2 <= 0xdfff);
      p += 6;
      cp = 0x10000 + ((u - 0xd800) << 10) + (u2 - 0xdc00);
    }
    else if (u >= 0xdc00 && u <= 0xdfff) {
      /* A lone low surrogate: surrogateescape of one byte. */
      REQ (u >= 0xdc80 && u <= 0xdcff);
      out[o++] = u - 0xdc00;
      continue;
    }
    else
      cp = u;
    /* Encode cp as UTF-8. */
    if (cp < 0x80)
      out[o++] = cp;
    else if (cp < 0x800) {
      out[o++] = 0xc0 | (cp >> 6);
      out[o++] = 0x80 | (cp & 0x3f);
    }
    else if (cp < 0x10000) {
      out[o++] = 0xe0 | (cp >> 12);
      out[o++] = 0x80 | ((cp >> 6) & 0x3f);
      out[o++] = 0x80 | (cp & 0x3f);
    }
    else {
      out[o++] = 0xf0 | (cp >> 18);
      out[o++] = 0x80 | ((cp >> 12) & 0x3f);
      out[o++] = 0x80 | ((cp >> 6) & 0x3f);
      out[o++] = 0x80 | (cp & 0x3f);
    }
  }
  REQ (p[1] == '\0');
  return o;
}

START_TEST (json_round_trip_random)
{
  unsigned char in[64], out[64 * 4];
  unsigned seed = 12345;
  int iter, bad = 0;

  for (iter = 0; iter < 20000; ++iter) {
    size_t n = (seed = seed * 1103515245 + 12345) % sizeof in, i, o;

    for (i = 0; i < n; ++i) {
      seed = seed * 1103515245 + 12345;
      /* Bias toward bytes that make (or nearly make) UTF-8. */
      switch ((seed >> 16) % 4) {
      case 0: in[i] = seed >> 24; break;
      case 1: in[i] = 0x80 | ((seed >> 20) & 0x3f); break;
      case 2: in[i] = 0xc0 | ((seed >> 20) & 0x3f); break;
      default: in[i] = 0x20 + (seed >> 20) % 95; break;
      }
    }
    o = decode_json_bytes (json_fast ((const char *) in, n), out);
    if (o != n || memcmp (in, out, n) != 0)
      bad++;
  }
  ck_assert_int_eq (bad, 0);
}
END_TEST

START_TEST (json_worst_case_bound)
{
  char in[4096];
  struct tg_buf b;
  static char out[TG_JSON_STRING_MAX (4096)];

  memset (in, 0x01, sizeof in);
  tg_buf_init (&b, out, sizeof out);
  tg_buf_json_string (&b, in, sizeof in);
  ck_assert (!b.overflow);
  ck_assert_uint_eq (b.len, TG_JSON_STRING_MAX (4096));

  /* One byte less of room: overflow, reported. */
  tg_buf_init (&b, out, sizeof out - 1);
  tg_buf_json_string (&b, in, sizeof in);
  ck_assert (b.overflow);
}
END_TEST

START_TEST (utf8_sequence_lengths)
{
  unsigned cp;

  ck_assert_uint_eq (tg_utf8_sequence ((const unsigned char *) "A", 1, &cp), 1);
  ck_assert_uint_eq (cp, 'A');
  ck_assert_uint_eq (tg_utf8_sequence ((const unsigned char *) "\xc2\x80", 2,
                                       &cp), 2);
  ck_assert_uint_eq (cp, 0x80);
  ck_assert_uint_eq (tg_utf8_sequence ((const unsigned char *) "\xc2\x80", 1,
                                       &cp), 0);
  ck_assert_uint_eq (tg_utf8_sequence ((const unsigned char *) "\xed\x9f\xbf",
                                       3, &cp), 3);
  ck_assert_uint_eq (cp, 0xd7ff);
  ck_assert_uint_eq (tg_utf8_sequence ((const unsigned char *) "\xee\x80\x80",
                                       3, &cp), 3);
  ck_assert_uint_eq (cp, 0xe000);
  ck_assert_uint_eq (tg_utf8_sequence ((const unsigned char *)
                                       "\xf0\x90\x80\x80", 4, &cp), 4);
  ck_assert_uint_eq (cp, 0x10000);
  ck_assert_uint_eq (tg_utf8_sequence ((const unsigned char *) "\xc1\xbf", 2,
                                       &cp), 0);
  ck_assert_uint_eq (tg_utf8_sequence ((const unsigned char *) "\xe0\x9f\xbf",
                                       3, &cp), 0);
  ck_assert_uint_eq (tg_utf8_sequence ((const unsigned char *) "\xc2\xc0", 2,
                                       &cp), 0);
}
END_TEST

/* --- buffer -------------------------------------------------------------- */

START_TEST (buf_all_or_nothing)
{
  char mem[8];
  struct tg_buf b;

  tg_buf_init (&b, mem, sizeof mem);
  tg_buf_str (&b, "abcd");
  tg_buf_u64 (&b, 123);
  ck_assert_uint_eq (b.len, 7);
  ck_assert (!b.overflow);
  tg_buf_str (&b, "xy");        /* does not fit */
  ck_assert (b.overflow);
  ck_assert_uint_eq (b.len, 7);
  tg_buf_str (&b, "z");         /* would fit, but the buffer overflowed */
  ck_assert_uint_eq (b.len, 7);
  ck_assert (memcmp (mem, "abcd123", 7) == 0);

  tg_buf_init (&b, mem, sizeof mem);
  tg_buf_i64 (&b, -42);
  ck_assert_uint_eq (b.len, 3);
  ck_assert (memcmp (mem, "-42", 3) == 0);
}
END_TEST

static const struct tap_row escape_tests[] = {
  TAP_CASE ("log"),
  TAP_TEST (log_plain_ascii_as_is),
  TAP_TEST (log_quote_backslash_controls_escaped),
  TAP_TEST (log_every_byte),
  TAP_TEST (log_forged_line_stays_one_line),
  TAP_TEST (log_cut_at_256_with_length),
  TAP_TEST (log_worst_case_fits),
  TAP_TEST (log_small_buffer_and_null),
  TAP_CASE ("json", .timeout = 120),
  TAP_TEST (json_ascii),
  TAP_TEST (json_utf8_as_code_points),
  TAP_TEST (json_invalid_bytes_surrogateescape),
  TAP_TEST (json_round_trip_random),
  TAP_TEST (json_worst_case_bound),
  TAP_TEST (utf8_sequence_lengths),
  TAP_CASE ("buf"),
  TAP_TEST (buf_all_or_nothing),
};

TAP_MAIN ("escape", escape_tests)
