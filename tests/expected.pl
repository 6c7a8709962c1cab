#!/usr/bin/perl
# Lookups in tests/expected/battery.tsv (the table of expected results),
# for tests/functions.sh.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
#
#   expected.pl --peer-version PEER
#       the installed version of PEER (qemu-nbd, qemu-img, nbd-server,
#       nbdkit; the programs named by $QEMU_NBD, $QEMU_IMG, $NBD_SERVER,
#       $NBDKIT), dotted, or nothing
#   expected.pl TABLE result|verdict|why CFG SCN
#       one column of the first row that matches CFG, SCN and the
#       installed version of the row's peer ("-" prints as nothing);
#       "no-expectation" (and a line on stderr) if no row does
#   expected.pl TABLE summary CFG SCN...
#       "server mode: MODE" (the pseudo-scenario "mode"), then for each
#       SCN "SCN RESULT" and, where the table has a row for the
#       pseudo-scenario "observed:SCN", "observed SCN: RESULT"
#   expected.pl TABLE verdicts CFG SCN...
#       "mode MODE", then "SCN VERDICT" for each SCN
#   expected.pl TABLE failures CFG SCN...
#       each SCN whose RESULT is not-ok (no row: not a failure)

use strict;
use warnings;

my %program = (
  'qemu-nbd'   => [$ENV{QEMU_NBD} || 'qemu-nbd', '--version'],
  'qemu-img'   => [$ENV{QEMU_IMG} || 'qemu-img', '--version'],
  'nbd-server' => [$ENV{NBD_SERVER} || 'nbd-server', '-V'],
  'nbdkit'     => [$ENV{NBDKIT} || 'nbdkit', '--version'],
);

my %version;
sub peer_version {
  my ($peer) = @_;
  return $version{$peer} if exists $version{$peer};
  my $v = '';
  if (my $p = $program{$peer}) {
    my $pid = open my $fh, '-|';
    die "expected.pl: fork: $!\n" unless defined $pid;
    if (!$pid) {
      open STDERR, '>&', \*STDOUT;
      exec @$p or exit 127;
    }
    while (my $l = <$fh>) {
      if ($l =~ /^[^0-9]*([0-9]+(?:\.[0-9]+)*)/) { $v = $1; last; }
    }
    close $fh;
  }
  return $version{$peer} = $v;
}

# cmpv A B: <=> on dotted numbers.
sub cmpv {
  my @a = split /\./, $_[0];
  my @b = split /\./, $_[1];
  while (@a || @b) {
    my ($x, $y) = (shift (@a) // 0, shift (@b) // 0);
    return $x <=> $y if $x != $y;
  }
  return 0;
}

# versions_match VERSIONS V: V (dotted; empty if unknown) is in
# VERSIONS ("*", "<X" or ">=X").  An unknown version matches only "*".
# Also used by compliance/matrix.pl.
sub versions_match {
  my ($vers, $v) = @_;
  return 1 if $vers eq '*';
  return 0 if !defined $v || $v eq '';
  return $vers =~ /^<(.+)/ ? cmpv ($v, $1) < 0
       : $vers =~ /^>=(.+)/ ? cmpv ($v, $1) >= 0 : 0;
}

return 1 if caller;

if (@ARGV == 2 && $ARGV[0] eq '--peer-version') {
  my $v = peer_version ($ARGV[1]);
  print "$v\n" if $v ne '';
  exit 0;
}

my ($table, $mode, $cfg, @scns) = @ARGV;
die "usage: expected.pl TABLE result|verdict|why|summary|verdicts|failures CFG SCN...\n"
  unless defined $cfg;

my @rows;
open my $fh, '<', $table or die "expected.pl: $table: $!\n";
while (<$fh>) {
  chomp;
  next if /^\s*(#|$)/;
  my @f = split /\t/;
  die "expected.pl: $table:$.: expected 7 tab-separated columns\n" unless @f == 7;
  (my $re = quotemeta $f[0]) =~ s/\\\*/.*/g;
  push @rows, [qr/^$re$/, @f[1 .. 6]];
}
close $fh;

# lookup SCN [OPTIONAL]: the matching row's [RESULT, VERDICT, WHY].
sub lookup {
  my ($scn, $optional) = @_;
  for my $r (@rows) {
    my ($re, $s, $peer, $vers) = @$r;
    next unless $cfg =~ $r->[0] && $s eq $scn;
    next unless $vers eq '*' || versions_match ($vers, peer_version ($peer));
    return [map { $_ eq '-' ? '' : $_ } @$r[4 .. 6]];
  }
  return undef if $optional;
  my $p = $scn eq 'mode' ? '' : ' (' . join (' ', map {
    "$_ " . peer_version ($_) } qw(nbdkit qemu-nbd nbd-server)) . ')';
  print STDERR "expected: no row in $table for $cfg $scn$p\n";
  return ['no-expectation', 'no-expectation', 'no-expectation'];
}

my %col = (result => 0, verdict => 1, why => 2);
if (exists $col{$mode}) {
  die "expected.pl: $mode: one scenario\n" unless @scns == 1;
  print lookup ($scns[0])->[$col{$mode}], "\n";
}
elsif ($mode eq 'summary') {
  print "server mode: ", lookup ('mode')->[0], "\n";
  for my $s (@scns) {
    print "$s ", lookup ($s)->[0], "\n";
    my $o = lookup ("observed:$s", 1);
    print "observed $s: $o->[0]\n" if $o;
  }
}
elsif ($mode eq 'verdicts') {
  print "mode ", lookup ('mode')->[0], "\n";
  for my $s (@scns) {
    my $v = lookup ($s)->[1];
    print $s, ($v ne '' ? " $v" : ''), "\n";
  }
}
elsif ($mode eq 'failures') {
  for my $s (@scns) {
    my $r = lookup ($s, 1);
    print "$s\n" if $r && $r->[0] eq 'not-ok';
  }
}
else {
  die "expected.pl: unknown lookup '$mode'\n";
}
