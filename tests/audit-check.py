#!/usr/bin/python3
# audit-check.py FILE: read a tlsguard-audit file with a real JSON
# parser and print what a test asserts on, one fact a line:
#   lines N / bad 0        records, and lines that are not one JSON object
#   events open=N close=N upgrade=N unload=N
#   join ok | join BROKEN: ...   every opened non-pass handle has
#                          exactly one close, with the same export and
#                          action; no close without its open
#   totals ok | totals BROKEN: ...   the unload record matches the
#                          open and close records
#   unload tls=N plaintext=N refused=N bs=R/H/A
#   upgrade dropped=L/D/O last="..." len=N opens=P plaintext then T TLS
#                          (for each upgrade; opens on its connection)
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

import json
import sys

data = open(sys.argv[1], 'rb').read()
lines = data.split(b'\n')
bad = 0 if lines[-1] == b'' else 1      # a torn last line
recs = []
for l in lines[:-1]:
    try:
        r = json.loads(l.decode('ascii'))
        if not isinstance(r, dict) or 'event' not in r or 'time' not in r:
            raise ValueError("not a record")
        recs.append(r)
    except (ValueError, UnicodeDecodeError):
        bad += 1
print("lines %d" % (len(lines) - 1))
print("bad %d" % bad)
ev = {}
for r in recs:
    ev[r['event']] = ev.get(r['event'], 0) + 1
print("events " + " ".join("%s=%d" % (k, ev.get(k, 0))
                           for k in ('open', 'close', 'upgrade', 'unload')))

opens = {}
closes = {}
problems = []
for r in recs:
    if r['event'] in ('open', 'close'):
        key = (r['conn'], r['handle'])
        d = opens if r['event'] == 'open' else closes
        if key in d:
            problems.append("two %s records for %s" % (r['event'], key))
        d[key] = r
for key, o in opens.items():
    want = o['opened'] and o['action'] != 'pass'
    c = closes.get(key)
    if want and c is None:
        problems.append("no close for %s" % (key,))
    if not want and c is not None:
        problems.append("unexpected close for %s" % (key,))
    if c is not None:
        for f in ('export', 'action', 'tls', 'peer'):
            if c[f] != o[f]:
                problems.append("%s differs for %s" % (f, key))
for key in closes:
    if key not in opens:
        problems.append("close without open %s" % (key,))
print("join ok" if not problems else "join BROKEN: " + "; ".join(problems[:5]))

u = [r for r in recs if r['event'] == 'unload']
if u:
    u = u[-1]
    want = {
        'tls': sum(1 for o in opens.values() if o['tls']),
        'plaintext': sum(1 for o in opens.values()
                         if not o['tls'] and o['action'] != 'refuse-downgrade'),
        'refused': sum(1 for o in opens.values()
                       if o['action'].startswith('refuse')),
    }
    bs = {k: sum(c['block_status'][k] for c in closes.values())
          for k in ('refused', 'hidden', 'allowed')}
    p = [k for k in want if u['opens'][k] != want[k]] + \
        [k for k in bs if u['block_status'][k] != bs[k]]
    print("totals ok" if not p else "totals BROKEN: " + ",".join(p))
    print("unload tls=%d plaintext=%d refused=%d bs=%d/%d/%d" % (
        u['opens']['tls'], u['opens']['plaintext'], u['opens']['refused'],
        u['block_status']['refused'], u['block_status']['hidden'],
        u['block_status']['allowed']))
for r in recs:
    if r['event'] == 'upgrade':
        d = r['dropped']
        mine = [o for o in opens.values() if o['conn'] == r['conn']]
        print('upgrade dropped=%d/%d/%d last=%s len=%d opens=%d plaintext'
              ' then %d TLS' % (
                  d['list_exports'], d['default_export'], d['open'],
                  json.dumps(d['last_export']), d['last_export_len'],
                  sum(1 for o in mine if not o['tls']),
                  sum(1 for o in mine if o['tls'])))
