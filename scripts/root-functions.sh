# Shell functions for the scripts that build and use Debian roots
# (debian13-root.sh, check-deb.sh).  Source it from bash.
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.

# mirror: the Debian archive this machine's apt uses, read at run time:
# the first 'deb' source whose suite is not a security suite.  deb822
# stanzas first, then one-line sources.list entries.
mirror () {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && suites !~ /security/ && uris != "") {
          split(uris, u, " "); print u[1]; found = 1; exit
        }
        types = suites = uris = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      tolower($1) == "types:"  { $1 = ""; types = $0 }
      tolower($1) == "uris:"   { $1 = ""; sub(/^ +/, ""); uris = $0 }
      tolower($1) == "suites:" { $1 = ""; suites = $0 }
      END { if (!found) flush() }
    ' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '
      $1 != "deb" { next }
      { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } }
      $(i + 1) !~ /security/ && $i ~ /^(https?|file):/ { print $i; exit }
    ' "$f"
  done
}

# Mounts made by mount_in, newest last; undo_mounts undoes them in
# reverse (the caller's traps call it on every exit path).
mounts=()
undo_mounts () {
  local i status=0
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" || status=1
  done
  mounts=()
  return $status
}

# mount_in DIR MOUNT-ARGS...
mount_in () {
  local dir=$1; shift
  mkdir -p "$dir"
  mount "$@" "$dir"
  mounts+=("$dir")
}

# mount_all ROOT: what apt, dpkg, nbdkit and the tests need in ROOT.
mount_all () {
  mount_in "$1/proc" -t proc proc
  mount_in "$1/sys" -t sysfs sysfs
  mount_in "$1/dev" --bind /dev
  mount_in "$1/dev/pts" -t devpts -o newinstance,ptmxmode=0666 devpts
  mount_in "$1/dev/shm" -t tmpfs -o mode=1777 tmpfs
}

# has_mounts DIR: is anything mounted at or below DIR?
has_mounts () {
  awk -v d="$1" '$2 == d || index($2, d "/") == 1 { found = 1 } END { exit !found }' /proc/self/mounts
}

# remove_tree DIR: unmount whatever is still mounted below DIR (a
# debootstrap that failed half-way leaves its /proc and /sys), then
# remove it without crossing into another file system.
remove_tree () {
  local m
  [ -e "$1" ] || return 0
  findmnt -rn -o TARGET | awk -v d="$1/" 'index($0 "/", d) == 1' | sort -r |
    while read -r m; do umount "$m" || umount -l "$m"; done
  rm -rf --one-file-system "$1"
}

# chroot_run ROOT CMD...: run CMD in ROOT with a clean environment.
chroot_run () {
  local r=$1; shift
  chroot "$r" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive "$@"
}
