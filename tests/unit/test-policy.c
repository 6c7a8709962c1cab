/* Unit tests for the tlsguard policy layer (filters/tlsguard/policy.c).
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Output is TAP (srunner_set_tap), read by tap-driver.sh.
 */

#include <config.h>

#include <stdbool.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "tap-runner.h"

#include "policy.h"

/* --- tlsguard-extents= parsing ------------------------------------ */

START_TEST (parse_valid)
{
  enum tg_extents_policy p = TG_EXTENTS_ALLOW;

  ck_assert_int_eq (tg_parse_extents_policy ("deny", &p), 0);
  ck_assert_int_eq (p, TG_EXTENTS_DENY);
  ck_assert_int_eq (tg_parse_extents_policy ("hide", &p), 0);
  ck_assert_int_eq (p, TG_EXTENTS_HIDE);
  ck_assert_int_eq (tg_parse_extents_policy ("allow", &p), 0);
  ck_assert_int_eq (p, TG_EXTENTS_ALLOW);
}
END_TEST

START_TEST (parse_invalid)
{
  enum tg_extents_policy p = TG_EXTENTS_HIDE;
  static const char *bad[] = {
    "", "Deny", "DENY", "deny ", " deny", "denyx", "den", "yes", "0", "off",
    "hide\n", "allow=1",
  };
  size_t i;

  for (i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    ck_assert_msg (tg_parse_extents_policy (bad[i], &p) == -1,
                   "accepted '%s'", bad[i]);
    ck_assert_int_eq (p, TG_EXTENTS_HIDE);   /* untouched on error */
  }
  ck_assert_int_eq (tg_parse_extents_policy (NULL, &p), -1);
}
END_TEST

START_TEST (names_round_trip)
{
  enum tg_extents_policy p, q;

  for (p = TG_EXTENTS_DENY; p <= TG_EXTENTS_ALLOW; ++p) {
    ck_assert_int_eq (tg_parse_extents_policy (tg_extents_policy_name (p),
                                               &q), 0);
    ck_assert_int_eq (p, q);
  }
  ck_assert_str_eq (tg_action_name (TG_PASS), "pass");
  ck_assert_str_eq (tg_action_name (TG_DENY), "deny");
  ck_assert_str_eq (tg_action_name (TG_HIDE), "hide");
  ck_assert_str_eq (tg_action_name (TG_AUDIT), "audit");
  ck_assert_str_eq (tg_event_name (TG_EV_OPEN), "open");
  ck_assert_str_eq (tg_transition_name (TG_UPGRADE), "upgrade");
}
END_TEST

/* --- block status decisions --------------------------------------- */

START_TEST (decide_tls_always_passes)
{
  ck_assert_int_eq (tg_decide (TG_EXTENTS_DENY, true, false), TG_PASS);
  ck_assert_int_eq (tg_decide (TG_EXTENTS_HIDE, true, false), TG_PASS);
  ck_assert_int_eq (tg_decide (TG_EXTENTS_ALLOW, true, false), TG_PASS);
  /* A TLS-only export over TLS is an ordinary TLS export. */
  ck_assert_int_eq (tg_decide (TG_EXTENTS_DENY, true, true), TG_PASS);
  ck_assert_int_eq (tg_decide (TG_EXTENTS_HIDE, true, true), TG_PASS);
  ck_assert_int_eq (tg_decide (TG_EXTENTS_ALLOW, true, true), TG_PASS);
}
END_TEST

START_TEST (decide_plaintext_follows_policy)
{
  ck_assert_int_eq (tg_decide (TG_EXTENTS_DENY, false, false), TG_DENY);
  ck_assert_int_eq (tg_decide (TG_EXTENTS_HIDE, false, false), TG_HIDE);
  ck_assert_int_eq (tg_decide (TG_EXTENTS_ALLOW, false, false), TG_AUDIT);
  /* A corrupt policy value fails closed. */
  ck_assert_int_eq (tg_decide ((enum tg_extents_policy) 42, false, false),
                    TG_DENY);
}
END_TEST

