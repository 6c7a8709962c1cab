#!/usr/bin/perl
# nbd-hostile.pl: a tiny NBD server that answers with malformed or
# hostile bytes, to check that nbd-probe fails cleanly on them.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
#
# Usage: perl nbd-hostile.pl --unix PATH --pidfile FILE --case NAME
#
# Listens on the Unix socket PATH, writes its PID to FILE once it
# listens, serves one connection at a time and exits 0 on SIGTERM.
# Every connection gets a correct fixed-newstyle greeting (flags
# FIXED_NEWSTYLE|NO_ZEROES), except in case greeting-oldstyle.  Then:
#
#   NBD_OPT_STRUCTURED_REPLY  NBD_REP_ACK
#   NBD_OPT_STARTTLS          NBD_REP_ERR_POLICY (no TLS here), so that
#                             nbd-probe's mode detection (SR, STARTTLS)
#                             sees a NOTLS server
#   NBD_OPT_ABORT             NBD_REP_ACK, then close
#   NBD_OPT_EXPORT_NAME       close
#   any other option          the HOSTILE ANSWER of an option-phase case;
#                             in a transmission-phase case GO gets
#                             NBD_INFO_EXPORT (1 MiB) and NBD_REP_ACK and
#                             the others NBD_REP_ERR_UNSUP
#
# In a transmission-phase case the first request gets the hostile
# answer.  Case "compliant" answers everything correctly (LIST: one
# export "hostile"; LIST/SET_META_CONTEXT: one context per query; READ:
# one data chunk), the negative control.
#
# Option-phase cases (the answer to the first option other than SR,
# STARTTLS and ABORT; OPT is the option asked):
#   huge-length       header  REP_MAGIC OPT NBD_REP_SERVER 0xffffffff,
#                     no payload
#   bad-magic         header  0x0003e889045565aa (last byte wrong) OPT ACK 0
#   wrong-option      header  REP_MAGIC NBD_OPT_GO NBD_REP_ACK 0
#   silence           nothing (the connection stays open)
#   garbage           256 fixed pseudo-random bytes (an LCG, seed 1)
#   close-mid-header  the first 10 bytes of REP_MAGIC OPT ACK 0, then close
#   meta-truncated    REP_MAGIC OPT NBD_REP_META_CONTEXT 2, payload 0001
#                     (shorter than the 4-byte context id), then ACK
#   unknown-reply     REP_MAGIC OPT 0x00007fff 0, then REP_MAGIC OPT ACK 0
#   endless-replies   NBD_REP_SERVER "hostile" replies, never ACK, 1000
#                     per write and at most 200000, until the client goes
# Handshake case:
#   greeting-oldstyle NBDMAGIC, cliserv_magic 0x00420281861253, size 1 MiB,
#                     flags 0x00000003, 124 zero bytes
# Transmission-phase cases (the reply to the first request):
#   chunk-huge        structured chunk header, DONE, OFFSET_DATA, the
#                     request's cookie, length 0x04000001 (64 MiB + 1)
#   chunk-bad-cookie  NBD_REPLY_TYPE_NONE chunk, DONE, cookie 0xdeadbeef
#   chunk-no-done     NBD_REPLY_TYPE_OFFSET_HOLE chunks (12 bytes) without
#                     DONE, 100 per write every 5 ms (at most 20000 a
#                     second, at most 100000 in all), until the client goes
#   chunk-stall       3 such chunks without DONE, then nothing
#
# -v logs every message received to stderr.

use strict;
use warnings;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Getopt::Long;

my ($path, $pidfile, $case, $verbose);
GetOptions ('unix=s' => \$path, 'pidfile=s' => \$pidfile,
            'case=s' => \$case, 'v|verbose' => \$verbose)
  && defined $path && defined $pidfile && defined $case && !@ARGV
  or die "usage: nbd-hostile.pl --unix PATH --pidfile FILE --case NAME [-v]\n";

my %opt_cases = map { $_ => 1 } qw(huge-length bad-magic wrong-option silence
  garbage close-mid-header meta-truncated unknown-reply endless-replies);
