#!/usr/bin/perl
# nbd-raw.pl: send raw bytes to an NBD server on a Unix socket and
# report what comes back, for the hostile-input tests.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
#
# Usage: perl nbd-raw.pl SOCKET TIMEOUT STEP...
# Steps, in order:
#   greeting        read the 18-byte greeting
#   hex:HEX         send these bytes
#   random:N        send N random bytes
#   read:N          read N bytes (up to TIMEOUT seconds)
#   shut            half-close (no more writes)
#   end             stop here and close, without waiting for EOF
# After the last step (unless it is "end"), read until EOF or TIMEOUT.
# Output: one line per read ("greeting HEX", "read HEX", "rest HEX")
# and a final "eof" or "timeout".  Exit 0, or 2 on a usage or connect
# error.

use strict;
use warnings;
use IO::Socket::UNIX;
use IO::Select;
use Socket qw(SOCK_STREAM SHUT_WR);

@ARGV >= 2 or die "usage: nbd-raw.pl SOCKET TIMEOUT STEP...\n";
my ($path, $timeout, @steps) = @ARGV;
$SIG{PIPE} = 'IGNORE';

my $s = IO::Socket::UNIX->new (Type => SOCK_STREAM, Peer => $path)
  or do { print STDERR "connect $path: $!\n"; exit 2 };
my $sel = IO::Select->new ($s);
my $eof = 0;

# Read exactly $n bytes (fewer at EOF or timeout).
sub read_n {
  my ($n) = @_;
  my $buf = '';
  my $deadline = time + $timeout;
  while (length ($buf) < $n) {
    my $left = $deadline - time;
    last if $left <= 0 || !$sel->can_read ($left);
    my $r = sysread ($s, my $chunk, $n - length ($buf));
    if (!defined $r || $r == 0) { $eof = 1; last; }
    $buf .= $chunk;
  }
  return $buf;
}

for my $step (@steps) {
  if ($step eq 'greeting') {
    print "greeting ", unpack ("H*", read_n (18)), "\n";
  }
  elsif ($step =~ /^hex:([0-9a-fA-F]*)$/) {
    syswrite ($s, pack ("H*", $1));
  }
  elsif ($step =~ /^random:(\d+)$/) {
    my $bytes = join '', map { chr (int (rand (256))) } 1 .. $1;
    syswrite ($s, $bytes);
  }
  elsif ($step =~ /^read:(\d+)$/) {
    print "read ", unpack ("H*", read_n ($1)), "\n";
  }
  elsif ($step eq 'shut') {
    shutdown ($s, SHUT_WR);
  }
  elsif ($step eq 'end') {
    close ($s);
    exit 0;
  }
  else {
    print STDERR "nbd-raw.pl: bad step '$step'\n";
    exit 2;
  }
  last if $eof;
}

# Drain until EOF or the timeout.
my $rest = '';
my $deadline = time + $timeout;
while (!$eof) {
  my $left = $deadline - time;
  last if $left <= 0 || !$sel->can_read ($left);
  my $r = sysread ($s, my $chunk, 65536);
  if (!defined $r || $r == 0) { $eof = 1; last; }
  $rest .= $chunk if length ($rest) < 4096;
}
print "rest ", unpack ("H*", $rest), "\n" if length $rest;
print $eof ? "eof\n" : "timeout\n";
exit 0;