START_TEST (decide_tls_only_refused_in_plaintext)
{
  /* Whatever the block status policy, even allow and a corrupt one. */
  ck_assert_int_eq (tg_decide (TG_EXTENTS_DENY, false, true),
                    TG_REFUSE_TLS_ONLY);
  ck_assert_int_eq (tg_decide (TG_EXTENTS_HIDE, false, true),
                    TG_REFUSE_TLS_ONLY);
  ck_assert_int_eq (tg_decide (TG_EXTENTS_ALLOW, false, true),
                    TG_REFUSE_TLS_ONLY);
  ck_assert_int_eq (tg_decide ((enum tg_extents_policy) 42, false, true),
                    TG_REFUSE_TLS_ONLY);
  ck_assert_str_eq (tg_action_name (TG_REFUSE_TLS_ONLY), "refuse-tls-only");
  /* Never opened, so never asked; answer "no extents" if it were. */
  ck_assert_int_eq (tg_can_extents (TG_REFUSE_TLS_ONLY), 0);
}
END_TEST

/* --- TLS-only patterns -------------------------------------------- */

START_TEST (tls_only_none_matches_nothing)
{
  struct tg_tls_only t = { 0 };

  ck_assert_ptr_null (tg_tls_only_match (&t, ""));
  ck_assert_ptr_null (tg_tls_only_match (&t, "secret"));
  ck_assert_ptr_null (tg_tls_only_match (&t, NULL));
  ck_assert (tg_list_shows (&t, false, "secret"));
  ck_assert (tg_list_shows (&t, true, "secret"));
}
END_TEST

START_TEST (tls_only_empty_pattern_refused)
{
  struct tg_tls_only t = { 0 };

  errno = 0;
  ck_assert_int_eq (tg_tls_only_add (&t, ""), -1);
  ck_assert_int_eq (errno, EINVAL);
  errno = 0;
  ck_assert_int_eq (tg_tls_only_add (&t, NULL), -1);
  ck_assert_int_eq (errno, EINVAL);
  ck_assert_uint_eq (t.n, 0);
  ck_assert_ptr_null (tg_tls_only_match (&t, ""));
}
END_TEST

START_TEST (tls_only_globs)
{
  struct tg_tls_only t = { 0 };
  char buf[8];

  /* The pattern is copied: changing the caller's buffer changes nothing. */
  strcpy (buf, "sec*");
  ck_assert_int_eq (tg_tls_only_add (&t, buf), 0);
  strcpy (buf, "xxxx");
  ck_assert_int_eq (tg_tls_only_add (&t, "vm[0-9]"), 0);
  ck_assert_int_eq (tg_tls_only_add (&t, "exact"), 0);

  ck_assert_str_eq (tg_tls_only_match (&t, "secret"), "sec*");
  ck_assert_str_eq (tg_tls_only_match (&t, "sec"), "sec*");
  ck_assert_str_eq (tg_tls_only_match (&t, "sec/ret"), "sec*");
  ck_assert_str_eq (tg_tls_only_match (&t, "vm7"), "vm[0-9]");
  ck_assert_str_eq (tg_tls_only_match (&t, "exact"), "exact");
  /* The whole name must match. */
  ck_assert_ptr_null (tg_tls_only_match (&t, "mysecret"));
  ck_assert_ptr_null (tg_tls_only_match (&t, "vm77"));
  ck_assert_ptr_null (tg_tls_only_match (&t, "exactly"));
  ck_assert_ptr_null (tg_tls_only_match (&t, "exac"));
  ck_assert_ptr_null (tg_tls_only_match (&t, "Secret"));
  /* Only '*'-only patterns match the empty name, and none here does. */
  ck_assert_ptr_null (tg_tls_only_match (&t, ""));
  ck_assert_ptr_null (tg_tls_only_match (&t, NULL));

  /* LIST: hidden in plaintext, shown over TLS. */
  ck_assert (!tg_list_shows (&t, false, "secret"));
  ck_assert (tg_list_shows (&t, true, "secret"));
  ck_assert (tg_list_shows (&t, false, "public"));

  tg_tls_only_free (&t);
  ck_assert_uint_eq (t.n, 0);
  ck_assert_ptr_null (tg_tls_only_match (&t, "secret"));
}
END_TEST

