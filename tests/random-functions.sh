# Shell helpers for the random-sequence tests (test-random-*.sh).
# Source after functions.sh, harness-functions.sh and probe-functions.sh.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
#
# Environment:
#   RANDOM_N      sequences per server (default 300)
#   RANDOM_SEED   the seed (default 1; set but empty: one picked at
#                 random for the whole test, and printed)
#   PROBE_VALGRIND=1 runs nbd-probe under valgrind memcheck.

random_n=${RANDOM_N:-300}
random_seed=${RANDOM_SEED-1}
if [ -z "$random_seed" ]; then
  random_seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
  echo "RANDOM_SEED is empty: using seed $random_seed" >&2
fi

# random_seed_args: --seed S.
random_seed_args ()
{
  echo "--seed $random_seed"
}

# random_run OUT SOCK ARGS...: nbd-probe --random against SOCK, TAP in
# OUT (copied to stderr for the log).  Sets random_status.
random_run ()
{
  _out=$1; _sock=$2; shift 2
  # shellcheck disable=SC2046
  $(probe_cmd) --unix "$_sock" --timeout 10 --random "$random_n" \
    $(random_seed_args) "$@" >"$_out" 2>"$_out.err"
  random_status=$?
  {
    echo "--- nbd-probe --random $random_n $(random_seed_args) $* (exit $random_status)"
    cat "$_out.err"
    grep -v '^ok ' "$_out"
  } >&2
}

# random_summary OUT: the summary line ("seed S, N sequences, ...").
random_summary ()
{
  sed -n 's/^# summary: //p' "$1"
}

# random_violations OUT: the number of violations in the summary.
random_violations ()
{
  random_summary "$1" | sed -n 's/.* \([0-9][0-9]*\) violations,.*/\1/p'
}

# random_kinds OUT: "PROP [RULE]" of each kind of violation found.
random_kinds ()
{
  sed -n 's/^# violation kind \([^ ]*\) \[\([^]]*\)\].*/\1 [\2]/p' "$1"
}

# random_first OUT: the sequence number of the first violation.
random_first ()
{
  sed -n 's/^not ok \([0-9]*\) .*/\1/p' "$1" | head -n 1
}

# script_steps FILE: the number of steps (option and request lines).
script_steps ()
{
  grep -c '^judge ' "$1"
}
