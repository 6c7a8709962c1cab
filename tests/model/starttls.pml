/* starttls.pml: the three-party STARTTLS injection of meta contexts
 * to the NBD protocol (sections "NBD_OPT_STARTTLS" and
 * "NBD_OPT_SET_META_CONTEXT"), as a Promela model for SPIN.
 * Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
 *
 * Parties: a client that wants TLS and context B on export e; an
 * attacker on the wire; a SELECTIVETLS server on which export e is
 * TLS-only.  docs/spin-model.md explains the model and its results;
 * tests/test-spin-model.sh checks it.
 *
 * Server variants (spin -D...; none: the current rule, compliant):
 *   KEEP_META       the rule before the STARTTLS change: meta contexts and their export
 *                   survive STARTTLS (nbd-badserver --defect keep-meta)
 *   KEEP_SR         structured replies survive STARTTLS (CVE-2021-3716;
 *                   nbd-badserver --defect keep-sr)
 *   IGNORE_EXPORT   block status is served whatever export the last
 *                   SET_META_CONTEXT named (--defect
 *                   ignore-export-mismatch)
 *   TLS_ONLY_PLAIN  the TLS-only export e is served in plaintext too
 *
 * Properties (ltl p1, p2, p3 below; pan -N NAME selects one; sane_bs
 * and sane_read are the non-vacuity checks, which must fail):
 *   P1  a client that negotiated context B on e over TLS never accepts
 *       block status the server computed for another (export, context);
 *   P2  the client never gets a structured reply from the server when
 *       it did not ask for structured replies after its STARTTLS;
 *   P3  data of the TLS-only export never goes out in plaintext.
 *
 * Every message is printed as an event line, for replaying a trail
 * (spin -T -t): "MSC: client -> attacker LINK TYPE X Y" (a request),
 * "MSC: server <- LINK TYPE X Y injected|forwarded" (what the server
 * reads: the attacker's own request or the client's),
 * "MSC: server -> attacker LINK TYPE X Y FORM", "MSC: attacker ->
 * client LINK TYPE X Y forged|relayed", "MSC: server serves X data
 * LINK" and "MSC: client accepts TYPE X Y LINK".
 *
 * Abstracted away (what the model leaves out, on purpose):
 *   - Bytes, lengths, magic numbers, cookies and handshake messages:
 *     a message is (type, export, context).  A TLS handshake is a flag
 *     per link; the link is plain or TLS.  Exports are e and f,
 *     contexts A and B; one connection per party, one request in
 *     flight (NBD negotiation is request/reply, and nothing here
 *     depends on pipelining).
 *   - The threat is that of the injection.  On plaintext the attacker can send
 *     anything to the server, and drop, forge or reorder the client's
 *     plaintext (reordering is a drop plus a later injection of the
 *     same message, which it can always do: plaintext holds no
 *     secret).  Toward the client it can terminate TLS with its own
 *     credentials, read the client's requests and answer options
 *     itself, or let the client's STARTTLS reach the server (then the
 *     TLS is end to end and it can only relay).  It can upgrade the
 *     server link with its own STARTTLS, but inside the server's TLS
 *     it cannot inject options or forge the server's replies: it can
 *     only pass on (or drop) what the client sent.  The model never
 *     lets it make up transmission-phase replies: where it could (on
 *     a plaintext server link, or toward the client whose TLS it
 *     terminated) no server rule can stop it.  So P1 and P2 are about
 *     replies the server sent over TLS, and P3 about plaintext.
 *   - Option replies are ACK, an error (any error: the model does not
 *     tell them apart), or META (an NBD_REP_META_CONTEXT followed by
 *     NBD_REP_ACK).  No LIST, INFO, LIST_META_CONTEXT, EXPORT_NAME,
 *     ABORT, extended headers or disconnects.  A refused request ends
 *     the client's run; a dropped one leaves it waiting (denial of
 *     service is not a property here).
 *   - Block status data is the (export, context) it was computed for;
 *     READ data is whether its reply is structured.
 */

mtype = {
  /* options and requests */
  STARTTLS, SR, SET_META, GO, BLOCK_STATUS, READ,
  /* replies */
  ACK, ERR, META, BS_DATA, READ_DATA, CMD_ERR,
  /* exports and contexts; NONE where a field is unused */
  E, F, CA, CB, NONE,
  /* links */
  plain, tls,
  /* how the attacker passes a request or a reply on */
  injected, forwarded, forged, relayed, simple, structured
};

/* Requests (client -> attacker -> server) are (type, export, context,
 * tag); the tag is the client's link, or on a2s who made the request
 * (injected or forwarded: a label for the MSC lines, the server does
 * not act on it).  Replies are (type, export, context, link, form):
 * the link the server sent it on, and for READ_DATA whether it is a
 * simple or a structured reply.  All channels are rendezvous. */
chan c2a = [0] of { mtype, mtype, mtype, mtype };
chan a2c = [0] of { mtype, mtype, mtype, mtype, mtype };
chan a2s = [0] of { mtype, mtype, mtype, mtype };
chan s2a = [0] of { mtype, mtype, mtype, mtype, mtype };