START_TEST (tls_only_star_matches_everything)
{
  struct tg_tls_only t = { 0 };

  ck_assert_int_eq (tg_tls_only_add (&t, "*"), 0);
  ck_assert_str_eq (tg_tls_only_match (&t, ""), "*");
  ck_assert_str_eq (tg_tls_only_match (&t, "a/b"), "*");
  ck_assert_str_eq (tg_tls_only_match (&t, ".hidden"), "*");
  ck_assert_str_eq (tg_tls_only_match (&t, "\n\x1b"), "*");
  ck_assert (!tg_list_shows (&t, false, ""));
  ck_assert (tg_list_shows (&t, true, ""));
  tg_tls_only_free (&t);
}
END_TEST

START_TEST (tls_only_first_match_wins)
{
  struct tg_tls_only t = { 0 };
  unsigned i;
  char p[16];

  for (i = 0; i < 16; ++i) {
    snprintf (p, sizeof p, "e%u*", i);
    ck_assert_int_eq (tg_tls_only_add (&t, p), 0);
  }
  ck_assert_int_eq (tg_tls_only_add (&t, "*"), 0);
  ck_assert_uint_eq (t.n, 17);
  ck_assert_str_eq (tg_tls_only_match (&t, "e15x"), "e1*");
  ck_assert_str_eq (tg_tls_only_match (&t, "e9"), "e9*");
  ck_assert_str_eq (tg_tls_only_match (&t, "zzz"), "*");
  tg_tls_only_free (&t);
}
END_TEST

START_TEST (can_extents_per_action)
{
  /* TLS and allow ask the plugin. */
  ck_assert_int_eq (tg_can_extents (TG_PASS), -1);
  ck_assert_int_eq (tg_can_extents (TG_AUDIT), -1);
  /* deny claims support so that every request reaches .extents. */
  ck_assert_int_eq (tg_can_extents (TG_DENY), 1);
  /* hide claims support too: the filter answers all data and counts. */
  ck_assert_int_eq (tg_can_extents (TG_HIDE), 1);
  ck_assert_int_eq (tg_can_extents ((enum tg_action) 42), 0);
}
END_TEST

/* --- connection epochs -------------------------------------------- */

static bool
epoch_empty (const struct tg_epoch *e)
{
  unsigned i;

  for (i = 0; i < TG_EV_COUNT; ++i)
    if (e->calls[i])
      return false;
  return e->last_export == NULL;
}

START_TEST (start_is_plaintext_and_empty)
{
  struct tg_conn c;

  memset (&c, 0xff, sizeof c);
  tg_conn_start (&c);
  ck_assert (c.started);
  ck_assert (!c.tls);
  ck_assert (!c.upgraded);
  ck_assert (epoch_empty (&c.cur));
}
END_TEST

START_TEST (plaintext_records_in_one_epoch)
{
  struct tg_conn c;

  tg_conn_start (&c);
  ck_assert_int_eq (tg_conn_observe (&c, TG_EV_LIST_EXPORTS, false, NULL,
                                     NULL), TG_SAME_EPOCH);
  ck_assert_int_eq (tg_conn_observe (&c, TG_EV_DEFAULT_EXPORT, false, NULL,
                                     NULL), TG_SAME_EPOCH);
  ck_assert_int_eq (tg_conn_observe (&c, TG_EV_OPEN, false, "a", NULL),
                    TG_SAME_EPOCH);
  ck_assert_int_eq (tg_conn_observe (&c, TG_EV_OPEN, false, "b", NULL),
                    TG_SAME_EPOCH);
  ck_assert (!c.tls);
  ck_assert_uint_eq (c.cur.calls[TG_EV_LIST_EXPORTS], 1);
  ck_assert_uint_eq (c.cur.calls[TG_EV_DEFAULT_EXPORT], 1);
  ck_assert_uint_eq (c.cur.calls[TG_EV_OPEN], 2);
  ck_assert_str_eq (c.cur.last_export, "b");
}
END_TEST

/* The probe trace in NBDKIT-CONVENTIONS.md section 7: LIST, INFO,
 * STARTTLS, LIST (refused by the core, no callback), INFO, GO.
 */
