# Version-keyed expectations: lookups in tests/expected/battery.tsv.
# Source after functions.sh.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
#
#   peer_version PEER         the installed version of PEER (qemu-nbd,
#                             qemu-img, nbd-server, nbdkit), dotted
#   expected_result CFG SCN   the RESULT column for CFG, SCN and the
#                             installed version of the row's peer
#   expected_verdict CFG SCN  the VERDICT column ("-" becomes empty)
#   expected_why CFG SCN      the WHY column
# A lookup that matches no row prints "no-expectation" and a line on
# stderr, so the assertion that uses it fails.

expected_table=${top_srcdir:-$srcdir/..}/tests/expected/battery.tsv

peer_version ()
{
  case $1 in
    qemu-nbd) "${QEMU_NBD:-qemu-nbd}" --version 2>/dev/null ;;
    qemu-img) "${QEMU_IMG:-qemu-img}" --version 2>/dev/null ;;
    nbd-server) "${NBD_SERVER:-nbd-server}" -V 2>&1 ;;
    nbdkit) "${NBDKIT:-nbdkit}" --version 2>/dev/null ;;
  esac | sed -n 's/^[^0-9]*\([0-9][0-9]*\(\.[0-9][0-9]*\)*\).*/\1/p' | head -n 1
}

# _expected FIELD CFG SCN: FIELD is 5 (RESULT), 6 (VERDICT) or 7 (WHY).
_expected ()
{
  _peer=$(awk -F '\t' -v s="$3" '$2 == s { print $3; exit }' "$expected_table")
  perl -e '
    my ($field, $cfg, $scn, $peer, $ver, $table) = @ARGV;
    sub cmpv {
      my @a = split /\./, $_[0]; my @b = split /\./, $_[1];
      while (@a || @b) {
        my ($x, $y) = (shift (@a) // 0, shift (@b) // 0);
        return $x <=> $y if $x != $y;
      }
      return 0;
    }
    open my $fh, "<", $table or die "$table: $!\n";
    while (<$fh>) {
      chomp;
      next if /^\s*(#|$)/;
      my @f = split /\t/;
      (my $re = quotemeta $f[0]) =~ s/\\\*/.*/g;
      next unless $cfg =~ /^$re$/ && $f[1] eq $scn && $f[2] eq $peer;
      my $v = $f[3];
      next unless $v eq "*"
        || ($v =~ /^<(.+)/ && cmpv ($ver, $1) < 0)
        || ($v =~ /^>=(.+)/ && cmpv ($ver, $1) >= 0);
      my $out = $f[$field - 1];
      $out = "" if $out eq "-";
      print "$out\n";
      exit 0;
    }
    print "no-expectation\n";
    print STDERR "expected: no row in $table for $cfg $scn ($peer $ver)\n";
  ' "$1" "$2" "$3" "$_peer" "$(peer_version "$_peer")" "$expected_table"
}

expected_result ()  { _expected 5 "$1" "$2"; }
expected_verdict () { _expected 6 "$1" "$2"; }
expected_why ()     { _expected 7 "$1" "$2"; }

# expected_line CFG SCN: "SCN VERDICT" as matrix.pl --verdicts prints it.
expected_verdict_line ()
{
  _v=$(expected_verdict "$1" "$2")
  echo "$2${_v:+ $_v}"
}
