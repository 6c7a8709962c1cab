#!/bin/bash -
# Bad tlsguard configuration: nbdkit exits non-zero with one line that
# names the key.  Good values are accepted, and config help lists the key.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh
requires_nbdkit_version

tap_plan 33

filter="--filter=$TLSGUARD_FILTER"

# bad [KEY] VALUE MESSAGE-ERE [EXTRA-ARGS...]
bad ()
{
  key=tlsguard-extents
  case $1 in tlsguard-*) key=$1; shift ;; esac
  value=$1; msg=$2; shift 2
  out=$("$NBDKIT" -U - "$filter" null "$@" --run true 2>&1)
  st=$?
  tap_is "$key $value: nbdkit exits 1" 1 "$st"
  lines=$(printf '%s\n' "$out" | grep -c .)
  if [ "$lines" = 1 ] && printf '%s\n' "$out" | grep -Eq -- "$msg"; then
    tap_ok "$key $value: one line naming the key"
  else
    tap_not_ok "$key $value: one line naming the key"
    tap_diag "got ($lines lines):" "$out"
  fi
}

bad "=bogus" "^nbdkit: error: tlsguard: tlsguard-extents: expecting deny, hide or allow, got 'bogus'$" \
  tlsguard-extents=bogus
bad "=(empty)" "^nbdkit: error: tlsguard: tlsguard-extents: expecting deny, hide or allow, got ''$" \
  tlsguard-extents=
bad "=Deny" "tlsguard-extents: expecting deny, hide or allow, got 'Deny'$" \
  tlsguard-extents=Deny
bad "repeated" "^nbdkit: error: tlsguard: tlsguard-extents: given more than once$" \
  tlsguard-extents=deny tlsguard-extents=hide

bad tlsguard-tls-only "=(empty)" \
  "^nbdkit: error: tlsguard: tlsguard-tls-only: expecting a non-empty export name pattern$" \
  'tlsguard-tls-only=sec*' tlsguard-tls-only=

bad tlsguard-audit "=(empty)" \
  "^nbdkit: error: tlsguard: tlsguard-audit: expecting a file name$" \
  tlsguard-audit=
bad tlsguard-audit "repeated" \
  "^nbdkit: error: tlsguard: tlsguard-audit: given more than once$" \
  "tlsguard-audit=$tmp/a.jsonl" "tlsguard-audit=$tmp/b.jsonl"
# Unwritable paths fail when nbdkit gets ready, before serving.
bad tlsguard-audit "=(no such directory)" \
  "^nbdkit: error: tlsguard: tlsguard-audit: cannot open '$tmp/no/such/a.jsonl' for appending: No such file or directory$" \
  "tlsguard-audit=$tmp/no/such/a.jsonl"
bad tlsguard-audit "=(a directory)" \
  "^nbdkit: error: tlsguard: tlsguard-audit: cannot open '$tmp' for appending: Is a directory$" \
  "tlsguard-audit=$tmp"
# (The tests run as root, which ignores file modes, so the third bad
# path is one under a regular file.)
: >"$tmp/file"
bad tlsguard-audit "=(under a regular file)" \
  "^nbdkit: error: tlsguard: tlsguard-audit: cannot open '$tmp/file/a.jsonl' for appending: Not a directory$" \
  "tlsguard-audit=$tmp/file/a.jsonl"

"$NBDKIT" -U - "$filter" null "tlsguard-audit=$tmp/ok.jsonl" --run true 2>"$tmp/err"
tap_is "tlsguard-audit=FILE accepted" "0:" "$?:$(cat "$tmp/err")"
tap_is "tlsguard-audit: the file is created with mode 0600" 600 \
  "$(stat -c %a "$tmp/ok.jsonl" 2>&1)"

# Several patterns, and globs that fnmatch takes literally, are fine.
"$NBDKIT" -U - "$filter" null 'tlsguard-tls-only=sec*' 'tlsguard-tls-only=[' \
  'tlsguard-tls-only=*' --run true 2>"$tmp/err"
tap_is "tlsguard-tls-only given three times accepted" "0:" "$?:$(cat "$tmp/err")"

for v in deny hide allow; do
  "$NBDKIT" -U - "$filter" null tlsguard-extents=$v --run true 2>"$tmp/err"
  tap_is "tlsguard-extents=$v accepted" "0:" "$?:$(cat "$tmp/err")"
done

# Unknown keys are not ours: they go to the plugin, which names them.
out=$("$NBDKIT" -U - "$filter" null tlsguard-bogus=1 --run true 2>&1)
tap_is "unknown key passed to the plugin" \
  "1:nbdkit: error: unknown parameter 'tlsguard-bogus'" \
  "$?:$(printf '%s' "$out" | grep -i 'tlsguard-bogus' | head -n1)"

help=$("$NBDKIT" -U - "$filter" null --help 2>&1)
if printf '%s\n' "$help" |
   grep -Eq '^tlsguard-extents=deny\|hide\|allow +Block status on plaintext exports \(default: deny\)\.$'; then
  tap_ok "--help lists tlsguard-extents"
else
  tap_not_ok "--help lists tlsguard-extents"; tap_diag "$help"
fi
if printf '%s\n' "$help" |
   grep -Eq '^tlsguard-tls-only=PATTERN +Exports \(glob\) plaintext clients cannot list or open; repeatable\.$'; then
  tap_ok "--help lists tlsguard-tls-only"
else
  tap_not_ok "--help lists tlsguard-tls-only"; tap_diag "$help"
fi

if printf '%s\n' "$help" |
   grep -Eq '^tlsguard-audit=FILE +Append a JSON Lines audit record for every open and close\.$'; then
  tap_ok "--help lists tlsguard-audit"
else
  tap_not_ok "--help lists tlsguard-audit"; tap_diag "$help"
fi

# The filter's own version is on its --help line.
tap_is "--help names the filter's version" \
  "filter: tlsguard (nbdkit tlsguard filter $PACKAGE_VERSION)" \
  "$(printf '%s\n' "$help" | grep '^filter: tlsguard')"

# The filter loads by path with the debug flag, and -D reaches it.
"$NBDKIT" -U - -v -D tlsguard.verbose=1 "$filter" null --run true 2>"$tmp/err"
tap_is "-D tlsguard.verbose=1 accepted" 0 "$?"
tap_nogrep "-D tlsguard.verbose=1: no unknown-flag warning" \
  "tlsguard.*(unknown|not found|could not)" "$tmp/err"

tap_done
