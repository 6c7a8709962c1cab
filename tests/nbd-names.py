#!/usr/bin/python3
# nbd-names.py: a small raw NBD client that sends export names as
# arbitrary bytes (libnbd only takes valid C strings, and its Python
# binding only valid UTF-8) and pipelines block status requests.  For
# the logging and audit tests.  Also imported as a module.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
#
# Usage: nbd-names.py (--unix PATH | --cmd COMMAND) STEP...
# Steps, in order:
#   info:HEX        NBD_OPT_INFO of the export named by these bytes
#   sr              NBD_OPT_STRUCTURED_REPLY
#   meta:HEX        NBD_OPT_SET_META_CONTEXT(name, base:allocation)
#   go:HEX          NBD_OPT_GO
#   bs:N:LEN        N block status requests of LEN bytes at offset 0,
#                   all written before any reply is read
#   rep:N:HEX       repeat N times: info:HEX
#   raw:OFF:LEN:FL  one block status request (flags FL), and the bytes
#                   of every reply chunk, in hex ("raw HEX...")
# Names may also be given as @FILE (the file's bytes).  One output
# line per step: "info ok", "info error 0x80000006", "go ok",
# "meta ok 1", "bs 1000 ok=0 err=1000 errno=22", "bs 10 ok=10 err=0
# first=0:1048576:0".  Exit 0, or 1 if the connection failed.
# --cmd runs COMMAND with its stdin and stdout as pipes (not sockets):
# nbdkit -s on pipes.

import os
import socket
import struct
import subprocess
import sys

IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x3e889045565a9
OPT_INFO, OPT_GO, OPT_SR, OPT_SET_META = 6, 7, 8, 10
REP_ACK, REP_INFO, REP_META = 1, 3, 4
CMD_DISC, CMD_BLOCK_STATUS = 2, 7
REQ_MAGIC = 0x25609513
SIMPLE_MAGIC = 0x67446698
STRUCT_MAGIC = 0x668e33ef
CHUNK_BLOCK_STATUS = 5
FLAG_DONE = 1


class Conn:
    def __init__(self, sock=None, proc=None):
        self.sock = sock
        self.proc = proc
        self.meta_id = None
        self.transmission = False

    @classmethod
    def unix(cls, path):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        c = cls(sock=s)
        c.handshake()
        return c

    @classmethod
    def command(cls, cmd):
        p = subprocess.Popen(cmd, shell=True, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, bufsize=0)
        c = cls(proc=p)
        c.handshake()
        return c

    def send(self, b):
        if self.sock:
            self.sock.sendall(b)
        else:
            self.proc.stdin.write(b)

    def recv(self, n):
        buf = b''
        while len(buf) < n:
            if self.sock:
                chunk = self.sock.recv(n - len(buf))
            else:
                chunk = self.proc.stdout.read(n - len(buf))
            if not chunk:
                raise EOFError("server closed the connection")
            buf += chunk
        return buf

    def handshake(self):
        g = self.recv(18)
        if g[:8] != b'NBDMAGIC':
            raise EOFError("bad greeting")
        # FIXED_NEWSTYLE | NO_ZEROES
        self.send(struct.pack('>I', 3))

    def option(self, opt, data):
        self.send(struct.pack('>QII', IHAVEOPT, opt, len(data)) + data)
        replies = []
        while True:
            magic, o, rtype, length = struct.unpack('>QIII', self.recv(20))
            if magic != REPLY_MAGIC or o != opt:
                raise EOFError("bad option reply")
            payload = self.recv(length)
            replies.append((rtype, payload))
            if rtype == REP_ACK or rtype & 0x80000000:
                return rtype, replies

    def info(self, name, opt=OPT_INFO):
        rtype, _ = self.option(opt, struct.pack('>I', len(name)) + name +
                               struct.pack('>H', 0))
        if opt == OPT_GO and rtype == REP_ACK:
            self.transmission = True
        return rtype

    def sr(self):
        rtype, _ = self.option(OPT_SR, b'')
        return rtype

    def set_meta(self, name):
        q = b'base:allocation'
        rtype, replies = self.option(
            OPT_SET_META, struct.pack('>I', len(name)) + name +
            struct.pack('>II', 1, len(q)) + q)
        n = 0
        for t, p in replies:
            if t == REP_META:
                self.meta_id = struct.unpack('>I', p[:4])[0]
                n += 1
        return rtype, n

    def block_status(self, n, length):
        reqs = b''.join(struct.pack('>IHHQQI', REQ_MAGIC, 0, CMD_BLOCK_STATUS,
                                    i, 0, length) for i in range(n))
        self.send(reqs)
        ok = err = 0
        errnos = set()
        first = None
        done = 0
        while done < n:
            magic = struct.unpack('>I', self.recv(4))[0]
            if magic == SIMPLE_MAGIC:
                e, h = struct.unpack('>IQ', self.recv(12))
                done += 1
                if e:
                    err += 1
                    errnos.add(e)
                else:
                    ok += 1
                continue
            if magic != STRUCT_MAGIC:
                raise EOFError("bad reply magic %x" % magic)
            flags, ctype, h, length = struct.unpack('>HHQI', self.recv(16))
            payload = self.recv(length)
            if ctype & 0x8000:
                errnos.add(struct.unpack('>I', payload[:4])[0])
                err += 1
            elif ctype == CHUNK_BLOCK_STATUS:
                ok += 1
                if first is None:
                    ln, fl = struct.unpack('>II', payload[4:12])
                    first = "0:%d:%d" % (ln, fl)
            if flags & FLAG_DONE:
                done += 1
        return ok, err, errnos, first

    def block_status_raw(self, offset, length, flags):
        self.send(struct.pack('>IHHQQI', REQ_MAGIC, flags, CMD_BLOCK_STATUS,
                              1, offset, length))
        out = b''
        while True:
            magic = self.recv(4)
            if struct.unpack('>I', magic)[0] == SIMPLE_MAGIC:
                return out + magic + self.recv(12)
            hdr = self.recv(16)
            flags_, ctype, h, length_ = struct.unpack('>HHQI', hdr)
            out += magic + hdr + self.recv(length_)
            if flags_ & FLAG_DONE:
                return out

    def close(self):
        try:
            if self.transmission:
                self.send(struct.pack('>IHHQQI', REQ_MAGIC, 0, CMD_DISC,
                                      0, 0, 0))
            else:
                # NBD_OPT_ABORT; the server may answer or just close.
                self.send(struct.pack('>QII', IHAVEOPT, 2, 0))
        except (OSError, EOFError):
            pass
        if self.sock:
            self.sock.close()
        else:
            self.proc.stdin.close()
            self.proc.wait()