my %tx_cases = map { $_ => 1 } qw(chunk-huge chunk-bad-cookie chunk-no-done
  chunk-stall);
$opt_cases{$case} || $tx_cases{$case} || $case eq 'greeting-oldstyle' ||
  $case eq 'compliant'
  or die "nbd-hostile.pl: unknown case '$case'\n";

use constant {
  NBDMAGIC => "NBDMAGIC", IHAVEOPT => "IHAVEOPT",
  REP_MAGIC_HI => 0x0003e889, REP_MAGIC_LO => 0x045565a9,
  REQUEST_MAGIC => 0x25609513, STRUCTURED_MAGIC => 0x668e33ef,
  OPT_EXPORT_NAME => 1, OPT_ABORT => 2, OPT_LIST => 3, OPT_STARTTLS => 5,
  OPT_GO => 7, OPT_SR => 8, OPT_LIST_META => 9, OPT_SET_META => 10,
  REP_ACK => 1, REP_SERVER => 2, REP_INFO => 3, REP_META_CONTEXT => 4,
  REP_ERR_UNSUP => 0x80000001, REP_ERR_POLICY => 0x80000002,
  CMD_READ => 0, CMD_DISC => 2,
  FLAG_DONE => 1, TYPE_NONE => 0, TYPE_OFFSET_DATA => 1,
  TYPE_OFFSET_HOLE => 2,
  EXPORT_SIZE => 1024 * 1024,
};

sub logmsg { print STDERR "nbd-hostile: @_\n" if $verbose; }

my $listener;
$SIG{PIPE} = 'IGNORE';
$SIG{TERM} = $SIG{INT} = sub {
  unlink $path if $listener;
  exit 0;
};

unlink $path;
$listener = IO::Socket::UNIX->new (Type => SOCK_STREAM, Local => $path,
                                   Listen => 5)
  or die "nbd-hostile.pl: listen $path: $!\n";
open (my $pf, '>', "$pidfile.tmp") or die "nbd-hostile.pl: $pidfile: $!\n";
print $pf "$$\n";
close ($pf);
rename ("$pidfile.tmp", $pidfile) or die "nbd-hostile.pl: $pidfile: $!\n";
logmsg ("case $case, listening on $path");

my $conn;                       # the current connection

# Read exactly $n bytes; undef at EOF or on an error.
sub read_n {
  my ($n) = @_;
  my $buf = '';
  while (length ($buf) < $n) {
    my $r = sysread ($conn, my $chunk, $n - length ($buf));
    return undef if !defined $r || $r == 0;
    $buf .= $chunk;
  }
  return $buf;
}

# Write all of $data; false if the client went away.
sub write_all {
  my ($data) = @_;
  my $off = 0;
  while ($off < length ($data)) {
    my $w = syswrite ($conn, $data, length ($data) - $off, $off);
    return 0 if !defined $w;
    $off += $w;
  }
  return 1;
}

sub rep_magic { pack ('NN', REP_MAGIC_HI, REP_MAGIC_LO) }

sub opt_reply {
  my ($opt, $type, $payload) = @_;
  $payload = '' unless defined $payload;
  return rep_magic () . pack ('NNN', $opt, $type, length $payload) . $payload;
}

sub chunk {
  my ($flags, $type, $cookie, $payload) = @_;
  return pack ('NnnQ>N', STRUCTURED_MAGIC, $flags, $type, $cookie,
               length $payload) . $payload;
}

# Wait until the client closes (discarding what it sends).
# Logs how much it sent, and the first 64 bytes in hex.
sub drain {
  my $got = '';
  my $n = 0;
  while (1) {
    my $r = sysread ($conn, my $buf, 65536);
    last if !defined $r || $r == 0;
    $n += $r;
    $got .= $buf if length ($got) < 64;
  }
  logmsg ("client closed (sent $n more bytes"
          . ($n ? ": " . unpack ('H*', substr ($got, 0, 64)) : '') . ")");
}