/* Observations for the properties. */
bool p1_bad = false;
bool p2_bad = false;
bool p3_bad = false;

ltl p1 { [] !p1_bad }
ltl p2 { [] !p2_bad }
ltl p3 { [] !p3_bad }

/* Non-vacuity: these must FAIL on every variant, i.e. the client can
 * get what it asked for over TLS (block status for (e, B); a simple
 * READ reply), so P1 and P2 do not hold just because nothing happens. */
bool got_bs = false;
bool got_read = false;
ltl sane_bs { [] !got_bs }
ltl sane_read { [] !got_read }

/* ------------------------------------------------------------------ */
/* The server.  It sees one connection: whatever the attacker sends. */

active proctype Server ()
{
  bool stls = false;             /* link upgraded */
  bool sr = false;               /* STRUCTURED_REPLY in effect */
  mtype mexp = NONE, mctx = NONE; /* the last SET_META_CONTEXT */
  mtype goexp = NONE;            /* export chosen by GO (transmission) */
  mtype m, x, y, who, link;

end:
  do
  :: a2s ? m, x, y, who ->
     if
     :: stls -> link = tls
     :: else -> link = plain
     fi;
     printf("MSC: server <- %e %e %e %e %e\n", link, m, x, y, who);
     if
     :: goexp == NONE && m == STARTTLS ->
        if
        :: !stls ->
           s2a ! ACK, NONE, NONE, link, NONE;
           stls = true;
#ifndef KEEP_SR
           sr = false;
#endif
#ifndef KEEP_META
           mexp = NONE; mctx = NONE;
#endif
           skip
        :: else -> s2a ! ERR, NONE, NONE, link, NONE
        fi
     :: goexp == NONE && m == SR ->
        sr = true;
        s2a ! ACK, NONE, NONE, link, NONE
     :: goexp == NONE && m == SET_META ->
        if
        :: sr -> mexp = x; mctx = y;
           s2a ! META, x, y, link, NONE
        :: else -> s2a ! ERR, NONE, NONE, link, NONE
        fi
     :: goexp == NONE && m == GO ->
        if
#ifndef TLS_ONLY_PLAIN
        :: x == E && !stls -> s2a ! ERR, NONE, NONE, link, NONE
#endif
        :: else -> goexp = x;
           s2a ! ACK, x, NONE, link, NONE
        fi
     :: goexp != NONE && m == BLOCK_STATUS ->
        if
#ifdef IGNORE_EXPORT
        :: sr && mctx != NONE ->
#else
        :: sr && mctx != NONE && mexp == goexp ->
#endif
           printf("MSC: server serves %e data %e\n", goexp, link);
           p3_bad = p3_bad || (goexp == E && !stls);
           s2a ! BS_DATA, mexp, mctx, link, NONE
        :: else -> s2a ! CMD_ERR, NONE, NONE, link, NONE
        fi
     :: goexp != NONE && m == READ ->
        printf("MSC: server serves %e data %e\n", goexp, link);
        p3_bad = p3_bad || (goexp == E && !stls);
        if
        :: sr -> s2a ! READ_DATA, goexp, NONE, link, structured
        :: else -> s2a ! READ_DATA, goexp, NONE, link, simple
        fi
     :: else -> s2a ! ERR, NONE, NONE, link, NONE
     fi
  od
}

/* ------------------------------------------------------------------ */
/* The client: STARTTLS first (it wants TLS), then either the block
 * status client (SR, optionally a SET_META_CONTEXT on the other
 * export, SET_META_CONTEXT(e, B), GO(e), BLOCK_STATUS) or a plain
 * reader that never asks for structured replies (GO(e), READ). */

