# Shell helpers for the nbd-probe tests (test-probe-*.sh).  Source
# after functions.sh.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
#
# PROBE_VALGRIND=1 (or TLSGUARD_VALGRIND=1) runs nbd-probe under
# valgrind memcheck; a memcheck error or leak makes it exit 119.

PROBE=$HARNESS/nbd-probe

# A 1 MiB disk with two data runs.  The data plugin reports exact
# extents in 32 KiB pages (flags 3 = hole|zero, 0 = data).
probe_plugin=(data "data=@65536 (0x55)*65536 @262144 (0xaa)*4096" size=1M)
probe_real_map="0:65536:3,65536:65536:0,131072:131072:3,262144:32768:0,294912:753664:3"
probe_all_data="0:1048576:0"

# nbdkit_battery MODE LIST [OBSERVED [TLSONLY]]: probe_summary's
# expected output for the built-in battery against nbdkit 1.32 in MODE
# (SELECTIVETLS or FORCEDTLS).  LIST is list_after_starttls's result
# under SELECTIVETLS (xfail with --xfail, otherwise not-ok: nbdkit keeps
# list_seen across STARTTLS); OBSERVED is what plaintext_blockstatus
# observes there; TLSONLY the results of tlsonly_export and
# tlsonly_export_name (default "skip skip": no --tls-only-export).
nbdkit_battery ()
{
  read -r _to1 _to2 <<<"${4:-skip skip}"
  if [ "$1" = FORCEDTLS ]; then
    _forced=ok _list=ok _pbs="plaintext_blockstatus skip"
  else
    _forced=skip _list=$2
    _pbs="plaintext_blockstatus ok
observed plaintext_blockstatus: $3"
  fi
  echo "server mode: $1
tls_positive ok
meta_injection ok
sr_injection ok
meta_other_export ok
meta_superseded ok
meta_cleared ok
double_starttls ok
starttls_payload ok
plaintext_buffering ok
list_after_starttls $_list
forcedtls_refuses $_forced
$_pbs
extended_headers skip
tlsonly_export $_to1
tlsonly_export_name $_to2"
}

requires_probe ()
{
  [ -x "$PROBE" ] || skip_all "nbd-probe not built"
}

# probe_tls_setup KIND: what a test of nbdkit through nbd-probe with
# KIND (psk or x509) credentials needs, or a skip; sets the arrays
# server_tls (nbdkit's TLS arguments) and probe_tls (nbd-probe's).
probe_tls_setup ()
{
  requires_nbdkit_version
  requires_$1
  requires_probe
  read -r -a server_tls <<<"$(${1}_server_args)"
  read -r -a probe_tls <<<"$(${1}_probe_args)"
}

# probe_cmd: the command prefix that runs nbd-probe.
probe_cmd ()
{
  if [ "${PROBE_VALGRIND:-0}" = 1 ] || [ "${TLSGUARD_VALGRIND:-0}" = 1 ]; then
    echo "${VALGRIND:-valgrind} --quiet --error-exitcode=119 \
      --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
      $PROBE"
  else
    echo "$PROBE"
  fi
}

# Client TLS arguments of nbd-probe.
psk_probe_args ()  { echo "--tls-psk $PSK_FILE --tls-username qemu"; }
x509_probe_args () { echo "--tls-certs $PKI_DIR"; }

# probe_summary: TAP from nbd-probe on stdin -> one line per scenario,
# "NAME ok|not-ok|skip|xfail|xpass", plus "observed ..." lines.
probe_summary ()
{
  sed -n \
    -e 's/^not ok [0-9]* - \([^ ]*\) # TODO.*/\1 xfail/p' \
    -e 's/^ok [0-9]* - \([^ ]*\) # TODO.*/\1 xpass/p' \
    -e 's/^ok [0-9]* - \([^ ]*\) # SKIP.*/\1 skip/p' \
    -e 's/^not ok [0-9]* - \([^ ]*\)$/\1 not-ok/p' \
    -e 's/^ok [0-9]* - \([^ ]*\)$/\1 ok/p' \
    -e 's/^# \(observed .*\)/\1/p' \
    -e 's/^# \(server mode: [A-Z]*\).*/\1/p'
}

# probe_run OUT ARGS...: run nbd-probe against $sock; TAP to OUT
# (also copied to stderr for the log).  Sets probe_status.
probe_run ()
{
  out=$1; shift
  # shellcheck disable=SC2046
  $(probe_cmd) --unix "$sock" "$@" >"$out" 2>>"$tmp/probe.err"
  probe_status=$?
  sed 's/^/  | /' "$out" >&2
}

# probe_check CFG EXPECTED NBDKIT_ARGS... -- PROBE_ARGS...: start
# nbdkit with the arguments and the test plugin, run the battery, and
# compare the per-scenario summary and the exit status with EXPECTED.
# NBDKIT_ARGS that do not start with '-' (key=value parameters) go
# after the plugin.
probe_check ()
{
  cfg=$1; expected=$2; shift 2
  nbdkit_args=()
  params=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    case $1 in
      -*) nbdkit_args+=("$1") ;;
      *) params+=("$1") ;;
    esac
    shift
  done
  [ $# -gt 0 ] && shift
  echo "== $cfg: nbdkit ${nbdkit_args[*]} ${probe_plugin[*]} ${params[*]}" >&2
  if ! start_nbdkit "$cfg" "${nbdkit_args[@]}" "${probe_plugin[@]}" \
       "${params[@]}"; then
    tap_not_ok "$cfg: nbdkit started"
    return
  fi
  probe_run "$tmp/$cfg.tap" "$@"
  actual="$(probe_summary <"$tmp/$cfg.tap")
exit $probe_status"
  tap_is "$cfg: battery results" "$expected" "$actual"
  stop_nbdkit "$nbdkit_pid"
  # Under 'make check-valgrind' a memcheck error or leak is status 119.
  tap_is "$cfg: nbdkit exit status" 0 "$?"
}