# 256 pseudo-random bytes, always the same (a 32-bit LCG, seed 1).
sub garbage {
  my $x = 1;
  my $s = '';
  for (1 .. 256) {
    $x = ($x * 1103515245 + 12345) % 4294967296;
    $s .= chr (($x >> 16) & 0xff);
  }
  return $s;
}

# The hostile answer to option $opt.  Returns false to close now.
sub hostile_option {
  my ($opt) = @_;
  logmsg ("hostile answer ($case) to option $opt");
  if ($case eq 'huge-length') {
    write_all (rep_magic () . pack ('NNN', $opt, REP_SERVER, 0xffffffff));
  }
  elsif ($case eq 'bad-magic') {
    write_all (pack ('NNNNN', REP_MAGIC_HI, REP_MAGIC_LO + 1, $opt,
                     REP_ACK, 0));
  }
  elsif ($case eq 'wrong-option') {
    write_all (opt_reply ($opt == OPT_GO ? OPT_LIST : OPT_GO, REP_ACK));
  }
  elsif ($case eq 'silence') {
    # nothing
  }
  elsif ($case eq 'garbage') {
    write_all (garbage ());
  }
  elsif ($case eq 'close-mid-header') {
    write_all (substr (opt_reply ($opt, REP_ACK), 0, 10));
    return 0;
  }
  elsif ($case eq 'meta-truncated') {
    write_all (opt_reply ($opt, REP_META_CONTEXT, "\x00\x01") .
               opt_reply ($opt, REP_ACK));
  }
  elsif ($case eq 'unknown-reply') {
    write_all (opt_reply ($opt, 0x7fff) . opt_reply ($opt, REP_ACK));
  }
  elsif ($case eq 'endless-replies') {
    my $sent = flood (opt_reply ($opt, REP_SERVER, pack ('N', 7) . 'hostile'),
                      200000, 1000, 0.001);
    logmsg ("sent $sent NBD_REP_SERVER replies");
  }
  drain ();
  return 0;
}

# flood ONE TOTAL BATCH PAUSE: write ONE up to TOTAL times, BATCH at a
# time with PAUSE seconds between batches, until the client stops
# reading; returns how many were sent.
sub flood {
  my ($one, $total, $batch, $pause) = @_;
  my $sent = 0;
  while ($sent < $total) {
    last unless write_all ($one x $batch);
    $sent += $batch;
    select (undef, undef, undef, $pause);
  }
  return $sent;
}

# The hostile answer to the first request.
sub hostile_request {
  my ($type, $cookie, $offset, $len) = @_;
  logmsg ("hostile answer ($case) to request type $type cookie $cookie");
  if ($case eq 'chunk-huge') {
    write_all (pack ('NnnQ>N', STRUCTURED_MAGIC, FLAG_DONE, TYPE_OFFSET_DATA,
                     $cookie, 64 * 1024 * 1024 + 1));
  }
  elsif ($case eq 'chunk-bad-cookie') {
    write_all (chunk (FLAG_DONE, TYPE_NONE, 0xdeadbeef, ''));
  }
  elsif ($case eq 'chunk-no-done') {
    my $sent = flood (chunk (0, TYPE_OFFSET_HOLE, $cookie,
                             pack ('Q>N', $offset, 512)), 100000, 100, 0.005);
    logmsg ("sent $sent chunks without DONE");
  }
  elsif ($case eq 'chunk-stall') {
    write_all (chunk (0, TYPE_OFFSET_HOLE, $cookie,
                      pack ('Q>N', $offset, 512)) x 3);
  }
  drain ();
}

# Transmission phase: answer requests until DISC or EOF.
sub transmission {
  while (1) {
    my $req = read_n (28);
    return unless defined $req;
    my ($magic, $flags, $type, $cookie, $offset, $len) =
      unpack ('NnnQ>Q>N', $req);
    if ($magic != REQUEST_MAGIC) {
      logmsg (sprintf ("bad request magic 0x%08x", $magic));
      return;
    }
    logmsg ("request type $type cookie $cookie offset $offset length $len");
    return if $type == CMD_DISC;
    if ($case ne 'compliant') {
      hostile_request ($type, $cookie, $offset, $len);
      return;
    }
    if ($type == CMD_READ && $len <= 65536 && $offset + $len <= EXPORT_SIZE) {
      write_all (chunk (FLAG_DONE, TYPE_OFFSET_DATA, $cookie,
                        pack ('Q>', $offset) . ("\0" x $len)));
    }
    else {
      write_all (chunk (FLAG_DONE, 0x8001, $cookie, pack ('Nn', 22, 0)));
    }
  }
}

