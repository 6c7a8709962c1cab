# Body of test-probe-{psk,x509}.sh: nbd-probe's battery against nbdkit
# without tlsguard (--tls=on and --tls=require) and with tlsguard under
# each tlsguard-extents policy (--tls=on), asserting every scenario's
# result and the observed plaintext block status: the rows of
# nbdkit-on, nbdkit-require, nbdkit-on-tlsguard, -hide and -allow in
# tests/expected/battery.tsv.  A scenario the table expects to fail
# (list_after_starttls under --tls=on, K1: nbdkit keeps list_seen
# across STARTTLS, which a filter never sees) runs with --xfail.
# Usage (sourced): kind=psk|x509; . probe-battery.sh
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh

tls_setup "$kind"

tap_plan 10

probe_check nbdkit-on "$kind-nofilter-on" \
  --tls=on "${server_tls[@]}" -- "${probe_tls[@]}"

probe_check nbdkit-require "$kind-nofilter-require" \
  --tls=require "${server_tls[@]}" -- "${probe_tls[@]}"

for policy in deny hide allow; do
  cfg=nbdkit-on-tlsguard-$policy
  [ $policy = deny ] && cfg=nbdkit-on-tlsguard
  probe_check "$cfg" "$kind-$policy" \
    --tls=on "${server_tls[@]}" --filter="$TLSGUARD_FILTER" \
    tlsguard-extents=$policy -- "${probe_tls[@]}"
done

tap_done
