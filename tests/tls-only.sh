# Body of test-tls-only-{psk,x509,control}.sh: TLS-only exports
# (tlsguard-tls-only=PATTERN) through real nbdkit --tls=on.
# Usage (sourced): kind=psk|x509 control=0|1; . tls-only.sh
#
# With control=1 the same nbdkit configurations run without any
# tlsguard-tls-only= key, and every TLS-only assertion must then fail
# (each TAP line says so); assertions that hold either way are not run.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh

tls_setup "$kind"
scripts=$srcdir/tls-only
filter="--filter=$TLSGUARD_FILTER"

# Three 1 MiB exports for file dir=.
mkdir "$tmp/disks"
for e in public secret vault; do
  truncate -s 1M "$tmp/disks/$e"
done
printf 'hello' | dd of="$tmp/disks/secret" conv=notrunc status=none

# check DESC EXPECTED ACTUAL [both]: exact comparison.  "both" marks an
# assertion that holds with or without the parameter; the control run
# skips it.  In the control run every other assertion must fail.
check ()
{
  if [ "$control" = 1 ]; then
    [ "${4:-}" = both ] && return
    if [ "$2" != "$3" ]; then
      tap_ok "control: $1: fails without tlsguard-tls-only"
    else
      tap_not_ok "control: $1: fails without tlsguard-tls-only"
      tap_diag "it held without the parameter:" "$3"
    fi
  else
    tap_is "$1" "$2" "$3"
  fi
}

# check_script DESC NAME EXPORT EXPORT2 [both]: tests/tls-only/NAME.scn
# passes (see script below).
check_script ()
{
  check "$1" "$2 ok
exit 0" "$(script "$2" "$3" "$4")" ${5:-}
}

# tls_only ARGS...: the tlsguard-tls-only= keys, dropped in the control.
tls_only ()
{
  [ "$control" = 1 ] || printf '%s\n' "$@"
}

# script NAME EXPORT EXPORT2 [TLS]: run tests/tls-only/NAME.scn with
# nbd-probe; prints "NAME RESULT" and the exit status.
script ()
{
  _args=(--export "$2" --export2 "$3" --script "$scripts/$1.scn")
  run_probe "$tmp/$1" --unix "$sock" "${probe_tls[@]}" "${_args[@]}"
  printf '%s\nexit %s' "$(probe_summary <"$tmp/$1.tap" | grep -v '^server mode')" \
    "$probe_status"
}

# list TLS: the sorted export names of the NBD_REP_SERVER replies to
# NBD_OPT_LIST, in plaintext (TLS=no) or after STARTTLS (TLS=yes), read
# from nbd-probe's trace; "exit N" if the probe failed.
list ()
{
  _scn=list; [ "$1" = yes ] && _scn=list_tls
  run_probe "$tmp/$_scn" --unix "$sock" "${probe_tls[@]}" -v \
    --script "$scripts/$_scn.scn"
  _st=$?
  [ "$_st" = 0 ] || { echo "exit $_st"; return; }
  sed -n "s/^# S: NBD_REP_SERVER \"\(.*\)\"\$/'\\1'/p" "$tmp/$_scn.err" |
    sort | tr '\n' ' ' | sed 's/ $//'
}

refusal ()
{
  echo "error: tlsguard: export \"$1\" requires TLS: use STARTTLS \\(plaintext open refused for unix socket \\(pid [0-9]+, uid [0-9]+\\), tlsguard-tls-only\\)"
}

# --- file dir=, one glob --------------------------------------------
# shellcheck disable=SC2046
if start_nbdkit glob --tls=on "${server_tls[@]}" -D tlsguard.verbose=1 \
     "$filter" file dir="$tmp/disks" $(tls_only 'tlsguard-tls-only=sec*'); then
  check "sec*: plaintext LIST leaves secret out" "'public' 'vault'" "$(list no)"
  check "sec*: LIST after STARTTLS shows every export" \
    "'public' 'secret' 'vault'" "$(list yes)" both
  check_script "sec*: plaintext INFO of secret: ERR_UNKNOWN, no INFO reply" info_refused secret public
  check_script "sec*: plaintext GO refused; INFO, STARTTLS, GO on one connection reads" go_refused_then_tls secret public
  check_script "sec*: after a refusal, public opens in plaintext; block status EINVAL (deny)" other_export_plain secret public
  check_script "sec*: plaintext EXPORT_NAME of secret ends the session" export_name_closes secret public
  check_script "sec*: TLS block status on secret passes through" tls_blockstatus secret public both
  check "sec*: plaintext INFO of public is not refused" \
    "info_refused not-ok