def name_arg(s):
    if s.startswith('@'):
        with open(s[1:], 'rb') as f:
            return f.read()
    return bytes.fromhex(s)


def rtype_str(step, r):
    return "%s ok" % step if r == REP_ACK else "%s error 0x%08x" % (step, r)


def main(argv):
    if len(argv) < 3 or argv[1] not in ('--unix', '--cmd'):
        print(__doc__ or "usage: nbd-names.py (--unix P | --cmd C) STEP...",
              file=sys.stderr)
        return 2
    try:
        if argv[1] == '--unix':
            c = Conn.unix(argv[2])
        else:
            c = Conn.command(argv[2])
        for step in argv[3:]:
            kind, _, arg = step.partition(':')
            if kind == 'info':
                print(rtype_str('info', c.info(name_arg(arg))))
            elif kind == 'rep':
                n, _, hexname = arg.partition(':')
                name = name_arg(hexname)
                rs = [c.info(name) for _ in range(int(n))]
                print("rep %d ok=%d" % (len(rs), rs.count(REP_ACK)))
            elif kind == 'go':
                print(rtype_str('go', c.info(name_arg(arg), OPT_GO)))
            elif kind == 'sr':
                print(rtype_str('sr', c.sr()))
            elif kind == 'meta':
                r, n = c.set_meta(name_arg(arg))
                print("meta ok %d" % n if r == REP_ACK else
                      "meta error 0x%08x" % r)
            elif kind == 'raw':
                off, ln, fl = (int(x) for x in arg.split(':'))
                print("raw " + c.block_status_raw(off, ln, fl).hex())
            elif kind == 'bs':
                n, _, length = arg.partition(':')
                ok, err, errnos, first = c.block_status(int(n), int(length))
                line = "bs %s ok=%d err=%d" % (n, ok, err)
                if errnos:
                    line += " errno=" + ",".join(str(e) for e in sorted(errnos))
                if first:
                    line += " first=" + first
                print(line)
            else:
                print("unknown step " + step, file=sys.stderr)
                return 2
            sys.stdout.flush()
        c.close()
    except (OSError, EOFError) as e:
        print("connection failed: %s" % e)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