START_TEST (upgrade_drops_plaintext_epoch)
{
  struct tg_conn c;
  struct tg_epoch dropped;

  tg_conn_start (&c);
  tg_conn_observe (&c, TG_EV_LIST_EXPORTS, false, NULL, NULL);
  tg_conn_observe (&c, TG_EV_DEFAULT_EXPORT, false, NULL, NULL);
  tg_conn_observe (&c, TG_EV_OPEN, false, "plain", NULL);

  memset (&dropped, 0, sizeof dropped);
  ck_assert_int_eq (tg_conn_observe (&c, TG_EV_DEFAULT_EXPORT, true, NULL,
                                     &dropped), TG_UPGRADE);
  /* What was dropped is handed back for the log ... */
  ck_assert_uint_eq (dropped.calls[TG_EV_LIST_EXPORTS], 1);
  ck_assert_uint_eq (dropped.calls[TG_EV_DEFAULT_EXPORT], 1);
  ck_assert_uint_eq (dropped.calls[TG_EV_OPEN], 1);
  ck_assert_str_eq (dropped.last_export, "plain");
  /* ... and the connection keeps none of it. */
  ck_assert (c.tls);
  ck_assert (c.upgraded);
  ck_assert_uint_eq (c.cur.calls[TG_EV_LIST_EXPORTS], 0);
  ck_assert_uint_eq (c.cur.calls[TG_EV_DEFAULT_EXPORT], 1);
  ck_assert_uint_eq (c.cur.calls[TG_EV_OPEN], 0);
  ck_assert_ptr_null (c.cur.last_export);

  ck_assert_int_eq (tg_conn_observe (&c, TG_EV_OPEN, true, "", NULL),
                    TG_SAME_EPOCH);
  ck_assert_int_eq (tg_conn_observe (&c, TG_EV_OPEN, true, "", NULL),
                    TG_SAME_EPOCH);
  ck_assert_uint_eq (c.cur.calls[TG_EV_OPEN], 2);
  ck_assert_ptr_null (c.cur.last_export);
}
END_TEST

START_TEST (upgrade_happens_once)
{
  struct tg_conn c;
  enum tg_event ev;

  tg_conn_start (&c);
  tg_conn_observe (&c, TG_EV_OPEN, false, "x", NULL);
  ck_assert_int_eq (tg_conn_observe (&c, TG_EV_LIST_EXPORTS, true, NULL, NULL),
                    TG_UPGRADE);
  for (ev = 0; ev < TG_EV_COUNT; ++ev)
    ck_assert_int_eq (tg_conn_observe (&c, ev, true, "y", NULL),
                      TG_SAME_EPOCH);
}
END_TEST

START_TEST (tls_from_the_start_is_not_an_upgrade)
{
  struct tg_conn c;
  struct tg_epoch dropped;

  /* --tls=require, or a client whose first option is STARTTLS. */
  tg_conn_start (&c);
  memset (&dropped, 0xff, sizeof dropped);
  ck_assert_int_eq (tg_conn_observe (&c, TG_EV_OPEN, true, "e", &dropped),
                    TG_SAME_EPOCH);
  ck_assert (c.tls);
  ck_assert (!c.upgraded);
  ck_assert (epoch_empty (&dropped));
  ck_assert_uint_eq (c.cur.calls[TG_EV_OPEN], 1);
}
END_TEST

START_TEST (downgrade_is_refused_and_not_recorded)
{
  struct tg_conn c;
  enum tg_event ev;

  tg_conn_start (&c);
  tg_conn_observe (&c, TG_EV_OPEN, true, "tls", NULL);
  for (ev = 0; ev < TG_EV_COUNT; ++ev)
    ck_assert_int_eq (tg_conn_observe (&c, ev, false, "plain", NULL),
                      TG_DOWNGRADE);
  ck_assert (c.tls);
  ck_assert_uint_eq (c.cur.calls[TG_EV_OPEN], 1);
  ck_assert_uint_eq (c.cur.calls[TG_EV_LIST_EXPORTS], 0);
  ck_assert_ptr_null (c.cur.last_export);
}
END_TEST

/* list, default and open interleaved across the upgrade, in every
 * order of three plaintext events followed by three TLS events.
 */
static const char plain_name[] = "p", tls_name[] = "t";

