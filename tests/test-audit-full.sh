#!/bin/bash -
# A full disk under the audit file: nbdkit keeps serving, logs the
# write error once, never leaves part of a record in the file, and
# writes records again once there is room.  The disk is a 64 KiB tmpfs
# that this test mounts and unmounts (trap).
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

. ./functions.sh
requires_nbdkit_version
py=/usr/bin/python3
[ -x "$py" ] || skip_all "no /usr/bin/python3"
names=("$py" "$srcdir/nbd-names.py")
check=("$py" "$srcdir/audit-check.py")

full=$tmp/full
mkdir "$full"
mount -t tmpfs -o size=64k,mode=0700 tlsguard-test "$full" 2>"$tmp/mount.err" ||
  skip_all "cannot mount a tmpfs: $(cat "$tmp/mount.err")"
unmount_full ()
{
  if mountpoint -q "$full"; then
    umount "$full" 2>/dev/null || umount -l "$full"
  fi
}
cleanup_fn unmount_full

tap_plan 9

audit=$full/audit.jsonl
nbdkit_v=
start_nbdkit full --filter="$TLSGUARD_FILTER" memory 1M "tlsguard-audit=$audit"

# A 3,000-byte name: records of about 3 KiB, so that a record crosses
# a page of the tmpfs.
long=@$tmp/long.name
head -c 3000 /dev/zero | tr '\0' 'L' >"$tmp/long.name"
client ()
{
  "${names[@]}" --unix "$sock" "info:$long" sr "meta:$long" "go:$long" bs:3:4096 2>&1 |
    tr '\n' ' '
}
want="info ok sr ok meta ok 1 go ok bs 3 ok=0 err=3 errno=22 "

out=$(client)
tap_is "before the disk is full: served" "$want" "$out"
before=$(wc -l <"$audit")

# Fill the disk.
dd if=/dev/zero of="$full/fill" bs=4096 2>/dev/null || :
tap_diag "tmpfs: $(df -k "$full" | tail -n 1)"
ok=0
for i in 1 2 3 4 5 6 7 8; do
  [ "$(client)" = "$want" ] && ok=$((ok + 1))
done
tap_is "disk full: 8 more clients all served" 8 "$ok"
tap_is "disk full: the write error logged once" 1 \
  "$(grep -c "error: tlsguard: tlsguard-audit: write to '$audit' failed: No space left on device (records are lost; further write errors are not logged)" "$log")"
tap_is "disk full: no other tlsguard error line than the refusals and counts" 0 \
  "$(grep 'error: tlsguard:' "$log" | grep -vc -e 'tlsguard-audit: write' -e 'refused')"

# Room again.
rm -f "$full/fill"
out=$(client)
tap_is "room again: served" "$want" "$out"
stop_server "$nbdkit_pid"
tap_is "nbdkit exit status" 0 "$?"
tap_is "still one write error line" 1 "$(grep -c 'tlsguard-audit: write' "$log")"

"${check[@]}" "$audit" >"$tmp/check.out" 2>&1
sed 's/^/# /' "$tmp/check.out"
after=$(grep '^lines ' "$tmp/check.out" | cut -d' ' -f2)
tap_is "the file holds only whole records (a short write is cut off)" "bad 0" \
  "$(grep '^bad' "$tmp/check.out")"
# Before: 4 records (2 opens, 2 closes).  The last client: 4 more and
# the unload record.  In between, records were lost.
if [ "$before" = 4 ] && [ "$after" -ge 9 ] && [ "$after" -lt $((4 + 8 * 4 + 5)) ] &&
   grep -q '"event":"unload"' "$audit"; then
  tap_ok "records written before, lost while full, written again after ($before, then $after)"
else
  tap_not_ok "records written before, lost while full, written again after ($before, then $after)"
fi

tap_done