active proctype Client ()
{
  bool want_bs;
  bool sr_after_tls = false;
  mtype r, x, y, link, form;

  if
  :: want_bs = true
  :: want_bs = false
  fi;

  printf("MSC: client -> attacker plain STARTTLS NONE NONE\n");
  c2a ! STARTTLS, NONE, NONE, plain;
end_tls:
  a2c ? r, x, y, link, form;
  if
  :: r != ACK -> goto done   /* no TLS: this client does not go on */
  :: else
  fi;

  if
  :: want_bs ->
     printf("MSC: client -> attacker tls SR NONE NONE\n");
     c2a ! SR, NONE, NONE, tls;
end_sr:
     a2c ? r, x, y, link, form;
     if
     :: r != ACK -> goto done
     :: else -> sr_after_tls = true
     fi;
     if
     :: printf("MSC: client -> attacker tls SET_META F CA\n");
        c2a ! SET_META, F, CA, tls;
end_meta_f:
        a2c ? r, x, y, link, form  /* any answer: the client goes on */
     :: skip
     fi;
     printf("MSC: client -> attacker tls SET_META E CB\n");
     c2a ! SET_META, E, CB, tls;
end_meta:
     a2c ? r, x, y, link, form;
     if
     :: r == META && y == CB -> skip  /* context B negotiated over TLS */
     :: else -> goto done
     fi
  :: else
  fi;

  printf("MSC: client -> attacker tls GO E NONE\n");
  c2a ! GO, E, NONE, tls;
end_go:
  a2c ? r, x, y, link, form;
  if
  :: r != ACK -> goto done
  :: else
  fi;

  if
  :: want_bs ->
     printf("MSC: client -> attacker tls BLOCK_STATUS NONE NONE\n");
     c2a ! BLOCK_STATUS, NONE, NONE, tls;
end_bs:
     a2c ? r, x, y, link, form;
     if
     :: r == BS_DATA ->
        printf("MSC: client accepts BS_DATA %e %e %e\n", x, y, link);
        got_bs = (link == tls && x == E && y == CB);
        p1_bad = (link == tls && !(x == E && y == CB));
        p2_bad = (link == tls && !sr_after_tls)
     :: else -> printf("MSC: client refused %e\n", r)
     fi
  :: else ->
     printf("MSC: client -> attacker tls READ NONE NONE\n");
     c2a ! READ, NONE, NONE, tls;
end_read:
     a2c ? r, x, y, link, form;
     if
     :: r == READ_DATA ->
        printf("MSC: client accepts READ_DATA %e %e %e\n", x, form, link);
        got_read = (link == tls && form == simple);
        p2_bad = (link == tls && form == structured && !sr_after_tls)
     :: else -> printf("MSC: client refused %e\n", r)
     fi
  fi;
done:
  skip
}

/* ------------------------------------------------------------------ */
/* The attacker. */

/* Send one request to the server and read its reply. */
inline ask (m, x, y, who)
{
  a2s ! m, x, y, who;
  s2a ? r, rx, ry, rlink, rform;
  printf("MSC: server -> attacker %e %e %e %e %e\n", rlink, r, rx, ry, rform);
  if
  :: m == STARTTLS && r == ACK -> stls = true
  :: m == GO && r == ACK -> strans = true
  :: else
  fi
}

active proctype Attacker ()
{
  /* the client link: 0 plaintext, 1 TLS ending here, 2 TLS end to end */
  byte ctls = 0;
  bool stls = false, strans = false;
  mtype m, x, y, link;
  mtype r, rx, ry, rlink, rform;

end:
  do
  /* Injections: only while the server link is plaintext and not
   * carrying the client's own TLS. */
  :: !stls && !strans && ctls != 2 ->
     if
     :: ask(STARTTLS, NONE, NONE, injected)
     :: ask(SR, NONE, NONE, injected)
     :: ask(SET_META, E, CA, injected)
     :: ask(SET_META, E, CB, injected)
     :: ask(SET_META, F, CA, injected)
     :: ask(SET_META, F, CB, injected)
     :: ask(GO, E, NONE, injected)
     :: ask(GO, F, NONE, injected)
     fi
  :: !stls && strans && ctls != 2 ->
     if
     :: ask(READ, NONE, NONE, injected)
     :: ask(BLOCK_STATUS, NONE, NONE, injected)
     fi

  /* A request from the client. */
  :: c2a ? m, x, y, link ->
     if
     :: ctls == 0 ->            /* the client's STARTTLS, in plaintext */
        if
        :: printf("MSC: attacker -> client plain ACK NONE NONE forged\n");
           a2c ! ACK, NONE, NONE, plain, NONE;
           ctls = 1             /* TLS with the attacker's credentials */
        :: printf("MSC: attacker -> client plain ERR NONE NONE forged\n");
           a2c ! ERR, NONE, NONE, plain, NONE
        :: !strans ->
           ask(m, x, y, forwarded);
           printf("MSC: attacker -> client plain %e %e %e relayed\n", r, rx, ry);
           a2c ! r, rx, ry, rlink, rform;
           if
           :: r == ACK -> ctls = 2   /* TLS end to end */
           :: else
           fi
        :: skip                 /* dropped */
        fi
     :: ctls == 2 ->            /* end to end: relay */
        ask(m, x, y, forwarded);
        printf("MSC: attacker -> client tls %e %e %e relayed\n", r, rx, ry);
        a2c ! r, rx, ry, rlink, rform
     :: ctls == 1 ->            /* the attacker reads the client */
        if
        :: m == SR ->
           printf("MSC: attacker -> client tls ACK NONE NONE forged\n");
           a2c ! ACK, NONE, NONE, tls, NONE
        :: m == SET_META ->
           printf("MSC: attacker -> client tls META %e %e forged\n", x, y);
           a2c ! META, x, y, tls, NONE
        :: (m == SR || m == SET_META || m == GO) && !strans ||
           (m == BLOCK_STATUS || m == READ) && strans ->
           ask(m, x, y, forwarded);
           printf("MSC: attacker -> client tls %e %e %e relayed\n", r, rx, ry);
           a2c ! r, rx, ry, rlink, rform
        :: skip                 /* dropped */
        fi
     fi
  od
}
