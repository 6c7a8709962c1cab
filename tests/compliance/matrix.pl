#!/usr/bin/perl
# matrix.pl: turn nbd-probe's TAP (one run per server configuration)
# into the compliance matrix: compliance.md and a self-contained
# compliance.html with the same table.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
#
# Usage:
#   matrix.pl --rules verdicts.tsv --configs configs.tsv
#             --scenarios scenarios.tsv --md OUT.md --html OUT.html
#             [--expected tests/expected/battery.tsv]
#   matrix.pl --rules verdicts.tsv --verdicts CFG [--version V] TAPFILE...
#
# configs.tsv: one line per column, tab-separated:
#   ID  PEER-VERSION  TITLE  EXPECTED-MODE  MISSING-REASON  TAPFILE,...
# (MISSING-REASON is "-" when the configuration ran.)
# scenarios.tsv: one line per row: NAME  KIND  DESCRIPTION
# (KIND is "battery" or "script").
#
# Each cell is ok, FAIL, n/a or note.  The probe's result is mapped
# through the rules of verdicts.tsv (first match wins); without a rule:
#   ok                  -> ok ("note" if the probe printed a "# note:")
#   ok # SKIP           -> n/a, with the skip reason
#   not ok              -> FAIL, marked "untriaged" (add a rule and
#                          explain it in docs/compliance.md)
#   report-only result  -> note, with what was observed
#   no result           -> FAIL "no result"
# A rule with WHEN "any" applies whatever the probe said, so a
# scenario that does not apply to a server is n/a even if the probe
# happened to report ok.  --verdicts prints "NAME VERDICT[ NOTE-ID]"
# lines for one configuration (used by the make check tests).

use strict;
use warnings;
use File::Basename qw(dirname);

# versions_match, shared with the lookups in tests/expected/battery.tsv.
require (dirname (__FILE__) . '/../expected.pl');

my (%opt, @rest);
while (@ARGV) {
  my $a = shift @ARGV;
  if ($a =~ /^--(rules|configs|scenarios|md|html|verdicts|version|expected)$/) {
    $opt{$1} = shift @ARGV;
  } else {
    push @rest, $a;
  }
}
die "matrix.pl: --rules is required\n" unless $opt{rules};

# ---- rules and notes ------------------------------------------------