START_TEST (interleaved_across_upgrade)
{
  int mask;

  for (mask = 0; mask < 27 * 27; ++mask) {
    struct tg_conn c;
    struct tg_epoch dropped;
    unsigned expect_plain[TG_EV_COUNT] = { 0 }, expect_tls[TG_EV_COUNT] = { 0 };
    int m = mask, i;

    tg_conn_start (&c);
    for (i = 0; i < 3; ++i) {
      enum tg_event ev = m % 3; m /= 3;
      expect_plain[ev]++;
      ck_assert_int_eq (tg_conn_observe (&c, ev, false, plain_name, NULL),
                        TG_SAME_EPOCH);
    }
    for (i = 0; i < 3; ++i) {
      enum tg_event ev = m % 3; m /= 3;
      expect_tls[ev]++;
      ck_assert_int_eq (tg_conn_observe (&c, ev, true, tls_name, &dropped),
                        i == 0 ? TG_UPGRADE : TG_SAME_EPOCH);
      if (i == 0) {
        int k;
        for (k = 0; k < TG_EV_COUNT; ++k)
          ck_assert_uint_eq (dropped.calls[k], expect_plain[k]);
        ck_assert_ptr_eq (dropped.last_export,
                          expect_plain[TG_EV_OPEN] ? plain_name : NULL);
      }
    }
    for (i = 0; i < TG_EV_COUNT; ++i)
      ck_assert_uint_eq (c.cur.calls[i], expect_tls[i]);
    /* The TLS epoch keeps no export name, whatever was opened. */
    ck_assert_ptr_null (c.cur.last_export);
  }
}
END_TEST

/* A client that disconnects in the middle of negotiation leaves a
 * half-filled record behind on its thread; the next connection's
 * tg_conn_start must see none of it.
 */
START_TEST (disconnect_mid_negotiation)
{
  struct tg_conn c;

  tg_conn_start (&c);
  tg_conn_observe (&c, TG_EV_LIST_EXPORTS, false, NULL, NULL);
  tg_conn_observe (&c, TG_EV_OPEN, false, "half", NULL);
  /* ... connection dropped here, no further callback ... */
  tg_conn_start (&c);
  ck_assert (!c.tls);
  ck_assert (!c.upgraded);
  ck_assert (epoch_empty (&c.cur));

  /* The same after an upgrade: the next connection starts plaintext. */
  tg_conn_observe (&c, TG_EV_OPEN, false, "a", NULL);
  tg_conn_observe (&c, TG_EV_OPEN, true, "b", NULL);
  tg_conn_start (&c);
  ck_assert (!c.tls);
  ck_assert_int_eq (tg_conn_observe (&c, TG_EV_OPEN, false, "c", NULL),
                    TG_SAME_EPOCH);
}
END_TEST

START_TEST (observe_without_start)
{
  struct tg_conn c;

  memset (&c, 0, sizeof c);
  ck_assert_int_eq (tg_conn_observe (&c, TG_EV_OPEN, false, "x", NULL),
                    TG_SAME_EPOCH);
  ck_assert (c.started);
  ck_assert_uint_eq (c.cur.calls[TG_EV_OPEN], 1);
}
END_TEST

START_TEST (record_is_small)
{
  /* Issue 7: at most 256 bytes of filter state per connection. */
  ck_assert_uint_le (sizeof (struct tg_conn), 256);
}
END_TEST

static const struct tap_row policy_tests[] = {
  TAP_CASE ("config"),
  TAP_TEST (parse_valid),
  TAP_TEST (parse_invalid),
  TAP_TEST (names_round_trip),
  TAP_CASE ("decide"),
  TAP_TEST (decide_tls_always_passes),
  TAP_TEST (decide_plaintext_follows_policy),
  TAP_TEST (can_extents_per_action),
  TAP_TEST (decide_tls_only_refused_in_plaintext),
  TAP_CASE ("tls-only"),
  TAP_TEST (tls_only_none_matches_nothing),
  TAP_TEST (tls_only_empty_pattern_refused),
  TAP_TEST (tls_only_globs),
  TAP_TEST (tls_only_star_matches_everything),
  TAP_TEST (tls_only_first_match_wins),
  TAP_CASE ("epoch"),
  TAP_TEST (start_is_plaintext_and_empty),
  TAP_TEST (plaintext_records_in_one_epoch),
  TAP_TEST (upgrade_drops_plaintext_epoch),
  TAP_TEST (upgrade_happens_once),
  TAP_TEST (tls_from_the_start_is_not_an_upgrade),
  TAP_TEST (downgrade_is_refused_and_not_recorded),
  TAP_TEST (interleaved_across_upgrade),
  TAP_TEST (disconnect_mid_negotiation),
  TAP_TEST (observe_without_start),
  TAP_TEST (record_is_small),
};

TAP_MAIN ("policy", policy_tests)