# The option phase of one connection.
sub serve {
  if ($case eq 'greeting-oldstyle') {
    write_all (NBDMAGIC . pack ('NNQ>N', 0x00004202, 0x81861253,
                                EXPORT_SIZE, 3) . ("\0" x 124));
    drain ();
    return;
  }
  write_all (NBDMAGIC . IHAVEOPT . pack ('n', 3)) or return;
  my $cflags = read_n (4);
  return unless defined $cflags;
  logmsg (sprintf ("client flags 0x%08x", unpack ('N', $cflags)));

  while (1) {
    my $hdr = read_n (16);
    return unless defined $hdr;
    if (substr ($hdr, 0, 8) ne IHAVEOPT) {
      logmsg ("not an option in the option phase: " . unpack ('H*', $hdr));
      return;
    }
    my ($opt, $len) = unpack ('NN', substr ($hdr, 8));
    if ($len > 65536) {
      logmsg ("option $opt with length $len: closing");
      return;
    }
    my $payload = $len ? read_n ($len) : '';
    return unless defined $payload;
    logmsg ("option $opt length $len");

    if ($opt == OPT_SR) {
      write_all (opt_reply ($opt, REP_ACK));
    }
    elsif ($opt == OPT_STARTTLS) {
      write_all (opt_reply ($opt, REP_ERR_POLICY, 'TLS is not offered'));
    }
    elsif ($opt == OPT_ABORT) {
      write_all (opt_reply ($opt, REP_ACK));
      return;
    }
    elsif ($opt == OPT_EXPORT_NAME) {
      return;
    }
    elsif ($opt_cases{$case}) {
      hostile_option ($opt) or return;
    }
    elsif ($opt == OPT_GO && ($tx_cases{$case} || $case eq 'compliant')) {
      # NBD_INFO_EXPORT: size 1 MiB, flags HAS_FLAGS|READ_ONLY.
      write_all (opt_reply ($opt, REP_INFO, pack ('nQ>n', 0, EXPORT_SIZE, 3)) .
                 opt_reply ($opt, REP_ACK));
      transmission ();
      return;
    }
    elsif ($case eq 'compliant' && $opt == OPT_LIST) {
      write_all (opt_reply ($opt, REP_SERVER, pack ('N', 7) . 'hostile') .
                 opt_reply ($opt, REP_ACK));
    }
    elsif ($case eq 'compliant' &&
           ($opt == OPT_LIST_META || $opt == OPT_SET_META) && $len >= 8) {
      # export name, then queries: answer each query with a context.
      my $nlen = unpack ('N', $payload);
      my $p = 4 + $nlen;
      my $n = $p + 4 <= $len ? unpack ('N', substr ($payload, $p, 4)) : 0;
      my $out = '';
      $p += 4;
      for my $id (1 .. $n) {
        last if $p + 4 > $len;
        my $qlen = unpack ('N', substr ($payload, $p, 4));
        my $q = substr ($payload, $p + 4, $qlen);
        $p += 4 + $qlen;
        $q = 'base:allocation' if $q eq 'base:';
        $out .= opt_reply ($opt, REP_META_CONTEXT, pack ('N', $id) . $q);
      }
      write_all ($out . opt_reply ($opt, REP_ACK));
    }
    else {
      write_all (opt_reply ($opt, REP_ERR_UNSUP));
    }
  }
}

while (1) {
  $conn = $listener->accept ();
  if (!$conn) {
    select (undef, undef, undef, 0.1);
    next;
  }
  logmsg ("connection");
  serve ();
  close ($conn);
  logmsg ("connection closed");
}
