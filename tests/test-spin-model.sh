#!/bin/bash -
# The SPIN model of the three-party meta-context injection (model/starttls.pml,
# docs/spin-model.md).  The current rule verifies P1, P2 and P3; each
# broken server variant fails exactly its property, and its shortest
# counterexample replays as the attack's message sequence.  Each trail
# is then turned into an nbd-probe script of "judge" steps (what the
# server read, in order), which must fail against nbd-badserver with
# the matching --defect and pass against the compliant nbd-badserver
# and against nbdkit with tlsguard.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh

command -v spin >/dev/null 2>&1 || skip_all "spin not installed"
requires_nbdkit_version
requires_psk
requires_badserver
requires_probe

: "${CC:=gcc}"
model=$srcdir/model/starttls.pml

# name|-D switch|the property it must fail|nbd-badserver --defect
variants=(
  "compliant|||"
  "keep-meta|KEEP_META|p1|keep-meta"
  "keep-sr|KEEP_SR|p2|keep-sr"
  "ignore-export|IGNORE_EXPORT|p1|ignore-export-mismatch"
  "tls-only-plain|TLS_ONLY_PLAIN|p3|serve-tls-only"
)
# The model's export e is TLS-only: on the real servers it is "secret"
# (nbd-badserver --tls-only-export, tlsguard-tls-only=), and nbd-probe
# is told so (--tls-only-export), which makes its spec model judge it
# (property P5: the model's P3).
tls_only_export=secret
declare -A probe_prop=([p1]=P1 [p2]=P2 [p3]=P5)
props="p1 p2 p3"
# Non-vacuity claims: they must fail on every variant (the client can
# get block status for (e, B), and a simple READ reply, over TLS).
sane="sane_bs sane_read"
declare -A claim_var=([p1]=p1_bad [p2]=p2_bad [p3]=p3_bad
                      [sane_bs]=got_bs [sane_read]=got_read)
declare -A sane_what=(
  [sane_bs]="the client can get block status for (e, B) over TLS"
  [sane_read]="the client can get a simple READ reply over TLS")

# 5 variants: a build, 3 properties and 2 non-vacuity claims each;
# 4 broken variants: a trail each, and a defect each: a failing replay
# and a clean exit each; then the 4 scripts and a clean exit for each
# of the compliant nbd-badserver and nbdkit with tlsguard.
tap_plan $((5 * 6 + 4 + 4 * 2 + 2 * (4 + 1)))

# key_steps NAME: the key steps of NAME's counterexample, in order,
# one ERE on its MSC lines per line.
key_steps ()
{
  case $1 in
    keep-meta) printf '%s\n' \
      "^MSC: server <- plain SET_META E CA injected$" \
      "^MSC: server <- plain STARTTLS NONE NONE injected$" \
      "^MSC: attacker -> client tls META E CB forged$" \
      "^MSC: server <- tls GO E NONE forwarded$" \
      "^MSC: server <- tls BLOCK_STATUS NONE NONE forwarded$" \
      "^MSC: client accepts BS_DATA E CA tls$" ;;
    keep-sr) printf '%s\n' \
      "^MSC: server <- plain SR NONE NONE injected$" \
      "^MSC: server <- plain STARTTLS NONE NONE (injected|forwarded)$" \
      "^MSC: server <- tls GO E NONE forwarded$" \
      "^MSC: server <- tls READ NONE NONE forwarded$" \
      "^MSC: client accepts READ_DATA E structured tls$" ;;
    ignore-export) printf '%s\n' \
      "^MSC: server <- plain STARTTLS NONE NONE injected$" \
      "^MSC: server <- tls SET_META F C[AB] forwarded$" \
      "^MSC: attacker -> client tls META E CB forged$" \
      "^MSC: server <- tls GO E NONE forwarded$" \
      "^MSC: server <- tls BLOCK_STATUS NONE NONE forwarded$" \
      "^MSC: client accepts BS_DATA F C[AB] tls$" ;;
    tls-only-plain) printf '%s\n' \
      "^MSC: server <- plain GO E NONE injected$" \
      "^MSC: server <- plain (READ|BLOCK_STATUS) NONE NONE injected$" \
      "^MSC: server serves E data plain$" ;;
  esac
}