exit 1" "$(script info_refused public vault)" both
  check "sec*: one refusal line per refused open (INFO, GO, INFO, GO, EXPORT_NAME)" 5 \
    "$(grep -Ec "$(refusal secret)" "$log")"
  check "sec*: the plugin never opened secret in plaintext" 0 \
    "$(grep -c 'file: open readonly=[01] exportname="secret" tls=0' "$log")" both
  check "sec*: -D tlsguard.verbose traces the LIST decision" 1 \
    "$(grep -c 'tlsguard: list_exports is_tls=0 export="secret": TLS-only, left out' "$log")"
  check "sec*: -D tlsguard.verbose traces the open decisions" "5 2" \
    "$(grep -c 'tlsguard: open export="secret" is_tls=0: TLS-only, matches tlsguard-tls-only=sec\*' "$log") $(grep -c 'tlsguard: open export="public" is_tls=0: matches no tlsguard-tls-only pattern' "$log")"
  stop_server "$nbdkit_pid"
  check "sec*: nbdkit exit status" 0 "$?" both
else
  tap_not_ok "sec*: nbdkit started"
fi

# --- several keys at once -------------------------------------------
# shellcheck disable=SC2046
if start_nbdkit keys --tls=on "${server_tls[@]}" "$filter" file dir="$tmp/disks" \
     $(tls_only 'tlsguard-tls-only=sec*' tlsguard-tls-only=vault); then
  check "two keys: plaintext LIST shows public only" "'public'" "$(list no)"
  check "two keys: LIST after STARTTLS shows every export" \
    "'public' 'secret' 'vault'" "$(list yes)" both
  check_script "two keys: plaintext INFO of vault refused" info_refused vault public
  check_script "two keys: plaintext INFO of secret refused" info_refused secret public
  check_script "two keys: vault over TLS after a plaintext refusal" go_refused_then_tls vault public
  stop_server "$nbdkit_pid"
  check "two keys: nbdkit exit status" 0 "$?" both
else
  tap_not_ok "two keys: nbdkit started"
fi

# --- the default export: matched by the name it resolves to ----------
# The exportname filter (inside tlsguard) makes "" resolve to secret,
# then to public.
for def in secret public; do
  # shellcheck disable=SC2046
  if start_nbdkit "default-$def" --tls=on "${server_tls[@]}" "$filter" \
       --filter=exportname file dir="$tmp/disks" default-export=$def \
       $(tls_only 'tlsguard-tls-only=sec*'); then
    if [ $def = secret ]; then
      check_script "\"\" resolving to secret: plaintext INFO refused" info_refused "" public
      check_script "\"\" resolving to secret: plaintext EXPORT_NAME ends the session" export_name_closes "" public
      check_script "\"\" resolving to secret: GO after STARTTLS reads" go_refused_then_tls "" public
      check "\"\" resolving to secret: refusal names the resolved export" 4 \
        "$(grep -Ec "$(refusal secret)" "$log")"
    else
      check "\"\" resolving to public: plaintext INFO not refused" "info_refused not-ok
exit 1" "$(script info_refused "" public)" both
    fi
    stop_server "$nbdkit_pid"
    check "\"\" resolving to $def: nbdkit exit status" 0 "$?" both
  else
    tap_not_ok "\"\" resolving to $def: nbdkit started"
  fi
done

# --- a one-export plugin, every export TLS-only -----------------------
# shellcheck disable=SC2046
if start_nbdkit star --tls=on "${server_tls[@]}" "$filter" memory 1M \
     $(tls_only 'tlsguard-tls-only=*') tlsguard-extents=hide; then
  check "*: plaintext LIST is empty" "" "$(list no)"
  check "*: LIST after STARTTLS shows \"\"" "''" "$(list yes)" both
  check_script "*: plaintext INFO of \"\" refused (hide does not apply)" info_refused "" other
  check_script "*: plaintext EXPORT_NAME ends the session" export_name_closes "" other
  check_script "*: plaintext INFO, STARTTLS, GO, READ" go_refused_then_tls "" other
  check_script "*: TLS block status passes through" tls_blockstatus "" other both
  stop_server "$nbdkit_pid"
  check "*: nbdkit exit status" 0 "$?" both
else
  tap_not_ok "*: nbdkit started"
fi

echo "1..$tap_count"
tap_done