my (@rules, %notes, @note_order);
open my $rfh, '<', $opt{rules} or die "matrix.pl: $opt{rules}: $!\n";
while (<$rfh>) {
  chomp;
  next if /^\s*(#|$)/;
  my @f = split /\t+/;
  if ($f[0] eq 'note') {
    die "matrix.pl: $opt{rules}:$.: note needs ID, KIND, TEXT\n" if @f < 4;
    $notes{$f[1]} = { kind => $f[2], text => $f[3] };
    push @note_order, $f[1];
    next;
  }
  die "matrix.pl: $opt{rules}:$.: want CONFIG SCENARIO WHEN VERDICT NOTE REASON [VERSIONS]\n"
    if @f < 6;
  my ($cglob, $scn, $when, $verdict, $note, $reason, $versions) = @f;
  $versions //= '*';
  die "matrix.pl: $opt{rules}:$.: bad VERSIONS $versions\n"
    unless $versions =~ /^(\*|<[\d.]+|>=[\d.]+)$/;
  die "matrix.pl: $opt{rules}:$.: bad verdict $verdict\n"
    unless $verdict =~ /^(ok|FAIL|n\/a|note)$/;
  (my $re = quotemeta $cglob) =~ s/\\\*/.*/g;
  push @rules, { cre => qr/^$re$/, scn => $scn, when => $when,
                 verdict => $verdict, note => ($note eq '-' ? '' : $note),
                 reason => $reason, versions => $versions, line => $. };
}
close $rfh;
for my $r (@rules) {
  die "matrix.pl: $opt{rules}:$r->{line}: unknown note $r->{note}\n"
    if $r->{note} ne '' && !$notes{$r->{note}};
}

# ---- the version-keyed expectations (--expected) --------------------

# Rows of tests/expected/battery.tsv whose VERDICT is a matrix verdict:
# [config-regex, scenario, peer, versions, verdict-and-note].
my @expected;
if ($opt{expected}) {
  open my $efh, '<', $opt{expected} or die "matrix.pl: $opt{expected}: $!\n";
  while (<$efh>) {
    chomp;
    next if /^\s*(#|$)/;
    my @f = split /\t/;
    next unless @f >= 6 && $f[5] =~ /^(ok|FAIL|n\/a|note)\b/;
    (my $re = quotemeta $f[0]) =~ s/\\\*/.*/g;
    push @expected, [qr/^$re$/, $f[1], $f[2], $f[3], $f[5]];
  }
  close $efh;
}

# ---- TAP ------------------------------------------------------------

# parse_tap FILE...: { mode => ..., res => { NAME => {...} }, order => [] }
sub parse_tap {
  my %t = (mode => '', res => {}, order => []);
  for my $file (@_) {
    open my $fh, '<', $file or next;
    my $cur;
    while (<$fh>) {
      chomp;
      if (/^# server mode: (\S+)/) {
        $t{mode} ||= $1;
      } elsif (/^(not ok|ok) \d+ - (\S+)(?: # (SKIP|TODO)\s*(.*))?$/) {
        my ($st, $name, $dir, $why) = ($1, $2, $3 // '', $4 // '');
        my $status = $st eq 'ok' ? 'ok' : 'not-ok';
        $status = 'skip' if $dir eq 'SKIP';
        $status = ($st eq 'ok' ? 'xpass' : 'xfail') if $dir eq 'TODO';
        $cur = { status => $status, why => $why, msg => '',
                 observed => undef, note => '' };
        push @{$t{order}}, $name unless $t{res}{$name};
        $t{res}{$name} = $cur;
      } elsif (/^# observed (\S+): (.*)$/) {
        $t{res}{$1}{observed} = $2 if $t{res}{$1};
      } elsif (/^# note: (.*)$/ && $cur) {
        $cur->{note} ||= $1;
      } elsif (/^# (.*)$/ && $cur && $cur->{status} eq 'not-ok'
               && $cur->{msg} eq '') {
        $cur->{msg} = $1;
      } elsif (/^1\.\./) {
        $cur = undef;
      }
    }
    close $fh;
  }
  return \%t;
}

# The failure message without the script path and line prefix.
sub short_msg {
  my ($m) = @_;
  $m =~ s/^\S*?([A-Za-z0-9_]+\.scn:\d+): /$1: /;
  return $m;
}

sub shorten {
  my ($s, $n) = @_;
  return length ($s) > $n ? substr ($s, 0, $n - 3) . '...' : $s;
}

# version_ok RULE VERSION: the rule applies to the server's VERSION (the
# first dotted number of its version line; a rule with VERSIONS never
# applies when the version is unknown).
sub version_ok {
  my ($rule, $version) = @_;
  return 1 if $rule->{versions} eq '*';
  my ($v) = ($version // '') =~ /(\d+(?:\.\d+)*)/;
  return versions_match ($rule->{versions}, $v);
}

# verdict CFG NAME RESULT [VERSION]: (verdict, reason, note-id)
sub verdict {
  my ($cfg, $name, $r, $version) = @_;
  my $status = $r ? $r->{status} : 'none';
  my $text = !$r ? '' : $status eq 'not-ok' ? $r->{msg}
           : $status eq 'skip' ? $r->{why}
           : defined $r->{observed} ? $r->{observed} : $r->{note};
  for my $rule (@rules) {
    next unless $cfg =~ $rule->{cre} && $rule->{scn} eq $name
      && version_ok ($rule, $version);
    my $w = $rule->{when};
    my $hit;
    if ($w eq 'any') { $hit = 1 }
    elsif ($w =~ /^(ok|skip|not-ok|observed)(?:~(.*))?$/) {
      my ($ws, $re) = ($1, $2);
      if ($ws eq 'observed') {
        $hit = $r && defined $r->{observed}
               && (!defined $re || $r->{observed} =~ /$re/);
      } else {
        $hit = $status eq $ws && (!defined $re || $text =~ /$re/);
      }
    } else {
      die "matrix.pl: rule line $rule->{line}: bad WHEN $w\n";
    }
    if ($hit) {
      my $reason = $rule->{reason};
      $reason =~ s/\$OBSERVED/$text/g;
      return ($rule->{verdict}, $reason, $rule->{note});
    }
  }
  return ('FAIL', 'no result from nbd-probe', '') if $status eq 'none';
  if ($status eq 'ok' && defined $r->{observed}) {
    return ('note', "observed: $r->{observed}", '');
  }
  return ('note', shorten ($r->{note}, 90), '') if $status eq 'ok' && $r->{note};
  return ('ok', '', '') if $status eq 'ok';
  if ($status eq 'skip') {
    my $why = $r->{why};
    $why =~ s/^server is (\w+); the scenario applies to (\w+) only$/$1 server; applies to $2 only/;
    $why =~ s/^server does not offer (\S+).*$/$1 not offered/;
    return ('n/a', shorten ($why, 90), '');
  }
  return ('FAIL', 'untriaged: ' . shorten (short_msg ($text), 90), '')
    if $status eq 'not-ok';
  return ('FAIL', "unexpected TAP status $status", '');
}

# ---- --verdicts: one configuration, for the tests -------------------

if (defined $opt{verdicts}) {
  my $t = parse_tap (@rest);
  print "mode $t->{mode}\n";
  for my $name (@{$t->{order}}) {
    my ($v, $reason, $note) = verdict ($opt{verdicts}, $name, $t->{res}{$name},
                                       $opt{version});
    print "$name $v", ($note ne '' ? " $note" : ''), "\n";
  }
  exit 0;
}

# ---- the whole matrix -----------------------------------------------

die "matrix.pl: --configs, --scenarios, --md and --html are required\n"
  unless $opt{configs} && $opt{scenarios} && $opt{md} && $opt{html};

my @cfgs;
open my $cfh, '<', $opt{configs} or die "matrix.pl: $opt{configs}: $!\n";
while (<$cfh>) {
  chomp;
  next if /^\s*(#|$)/;
  my ($id, $ver, $title, $want, $missing, $taps) = split /\t/;
  push @cfgs, { id => $id, version => $ver, title => $title, want => $want,
                missing => ($missing eq '-' ? '' : $missing),
                tap => parse_tap (split /,/, $taps // '') };
}
close $cfh;

my @scns;
open my $sfh, '<', $opt{scenarios} or die "matrix.pl: $opt{scenarios}: $!\n";
while (<$sfh>) {
  chomp;
  next if /^\s*(#|$)/;
  my ($name, $kind, $desc) = split /\t/;
  push @scns, { name => $name, kind => $kind, desc => $desc // '' };
}
close $sfh;

# cells{cfg}{scn} = [verdict, reason, note]
my (%cells, %used_notes, %count);
my ($checked, $differ) = (0, 0);
for my $c (@cfgs) {
  for my $s (@scns) {
    my @v;
    if ($c->{missing}) {
      @v = ('n/a', "not run: $c->{missing}", '');
    } else {
      @v = verdict ($c->{id}, $s->{name}, $c->{tap}{res}{$s->{name}},
                    $c->{version});
    }
    # A cell whose verdict differs from the version-keyed expectation
    # becomes a FAIL that says so.
    if (!$c->{missing}) {
      my ($peer) = $c->{version} =~ /^(\S+)/;
      for my $e (@expected) {
        next unless $c->{id} =~ $e->[0] && $e->[1] eq $s->{name}
          && $e->[2] eq ($peer // '')
          && version_ok ({ versions => $e->[3] }, $c->{version});
        my $got = $v[0] . ($v[2] ne '' ? " $v[2]" : '');
        $checked++;
        if ($got ne $e->[4]) {
          @v = ('FAIL', "expected $e->[4] for this version"
                . " (tests/expected/battery.tsv), got $got", '');
          $differ++;
        }
        last;
      }
    }
    $cells{$c->{id}}{$s->{name}} = \@v;
    $used_notes{$v[2]} = 1 if $v[2] ne '';
    $count{$v[0]}++;
  }
  if (!$c->{missing}) {
    my $mode = $c->{tap}{mode} || 'unknown';
    $c->{mode} = $mode;
    $c->{mode_bad} = $mode ne $c->{want};
  }
}
my @notes = grep { $used_notes{$_} } @note_order;

sub header_lines {
  my ($c) = @_;
  my @h = ($c->{version}, $c->{title});
  if ($c->{missing}) {
    push @h, "not run: $c->{missing}";
  } else {
    push @h, "detected: $c->{mode}"
      . ($c->{mode_bad} ? " (expected $c->{want})" : '');
  }
  return @h;
}

# ---- Markdown -------------------------------------------------------

sub md_esc {
  my ($s) = @_;
  $s =~ s/\|/\\|/g;
  $s =~ s/([<>])/$1 eq '<' ? '&lt;' : '&gt;'/ge;
  return $s;
}

sub cell_text {
  my ($v, $reason, $note) = @{$_[0]};
  my $t = $v eq 'FAIL' ? 'FAIL' : $v;
  $t .= ": $reason" if $reason ne '';
  $t .= " [$note]" if $note ne '';
  return $t;
}

open my $md, '>', "$opt{md}.tmp" or die "matrix.pl: $opt{md}: $!\n";
print $md "# NBD STARTTLS compliance matrix\n\n";
print $md "Generated by `make compliance` (tests/compliance/run-matrix.sh):\n";
print $md "nbd-probe's battery and the scripts in tests/compliance/scenarios/\n";
print $md "against each server configuration, over a Unix socket with the\n";
print $md "test X.509 PKI.  Rows are scenarios, columns are configurations.\n";
print $md "Cells: **ok**, **FAIL**, **n/a** (the scenario does not apply),\n";
print $md "**note** (passes the spec, but see the note).  Notes [..] are\n";
print $md "explained below and in docs/compliance.md.\n\n";
printf $md "Totals: %d ok, %d FAIL, %d n/a, %d note.\n\n",
  map { $count{$_} // 0 } qw(ok FAIL n/a note);
printf $md "Checked against the version-keyed expectations in"
  . " tests/expected/battery.tsv: %d cells, %d differ.\n\n", $checked, $differ
  if $opt{expected};
print $md "| scenario | ",
  join (' | ', map { join ('<br>', map { md_esc ($_) } header_lines ($_)) } @cfgs),
  " |\n";
print $md "|---|", join ('', map { '---|' } @cfgs), "\n";
for my $s (@scns) {
  my $label = "`$s->{name}`" . ($s->{kind} eq 'script' ? ' (script)' : '');
  print $md "| $label | ",
    join (' | ', map {
      my $t = md_esc (cell_text ($cells{$_->{id}}{$s->{name}}));
      $t =~ s/^(FAIL|ok|n\/a|note)/**$1**/;
      $t;
    } @cfgs), " |\n";
}
print $md "\n## Scenarios\n\n";
for my $s (@scns) {
  print $md "- `$s->{name}`", ($s->{kind} eq 'script'
    ? " (tests/compliance/scenarios/$s->{name}.scn)" : ''),
    ": ", md_esc ($s->{desc}), "\n";
}
if (@notes) {
  print $md "\n## Notes\n\n";
  for my $n (@notes) {
    print $md "- **[$n]** *$notes{$n}{kind}*: ", md_esc ($notes{$n}{text}), "\n";
  }
}
close $md;
rename "$opt{md}.tmp", $opt{md} or die "matrix.pl: rename $opt{md}: $!\n";

# ---- HTML -----------------------------------------------------------

sub h {
  my ($s) = @_;
  $s =~ s/&/&amp;/g; $s =~ s/</&lt;/g; $s =~ s/>/&gt;/g; $s =~ s/"/&quot;/g;
  return $s;
}

my %class = ('ok' => 'ok', 'FAIL' => 'fail', 'n/a' => 'na', 'note' => 'note');
open my $ht, '>', "$opt{html}.tmp" or die "matrix.pl: $opt{html}: $!\n";
print $ht <<'EOF';
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>NBD STARTTLS compliance matrix</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #999; padding: 0.3em 0.5em; vertical-align: top; }
th { background: #eee; text-align: left; }
th.scn, td.scn { white-space: nowrap; }
td.ok { background: #d9f2d9; }
td.fail { background: #f7c6c6; font-weight: bold; }
td.na { background: #ececec; color: #555; }
td.note { background: #fff2c2; }
td .v { font-weight: bold; display: block; }
code { font-size: 0.95em; }
.small { font-size: 0.85em; color: #444; }
</style>
</head>
<body>
<h1>NBD STARTTLS compliance matrix</h1>
<p>Generated by <code>make compliance</code> (tests/compliance/run-matrix.sh):
nbd-probe's battery and the scripts in tests/compliance/scenarios/ against
each server configuration, over a Unix socket with the test X.509 PKI.
Cells: <b>ok</b>, <b>FAIL</b>, <b>n/a</b> (does not apply), <b>note</b>
(passes the spec, but see the note).</p>
EOF
printf $ht "<p>Totals: %d ok, %d FAIL, %d n/a, %d note.</p>\n",
  map { $count{$_} // 0 } qw(ok FAIL n/a note);
print $ht "<table>\n<tr><th class=\"scn\">scenario</th>";
for my $c (@cfgs) {
  my @hl = header_lines ($c);
  print $ht "<th><b>", h (shift @hl), "</b>",
    join ('', map { "<br><span class=\"small\">" . h ($_) . "</span>" } @hl),
    "</th>";
}
print $ht "</tr>\n";
for my $s (@scns) {
  print $ht "<tr><td class=\"scn\" title=\"", h ($s->{desc}), "\"><code>",
    h ($s->{name}), "</code>", ($s->{kind} eq 'script' ? ' <span class="small">(script)</span>' : ''),
    "</td>";
  for my $c (@cfgs) {
    my ($v, $reason, $note) = @{$cells{$c->{id}}{$s->{name}}};
    print $ht "<td class=\"$class{$v}\"><span class=\"v\">", h ($v), "</span>",
      h ($reason), ($note ne '' ? " <a href=\"#note-$note\">[" . h ($note) . "]</a>" : ''),
      "</td>";
  }
  print $ht "</tr>\n";
}
print $ht "</table>\n<h2>Scenarios</h2>\n<ul>\n";
for my $s (@scns) {
  print $ht "<li><code>", h ($s->{name}), "</code>",
    ($s->{kind} eq 'script' ? " (tests/compliance/scenarios/" . h ($s->{name}) . ".scn)" : ''),
    ": ", h ($s->{desc}), "</li>\n";
}
print $ht "</ul>\n";
if (@notes) {
  print $ht "<h2>Notes</h2>\n<ul>\n";
  for my $n (@notes) {
    print $ht "<li id=\"note-", h ($n), "\"><b>[", h ($n), "]</b> <i>",
      h ($notes{$n}{kind}), "</i>: ", h ($notes{$n}{text}), "</li>\n";
  }
  print $ht "</ul>\n";
}
print $ht "</body>\n</html>\n";
close $ht;
rename "$opt{html}.tmp", $opt{html} or die "matrix.pl: rename $opt{html}: $!\n";