# absent_step NAME: an ERE no line of NAME's counterexample may match:
# what the attack relies on the server never seeing.
absent_step ()
{
  case $1 in
    keep-meta)      echo "^MSC: server <- .* SET_META E CB" ;;
    keep-sr)        echo "^MSC: server <- tls SR " ;;
    ignore-export)  echo "^MSC: server <- .* SET_META E " ;;
    tls-only-plain) echo "^MSC: server <- .* STARTTLS " ;;
  esac
}

# now: seconds since the epoch, with milliseconds (for diagnostics
# only; nothing is asserted about time).
now () { date +%s.%3N; }
took () { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f s", b - a }'; }

# pan_field FILE: "S states, depth D" from a pan report.
pan_field ()
{
  _s=$(sed -n 's/^ *\([0-9][0-9]*\) states, stored.*/\1/p' "$1" | head -n 1)
  _d=$(sed -n 's/.*depth reached \([0-9][0-9]*\),.*/\1/p' "$1" | head -n 1)
  echo "${_s:-?} states, depth ${_d:-?}"
}

# in_order FILE ERE...: each ERE matches a line of FILE after the line
# the previous one matched.  Sets order_lines (the line numbers) or
# order_missing (the first ERE not found in its place).
in_order ()
{
  _f=$1; shift
  _from=0 order_lines='' order_missing=
  for _re in "$@"; do
    _n=$(awk -v from="$_from" -v re="$_re" \
           'NR > from && $0 ~ re { print NR; exit }' "$_f")
    if [ -z "$_n" ]; then
      order_missing=$_re
      return 1
    fi
    _from=$_n order_lines="$order_lines $_n"
  done
}

# trail_script NAME MSC-FILE [E]: the nbd-probe script of what the
# server read in the trail, one "judge" step per request, in order.  Export
# e is E (default $EXPORT; $TLSONLY where the trail is about e being
# TLS-only) and f $EXPORT2; both contexts are $CONTEXT, the one context
# both servers have (the client's own context never reaches the server
# in these sequences).
trail_script ()
{
  awk -v name="$1" -v e="${3:-\$EXPORT}" '
    BEGIN { print "name " name
            print "# generated by test-spin-model.sh from a SPIN trail" }
    $1 == "MSC:" && $2 == "server" && $3 == "<-" {
      print "# spin: " substr($0, 6)
      xname = ($6 == "E") ? e : "$EXPORT2"
      if ($5 == "STARTTLS") print "judge STARTTLS"
      else if ($5 == "SR") print "judge STRUCTURED_REPLY"
      else if ($5 == "SET_META")
        print "judge SET_META_CONTEXT export=" xname " query=$CONTEXT"
      else if ($5 == "GO") print "judge GO export=" xname
      else if ($5 == "BLOCK_STATUS") print "judge BLOCK_STATUS"
      else if ($5 == "READ") print "judge READ"
      else { print "trail_script: no step for: " $0 > "/dev/stderr"; bad = 1 }
    }
    END { exit bad }' "$2"
}

for v in "${variants[@]}"; do
  IFS='|' read -r name def bad defect <<<"$v"
  dir=$tmp/$name
  mkdir "$dir"
  cp "$model" "$dir/starttls.pml"
  dflag=()
  [ -n "$def" ] && dflag=("-D$def")

  # Build the verifier.  The shortest-trail search (-i) needs -DREACH,
  # which makes the full search slower and changes its state count, so
  # a broken variant gets a second binary for it.  -O0: pan runs for
  # well under a second either way, and compiles several times faster.
  t0=$(now)
  if (cd "$dir" && spin "${dflag[@]}" -a starttls.pml && "$CC" -O0 -o pan pan.c &&
        { [ -z "$bad" ] || "$CC" -O0 -DREACH -o pan-short pan.c; }) \
       >"$dir/build.log" 2>&1
  then
    tap_ok "$name: spin -a ${def:+-D}${def:-(no switch)} and $CC build the verifier ($(took "$t0"))"
  else
    tap_not_ok "$name: spin -a ${def:+-D}${def:-(no switch)} and $CC build the verifier"
    sed 's/^/#   /' "$dir/build.log"
  fi

  # Each property and claim: full search (-a; no depth bound).  pan's
  # report goes into the TAP output only when the check fails.
  for p in $props $sane; do
    t0=$(now)
    (cd "$dir" && ./pan -a -N "$p") >"$dir/$p.out" 2>&1
    el=$(took "$t0")
    stats=$(pan_field "$dir/$p.out")
    states=${stats%% *}
    if [ "$p" = "$bad" ] || [ -n "${sane_what[$p]:-}" ]; then
      if [ -n "${sane_what[$p]:-}" ]; then
        head="non-vacuous: ${sane_what[$p]}" tag="$p fails: "
      else
        head="${p^^} fails" tag=
      fi
      if grep -q 'errors: [1-9]' "$dir/$p.out" &&
           grep -q "assertion violated .*${claim_var[$p]}" "$dir/$p.out"; then
        tap_ok "$name: $head ($tag$stats, $el)"
      else
        tap_not_ok "$name: $head${tag:+ ($p must fail)}"
        sed 's/^/#   /' "$dir/$p.out"
      fi
    else
      if grep -q 'errors: 0$' "$dir/$p.out" &&
           ! grep -q 'max search depth too small' "$dir/$p.out" &&
           [ "${states:-0}" -gt 0 ] 2>/dev/null; then
        tap_ok "$name: ${p^^} holds ($stats, $el)"
      else
        tap_not_ok "$name: ${p^^} holds"
        sed 's/^/#   /' "$dir/$p.out"
      fi
    fi
  done

  [ -n "$bad" ] || continue

  # The shortest counterexample, replayed.
  t0=$(now)
  (cd "$dir" && ./pan-short -N "$bad" -i >short.out 2>&1
   spin "${dflag[@]}" -T -t starttls.pml >replay.out 2>&1)
  el=$(took "$t0")
  grep '^MSC: ' "$dir/replay.out" >"$dir/msc"
  len=$(sed -n 's/^spin: trail ends after \([0-9]*\) steps.*/\1/p' "$dir/replay.out")
  mapfile -t steps < <(key_steps "$name")
  absent=$(absent_step "$name")
  if [ "${#steps[@]}" -gt 0 ] && [ -n "$absent" ] &&
       in_order "$dir/msc" "${steps[@]}" &&
       grep -q "^spin: text of failed assertion: .*${claim_var[$bad]}" "$dir/replay.out" &&
       ! grep -Eq -- "$absent" "$dir/msc"
  then
    tap_ok "$name: the shortest ${bad^^} trail ($len steps, $(wc -l <"$dir/msc") events, $el) replays the attack: lines$order_lines"
  else
    tap_not_ok "$name: the shortest ${bad^^} trail replays the attack"
    tap_diag "first step not found in order: ${order_missing:-none}" \
      "must be absent: $absent"
  fi
  sed 's/^MSC: /#   /' "$dir/msc"
  tap_diag "$name: pan -N $bad -i: $(grep -m1 'errors:' "$dir/short.out" | sed 's/^ *//')"

  e_name=
  [ "$bad" = p3 ] && e_name='$TLSONLY'
  if trail_script "spin-$name" "$dir/msc" $e_name >"$dir/trail.scn"; then
    cp "$dir/trail.scn" "$tmp/$name.scn"
  else
    : >"$tmp/$name.scn"
  fi
  [ -z "$defect" ] || tap_diag "$name: the trail as an nbd-probe script:" \
    "$(grep -v '^#' "$tmp/$name.scn")"

  # The defect fails the script with the same property.
  if start_badserver "$name" --tls=on --tls-psk "$PSK_FILE" \
       --tls-only-export "$tls_only_export" --defect "$defect"
  then
    run_probe "$tmp/$name-bad" --unix "$bad_sock" --tls-psk "$PSK_FILE" \
      --tls-only-export "$tls_only_export" --script "$tmp/$name.scn"
    st=$?
    viol=$(sed -n 's/^# [^ ]*: judge \([A-Z_]*\).*: \(P[0-5]\) violation .*/\2 at \1/p' \
             "$tmp/$name-bad.tap" | head -n 1)
    want=${probe_prop[$bad]}
    if [ "$st" -eq 1 ] && [ -s "$tmp/$name.scn" ] &&
         grep -q "^not ok 1 - spin-$name\$" "$tmp/$name-bad.tap" &&
         [ "${viol%% *}" = "$want" ]; then
      tap_ok "$name: nbd-badserver --defect $defect fails the trail's script with $viol"
    else
      tap_not_ok "$name: nbd-badserver --defect $defect fails the trail's script with $want (exit $st, got ${viol:-nothing})"
      tap_probe_diag "$tmp/$name-bad.tap"
    fi
    stop_server "$bad_pid"
    tap_is "$name: nbd-badserver --defect $defect exits cleanly" 0 $?
  else
    tap_not_ok "$name: nbd-badserver --defect $defect started"
    tap_not_ok "$name: nbd-badserver --defect $defect exits cleanly"
  fi
done

# The same scripts pass against the compliant nbd-badserver and against
# nbdkit with tlsguard.
scripts=()
for v in "${variants[@]}"; do
  IFS='|' read -r name def bad defect <<<"$v"
  [ -n "$defect" ] && scripts+=("$name")
done

# run_scripts WHAT SOCK: each script alone, must be ok.
run_scripts ()
{
  for s in "${scripts[@]}"; do
    run_probe "$tmp/$1-$s" --unix "$2" --tls-psk "$PSK_FILE" \
      --tls-only-export "$tls_only_export" --script "$tmp/$s.scn"
    st=$?
    if [ "$st" -eq 0 ] && [ -s "$tmp/$s.scn" ] &&
         grep -q "^ok 1 - spin-$s\$" "$tmp/$1-$s.tap"; then
      tap_ok "$s: the trail's script passes against $1"
    else
      tap_not_ok "$s: the trail's script passes against $1 (exit $st)"
      tap_probe_diag "$tmp/$1-$s.tap"
    fi
  done
}

if start_badserver good --tls=on --tls-psk "$PSK_FILE" \
     --tls-only-export "$tls_only_export"; then
  run_scripts "the compliant nbd-badserver" "$bad_sock"
  stop_server "$bad_pid"
  tap_is "the compliant nbd-badserver exits cleanly" 0 $?
else
  for s in "${scripts[@]}" exit; do
    tap_not_ok "$s: the compliant nbd-badserver started"
  done
fi

# nbdkit refuses the TLS-only export with NBD_REP_ERR_UNKNOWN where the
# spec wants NBD_REP_ERR_TLS_REQD (a deviation of nbdkit's core, which
# the probe reports and fails only with --strict).
if start_nbdkit tlsguard --tls=on --tls-psk="$PSK_FILE" \
     --filter="$TLSGUARD_FILTER" memory 1M \
     tlsguard-tls-only="$tls_only_export"; then
  run_scripts "nbdkit with tlsguard" "$sock"
  stop_server "$nbdkit_pid"
  tap_is "nbdkit with tlsguard exits cleanly" 0 $?
else
  for s in "${scripts[@]}" exit; do
    tap_not_ok "$s: nbdkit with tlsguard started"
  done
fi

tap_done
