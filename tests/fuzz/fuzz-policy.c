/* libFuzzer target: the tlsguard policy state machine.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * The input is a program: byte 0 picks the tlsguard-extents policy;
 * each following byte is one step, low 2 bits the event (3 = a new
 * connection), bit 2 is_tls, bits 3-4 the export name; with bit 0 of
 * byte 0 set, export "b" is TLS-only (tlsguard-tls-only=b*).  After every step the invariants of
 * policy.h are checked against a shadow model; a violation aborts.
 */

#include <config.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define CHECK(cond) do { if (!(cond)) abort (); } while (0)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char *const names[] = { "a", "", "b" };
  struct tg_conn c;
  enum tg_extents_policy policy;
  /* Shadow model. */
  bool m_tls = false, m_any_plain = false;
  unsigned m_calls[TG_EV_COUNT] = { 0 };
  const char *m_last = NULL;
  bool tls_only;
  size_t i;

  if (size == 0)
    return 0;
  policy = (enum tg_extents_policy) ((data[0] >> 1) % 4); /* 3 = corrupt */
  tls_only = data[0] & 1;

  tg_conn_start (&c);
  for (i = 1; i < size; ++i) {
    unsigned op = data[i] & 3;
    bool is_tls = data[i] & 4;
    const char *name = names[(data[i] >> 3) % 3];
    struct tg_epoch dropped;
    enum tg_transition t;
    enum tg_action a;
    int k;

    if (op == 3) {              /* a new connection on this thread */
      tg_conn_start (&c);
      m_tls = m_any_plain = false;
      memset (m_calls, 0, sizeof m_calls);
      m_last = NULL;
      continue;
    }

    memset (&dropped, 0xa5, sizeof dropped);
    t = tg_conn_observe (&c, (enum tg_event) op, is_tls, name, &dropped);

    if (m_tls && !is_tls) {
      CHECK (t == TG_DOWNGRADE);
    }
    else if (!m_tls && is_tls) {
      CHECK (t == (m_any_plain ? TG_UPGRADE : TG_SAME_EPOCH));
      for (k = 0; k < TG_EV_COUNT; ++k)
        CHECK (dropped.calls[k] == m_calls[k]);
      CHECK (dropped.last_export == m_last);
      m_tls = true;
      memset (m_calls, 0, sizeof m_calls);
      m_last = NULL;
    }
    else
      CHECK (t == TG_SAME_EPOCH);

    if (t != TG_DOWNGRADE) {
      m_calls[op]++;
      if (op == TG_EV_OPEN && !m_tls)
        m_last = name;          /* only the plaintext epoch keeps it */
      if (!is_tls)
        m_any_plain = true;
    }

    /* The record matches the model exactly. */
    CHECK (c.started);
    CHECK (c.tls == m_tls);
    for (k = 0; k < TG_EV_COUNT; ++k)
      CHECK (c.cur.calls[k] == m_calls[k]);
    CHECK (c.cur.last_export == m_last);

    /* Decisions: TLS always passes; plaintext never passes under a
     * policy other than allow, and claims extents under deny and hide
     * (the filter refuses, or answers all data, and counts).
     */
    {
      bool matches = tls_only && name[0] == 'b';
      a = tg_decide (policy, is_tls, matches);
    }
    if (is_tls)
      CHECK (a == TG_PASS);
    else if (tls_only && name[0] == 'b')
      CHECK (a == TG_REFUSE_TLS_ONLY);
    else {
      CHECK (a != TG_PASS);
      if (policy == TG_EXTENTS_ALLOW)
        CHECK (a == TG_AUDIT);
      else if (policy == TG_EXTENTS_HIDE)
        CHECK (a == TG_HIDE && tg_can_extents (a) == 1);
      else
        CHECK (a == TG_DENY && tg_can_extents (a) == 1);
    }
  }
  return 0;
}
