# Body of test-probe-{psk,x509}.sh: nbd-probe's battery against nbdkit
# 1.32 without tlsguard (--tls=on and --tls=require) and with tlsguard
# under each tlsguard-extents policy (--tls=on), asserting every
# scenario's result and the observed plaintext block status.
# Usage (sourced): kind=psk|x509; . probe-battery.sh
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. "$srcdir/functions.sh"
. "$srcdir/probe-functions.sh"

probe_tls_setup "$kind"

# nbdkit 1.32 keeps list_seen across STARTTLS (server/
# protocol-handshake-newstyle.c), so a LIST after a plaintext LIST gets
# NBD_REP_ERR_INVALID.  Not a tlsguard matter: a filter never sees
# NBD_OPT_LIST's bookkeeping.
xfail_list=(--xfail "list_after_starttls=nbdkit 1.32 keeps list_seen across STARTTLS and refuses the second LIST with NBD_REP_ERR_INVALID")

# selective OBSERVED: expected results for a --tls=on server.
selective ()
{
  nbdkit_battery SELECTIVETLS xfail "$1"
  echo "exit 0"
}

forced="$(nbdkit_battery FORCEDTLS)
exit 0"

tap_plan 10

probe_check "$kind-nofilter-on" "$(selective "extents $probe_real_map")" \
  --tls=on "${server_tls[@]}" -- "${probe_tls[@]}" "${xfail_list[@]}"

probe_check "$kind-nofilter-require" "$forced" \
  --tls=require "${server_tls[@]}" -- "${probe_tls[@]}"

probe_check "$kind-deny" "$(selective "error EINVAL")" \
  --tls=on "${server_tls[@]}" --filter="$TLSGUARD_FILTER" \
  tlsguard-extents=deny -- "${probe_tls[@]}" "${xfail_list[@]}"

probe_check "$kind-hide" "$(selective "extents $probe_all_data")" \
  --tls=on "${server_tls[@]}" --filter="$TLSGUARD_FILTER" \
  tlsguard-extents=hide -- "${probe_tls[@]}" "${xfail_list[@]}"

probe_check "$kind-allow" "$(selective "extents $probe_real_map")" \
  --tls=on "${server_tls[@]}" --filter="$TLSGUARD_FILTER" \
  tlsguard-extents=allow -- "${probe_tls[@]}" "${xfail_list[@]}"

tap_done
